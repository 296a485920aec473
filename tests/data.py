"""Where the shared benchmark data lies, for the tests (tests/conftest.py's `data_dir` fixture)
and the benchmarks (which import `data_dir` from here). The data is never copied into the
repository, and the installed package never reads this path.
"""
import os
from pathlib import Path

DATA_ENV_VAR = "SPACY_WINDOW_NER_DATA"
REPO = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    """The shared benchmark data: $SPACY_WINDOW_NER_DATA if set, else ../shared/data seen from
    the repository root.

    RETURNS (Path): The data directory (it may not exist).
    """
    return Path(os.environ.get(DATA_ENV_VAR) or REPO.parent / "shared" / "data")

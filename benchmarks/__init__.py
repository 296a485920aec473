"""Benchmarks: run each as `python -m benchmarks.NAME` from the repository root."""
import os
from pathlib import Path

DATA_ENV_VAR = "SPACY_WINDOW_NER_DATA"


def data_dir() -> Path:
    """The shared benchmark data: $SPACY_WINDOW_NER_DATA if set, else ../shared/data seen from
    the repository root.

    RETURNS (Path): The data directory (it may not exist).
    """
    repo_root = Path(__file__).resolve().parent.parent
    return Path(os.environ.get(DATA_ENV_VAR) or repo_root.parent / "shared" / "data")

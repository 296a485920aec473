"""Fixtures shared by several test modules, and the --runslow option.

`python -m pytest` deselects the tests marked `slow` (those over about 5 s alone: most train a
full workflow, `spacy project run` or `spacy train` of a full config; others run a benchmark or a
Ray build); `python -m pytest --runslow` runs them too, as CI does (.ci/run).

A test that needs an optional service or package calls `util.unavailable`: skipped where it is
missing, failed under CI (CI=true), where everything must run. `postgres_server` starts a real
PostgreSQL server (initdb into a temporary directory, pg_ctl start on a free localhost port) once
per run; `ray_cluster` a local Ray cluster once per module.
"""
import itertools
import os
import sqlite3
import subprocess
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Tuple

import pytest
from spacy.language import Language

from spacy_window_ner import kb

from .data import data_dir as shared_data_dir
from .postgres_server import ServerError, temporary_database, temporary_server
from .util import (
    JSONL,
    LINES_TXT,
    add_runslow_option,
    deselect_slow,
    make_kb_nlp,
    train_ner_pipeline,
    train_window_ner,
    unavailable,
)


def pytest_addoption(parser):
    add_runslow_option(parser)


def pytest_collection_modifyitems(config, items):
    deselect_slow(config, items)


# Ray starts its workers niced (worker_niceness 15): on a machine busy with other work, the
# actors of a build then wait behind every other process, and a Ray test that takes seconds
# alone took minutes beside two busy loops (issue 26). Every Ray cluster the tests start
# (the fixture below, build_kb's own, and those of the processes they run, which inherit this)
# runs its workers at the tests' own priority.
os.environ.setdefault("RAY_worker_niceness", "0")


@pytest.fixture(scope="module")
def ray_module() -> Any:
    """The ray module, for tests that need Ray installed (without a cluster, or to start one)."""
    try:
        import ray
    except ImportError:
        unavailable('Ray is not installed: pip install "spacy-window-ner[ray]"')
    return ray


@pytest.fixture(scope="module")
def ray_cluster(ray_module: Any) -> Iterator[str]:
    """A local Ray cluster with 2 CPUs for the module's tests, shut down at the end. Yields its
    address (HOST:PORT of the GCS), for `--address` and for other processes to join it."""
    ray = ray_module
    ray.init(num_cpus=2, include_dashboard=False)
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The shared benchmark data (never copied into the repo): $SPACY_WINDOW_NER_DATA if set,
    else ../shared/data seen from the repository root (tests/data.py). It may not exist."""
    return shared_data_dir()


@pytest.fixture
def small_database(monkeypatch):
    """Every connection the SQLite back end (kb.sqlite) opens holds at most 40 pages, so a
    build fills it and SQLite answers SQLITE_FULL ("database or disk is full"), as on a full disk."""
    connect = sqlite3.connect

    def small_connect(*args, **kwargs):
        conn = connect(*args, **kwargs)
        conn.execute("PRAGMA max_page_count = 40")
        return conn

    monkeypatch.setattr(kb.sqlite.sqlite3, "connect", small_connect)


@pytest.fixture(scope="session")
def trained_pipelines() -> Callable[[str], Tuple[Language, List[float]]]:
    """trained_pipelines(loss) -> (nlp, losses): util.train_ner_pipeline({"loss": loss}), trained
    once per run and loss. Tests must not change the pipeline: copy it first (copy_ner_pipeline)."""
    cache: Dict[str, Tuple[Language, List[float]]] = {}

    def get(loss: str) -> Tuple[Language, List[float]]:
        if loss not in cache:
            nlp, _, losses = train_ner_pipeline({"loss": loss})
            cache[loss] = (nlp, losses)
        return cache[loss]

    return get


@pytest.fixture(scope="session")
def trained(trained_pipelines) -> Language:
    """window_ner with its default config (the crf loss), overfitted on util.NER_TRAIN_DATA,
    for test_ner and test_confidences. Tests must not change it."""
    nlp, _ = trained_pipelines("crf")
    assert nlp.get_pipe("window_ner").cfg["loss"] == "crf"
    return nlp


@pytest.fixture(scope="session")
def window_ner_pipelines() -> Callable[[str], Language]:
    """window_ner_pipelines(version) -> nlp: util.train_window_ner(version=version), a small
    window_ner (WindowNER.v1, .v2 or .v3) overfitted on util.WINDOW_NER_DATA, trained once per run and
    version. Tests must not change it."""
    cache: Dict[str, Language] = {}

    def get(version: str) -> Language:
        if version not in cache:
            cache[version] = train_window_ner(version=version)
        return cache[version]

    return get


@pytest.fixture(scope="session")
def window_ner_nlp(window_ner_pipelines) -> Language:
    """A small window_ner pipeline (WindowNER.v3) overfitted on util.WINDOW_NER_DATA, trained
    once per run. Tests must not change it."""
    return window_ner_pipelines("v3")


@pytest.fixture(scope="session")
def window_ner_path(window_ner_nlp: Language, tmp_path_factory) -> Path:
    """window_ner_nlp, saved."""
    path = tmp_path_factory.mktemp("window_ner") / "pipeline"
    window_ner_nlp.to_disk(path)
    return path


@pytest.fixture
def ruler_path(tmp_path: Path) -> Path:
    """A saved pipeline: sentencizer, entity_ruler and util's relation test component."""
    path = tmp_path / "ruler_pipeline"
    make_kb_nlp().to_disk(path)
    return path


@pytest.fixture
def corpus(tmp_path: Path) -> List[Path]:
    """Two .txt files (one read by lines, one whole with --lines off) and a .jsonl file with
    three malformed lines (2, 3 and 4)."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    lines = folder / "a.txt"
    lines.write_text(LINES_TXT, encoding="utf8")
    jsonl = folder / "b.jsonl"
    jsonl.write_text("\n".join(JSONL) + "\n", encoding="utf8")
    return [lines, jsonl]


@pytest.fixture
def mount_tmpfs(tmp_path: Path) -> Callable[..., Path]:
    """Mount a small tmpfs below tmp_path (skips where the test may not mount); unmounted at
    the end. mount(options) returns the mount point; util.remount(point, options) changes it."""
    mounted: List[Path] = []

    def mount(options: str = "size=64k") -> Path:
        point = tmp_path / f"mnt{len(mounted)}"
        point.mkdir()
        result = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)], capture_output=True, text=True)
        if result.returncode != 0:
            pytest.skip(f"can't mount a tmpfs here: {result.stderr.strip()}")
        mounted.append(point)
        return point

    yield mount
    for point in mounted:
        subprocess.run(["umount", "-l", str(point)], capture_output=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A PostgreSQL server of our own for the run (postgres_server.temporary_server: initdb
    into a temporary directory, pg_ctl start on a free localhost port), stopped and removed at
    the end. Yields the server's base URL (no database): postgresql://kbtest:PASSWORD@127.0.0.1:PORT"""
    try:
        with temporary_server() as url:
            yield url
    except ServerError as err:
        if err.missing:
            unavailable(str(err))
        pytest.fail(str(err))


_DATABASES = itertools.count()


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """The URL of a new, empty database on postgres_server, dropped after the test."""
    with temporary_database(postgres_server, f"kb_test_{os.getpid()}_{next(_DATABASES)}") as url:
        yield url

"""The benchmark scripts the README cites start and explain themselves; the layer benchmark runs
at a tiny size. (Their figures are measured by running them, never asserted here.)"""
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import data_dir

REPO = Path(__file__).parent.parent


def run(*args):
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True)


@pytest.mark.parametrize("module", ["benchmarks.layer", "benchmarks.ner_vs_spacy", "benchmarks.rel", "benchmarks.rel_levers", "benchmarks.ner_levers", "benchmarks.kb", "benchmarks.long_docs"])
def test_benchmarks_help(module):
    result = run(module, "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage" in result.stdout


def test_benchmarks_layer_runs():
    result = run("benchmarks.layer", "--repeats", "1", "--tokens", "200")
    assert result.returncode == 0, result.stderr
    for hidden in ("hidden=128", "hidden=300"):
        assert hidden in result.stdout
    assert result.stdout.count("speed-up over the thinc reference") == 2


def test_benchmarks_long_docs_runs(tmp_path):
    result = run(
        "benchmarks.long_docs", "--sizes", "300", "--modes", "sentencizer", "--explain-sizes", "200",
        "--epochs", "1", "--work-dir", tmp_path,
    )
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines()]
    assert ["sentencizer", "300"] in [row[:2] for row in rows]
    assert ["200"] in [row[:1] for row in rows]


def test_benchmarks_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("SPACY_WINDOW_NER_DATA", str(tmp_path))
    assert data_dir() == tmp_path
    monkeypatch.delenv("SPACY_WINDOW_NER_DATA")
    assert data_dir() == REPO.resolve().parent / "shared" / "data"

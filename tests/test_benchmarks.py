"""The benchmark scripts the README cites start and explain themselves; the layer, long-document
and knowledge-base benchmarks run at a tiny size (the last on a real Ray cluster and PostgreSQL
server). (Their figures are measured by running them, never asserted here.)"""
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .data import data_dir
from .util import unavailable

REPO = Path(__file__).parent.parent


def run(*args):
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True)


@pytest.mark.parametrize("module", ["benchmarks.layer", "benchmarks.scorer_versions", "benchmarks.ner_vs_spacy", "benchmarks.rel", "benchmarks.rel_levers", "benchmarks.ner_levers", "benchmarks.kb", "benchmarks.long_docs", "benchmarks.profile_ner"])
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
    assert result.stdout.count("time relative to WindowScorer.v2") == 2


@pytest.mark.slow
def test_benchmarks_scorer_versions_runs():
    """window_ner with WindowNER.v2 and .v3 (same weights) beside spaCy's ner, untrained."""
    if not (data_dir() / "conll04" / "conll04_test.json").exists():
        unavailable(f"CoNLL04 is not in {data_dir()} (tests/data.py)")
    result = run("benchmarks.scorer_versions", "--repeats", "1", "--words", "2000")
    assert result.returncode == 0, result.stderr
    assert "v2 and v3 predict the same" in result.stdout
    for name in ("window_ner (v3)", "window_ner (v2)", "spacy ner"):
        assert re.search(rf"^{re.escape(name)} +[\d,]+ +\d+\.\d+$", result.stdout, re.M), result.stdout
    assert re.search(r"v3 relative to v2: \d+\.\d+x", result.stdout)


@pytest.mark.slow
def test_benchmarks_profile_ner_runs(tmp_path):
    """The profile of an initialized window_ner pipeline: the table and every stage."""
    if not (data_dir() / "conll04" / "conll04_test.json").exists():
        unavailable(f"CoNLL04 is not in {data_dir()} (tests/data.py)")
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("window_ner").add_label("PER")
    nlp.initialize()
    nlp.to_disk(tmp_path / "model")
    result = run("benchmarks.profile_ner", str(tmp_path / "model"), "--words", "300", "--repeats", "1", "--top", "5")
    assert result.returncode == 0, result.stderr
    # nlp.pipe holds nearly all of the profiled run's time (the rest is the loop around it)
    pipe_row = re.search(r"^ *[\d.]+ +([\d.]+) .*language\.py:\d+\(pipe\)$", result.stdout, re.M)
    assert pipe_row and 90.0 <= float(pipe_row.group(1)) <= 100.0, result.stdout
    for stage in ("tokenizer", "tok2vec", "window scorer", "set_annotations", r"\(decode\)"):
        assert re.search(rf"^  {stage} +-?[\d.]+ s +-?[\d.]+ %$", result.stdout, re.M), result.stdout


@pytest.mark.slow
def test_benchmarks_long_docs_runs(tmp_path):
    result = run(
        "benchmarks.long_docs", "--sizes", "300", "--modes", "sentencizer", "--explain-sizes", "200",
        "--epochs", "1", "--work-dir", tmp_path,
    )
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines()]
    assert ["sentencizer", "300"] in [row[:2] for row in rows]
    assert ["200"] in [row[:1] for row in rows]


@pytest.mark.slow
def test_benchmarks_kb_runs(tmp_path, postgres_server):
    try:
        import ray  # noqa: F401
    except ImportError:
        unavailable('Ray is not installed: pip install "spacy-window-ner[ray]"')
    result = run(
        "benchmarks.kb", "--n-docs", "40", "--epochs", "1", "--processes", "1", "--actors", "1", "--pg-writers", "1,2",
        "--pg-url", postgres_server, "--work-dir", tmp_path, "--batch-size", "8", "--overhead-repeats", "2",
        "--ray-loads-docs", "60", "--ray-loads-actors", "1",
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("start: load average") and lines[-1].startswith("end: load average")
    assert "one actor's docs/s (n_process 1):" in result.stdout
    capacity = {" ".join(row[:-2]): row[-2:] for row in (line.split() for line in lines) if row[:1] in (["SQLite,"], ["PostgreSQL,"])}
    assert list(capacity) == ["SQLite, 1 writer", "PostgreSQL, 1 writer", "PostgreSQL, 2 writers"]
    assert all(float(value.replace(",", "")) > 0 for values in capacity.values() for value in values)
    assert "Ray cluster start-up (ray.init, num_cpus=1, once before the builds):" in result.stdout
    build_row = re.compile(r"(local n_process=\d+|ray \d+ actors?) +(SQLite|PostgreSQL) +(.*)")
    builds = {match.group(1, 2): match.group(3).split() for match in map(build_row.fullmatch, lines) if match}
    assert sorted(builds) == [
        ("local n_process=1", "PostgreSQL"), ("local n_process=1", "SQLite"),
        ("ray 1 actor", "PostgreSQL"), ("ray 1 actor", "SQLite"),
    ]
    for (engine, store), row in builds.items():
        docs_s, words_s, cpu_ms, pg_ms, writer, pids, rerun = row
        assert float(docs_s.replace(",", "")) > 0 and float(words_s.replace(",", "")) > 0 and float(cpu_ms) > 0
        assert (pg_ms == "n/a") == (store == "SQLite")
        assert writer.endswith("%") and 0 <= float(writer[:-1]) < 100
        assert pids == ("1" if engine.startswith("ray") else "-")
        assert float(rerun.replace(",", "")) > 0
    overhead_row = re.compile(r" +([12]) +([\d.]+) +([\d.]+) +(-?[\d.]+)% +([\d.]+) +([\d.]+) +(-?[\d.]+)% +([\d.]+)")
    overheads = [match.groups() for match in map(overhead_row.fullmatch, lines) if match]
    assert [run for run, *_ in overheads] == ["1", "2"]
    assert all(float(seconds) > 0 for row in overheads for seconds in row[1:3] + row[4:6])
    assert any(line.startswith("  overhead, mean of 2: ") for line in lines)
    # 8 blocks on one actor: one load.
    assert "Ray build of 60 one-sentence documents (8 blocks of 8, " in result.stdout
    assert "actors 1, actor processes that ran blocks 1, pipeline loads 1;" in result.stdout


def test_benchmarks_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("SPACY_WINDOW_NER_DATA", str(tmp_path))
    assert data_dir() == tmp_path
    monkeypatch.delenv("SPACY_WINDOW_NER_DATA")
    assert data_dir() == REPO.resolve().parent / "shared" / "data"

"""The command line: every command's --help, the happy paths, and each bad input ending in a
clear message and a non-zero exit code without a traceback."""
import json
import subprocess
import sys
from pathlib import Path
from typing import List

import pytest
import spacy
from spacy.tokens import DocBin
from spacy.training import Example
from typer.testing import CliRunner

from spacy_window_ner.cli import app
from spacy_window_ner.readers import read_conll04, read_docbin

from .test_explain import TEXT, TRAIN_DATA, window_ner_nlp, window_ner_path  # noqa: F401 (fixtures)
from .test_kb import CRASH, SENTINEL, corpus, make_nlp, ruler_path  # noqa: F401 (fixtures)

ASSETS = Path(__file__).resolve().parent.parent / "assets" / "sample"
COMMANDS = [[], ["convert"], ["evaluate"], ["tune-thresholds"], ["kb"], ["kb", "build"], ["kb", "query"], ["kb", "export"], ["explain"], ["visualize"]]
runner = CliRunner()


def invoke(*args, ok: bool = True):
    result = runner.invoke(app, [str(arg) for arg in args])
    assert "Traceback" not in result.output
    if result.exception is not None:
        assert isinstance(result.exception, SystemExit), result.exception
    if ok:
        assert result.exit_code == 0, result.output
    return result


def failed(*args, code: int = 1) -> str:
    result = invoke(*args, ok=False)
    assert result.exit_code == code, result.output
    return " ".join(result.output.split())


@pytest.fixture
def garbage(tmp_path: Path) -> Path:
    path = tmp_path / "garbage.sqlite"
    path.write_text("not a database at all, only text " * 50, encoding="utf8")
    return path


@pytest.fixture
def gold_spacy(window_ner_nlp, tmp_path: Path) -> Path:  # noqa: F811
    docs = [Example.from_dict(window_ner_nlp.make_doc(t), {"entities": e}).reference for t, e in TRAIN_DATA]
    path = tmp_path / "gold.spacy"
    DocBin(docs=docs, store_user_data=True).to_disk(path)
    return path


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "app")
def test_cli_help(command: List[str]):
    result = invoke(*command, "--help")
    assert "Usage" in result.output


def test_cli_python_m_help():
    result = subprocess.run([sys.executable, "-m", "spacy_window_ner", "kb", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "build" in result.stdout


def test_cli_convert_conll04(tmp_path):
    source = ASSETS / "sample_train.json"
    out = tmp_path / "out" / "train.spacy"
    result = invoke("convert", source, out, "--format", "conll04")
    docs, stats = read_conll04(source, spacy.blank("en").vocab)
    assert f"Wrote {stats.docs} docs, {stats.entities} entities, {stats.relations} relations" in result.output
    assert len(read_docbin(out, spacy.blank("en").vocab)) == stats.docs


def test_cli_convert_prodigy_split(tmp_path):
    def record(pmid: str) -> str:
        tokens = [{"text": "IL-2", "ws": True}, {"text": "binds", "ws": True}, {"text": "NF-kB", "ws": False}]
        spans = [{"token_start": 0, "token_end": 0, "label": "GGP"}, {"token_start": 2, "token_end": 2, "label": "GGP"}]
        rels = [{"head": 0, "child": 2, "label": "Binds"}]
        meta = {"source": f"BioNLP 2011 Genia Shared Task, PMID-{pmid}.txt"}
        return json.dumps({"tokens": tokens, "spans": spans, "relations": rels, "answer": "accept", "meta": meta})

    source = tmp_path / "rel.jsonl"
    source.write_text("\n".join([record("1234"), record("1233"), record("1231"), "{bad"]) + "\n", encoding="utf8")
    out = tmp_path / "dev.spacy"
    result = invoke("convert", source, out, "--format", "prodigy", "--split", "dev")
    assert "Wrote 1 docs, 2 entities, 1 relations" in result.output
    assert "1 records" in result.output and "line 4" in result.output
    assert "--split only applies" in failed("convert", ASSETS / "sample_train.json", out, "-f", "conll04", "--split", "dev")


def test_cli_convert_bad_inputs(tmp_path):
    latin = tmp_path / "latin.json"
    latin.write_bytes('[{"tokens": ["Café"]}]'.encode("latin-1"))
    assert "Can't read" in failed("convert", latin, tmp_path / "o.spacy", "-f", "conll04")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf8")
    assert "is empty" in failed("convert", empty, tmp_path / "o.spacy", "-f", "prodigy")
    assert "Invalid value" in failed("convert", tmp_path / "missing.json", tmp_path / "o.spacy", "-f", "conll04", code=2)


def test_cli_evaluate(window_ner_path, gold_spacy, tmp_path):  # noqa: F811
    out = tmp_path / "metrics" / "sample.json"
    result = invoke("evaluate", window_ner_path, gold_spacy, "--output", out)
    scores = json.loads(out.read_text(encoding="utf8"))
    assert scores["ents_f"] > 0.9 and set(scores["ents_per_type"]) == {"PER", "ORG", "LOC"}
    assert "ents_f" in result.output and "ents_per_type" in result.output and "PER" in result.output


def test_cli_evaluate_bad_inputs(window_ner_path, gold_spacy, tmp_path, garbage):  # noqa: F811
    not_pipeline = tmp_path / "not_pipeline"
    not_pipeline.mkdir()
    assert "is not a spaCy pipeline" in failed("evaluate", not_pipeline, gold_spacy)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.cfg").write_text("[nlp]\nlang = \n", encoding="utf8")
    assert "Can't load the spaCy pipeline" in failed("evaluate", broken, gold_spacy)
    blank = tmp_path / "blank"
    spacy.blank("en").to_disk(blank)
    assert "no component to evaluate" in failed("evaluate", blank, gold_spacy)
    assert "no window_rel component" in failed("evaluate", window_ner_path, gold_spacy, "--gold-ents")
    assert "as a .spacy file" in failed("evaluate", window_ner_path, garbage)


def test_cli_kb_build_query_export(ruler_path, corpus, tmp_path):  # noqa: F811
    db = tmp_path / "kb" / "kb.sqlite"
    result = invoke("kb", "build", ruler_path, *corpus, "--db", db, "--lines", "--batch-size", "2")
    assert "added 5 (12 mentions, 7 relations" in result.output
    assert f"Skipped 3 malformed lines ({corpus[1]}:2: invalid JSON" in " ".join(result.output.split())
    result = invoke("kb", "build", ruler_path, *corpus, "--db", db, "--lines")
    assert "added 0 " in result.output and "skipped 5 already stored" in result.output
    result = invoke("kb", "query", db, "alice")
    assert "Alice (PER): 3 mentions" in result.output and "Alice → Acme" in result.output and "Bob → Alice" in result.output
    (entity,) = json.loads(invoke("kb", "query", db, "Alice", "--label", "PER", "--json").output)
    assert entity["mention_count"] == 3 and len(entity["relations"]) == 4
    assert "No entity named 'Carol'" in failed("kb", "query", db, "Carol")
    for fmt in ("jsonl", "csv", "graphml"):
        out = tmp_path / "export" / f"graph.{fmt}"
        assert "Wrote 5 nodes and 7 edges" in invoke("kb", "export", db, "--format", fmt, "--output", out).output
        assert out.is_file()


def test_cli_kb_build_bad_inputs(ruler_path, corpus, tmp_path, garbage, window_ner_path):  # noqa: F811
    db = tmp_path / "kb.sqlite"
    latin = tmp_path / "latin.txt"
    latin.write_bytes("Alice in Paris\nCafé Boston\n".encode("latin-1"))
    message = failed("kb", "build", ruler_path, latin, corpus[0], "--db", db, "--lines")
    assert f"Skipped {latin}: not valid utf8" in message and "--encoding" in message and "Skipped 1 of 2 inputs" in message
    assert "added 3" in message  # the readable input was still processed
    assert "added 2" in invoke("kb", "build", ruler_path, latin, "--db", db, "--lines", "--encoding", "latin-1").output
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf8")
    assert "empty file" in failed("kb", "build", ruler_path, empty, "--db", db)
    assert "no such file" in failed("kb", "build", ruler_path, tmp_path / "missing.txt", "--db", db)
    assert "Unknown encoding" in failed("kb", "build", ruler_path, corpus[0], "--db", db, "--encoding", "nope")
    assert "not a SQLite database" in failed("kb", "build", ruler_path, corpus[0], "--db", garbage)
    assert "not a spaCy pipeline" in failed("kb", "build", corpus[0], corpus[0], "--db", db)
    blank = tmp_path / "blank"
    spacy.blank("en").to_disk(blank)
    assert "no component that sets doc.ents" in failed("kb", "build", blank, corpus[0], "--db", db)
    assert "not a SQLite database" in failed("kb", "query", garbage, "Alice")
    assert "not a SQLite database" in failed("kb", "export", garbage, "-f", "jsonl", "-o", tmp_path / "g.jsonl")


def test_cli_kb_build_resumes_after_crash(ruler_path, tmp_path, monkeypatch):  # noqa: F811
    source = tmp_path / "crash.txt"
    source.write_text(f"Alice met Bob.\nBob saw Acme.\n{SENTINEL} Paris.\nAcme in Paris.\n", encoding="utf8")
    db = tmp_path / "kb.sqlite"
    message = failed("kb", "build", ruler_path, source, "--db", db, "--lines", "--batch-size", "1")
    assert "The pipeline failed (RuntimeError: crashed on the sentinel)" in message and "rerun" in message
    monkeypatch.setitem(CRASH, "on", False)
    result = invoke("kb", "build", ruler_path, source, "--db", db, "--lines", "--batch-size", "1")
    assert "added 2 " in result.output and "skipped 2 already stored" in result.output


def test_cli_explain(window_ner_path, ruler_path, tmp_path):  # noqa: F811
    out = tmp_path / "html" / "explain.html"
    result = invoke("explain", window_ner_path, TEXT, "--html", out)
    assert "John Smith (PER" in result.output and "Grad × input" in result.output and "works" in result.output
    page = out.read_text(encoding="utf8")
    assert "John Smith" in page and "title=" in page
    assert "has no window_ner component" in failed("explain", ruler_path, TEXT)
    assert "text is empty" in failed("explain", window_ner_path, "  ")


def test_cli_visualize(ruler_path, window_ner_path, gold_spacy, tmp_path):  # noqa: F811
    out = tmp_path / "viz.html"
    result = invoke("visualize", ruler_path, "Alice works for Acme in Boston.", "--html", out)
    assert "Rendered 1 docs, 3 entities, 2 relations" in result.output
    page = out.read_text(encoding="utf8")
    assert "PER 0.75" in page and "<svg" in page and "NEXT 0.50" in page
    result = invoke("visualize", window_ner_path, gold_spacy, "--html", out, "--limit", "2")
    assert "Rendered 2 docs" in result.output and "PER" in out.read_text(encoding="utf8")
    lines = tmp_path / "lines.txt"
    lines.write_text("Bob lives in Paris.\n\nAlice visited Acme.\n", encoding="utf8")
    assert "Rendered 2 docs, 4 entities" in invoke("visualize", ruler_path, lines, "--html", out).output
    assert "Can't find the file" in failed("visualize", ruler_path, tmp_path / "missing.txt", "--html", out)

"""Hostile input, round three (issue 25): each class a hostile user tried, run as they ran it.
Every case must end in a clear one-line error or a reported decision, with nothing lost,
corrupted or leaked (a password)."""
import json
from pathlib import Path
from typing import List

import pytest
from typer.testing import CliRunner

from spacy_window_ner import kb
from spacy_window_ner.cli import app

runner = CliRunner()

SECRET = "s3cr3t-Pa55"
MALFORMED_URLS = [
    f"postgresql://u:{SECRET}@[::1:5432/x",  # an unbalanced IPv6 bracket
    f"postgresql://u:{SECRET}@host:port/x",  # a port that is not a number
    f"postgresql://u:{SECRET}@host:99999/x",  # a port out of range
    f"postgres://u@[::1/x?password={SECRET}",  # the password as a parameter
    f"postgresql://u:{SECRET}@host/x\x00",  # a NUL
]


def cli(*args: object) -> str:
    """Run the command line; a failure must be a clean exit 1 (no traceback). Returns the
    output on one line."""
    result = runner.invoke(app, [str(arg) for arg in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return result.output


def failure(*args: object) -> str:
    result = runner.invoke(app, [str(arg) for arg in args])
    assert isinstance(result.exception, SystemExit) and result.exit_code == 1, (result.exception, result.output)
    assert "Traceback" not in result.output
    return result.output


# ------------------------------------------------------------------ 1. a password in a traceback


@pytest.mark.parametrize("url", MALFORMED_URLS)
def test_hostile_describe_hides_the_password_of_any_url(url):
    assert SECRET not in kb.describe(url)
    assert "***" in kb.describe(url)
    assert SECRET not in kb.hide_password(f"libpq said: {url} (password {SECRET})", url)


@pytest.mark.parametrize("url", MALFORMED_URLS)
def test_hostile_malformed_url_is_one_line_without_the_password(url, ruler_path, tmp_path):
    text = tmp_path / "in.txt"
    text.write_text("Alice met Bob in Paris.\n", encoding="utf8")
    commands: List[List[object]] = [
        ["kb", "query", url, "Alice"],
        ["kb", "export", url, "--format", "jsonl", "--output", tmp_path / "graph.jsonl"],
        ["kb", "remove", url, "--id", "x"],
        ["kb", "build", ruler_path, text, "--db", url],
    ]
    for command in commands:
        output = failure(*command)
        assert SECRET not in output, output
        assert "PostgreSQL URL" in output and ("malformed" in output or "NUL" in output), output
        errors = [line for line in output.splitlines() if line.startswith("✘")]
        assert len(errors) == 1, output
    assert not (tmp_path / "graph.jsonl").exists()


# ------------------------------------------------------------------ 2. a NUL that stops PostgreSQL


@pytest.fixture
def nul_jsonl(tmp_path: Path) -> Path:
    """Five documents: a NUL in the text of line 2 and in the id of line 4."""
    path = tmp_path / "nul.jsonl"
    records = [
        {"id": "a", "text": "Alice met Bob."}, {"id": "b", "text": "Bob\x00 in Paris."}, {"id": "c", "text": "Acme in Boston."},
        {"id": "d\x00", "text": "Alice in Paris."}, {"id": "e", "text": "Bob met Alice."},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf8")
    return path


def snapshot(db) -> dict:
    """What a knowledge base holds, back end aside: entities with their counts, and relations."""
    nodes, edges = kb.read_graph(db)
    names = {node["id"]: (node["name"], node["label"]) for node in nodes}
    return {
        "entities": sorted((node["name"], node["label"], node["mention_count"]) for node in nodes),
        "edges": sorted((names[e["source"]], names[e["target"]], e["label"], e["count"]) for e in edges),
    }


def test_hostile_nul_is_skipped_and_reported_alike_on_both_back_ends(ruler_path, nul_jsonl, tmp_path, postgres_url):
    """A NUL in a text or an id is reported with its path:line and skipped, on SQLite and on
    PostgreSQL alike: the other documents are all stored, a rerun adds nothing, and both back
    ends hold the same knowledge base."""
    sqlite_db = tmp_path / "kb.sqlite"
    for db in (sqlite_db, postgres_url):
        output = " ".join(cli("kb", "build", ruler_path, nul_jsonl, "--db", db, "--batch-size", "1").split())
        assert "added 3 " in output, output
        assert f"{nul_jsonl}:2: text holds a NUL character" in output and f'{nul_jsonl}:4: "id" holds a NUL character' in output
        rerun = " ".join(cli("kb", "build", ruler_path, nul_jsonl, "--db", db).split())
        assert "added 0 " in rerun and "skipped 3 already stored" in rerun, rerun
    assert snapshot(sqlite_db) == snapshot(postgres_url)
    assert snapshot(sqlite_db)["entities"]

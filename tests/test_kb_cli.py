"""The kb commands and visualize's file inputs against hostile input and faults (issue 15):
documents that can't be processed, a build with nothing usable, a full database, kb remove,
and terminal escapes in kb query."""
import json
from pathlib import Path

import pytest

from .test_cli import failed, invoke

LONG = 1_000_001  # characters: over spaCy's default nlp.max_length


@pytest.fixture
def hostile_jsonl(tmp_path: Path) -> Path:
    """Five lines: a text over the default max_length at line 2, a lone surrogate at line 4."""
    path = tmp_path / "hostile.jsonl"
    records = [
        {"text": "Alice met Bob."}, {"text": "word " * (LONG // 5) + "Acme."}, {"text": "Bob in Paris."},
        {"text": "Alice \ud800 in Boston."}, {"text": "Acme in Paris."},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf8")
    return path


def test_kb_cli_build_skips_documents_it_cannot_process(ruler_path, hostile_jsonl, tmp_path):
    db = tmp_path / "kb.sqlite"
    result = invoke("kb", "build", ruler_path, hostile_jsonl, "--db", db, "--batch-size", "2")
    output = " ".join(result.output.split())
    assert "added 3 " in output and "Skipped 2 malformed lines" in output
    assert f"{hostile_jsonl}:2: text of 1,000,005 characters is longer than the pipeline's max_length (1,000,000)" in output
    assert f"{hostile_jsonl}:4: text holds a lone surrogate" in output
    result = invoke("kb", "build", ruler_path, hostile_jsonl, "--db", db, "--max-length", "1100000")
    assert "added 1 " in result.output and "skipped 3 already stored" in result.output


def test_kb_cli_build_nothing_usable_fails(ruler_path, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": 1}\n{broken\n', encoding="utf8")
    db = tmp_path / "kb.sqlite"
    message = failed("kb", "build", ruler_path, bad, "--db", db)
    assert "Skipped 2 malformed lines" in message and "No usable document in the inputs" in message
    assert not db.exists()


def test_kb_cli_build_full_database(ruler_path, tmp_path, small_database):
    source = tmp_path / "big.txt"
    source.write_text("".join(f"Alice {i} met Bob in Paris {'x' * 300}.\n" for i in range(300)), encoding="utf8")
    message = failed("kb", "build", ruler_path, source, "--db", tmp_path / "kb.sqlite", "--lines", "--batch-size", "8")
    assert "database or disk is full" in message and "pipeline failed" not in message and "rollback" not in message


def test_kb_cli_remove(ruler_path, corpus, tmp_path):
    db = tmp_path / "kb.sqlite"
    ids = tmp_path / "ids.jsonl"
    ids.write_text('{"id": 5, "text": "Bob saw Alice."}\n', encoding="utf8")
    invoke("kb", "build", ruler_path, *corpus, ids, "--db", db, "--lines")
    result = invoke("kb", "remove", db, "--source", corpus[0], "--id", "5", "--id", "6")
    output = " ".join(result.output.split())
    assert f"Removed 4 documents from {db} with 9 mentions and 5 relations; entities left with no mention, deleted: 1" in output
    assert f"{corpus[0]}:2" in output and f"{ids}:1 (id 5)" in output and "No document with id '6'" in output
    (alice,) = json.loads(invoke("kb", "query", db, "Alice", "--json").output)
    assert alice["mention_count"] == len(alice["mentions"]) == 1
    assert "Nothing matched" in failed("kb", "remove", db, "--id", "5")
    assert "Say what to remove" in failed("kb", "remove", db)


def test_kb_cli_query_escapes_control_characters(ruler_path, tmp_path):
    source = tmp_path / "evil.jsonl"
    text = "Alice \x1b[2J\x1b]0;pwned\x07 met \x9b31m Bob."
    source.write_text(json.dumps({"text": text}) + "\n", encoding="utf8")
    db = tmp_path / "kb.sqlite"
    invoke("kb", "build", ruler_path, source, "--db", db)
    output = invoke("kb", "query", db, "Alice").output
    assert not any(c in output for c in "\x1b\x07\x9b")
    assert "\\x1b[2J" in output and "\\x9b31m" in output
    as_json = invoke("kb", "query", db, "Alice", "--json").output
    assert not any(c in as_json for c in "\x1b\x07\x9b")
    (alice,) = json.loads(as_json)
    assert alice["mentions"][0]["sentence"] == text


def test_kb_cli_visualize_skips_documents_it_cannot_process(ruler_path, hostile_jsonl, tmp_path):
    out = tmp_path / "viz.html"
    result = invoke("visualize", ruler_path, hostile_jsonl, "--html", out)
    output = " ".join(result.output.split())
    assert "Rendered 3 docs" in output and "Skipped 2 malformed lines" in output
    assert f"{hostile_jsonl}:4: text holds a lone surrogate" in output
    message = failed("visualize", ruler_path, "Alice " * (LONG // 6 + 1), "--html", out)
    assert "Can't visualize the text: text of 1,000,002 characters is longer than the pipeline's max_length" in message

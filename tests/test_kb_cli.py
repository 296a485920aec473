"""The kb commands and visualize's file inputs against hostile input and faults (issue 15):
documents that can't be processed, a build with nothing usable, a full database, kb remove,
and terminal escapes in kb query."""
import json
from pathlib import Path
from typing import List

import pytest

from spacy_window_ner.cli import app

from .util import failed, invoke, make_kb_nlp, runner

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


LONG_ORG = "Federation of Long Organisation Names"


@pytest.fixture
def long_names_path(tmp_path: Path) -> Path:
    """ruler_path's pipeline that also finds an organisation with a very long name."""
    nlp = make_kb_nlp()
    nlp.get_pipe("entity_ruler").add_patterns([{"label": "ORG", "pattern": LONG_ORG}])
    path = tmp_path / "long_names"
    nlp.to_disk(path)
    return path


def query(db: Path, name: str, columns: int = 80) -> str:
    result = runner.invoke(app, ["kb", "query", str(db), name], env={"COLUMNS": str(columns)})
    assert result.exit_code == 0, result.output
    return result.output


def tables(output: str) -> List[List[str]]:
    """The tables of kb query's output: blocks of lines under a header (the entity's line and its
    aliases' line), each a list of lines."""
    blocks, block = [], []
    for line in output.splitlines() + [""]:
        if line.strip() and not line.endswith("mentions") and not line.startswith("Aliases: ") and line != "No relations.":
            block.append(line)
        elif block:
            blocks.append(block)
            block = []
    return blocks


def test_kb_cli_query_shows_the_jsonl_id_of_a_document(ruler_path, tmp_path):
    lines = tmp_path / "a.txt"
    lines.write_text("Alice works for Acme.\n", encoding="utf8")
    ids = tmp_path / "ids.jsonl"
    ids.write_text(json.dumps({"id": "news-0042", "text": "Bob met Alice."}) + "\n", encoding="utf8")
    db = tmp_path / "kb.sqlite"
    invoke("kb", "build", ruler_path, lines, ids, "--db", db, "--lines")
    output = query(db, "Alice", columns=200)
    mentions, relations = tables(output)
    assert any(line.startswith("news-0042 ") for line in mentions), output
    assert any(line.split()[0].endswith("a.txt:1") for line in mentions), output
    assert f"{ids}:1" not in output
    assert any("Bob → Alice" in line and line.rstrip().endswith("news-0042") for line in relations), output
    (alice,) = json.loads(invoke("kb", "query", db, "Alice", "--json").output)
    assert sorted(m["doc_id"] or "-" for m in alice["mentions"]) == ["-", "news-0042"]
    assert {r["doc_id"] for r in alice["relations"]} == {None, "news-0042"}


def test_kb_cli_query_shows_the_sentence_around_the_mention(ruler_path, tmp_path):
    before = "In a long and winding account of the many meetings held that year across the region, "
    after = " was named, and the report went on for a long while about what happened next there."
    source = tmp_path / "long.jsonl"
    records = [{"id": "late", "text": before + "Alice" + after}, {"id": "early", "text": "Alice" + after + after}]
    source.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf8")
    db = tmp_path / "kb.sqlite"
    invoke("kb", "build", ruler_path, source, "--db", db)
    output = query(db, "Alice")
    rows = {line.split()[0]: line for line in tables(output)[0][2:]}
    for line in rows.values():
        assert len(line.rstrip()) <= 80 and "Alice" in line, output
    late = rows["late"].split("   ")[-1].strip()
    assert late.startswith("…") and late.endswith("…") and "across the region, Alice was named" in late, output
    early = rows["early"].split("   ")[-1].strip()
    assert early.startswith("Alice was named") and early.endswith("…"), output


@pytest.mark.parametrize(
    "sentence,start,end,width,expected",
    [
        ("Alice met Bob.", 0, 5, 40, "Alice met Bob."),
        ("one two three four Alice five six seven eight", 19, 24, 25, "…four Alice five six…"),  # whole words
        ("x" * 30 + " Alice", 31, 36, 25, "…" + "x" * 18 + " Alice"),  # all on the side that has context
        ("Alice " + "y" * 30, 0, 5, 10, "Alice…"),  # a short piece of a cut word is left out
        ("Alice " + "y" * 30, 0, 5, 25, "Alice " + "y" * 18 + "…"),  # a long one is shown
        ("ab Alice Bob Carol cd", 3, 18, 10, "…Alice Bob Carol…"),  # longer than the width: kept whole
        ("a\n\n  b   Alice\tc", 9, 14, 40, "a b Alice c"),  # whitespace collapsed, offsets kept
        ("\x1b[2J Alice", 5, 10, 40, "\\x1b[2J Alice"),  # control characters escaped
    ],
)
def test_kb_cli_sentence_window(sentence, start, end, width, expected):
    from spacy_window_ner.cli._tables import sentence_window

    assert sentence[start:end] in ("Alice", "Alice Bob Carol")
    window = sentence_window(sentence, start, end, width)
    assert window == expected
    assert len(window) <= width or window.strip("…") == sentence[start:end]


def test_kb_cli_query_tables_stay_aligned_with_long_cells(long_names_path, tmp_path):
    text = f"Alice works for the {LONG_ORG} in Boston, as everybody who ever met her knows very well by now."
    source = tmp_path / "deep" / "folder" / "with" / "a" / "long" / "name" / "documents.txt"
    source.parent.mkdir(parents=True)
    source.write_text(text + "\n", encoding="utf8")
    db = tmp_path / "kb.sqlite"
    invoke("kb", "build", long_names_path, source, "--db", db, "--lines")
    for columns in (80, 120):
        output = query(db, LONG_ORG, columns=columns)
        blocks = tables(output)
        assert len(blocks) == 2, output
        for block in blocks:
            # wasabi pads every cell to its column's width: aligned rows have the same length
            assert len({len(line) for line in block}) == 1, output
            assert all(len(line.rstrip()) <= columns for line in block), output
        relation_rows = blocks[1][2:]
        assert any(row.startswith("Alice → Federation of") for row in relation_rows), output
        assert all("…" in row and "documents.txt:1" in row for row in relation_rows), output

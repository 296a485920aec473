"""kb export --format mentions (kb/export.py): one JSON line per mention, with its document's
identity (its id, PATH:LINE, PATH, or PATH:INDEX for a .spacy doc) and its resolved entity, as
a line reader and json read them back; written atomically; the same from SQLite and PostgreSQL."""
import json
from pathlib import Path
from typing import Any, Dict, List

import pytest
from spacy.tokens import DocBin

from spacy_window_ner import kb

from .util import build_from_corpus, failed, invoke, make_kb_nlp

TEXTS = ["Alice met Bob in Paris.", "Bob works for Acme in Boston. Alice too.", "Nothing here.", "Acme hired Bob."]

HOSTILE = "=\t\x00\x1b\x7f\x85\u2028\ud800\""


def test_kb_mentions_writer_one_line_each_in_field_order(tmp_path):
    rows = [
        {"document": "a.spacy:0", "start_char": 0, "end_char": 5, "text": "Alice", "label": "PER", "entity_id": 1,
         "canonical": "Alice Smith", "extra": "not written"},
        {"document": f"id{HOSTILE}", "start_char": 6, "end_char": 9, "text": f"B{HOSTILE}", "label": "PER",
         "entity_id": None, "canonical": None},
    ]
    output = tmp_path / "out" / "mentions.jsonl"
    assert kb.write_mentions(iter(rows), output) == 2
    lines = output.read_text(encoding="utf8").splitlines()  # splitlines splits at U+2028 and U+0085 too
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert list(first) == list(kb.MENTIONS_FIELDS) and "extra" not in first
    assert first == {key: rows[0][key] for key in kb.MENTIONS_FIELDS}
    assert second["document"] == "id" + HOSTILE.replace("\ud800", "\ufffd")
    assert (second["entity_id"], second["canonical"]) == (None, None)


def test_kb_mentions_writer_is_atomic(tmp_path):
    output = tmp_path / "mentions.jsonl"
    output.write_text("old\n", encoding="utf8")

    def broken():
        yield {key: 1 for key in kb.MENTIONS_FIELDS}
        raise RuntimeError("store lost")

    with pytest.raises(RuntimeError):
        kb.write_mentions(broken(), output)
    assert output.read_text(encoding="utf8") == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["mentions.jsonl"]


def annotated_kb(tmp_path: Path, db, **kwargs) -> Path:
    """TEXTS annotated by util's entity_ruler, the second doc with the id "doc-b", built into db."""
    docs = list(make_kb_nlp().pipe(TEXTS))
    docs[1].user_data["id"] = "doc-b"
    path = tmp_path / "docs.spacy"
    DocBin(store_user_data=True, docs=docs).to_disk(path)
    kb.build_annotated([path], db, **kwargs)
    return path


def read_lines(path: Path) -> List[Dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf8").splitlines()]


def test_kb_mentions_export_names_documents_and_entities(tmp_path):
    db = tmp_path / "kb.sqlite"
    path = annotated_kb(tmp_path, db)
    output = tmp_path / "mentions.jsonl"
    assert kb.export_mentions(db, output) == 9
    rows = read_lines(output)
    docs = list(make_kb_nlp().pipe(TEXTS))
    documents = [f"{path}:0", "doc-b", f"{path}:3"]
    expected = [
        (document, ent.start_char, ent.end_char, ent.text, ent.label_)
        for document, doc in zip(documents, (docs[0], docs[1], docs[3])) for ent in doc.ents
    ]
    assert [(r["document"], r["start_char"], r["end_char"], r["text"], r["label"]) for r in rows] == expected
    for row in rows:  # each mention's entity is the one kb query finds by its name
        (entity,) = kb.query_entity(db, row["text"], label=row["label"])
        assert (row["entity_id"], row["canonical"]) == (entity["id"], entity["name"])


def test_kb_mentions_export_of_unresolved_and_pipeline_documents(tmp_path, corpus):
    db = tmp_path / "kb.sqlite"
    annotated_kb(tmp_path, db, resolve=False)
    output = tmp_path / "mentions.jsonl"
    kb.export_mentions(db, output)
    assert {(r["entity_id"], r["canonical"]) for r in read_lines(output)} == {(None, None)}
    other = tmp_path / "pipeline.sqlite"
    build_from_corpus(make_kb_nlp(), corpus, other, tmp_path)
    kb.export_mentions(other, output)
    documents = {r["document"] for r in read_lines(output)}
    lines, jsonl = corpus
    assert {f"{lines}:1", f"{lines}:2", f"{lines}:4", f"{jsonl}:1", f"{jsonl}:5", str(tmp_path / "corpus" / "c.txt")} == documents


def test_kb_mentions_cli(tmp_path):
    db = tmp_path / "kb.sqlite"
    annotated_kb(tmp_path, db)
    output = tmp_path / "out" / "mentions.jsonl"
    result = invoke("kb", "export", db, "--format", "mentions", "--output", output)
    assert f"Wrote 9 mentions to {output}" in result.output
    assert len(read_lines(output)) == 9
    assert "is the input" in failed("kb", "export", db, "-f", "mentions", "-o", db)


def test_kb_mentions_postgres_same_as_sqlite(tmp_path, postgres_url):
    annotated_kb(tmp_path, postgres_url)
    annotated_kb(tmp_path, tmp_path / "kb.sqlite")
    outputs = tmp_path / "pg.jsonl", tmp_path / "sqlite.jsonl"
    assert kb.export_mentions(postgres_url, outputs[0]) == kb.export_mentions(tmp_path / "kb.sqlite", outputs[1]) == 9
    assert outputs[0].read_text(encoding="utf8") == outputs[1].read_text(encoding="utf8")

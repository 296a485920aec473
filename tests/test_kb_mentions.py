"""kb export --format mentions (kb/export.py): one JSON line per mention, with its document's
identity and its resolved entity, as a line reader and json read them back."""
import json
from pathlib import Path

import pytest

from spacy_window_ner import kb

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

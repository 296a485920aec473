"""Input streaming: checking files, reading records and the sources `visualize` accepts."""
import pytest
import spacy
from spacy.tokens import Doc, DocBin

from spacy_window_ner.inputs import InputError, InputStats, check_inputs, read_source


def test_inputs_check_inputs(tmp_path):
    good = tmp_path / "good.txt"
    good.write_text("Alice\n", encoding="utf8")
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    latin = tmp_path / "latin.txt"
    latin.write_bytes("ok\nCafé in Paris\n".encode("latin-1"))
    usable, skipped, total = check_inputs([good, empty, latin, tmp_path / "missing.txt"])
    assert usable == [good] and total == len("Alice\n")
    assert [s.split(": ")[1] for s in skipped] == ["empty file", "not valid utf8 (byte 6, line 2); pass its encoding with --encoding", "no such file"]
    usable, skipped, _ = check_inputs([latin], "latin-1")
    assert usable == [latin] and skipped == []
    with pytest.raises(InputError, match="Unknown encoding"):
        check_inputs([good], "no-such-codec")


def test_inputs_read_source(tmp_path):
    nlp = spacy.blank("en")
    assert read_source("Alice met Bob.", nlp, limit=5) == ["Alice met Bob."]
    jsonl = tmp_path / "docs.jsonl"
    jsonl.write_text('{"text": "One."}\n{not json\n{"text": "Two."}\n{"text": "Three."}\n', encoding="utf8")
    stats = InputStats()
    assert read_source(str(jsonl), nlp, limit=2, stats=stats) == ["One.", "Two."]
    assert stats.malformed.count == 1 and stats.malformed.first[0].startswith(f"{jsonl}:2: invalid JSON")
    spacy_file = tmp_path / "docs.spacy"
    DocBin(docs=[Doc(nlp.vocab, words=["Alice", "left"], spaces=[True, False])]).to_disk(spacy_file)
    (doc,) = read_source(str(spacy_file), nlp, limit=5)
    assert doc.text == "Alice left" and not doc.ents
    with pytest.raises(InputError, match="Can't find the file"):
        read_source(str(tmp_path / "missing.txt"), nlp, limit=5)
    (tmp_path / "empty.txt").write_bytes(b"")
    with pytest.raises(InputError, match="Can't use .*empty file"):
        read_source(str(tmp_path / "empty.txt"), nlp, limit=5)
    nlp.max_length = 3
    with pytest.raises(InputError, match="Can't visualize the text: text of 14 characters"):
        read_source("Alice met Bob.", nlp, limit=5)

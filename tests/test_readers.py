import json
import warnings
from collections import Counter

import pytest
from spacy.tokens import Doc
from spacy.vocab import Vocab

from spacy_window_ner.readers import (
    EXTENSIONS,
    MAX_PROBLEMS,
    ORIG_ID_KEY,
    READERS,
    SOURCE_KEY,
    ConversionStats,
    prodigy_split,
    read_conll04,
    read_docbin,
    read_prodigy,
    read_spacy,
    write_docbin,
)
from spacy_window_ner.relations import relation_tuples

CONLL04_GOOD = {
    "tokens": ["John", "Smith", "works", "for", "Acme", "in", "Boston", "."],
    "entities": [
        {"type": "Peop", "start": 0, "end": 2},
        {"type": "Org", "start": 4, "end": 5},
        {"type": "Loc", "start": 6, "end": 7},
    ],
    "relations": [
        {"type": "Work_For", "head": 0, "tail": 1},
        {"type": "OrgBased_In", "head": 1, "tail": 2},
    ],
    "orig_id": 3255,
}
CONLL04_BAD = {
    "tokens": ["Mary", "lives", "in", "Paris", "now", "."],
    "entities": [
        {"type": "Peop", "start": 0, "end": 1},
        {"type": "Loc", "start": 5, "end": 9},  # out of range
        {"type": "Org", "start": 0, "end": 2},  # overlaps entity 0
        {"type": "Loc", "start": 3, "end": 4},
    ],
    "relations": [
        {"type": "Live_In", "head": 0, "tail": 3},
        {"type": "Kill", "head": 0, "tail": 1},  # points at a skipped entity
        {"type": "Kill", "head": 3, "tail": 3},  # self-relation
        {"type": "Kill", "head": 0, "tail": 9},  # bad index
    ],
    "orig_id": 17,
}
CONLL04_NO_TOKENS = {"entities": [], "relations": [], "orig_id": 99}


def prodigy_tokens(words, spaces):
    tokens, start = [], 0
    for i, (word, space) in enumerate(zip(words, spaces)):
        end = start + len(word)
        tokens.append({"text": word, "start": start, "end": end, "id": i, "ws": space})
        start += len(word) + space
    return tokens


def prodigy_span(tokens, token_start, token_end, label="GGP", shift=0):
    start, end = tokens[token_start]["start"], tokens[token_end]["end"]
    return {
        "start": start + shift,
        "end": end + shift,
        "token_start": token_start,
        "token_end": token_end,
        "label": label,
    }


def prodigy_record(answer="accept"):
    words = ["TGF", "-", "beta", "activates", "Id1", "and", "Id2", "."]
    spaces = [False, False, True, True, True, True, False, False]
    tokens = prodigy_tokens(words, spaces)
    return {
        "text": "TGF-beta activates Id1 and Id2.",
        "tokens": tokens,
        "spans": [
            prodigy_span(tokens, 0, 2),  # multi-token; token_end is inclusive
            prodigy_span(tokens, 4, 4),
            prodigy_span(tokens, 6, 6, shift=1),  # characters don't match the tokens
        ],
        "relations": [
            {"head": 2, "child": 4, "label": "Pos-Reg"},
            {"head": 2, "child": 4, "label": "Pos-Reg"},  # duplicate, merged
            {"head": 4, "child": 2, "label": "No-rel"},
            {"head": 2, "child": 6, "label": "Binds"},  # points at the skipped span
        ],
        "meta": {"source": "BioNLP 2011 Genia Shared Task, PMID-8524234.txt"},
        "answer": answer,
    }


def write_json(path, data):
    path.write_text(json.dumps(data), encoding="utf8")
    return path


def write_jsonl(path, lines):
    path.write_text("\n".join(json.dumps(x) if isinstance(x, dict) else x for x in lines), "utf8")
    return path


def ents(doc):
    return [(e.start, e.end, e.label_) for e in doc.ents]


@pytest.fixture
def vocab():
    return Vocab()


@pytest.fixture
def no_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def test_readers_conll04_record(tmp_path, vocab, no_warnings):
    path = write_json(tmp_path / "train.json", [CONLL04_GOOD])
    docs, stats = read_conll04(path, vocab)
    assert len(docs) == 1
    doc = docs[0]
    assert [t.text for t in doc] == CONLL04_GOOD["tokens"]
    assert doc.text == "John Smith works for Acme in Boston ."
    assert doc[-1].whitespace_ == ""
    assert ents(doc) == [(0, 2, "Peop"), (4, 5, "Org"), (6, 7, "Loc")]
    # Tokens outside the entities are gold "O", not missing.
    assert [t.ent_iob_ for t in doc] == ["B", "I", "O", "O", "B", "O", "B", "O"]
    assert [t.is_sent_start for t in doc] == [True] + [False] * 7
    assert len(list(doc.sents)) == 1
    assert relation_tuples(doc) == {
        (0, 2, "Peop", 4, 5, "Org", "Work_For"),
        (4, 5, "Org", 6, 7, "Loc", "OrgBased_In"),
    }
    assert doc.user_data[ORIG_ID_KEY] == 3255
    assert (stats.docs, stats.entities, stats.relations) == (1, 3, 2)
    assert stats.skipped_records == stats.skipped_entities == stats.skipped_relations == 0


def test_readers_conll04_skips_bad_parts(tmp_path, vocab):
    path = write_json(tmp_path / "bad.json", [CONLL04_GOOD, CONLL04_BAD, CONLL04_NO_TOKENS])
    match = r"Skipped 1 bad record, 2 misaligned entities and 3 invalid relations in .*bad\.json"
    with pytest.warns(UserWarning, match=match) as record:
        docs, stats = read_conll04(path, vocab)
    assert len(record) == 1
    message = str(record[0].message)
    assert "record 2: missing key 'tokens'" in message
    assert "record 1, entity 1: tokens 5:9 are out of range for 6 tokens" in message
    assert "record 1, entity 2: tokens 0:2 overlap an earlier entity" in message
    assert "record 1, relation 1: entity 1 was skipped" in message
    assert "record 1, relation 2: self-relation" in message
    assert "record 1, relation 3: bad entity index 9" in message
    assert len(docs) == 2
    assert ents(docs[1]) == [(0, 1, "Peop"), (3, 4, "Loc")]
    assert relation_tuples(docs[1]) == {(0, 1, "Peop", 3, 4, "Loc", "Live_In")}
    assert (stats.docs, stats.entities, stats.relations) == (2, 5, 3)
    assert (stats.skipped_records, stats.skipped_entities, stats.skipped_relations) == (1, 2, 3)


@pytest.mark.parametrize(
    "record,reason",
    [
        ("not a record", "expected a JSON object, not str"),
        ({"tokens": "John Smith", "entities": [], "relations": []}, "'tokens' must be a list"),
        ({"tokens": ["John", ""], "entities": [], "relations": []}, "every token text must be"),
        ({"tokens": ["John"], "entities": []}, "missing key 'relations'"),
    ],
)
def test_readers_conll04_bad_record(tmp_path, vocab, record, reason):
    path = write_json(tmp_path / "bad.json", [CONLL04_GOOD, record])
    with pytest.warns(UserWarning, match="Skipped 1 bad record in") as warned:
        docs, stats = read_conll04(path, vocab)
    assert f"record 1: {reason}" in str(warned[0].message)
    assert len(docs) == 1 and stats.skipped_records == 1


@pytest.mark.parametrize(
    "text,match",
    [
        ("tokens,entities\nJohn,Peop\n", "is not valid JSON"),
        ('{"tokens": ["a"]}\n{"tokens": ["b"]}\n', "is not valid JSON"),
        ('{"tokens": ["a"], "entities": [], "relations": []}', "holds a JSON dict, not an array"),
        ("", "is not valid JSON"),
    ],
)
def test_readers_conll04_not_json(tmp_path, vocab, text, match):
    path = tmp_path / "data.json"
    path.write_text(text, encoding="utf8")
    with pytest.raises(ValueError, match=f"{match}.*Expected CoNLL04 in SpERT JSON"):
        read_conll04(path, vocab)


@pytest.mark.parametrize("reader", [read_conll04, read_prodigy])
def test_readers_missing_or_unreadable_file(tmp_path, vocab, reader):
    with pytest.raises(ValueError, match="Can't read .*missing.json"):
        reader(tmp_path / "missing.json", vocab)
    with pytest.raises(ValueError, match="Can't read"):
        reader(tmp_path, vocab)  # a directory
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(ValueError, match="Can't read .*binary.json"):
        reader(binary, vocab)


def test_readers_prodigy_record(tmp_path, vocab):
    path = write_jsonl(tmp_path / "a.jsonl", [prodigy_record()])
    with pytest.warns(UserWarning, match="Skipped 1 misaligned entity and 1 invalid relation in"):
        docs, stats = read_prodigy(path, vocab)
    (doc,) = docs
    assert doc.text == "TGF-beta activates Id1 and Id2."
    assert ents(doc) == [(0, 3, "GGP"), (4, 5, "GGP")]
    assert relation_tuples(doc) == {
        (0, 3, "GGP", 4, 5, "GGP", "Pos-Reg"),
        (4, 5, "GGP", 0, 3, "GGP", "No-rel"),
    }
    assert doc.user_data[SOURCE_KEY] == "BioNLP 2011 Genia Shared Task, PMID-8524234.txt"
    # Prodigy records may hold several sentences: no boundaries are invented.
    assert not doc.has_annotation("SENT_START")
    assert (stats.docs, stats.entities, stats.relations) == (1, 2, 2)
    assert (stats.skipped_entities, stats.skipped_relations, stats.merged_relations) == (1, 1, 1)


def test_readers_prodigy_skips_bad_lines(tmp_path, vocab):
    no_tokens = prodigy_record()
    del no_tokens["tokens"]
    rejected = prodigy_record(answer="reject")
    lines = [prodigy_record(), "{not json", "", rejected, no_tokens, "[1, 2]"]
    path = write_jsonl(tmp_path / "b.jsonl", lines)
    match = r"Skipped 3 bad records, 1 misaligned entity and 1 invalid relation in .*b\.jsonl"
    with pytest.warns(UserWarning, match=match) as warned:
        docs, stats = read_prodigy(path, vocab)
    assert len(warned) == 1
    message = str(warned[0].message)
    assert "line 2: invalid JSON" in message
    assert "line 5: missing key 'tokens'" in message
    assert "line 6: expected a JSON object, not list" in message
    assert "line 1, span 2: characters 28:31 don't match tokens 6:7" in message
    assert "line 1, relation 3: no kept span ends at token 6" in message
    assert len(docs) == 1
    assert (stats.skipped_records, stats.rejected_records) == (3, 1)


def test_readers_prodigy_label_map_and_ignore_labels(tmp_path, vocab, no_warnings):
    record = prodigy_record()
    record["spans"], record["relations"] = record["spans"][:2], record["relations"][:3]
    path = write_jsonl(tmp_path / "c.jsonl", [record])
    docs, stats = read_prodigy(
        path, vocab, label_map={"Pos-Reg": "Regulates", "No-rel": "NONE"}, ignore_labels={"NONE"}
    )
    assert relation_tuples(docs[0]) == {(0, 3, "GGP", 4, 5, "GGP", "Regulates")}
    assert (stats.relations, stats.ignored_relations, stats.merged_relations) == (1, 1, 1)
    docs, _ = read_prodigy(path, vocab)
    assert {key[-1] for key in relation_tuples(docs[0])} == {"Pos-Reg", "No-rel"}


@pytest.mark.parametrize(
    "text,match",
    [
        ("text,label\nfoo,bar\n", "No line of .* is valid JSON"),
        ("[\n  {\n", "No line of .* is valid JSON"),
        ("\n  \n", "is empty"),
    ],
)
def test_readers_prodigy_not_jsonl(tmp_path, vocab, text, match):
    path = tmp_path / "data.jsonl"
    path.write_text(text, encoding="utf8")
    with pytest.raises(ValueError, match=f"{match}.*Expected Prodigy JSONL"):
        read_prodigy(path, vocab)


@pytest.mark.parametrize(
    "source,split",
    [
        ("BioNLP 2011 Genia Shared Task, PMC-1134658-00-TIAB.txt", "train"),
        ("BioNLP 2011 Genia Shared Task, PMC-2222964-08-Discussion.txt", "dev"),
        ("BioNLP 2011 Genia Shared Task, PMID-8524233.txt", "test"),
        ("BioNLP 2011 Genia Shared Task, PMID-8524234.txt", "dev"),
        ("PMID-10", "train"),
    ],
)
def test_readers_prodigy_split(vocab, source, split):
    doc = Doc(vocab, words=["a"])
    doc.user_data[SOURCE_KEY] = source
    assert prodigy_split(doc) == split


@pytest.mark.parametrize("source", [None, "some-file-4.txt", 1234])
def test_readers_prodigy_split_needs_source(vocab, source):
    doc = Doc(vocab, words=["a"])
    if source is not None:
        doc.user_data[SOURCE_KEY] = source
    with pytest.raises(ValueError, match="Can't find a PMID or PMCID"):
        prodigy_split(doc)


def test_readers_docbin_roundtrip(tmp_path, vocab):
    docs, _ = read_conll04(write_json(tmp_path / "t.json", [CONLL04_GOOD, CONLL04_GOOD]), vocab)
    path = tmp_path / "new" / "dir" / "train.spacy"
    assert write_docbin(docs, path) == 2
    loaded = read_docbin(path, Vocab())
    assert len(loaded) == 2
    for doc, new_doc in zip(docs, loaded):
        assert new_doc.text == doc.text
        assert ents(new_doc) == ents(doc)
        assert [t.is_sent_start for t in new_doc] == [t.is_sent_start for t in doc]
        assert relation_tuples(new_doc) == relation_tuples(doc)
        assert new_doc.user_data[ORIG_ID_KEY] == 3255


def test_readers_read_docbin_missing(tmp_path, vocab):
    with pytest.raises(ValueError, match="Can't find .*nope.spacy"):
        read_docbin(tmp_path / "nope.spacy", vocab)


def test_readers_registry():
    assert READERS == {"conll04": read_conll04, "prodigy": read_prodigy, "spacy": read_spacy}
    assert EXTENSIONS == {"conll04": "json", "prodigy": "jsonl", "spacy": "spacy"}


def test_readers_spacy_passes_a_docbin_through_with_its_counts(tmp_path, vocab):
    docs, _ = read_conll04(write_json(tmp_path / "t.json", [CONLL04_GOOD, CONLL04_GOOD]), vocab)
    write_docbin(docs, tmp_path / "t.spacy")
    loaded, stats = read_spacy(tmp_path / "t.spacy", Vocab())
    assert [relation_tuples(doc) for doc in loaded] == [relation_tuples(doc) for doc in docs]
    assert (stats.docs, stats.entities, stats.relations) == (2, sum(len(d.ents) for d in docs), sum(len(relation_tuples(d)) for d in docs))
    assert stats.relations > 0 and stats.problems.count == 0
    (tmp_path / "text.spacy").write_text("not a DocBin")
    with pytest.raises(ValueError, match="DocBin"):
        read_spacy(tmp_path / "text.spacy", vocab)


def test_readers_stats_warn(no_warnings):
    ConversionStats(path="x", docs=3, entities=4, relations=5, merged_relations=2).warn()
    stats = ConversionStats(path="x.json")
    for i in range(MAX_PROBLEMS + 3):
        stats.skip("entities", f"record {i}", "broken")
    with pytest.warns(UserWarning) as warned:
        stats.warn()
    assert len(warned) == 1
    message = str(warned[0].message)
    assert message.startswith(f"Skipped {MAX_PROBLEMS + 3} misaligned entities in x.json")
    assert f"record {MAX_PROBLEMS - 1}: broken; and 3 more" in message
    assert f"record {MAX_PROBLEMS}:" not in message


# The shared benchmark data (see ../shared/data/README.md); never copied into the repo.

CONLL04_COUNTS = {
    "train": (922, 3377, 1283, {"Loc": 1219, "Org": 616, "Peop": 1087, "Other": 455}),
    "dev": (231, 893, 343, {"Loc": 322, "Org": 170, "Peop": 283, "Other": 118}),
    "test": (288, 1079, 422, {"Loc": 427, "Org": 198, "Peop": 321, "Other": 133}),
}


@pytest.fixture
def shared_file(data_dir):
    """shared_file(*parts) is the path of a file below data_dir; the test is skipped if it's missing."""

    def find(*parts):
        path = data_dir.joinpath(*parts)
        if not path.is_file():
            pytest.skip(f"{path} not found: set SPACY_WINDOW_NER_DATA to the shared data directory")
        return path

    return find


@pytest.mark.parametrize("split", list(CONLL04_COUNTS))
def test_readers_conll04_shared_data(vocab, no_warnings, shared_file, split):
    n_docs, n_ents, n_rels, labels = CONLL04_COUNTS[split]
    docs, stats = read_conll04(shared_file("conll04", f"conll04_{split}.json"), vocab)
    assert (stats.docs, stats.entities, stats.relations) == (n_docs, n_ents, n_rels)
    assert (len(docs), sum(len(doc.ents) for doc in docs)) == (n_docs, n_ents)
    assert sum(len(relation_tuples(doc)) for doc in docs) == n_rels
    assert Counter(e.label_ for doc in docs for e in doc.ents) == labels
    assert stats.skipped_records == stats.skipped_entities == stats.skipped_relations == 0
    assert len({doc.user_data[ORIG_ID_KEY] for doc in docs}) == n_docs


def test_readers_prodigy_shared_data(vocab, no_warnings, shared_file):
    docs, stats = read_prodigy(shared_file("rel_component", "annotations.jsonl"), vocab)
    assert (stats.docs, stats.entities) == (149, 466)
    # 267 relations in the file; 4 repeat an identical (head, child, label) in the same record
    # (3 Binds, 1 Pos-Reg) and are merged, so 263 are stored.
    assert (stats.relations, stats.merged_relations) == (263, 4)
    assert stats.skipped_records == stats.skipped_entities == stats.skipped_relations == 0
    labels = Counter(key[-1] for doc in docs for key in relation_tuples(doc))
    assert labels == {"Pos-Reg": 106, "Reg": 49, "Neg-Reg": 42, "No-rel": 34, "Binds": 32}
    assert {e.label_ for doc in docs for e in doc.ents} == {"GGP"}
    splits = Counter(prodigy_split(doc) for doc in docs)
    assert splits == {"train": 102, "dev": 27, "test": 20}
    spans = Counter()
    for doc in docs:
        spans[prodigy_split(doc)] += len(doc.ents)
    assert spans == {"train": 319, "dev": 91, "test": 56}

"""kb build --annotated (kb/annotated.py): .spacy docs stored with the entities and relations
they carry, without a pipeline; their identities (doc.user_data["id"], else PATH:INDEX from 0),
reruns and replaced annotations, and bad input (files that are not DocBins, docs without
entity annotation, bad ids, pipeline options)."""
import json
import shutil
import zlib
from pathlib import Path
from typing import Any, Dict, List

import numpy
import pytest
import spacy
import srsly
from spacy.tokens import DocBin, Span

from spacy_window_ner import kb
from spacy_window_ner.readers import read_conll04, write_docbin
from spacy_window_ner.relations import Relation, set_relations

from .util import failed, invoke, make_kb_nlp

ASSETS = Path(__file__).resolve().parent.parent / "assets" / "sample"
TEXTS = ["Alice met Bob in Paris.", "Bob works for Acme in Boston. Alice too.", "Nothing here.", "Acme hired Bob."]


def save(docs, path: Path, user_data: bool = True) -> Path:
    DocBin(store_user_data=user_data, docs=docs).to_disk(path)
    return path


def mentions_by_entity(db: Path) -> Dict[Any, List[tuple]]:
    """Per (name, label): its mentions (text, confidence, sentence) and relations, sorted."""
    found = {}
    for node in kb.read_graph(db)[0]:
        for entity in kb.query_entity(db, node["name"], label=node["label"]):
            found[entity["name"], entity["label"]] = (
                sorted((m["text"], m["confidence"], m["sentence"]) for m in entity["mentions"]),
                sorted((r["direction"], r["label"], r["other"], r["confidence"]) for r in entity["relations"]),
            )
    return found


def test_kb_annotated_stores_what_the_pipeline_build_stores(tmp_path):
    nlp = make_kb_nlp()
    docs = list(nlp.pipe(TEXTS))
    annotated = save(docs, tmp_path / "docs.spacy")
    texts = tmp_path / "docs.jsonl"
    texts.write_text("".join(json.dumps({"text": t}) + "\n" for t in TEXTS), encoding="utf8")
    stats = kb.build_annotated([annotated], tmp_path / "annotated.sqlite", batch_size=3)
    from_pipeline = kb.build_kb(nlp, [texts], tmp_path / "pipeline.sqlite")
    assert (stats.docs_read, stats.docs_added, stats.mentions, stats.relations) == (4, 4, 9, 6)
    assert (stats.mentions, stats.relations) == (from_pipeline.mentions, from_pipeline.relations)
    assert stats.words == sum(len(doc) for doc in docs)
    assert kb.read_graph(tmp_path / "annotated.sqlite") == kb.read_graph(tmp_path / "pipeline.sqlite")
    assert mentions_by_entity(tmp_path / "annotated.sqlite") == mentions_by_entity(tmp_path / "pipeline.sqlite")


def test_kb_annotated_identity_is_the_id_else_path_and_index(tmp_path):
    docs = list(make_kb_nlp().pipe(TEXTS))
    docs[1].user_data["id"] = "doc-b"
    docs[3].user_data["id"] = 7
    path = save(docs, tmp_path / "a.spacy")
    db = tmp_path / "kb.sqlite"
    kb.build_annotated([path], db)
    (bob,) = kb.query_entity(db, "Bob")
    places = sorted((m["source"], m["line"], m["doc_id"]) for m in bob["mentions"])
    assert places == [(str(path), 0, None), (str(path), 1, "doc-b"), (str(path), 3, "7")]
    # An id is the document wherever it is: moved to another file, it is known, not added.
    moved = save([docs[1]], tmp_path / "b.spacy")
    stats = kb.build_annotated([moved], db)
    assert (stats.docs_existing, stats.docs_added) == (1, 0)
    (bob,) = kb.query_entity(db, "Bob")
    assert (str(moved), 0, "doc-b") in [(m["source"], m["line"], m["doc_id"]) for m in bob["mentions"]]


def test_kb_annotated_rerun_adds_nothing_and_a_new_annotation_replaces(tmp_path):
    nlp = make_kb_nlp()
    docs = list(nlp.pipe(TEXTS))
    path = save(docs, tmp_path / "a.spacy")
    db = tmp_path / "kb.sqlite"
    kb.build_annotated([path], db)
    again = kb.build_annotated([path], db)
    assert (again.docs_read, again.docs_existing, again.docs_added, again.mentions) == (4, 4, 0, 0)
    # Same texts, one entity less in the first doc (its relations gone with it): that doc is replaced.
    first = docs[0]
    first.ents = [ent for ent in first.ents if ent.text != "Paris"]
    set_relations(first, [Relation(*first.ents, "KNOWS", 1.0)])
    stats = kb.build_annotated([save(docs, path)], db)
    assert (stats.docs_existing, stats.docs_added, stats.docs_replaced, stats.mentions, stats.relations) == (3, 1, 1, 2, 1)
    assert kb.query_entity(db, "Paris") == []  # its only mention is gone, and with it the entity
    (alice,) = kb.query_entity(db, "Alice")
    assert ("out", "KNOWS", "Bob", 1.0) in [(r["direction"], r["label"], r["other"], r["confidence"]) for r in alice["relations"]]


def test_kb_annotated_gold_conll04_keeps_every_entity_and_relation(tmp_path):
    vocab = spacy.blank("en").vocab
    docs, converted = read_conll04(ASSETS / "sample_train.json", vocab)
    path = tmp_path / "train.spacy"
    write_docbin(docs, path)
    stats = kb.build_annotated([path], tmp_path / "kb.sqlite")
    assert stats.docs_added == converted.docs == len(docs)
    assert (stats.mentions, stats.relations) == (converted.entities, converted.relations)
    nodes, edges = kb.read_graph(tmp_path / "kb.sqlite")
    assert sum(node["mention_count"] for node in nodes) == converted.entities
    assert sum(edge["count"] for edge in edges) == converted.relations
    assert {edge["max_confidence"] for edge in edges} == {1.0}  # gold relations
    entity = kb.query_entity(tmp_path / "kb.sqlite", nodes[0]["name"], label=nodes[0]["label"])[0]
    assert {mention["confidence"] for mention in entity["mentions"]} == {None}  # gold entities: no confidence


def test_kb_annotated_skips_bad_files_and_docs_with_their_place(tmp_path):
    nlp = make_kb_nlp()
    docs = list(nlp.pipe(TEXTS[:2]))
    raw = nlp.make_doc("Alice and Bob, never annotated.")
    bad_id = nlp("Bob in Boston.")
    bad_id.user_data["id"] = 1.5
    empty_id = nlp("Bob in Paris.")
    empty_id.user_data["id"] = " "
    nul = nlp("Alice in Paris.")
    nul.user_data["id"] = "a\x00b"
    good = save([docs[0], raw, bad_id, empty_id, nul, docs[1]], tmp_path / "mixed.spacy")
    text = tmp_path / "text.spacy"
    text.write_text("Alice met Bob.\n", encoding="utf8")
    truncated = tmp_path / "truncated.spacy"
    truncated.write_bytes(good.read_bytes()[:40])
    stats = kb.build_annotated([good, text, truncated], tmp_path / "kb.sqlite")
    assert (stats.docs_added, stats.files) == (2, 1)
    assert [line.split(":")[0] for line in stats.skipped_files] == [str(text), str(truncated)]
    assert all("not a .spacy file (a DocBin" in line for line in stats.skipped_files)
    assert stats.malformed.count == 4
    first = stats.malformed.first
    assert first[0].startswith(f"{good}:1: the doc carries no entity annotation")
    assert first[1] == f'{good}:2: doc.user_data["id"] is a float, not a string or an integer'
    assert first[2] == f'{good}:3: doc.user_data["id"] is empty'
    assert first[3].startswith(f'{good}:4: doc.user_data["id"] holds a NUL character')


def test_kb_annotated_docs_without_entities_are_stored_and_nothing_usable_leaves_no_database(tmp_path):
    nlp = spacy.blank("en")
    doc = nlp("No entities in this one.")
    doc.ents = []  # annotated: no entities
    db = tmp_path / "kb.sqlite"
    stats = kb.build_annotated([save([doc], tmp_path / "none.spacy")], db)
    assert (stats.docs_added, stats.mentions) == (1, 0)
    stats = kb.build_annotated([save([nlp("Never annotated.")], tmp_path / "raw.spacy")], tmp_path / "other.sqlite")
    assert (stats.docs_added, stats.malformed.count) == (0, 1)
    assert not (tmp_path / "other.sqlite").exists()


def test_kb_annotated_relation_that_no_longer_fits_is_reported(tmp_path):
    nlp = make_kb_nlp(relations=False)
    doc = nlp("Alice met Bob in Paris.")
    set_relations(doc, [Relation(doc.ents[0], doc.ents[1], "KNOWS", 1.0)])
    with doc.retokenize() as retokenizer:  # "Alice met" becomes one token: the head no longer fits
        retokenizer.merge(doc[0:2])
    doc.ents = [Span(doc, 1, 2, label="PER")]
    stats = kb.build_annotated([save([doc], tmp_path / "a.spacy")], tmp_path / "kb.sqlite")
    assert (stats.docs_added, stats.mentions, stats.relations) == (1, 1, 0)
    assert stats.malformed.count == 1 and "Dropped the relation 'Alice' -KNOWS-> 'Bob'" in stats.malformed.first[0]


def test_kb_annotated_cli(tmp_path):
    docs = list(make_kb_nlp().pipe(TEXTS))
    first, second = save(docs[:2], tmp_path / "a.spacy"), save(docs[2:], tmp_path / "b.spacy")
    db = tmp_path / "kb.sqlite"
    result = invoke("kb", "build", "--annotated", first, second, "--db", db, "--batch-size", "1")
    output = " ".join(result.output.split())
    assert "read 4 documents from 2 files; added 4 (9 mentions, 6 relations" in output
    assert "resolved 9 mentions" in output
    (acme,) = json.loads(invoke("kb", "query", db, "Acme", "--json").output)
    assert sorted((m["source"], m["line"]) for m in acme["mentions"]) == [(str(first), 1), (str(second), 1)]
    result = invoke("kb", "build", "--annotated", first, second, "--db", db)
    assert "added 0 " in result.output and "skipped 4 already stored" in result.output
    unresolved = tmp_path / "unresolved.sqlite"
    result = invoke("kb", "build", "--annotated", first, "--db", unresolved, "--no-resolve")
    assert "added 2 " in result.output and "resolved 7 mentions" not in result.output
    output = tmp_path / "mentions.jsonl"
    result = invoke("kb", "export", unresolved, "--format", "mentions", "--output", output)
    assert "7 mentions are not resolved yet" in " ".join(result.output.split())
    assert {json.loads(line)["entity_id"] for line in output.read_text(encoding="utf8").splitlines()} == {None}


def test_kb_annotated_cli_bad_input(tmp_path):
    docs = list(make_kb_nlp().pipe(TEXTS))
    good = save(docs, tmp_path / "a.spacy")
    db = tmp_path / "kb.sqlite"
    text = tmp_path / "t.spacy"
    text.write_text("not a DocBin", encoding="utf8")
    message = failed("kb", "build", "--annotated", good, text, tmp_path / "missing.spacy", "--db", db)
    assert f"Skipped {tmp_path / 'missing.spacy'}: no such file" in message
    assert f"Skipped {text}: not a .spacy file (a DocBin" in message
    assert "Skipped 2 of 3 inputs" in message and "added 4 " in message
    raw = save([spacy.blank("en")("Raw text.")], tmp_path / "raw.spacy")
    message = failed("kb", "build", "--annotated", raw, "--db", tmp_path / "other.sqlite", "--strict")
    assert f"{raw}:0: the doc carries no entity annotation" in message and "No usable document" in message
    message = failed("kb", "build", "--annotated", good, raw, "--db", db, "--strict", code=3)
    assert "--strict: skipped 1 lines or documents" in message
    assert "Invalid value for --lines, --engine: only for a build with a pipeline" in failed(
        "kb", "build", "--annotated", good, "--db", db, "--lines", "--engine", "ray", code=2
    )
    assert "Invalid value for 'INPUTS...': name the files" in failed("kb", "build", "pipeline", "--db", db, code=2)
    assert "is the input" in failed("kb", "build", "--annotated", good, "--db", good)


def test_kb_annotated_one_id_in_two_files_keeps_the_first(tmp_path):
    nlp = make_kb_nlp()
    first, second = nlp("Alice met Bob."), nlp("Alice met Bob in Paris.")
    first.user_data["id"] = second.user_data["id"] = "x"
    a, b = save([first], tmp_path / "a.spacy"), save([second], tmp_path / "b.spacy")
    stats = kb.build_annotated([a, b], tmp_path / "kb.sqlite")
    assert (stats.docs_added, stats.malformed.count) == (1, 1)
    assert stats.malformed.first == [f"{b}:0: id 'x' was read before with another text ({a}:0); kept that one"]
    assert kb.query_entity(tmp_path / "kb.sqlite", "Paris") == []


def test_kb_annotated_doc_that_cannot_be_read_stops_its_file_only(tmp_path):
    """A DocBin whose strings lack a word of its second doc: the first doc and the other files
    are stored, the second doc and those after it reported."""
    nlp = spacy.blank("en")
    docs = [nlp("Alice met Bob."), nlp("Zyxw qrst."), nlp("Alice again."), nlp("Bob left.")]
    for doc in docs:
        doc.ents = []
    msg = srsly.msgpack_loads(zlib.decompress(DocBin(docs=docs[:3]).to_bytes()))
    msg["strings"] = [string for string in msg["strings"] if string != "Zyxw"]
    broken = tmp_path / "broken.spacy"
    broken.write_bytes(zlib.compress(srsly.msgpack_dumps(msg)))
    good = save(docs[3:], tmp_path / "good.spacy")
    stats = kb.build_annotated([broken, good], tmp_path / "kb.sqlite")
    assert (stats.docs_added, stats.files, stats.skipped_files) == (2, 2, [])
    (problem,) = stats.malformed.first
    assert problem.startswith(f"{broken}:1: can't read the doc (KeyError: ") and problem.endswith("skipped it and the 1 docs after it")


def test_kb_annotated_resolution_that_fails_keeps_the_documents(tmp_path):
    """The vectors pipeline the last resolution used is gone: the new docs are stored, and the
    error says they wait for kb resolve."""
    vectors = spacy.blank("en")
    vectors.vocab.set_vector("Alice", numpy.ones((4,), dtype="float32"))
    vectors.to_disk(tmp_path / "vectors")
    nlp = make_kb_nlp()
    db = tmp_path / "kb.sqlite"
    kb.build_annotated([save([nlp(TEXTS[0])], tmp_path / "a.spacy")], db)
    kb.resolve_database(db, vectors=str(tmp_path / "vectors"))
    shutil.rmtree(tmp_path / "vectors")
    with pytest.raises(kb.KBError, match="Stored 1 documents, but could not resolve their mentions: .* until `kb resolve` succeeds"):
        kb.build_annotated([save([nlp(TEXTS[1])], tmp_path / "b.spacy")], db)
    assert kb.pending(db)[0] == 4
    assert kb.resolve_database(db, vectors="").mentions >= 4
    assert kb.pending(db) == (0, 0)

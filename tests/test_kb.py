"""The SQLite knowledge base: rows, idempotence, resuming after a crash, concurrent builds,
malformed input, query and export."""
import csv
import json
import os
import pickle
import sqlite3
import subprocess
import threading
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import List

import pytest
import spacy
from spacy.language import Language

from spacy_window_ner import inputs, kb

from .util import CONFIDENCE, CRASH, EXPECTED_COUNTS, EXPECTED_MENTIONS, SENTINEL, WHOLE_TXT, WRONG_COUNTS_SQL
from .util import build_from_corpus as build, kb_counts as counts, kb_snapshot as snapshot, make_kb_nlp as make_nlp
from .util import remount


def test_kb_build_rows(corpus, tmp_path):
    db = tmp_path / "kb.sqlite"
    stats = build(make_nlp(), corpus, db, tmp_path, batch_size=2)
    assert counts(db) == EXPECTED_COUNTS
    assert stats.docs_added == EXPECTED_COUNTS["documents"]
    conn = kb.open_kb(db)
    mention_counts = dict(conn.execute("SELECT lower(name), mention_count FROM entities"))
    assert mention_counts == EXPECTED_MENTIONS
    # Every entity's count is its number of mention rows.
    assert conn.execute(
        "SELECT COUNT(*) FROM entities e WHERE mention_count != (SELECT COUNT(*) FROM mentions m WHERE m.entity_id = e.id)"
    ).fetchone()[0] == 0
    assert {row[0] for row in conn.execute("SELECT confidence FROM mentions")} == {CONFIDENCE}
    assert conn.execute("SELECT source, line FROM documents WHERE sha256 = ?", (inputs._record("", 0, "Bob lives in Paris.", 0).sha256,)).fetchone() == (str(corpus[0]), 2)
    # The sentence of a mention in a multi-sentence document, from the sentencizer.
    sentence, start, end = conn.execute(
        "SELECT m.sentence, m.sent_start_char, m.sent_end_char FROM mentions m JOIN documents d ON d.id = m.doc_id "
        "WHERE d.line IS NULL AND m.text = 'Bob'"
    ).fetchone()
    assert (sentence, WHOLE_TXT[start:end]) == ("Bob likes Acme.", "Bob likes Acme.")
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_kb_rerun_adds_nothing(corpus, tmp_path):
    db = tmp_path / "kb.sqlite"
    build(make_nlp(), corpus, db, tmp_path)
    before = snapshot(db)
    calls = []
    nlp = make_nlp()
    original = nlp.pipe

    def counting_pipe(texts, **kwargs):
        texts = list(texts)
        calls.extend(texts)
        return original(texts, **kwargs)

    nlp.pipe = counting_pipe
    stats = build(nlp, corpus, db, tmp_path)
    assert snapshot(db) == before
    assert stats.docs_added == 0 and stats.docs_existing == EXPECTED_COUNTS["documents"]
    assert calls == []  # stored documents never reach the pipeline


def test_kb_resume_after_crash(corpus, tmp_path, monkeypatch):
    texts = ["Alice met Bob.", "Bob saw Acme.", "Paris and Boston.", "Acme in Paris.", f"{SENTINEL} Alice.", "Bob in Boston."]
    source = tmp_path / "crash.txt"
    source.write_text("\n".join(texts) + "\n", encoding="utf8")
    db = tmp_path / "kb.sqlite"
    with pytest.raises(RuntimeError, match="sentinel"):
        kb.build_kb(make_nlp(), [source], db, lines=True, batch_size=2)
    # The two batches before the crash are stored whole; the crashed batch not at all.
    assert counts(db)["documents"] == 4
    conn = kb.open_kb(db)
    assert conn.execute("SELECT COUNT(*) FROM mentions").fetchone()[0] == 8
    assert sorted(r[0] for r in conn.execute("SELECT line FROM documents")) == [1, 2, 3, 4]
    conn.close()
    monkeypatch.setitem(CRASH, "on", False)
    stats = kb.build_kb(make_nlp(), [source], db, lines=True, batch_size=2)
    assert (stats.docs_existing, stats.docs_added) == (4, 2)
    clean = tmp_path / "clean.sqlite"
    kb.build_kb(make_nlp(), [source], clean, lines=True, batch_size=2)
    assert snapshot(db) == snapshot(clean)


def test_kb_concurrent_builds(corpus, tmp_path):
    db = tmp_path / "kb.sqlite"
    errors = []

    def run() -> None:
        try:
            kb.build_kb(make_nlp(), corpus, db, lines=True, batch_size=1)
        except Exception as err:  # reported below
            errors.append(err)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    alone = tmp_path / "alone.sqlite"
    kb.build_kb(make_nlp(), corpus, alone, lines=True)
    assert snapshot(db) == snapshot(alone)


def test_kb_n_process_2_same_rows(corpus, tmp_path):
    one, two = tmp_path / "one.sqlite", tmp_path / "two.sqlite"
    kb.build_kb(make_nlp(), corpus, one, lines=True, batch_size=2)
    kb.build_kb(make_nlp(), corpus, two, lines=True, batch_size=2, n_process=2)
    assert snapshot(one) == snapshot(two)


def test_kb_malformed_lines_reported_and_skipped(corpus, tmp_path):
    stats = kb.build_kb(make_nlp(), corpus, tmp_path / "kb.sqlite", lines=True)
    assert stats.malformed.count == 3
    assert [p.split(": ")[0] for p in stats.malformed.first] == [f"{corpus[1]}:{n}" for n in (2, 3, 4)]
    assert "invalid JSON" in stats.malformed.first[0] and '"text"' in stats.malformed.first[1]
    assert stats.docs_added == 5


def test_kb_without_relations_component(corpus, tmp_path):
    db = tmp_path / "kb.sqlite"
    kb.build_kb(make_nlp(relations=False), corpus, db, lines=True)
    conn = kb.open_kb(db)
    assert conn.execute("SELECT COUNT(*) FROM relations").fetchone()[0] == 0
    assert conn.execute("SELECT COUNT(*) FROM mentions WHERE confidence IS NULL").fetchone()[0] == 12
    conn.close()


def test_kb_pipeline_without_ents(corpus, tmp_path):
    with pytest.raises(kb.KBError, match="doc.ents"):
        kb.build_kb(spacy.blank("en"), corpus, tmp_path / "kb.sqlite")


def test_kb_not_sqlite(tmp_path):
    path = tmp_path / "fake.sqlite"
    path.write_text("this is not a database, just some text that is long enough " * 20, encoding="utf8")
    for create in (False, True):
        with pytest.raises(kb.KBError, match="not a SQLite database"):
            kb.open_kb(path, create=create)
    other = tmp_path / "other.sqlite"
    conn = sqlite3.connect(str(other))
    conn.execute("CREATE TABLE t (x)")
    conn.close()
    with pytest.raises(kb.KBError, match="not a spacy-window-ner knowledge base"):
        kb.open_kb(other, create=True)
    with pytest.raises(kb.KBError, match="Can't find"):
        kb.open_kb(tmp_path / "missing.sqlite")


def test_kb_query_and_export_round_trip(corpus, tmp_path):
    db = tmp_path / "kb.sqlite"
    build(make_nlp(), corpus, db, tmp_path)
    (alice,) = kb.query_entity(db, "  ALICE ")
    assert (alice["name"], alice["label"], alice["mention_count"]) == ("Alice", "PER", 3)
    assert len(alice["mentions"]) == 3
    assert {(m["source"], m["line"]) for m in alice["mentions"]} == {(str(corpus[0]), 1), (str(corpus[0]), 4), (str(corpus[1]), 5)}
    relations = {(r["direction"], r["other"], r["label"]) for r in alice["relations"]}
    assert relations == {("out", "Acme", "NEXT"), ("out", "Paris", "NEXT"), ("in", "Bob", "NEXT"), ("out", "Boston", "NEXT")}
    assert kb.query_entity(db, "Alice", label="LOC") == []
    nodes, edges = kb.read_graph(db)
    assert sum(e["count"] for e in edges) == EXPECTED_COUNTS["relations"]
    names = {n["id"]: n["name"] for n in nodes}
    for fmt in kb.EXPORT_FORMATS:
        out = tmp_path / "export" / f"graph.{fmt}"
        assert kb.export_graph(db, out, fmt) == (len(nodes), len(edges))
        if fmt == "jsonl":
            rows = [json.loads(line) for line in out.read_text(encoding="utf8").splitlines()]
            assert [r for r in rows if r.pop("type") == "node"] == nodes
            assert rows[len(nodes):] == edges
        elif fmt == "csv":
            with (out / "nodes.csv").open(encoding="utf8") as f:
                assert [r["name"] for r in csv.DictReader(f)] == [n["name"] for n in nodes]
            with (out / "edges.csv").open(encoding="utf8") as f:
                read = [(int(r["source"]), int(r["target"]), r["label"], int(r["count"])) for r in csv.DictReader(f)]
            assert read == [(e["source"], e["target"], e["label"], e["count"]) for e in edges]
        else:
            ns = {"g": "http://graphml.graphdrawing.org/xmlns"}
            graph = ET.parse(out).getroot().find("g:graph", ns)
            xml_nodes = {n.get("id"): n.find("g:data[@key='name']", ns).text for n in graph.findall("g:node", ns)}
            assert xml_nodes == {f"n{i}": name for i, name in names.items()}
            xml_edges = [(e.get("source"), e.get("target")) for e in graph.findall("g:edge", ns)]
            assert xml_edges == [(f"n{e['source']}", f"n{e['target']}") for e in edges]


# ------------------------------------------------------------------ hostile input and faults (issue 15)


def counting(nlp: Language) -> List[str]:
    """Record every text nlp.pipe receives."""
    calls: List[str] = []
    original = nlp.pipe

    def counting_pipe(texts, **kwargs):
        def seen():
            for item in texts:
                text = item[0] if isinstance(item, tuple) else item
                if isinstance(text, str):  # with as_tuples, spaCy calls pipe again on the docs
                    calls.append(text)
                yield item

        return original(seen(), **kwargs)

    nlp.pipe = counting_pipe
    return calls


def real_counts_match(db: Path) -> bool:
    """Every entity's mention_count is its number of mention rows, and none is 0."""
    conn = sqlite3.connect(str(db))
    try:
        wrong = conn.execute(WRONG_COUNTS_SQL).fetchone()[0]
        return wrong == 0 and conn.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        conn.close()


def write_jsonl(path: Path, records: List[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf8")
    return path


def test_kb_bad_documents_skipped_and_reported(tmp_path):
    """A text longer than nlp.max_length (spaCy's E088) and a lone surrogate are reported like
    malformed lines and skipped before the pipeline; the documents of their batch are kept."""
    texts = [f"Alice met Bob {i}." for i in range(10)]
    records: List[dict] = [{"text": t} for t in texts]
    records[2] = {"text": "Acme " * 20}  # 100 characters, over max_length 50
    records[5] = {"text": "Bob in Paris \ud800."}  # json.dumps writes the lone surrogate as \ud800
    source = write_jsonl(tmp_path / "bad.jsonl", records)
    assert "\\ud800" in source.read_text(encoding="utf8")
    nlp = make_nlp()
    nlp.max_length = 50
    calls = counting(nlp)
    db = tmp_path / "kb.sqlite"
    stats = kb.build_kb(nlp, [source], db, batch_size=4)
    assert (stats.docs_added, stats.malformed.count, stats.docs_read) == (8, 2, 8)
    assert stats.malformed.first[0].startswith(f"{source}:3: text of 100 characters is longer than the pipeline's max_length (50)")
    assert stats.malformed.first[1].startswith(f"{source}:6: text holds a lone surrogate '\\ud800'")
    assert len(calls) == 8 and all(len(t) <= 50 and "\ud800" not in t for t in calls)
    # --max-length lets the long text through, for this build only.
    stats = kb.build_kb(nlp, [source], db, max_length=200)
    assert (stats.docs_added, stats.docs_existing, stats.malformed.count) == (1, 8, 1)
    assert nlp.max_length == 50
    # A whole-file document that is too long is reported by its path.
    whole = tmp_path / "long.txt"
    whole.write_text("Paris " * 20, encoding="utf8")
    stats = kb.build_kb(nlp, [whole], db)
    assert stats.malformed.first == [f"{whole}: text of 120 characters is longer than the pipeline's max_length (50); "
                              "split it, or raise the limit knowingly (`kb build --max-length`): spaCy's parser "
                              "and NER need about 1 GB of memory per 100,000 characters"]


def test_kb_identity_update_replaces_old_version(tmp_path):
    """Editing a line (by position) and a record (by id) replaces their old versions with
    their mentions, relations and counts: the database equals a clean build of the new input,
    and only the changed texts go through the pipeline."""
    folder = tmp_path / "in"
    folder.mkdir()
    lines = folder / "a.txt"
    lines.write_text("Alice works for Acme.\nBob lives in Paris.\nAlice visited Boston.\n", encoding="utf8")
    records = [{"id": "r1", "text": "Acme hired Bob."}, {"id": 7, "text": "Bob met Alice in Boston."}]
    jsonl = write_jsonl(folder / "b.jsonl", records)
    db = tmp_path / "kb.sqlite"
    kb.build_kb(make_nlp(), [lines, jsonl], db, lines=True)
    assert counts(db)["documents"] == 5
    lines.write_text("Alice works for Acme.\nBob lives in Paris with Alice.\nAlice visited Boston.\n", encoding="utf8")
    # The id 7 record moves to line 1 with a new text; "r1" moves to line 2, text unchanged.
    records = [{"id": "7", "text": "Paris and Boston."}, {"id": "r1", "text": "Acme hired Bob."}]
    write_jsonl(jsonl, records)
    nlp = make_nlp()
    calls = counting(nlp)
    stats = kb.build_kb(nlp, [lines, jsonl], db, lines=True, batch_size=1)
    assert calls == ["Bob lives in Paris with Alice.", "Paris and Boston."]
    assert (stats.docs_added, stats.docs_replaced, stats.docs_existing) == (2, 2, 3)
    assert real_counts_match(db)
    clean = tmp_path / "clean.sqlite"
    kb.build_kb(make_nlp(), [lines, jsonl], clean, lines=True)
    assert snapshot(db) == snapshot(clean)
    conn = sqlite3.connect(str(db))
    assert conn.execute("SELECT COUNT(*) FROM aliases WHERE norm = 'acme'").fetchone()[0] == 1
    assert conn.execute("SELECT doc_id, line FROM documents WHERE doc_id IS NOT NULL ORDER BY doc_id").fetchall() == [("7", 1), ("r1", 2)]
    conn.close()
    # A rerun on unchanged input adds nothing and runs nothing through the pipeline.
    calls.clear()
    stats = kb.build_kb(nlp, [lines, jsonl], db, lines=True)
    assert calls == [] and stats.docs_added == 0 and stats.docs_existing == 5


def test_kb_identity_same_text_two_documents(tmp_path):
    source = tmp_path / "same.txt"
    source.write_text("Alice met Bob.\nAlice met Bob.\n", encoding="utf8")
    db = tmp_path / "kb.sqlite"
    stats = kb.build_kb(make_nlp(), [source], db, lines=True)
    assert stats.docs_added == 2 and counts(db)["mentions"] == 4
    # The same id read twice with two texts: the first is kept, the second reported.
    jsonl = write_jsonl(tmp_path / "dup.jsonl", [{"id": 1, "text": "Alice."}, {"id": "1", "text": "Bob."}, {"id": 1.5, "text": "Bob."}])
    stats = kb.build_kb(make_nlp(), [jsonl], db)
    assert stats.docs_added == 1
    assert stats.malformed.first == [
        f"{jsonl}:2: id '1' was read before with another text ({jsonl}:1); kept that one",
        f'{jsonl}:3: "id" is a float, not a string or an integer',
    ]


def test_kb_remove_documents(corpus, tmp_path):
    db = tmp_path / "kb.sqlite"
    ids = write_jsonl(tmp_path / "ids.jsonl", [{"id": "x", "text": "Acme in Paris."}, {"id": 3, "text": "Bob."}])
    kb.build_kb(make_nlp(), [*corpus, ids], db, lines=True)
    removed = kb.remove_documents(db, sources=corpus, ids=["3", "nope"])
    assert removed.documents == [
        (str(corpus[0]), 1, None), (str(corpus[0]), 2, None), (str(corpus[0]), 4, None),
        (str(corpus[1]), 1, None), (str(corpus[1]), 5, None), (str(ids), 2, "3"),
    ]
    # Alice, Bob and Boston have no mention left; Acme and Paris keep the one of "x".
    assert (removed.mentions, removed.relations, removed.entities, removed.unmatched) == (13, 7, 3, ["id 'nope'"])
    assert real_counts_match(db)
    assert kb.query_entity(db, "Boston") == []
    clean = tmp_path / "clean.sqlite"
    kb.build_kb(make_nlp(), [ids], clean)
    kb.remove_documents(clean, ids=[3])
    assert snapshot(db) == snapshot(clean)
    with pytest.raises(kb.KBError, match="Nothing to remove"):
        kb.remove_documents(db)


def test_kb_schema_version_1_refused(tmp_path):
    db = tmp_path / "old.sqlite"
    conn = sqlite3.connect(str(db))
    conn.executescript(kb.SCHEMA)
    conn.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    conn.commit()
    conn.close()
    for create in (False, True):
        with pytest.raises(kb.KBError, match="schema version 1.*Rebuild it"):
            kb.open_kb(db, create=create)


def test_kb_other_database_unchanged_when_refused(tmp_path):
    other = tmp_path / "other_app.sqlite"
    conn = sqlite3.connect(str(other))
    conn.execute("CREATE TABLE t (x)")
    conn.execute("INSERT INTO t VALUES (1)")
    conn.commit()
    conn.close()
    before = other.read_bytes()
    with pytest.raises(kb.KBError, match="not a spacy-window-ner knowledge base"):
        kb.build_kb(make_nlp(), [], other)
    assert other.read_bytes() == before
    conn = sqlite3.connect(str(other))
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    conn.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other_app.sqlite"]


def test_kb_doc_rows_are_plain_picklable_values():
    """What a worker extracts from a doc crosses a process boundary (nlp.pipe workers, an
    engine's actors) by pickling: it must be plain data, equal after the round trip."""
    doc = make_nlp()("Alice met Bob in Paris.")
    rows = kb.doc_rows(doc)
    assert pickle.loads(pickle.dumps(rows)) == rows
    assert (rows["n_chars"], rows["n_tokens"]) == (len(doc.text), len(doc))
    assert [m["text"] for m in rows["mentions"].values()] == ["Alice", "Bob", "Paris"]
    assert [(h[2], t[2], label) for h, t, label, _ in rows["relations"]] == [("PER", "PER", "NEXT"), ("PER", "LOC", "NEXT")]


def test_kb_doc_rows_from_the_record_text():
    """The record's text saves building Doc.text and gives the same rows; a text that is not
    the doc's (another length) is not used."""
    nlp = make_nlp()
    for text in ("Alice met Bob in Paris. Then Bob left Acme.", "Alice  met\nBob in Paris"):
        doc = nlp(text)
        assert kb.doc_rows(doc, text) == kb.doc_rows(doc)
        assert kb.doc_rows(doc, text + " more") == kb.doc_rows(doc)
    doc = spacy.blank("en")("word " * 40 + "Alice and Bob")  # no sentences: a window of tokens
    doc.ents = [doc.char_span(200, 205, label="PER")]
    rows = kb.doc_rows(doc, doc.text)
    assert rows == kb.doc_rows(doc)
    mention = next(iter(rows["mentions"].values()))
    assert mention["sentence"] == " ".join(["word"] * kb.CONTEXT_TOKENS + ["Alice", "and", "Bob"])


def test_kb_batch_mentions_rows_and_names():
    """Both back ends write a batch's mentions as batch_mentions gives them: a row per mention,
    document by document, with its normalised name, and each name (norm, label) once, with the
    first of its mentions (for NameKeys)."""
    from spacy_window_ner.kb.rows import batch_mentions

    nlp = spacy.blank("en")
    docs = [nlp("Alice met Bob ."), nlp("ALICE  left Bob .")]
    docs[0].ents = [docs[0].char_span(0, 5, label="PER"), docs[0].char_span(10, 13, label="ORG")]
    docs[1].ents = [docs[1].char_span(0, 5, label="PER"), docs[1].char_span(12, 15, label="PER")]
    first, second = kb.doc_rows(docs[0]), kb.doc_rows(docs[1])
    rows, names = batch_mentions([(7, first), (3, second)])
    assert [row[:6] for row in rows] == [
        (7, "alice", 0, 5, "Alice", "PER"), (7, "bob", 10, 13, "Bob", "ORG"),
        (3, "alice", 0, 5, "ALICE", "PER"), (3, "bob", 12, 15, "Bob", "PER"),
    ]
    assert [row[6:] for row in rows[:2]] == [
        (m["confidence"], m["sentence"], m["sent_start_char"], m["sent_end_char"]) for m in first["mentions"].values()
    ]
    assert list(names) == [("alice", "PER"), ("bob", "ORG"), ("bob", "PER")]
    assert names[("alice", "PER")]["text"] == "Alice" and names[("bob", "PER")]["start_char"] == 12
    assert batch_mentions([]) == ([], {})


def _key_names(db: Path) -> set:
    conn = sqlite3.connect(str(db))
    try:
        return set(conn.execute("SELECT norm, label FROM name_keys"))
    finally:
        conn.close()


def test_kb_write_batch_name_keys_written_again_once_deleted(tmp_path):
    """A store computes and inserts a name's keys once, and again once something may have
    deleted them: another connection's commit, or a resolution pass of its own."""
    nlp = make_nlp(relations=False)
    db = tmp_path / "kb.sqlite"
    texts = ["Alice met Bob.", "Alice left.", "Bob and Alice.", "Alice, again."]
    records = [inputs._record("t.txt", i + 1, text, 0) for i, text in enumerate(texts)]
    batches = [[(record, kb.doc_rows(nlp(record.text), record.text))] for record in records]
    store = kb.open_store(db, create=True)
    try:
        store.write_batch(batches[0])
        assert _key_names(db) == {("alice", "PER"), ("bob", "PER")}
        assert store.conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL: a rerun stores a lost batch
        other = sqlite3.connect(str(db))
        other.execute("DELETE FROM name_keys")
        other.commit()
        other.close()
        store.write_batch(batches[1])
        assert _key_names(db) == {("alice", "PER")}
        with store.resolution() as session:
            session.execute("DELETE FROM name_keys", ())
        assert store.conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL for a resolution pass
        store.write_batch(batches[2])
        assert _key_names(db) == {("alice", "PER"), ("bob", "PER")}
    finally:
        store.close()
    # Without deletions, the keys of every name mentioned are there (once) after the build.
    kb.build_kb(nlp, [write_jsonl(tmp_path / "more.jsonl", [{"text": text} for text in texts])], db, resolve=False)
    assert _key_names(db) == {("alice", "PER"), ("bob", "PER")}


def test_kb_write_batch_same_identity_twice(tmp_path):
    """A batch that holds one identity twice stores it once: the later text replaces the earlier,
    the same text again counts as raced."""
    nlp = make_nlp(relations=False)
    first, second = inputs._record("t.txt", 1, "Alice met Bob.", 0), inputs._record("t.txt", 1, "Bob left Paris.", 0)
    store = kb.open_store(tmp_path / "kb.sqlite", create=True)
    try:
        batch = [(record, kb.doc_rows(nlp(record.text), record.text)) for record in (first, second, second)]
        counts = store.write_batch(batch)
        assert (counts.added, counts.replaced, counts.raced, counts.mentions) == (2, 1, 1, 2)
        stored = store.conn.execute("SELECT d.sha256, m.text FROM mentions m JOIN documents d ON d.id = m.doc_id ORDER BY m.id")
        assert stored.fetchall() == [(second.sha256, "Bob"), (second.sha256, "Paris")]
    finally:
        store.close()


def test_kb_write_batch_error_rolls_back_whole_batch(tmp_path):
    """An error in the middle of a batch's transaction (here rows whose relation names a mention
    they lack, after its documents and mentions were inserted) propagates as it is, and the
    rollback leaves the database as it was and the store ready for the next batch."""
    nlp = make_nlp(relations=False)
    first, second = inputs._record("t.txt", 1, "Alice met Bob.", 0), inputs._record("t.txt", 2, "Bob left Paris.", 0)
    broken = kb.doc_rows(nlp(second.text), second.text)
    broken["relations"] = [((0, 1, "PER"), (9, 10, "LOC"), "NEXT", 0.5)]
    db = tmp_path / "kb.sqlite"
    with kb.open_store(db, create=True) as store:
        store.write_batch([(first, kb.doc_rows(nlp(first.text), first.text))])
        before = snapshot(db)
        with pytest.raises(KeyError):
            store.write_batch([(second, broken)])
        assert not store.conn.in_transaction and snapshot(db) == before
        counts = store.write_batch([(second, kb.doc_rows(nlp(second.text), second.text))])
        assert (counts.added, counts.mentions) == (1, 2)


def _index_names(db: Path) -> set:
    conn = sqlite3.connect(str(db))
    try:
        return {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    finally:
        conn.close()


def test_kb_first_build_makes_the_deferred_indexes_before_anything_reads_them(tmp_path):
    """A store that opens a database without documents to build it writes its mentions without
    the indexes on their entity and name, and makes them when it closes or resolves; any other
    store that opens the database to write makes them first (a build that crashed, or one still
    writing), a read-only one leaves the file as it is. The rows are those of a store that kept
    them, and a crash loses no batch committed."""
    nlp = make_nlp(relations=False)
    texts = ["Alice met Bob.", "Alice left Paris.", "Bob and Alice."]
    records = [inputs._record("t.txt", i + 1, text, 0) for i, text in enumerate(texts)]
    batches = [[(record, kb.doc_rows(nlp(record.text), record.text))] for record in records]
    reference = tmp_path / "reference.sqlite"
    kb.open_kb(reference, create=True).close()
    every_index = _index_names(reference)
    deferred = set(kb.sqlite.DEFERRED_INDEXES)
    assert deferred == {"mentions_entity", "mentions_name"} and deferred < every_index
    with kb.open_store(reference) as store:  # no build created it: the indexes stay
        for batch in batches:
            store.write_batch(batch)
            assert _index_names(reference) == every_index

    db = tmp_path / "kb.sqlite"
    store = kb.open_store(db, create=True)
    store.write_batch(batches[0])
    assert _index_names(db) == every_index - deferred
    with kb.open_store(db, readonly=True) as reader:
        assert reader.pending() == (2, 0)
    assert _index_names(db) == every_index - deferred
    store.write_batch(batches[1])
    store.conn.close()  # a crash: the store is never closed
    assert counts(db)["documents"] == 2
    with kb.open_store(db) as other:
        assert _index_names(db) == every_index
        other.write_batch(batches[2])
    assert snapshot(db) == snapshot(reference)

    for end in ("close", "resolution", "another writer"):
        db = tmp_path / f"{end}.sqlite"
        store = kb.open_store(db, create=True)
        store.write_batch(batches[0])
        if end == "another writer":  # a build that opens the database while this one writes
            kb.open_store(db, create=True).close()
            assert _index_names(db) == every_index
        elif end == "resolution":
            with store.resolution():
                assert _index_names(db) == every_index
        for batch in batches[1:]:
            store.write_batch(batch)
        store.close()
        assert _index_names(db) == every_index
        assert snapshot(db) == snapshot(reference)
    db = tmp_path / "built.sqlite"
    kb.build_kb(nlp, [write_jsonl(tmp_path / "t.jsonl", [{"text": text} for text in texts])], db, resolve=False)
    assert _index_names(db) == every_index


def test_kb_failed_or_empty_build_leaves_no_database(tmp_path, monkeypatch):
    malformed = tmp_path / "bad.jsonl"
    malformed.write_text('{not json\n{"text": 3}\n', encoding="utf8")
    db = tmp_path / "out" / "kb.sqlite"
    stats = kb.build_kb(make_nlp(), [malformed], db)
    assert (stats.docs_read, stats.malformed.count) == (0, 2)
    assert not db.exists()
    crash = tmp_path / "crash.txt"
    crash.write_text(f"{SENTINEL} Alice.\n", encoding="utf8")
    with pytest.raises(RuntimeError, match="sentinel"):
        kb.build_kb(make_nlp(), [crash], db, lines=True)
    assert not db.exists()
    # A database that existed before is never removed, even if the build stored nothing.
    monkeypatch.setitem(CRASH, "on", False)
    kb.build_kb(make_nlp(), [crash], db, lines=True)
    monkeypatch.setitem(CRASH, "on", True)
    kb.build_kb(make_nlp(), [malformed], db)
    assert counts(db)["documents"] == 1


def test_kb_schema_and_version_in_one_transaction(tmp_path, monkeypatch):
    """A crash between the schema and its version must not leave a database without version."""
    connect = sqlite3.connect

    def failing_connect(*args, **kwargs):
        conn = connect(*args, **kwargs)

        def deny_meta_insert(action, table, *_):
            return sqlite3.SQLITE_DENY if action == sqlite3.SQLITE_INSERT and table == "meta" else sqlite3.SQLITE_OK

        conn.set_authorizer(deny_meta_insert)
        return conn

    db = tmp_path / "kb.sqlite"
    monkeypatch.setattr(kb.sqlite.sqlite3, "connect", failing_connect)
    with pytest.raises(kb.KBError):
        kb.open_kb(db, create=True)
    monkeypatch.setattr(kb.sqlite.sqlite3, "connect", connect)
    kb.open_kb(db, create=True).close()  # the failed attempt left no half-made schema


def _open_at_once(path: str, barrier, errors) -> None:
    barrier.wait()
    try:
        kb.open_kb(Path(path), create=True).close()
    except Exception as err:  # reported by the parent
        errors.put(f"{type(err).__name__}: {err}")


def test_kb_concurrent_creation(tmp_path):
    """Three processes creating one new database at once, on 20 fresh paths."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    errors = ctx.Queue()
    for trial in range(20):
        barrier = ctx.Barrier(3)
        path = str(tmp_path / f"kb{trial}.sqlite")
        procs = [ctx.Process(target=_open_at_once, args=(path, barrier, errors)) for _ in range(3)]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join()
        assert [proc.exitcode for proc in procs] == [0, 0, 0]
    found = []
    while not errors.empty():
        found.append(errors.get())
    assert found == []


def _fill_until_full(db: Path, source: Path, **kwargs) -> str:
    with pytest.raises(kb.KBError) as info:
        kb.build_kb(make_nlp(), [source], db, lines=True, batch_size=8, **kwargs)
    return str(info.value)


def _big_corpus(tmp_path: Path, n: int = 400) -> Path:
    source = tmp_path / "big.txt"
    source.write_text("".join(f"Alice {i} met Bob in Paris; Acme {'x' * 200} in Boston.\n" for i in range(n)), encoding="utf8")
    return source


def test_kb_full_database_reports_real_cause(tmp_path, small_database):
    """SQLITE_FULL (here from PRAGMA max_page_count) reads as what it is, not as a rollback error."""
    message = _fill_until_full(tmp_path / "kb.sqlite", _big_corpus(tmp_path))
    assert "database or disk is full" in message and "rollback" not in message and "rerun" in message


def test_kb_full_disk_reports_real_cause_and_resumes(mount_tmpfs, tmp_path):
    small_fs = mount_tmpfs("size=256k")
    source = _big_corpus(tmp_path)
    db = small_fs / "kb.sqlite"
    message = _fill_until_full(db, source)
    assert "database or disk is full" in message and "rollback" not in message
    stored = counts(db)["documents"]
    assert 0 < stored < 400 and stored % 8 == 0  # whole batches only
    remount(small_fs, "size=16m")
    stats = kb.build_kb(make_nlp(), [source], db, lines=True, batch_size=8)
    assert (stats.docs_existing, stats.docs_added) == (stored, 400 - stored)
    clean = tmp_path / "clean.sqlite"
    kb.build_kb(make_nlp(), [source], clean, lines=True, batch_size=8)
    assert snapshot(db) == snapshot(clean)


@pytest.fixture
def read_only_copy(corpus, tmp_path: Path):
    """A knowledge base (closed cleanly, so without -wal/-shm files) in a directory bind-mounted
    read-only (needs root; skipped otherwise)."""
    folder = tmp_path / "kb"
    folder.mkdir()
    build(make_nlp(), corpus, folder / "kb.sqlite", tmp_path)
    assert sorted(p.name for p in folder.iterdir()) == ["kb.sqlite"]
    mount = tmp_path / "ro"
    mount.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "--bind", str(folder), str(mount)], capture_output=True).returncode:
        pytest.skip("can't bind-mount here")
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(mount)], check=True, capture_output=True)
        with pytest.raises(OSError):
            (mount / "probe").write_text("x")
        yield mount / "kb.sqlite"
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def test_kb_read_only_media(read_only_copy, tmp_path):
    (alice,) = kb.query_entity(read_only_copy, "Alice")
    assert alice["mention_count"] == 3
    nodes, edges = kb.read_graph(read_only_copy)
    assert len(nodes) == EXPECTED_COUNTS["entities"] and sum(e["count"] for e in edges) == EXPECTED_COUNTS["relations"]
    assert kb.export_graph(read_only_copy, tmp_path / "g.jsonl", "jsonl") == (len(nodes), len(edges))


def test_kb_long_sentence_stored_as_window(tmp_path):
    """A text without sentence marks (as --max-length lets through) stores a bounded context
    per mention, not the whole text once per mention."""
    source = tmp_path / "long.txt"
    source.write_text("word " * 600 + "Alice and Bob", encoding="utf8")
    db = tmp_path / "kb.sqlite"
    kb.build_kb(make_nlp(), [source], db)
    conn = sqlite3.connect(str(db))
    rows = conn.execute("SELECT m.text, m.sentence FROM mentions m ORDER BY m.start_char").fetchall()
    conn.close()
    assert [text for text, _ in rows] == ["Alice", "Bob"]
    assert rows[0][1] == " ".join(["word"] * kb.CONTEXT_TOKENS + ["Alice", "and", "Bob"])


def test_kb_database_below_a_file(corpus, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf8")
    with pytest.raises(kb.KBError, match="Can't create the database"):
        kb.build_kb(make_nlp(), corpus, blocker / "kb.sqlite")


def test_kb_ray_engine_without_ray_says_what_to_install(monkeypatch):
    """--engine ray without Ray installed is a KBError naming the extra; an ImportError from
    anything else inside the engine is not hidden behind it."""
    import sys

    from spacy_window_ner.kb import build as build_module

    monkeypatch.delitem(sys.modules, "spacy_window_ner.kb.ray_engine", raising=False)
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError(name="ray")
    with pytest.raises(kb.KBError, match=r'--engine ray needs Ray.*pip install "spacy-window-ner\[ray\]"'):
        build_module._ray_engine()
    monkeypatch.setitem(sys.modules, "uuid", None)  # imported by the engine before Ray
    with pytest.raises(ImportError) as err:
        build_module._ray_engine()
    assert not isinstance(err.value, kb.KBError) and err.value.name == "uuid"

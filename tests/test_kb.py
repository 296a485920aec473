"""The SQLite knowledge base: rows, idempotence, resuming after a crash, concurrent builds,
malformed input, query and export."""
import csv
import json
import sqlite3
import threading
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Dict, List

import pytest
import spacy
from spacy.language import Language
from spacy.tokens import Doc, SpanGroup

from spacy_window_ner import kb
from spacy_window_ner.relations import Relation, set_relations

PATTERNS = [
    {"label": "PER", "pattern": "Alice"},
    {"label": "PER", "pattern": "Bob"},
    {"label": "ORG", "pattern": "Acme"},
    {"label": "LOC", "pattern": "Boston"},
    {"label": "LOC", "pattern": "Paris"},
]
SENTINEL = "BOOM"  # the test component raises on a doc containing it while CRASH["on"]
CRASH = {"on": True}
CONFIDENCE = 0.75
LINES_TXT = "Alice works for Acme in Boston.\nBob lives in Paris.\n\nAlice visited Paris.\n"
JSONL = [
    json.dumps({"text": "Acme hired Bob.", "meta": 1}),
    "{not json",
    json.dumps({"no_text": "x"}),
    json.dumps({"text": ""}),
    json.dumps({"text": "Bob met Alice in Boston."}),
]
WHOLE_TXT = "Paris is big. Bob likes Acme."
# docs, mentions, relations (NEXT between consecutive entities), mention count per entity
EXPECTED_COUNTS = {"documents": 6, "mentions": 15, "relations": 9, "entities": 5}
EXPECTED_MENTIONS = {"alice": 3, "bob": 4, "acme": 3, "boston": 2, "paris": 3}


class ScoredRelations:
    """A test component: a confidence for every entity, a NEXT relation between consecutive
    entities, and a crash on the sentinel text."""

    scores_key = "test_scores"

    def __call__(self, doc: Doc) -> Doc:
        if CRASH["on"] and SENTINEL in doc.text:
            raise RuntimeError("crashed on the sentinel")
        ents = list(doc.ents)
        doc.spans[self.scores_key] = SpanGroup(doc, spans=ents, attrs={"scores": [CONFIDENCE] * len(ents)})
        set_relations(doc, [Relation(a, b, "NEXT", 0.5) for a, b in zip(ents, ents[1:])])
        return doc


@Language.factory("test_kb_relations", assigns=["doc.spans"])
def make_scored_relations(nlp: Language, name: str) -> ScoredRelations:
    return ScoredRelations()


def make_nlp(relations: bool = True) -> Language:
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.add_pipe("entity_ruler").add_patterns(PATTERNS)
    if relations:
        nlp.add_pipe("test_kb_relations")
    return nlp


@pytest.fixture
def ruler_path(tmp_path: Path) -> Path:
    """A saved pipeline: sentencizer, entity_ruler and the relation test component."""
    path = tmp_path / "ruler_pipeline"
    make_nlp().to_disk(path)
    return path


@pytest.fixture
def corpus(tmp_path: Path) -> List[Path]:
    """Two .txt files (one read by lines, one whole with --lines off) and a .jsonl file with
    three malformed lines (2, 3 and 4)."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    lines = folder / "a.txt"
    lines.write_text(LINES_TXT, encoding="utf8")
    jsonl = folder / "b.jsonl"
    jsonl.write_text("\n".join(JSONL) + "\n", encoding="utf8")
    return [lines, jsonl]


def build(nlp: Language, corpus: List[Path], db: Path, tmp_path: Path, **kwargs) -> kb.BuildStats:
    """Build from the line files, then the whole-file document."""
    stats = kb.build_kb(nlp, corpus, db, lines=True, **kwargs)
    whole = tmp_path / "corpus" / "c.txt"
    whole.write_text(WHOLE_TXT, encoding="utf8")
    more = kb.build_kb(nlp, [whole], db, lines=False, **kwargs)
    stats.docs_added += more.docs_added
    stats.docs_existing += more.docs_existing
    return stats


def counts(db: Path) -> Dict[str, int]:
    conn = sqlite3.connect(str(db))
    try:
        return {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in kb.TABLES}
    finally:
        conn.close()


def snapshot(db: Path) -> Dict[str, list]:
    """The content of a database without its row ids."""
    conn = sqlite3.connect(str(db))
    try:
        return {
            "documents": sorted(conn.execute("SELECT source, line, sha256, n_chars, n_tokens FROM documents")),
            "entities": sorted(conn.execute("SELECT norm, label, name, mention_count FROM entities")),
            "mentions": sorted(conn.execute(
                "SELECT d.sha256, m.start_char, m.end_char, m.text, m.label, m.confidence, m.sentence "
                "FROM mentions m JOIN documents d ON d.id = m.doc_id"
            )),
            "relations": sorted(conn.execute(
                "SELECT d.sha256, h.norm, t.norm, r.label, r.confidence, hm.start_char, tm.start_char "
                "FROM relations r JOIN documents d ON d.id = r.doc_id JOIN entities h ON h.id = r.head_entity "
                "JOIN entities t ON t.id = r.tail_entity JOIN mentions hm ON hm.id = r.head_mention "
                "JOIN mentions tm ON tm.id = r.tail_mention"
            )),
        }
    finally:
        conn.close()


def test_kb_build_rows(corpus, tmp_path):
    db = tmp_path / "kb.sqlite"
    stats = build(make_nlp(), corpus, db, tmp_path, batch_size=2)
    assert counts(db) == EXPECTED_COUNTS
    assert stats.docs_added == EXPECTED_COUNTS["documents"]
    conn = kb.open_kb(db)
    mention_counts = dict(conn.execute("SELECT norm, mention_count FROM entities"))
    assert mention_counts == EXPECTED_MENTIONS
    # Every entity's count is its number of mention rows.
    assert conn.execute(
        "SELECT COUNT(*) FROM entities e WHERE mention_count != (SELECT COUNT(*) FROM mentions m WHERE m.entity_id = e.id)"
    ).fetchone()[0] == 0
    assert {row[0] for row in conn.execute("SELECT confidence FROM mentions")} == {CONFIDENCE}
    assert conn.execute("SELECT source, line FROM documents WHERE sha256 = ?", (kb._record("", 0, "Bob lives in Paris.", 0).sha256,)).fetchone() == (str(corpus[0]), 2)
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
    assert stats.malformed == 3
    assert [p.split(": ")[0] for p in stats.problems] == [f"{corpus[1]}:{n}" for n in (2, 3, 4)]
    assert "invalid JSON" in stats.problems[0] and '"text"' in stats.problems[1]
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


def test_kb_check_inputs(tmp_path):
    good = tmp_path / "good.txt"
    good.write_text("Alice\n", encoding="utf8")
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    latin = tmp_path / "latin.txt"
    latin.write_bytes("ok\nCafé in Paris\n".encode("latin-1"))
    usable, skipped, total = kb.check_inputs([good, empty, latin, tmp_path / "missing.txt"])
    assert usable == [good] and total == len("Alice\n")
    assert [s.split(": ")[1] for s in skipped] == ["empty file", "not valid utf8 (byte 6, line 2); pass its encoding with --encoding", "no such file"]
    usable, skipped, _ = kb.check_inputs([latin], "latin-1")
    assert usable == [latin] and skipped == []
    with pytest.raises(kb.KBError, match="Unknown encoding"):
        kb.check_inputs([good], "no-such-codec")


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
            with out.open(encoding="utf8") as f:
                assert [r["name"] for r in csv.DictReader(f)] == [n["name"] for n in nodes]
            with kb.edges_csv_path(out).open(encoding="utf8") as f:
                read = [(int(r["source"]), int(r["target"]), r["label"], int(r["count"])) for r in csv.DictReader(f)]
            assert read == [(e["source"], e["target"], e["label"], e["count"]) for e in edges]
        else:
            ns = {"g": "http://graphml.graphdrawing.org/xmlns"}
            graph = ET.parse(out).getroot().find("g:graph", ns)
            xml_nodes = {n.get("id"): n.find("g:data[@key='name']", ns).text for n in graph.findall("g:node", ns)}
            assert xml_nodes == {f"n{i}": name for i, name in names.items()}
            xml_edges = [(e.get("source"), e.get("target")) for e in graph.findall("g:edge", ns)]
            assert xml_edges == [(f"n{e['source']}", f"n{e['target']}") for e in edges]

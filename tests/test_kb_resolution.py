"""Entity resolution in the knowledge base (issue 24; kb/resolution.py), on SQLite and on
PostgreSQL: incremental passes give what one pass from scratch gives (documents added in two
builds or one, replaced, removed); decisions and alias entries survive a pass from scratch;
queries find an entity by any alias; graph nodes carry their aliases; what waits for a pass is
reported; a changed threshold resolves everything again."""
import csv
import hashlib
import itertools
import json
import os
import shutil
import sqlite3
import sys
import tempfile
import xml.etree.ElementTree as ET
from contextlib import ExitStack
from pathlib import Path
from typing import Callable, Dict, Iterator, List

import pytest
import spacy
from hypothesis import given, settings
from hypothesis import strategies as st
from spacy.language import Language

from spacy_window_ner import kb
from spacy_window_ner.kb import pass_state, resolution
from spacy_window_ner.kb.links import Links
from spacy_window_ner.kb.resolve import cluster

from .postgres_server import temporary_database
from .util import RESOLUTION_PATTERNS, failed, invoke, kb_rows as rows, make_kb_nlp

FIRST = [
    {"id": "d1", "text": "Lee Harvey Oswald shot John F. Kennedy in Dallas."},
    {"id": "d2", "text": "Oswald was arrested in Dallas. Kennedy died there."},
]
SECOND = [
    {"id": "d3", "text": "The United Nations met. The U.N. spoke of Robert F. Kennedy."},
    {"id": "d4", "text": "Oswald lived in Dallas before."},
]
_DATABASES = itertools.count()


def make_nlp() -> Language:
    return make_kb_nlp(patterns=RESOLUTION_PATTERNS)


def write_jsonl(path: Path, records: List[dict]) -> Path:
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf8")
    return path


@pytest.fixture(params=["sqlite", "postgres"])
def new_db(request, tmp_path) -> Iterator[Callable[[], str]]:
    """new_db() -> a new, empty knowledge base: a SQLite file, or a database on conftest's
    PostgreSQL server (dropped after the test)."""
    with ExitStack() as stack:
        if request.param == "sqlite":
            names = (str(tmp_path / f"kb{i}.sqlite") for i in itertools.count())
            yield lambda: next(names)
        else:
            server = request.getfixturevalue("postgres_server")
            yield lambda: stack.enter_context(temporary_database(server, f"kb_res_{os.getpid()}_{next(_DATABASES)}"))


def entity_ids(db: str) -> Dict[str, int]:
    with kb.open_store(db, readonly=True) as store:
        return {entity["name"]: entity["id"] for entity in store.entity_table()}


def set_profile_rules(patch: pytest.MonkeyPatch, **rules: int) -> None:
    """Set resolution's profile rules (PROFILE_MENTIONS, LOOKAHEAD) in every module of
    spacy_window_ner.kb that holds them: each imports the value it reads."""
    for name, value in rules.items():
        holders = [m for key, m in sys.modules.items() if key.startswith("spacy_window_ner.kb") and hasattr(m, name)]
        assert cluster in holders, f"{name} is not a profile rule of resolve.cluster"
        for module in holders:
            patch.setattr(module, name, value)


def test_kb_resolution_incremental_same_as_from_scratch(new_db, tmp_path):
    first, second = write_jsonl(tmp_path / "first.jsonl", FIRST), write_jsonl(tmp_path / "second.jsonl", SECOND)
    two_builds, one_build = new_db(), new_db()
    kb.build_kb(make_nlp(), [first], two_builds)
    kb.build_kb(make_nlp(), [second], two_builds)
    kb.build_kb(make_nlp(), [first, second], one_build)
    got = rows(two_builds)
    assert got == rows(one_build)
    assert got["wrong_counts"] == got["unresolved"] == 0
    # "Oswald" of d4 joined the entity of d1 and d2; "Kennedy" stays with John F. Kennedy.
    oswald = kb.query_entity(two_builds, "oswald")
    assert [(e["name"], e["mention_count"], e["aliases"]) for e in oswald] == [
        ("Lee Harvey Oswald", 3, {"Oswald": 2, "Lee Harvey Oswald": 1})
    ]
    ids = entity_ids(two_builds)
    with kb.open_store(two_builds) as store:
        stats = kb.resolve_kb(store, from_scratch=True)
    assert stats.from_scratch and stats.mentions == 11 and stats.created == stats.deleted == 0
    assert rows(two_builds) == got and entity_ids(two_builds) == ids  # an unchanged partition keeps its ids
    # A replaced document, then a removed one: the same as building what is left from scratch.
    write_jsonl(first, [FIRST[0], {"id": "d2", "text": "Robert F. Kennedy visited Dallas. Kennedy spoke."}])
    kb.build_kb(make_nlp(), [first], two_builds)
    replaced = new_db()
    kb.build_kb(make_nlp(), [first, second], replaced)
    assert rows(two_builds) == rows(replaced)
    removed = kb.remove_documents(two_builds, ids=["d4"])
    assert removed.entities == 0 and kb.query_entity(two_builds, "Oswald") == []  # no mention is "Oswald" now
    assert kb.query_entity(two_builds, "Lee Harvey Oswald")[0]["aliases"] == {"Lee Harvey Oswald": 1}
    fresh = new_db()
    kb.build_kb(make_nlp(), [first], fresh)
    kb.build_kb(make_nlp(), [second], fresh)
    kb.remove_documents(fresh, ids=["d4"])
    assert rows(two_builds) == rows(fresh)
    # Every document of an entity removed: the entity goes (Lee Harvey Oswald and John F. Kennedy).
    removed = kb.remove_documents(two_builds, ids=["d1"])
    assert removed.entities == 2 and kb.query_entity(two_builds, "Lee Harvey Oswald") == []
    assert rows(two_builds)["wrong_counts"] == 0


def test_kb_resolution_decisions_and_alias_entries_survive(new_db, tmp_path):
    db = new_db()
    kb.build_kb(make_nlp(), [write_jsonl(tmp_path / "first.jsonl", FIRST)], db)
    assert kb.query_entity(db, "Kennedy")[0]["name"] == "John F. Kennedy"
    kb.decide(db, "different", "kennedy", "John F.  Kennedy", "PER")
    assert [e["name"] for e in kb.query_entity(db, "Kennedy")] == ["Kennedy"]
    aliases = tmp_path / "aliases.jsonl"
    aliases.write_text(json.dumps({"canonical": "Lee Harvey Oswald", "aliases": ["LHO"], "id": "Q191012"}) + "\n", encoding="utf8")
    stats = kb.resolve_database(db, aliases=[aliases])
    assert stats.from_scratch  # new alias entries resolve everything again
    kb.build_kb(make_nlp(), [write_jsonl(tmp_path / "more.jsonl", [{"id": "d9", "text": "LHO was seen."}])], db)
    (oswald,) = kb.query_entity(db, "LHO")
    assert (oswald["name"], oswald["external_id"], oswald["mention_count"]) == ("Lee Harvey Oswald", "Q191012", 3)
    before = rows(db)
    assert before["decisions"] == [("different", "PER", "john f. kennedy", "kennedy")]
    assert before["alias_entries"] == [("Lee Harvey Oswald", None, "Q191012", '["LHO"]', f"{aliases}:1")]
    kb.resolve_database(db, from_scratch=True)
    kb.resolve_database(db, aliases=[aliases])  # kept already: not added twice
    assert rows(db) == before
    # A merge joins what resolution kept apart, and survives a pass from scratch too.
    kb.decide(db, "same", "Kennedy", "John F. Kennedy", "PER")
    kb.resolve_database(db, from_scratch=True)
    assert kb.query_entity(db, "Kennedy")[0]["aliases"] == {"John F. Kennedy": 1, "Kennedy": 1}
    with pytest.raises(kb.KBError, match="same name"):
        kb.decide(db, "same", "Dallas", " dallas", "LOC")
    # A decision is about a name whatever its spelling (NFKC, as resolve compares names).
    kb.decide(db, "different", "\uff2f\uff53\uff57\uff41\uff4c\uff44", "Lee Harvey Oswald", "PER")  # full-width "Oswald"
    assert sorted(e["name"] for e in kb.query_entity(db, "Oswald")) == ["Oswald"]


def test_kb_resolution_threshold_kept_and_changed_from_scratch(tmp_path):
    db = str(tmp_path / "kb.sqlite")
    kb.build_kb(make_nlp(), [write_jsonl(tmp_path / "first.jsonl", FIRST)], db)
    assert kb.resolve_database(db).components == 0  # nothing changed
    stats = kb.resolve_database(db, threshold=1.0)
    assert stats.from_scratch
    assert not kb.resolve_database(db, threshold=1.0).from_scratch
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT value FROM meta WHERE key = 'resolve_threshold'").fetchone() == ("1.0",)
    conn.close()
    with pytest.raises(kb.KBError, match="between 0 and 1"):
        kb.resolve_database(db, threshold=1.5)


def test_kb_resolution_graph_nodes_carry_aliases(tmp_path):
    db = str(tmp_path / "kb.sqlite")
    kb.build_kb(make_nlp(), [write_jsonl(tmp_path / "first.jsonl", FIRST)], db)
    nodes, edges = kb.read_graph(db)
    by_name = {node["name"]: node for node in nodes}
    assert by_name["Lee Harvey Oswald"]["aliases"] == {"Lee Harvey Oswald": 1, "Oswald": 1}
    oswald, dallas = by_name["Lee Harvey Oswald"]["id"], by_name["Dallas"]["id"]
    # Relations read their entities through their mentions: "Oswald" -> "Dallas" is the resolved entity's.
    assert {(e["source"], e["target"]) for e in edges} >= {(oswald, dallas)}
    kb.export_graph(db, tmp_path / "g.jsonl", "jsonl")
    lines = [json.loads(line) for line in (tmp_path / "g.jsonl").read_text(encoding="utf8").splitlines()]
    assert [line["aliases"] for line in lines if line.get("name") == "Lee Harvey Oswald"] == [{"Lee Harvey Oswald": 1, "Oswald": 1}]
    kb.export_graph(db, tmp_path / "csv", "csv")
    with (tmp_path / "csv" / "nodes.csv").open(encoding="utf8") as file_:
        cells = {row["name"]: row for row in csv.DictReader(file_)}
    assert json.loads(cells["Lee Harvey Oswald"]["aliases"]) == {"Lee Harvey Oswald": 1, "Oswald": 1}
    kb.export_graph(db, tmp_path / "g.graphml", "graphml")
    ns = {"g": "http://graphml.graphdrawing.org/xmlns"}
    graph = ET.parse(tmp_path / "g.graphml").getroot()
    found = {
        node.find("g:data[@key='name']", ns).text: json.loads(node.find("g:data[@key='aliases']", ns).text)
        for node in graph.iter("{http://graphml.graphdrawing.org/xmlns}node")
    }
    assert found["Lee Harvey Oswald"] == {"Lee Harvey Oswald": 1, "Oswald": 1}


def test_kb_resolution_store_tables(new_db, tmp_path):
    db = new_db()
    kb.build_kb(make_nlp(), [write_jsonl(tmp_path / "first.jsonl", FIRST)], db)
    with kb.open_store(db, readonly=True) as store:
        mentions = list(store.mentions())
        entities = list(store.entity_table())
    assert [(m["document"], m["start_char"], m["text"], m["canonical"]) for m in mentions] == [
        ("d1", 0, "Lee Harvey Oswald", "Lee Harvey Oswald"), ("d1", 23, "John F. Kennedy", "John F. Kennedy"),
        ("d1", 42, "Dallas", "Dallas"), ("d2", 0, "Oswald", "Lee Harvey Oswald"), ("d2", 23, "Dallas", "Dallas"),
        ("d2", 31, "Kennedy", "John F. Kennedy"),
    ]
    by_id = {entity["id"]: entity for entity in entities}
    assert all(by_id[m["entity_id"]]["name"] == m["canonical"] for m in mentions)
    assert sorted((e["name"], e["label"], e["mention_count"], e["external_id"]) for e in entities) == [
        ("Dallas", "LOC", 2, None), ("John F. Kennedy", "PER", 2, None), ("Lee Harvey Oswald", "PER", 2, None),
    ]


def test_kb_resolution_unresolved_reported(tmp_path):
    db = str(tmp_path / "kb.sqlite")
    stats = kb.build_kb(make_nlp(), [write_jsonl(tmp_path / "first.jsonl", FIRST)], db, resolve=False)
    assert stats.resolution is None and kb.pending(db) == (6, 0)
    assert kb.query_entity(db, "Oswald") == []
    output = failed("kb", "query", db, "Oswald")
    assert "6 mentions are not resolved yet" in output and f"kb resolve {db}" in output
    result = invoke("kb", "resolve", db)
    assert "resolved 6 mentions in 3 components into 3 entities, 2 of them known by several names" in result.output
    assert kb.pending(db) == (0, 0)
    result = invoke("kb", "query", db, "Oswald")
    assert "Lee Harvey Oswald (PER): 2 mentions" in result.output and "Aliases: Lee Harvey Oswald (1), Oswald (1)" in result.output
    assert "not resolved" not in result.output
    result = invoke("kb", "remove", db, "--id", "d2", "--no-resolve")
    assert f"their entities wait for `kb resolve {db}`" in result.output
    assert kb.pending(db) == (0, 3)
    assert "3 names changed since the last resolution" in invoke("kb", "export", db, "-f", "jsonl", "-o", tmp_path / "g.jsonl").output


def test_kb_resolution_cli_merge_split_and_ambiguous(tmp_path):
    db = str(tmp_path / "kb.sqlite")
    source = write_jsonl(tmp_path / "all.jsonl", FIRST + SECOND)
    result = invoke("kb", "build", _saved(tmp_path), source, "--db", db)
    assert "resolved 11 mentions" in result.output
    assert "'Kennedy' (PER) may mean: 'John F. Kennedy', 'Robert F. Kennedy'" in result.output
    result = invoke("kb", "split", db, "Oswald", "Lee Harvey Oswald", "--label", "PER")
    assert "Kept: 'Oswald' and 'Lee Harvey Oswald' (PER) are never one entity." in result.output
    assert [e["name"] for e in kb.query_entity(db, "Oswald")] == ["Oswald"]
    invoke("kb", "merge", db, "Oswald", "Lee Harvey Oswald", "--label", "PER")
    assert [e["name"] for e in kb.query_entity(db, "Oswald")] == ["Lee Harvey Oswald"]
    assert "exactly two names" in failed("kb", "merge", db, "Oswald", "--label", "PER")
    result = invoke("kb", "merge", db, "Oswald", "Dallas", "--label", "PER")
    assert "No entity named 'Dallas' with label 'PER' yet" in result.output
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"canonical": "X"}\n{not json\n', encoding="utf8")
    assert f"{bad}:2:" in failed("kb", "resolve", db, "--aliases", bad)
    assert "Traceback" not in failed("kb", "resolve", db, "--threshold", "2")


def _saved(tmp_path: Path) -> Path:
    path = tmp_path / "pipeline"
    if not path.exists():
        make_nlp().to_disk(path)
    return path


def test_kb_resolution_vectors_kept_for_later_passes(tmp_path):
    import numpy
    from spacy.vectors import Vectors

    with_vectors = spacy.blank("en")
    table = Vectors(strings=with_vectors.vocab.strings, shape=(4, 3))
    for i, word in enumerate(("shot", "arrested", "died")):
        table.add(word, vector=numpy.eye(3, dtype="float32")[i])
    with_vectors.vocab.vectors = table
    with_vectors.to_disk(tmp_path / "vectors")
    spacy.blank("en").to_disk(tmp_path / "none")
    db = str(tmp_path / "kb.sqlite")
    kb.build_kb(make_nlp(), [write_jsonl(tmp_path / "first.jsonl", FIRST)], db)
    assert kb.resolve_database(db, vectors=str(tmp_path / "vectors")).from_scratch  # other vectors: everything again
    stats = kb.build_kb(make_nlp(), [write_jsonl(tmp_path / "second.jsonl", SECOND)], db)
    assert stats.resolution is not None and not stats.resolution.from_scratch
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT value FROM meta WHERE key = 'resolve_vectors'").fetchone() == (str(tmp_path / "vectors"),)
    conn.close()
    with pytest.raises(kb.KBError, match="no static vectors"):
        kb.resolve_database(db, vectors=str(tmp_path / "none"))
    # The kept pipeline gone: the documents are stored, and the message says how to resolve.
    (tmp_path / "vectors").rename(tmp_path / "moved")
    with pytest.raises(kb.KBError, match="resolved with the static vectors of .*--vectors ''"):
        kb.build_kb(make_nlp(), [write_jsonl(tmp_path / "third.jsonl", [{"id": "d7", "text": "Oswald."}])], db)
    assert kb.pending(db) == (1, 0)
    assert kb.resolve_database(db, vectors="").from_scratch  # stop using them
    assert kb.pending(db) == (0, 0)


def test_kb_resolution_empty_name_is_an_entity_of_its_own(tmp_path):
    from spacy_window_ner import inputs

    def mention(text: str, start: int) -> dict:
        return {
            "start_char": start, "end_char": start + len(text), "text": text, "label": "PER", "confidence": None,
            "sentence": "Oswald  left.", "sent_start_char": 0, "sent_end_char": 13,
        }

    rows = {"n_chars": 13, "n_tokens": 3, "relations": [], "dropped_candidates": 0,
            "mentions": {(0, 1, "PER"): mention("Oswald", 0), (1, 2, "PER"): mention(" ", 6)}}
    with kb.open_store(tmp_path / "kb.sqlite", create=True) as store:
        store.write_batch([(inputs._record("x.txt", 1, "Oswald  left.", 0), rows)])
        stats = kb.resolve_kb(store)
        entities = sorted((e["name"], e["mention_count"]) for e in store.entity_table())
    assert stats.mentions == 2 and entities == [(" ", 1), ("Oswald", 1)]


def test_kb_resolution_loads_change_nothing(tmp_path, monkeypatch):
    """A page's components are loaded and resolved in loads of at most LOAD_MENTIONS mentions:
    one component a load gives the entities of one load for the page."""
    source = write_jsonl(tmp_path / "all.jsonl", FIRST + SECOND)
    default, small = str(tmp_path / "default.sqlite"), str(tmp_path / "small.sqlite")
    kb.build_kb(make_nlp(), [source], default)
    loads = []
    monkeypatch.setattr(resolution, "LOAD_MENTIONS", 1)
    resolve_components = resolution._Pass._resolve_components
    monkeypatch.setattr(
        resolution._Pass, "_resolve_components", lambda self, components: loads.append(len(components)) or resolve_components(self, components)
    )
    kb.build_kb(make_nlp(), [source], small)
    assert loads == [1, 1, 1, 1]  # Oswald, the Kennedys, Dallas, the U.N.: one page, four loads
    assert rows(small) == rows(default)


def test_kb_resolution_pages_and_in_lists_change_nothing(tmp_path, monkeypatch):
    """A pass works a page of names at a time and reads with IN lists of bounded length: one
    name a page and two values a list (components across pages, lists cut mid-component) give
    the entities of the defaults."""
    source = write_jsonl(tmp_path / "all.jsonl", FIRST + SECOND)
    default, small = str(tmp_path / "default.sqlite"), str(tmp_path / "small.sqlite")
    kb.build_kb(make_nlp(), [source], default)
    monkeypatch.setattr(resolution, "TODO_PAGE", 1)
    monkeypatch.setattr(pass_state, "IN_LIST", 2)
    kb.build_kb(make_nlp(), [source], small)
    assert rows(small) == rows(default)
    with kb.open_store(small) as store:
        assert kb.resolve_kb(store, from_scratch=True).components == 4  # Oswald, the Kennedys, Dallas, the U.N.
    assert rows(small) == rows(default)


def test_kb_resolution_pass_collects_garbage_less_often_then_as_before(tmp_path, monkeypatch):
    """A pass runs with the cyclic collector's youngest generation collected every
    PASS_GC_ALLOCATIONS allocations; the thresholds are as before after it, after a pass that
    fails too, and a collector turned off (threshold 0) stays off."""
    import gc

    source = write_jsonl(tmp_path / "all.jsonl", FIRST)
    db = str(tmp_path / "kb.sqlite")
    kb.build_kb(make_nlp(), [source], db, resolve=False)
    during = []
    run = resolution._Pass.run

    def recording(self, from_scratch):
        during.append(gc.get_threshold())
        if len(during) == 2:
            raise RuntimeError("a pass that fails")
        return run(self, from_scratch)

    monkeypatch.setattr(resolution._Pass, "run", recording)
    before = gc.get_threshold()
    try:
        gc.set_threshold(700, *before[1:])
        with kb.open_store(db) as store:
            assert kb.resolve_kb(store).mentions > 0
            assert gc.get_threshold() == (700, *before[1:])
            with pytest.raises(RuntimeError, match="a pass that fails"):
                kb.resolve_kb(store, from_scratch=True)
            assert gc.get_threshold() == (700, *before[1:])
            gc.set_threshold(0, *before[1:])
            kb.resolve_kb(store, from_scratch=True)
            assert gc.get_threshold() == (0, *before[1:])
    finally:
        gc.set_threshold(*before)
    assert during == [(resolution.PASS_GC_ALLOCATIONS, *before[1:])] * 2 + [(0, *before[1:])]


def test_kb_resolution_passes_at_once_share_the_collector_setting():
    """Two passes in threads of one process, the first ending before the second: the setting
    stays while the second runs, and the thresholds the first found come back when both end."""
    import gc

    before = gc.get_threshold()
    first, second = resolution._fewer_collections(), resolution._fewer_collections()
    try:
        gc.set_threshold(700, *before[1:])
        first.__enter__()
        second.__enter__()
        first.__exit__(None, None, None)
        assert gc.get_threshold() == (resolution.PASS_GC_ALLOCATIONS, *before[1:])
        second.__exit__(None, None, None)
        assert gc.get_threshold() == (700, *before[1:])
    finally:
        gc.set_threshold(*before)


# Documents for the incremental properties below: names that share surnames (so bare surnames
# are ambiguous and placed by their context), a second writing of one ("KENNEDY"), initials and
# acronyms, each in a sentence of its own with a few context words.
SYNTHETIC_NAMES = [
    ("John F. Kennedy", "PER"), ("Robert F. Kennedy", "PER"), ("Kennedy", "PER"), ("President Kennedy", "PER"),
    ("KENNEDY", "PER"), ("John Kennedy", "PER"), ("Anna Smith", "PER"), ("Ben Smith", "PER"), ("Smith", "PER"),
    ("A. Smith", "PER"), ("United Nations", "ORG"), ("U.N.", "ORG"), ("Dallas", "LOC"),
    ("President John F. Kennedy", "PER"), ("Carl Smith", "PER"),
]
SYNTHETIC_WORDS = ["senate", "brother", "elected", "shot", "press", "car", "court", "ranch"]


def synthetic_doc(doc_id: str, names: List[int], words: List[int]):
    """A document (Record, store.DocRows) naming SYNTHETIC_NAMES[i] for i in names, each in a
    sentence of its own with SYNTHETIC_WORDS[w] for w in words around it."""
    from spacy_window_ner.inputs import Record

    text, mentions, tokens = "", {}, 0
    for n, i in enumerate(names):
        name, label = SYNTHETIC_NAMES[i]
        word = SYNTHETIC_WORDS[words[n % len(words)]] if words else "said"
        sentence = f"{name} {word} today."
        start = len(text)
        mentions[(tokens, tokens + len(name.split()), label)] = {
            "start_char": start, "end_char": start + len(name), "text": name, "label": label, "confidence": None,
            "sentence": sentence, "sent_start_char": start, "sent_end_char": start + len(sentence),
        }
        text += sentence + " "
        tokens += len(sentence.split())
    text = text.rstrip()
    record = Record("synthetic.jsonl", None, text, hashlib.sha256(text.encode("utf8")).hexdigest(), 0, doc_id)
    return record, {"n_chars": len(text), "n_tokens": tokens, "mentions": mentions, "relations": [], "dropped_candidates": 0}


def add_and_resolve(db: str, docs) -> kb.ResolveStats:
    with kb.open_store(db, create=True) as store:
        store.write_batch(docs)
        return kb.resolve_kb(store)


def from_scratch_rows(db: str, copy: str) -> Dict[str, list]:
    """kb_rows of a copy of a SQLite knowledge base resolved again from scratch."""
    shutil.copyfile(db, copy)
    kb.resolve_database(copy, from_scratch=True)
    return rows(copy)


def kept_profiles(db: str):
    """The rows of entity_profiles, (first, last, count, features) by entity, and the same made
    again from each entity's mentions now (its first PROFILE_MENTIONS of names that are not
    ambiguous, up to the row's last: later ones join a row when a pass reads it): a row that
    differs is stale."""
    from spacy_window_ner.kb.resolve import ResolveSettings, context_features, summed_features

    kept, made = {}, {}
    with kb.open_store(db) as store, store.resolution() as session:
        pass_ = pass_state.PassState(session, Links(session.execute), ResolveSettings(), None)
        for entity_id, first, last, count, features in session.execute(
            "SELECT entity_id, first_mention, last_mention, mentions, features FROM entity_profiles", ()
        ).fetchall():
            kept[entity_id] = (first, last, count, json.loads(features))
            found = pass_.records([tuple(row) for row in session.execute(
                f"SELECT {pass_.mention_columns} FROM mentions m JOIN resolved_names r ON r.norm = m.norm AND r.label = m.label "
                f"AND r.candidates IS NULL WHERE m.entity_id = {session.queries.mark} AND m.id <= {session.queries.mark} "
                f"ORDER BY m.id LIMIT {resolution.PROFILE_MENTIONS}",
                (entity_id, last),
            ).fetchall()])
            made[entity_id] = found and (found[0].id, found[-1].id, len(found), dict(summed_features([context_features(r) for r in found])))
    return kept, made


def placements(db: str) -> Dict[str, list]:
    """(text, canonical name of its entity) of each mention, by document."""
    found: Dict[str, list] = {}
    with kb.open_store(db, readonly=True) as store:
        for mention in store.mentions():
            found.setdefault(mention["document"], []).append((mention["text"], mention["canonical"]))
    return found


def test_kb_resolution_incremental_profile_sums(new_db, monkeypatch):
    """The candidates of an ambiguous name keep their profile sums (entity_profiles): a pass
    reads one row per candidate, a row takes its entity's later mentions up to PROFILE_MENTIONS
    when a pass reads it, rows are made again when a component is resolved again, and a row that
    went stale would place mentions otherwise than a pass from scratch (which is why rows must
    match their mentions)."""
    set_profile_rules(monkeypatch, PROFILE_MENTIONS=3)
    db = new_db()
    base = [([0], [0]), ([1], [6]), ([2], [4]), ([0], [1])]  # JFK senate, RFK court, Kennedy press, JFK brother
    add_and_resolve(db, [synthetic_doc(f"d{i}", names, words) for i, (names, words) in enumerate(base)])
    jfk, rfk = (kb.query_entity(db, name)[0]["id"] for name in ("John F. Kennedy", "Robert F. Kennedy"))
    kept, made = kept_profiles(db)
    assert sorted(kept) == sorted([jfk, rfk]) and kept == made and kept[jfk][2] == 2
    # New mentions of JFK (placed, not resolved again) join his sum up to its 3 mentions, when
    # the next pass reads it.
    stats = add_and_resolve(db, [synthetic_doc("n1", [0, 12], [0]), synthetic_doc("n2", [0], [0])])
    assert (stats.placed, stats.components) == (3, 0)
    kept, made = kept_profiles(db)
    assert kept == made and kept[jfk][2] == 2
    # The sums are what places: with JFK's and RFK's swapped, "Kennedy ... court" goes to JFK.
    control, probe = new_db(), new_db()
    for db_ in (control, probe):
        add_and_resolve(db_, [synthetic_doc(f"d{i}", names, words) for i, (names, words) in enumerate(base)])
    with kb.open_store(probe) as store, store.resolution() as session:
        mark = session.queries.mark
        sums = dict(session.execute("SELECT entity_id, features FROM entity_profiles", ()).fetchall())
        session.executemany(
            f"UPDATE entity_profiles SET features = {mark} WHERE entity_id = {mark}", [(sums[jfk], rfk), (sums[rfk], jfk)]
        )
    for db_ in (db, control, probe):
        add_and_resolve(db_, [synthetic_doc("p1", [2], [6])])
    assert placements(control)["p1"] == [("Kennedy", "Robert F. Kennedy")]
    assert placements(probe)["p1"] == [("Kennedy", "John F. Kennedy")]
    kept, made = kept_profiles(db)
    assert kept == made and kept[jfk][2] == 3
    # A new writing resolves the component again: its sums are made again, as a pass from
    # scratch makes them; other profile rules empty the table.
    stats = add_and_resolve(db, [synthetic_doc("w1", [4], [0])])
    assert stats.components == 1
    kept, made = kept_profiles(db)
    assert kept == made and len(kept) == 2
    got = rows(db)
    with kb.open_store(db) as store:
        kb.resolve_kb(store, from_scratch=True)
    assert rows(db) == got and kept_profiles(db)[0] == kept
    with kb.open_store(db) as store, store.resolution() as session:  # rows made by other rules
        session.execute("UPDATE entity_profiles SET features = '{}'", ())
    monkeypatch.setattr(resolution, "PROFILE_RULES_VERSION", resolution.PROFILE_RULES_VERSION + 1)
    add_and_resolve(db, [synthetic_doc("x1", [12], [0])])
    kept, made = kept_profiles(db)
    assert kept == made and len(kept) == 2  # dropped, and made again where the pass needed them


def test_kb_resolution_incremental_places_known_names(new_db, monkeypatch):
    """New mentions of names resolved before are placed without resolving their components
    again (ResolveStats.placed), and give what a pass from scratch gives; a new writing of a
    name resolves its component again. Context looks at no later mention here (LOOKAHEAD 0)."""
    set_profile_rules(monkeypatch, LOOKAHEAD=0)
    db = new_db()
    base = [synthetic_doc(f"d{i}", names, [i % 8, (i + 3) % 8]) for i, names in enumerate(
        [[2], [0, 2, 12], [1, 2, 10], [6, 8, 11], [7, 8], [0, 5], [10, 11, 12]]
    )]
    add_and_resolve(db, base)
    # d0's "Kennedy" comes before any mention of the Kennedys: context can't place it.
    assert ("Kennedy", 1) in [(e["name"], e["mention_count"]) for e in kb.query_entity(db, "Kennedy")]
    # Known names only: bare surnames beside a full name of theirs, placed to its entity; and
    # "President Kennedy", new, but one name with the known "Kennedy" (placed beside RFK).
    known = [
        synthetic_doc("k1", [2, 0], [1, 2]), synthetic_doc("k2", [8, 7, 12], [3]), synthetic_doc("k3", [10, 11], [7]),
        synthetic_doc("k4", [3, 1], [5]),
    ]
    stats = add_and_resolve(db, known)
    assert (stats.placed, stats.components, stats.mentions) == (9, 0, 0)
    assert [e["mention_count"] for e in kb.query_entity(db, "Ben Smith")] == [4]
    assert [e["mention_count"] for e in kb.query_entity(db, "President Kennedy")] == [4]  # RFK's
    # A new person, Carl Smith: a new entity, and one more that "Smith" may mean.
    stats = add_and_resolve(db, [synthetic_doc("c1", [14], [0])])
    assert (stats.placed, stats.components, stats.created) == (1, 0, 1)
    stats = add_and_resolve(db, [synthetic_doc("c2", [14, 8], [0])])
    assert (stats.placed, stats.components) == (2, 0)
    assert [(e["name"], e["mention_count"]) for e in kb.query_entity(db, "Carl Smith")] == [("Carl Smith", 3)]
    stats = add_and_resolve(db, [synthetic_doc("w1", [4, 12], [0])])  # "KENNEDY": a new writing
    assert stats.placed == 1 and stats.components == 1 and stats.mentions > 1  # Dallas placed, the Kennedys again
    got = rows(db)
    assert got["wrong_counts"] == got["unresolved"] == 0
    with kb.open_store(db) as store:
        kb.resolve_kb(store, from_scratch=True)
    assert rows(db) == got


def test_kb_resolution_incremental_inserts_new_names(new_db):
    """A pass places new names into their component's kept clustering, scored against the known
    names they share a blocking key with (ResolveStats.inserted), where that gives what
    clustering the component again gives; where a new name changes where a known name goes, it
    clusters the component again (reclustered). Either way: what a pass from scratch gives."""
    db = new_db()
    add_and_resolve(db, [synthetic_doc(f"d{i}", names, [i]) for i, names in enumerate([[0, 2], [1, 2], [6, 8], [7, 8, 12]])])
    # A new person, "Carl Smith", whom "Smith" may mean too, and "President Kennedy", one name with
    # "Kennedy": inserted, in their two components (the mention context can't place is left to
    # the pass, which resolves its component).
    stats = add_and_resolve(db, [synthetic_doc("n1", [14, 3], [3])])
    assert (stats.inserted, stats.reclustered) == (2, 0)
    assert [e["mention_count"] for e in kb.query_entity(db, "Carl Smith")] == [1]
    # "John Kennedy", a partial name of JFK's, joins his entity; "President John F. Kennedy", one
    # name with JFK, goes where JFK goes: inserted.
    stats = add_and_resolve(db, [synthetic_doc("n2", [5], [4])])
    assert (stats.inserted, stats.reclustered) == (1, 0)
    assert [e["name"] for e in kb.query_entity(db, "John Kennedy")] == ["John F. Kennedy"]
    stats = add_and_resolve(db, [synthetic_doc("n3", [13], [4])])
    assert (stats.inserted, stats.reclustered) == (1, 0)
    got = rows(db)
    assert got["wrong_counts"] == got["unresolved"] == 0
    with kb.open_store(db) as store:
        kb.resolve_kb(store, from_scratch=True)
    assert rows(db) == got
    # A kept anchor that a new, fuller name fits ("John Kennedy" alone, then "John F. Kennedy"),
    # and a kept partial name placed with one entity that a new name makes ambiguous ("Kennedy"
    # with JFK, then RFK): never inserted.
    for base, added in (([5], [0]), ([0, 2], [1])):
        db = new_db()
        add_and_resolve(db, [synthetic_doc("b1", base, [0]), synthetic_doc("b2", [12], [1])])
        stats = add_and_resolve(db, [synthetic_doc("a1", added, [2])])
        assert (stats.inserted, stats.reclustered) == (0, 1)
        got = rows(db)
        with kb.open_store(db) as store:
            kb.resolve_kb(store, from_scratch=True)
        assert rows(db) == got
    assert [(alias, names) for alias, _, names in stats.ambiguous] == [("Kennedy", ["John F. Kennedy", "Robert F. Kennedy"])]


def test_kb_resolution_incremental_profiles_are_first_mentions(new_db, monkeypatch):
    """An ambiguous name's new mention is compared with its candidates' first PROFILE_MENTIONS
    mentions, as from scratch, not with their latest ones: "Kennedy ... ranch" stays apart
    although John F. Kennedy's third mention is at the ranch."""
    set_profile_rules(monkeypatch, PROFILE_MENTIONS=2)
    db = new_db()
    base = [([0], [0]), ([0], [0]), ([1], [6]), ([2], [4]), ([0], [7])]  # JFK senate x2, RFK court, Kennedy press, JFK ranch
    add_and_resolve(db, [synthetic_doc(f"d{i}", names, words) for i, (names, words) in enumerate(base)])
    stats = add_and_resolve(db, [synthetic_doc("k1", [2], [7])])
    assert (stats.placed, stats.components) == (1, 0)
    assert [(e["name"], e["mention_count"]) for e in kb.query_entity(db, "Kennedy")] == [("Kennedy", 2)]
    assert [e["mention_count"] for e in kb.query_entity(db, "John F. Kennedy")] == [3]
    got = rows(db)
    with kb.open_store(db) as store:
        kb.resolve_kb(store, from_scratch=True)
    assert rows(db) == got


def test_kb_resolution_incremental_moves_recent_mentions(new_db):
    """Context compares a mention with mentions up to LOOKAHEAD ids after it too, so a new
    document can place an earlier mention that context could not place: the pass places it
    again, as a pass from scratch would, and the entity left with no mention goes."""
    db = new_db()
    base = [([2], [4]), ([0], [0]), ([1], [6])]  # Kennedy "press", JFK "senate", RFK "court"
    add_and_resolve(db, [synthetic_doc(f"d{i}", names, words) for i, (names, words) in enumerate(base)])
    assert ("Kennedy", 1) in [(e["name"], e["mention_count"]) for e in kb.query_entity(db, "Kennedy")]
    stats = add_and_resolve(db, [synthetic_doc("k1", [0], [4])])  # JFK "press"
    assert (stats.placed, stats.components, stats.deleted) == (1, 0, 1)
    assert [(e["name"], e["mention_count"]) for e in kb.query_entity(db, "Kennedy")] == [("John F. Kennedy", 3)]
    got = rows(db)
    assert got["wrong_counts"] == got["unresolved"] == 0
    with kb.open_store(db) as store:
        kb.resolve_kb(store, from_scratch=True)
    assert rows(db) == got


@settings(max_examples=20, deadline=None)  # about 4 s
@given(
    st.lists(
        st.tuples(st.lists(st.integers(0, len(SYNTHETIC_NAMES) - 1), min_size=1, max_size=4),
                  st.lists(st.integers(0, len(SYNTHETIC_WORDS) - 1), max_size=3)),
        min_size=2, max_size=12,
    ),
    st.randoms(use_true_random=False),
    st.booleans(),
)
def test_kb_resolution_incremental_batches_same_as_from_scratch(documents, rng, remove):
    """Documents added in random orders and batches (one replaced or removed on the way),
    resolving after each batch, give the entities of a pass from scratch: the same mentions
    in each, canonical names, aliases and counts."""
    docs = [synthetic_doc(f"d{i}", names, words) for i, (names, words) in enumerate(documents)]
    rng.shuffle(docs)
    # Profiles of two mentions, so that entities outgrow them, and context looking 3 mention ids
    # ahead, so that new documents move some earlier mentions and not others.
    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as patch:
        set_profile_rules(patch, PROFILE_MENTIONS=2, LOOKAHEAD=3)
        db = str(Path(tmp) / "kb.sqlite")
        start = 0
        while start < len(docs):
            size = rng.randint(1, 4)
            add_and_resolve(db, docs[start : start + size])
            start += size
            if remove and start < len(docs):
                victim = rng.choice(docs[:start])[0].doc_id
                if rng.random() < 0.5:
                    kb.remove_documents(db, ids=[victim])
                else:  # replaced by another text
                    add_and_resolve(db, [synthetic_doc(victim, [rng.randrange(len(SYNTHETIC_NAMES))], [0])])
            kept, made = kept_profiles(db)
            assert kept == made  # no profile sum is stale
        got = rows(db)
        assert got["wrong_counts"] == got["unresolved"] == 0
        assert got == from_scratch_rows(db, str(Path(tmp) / "copy.sqlite"))

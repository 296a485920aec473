import json
import math
import pickle
import warnings

import numpy
import pytest
import spacy
from spacy.lang.en import English
from spacy.language import Language
from spacy.tokens import Doc, DocBin, Span
from spacy.vocab import Vocab

from spacy_window_ner.extensions import install_extensions
from spacy_window_ner.relations import (
    EXTENSION,
    LEGACY_KEY,
    ROWS_EXTENSION,
    Relation,
    get_relations,
    has_relation_annotation,
    relation_tuples,
    relations_from_json,
    relations_to_json,
    set_relations,
)

from .mirrors import mirror_source

WORDS = ["John", "Smith", "works", "for", "Acme", "in", "Boston", "."]


@pytest.fixture
def doc():
    doc = Doc(Vocab(), words=WORDS)
    doc.ents = [Span(doc, 0, 2, "Peop"), Span(doc, 4, 5, "Org"), Span(doc, 6, 7, "Loc")]
    return doc


def make_relations(doc):
    peop, org, loc = doc.ents
    # Deliberately unsorted.
    return [
        Relation(org, loc, "OrgBased_In", 0.75),
        Relation(peop, org, "Work_For", 1.0),
        Relation(peop, loc, "Live_In", 0.25),
    ]


def as_keys(relations):
    return [
        (h.start, h.end, h.label_, t.start, t.end, t.label_, label, score)
        for h, t, label, score in relations
    ]


EXPECTED = [
    (0, 2, "Peop", 4, 5, "Org", "Work_For", 1.0),
    (0, 2, "Peop", 6, 7, "Loc", "Live_In", 0.25),
    (4, 5, "Org", 6, 7, "Loc", "OrgBased_In", 0.75),
]


def test_relations_relation_values(doc):
    head, tail = doc.ents[0], doc.ents[1]
    relation = Relation(head, tail, "Work_For", 0.5)
    assert relation.head is head
    assert relation.tail is tail
    assert relation.label == "Work_For"
    assert relation.score == 0.5
    assert Relation._fields == ("head", "tail", "label", "score")
    assert tuple(relation) == (head, tail, "Work_For", 0.5)


def test_relations_set_get_roundtrip(doc):
    set_relations(doc, make_relations(doc))
    relations = get_relations(doc)
    assert as_keys(relations) == EXPECTED
    assert all(isinstance(r, Relation) for r in relations)
    assert all(r.head.doc is doc and r.tail.doc is doc for r in relations)
    assert relations[0].head.text == "John Smith"


def test_relations_empty_doc_has_none(doc):
    assert get_relations(doc) == []
    assert relation_tuples(doc) == set()
    assert not has_relation_annotation(doc)
    assert doc._.swn_relations is None
    set_relations(doc, [])
    # Annotated with no relations: not the same as unannotated.
    assert has_relation_annotation(doc)
    assert doc._.swn_relations == []
    assert get_relations(doc) == []


def test_relations_stored_by_characters_as_span_extension_data(doc):
    set_relations(doc, make_relations(doc))
    stored = {key: value for key, value in doc.user_data.items() if key[1] == ROWS_EXTENSION}
    # Keyed by the head's characters, the tail relative to the head; plus the whole-text marker.
    assert stored == {
        ("._.", ROWS_EXTENSION, 0, 10): [["Peop", 21, 25, "Org", "Work_For", 1.0],
                                         ["Peop", 29, 35, "Loc", "Live_In", 0.25]],
        ("._.", ROWS_EXTENSION, 21, 25): [["Org", 8, 14, "Loc", "OrgBased_In", 0.75]],
        ("._.", ROWS_EXTENSION, 0, 37): [],
    }
    assert set(doc.user_data) == set(stored)
    assert doc.ents[0]._.swn_relation_rows == stored["._.", ROWS_EXTENSION, 0, 10]


def test_relations_set_replaces_previous(doc):
    set_relations(doc, make_relations(doc))
    peop, org, _ = doc.ents
    set_relations(doc, [Relation(org, peop, "Employs", 0.5)])
    assert as_keys(get_relations(doc)) == [(4, 5, "Org", 0, 2, "Peop", "Employs", 0.5)]


def test_relations_sorted_by_head_tail_label(doc):
    peop, org, loc = doc.ents
    set_relations(
        doc,
        [
            Relation(org, peop, "B", 0.1),
            Relation(peop, loc, "A", 0.1),
            Relation(peop, org, "Z", 0.1),
            Relation(peop, org, "A", 0.1),
            # Ties on (head.start, tail.start, label) are broken by the other offsets.
            Relation(Span(doc, 0, 1, "Peop"), loc, "A", 0.1),
        ],
    )
    order = [(r.head.start, r.tail.start, r.label, r.head.end) for r in get_relations(doc)]
    assert order == [(0, 4, "A", 2), (0, 4, "Z", 2), (0, 6, "A", 1), (0, 6, "A", 2), (4, 0, "B", 5)]


def test_relations_duplicates_keep_max_score(doc):
    peop, org, _ = doc.ents
    set_relations(
        doc,
        [
            Relation(peop, org, "Work_For", 0.25),
            Relation(Span(doc, 0, 2, "Peop"), Span(doc, 4, 5, "Org"), "Work_For", 0.75),
            Relation(peop, org, "Work_For", 0.5),
            # Same offsets but another head label: a different relation.
            Relation(Span(doc, 0, 2, "Org"), org, "Work_For", 0.125),
        ],
    )
    assert as_keys(get_relations(doc)) == [
        (0, 2, "Org", 4, 5, "Org", "Work_For", 0.125),
        (0, 2, "Peop", 4, 5, "Org", "Work_For", 0.75),
    ]


def test_relations_accepts_tuples_and_numeric_scores(doc):
    peop, org, loc = doc.ents
    set_relations(doc, [(peop, org, "Work_For", 1), (org, loc, "OrgBased_In", numpy.float32(0.5))])
    scores = [r.score for r in get_relations(doc)]
    assert scores == [1.0, 0.5]
    assert all(type(row[5]) is float for rows in doc.user_data.values() for row in rows)


@pytest.mark.parametrize(
    "make_bad,error,match",
    [
        (lambda d, s: (s[0], "John", "Work_For", 1.0), TypeError, "tail must be a Span"),
        (lambda d, s: (d[0], s[1], "Work_For", 1.0), TypeError, "head must be a Span"),
        (
            lambda d, s: (Span(Doc(d.vocab, words=WORDS), 0, 2), s[1], "Work_For", 1.0),
            ValueError,
            "different Doc",
        ),
        (lambda d, s: (Span(d, 3, 3), s[1], "Work_For", 1.0), ValueError, "empty span"),
        (lambda d, s: (s[0], s[1], "", 1.0), ValueError, "non-empty"),
        (lambda d, s: (s[0], s[1], 7, 1.0), TypeError, "label must be a str"),
        (lambda d, s: (s[0], s[1], "Work_For", "1.0"), TypeError, "score must be a float"),
        (lambda d, s: (s[0], s[1], "Work_For", True), TypeError, "score must be a float"),
        (lambda d, s: (s[0], s[1], "Work_For", math.nan), ValueError, r"finite number in \[0, 1\]"),
        (lambda d, s: (s[0], s[1], "Work_For", math.inf), ValueError, r"finite number in \[0, 1\]"),
        (lambda d, s: (s[0], s[1], "Work_For", 1.5), ValueError, r"finite number in \[0, 1\]"),
        (lambda d, s: (s[0], s[1], "Work_For", -0.1), ValueError, r"finite number in \[0, 1\]"),
        (lambda d, s: (s[0], s[1], "Work_For"), TypeError, "Expected a Relation"),
        (lambda d, s: None, TypeError, "Expected a Relation"),
    ],
)
def test_relations_set_rejects_invalid(doc, make_bad, error, match):
    set_relations(doc, make_relations(doc))
    bad = make_bad(doc, doc.ents)
    with pytest.raises(error, match=match):
        set_relations(doc, [make_relations(doc)[0], bad])
    # Nothing was written: the previous relations are intact.
    assert as_keys(get_relations(doc)) == EXPECTED


def test_relations_tuples_are_strict_keys(doc):
    set_relations(doc, make_relations(doc))
    assert relation_tuples(doc) == {key[:7] for key in EXPECTED}


def test_relations_doc_bytes_roundtrip(doc):
    set_relations(doc, make_relations(doc))
    new_doc = Doc(Vocab()).from_bytes(doc.to_bytes())
    assert as_keys(get_relations(new_doc)) == EXPECTED
    assert relation_tuples(new_doc) == relation_tuples(doc)
    assert get_relations(new_doc)[0].head.text == "John Smith"


def test_relations_docbin_roundtrip(doc):
    set_relations(doc, make_relations(doc))
    data = DocBin(store_user_data=True, docs=[doc]).to_bytes()
    (new_doc,) = DocBin().from_bytes(data).get_docs(Vocab())
    assert as_keys(get_relations(new_doc)) == EXPECTED
    assert relation_tuples(new_doc) == relation_tuples(doc)


def test_relations_doc_to_disk_roundtrip(doc, tmp_path):
    set_relations(doc, make_relations(doc))
    doc.to_disk(tmp_path / "doc")
    new_doc = Doc(Vocab()).from_disk(tmp_path / "doc")
    assert as_keys(get_relations(new_doc)) == EXPECTED




def texts(relations):
    return [(r.head.text, r.head.label_, r.label, r.tail.text, r.tail.label_, r.score) for r in relations]


EXPECTED_TEXTS = [
    ("John Smith", "Peop", "Work_For", "Acme", "Org", 1.0),
    ("John Smith", "Peop", "Live_In", "Boston", "Loc", 0.25),
    ("Acme", "Org", "OrgBased_In", "Boston", "Loc", 0.75),
]


def merge(*slices):
    def retokenize(doc):
        with doc.retokenize() as retokenizer:
            for start, end in slices:
                retokenizer.merge(doc[start:end])
    return retokenize


def split(i, pieces):
    def retokenize(doc):
        with doc.retokenize() as retokenizer:
            retokenizer.split(doc[i], pieces, heads=[(doc[i], 0)] * len(pieces))
    return retokenize


@pytest.mark.parametrize(
    "retokenize",
    [
        merge((0, 2)),  # as merge_entities does
        merge((0, 2), (2, 4)),  # "John Smith", "works for"
        split(6, ["Bos", "ton"]),  # inside an entity
        split(2, ["wor", "ks"]),
    ],
    ids=["merge-entity", "merge-several", "split-entity", "split-other"],
)
def test_relations_survive_retokenization(doc, retokenize):
    set_relations(doc, make_relations(doc))
    retokenize(doc)
    relations = get_relations(doc)
    assert texts(relations) == EXPECTED_TEXTS
    for relation in relations:
        assert relation.head.doc is doc and relation.tail.doc is doc
        assert relation.head.text == doc.text[relation.head.start_char:relation.head.end_char]


def test_relations_set_after_a_merge_survive_a_split(doc):
    merge((2, 4))(doc)  # "works for"
    peop, org, loc = doc.ents
    set_relations(doc, [Relation(peop, org, "Work_For", 1.0), Relation(peop, loc, "Live_In", 0.25)])
    split(0, ["Jo", "hn"])(doc)
    assert texts(get_relations(doc)) == EXPECTED_TEXTS[:2]
    assert [(r.head.start, r.head.end, r.tail.start) for r in get_relations(doc)] == [(0, 3, 4), (0, 3, 6)]


def test_relations_across_a_merge_are_dropped_with_a_warning(doc):
    set_relations(doc, make_relations(doc))
    merge((3, 5))(doc)  # "for Acme": Acme no longer starts on a token boundary
    with pytest.warns(UserWarning, match="no longer starts and ends on token boundaries") as record:
        relations = get_relations(doc)
    assert [str(w.message).split(":")[0] for w in record] == [
        "Dropped the relation 'John Smith' -Work_For-> 'Acme'",
        "Dropped the relation 'Acme' -OrgBased_In-> 'Boston'",
    ]
    assert texts(relations) == [EXPECTED_TEXTS[1]]


def test_relations_set_rejects_spans_from_before_a_retokenization(doc):
    set_relations(doc, make_relations(doc))
    old_ents = doc.ents
    merge((0, 2), (2, 4))(doc)  # 8 tokens -> 6
    for span in old_ents[1:]:  # Acme 4:5 is now "Boston", Boston 6:7 is past the end
        with pytest.raises(ValueError, match="before a retokenization"):
            set_relations(doc, [Relation(doc.ents[0], span, "Work_For", 1.0)])
    assert texts(get_relations(doc)) == EXPECTED_TEXTS  # nothing lost


def test_relations_doc_from_docs_shifts_them(doc):
    set_relations(doc, make_relations(doc))
    other = Doc(doc.vocab, words=["Mary", "visited", "Rome", "."])
    other.ents = [Span(other, 0, 1, "Peop"), Span(other, 2, 3, "Loc")]
    set_relations(other, [Relation(other.ents[0], other.ents[1], "Visit", 0.5)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # spaCy warns (W101, W102) for the user data it drops
        merged = Doc.from_docs([doc, Doc(doc.vocab, words=["Hi"]), other])
    relations = get_relations(merged)
    assert texts(relations) == EXPECTED_TEXTS + [("Mary", "Peop", "Visit", "Rome", "Loc", 0.5)]
    assert (relations[-1].head.start, relations[-1].tail.start) == (9, 11)


def test_relations_span_as_doc_keeps_those_inside(doc):
    set_relations(doc, make_relations(doc))
    part = doc[4:8].as_doc(copy_user_data=True)
    assert texts(get_relations(part)) == [EXPECTED_TEXTS[2]]
    assert [(r.head.start, r.tail.start) for r in get_relations(part)] == [(0, 2)]
    assert texts(get_relations(doc[0:5].as_doc(copy_user_data=True))) == [EXPECTED_TEXTS[0]]
    assert has_relation_annotation(doc[2:4].as_doc(copy_user_data=True))
    # Like every extension value, relations are copied only with copy_user_data=True.
    assert get_relations(doc[4:8].as_doc()) == []


def test_relations_to_json_from_json_roundtrip(doc):
    set_relations(doc, make_relations(doc))
    data = doc.to_json(underscore=[EXTENSION])
    assert json.loads(json.dumps(data)) == data
    assert data["_"][EXTENSION][0] == {
        "head": {"start": 0, "end": 10, "label": "Peop"},
        "tail": {"start": 21, "end": 25, "label": "Org"},
        "label": "Work_For",
        "score": 1.0,
    }
    new_doc = Doc(Vocab()).from_json(data)
    assert texts(get_relations(new_doc)) == EXPECTED_TEXTS


def test_relations_to_json_without_annotation(doc):
    data = doc.to_json(underscore=[EXTENSION])
    assert data["_"] == {EXTENSION: None}
    assert not has_relation_annotation(Doc(Vocab()).from_json(data))


@pytest.mark.parametrize(
    "change,error,match",
    [
        (lambda rel: rel["head"].update(end=9), ValueError, "characters 0:9"),
        (lambda rel: rel["tail"].update(start=200, end=210), ValueError, "not a span of tokens"),
        (lambda rel: rel.pop("tail"), TypeError, "Expected a relation as"),
        (lambda rel: rel.update(score=2.0), ValueError, r"finite number in \[0, 1\]"),
    ],
)
def test_relations_from_json_rejects_invalid(doc, change, error, match):
    set_relations(doc, make_relations(doc))
    data = doc.to_json(underscore=[EXTENSION])
    change(data["_"][EXTENSION][1])
    with pytest.raises(error, match=match):
        doc._.swn_relations = data["_"][EXTENSION]
    assert texts(get_relations(doc)) == EXPECTED_TEXTS  # nothing lost
    with pytest.raises(TypeError, match="use set_relations"):
        doc._.swn_relations = make_relations(doc)


def test_relations_pickle_roundtrip(doc):
    set_relations(doc, make_relations(doc))
    assert texts(get_relations(pickle.loads(pickle.dumps(doc)))) == EXPECTED_TEXTS


@Language.component("test_relations_between_entities")
def relate_neighbours(doc):
    set_relations(doc, [Relation(a, b, "NEXT", 0.5) for a, b in zip(doc.ents, doc.ents[1:])])
    return doc


def test_relations_multiprocessing_pipe():
    nlp = English()
    nlp.add_pipe("entity_ruler").add_patterns(
        [{"label": "PER", "pattern": "Alice"}, {"label": "ORG", "pattern": "Acme"}]
    )
    nlp.add_pipe("test_relations_between_entities")
    text = "Alice works for Acme ."
    (doc,) = nlp.pipe([text], n_process=2)
    assert texts(get_relations(doc)) == [("Alice", "PER", "NEXT", "Acme", "ORG", 0.5)]


SM = mirror_source("en_core_web_sm")
SM_TEXT = "Samuel Quinn was arrested in the Hilton Hotel in Paris in April 1989."


@pytest.fixture(scope="module")
def sm_relations():
    pytest.importorskip(SM)
    nlp = spacy.load(SM)
    nlp.add_pipe("test_relations_between_entities")
    return texts(get_relations(nlp(SM_TEXT)))


@pytest.mark.parametrize("merger", ["merge_entities", "merge_noun_chunks"])
@pytest.mark.parametrize("relations_first", [True, False])
def test_relations_sm_pipeline_with_mergers(sm_relations, merger, relations_first):
    nlp = spacy.load(SM)
    nlp.add_pipe("test_relations_between_entities")
    nlp.add_pipe(merger, before=None if relations_first else "test_relations_between_entities")
    doc = nlp(SM_TEXT)
    assert len(sm_relations) == 3
    assert texts(get_relations(doc)) == sm_relations
    assert len(doc) < len(nlp.make_doc(SM_TEXT))


def test_relations_install_extensions_idempotent():
    install_extensions()
    install_extensions()
    assert Doc.get_extension(EXTENSION) == (None, None, relations_to_json, relations_from_json)
    assert Span.get_extension(ROWS_EXTENSION) == (None, None, None, None)
    assert not Doc.has_extension("relations")  # the unprefixed name is left to others


def test_relations_leave_the_relations_name_to_others(doc):
    Doc.set_extension("relations", default="theirs")
    try:
        set_relations(doc, make_relations(doc))
        install_extensions()
        assert doc._.relations == "theirs"
        assert as_keys(get_relations(doc)) == EXPECTED
    finally:
        Doc.remove_extension("relations")


@pytest.mark.parametrize(
    "cls,name,kwargs",
    [
        (Doc, EXTENSION, {"default": None}),
        (Doc, EXTENSION, {"getter": lambda doc: "theirs"}),
        (Span, ROWS_EXTENSION, {"default": "theirs"}),
        (Span, ROWS_EXTENSION, {"getter": lambda span: "theirs"}),
    ],
)
def test_relations_install_extensions_conflict(doc, cls, name, kwargs):
    cls.remove_extension(name)
    cls.set_extension(name, **kwargs)
    try:
        with pytest.raises(ValueError, match=rf"{cls.__name__}\._\.{name} is already registered by other code"):
            install_extensions()
        assert cls.get_extension(name) == (kwargs.get("default"), None, kwargs.get("getter"), None)
    finally:
        cls.remove_extension(name)
        install_extensions()
    assert Doc.get_extension(EXTENSION)[2] is relations_to_json


def test_relations_extension_is_json(doc):
    set_relations(doc, make_relations(doc))
    assert doc._.swn_relations == relations_to_json(doc)
    doc._.swn_relations = relations_to_json(doc)[:1]
    assert texts(get_relations(doc)) == EXPECTED_TEXTS[:1]
    doc._.swn_relations = None
    assert not has_relation_annotation(doc)


def test_relations_reads_legacy_token_offsets(doc):
    # spacy-window-ner 0.1 stored token offsets in user_data: DocBins it wrote still read.
    doc.user_data[LEGACY_KEY] = [list(key) for key in EXPECTED]
    (old,) = DocBin().from_bytes(DocBin(store_user_data=True, docs=[doc]).to_bytes()).get_docs(doc.vocab)
    for legacy in (doc, old):
        assert has_relation_annotation(legacy)
        assert as_keys(get_relations(legacy)) == EXPECTED
    set_relations(old, get_relations(old)[:1])
    assert LEGACY_KEY not in old.user_data
    assert texts(get_relations(old)) == EXPECTED_TEXTS[:1]
    doc.user_data[LEGACY_KEY] = [[0, 2, "Peop", 6, 20, "Loc", "Live_In", 1.0]]
    with pytest.raises(ValueError, match="outside this doc of 8 tokens"):
        get_relations(doc)

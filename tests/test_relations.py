import math

import numpy
import pytest
from spacy.tokens import Doc, DocBin, Span
from spacy.vocab import Vocab

from spacy_window_ner.relations import (
    RELATIONS_KEY,
    Relation,
    get_relations,
    install_extensions,
    relation_tuples,
    set_relations,
)

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


@pytest.fixture
def no_extension():
    """Remove Doc._.relations for the test and leave it installed afterwards."""
    if Doc.has_extension("relations"):
        Doc.remove_extension("relations")
    yield
    install_extensions()


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
    set_relations(doc, [])
    assert doc.user_data[RELATIONS_KEY] == []
    assert get_relations(doc) == []


def test_relations_stored_as_plain_lists(doc):
    set_relations(doc, make_relations(doc))
    rows = doc.user_data[RELATIONS_KEY]
    assert rows == [list(key) for key in EXPECTED]
    for row in rows:
        assert [type(value) for value in row] == [int, int, str, int, int, str, str, float]


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
    assert all(type(row[7]) is float for row in doc.user_data[RELATIONS_KEY])


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


def test_relations_get_rejects_out_of_range_rows(doc):
    doc.user_data[RELATIONS_KEY] = [[0, 2, "Peop", 6, 20, "Loc", "Live_In", 1.0]]
    with pytest.raises(ValueError, match="outside this doc of 8 tokens"):
        get_relations(doc)


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


def test_relations_install_extensions_idempotent(no_extension):
    assert not Doc.has_extension("relations")
    install_extensions()
    install_extensions()
    default, method, getter, setter = Doc.get_extension("relations")
    assert getter is get_relations
    assert setter is set_relations
    assert default is None and method is None


def test_relations_install_extensions_keeps_existing(no_extension):
    Doc.set_extension("relations", default="theirs")
    install_extensions()
    assert Doc.get_extension("relations")[0] == "theirs"
    Doc.remove_extension("relations")


def test_relations_extension_getter_setter(no_extension, doc):
    install_extensions()
    assert doc._.relations == []
    doc._.relations = make_relations(doc)
    assert as_keys(doc._.relations) == EXPECTED
    assert as_keys(doc._.relations) == as_keys(get_relations(doc))
    with pytest.raises(ValueError, match="non-empty"):
        doc._.relations = [(doc.ents[0], doc.ents[1], "", 1.0)]

"""window_ner's confidences, stored by character offsets: they survive what users do to docs
(issue 12 points 6 and 7), and the knowledge base and visualize read them."""
import pickle
import sqlite3

import pytest
import spacy
from spacy.tokens import Doc, DocBin, Span

from spacy_window_ner import kb
from spacy_window_ner.confidences import EXTENSION, PENDING, entity_setters, get_confidences, set_confidences
from spacy_window_ner.extensions import install_extensions
from spacy_window_ner.render import visualize_html

from .util import NER_TEST_TEXTS, copy_ner_pipeline

TEXT = "Shaka Khan lives in London."
OTHER = "I like Berlin."


def by_text(doc):
    """(text, label) -> confidence, as get_confidences resolves it against the doc."""
    return {(doc.text[s:e], label): score for (s, e, label), score in get_confidences(doc).items()}


def from_group(doc):
    """(text, label) -> confidence, from the span group window_ner writes."""
    group = doc.spans["window_ner"]
    return {(span.text, span.label_): score for span, score in zip(group, group.attrs["scores"])}


@pytest.fixture(scope="module")
def predicted(trained):
    doc = trained(TEXT)
    expected = from_group(doc)
    assert set(expected) == {("Shaka Khan", "PERSON"), ("London", "LOC")}
    assert by_text(doc) == expected
    return doc, expected


def test_confidences_keyed_by_characters(predicted):
    doc, expected = predicted
    confidences = get_confidences(doc)
    for ent in doc.ents:
        assert confidences[(ent.start_char, ent.end_char, ent.label_)] == expected[(ent.text, ent.label_)]
    london = doc.ents[1]
    assert doc.user_data[("._.", EXTENSION, london.start_char, london.end_char)] == {"LOC": expected[("London", "LOC")]}


def test_confidences_doc_from_docs_shifts_them(trained, predicted):
    doc, expected = predicted
    other = trained(OTHER)
    merged = Doc.from_docs([other, doc])
    assert by_text(merged) == {**by_text(other), **expected}
    assert ("London", "LOC") in by_text(merged) and len(get_confidences(merged)) == len(get_confidences(other)) + 2


def test_confidences_span_as_doc_keeps_those_inside(predicted):
    doc, expected = predicted
    assert by_text(doc[3:5].as_doc(copy_user_data=True)) == {("London", "LOC"): expected[("London", "LOC")]}
    assert by_text(doc[0:4].as_doc(copy_user_data=True)) == {("Shaka Khan", "PERSON"): expected[("Shaka Khan", "PERSON")]}
    assert get_confidences(doc[1:4].as_doc(copy_user_data=True)) == {}


def test_confidences_to_json_from_json(trained, predicted):
    doc, expected = predicted
    data = doc.to_json(underscore=[EXTENSION])
    assert by_text(Doc(trained.vocab).from_json(data)) == expected


def test_confidences_docbin_and_pickle(trained, predicted):
    doc, expected = predicted
    doc_bin = DocBin(store_user_data=True, docs=[doc])
    (restored,) = DocBin().from_bytes(doc_bin.to_bytes()).get_docs(trained.vocab)
    assert by_text(restored) == expected
    assert by_text(pickle.loads(pickle.dumps(doc))) == expected
    assert by_text(Doc(trained.vocab).from_bytes(doc.to_bytes())) == expected


def test_confidences_multiprocessing_pipe(trained, predicted):
    _, expected = predicted
    docs = list(trained.pipe([TEXT, OTHER], n_process=2))
    # The same as the span group, which travels in the same way; another batch may differ
    # from the single doc in the last digits.
    for doc in docs:
        assert by_text(doc) == from_group(doc)
    assert by_text(docs[0]) == pytest.approx(expected, abs=1e-4)


def window_ner_then_merge(trained):
    nlp = spacy.blank("en")
    nlp.add_pipe("window_ner").from_bytes(trained.get_pipe("window_ner").to_bytes())
    nlp.add_pipe("merge_entities")
    return nlp


def test_confidences_survive_merge_entities(trained, predicted):
    _, expected = predicted
    doc = window_ner_then_merge(trained)(TEXT)
    assert [t.text for t in doc] == ["Shaka Khan", "lives", "in", "London", "."]
    assert by_text(doc) == expected
    # A retokenization across a span leaves it out.
    with doc.retokenize() as retokenizer:
        retokenizer.merge(doc[2:4])
    assert by_text(doc) == {("Shaka Khan", "PERSON"): expected[("Shaka Khan", "PERSON")]}


def test_confidences_kb_build_and_visualize_after_merge_entities(trained, predicted, tmp_path):
    _, expected = predicted
    nlp = window_ner_then_merge(trained)
    source = tmp_path / "texts.txt"
    source.write_text(f"{TEXT}\n{OTHER}\n", encoding="utf8")
    db = tmp_path / "kb.sqlite"
    kb.build_kb(nlp, [source], db, lines=True)
    with sqlite3.connect(db) as conn:
        rows = dict(((text, label), conf) for text, label, conf in conn.execute("SELECT text, label, confidence FROM mentions"))
    assert {key: rows[key] for key in expected} == pytest.approx(expected, abs=1e-4)  # batched with OTHER
    assert all(conf is not None for conf in rows.values())
    page = visualize_html([nlp(TEXT)])
    confidence = expected[("Shaka Khan", "PERSON")]
    assert f'title="PERSON · confidence {confidence:.6f}">Shaka Khan<span class="tag">PERSON' in page


def test_confidences_of_given_spans_are_those_of_all_for_them(trained, predicted):
    """get_confidences(doc, spans) looks the spans up by their keys: the entries get_confidences
    (doc) has for them, nothing for a span without one; spans of another doc are refused."""
    doc, _ = predicted
    everything = get_confidences(doc)
    spans = [*doc.ents, doc[1:3], Span(doc, 3, 4, label="ORG")]
    assert get_confidences(doc, doc.ents) == everything
    assert get_confidences(doc, spans) == everything
    assert get_confidences(doc, [doc.ents[1]]) == {key: v for key, v in everything.items() if key[2] == "LOC"}
    assert get_confidences(doc, []) == {}
    with pytest.raises(ValueError, match="spans of the doc"):
        get_confidences(doc, trained(TEXT).ents)
    merged = window_ner_then_merge(trained)(TEXT)
    assert get_confidences(merged, merged.ents) == get_confidences(merged) and len(merged.ents) == 2


def test_confidences_two_labels_on_the_same_text():
    nlp = spacy.blank("en")
    doc = nlp(TEXT)
    set_confidences(doc, [Span(doc, 3, 4, label="PERSON")], [0.25])
    set_confidences(doc, [Span(doc, 4, 5, label="LOC"), Span(doc, 4, 5, label="GPE")], [0.5, 0.75])
    set_confidences(doc, [Span(doc, 4, 5, label="LOC")], [0.625])
    assert by_text(doc) == {("in", "PERSON"): 0.25, ("London", "LOC"): 0.625, ("London", "GPE"): 0.75}
    assert doc[4:5]._.get(EXTENSION) == {"LOC": 0.625, "GPE": 0.75}


def test_confidences_get_leaves_out_invalid_stored_values():
    """Stored values that are no number in [0, 1] (written by another tool, or a hand-edited
    file read with from_json) are left out alike by get_confidences(doc) and get_confidences
    (doc, spans); an int is read as a float, a bool is no number."""
    doc = spacy.blank("en")(TEXT)
    values = {
        "A": 1, "B": 0.5, "C": float("nan"), "D": float("inf"), "E": "0.5", "F": None, "G": True, "H": 1.5, "I": -0.25,
    }
    doc.user_data[("._.", EXTENSION, 0, 5)] = values
    doc.user_data[("._.", EXTENSION, 20, 26)] = {"LOC": float("-inf")}
    expected = {(0, 5, "A"): 1.0, (0, 5, "B"): 0.5}
    found = get_confidences(doc)
    assert found == expected and all(type(score) is float for score in found.values())
    spans = [Span(doc, 0, 1, label=label) for label in values] + [Span(doc, 4, 5, label="LOC")]
    assert get_confidences(doc, spans) == expected


@pytest.mark.parametrize(
    "spans,scores,match",
    [
        (lambda doc, other: [Span(doc, 0, 1, label="X")], [1.5], r"in \[0, 1\]"),
        (lambda doc, other: [Span(doc, 0, 1, label="X")], [float("nan")], r"in \[0, 1\]"),
        (lambda doc, other: [Span(doc, 0, 1, label="X")], [0.5, 0.5], "one confidence per span"),
        (lambda doc, other: [Span(other, 0, 1, label="X")], [0.5], "spans of the doc"),
        (lambda doc, other: [Span(doc, 0, 1)], [0.5], "needs a label"),
    ],
)
def test_confidences_set_rejects_invalid(spans, scores, match):
    nlp = spacy.blank("en")
    doc, other = nlp(TEXT), nlp(TEXT)
    set_confidences(doc, [Span(doc, 0, 2, label="PERSON")], [0.5])
    with pytest.raises(ValueError, match=match):
        set_confidences(doc, spans(doc, other), scores)
    assert by_text(doc) == {("Shaka Khan", "PERSON"): 0.5}


def test_confidences_extension_name_conflict():
    Span.remove_extension(EXTENSION)
    Span.set_extension(EXTENSION, default="theirs")
    try:
        with pytest.raises(ValueError, match=rf"Span\._\.{EXTENSION} is already registered by other code"):
            install_extensions()
        assert Span.get_extension(EXTENSION)[0] == "theirs"
    finally:
        Span.remove_extension(EXTENSION)
        install_extensions()
    assert Span.get_extension(EXTENSION) == (None, None, None, None)


def test_confidences_entity_setters():
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.add_pipe("entity_ruler")
    nlp.add_pipe("span_ruler")
    nlp.add_pipe("window_ner", name="beside", config={"spans_key": "found"})
    nlp.add_pipe("window_rel")
    nlp.add_pipe("entity_ruler", name="late_ruler")
    assert entity_setters(nlp) == ["entity_ruler", "beside", "late_ruler"]
    assert entity_setters(nlp, before="window_rel") == ["entity_ruler", "beside"]
    assert entity_setters(nlp, spans_key="found", before="window_rel") == ["span_ruler", "beside"]
    assert entity_setters(spacy.blank("en")) == []
    with pytest.raises(ValueError, match="no component 'rel'"):
        entity_setters(nlp, before="rel")


@pytest.fixture(scope="module")
def lazy(trained):
    """A copy of the trained pipeline with confidences = "lazy"."""
    nlp = copy_ner_pipeline(trained)
    nlp.get_pipe("window_ner").confidences = "lazy"
    return nlp


def pending(doc):
    return [key for key in doc.user_data if key[1] == PENDING]


def stored(doc):
    return [key for key in doc.user_data if key[1] == EXTENSION]


def test_confidences_lazy_equal_the_eager_ones_exactly(trained, lazy):
    """Each doc decoded alone (as nlp(text) does), the lazy confidences are the eager ones to the
    last bit; computed on the first read, once, with the span group's attrs["scores"]."""
    for text in [TEXT, *NER_TEST_TEXTS, "London London London Khan Shaka", ""]:
        want, got = trained(text), lazy(text)
        assert [(e.start, e.end, e.label_) for e in got.ents] == [(e.start, e.end, e.label_) for e in want.ents]
        # A doc without entities has nothing to compute: its empty scores are there at once.
        assert got.spans["window_ner"].attrs.get("scores") == (None if got.ents else [])
        assert not stored(got) and len(pending(got)) == (1 if got.ents else 0)
        assert get_confidences(got) == get_confidences(want)
        assert got.spans["window_ner"].attrs["scores"] == want.spans["window_ner"].attrs["scores"]
        assert not pending(got) and len(stored(got)) == len(got.ents)
        assert get_confidences(got) == get_confidences(want)
    assert any(lazy(text).ents for text in NER_TEST_TEXTS)


def test_confidences_lazy_in_a_batch_are_computed_together_at_the_first_read(trained, lazy):
    """The first read computes the whole batch's, as the eager ones are computed (a doc's eager
    confidences differ in the last digits with the batch it is in, from the float32 sums); a doc
    that left the batch (copied, pickled, deserialized) computes its own, as if decoded alone."""
    texts = [TEXT, OTHER, "Shaka Khan", "London London London Khan Shaka", *NER_TEST_TEXTS]
    eager = [get_confidences(doc) for doc in trained.pipe(texts)]
    docs = list(lazy.pipe(texts))
    copied = pickle.loads(pickle.dumps(docs[1]))
    assert get_confidences(docs[0]) == eager[0]
    waiting = [doc for doc in docs if pending(doc)]
    assert waiting and all("probs" in doc.user_data[pending(doc)[0]]["window_ner"] for doc in waiting)
    assert [get_confidences(doc) for doc in docs] == eager
    assert get_confidences(copied) == pytest.approx(eager[1], abs=1e-4)
    assert get_confidences(copied) == get_confidences(trained(OTHER))


def test_confidences_lazy_survive_docbin_pickle_and_bytes(trained, lazy, predicted):
    """The deferred record travels with the user data, and is computed after the round trip."""
    _, expected = predicted
    doc_bin = DocBin(store_user_data=True, docs=[lazy(TEXT)])
    (restored,) = DocBin().from_bytes(doc_bin.to_bytes()).get_docs(trained.vocab)
    assert pending(restored) and "scores" not in restored.spans["window_ner"].attrs
    assert by_text(restored) == expected
    assert from_group(restored) == expected
    assert by_text(pickle.loads(pickle.dumps(lazy(TEXT)))) == expected
    assert by_text(Doc(trained.vocab).from_bytes(lazy(TEXT).to_bytes())) == expected
    # spaCy's default DocBin keeps no user data: neither the confidences nor what computes them.
    (bare,) = DocBin(docs=[lazy(TEXT)]).get_docs(trained.vocab)
    assert get_confidences(bare) == {} and "scores" not in bare.spans["window_ner"].attrs


def test_confidences_lazy_after_retokenize_from_docs_and_as_doc(trained, lazy, predicted):
    """Computed on the tokens they were decoded on, and resolved by characters as the eager ones."""
    _, expected = predicted
    nlp = window_ner_then_merge(lazy)
    doc = nlp(TEXT)
    assert [t.text for t in doc] == ["Shaka Khan", "lives", "in", "London", "."] and pending(doc)
    assert by_text(doc) == expected
    merged = Doc.from_docs([lazy(OTHER), lazy(TEXT)])
    assert by_text(merged) == {**by_text(trained(OTHER)), **expected}
    assert by_text(lazy(TEXT)[3:5].as_doc(copy_user_data=True)) == {("London", "LOC"): expected[("London", "LOC")]}


def test_confidences_lazy_kb_build_stores_them(lazy, predicted, tmp_path):
    _, expected = predicted
    source = tmp_path / "texts.txt"
    source.write_text(f"{TEXT}\n{OTHER}\n", encoding="utf8")
    db = tmp_path / "kb.sqlite"
    kb.build_kb(lazy, [source], db, lines=True)
    with sqlite3.connect(db) as conn:
        query = "SELECT text, label, confidence FROM mentions"
        rows = {(text, label): conf for text, label, conf in conn.execute(query)}
    assert {key: rows[key] for key in expected} == pytest.approx(expected, abs=1e-4)
    assert rows and all(conf is not None for conf in rows.values())


def test_confidences_lazy_then_set_confidences_keeps_the_order_of_writes(lazy):
    """A confidence set after the component ran replaces the deferred one, as it would the eager one."""
    doc = lazy(TEXT)
    set_confidences(doc, [doc.ents[1]], [0.5])
    assert by_text(doc)[("London", "LOC")] == 0.5 and not pending(doc)


def test_confidences_lazy_doc_that_travelled_resolves_before_a_write(trained, lazy):
    """set_confidences resolves the deferred record of a doc that left its batch (pickled, bytes,
    Doc.from_docs: nothing in memory says that it has one), so that the later write still wins;
    a doc without user data has nothing to resolve."""
    for doc in [
        pickle.loads(pickle.dumps(lazy(TEXT))),
        Doc(trained.vocab).from_bytes(lazy(TEXT).to_bytes()),
        Doc.from_docs([lazy(OTHER), lazy(TEXT)]),
    ]:
        assert pending(doc) and not stored(doc)
        london = [ent for ent in doc.ents if ent.text == "London"]
        set_confidences(doc, london, [0.5])
        assert not pending(doc) and by_text(doc)[("London", "LOC")] == 0.5
        assert get_confidences(doc, london) == {(london[0].start_char, london[0].end_char, "LOC"): 0.5}
        assert ("Shaka Khan", "PERSON") in by_text(doc)
    doc = spacy.blank("en")(TEXT)
    set_confidences(doc, [Span(doc, 4, 5, label="LOC")], [0.5])
    assert by_text(doc) == {("London", "LOC"): 0.5}


def test_confidences_lazy_broken_record_says_what_to_do(lazy):
    doc = lazy(TEXT)
    (key,) = pending(doc)
    del doc.user_data[key]["window_ner"]["emissions"]
    with pytest.raises(ValueError, match="cannot be computed.*Run the pipeline again"):
        get_confidences(doc)
    doc.user_data[key] = "junk"
    with pytest.raises(ValueError, match="changed by hand"):
        get_confidences(doc)

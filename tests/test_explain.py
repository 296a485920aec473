"""Gradient × input attributions through the WindowScorer's own backprop."""
import tracemalloc
from pathlib import Path

import numpy
import pytest
import spacy
from spacy.language import Language
from thinc.api import fix_random_seed

from spacy_window_ner.explain import entity_tags, explain, find_window_ner, gradient_x_input
from spacy_window_ner.layers.window_scorer import WindowScorer
from spacy_window_ner.legacy.layers import WindowScorer_v1, WindowScorer_v2

from .util import WINDOW_NER_TEXT as TEXT
from .util import param_node

# Explanations run through the layer's own backprop, whichever version built it: v3 chains
# its layers, v2 holds the hidden layer as a child, v1 (pipelines saved before v2) keeps W
# and b flat.
VERSIONS = {"v1": WindowScorer_v1, "v2": WindowScorer_v2, "v3": WindowScorer}


@pytest.fixture(scope="module", params=sorted(VERSIONS))
def window_ner_nlp(request, window_ner_pipelines) -> Language:
    return window_ner_pipelines(request.param)


@pytest.fixture(scope="module")
def window_ner_path(window_ner_nlp: Language, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("window_ner") / "pipeline"
    window_ner_nlp.to_disk(path)
    return path


def emission_score(scorer, X: numpy.ndarray, start: int, end: int, tag_ids) -> float:
    (S,) = scorer.predict([X])
    return float(S[numpy.arange(start, end), list(tag_ids)].sum())


def test_explain_one_per_entity_with_window(window_ner_nlp):
    doc = window_ner_nlp(TEXT)
    explanations = explain(window_ner_nlp, TEXT)
    assert [(e.text, e.label) for e in explanations] == [(ent.text, ent.label_) for ent in doc.ents]
    assert [(e.text, e.label) for e in explanations] == [("John Smith", "PER"), ("Acme", "ORG"), ("Boston", "LOC")]
    john, acme, boston = explanations
    assert john.tags == ["B-PER", "L-PER"] and acme.tags == ["U-ORG"]
    # The window is the entity ± k, clipped to the doc.
    assert [(w.text, w.position) for w in john.words] == [("John", 0), ("Smith", 0), ("works", 1), ("for", 2)]
    assert [w.position for w in acme.words] == [-2, -1, 0, 1, 2]
    assert [w.text for w in boston.words] == ["Acme", "in", "Boston", "."]
    assert all(0.0 < e.confidence <= 1.0 for e in explanations)


def test_explain_attributions_sum_to_the_scaling_derivative(window_ner_nlp):
    """sum_j a_j = d/dalpha s(alpha X) at alpha = 1 (chain rule). Central differences in
    float64 with h = 1e-4 err by about h^2 |s'''| / 6 (~1e-9 here) plus rounding
    ~1e-16 |s| / h (~1e-11), so rtol 1e-6 has a wide margin and still catches a wrong
    gradient (off by whole percents)."""
    pipe = find_window_ner(window_ner_nlp)
    doc = window_ner_nlp(TEXT)
    (X,) = pipe.model.get_ref("tok2vec").predict([doc])
    X = numpy.asarray(X, dtype="float64")
    scorer = pipe.model.get_ref("scorer")
    tag_ids = {tag: i for i, tag in enumerate(pipe.tags)}
    h = 1e-4
    for ent in explain(window_ner_nlp, TEXT):
        ids = [tag_ids[t] for t in ent.tags]
        assert ent.score == pytest.approx(emission_score(scorer, X, ent.start, ent.end, ids), rel=1e-5)
        up = emission_score(scorer, (1 + h) * X, ent.start, ent.end, ids)
        down = emission_score(scorer, (1 - h) * X, ent.start, ent.end, ids)
        assert ent.total == pytest.approx((up - down) / (2 * h), rel=1e-6, abs=1e-9)


@pytest.mark.parametrize("version", sorted(VERSIONS))
def test_explain_exact_for_an_affine_scorer(version):
    """With hard_tanh kept inside (-1, 1) the scorer is affine in X, so the attributions sum to
    s(X) - s(0) exactly (up to float64 rounding)."""
    fix_random_seed(1)
    scorer = VERSIONS[version](nO=5, nI=4, window_size=1, hidden_width=6, activation="hard_tanh")
    X = numpy.random.RandomState(0).uniform(-1, 1, (7, 4))
    scorer.initialize(X=[X.astype("f")])
    hidden, windows = param_node(scorer, "W"), param_node(scorer, "pad")
    hidden.set_param("W", hidden.get_param("W") * 0.05)
    windows.set_param("pad", windows.get_param("pad") * 0.05)
    # |z| <= max row sum of |W| (inputs in [-1, 1], b = 0), so hard_tanh is the identity here.
    assert numpy.abs(hidden.get_param("W")).sum(axis=1).max() < 1.0
    entities = [(0, 1, [2]), (2, 4, [0, 3]), (6, 7, [1])]
    for (start, end, ids), (score, a) in zip(entities, gradient_x_input(scorer, X, entities)):
        zero = emission_score(scorer, numpy.zeros_like(X), start, end, ids)
        assert score == pytest.approx(emission_score(scorer, X, start, end, ids), rel=1e-12)
        assert a.sum() == pytest.approx(score - zero, rel=1e-9, abs=1e-12)
        # One attribution per token of the window (the entity ± 1, clipped to the doc).
        assert len(a) == min(len(X), end + 1) - max(0, start - 1) and (a != 0.0).all()


def full_doc_gradient_x_input(scorer, X, entities):
    """The attributions by the definition: one backprop over the whole doc per entity
    (quadratic in the doc's length), every token's attribution."""
    layer = scorer.copy()
    X64 = numpy.asarray(X, dtype="float64")
    (S,), backprop = layer.begin_update([X64])
    results = []
    for start, end, tag_ids in entities:
        dS = numpy.zeros_like(S)
        dS[numpy.arange(start, end), list(tag_ids)] = 1.0
        (dX,) = backprop([dS])
        results.append((float(dS.ravel() @ S.ravel()), (dX * X64).sum(axis=1)))
    return results


@pytest.mark.parametrize("version", sorted(VERSIONS))
@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_explain_windows_equal_the_full_doc_backprop(version, activation):
    """Each entity's window, scored and backpropagated in one batch with the others, gives
    the scores and attributions of a backprop over the whole doc, at the doc's edges too,
    for overlapping windows, and zero attribution outside the window."""
    fix_random_seed(2)
    k = 2
    scorer = VERSIONS[version](nO=5, nI=4, window_size=k, hidden_width=6, activation=activation)
    X = numpy.random.RandomState(3).normal(size=(12, 4))
    scorer.initialize(X=[X.astype("f")])
    entities = [(0, 1, [2]), (1, 3, [0, 3]), (4, 5, [1]), (6, 9, [0, 4, 3]), (11, 12, [1])]
    for (start, end, _), (score, a), (full_score, full_a) in zip(
        entities, gradient_x_input(scorer, X, entities), full_doc_gradient_x_input(scorer, X, entities)
    ):
        lo, hi = max(0, start - k), min(len(X), end + k)
        assert score == pytest.approx(full_score, rel=1e-12)
        numpy.testing.assert_allclose(a, full_a[lo:hi], rtol=1e-12, atol=1e-15)
        assert (full_a[:lo] == 0.0).all() and (full_a[hi:] == 0.0).all()


def test_explain_memory_is_linear_in_the_doc():
    """1000 entities in a doc of 4000 tokens: each entity costs its window, not the doc
    (a gradient or an attribution per token of the doc per entity is 32 MB here, 12 MB is
    the bound)."""
    fix_random_seed(2)
    n = 4000
    scorer = WindowScorer(nO=5, nI=4, window_size=2, hidden_width=6)
    X = numpy.random.RandomState(3).normal(size=(n, 4))
    scorer.initialize(X=[X.astype("f")])
    entities = [(start, start + 1, [1]) for start in range(0, n, 4)]
    tracemalloc.start()
    try:
        results = gradient_x_input(scorer, X, entities)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [len(a) for _, a in results] == [3] + [5] * (len(entities) - 1)
    assert peak < 3000 * n  # bytes: about 3.5 kB per entity


def test_explain_words_equal_the_full_doc_backprop(window_ner_nlp):
    pipe = find_window_ner(window_ner_nlp)
    (X,) = pipe.model.get_ref("tok2vec").predict([window_ner_nlp(TEXT)])
    tag_ids = {tag: i for i, tag in enumerate(pipe.tags)}
    explanations = explain(window_ner_nlp, TEXT)
    entities = [(e.start, e.end, [tag_ids[t] for t in e.tags]) for e in explanations]
    for ent, (score, full_a) in zip(explanations, full_doc_gradient_x_input(pipe.model.get_ref("scorer"), X, entities)):
        assert ent.score == pytest.approx(score, rel=1e-12)
        assert [w.attribution for w in ent.words] == pytest.approx([full_a[w.index] for w in ent.words], rel=1e-12, abs=1e-15)


def test_explain_leaves_the_gradients_alone(window_ner_nlp):
    scorer = find_window_ner(window_ner_nlp).model.get_ref("scorer")

    def grads():
        return {
            (node.id, name): node.get_grad(name).copy()
            for node in scorer.walk() for name in node.param_names if node.has_grad(name)
        }

    before = grads()
    explain(window_ner_nlp, TEXT)
    after = grads()
    assert before.keys() == after.keys() and len(before) == 5
    for name in before:
        numpy.testing.assert_array_equal(before[name], after[name])


def test_explain_no_entities_and_empty(window_ner_nlp):
    assert explain(window_ner_nlp, "") == []
    assert gradient_x_input(find_window_ner(window_ner_nlp).model.get_ref("scorer"), numpy.zeros((0, 16)), []) == []


def test_explain_needs_window_ner():
    nlp = spacy.blank("en")
    nlp.add_pipe("entity_ruler")
    with pytest.raises(ValueError, match="has no window_ner component"):
        explain(nlp, TEXT)


def test_explain_entity_tags():
    assert entity_tags("PER", 1) == ["U-PER"]
    assert entity_tags("PER", 3) == ["B-PER", "I-PER", "L-PER"]

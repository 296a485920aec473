"""Gradient × input attributions through the WindowScorer's own backprop."""
from pathlib import Path

import numpy
import pytest
import spacy
from spacy.language import Language
from spacy.training import Example
from thinc.api import fix_random_seed

from spacy_window_ner.explain import entity_tags, explain, find_window_ner, gradient_x_input
from spacy_window_ner.layers.window_scorer import WindowScorer

TRAIN_DATA = [
    ("John Smith works for Acme in Boston.", [(0, 10, "PER"), (21, 25, "ORG"), (29, 35, "LOC")]),
    ("Mary lives in Paris.", [(0, 4, "PER"), (14, 19, "LOC")]),
    ("Acme hired Mary.", [(0, 4, "ORG"), (11, 15, "PER")]),
    ("Boston is near Salem.", [(0, 6, "LOC"), (15, 20, "LOC")]),
]
TEXT = "John Smith works for Acme in Boston."
WINDOW = 2


def train_window_ner(n_iter: int = 30) -> Language:
    """A small window_ner pipeline overfitted on TRAIN_DATA (well under a second)."""
    fix_random_seed(0)
    nlp = spacy.blank("en")
    tok2vec = {"width": 16, "rows": [500, 100, 100, 100]}
    nlp.add_pipe("window_ner", config={"model": {"hidden_width": 16, "window_size": WINDOW, "tok2vec": tok2vec}})
    examples = [Example.from_dict(nlp.make_doc(text), {"entities": ents}) for text, ents in TRAIN_DATA]
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(n_iter):
        nlp.update(examples, sgd=optimizer)
    return nlp


@pytest.fixture(scope="module")
def window_ner_nlp() -> Language:
    return train_window_ner()


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


def test_explain_exact_for_an_affine_scorer():
    """With hard_tanh kept inside (-1, 1) the scorer is affine in X, so the attributions sum to
    s(X) - s(0) exactly (up to float64 rounding)."""
    fix_random_seed(1)
    scorer = WindowScorer(nO=5, nI=4, window_size=1, hidden_width=6, activation="hard_tanh")
    X = numpy.random.RandomState(0).uniform(-1, 1, (7, 4))
    scorer.initialize(X=[X.astype("f")])
    scorer.set_param("W", scorer.get_param("W") * 0.05)
    scorer.set_param("pad", scorer.get_param("pad") * 0.05)
    # |z| <= max row sum of |W| (inputs in [-1, 1], b = 0), so hard_tanh is the identity here.
    assert numpy.abs(scorer.get_param("W")).sum(axis=1).max() < 1.0
    entities = [(2, 4, [0, 3]), (6, 7, [1])]
    for (start, end, ids), (score, a) in zip(entities, gradient_x_input(scorer, X, entities)):
        zero = emission_score(scorer, numpy.zeros_like(X), start, end, ids)
        assert score == pytest.approx(emission_score(scorer, X, start, end, ids), rel=1e-12)
        assert a.sum() == pytest.approx(score - zero, rel=1e-9, abs=1e-12)
        outside = numpy.ones(len(X), dtype=bool)
        outside[max(0, start - 1) : end + 1] = False
        assert (a[outside] == 0.0).all() and (a[~outside] != 0.0).all()


def test_explain_leaves_the_gradients_alone(window_ner_nlp):
    scorer = find_window_ner(window_ner_nlp).model.get_ref("scorer")
    before = {name: scorer.get_grad(name).copy() for name in scorer.param_names if scorer.has_grad(name)}
    explain(window_ner_nlp, TEXT)
    after = {name: scorer.get_grad(name) for name in scorer.param_names if scorer.has_grad(name)}
    assert before.keys() == after.keys()
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

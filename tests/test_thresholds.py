"""Threshold tuning: the best threshold of one label, and robust thresholds for labels with few relations."""
import numpy
import pytest
from spacy.tokens import DocBin

from spacy_window_ner.tuning import (
    DevScores, best_threshold, copy_tuning, cross_validated_f, merge_scores, pick_thresholds, relation_f,
    tune_recall_bias, tuned_vector,
)

from .util import copy_ner_pipeline as copy_pipeline, make_ner_examples as make_examples


def test_thresholds_best_threshold():
    probs = numpy.asarray([0.9, 0.8, 0.4, 0.3, 0.1])
    gold = numpy.asarray([1, 0, 1, 0, 0])
    # Cutting after 0.4: tp 2, predicted 3 -> F1 0.8, better than after 0.9 (2/3).
    assert best_threshold(probs, gold, 2) == pytest.approx(0.35)
    assert best_threshold(probs, numpy.zeros(5), 0) is None
    # Ties can't be split.
    assert best_threshold(numpy.asarray([0.5, 0.5, 0.2]), numpy.asarray([1, 0, 0]), 1) == pytest.approx(0.35)


# The picks without the floor on thresholds (min_threshold), as before issue 28: the tests of
# min_support and shrinkage need a label whose own best cut is near 0.
NO_FLOOR = {"min_threshold": 0.0}


def test_thresholds_best_threshold_floor():
    """The threshold is the best cut at or above min_threshold: one dev relation scored near 0
    can't pull it there (CoNLL04's Kill at 0.01)."""
    probs = numpy.asarray([0.9, 0.08, 0.06])
    gold = numpy.asarray([1, 1, 0])
    # Without a floor, cutting after 0.08 finds both: F1 1.0 at 0.07.
    assert best_threshold(probs, gold, 2, min_threshold=0.0) == pytest.approx(0.07)
    # With one, the cut after 0.9 is the best allowed: midway to the next probability...
    assert best_threshold(probs, gold, 2, min_threshold=0.1) == pytest.approx(0.49)
    # ... or the floor, where that is lower.
    assert best_threshold(probs, gold, 2, min_threshold=0.6) == pytest.approx(0.6)
    # No correct relation at or above the floor: no threshold (the label keeps its own).
    assert best_threshold(probs, gold, 2, min_threshold=0.95) is None
    # The default floor applies, and a cut above it is not moved.
    assert best_threshold(probs, gold, 2) == pytest.approx(0.49)
    assert best_threshold(numpy.asarray([0.9, 0.8, 0.4, 0.3]), numpy.asarray([1, 0, 1, 0]), 2) == pytest.approx(0.35)
    for bad in (-0.1, 1.0):
        with pytest.raises(ValueError, match="min_threshold"):
            best_threshold(probs, gold, 2, min_threshold=bad)


def test_thresholds_floor_in_every_way_of_tuning():
    scores = two_label_scores()
    # Label 1's own best cut is below 0.05 without a floor; with the default one it has no correct
    # relation at or above it, so it keeps its threshold.
    assert pick_thresholds(scores, **NO_FLOOR)[1] < 0.05
    assert pick_thresholds(scores)[1] is None
    for options in ({}, {"shared": True}, {"min_support": 3}, {"shrinkage": 2.0}):
        assert tuned_vector(scores, min_threshold=0.3, **options).min() >= 0.3, options


def two_label_scores():
    """Label 0: 20 gold relations, its best cut after 0.6. Label 1: 2 gold relations, one
    found at 0.05 among negatives above it: its own best cut (0.025) lets them all in."""
    probs = numpy.zeros((30, 2))
    gold = numpy.zeros((30, 2))
    probs[:, 0] = numpy.linspace(0.99, 0.01, 30)
    gold[:20, 0] = 1
    probs[:10, 1] = numpy.linspace(0.9, 0.1, 10)
    probs[10, 1] = 0.05
    gold[10, 1] = 1
    return DevScores(probs, gold, numpy.asarray([20.0, 2.0]))


def test_thresholds_pick_thresholds_min_support():
    scores = two_label_scores()
    own = pick_thresholds(scores, **NO_FLOOR)
    shared = best_threshold(scores.probs.ravel(), scores.gold.ravel(), scores.n_gold.sum(), **NO_FLOOR)
    assert own == [best_threshold(scores.probs[:, l], scores.gold[:, l], scores.n_gold[l], **NO_FLOOR) for l in (0, 1)]
    assert own[1] < 0.1 < shared
    # Label 1 has 2 gold relations: below a support of 3 it takes the shared threshold.
    assert pick_thresholds(scores, min_support=3, **NO_FLOOR) == [own[0], shared]
    assert pick_thresholds(scores, min_support=2, **NO_FLOOR) == own
    assert pick_thresholds(scores, min_support=21, **NO_FLOOR) == [shared, shared]


def test_thresholds_pick_thresholds_shrinkage():
    scores = two_label_scores()
    own = pick_thresholds(scores, **NO_FLOOR)
    shared = best_threshold(scores.probs.ravel(), scores.gold.ravel(), scores.n_gold.sum(), **NO_FLOOR)
    shrunk = pick_thresholds(scores, shrinkage=2.0, **NO_FLOOR)
    # t = (n t_label + 2 t_shared) / (n + 2): the label with 2 relations moves halfway.
    assert shrunk[0] == pytest.approx((20 * own[0] + 2 * shared) / 22)
    assert shrunk[1] == pytest.approx((own[1] + shared) / 2)
    assert abs(shrunk[1] - shared) < abs(own[1] - shared)
    with pytest.raises(ValueError, match="shrinkage"):
        pick_thresholds(scores, shrinkage=-1.0)
    with pytest.raises(ValueError, match="min_support"):
        pick_thresholds(scores, min_support=-1)


def test_thresholds_pick_thresholds_label_without_a_correct_one():
    scores = two_label_scores()
    scores.gold[:, 1] = 0
    # No threshold finds a relation of label 1: it keeps its threshold (None), unless it
    # lacks the support for its own.
    assert pick_thresholds(scores, shrinkage=1.0, **NO_FLOOR)[1] is None
    assert pick_thresholds(scores, min_support=3, **NO_FLOOR)[1] == best_threshold(
        scores.probs.ravel(), scores.gold.ravel(), scores.n_gold.sum(), **NO_FLOOR
    )


def test_thresholds_relation_f():
    # Label 0: 2 of 3 predictions right, 1 gold relation without a candidate (4 gold).
    # Label 1: nothing predicted, 1 gold. Label 2: no gold, nothing predicted (not in macro).
    probs = numpy.asarray([[0.9, 0.1, 0.0], [0.8, 0.2, 0.1], [0.7, 0.0, 0.0], [0.1, 0.3, 0.0]])
    gold = numpy.asarray([[1, 0, 0], [1, 0, 0], [0, 0, 0], [1, 1, 0]])
    scores = DevScores(probs, gold, numpy.asarray([4.0, 1.0, 0.0]))
    micro, macro = relation_f(scores, [0.5, 0.5, 0.5])
    assert micro == pytest.approx(2 * 2 / (3 + 5))
    assert macro == pytest.approx((2 * 2 / (3 + 4) + 0.0) / 2)
    # A label that only predicts wrongly counts in macro.
    micro, macro = relation_f(scores, [0.5, 0.5, 0.05])
    assert macro == pytest.approx((2 * 2 / (3 + 4) + 0.0 + 0.0) / 3)
    assert relation_f(DevScores(numpy.zeros((0, 1)), numpy.zeros((0, 1)), numpy.zeros(1)), [0.5]) == (0.0, 0.0)


def test_thresholds_cross_validated_f():
    scores = two_label_scores()
    # Two folds: every other candidate, each with half the gold relations.
    folds = [
        DevScores(scores.probs[k::2], scores.gold[k::2], scores.gold[k::2].sum(axis=0)) for k in (0, 1)
    ]
    assert merge_scores(folds).n_gold.tolist() == scores.gold.sum(axis=0).tolist()
    assert len(merge_scores(folds).probs) == len(scores.probs)
    # By hand: per-label thresholds tuned on one fold, counted on the other.
    tp = n_pred = n_gold = 0.0
    for k in (0, 1):
        thresholds = tuned_vector(folds[1 - k])
        predicted = folds[k].probs >= thresholds
        tp += (predicted & (folds[k].gold > 0)).sum()
        n_pred += predicted.sum()
        n_gold += folds[k].n_gold.sum()
    assert cross_validated_f(folds) == pytest.approx(2 * tp / (n_pred + n_gold))
    assert tuned_vector(scores, shared=True).tolist() == [
        best_threshold(scores.probs.ravel(), scores.gold.ravel(), scores.n_gold.sum())
    ] * 2
    assert cross_validated_f(folds, shared=True) != cross_validated_f(folds)
    with pytest.raises(ValueError, match="at least 2 folds"):
        cross_validated_f(folds[:1])


def dev_file(nlp, tmp_path):
    path = tmp_path / "dev.spacy"
    DocBin(docs=[eg.reference for eg in make_examples(nlp)]).to_disk(path)
    return path


def test_thresholds_tune_recall_bias_picks_the_best_grid_value(trained, tmp_path):
    nlp = copy_pipeline(trained)
    ner = nlp.get_pipe("window_ner")
    dev = dev_file(nlp, tmp_path)
    grid = [-1000.0, 1.0, 1000.0]
    results = tune_recall_bias(nlp, dev, grid=grid)
    assert [r.bias for r in results] == grid
    # No entity at all, then one entity per token (the bias is paid once per entity).
    assert results[0].f == 0.0 and results[-1].p < 1.0
    n_words = sum(len(eg.reference) for eg in make_examples(nlp))
    assert (results[0].n_ents, results[0].n_tokens) == (0, 0)
    assert results[1].n_ents < results[-1].n_ents == results[-1].n_tokens == n_words
    assert ner.recall_bias == max(results, key=lambda r: r.f).bias == 1.0
    # The scores at each value are those nlp.evaluate gives with that bias.
    for result in results:
        ner.recall_bias = result.bias
        scores = nlp.evaluate(make_examples(nlp))
        assert (scores["ents_p"], scores["ents_r"], scores["ents_f"]) == pytest.approx((result.p, result.r, result.f))
    # Ties go to the value closest to 0: the model's own decoding is perfect here.
    results = tune_recall_bias(nlp, dev, grid=[-0.01, 0.0, 0.01])
    assert [r.f for r in results] == [1.0, 1.0, 1.0] and ner.recall_bias == 0.0


def test_thresholds_tune_recall_bias_bad_input(trained, tmp_path):
    nlp = copy_pipeline(trained)
    dev = dev_file(nlp, tmp_path)
    with pytest.raises(ValueError, match="recall_bias of window_ner must be a finite number"):
        tune_recall_bias(nlp, dev, grid=[0.0, float("nan")])
    with pytest.raises(ValueError, match="grid of recall biases to try is empty"):
        tune_recall_bias(nlp, dev, grid=[])
    with pytest.raises(ValueError, match="Can't find the component 'ner'"):
        tune_recall_bias(nlp, dev, "ner")
    empty = tmp_path / "empty.spacy"
    DocBin(docs=[nlp.make_doc("Nothing to see here.")]).to_disk(empty)
    with pytest.raises(ValueError, match="no gold entities"):
        tune_recall_bias(nlp, empty)
    assert nlp.get_pipe("window_ner").recall_bias == 0.0


def test_thresholds_copy_tuning_needs_the_same_labels(trained):
    """The recall bias of window_ner is copied; a component with other labels is refused."""
    source, target = copy_pipeline(trained), copy_pipeline(trained)
    source.get_pipe("window_ner").recall_bias = 1.5
    assert copy_tuning(source, target) == {"window_ner": "recall_bias 1.5"}
    assert target.get_pipe("window_ner").recall_bias == 1.5
    # Label order comes from the training data; the same labels in another order fit.
    labels = source.get_pipe("window_ner").cfg["labels"]
    source.get_pipe("window_ner").cfg["labels"] = list(reversed(labels))
    assert copy_tuning(source, target) == {"window_ner": "recall_bias 1.5"}
    source.get_pipe("window_ner").cfg["labels"] = ["U-ORG", "O"]
    with pytest.raises(ValueError, match="labels of 'window_ner' differ"):
        copy_tuning(source, target)

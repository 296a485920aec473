"""Threshold tuning: the best threshold of one label."""
import numpy
import pytest

from spacy_window_ner.thresholds import best_threshold


def test_thresholds_best_threshold():
    probs = numpy.asarray([0.9, 0.8, 0.4, 0.3, 0.1])
    gold = numpy.asarray([1, 0, 1, 0, 0])
    # Cutting after 0.4: tp 2, predicted 3 -> F1 0.8, better than after 0.9 (2/3).
    assert best_threshold(probs, gold, 2) == pytest.approx(0.35)
    assert best_threshold(probs, numpy.zeros(5), 0) is None
    # Ties can't be split.
    assert best_threshold(numpy.asarray([0.5, 0.5, 0.2]), numpy.asarray([1, 0, 0]), 1) == pytest.approx(0.35)

import itertools

import numpy
import pytest
from numpy.testing import assert_allclose
from thinc.api import use_ops

from spacy_window_ner.gradcheck import check_gradients
from spacy_window_ner.decoding import span_probabilities, spans_from_paths, viterbi
from spacy_window_ner.layers.batching import pad
from spacy_window_ner.layers.crf import LinearChainCRF, allowed_transitions, forward_backward, potentials

N_TAGS = 9  # two labels


def make_crf(seed=0):
    with use_ops("numpy", use_blis=False):
        model = LinearChainCRF(N_TAGS)
    model.initialize()
    rng = numpy.random.RandomState(seed)
    for name in ("T", "start", "end"):
        model.set_param(name, rng.normal(size=model.get_param(name).shape).astype("f"))
    return model


def gold_mask(tags, n_tags=N_TAGS):
    """One-hot rows for known tags, all ones where the tag is None (missing)."""
    mask = numpy.zeros((len(tags), n_tags), dtype="int32")
    for i, tag in enumerate(tags):
        if tag is None:
            mask[i] = 1
        else:
            mask[i, tag] = 1
    return mask


def all_paths(n, n_tags=N_TAGS):
    allowed, can_start, can_end = allowed_transitions((n_tags - 1) // 4)
    for path in itertools.product(range(n_tags), repeat=n):
        if can_start[path[0]] and can_end[path[-1]] and all(
            allowed[a, b] for a, b in zip(path[:-1], path[1:])
        ):
            yield path


def path_score(E, T, start, end, path):
    score = start[path[0]] + end[path[-1]] + sum(E[t, y] for t, y in enumerate(path))
    return score + sum(T[a, b] for a, b in zip(path[:-1], path[1:]))


@pytest.mark.parametrize(
    "golds",
    [
        [[1, 3, 0]],
        [[0], [4, 0, 5, 7], []],
        [[None, 3, None, 8]],  # partially annotated
    ],
)
def test_crf_gradients(golds):
    model = make_crf()
    rng = numpy.random.RandomState(1)
    scores = [rng.normal(size=(len(g), N_TAGS)).astype("f") for g in golds]
    errors = check_gradients(model, (scores, [gold_mask(g) for g in golds]))
    assert set(errors) == {"crf.T", "crf.start", "crf.end", "input"}
    assert max(errors.values()) < 1e-5, errors


def test_crf_loss_is_negative_log_likelihood():
    model = make_crf()
    rng = numpy.random.RandomState(2)
    E = rng.normal(size=(3, N_TAGS))
    gold = [1, 3, 4]
    loss, _ = model((([E.astype("f")]), [gold_mask(gold)]), is_train=False)
    T, start, end = (numpy.asarray(a, dtype="float64") for a in potentials(model))
    scores = {p: path_score(E, T, start, end, p) for p in all_paths(3)}
    log_Z = numpy.log(sum(numpy.exp(s) for s in scores.values()))
    assert_allclose(loss[0], log_Z - scores[tuple(gold)], rtol=1e-4)


def test_crf_partial_gold_marginalizes_missing_tags():
    model = make_crf()
    E = numpy.random.RandomState(3).normal(size=(2, N_TAGS)).astype("f")
    loss, _ = model(([E], [gold_mask([None, None])]), is_train=False)
    assert_allclose(loss, [0.0], atol=1e-5)


def test_crf_span_probabilities_match_brute_force():
    model = make_crf()
    ops = model.ops
    E = numpy.random.RandomState(4).normal(size=(4, N_TAGS))
    E[0, 4] += 3.0  # U-0, then B-1 L-1 at the end
    E[2, 5] += 2.0
    E[3, 7] += 2.0
    T, start, end = (numpy.asarray(a, dtype="float64") for a in potentials(model))
    E3 = pad(ops, [E], N_TAGS)
    lengths = ops.asarray1i([4])
    paths = viterbi(ops, E3, lengths, T, start, end)
    path = paths[0]
    docs, starts, ends, _ = spans_from_paths(paths)
    assert len(starts) >= 2
    probs = span_probabilities(ops, E3, lengths, T, start, end, paths, (docs, starts, ends))
    scores = {p: numpy.exp(path_score(E, T, start, end, p)) for p in all_paths(4)}
    Z = sum(scores.values())
    for s, e, prob in zip(starts, ends, probs):
        expected = sum(v for p, v in scores.items() if tuple(p[s:e]) == tuple(path[s:e])) / Z
        assert_allclose(prob, expected, rtol=1e-6)
    messages = forward_backward(ops, E3, lengths, T, start, end)
    assert_allclose(messages.log_Z[0], numpy.log(Z), rtol=1e-10)


def test_crf_infers_size_and_rejects_non_biluo_sizes():
    model = LinearChainCRF()
    model.initialize(X=([numpy.zeros((2, 5), "f")], [numpy.ones((2, 5), "i")]))
    assert model.get_param("T").shape == (5, 5)
    with pytest.raises(ValueError, match="BILUO"):
        LinearChainCRF(6).initialize()

import itertools

import numpy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from thinc.api import NumpyOps

from spacy_window_ner.decoding import deferred_span_probabilities, deferred_span_probabilities_batch, path_from_spans
from spacy_window_ner.decoding import span_probabilities
from spacy_window_ner.decoding import spans_from_paths, viterbi
from spacy_window_ner.layers.batching import pad
from spacy_window_ner.layers.crf import allowed_transitions
from spacy_window_ner.tags import biluo_tags

OPS = NumpyOps()


def is_valid(path, n_labels):
    allowed, can_start, can_end = allowed_transitions(n_labels)
    if len(path) == 0:
        return True
    return (
        can_start[path[0]]
        and can_end[path[-1]]
        and all(allowed[a, b] for a, b in zip(path[:-1], path[1:]))
    )


def brute_force_best(E, T, start, end):
    n, n_tags = E.shape
    best, best_path = -numpy.inf, None
    for path in itertools.product(range(n_tags), repeat=n):
        score = start[path[0]] + end[path[-1]] + sum(E[t, y] for t, y in enumerate(path))
        score += sum(T[a, b] for a, b in zip(path[:-1], path[1:]))
        if score > best:
            best, best_path = score, path
    return list(best_path)


def constrained(n_labels, rng):
    allowed, can_start, can_end = allowed_transitions(n_labels)
    n_tags = len(can_start)
    T = numpy.where(allowed, rng.normal(size=(n_tags, n_tags)), -1e4)
    start = numpy.where(can_start, rng.normal(size=n_tags), -1e4)
    end = numpy.where(can_end, rng.normal(size=n_tags), -1e4)
    return T, start, end


@pytest.mark.parametrize("biluo", [False, True])
def test_decoding_viterbi_matches_brute_force(biluo):
    rng = numpy.random.RandomState(0)
    T, start, end = constrained(1, rng)
    lengths = [4, 1, 3, 0, 2]
    docs = [rng.normal(size=(n, 5)) for n in lengths]
    paths = viterbi(OPS, pad(OPS, docs, 5), OPS.asarray1i(lengths), T, start, end, biluo=biluo)
    assert paths.shape == (5, 4)
    for doc, path, n in zip(docs, paths, lengths):
        if n:
            assert list(path[:n]) == brute_force_best(doc, T, start, end)
        assert not path[n:].any()


@settings(max_examples=60, deadline=None)
@given(
    lengths=st.lists(st.integers(0, 12), min_size=1, max_size=6),
    n_labels=st.integers(0, 4),
    seed=st.integers(0, 2**16),
    ties=st.booleans(),
)
def test_decoding_viterbi_biluo_step_gives_the_same_paths(lengths, n_labels, seed, ties):
    """The BILUO step (only the allowed transitions) and the dense step (every transition, the
    forbidden ones scored -1e4) find the same paths, ties included (rounded scores make many)."""
    rng = numpy.random.RandomState(seed)
    n_tags = 1 + 4 * n_labels
    T, start, end = (a.astype("f") for a in constrained(n_labels, rng))
    docs = [rng.normal(size=(n, n_tags)).astype("f") for n in lengths]
    if ties:
        T, start, end, docs = numpy.round(T), numpy.round(start), numpy.round(end), [numpy.round(d) for d in docs]
    E, n = pad(OPS, docs, n_tags), OPS.asarray1i(lengths)
    dense = viterbi(OPS, E, n, T, start, end)
    assert numpy.array_equal(viterbi(OPS, E, n, T, start, end, biluo=True), dense)


@pytest.mark.parametrize("biluo", [False, True])
@pytest.mark.parametrize("n_labels", [0, 1, 3])
def test_decoding_viterbi_ties_decode_to_outside(n_labels, biluo):
    """An untrained window_ner scores every tag alike: the constrained Viterbi then picks "O"."""
    allowed, can_start, can_end = allowed_transitions(n_labels)
    T, start, end = (numpy.where(a, 0.0, -1e4) for a in (allowed, can_start, can_end))
    lengths = [5, 1, 3]
    E = OPS.alloc3f(len(lengths), 5, len(can_start))
    assert not viterbi(OPS, E, OPS.asarray1i(lengths), T, start, end, biluo=biluo).any()


def test_decoding_labels_with_hyphens_and_spaces():
    """Tag names are only names: spans come from tag ids, so any label works."""
    labels = ["creative-work", "B-ORG", "WORK OF ART"]
    tags = biluo_tags(labels)
    path = [tags.index(t) for t in ["U-B-ORG", "O", "B-creative-work", "L-creative-work", "U-WORK OF ART"]]
    docs, starts, ends, label_ids = spans_from_paths(numpy.asarray([path]))
    assert [(int(s), int(e), labels[int(i)]) for s, e, i in zip(starts, ends, label_ids)] == [
        (0, 1, "B-ORG"), (2, 4, "creative-work"), (4, 5, "WORK OF ART")
    ]


@settings(max_examples=60, deadline=None)
@given(
    lengths=st.lists(st.integers(0, 12), min_size=1, max_size=5),
    n_labels=st.integers(1, 3),
    seed=st.integers(0, 2**16),
    scale=st.sampled_from([0.1, 10.0, 1000.0]),
)
def test_decoding_viterbi_never_emits_invalid_paths(lengths, n_labels, seed, scale):
    rng = numpy.random.RandomState(seed)
    n_tags = 1 + 4 * n_labels
    T, start, end = constrained(n_labels, rng)
    docs = [(rng.normal(size=(n, n_tags)) * scale).astype("f") for n in lengths]
    for biluo in (False, True):
        paths = viterbi(OPS, pad(OPS, docs, n_tags), OPS.asarray1i(lengths), T, start, end, biluo=biluo)
        for path, n in zip(paths, lengths):
            assert is_valid(list(path[:n]), n_labels)
            assert not path[n:].any()
        spans_from_paths(paths)


def test_decoding_spans_from_paths():
    # O B-0 I-0 L-0 U-1 O U-0 / U-1 O O O O O O (padded)
    paths = numpy.array([[0, 1, 2, 3, 8, 0, 4], [8, 0, 0, 0, 0, 0, 0]])
    docs, starts, ends, labels = spans_from_paths(paths)
    assert list(zip(docs, starts, ends, labels)) == [
        (0, 1, 4, 0), (0, 4, 5, 1), (0, 6, 7, 0), (1, 0, 1, 1)
    ]
    with pytest.raises(ValueError, match="Invalid BILUO"):
        spans_from_paths(numpy.array([1, 0]))
    with pytest.raises(ValueError, match="Invalid BILUO"):
        spans_from_paths(numpy.array([[0, 1], [3, 0]]))  # B at one doc's end, L at the next's start


def test_decoding_path_from_spans_inverts_spans_from_paths():
    path = numpy.array([0, 1, 2, 3, 8, 0, 4], dtype="int32")
    _, starts, ends, labels = spans_from_paths(path[None])
    assert path_from_spans(len(path), starts, ends, labels).tolist() == path.tolist()
    with pytest.raises(ValueError, match="does not fit a doc of 3 tokens"):
        path_from_spans(3, numpy.array([2]), numpy.array([4]), numpy.array([0]))


def test_decoding_deferred_span_probabilities_are_those_of_the_doc_alone():
    """From the doc's own scores and its spans, the same numbers as span_probabilities over the
    doc alone, to the last bit; refused where the shapes or label ids do not fit."""
    ops = NumpyOps()
    rng = numpy.random.RandomState(3)
    T, start, end = (a.astype("float32") for a in constrained(2, rng))
    E = rng.normal(size=(1, 9, 9)).astype("float32") * 3
    lengths = ops.asarray1i([9])
    paths = viterbi(ops, E, lengths, T, start, end, biluo=True)
    docs, starts, ends, labels = spans_from_paths(paths)
    assert len(docs)
    want = span_probabilities(ops, E, lengths, T, start, end, paths, (docs, starts, ends))
    potentials = numpy.concatenate([T, start[None], end[None]])
    got = deferred_span_probabilities(E[0], potentials, starts, ends, labels)
    assert got.tolist() == want.tolist()
    with pytest.raises(ValueError, match="potentials"):
        deferred_span_probabilities(E[0], potentials[:-1], starts, ends, labels)
    with pytest.raises(ValueError, match="label ids"):
        deferred_span_probabilities(E[0], potentials, starts, ends, labels + 5)


def test_decoding_deferred_span_probabilities_batch_is_the_batch_computation():
    """Docs of several lengths at once: the numbers span_probabilities gives over the same padded
    batch, to the last bit, split per doc."""
    ops = NumpyOps()
    rng = numpy.random.RandomState(4)
    T, start, end = (a.astype("float32") for a in constrained(2, rng))
    emissions = [rng.normal(size=(n, 9)).astype("float32") * 3 for n in (7, 4, 6)]
    E = pad(ops, emissions, 9)
    lengths = ops.asarray1i([len(e) for e in emissions])
    paths = viterbi(ops, E, lengths, T, start, end, biluo=True)
    docs, starts, ends, labels = spans_from_paths(paths)
    want = span_probabilities(ops, E, lengths, T, start, end, paths, (docs, starts, ends))
    spans = [numpy.stack([starts, ends, labels], axis=1)[docs == i] for i in range(3)]
    assert all(len(s) for s in spans)
    potentials = numpy.concatenate([T, start[None], end[None]])
    got = deferred_span_probabilities_batch(emissions, potentials, spans)
    assert numpy.concatenate(got).tolist() == want.tolist()
    with pytest.raises(ValueError, match="label ids"):
        deferred_span_probabilities_batch(emissions, potentials, [s + [0, 0, 5] for s in spans])

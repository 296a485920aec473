"""Decoding BILUO emission scores into entities, on plain arrays: the best path of
each doc (Viterbi), its spans, and each span's marginal probability under the CRF
(from the forward-backward messages of `layers.crf`). The window_ner pipe calls these;
they are inference, not layers.

Tag ids: 0 is "O"; label j has B = 4j + 1, I = 4j + 2, L = 4j + 3, U = 4j + 4.
"""
from typing import Tuple

import numpy
from thinc.types import Floats1d, Floats2d, Floats3d, Ints1d, Ints2d

from .layers.crf import forward_backward


def viterbi(
    ops, scores: Floats3d, lengths: Ints1d, transitions: Floats2d, start: Floats1d, end: Floats1d
) -> Ints2d:
    """The best tag path of each doc in a padded batch.

    ops (Ops): The ops to compute with.
    scores (Floats3d): Emission scores, (n_docs, max_length, n_tags), padded.
    lengths (Ints1d): The length of each doc.
    transitions (Floats2d): transitions[i, j] scores tag j after tag i.
    start (Floats1d): Score of each tag at the first token.
    end (Floats1d): Score of each tag at the last token.
    RETURNS (Ints2d): The best path of each doc, (n_docs, max_length), with
        "O" (0) after the end of each doc. Ties go to the lower tag id, so equal
        scores (an untrained model) decode to "O" everywhere.
    """
    xp = ops.xp
    n_docs, max_length, n_tags = scores.shape
    path = xp.zeros((n_docs, max_length), dtype="int32")
    if max_length == 0:
        return path
    lengths = xp.asarray(lengths)
    best = scores[:, 0] + start
    backpointers = xp.zeros((n_docs, max_length, n_tags), dtype="int32")
    stay = xp.arange(n_tags, dtype="int32")
    # candidates[b, j, i]: reach tag j from tag i; the reduction runs over the last axis.
    into = xp.ascontiguousarray(transitions.T)[None]
    all_active_until = int(lengths.min())
    # The ignores: thinc's array types have no newaxis (None) index, and type argmax's result
    # as an unindexable array.
    for t in range(1, max_length):
        candidates = best[:, None, :] + into  # type: ignore[index]
        previous = candidates.argmax(axis=2).astype("int32")
        moved = candidates.max(axis=2) + scores[:, t]
        if t < all_active_until:
            best = moved
            backpointers[:, t] = previous
        else:
            active = (t < lengths)[:, None]
            best = xp.where(active, moved, best)
            backpointers[:, t] = xp.where(active, previous, stay)
    tag = (best + end).argmax(axis=1).astype("int32")
    path[:, -1] = tag
    for t in range(max_length - 1, 0, -1):
        tag = xp.take_along_axis(backpointers[:, t], tag[:, None], axis=1)[:, 0]  # type: ignore[index]
        path[:, t - 1] = tag
    path[xp.arange(max_length)[None, :] >= lengths[:, None]] = 0  # type: ignore[call-overload]
    return path


def spans_from_paths(paths: Ints2d) -> Tuple[numpy.ndarray, numpy.ndarray, numpy.ndarray, numpy.ndarray]:
    """The entity spans of a batch of valid BILUO paths.

    paths (Ints2d): Tag ids, (n_docs, length), "O" (0) after the end of each doc.
    RETURNS (Tuple[ndarray, ndarray, ndarray, ndarray]): The doc index, start, end
        (exclusive) and label id of each span, in doc and then start order.
    """
    tags = numpy.atleast_2d(numpy.asarray(paths))
    width = tags.shape[1]
    prefix = numpy.where(tags > 0, (tags - 1) % 4, -1).ravel()
    starts = numpy.flatnonzero((prefix == 0) | (prefix == 3))
    lasts = numpy.flatnonzero((prefix == 2) | (prefix == 3))
    if (
        len(starts) != len(lasts)
        or numpy.any(lasts < starts)
        or numpy.any(starts // width != lasts // width)
    ):
        raise ValueError(f"Invalid BILUO path: {tags.tolist()}.")
    labels = (tags.ravel()[starts] - 1) // 4
    return starts // width, starts % width, lasts % width + 1, labels


def span_probabilities(
    ops, E: Floats3d, lengths: Ints1d, T: Floats2d, start: Floats1d, end: Floats1d,
    paths: Ints2d, spans: Tuple[numpy.ndarray, numpy.ndarray, numpy.ndarray],
) -> Floats1d:
    """The marginal probability of each predicted span: the total probability of
    the paths that tag exactly that span's tokens as the decoded path does.

    p(span s..e) = alpha'_s * exp(sum_{t=s..e} E[t, y_t] + sum_{t=s+1..e} T[y_{t-1}, y_t])
                   * beta_e(y_e) / Z
    where alpha'_s = exp(start[y_s]) at the first token and
    sum_i alpha_{s-1}(i) exp(T[i, y_s]) elsewhere.

    paths (Ints2d): The decoded paths, (n_docs, max_length).
    spans (Tuple[ndarray, ndarray, ndarray]): Doc index, start and end (exclusive)
        of each span, as `spans_from_paths` gives them.
    RETURNS (Floats1d): The probability of each span.
    """
    xp = ops.xp
    docs, starts, ends = (xp.asarray(a) for a in spans)
    if len(docs) == 0:
        return xp.zeros((0,), dtype=E.dtype)
    m = forward_backward(ops, E, lengths, T, start, end)
    paths = xp.asarray(paths)
    lasts = ends - 1
    # The path's own score, step by step, summed along the span with a cumsum.
    steps = xp.take_along_axis(E, paths[:, :, None], axis=2)[:, :, 0]  # type: ignore[index]
    steps[:, 1:] += T[paths[:, :-1], paths[:, 1:]]
    cumulative = xp.cumsum(steps, axis=1)
    first = paths[docs, starts]
    inner = cumulative[docs, lasts] - cumulative[docs, starts] + E[docs, starts, first]
    previous = xp.maximum(starts - 1, 0)
    into = (m.alpha[docs, previous] * m.transitions[:, first].T).sum(axis=1)
    entry = xp.where(
        starts == 0,
        start[first],
        xp.log(xp.maximum(into, 1e-30)) + m.transitions_max + m.log_alpha[docs, previous],
    )
    exit = xp.log(xp.maximum(m.beta[docs, lasts, paths[docs, lasts]], 1e-30)) + m.log_beta[docs, lasts]
    return xp.exp(xp.minimum(entry + inner + exit - m.log_Z[docs], 0.0))

"""Decoding BILUO emission scores into entities, on plain arrays: the best path of
each doc (Viterbi), its spans, and each span's marginal probability under the CRF
(from the forward-backward messages of `layers.crf`). The window_ner pipe calls these;
they are inference, not layers.

Tag ids: 0 is "O"; label j has B = 4j + 1, I = 4j + 2, L = 4j + 3, U = 4j + 4.
"""
from functools import partial
from typing import Callable, List, Tuple, cast

import numpy
from thinc.api import NumpyOps, Ops
from thinc.types import Floats1d, Floats2d, Floats3d, Ints1d, Ints2d

from .layers.batching import length_groups, pad
from .layers.crf import allowed_transitions, forward_backward, n_labels_for


def viterbi(
    ops: Ops, scores: Floats3d, lengths: Ints1d, transitions: Floats2d, start: Floats1d, end: Floats1d,
    *, biluo: bool = False,
) -> Ints2d:
    """The best tag path of each doc in a padded batch.

    The forward pass keeps the best score of every tag at every position (no back-pointers);
    the backward pass then finds each tag's best predecessor for the one tag the path takes.
    With biluo, the forward pass only considers the transitions that BILUO allows (see
    `layers.crf.allowed_transitions`), so it does about a third of the work; the scores of the
    forbidden ones are never read. The paths are the same as without it wherever a valid path
    scores above every invalid one (always, with the forbidden transitions scored FORBIDDEN, as
    `layers.crf.potentials` scores them, and scores of a sane size).

    ops (Ops): The ops to compute with.
    scores (Floats3d): Emission scores, (n_docs, max_length, n_tags), padded.
    lengths (Ints1d): The length of each doc.
    transitions (Floats2d): transitions[i, j] scores tag j after tag i.
    start (Floats1d): Score of each tag at the first token.
    end (Floats1d): Score of each tag at the last token.
    biluo (bool): The tags are BILUO tags (n_tags = 1 + 4 * n_labels, in the order of
        the module docstring), and only the transitions BILUO allows may be taken.
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
    # The recursion runs over (n_tags, n_docs) slices: its max over the previous tag is then
    # a reduction over the first axis, which numpy runs several times faster than one over
    # the last.
    if biluo:
        step, order = _biluo_step(xp, transitions)
        # The forward pass runs in the tag order the BILUO step wants; back in tag order after.
        by_step = xp.ascontiguousarray(scores[:, :, order].transpose((1, 2, 0)))
        best = by_step[0] + start[order][:, None]  # type: ignore[call-overload]
        transitions = xp.where(xp.asarray(allowed_transitions(n_labels_for(n_tags))[0]), transitions, -xp.inf)
    else:
        step = partial(_dense_step, transitions[:, :, None])  # type: ignore[index]
        by_step = xp.ascontiguousarray(scores.transpose((1, 2, 0)))
        best = by_step[0] + start[:, None]  # type: ignore[call-overload]
    # history[t, j, d]: the best score of a path through tokens 0..t of doc d that ends in tag j
    history = xp.empty(by_step.shape, dtype=best.dtype)
    history[0] = best
    all_active_until = int(lengths.min())
    for t in range(1, max_length):
        moved = step(best) + by_step[t]
        best = moved if t < all_active_until else xp.where(t < lengths, moved, best)
        history[t] = best
    if biluo:
        history = history[:, xp.argsort(xp.asarray(order))]
        best = history[-1]
    # The ignores: thinc's array types have no newaxis (None) index, and type argmax's result
    # as an unindexable array.
    tag = (best + end[:, None]).argmax(axis=0).astype("int32")  # type: ignore[call-overload]
    path[:, -1] = tag
    for t in range(max_length - 1, 0, -1):
        # The best predecessor of the tag at t (argmax: the lower tag id on ties); past the end
        # of a doc the tag stays the doc's last one.
        previous = (history[t - 1] + transitions[:, tag]).argmax(axis=0).astype("int32")
        tag = xp.where(t < lengths, previous, tag)
        path[:, t - 1] = tag
    path[xp.arange(max_length)[None, :] >= lengths[:, None]] = 0  # type: ignore[call-overload]
    return path


def _dense_step(transitions: Floats3d, best: Floats2d) -> Floats2d:
    """max_i best[i] + transitions[i, j] for every tag j, with best (n_tags, n_docs) and
    transitions (n_tags, n_tags, 1)."""
    return (best[:, None] + transitions).max(axis=0)  # type: ignore[index]


def _biluo_step(xp, transitions: Floats2d) -> Tuple[Callable[[Floats2d], Floats2d], List[int]]:
    """The step of the forward pass over BILUO tags, in the tag order [L-*, O, U-*, B-*, I-*],
    and that order. There the tags that close an entity (L-*, O, U-*) are the first 1 + 2n, and
    the tags that may follow them (O, U-*, B-*) the 1 + 2n from position n on; I-x and L-x
    follow only B-x and I-x. With best (n_tags, n_docs) and n labels:

        best'[j in O, U, B] = max_{i in L, O, U} best[i] + T[i, j]
        best'[I-x] = max(best[B-x] + T[B-x, I-x], best[I-x] + T[I-x, I-x])    (L-x alike)
    """
    n = (transitions.shape[0] - 1) // 4
    label = 4 * xp.arange(n)
    B, I, L, U = label + 1, label + 2, label + 3, label + 4
    order = [*L.tolist(), 0, *U.tolist(), *B.tolist(), *I.tolist()]
    closed = xp.asarray(order[: 1 + 2 * n])
    into_open = xp.ascontiguousarray(transitions[closed][:, xp.asarray(order[n : 1 + 3 * n])][:, :, None])
    B_I, I_I, B_L, I_L = (transitions[a, b][:, None] for a, b in ((B, I), (I, I), (B, L), (I, L)))
    c, b = 1 + 2 * n, 1 + 3 * n

    def step(best: Floats2d) -> Floats2d:
        opened = (best[:c, None] + into_open).max(axis=0)  # type: ignore[index]
        best_B, best_I = best[c:b], best[b:]
        inside = xp.maximum(best_B + B_I, best_I + I_I)
        last = xp.maximum(best_B + B_L, best_I + I_L)
        return xp.concatenate([last, opened, inside], axis=0)

    return step, order


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
    ops: Ops, E: Floats3d, lengths: Ints1d, T: Floats2d, start: Floats1d, end: Floats1d,
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



def path_from_spans(length: int, starts: numpy.ndarray, ends: numpy.ndarray, label_ids: numpy.ndarray) -> numpy.ndarray:
    """The BILUO path of one doc that tags exactly the given spans: the inverse of
    `spans_from_paths` for a single doc.

    length (int): The doc's length in tokens.
    starts (ndarray): The first token of each span.
    ends (ndarray): The end (exclusive) of each span.
    label_ids (ndarray): The label id of each span.
    RETURNS (ndarray): The tag ids, (length,) int32, "O" (0) outside the spans.
    """
    path = numpy.zeros((length,), dtype="int32")
    for s, e, label in zip(starts.tolist(), ends.tolist(), label_ids.tolist()):
        if not 0 <= s < e <= length:
            raise ValueError(f"The span {s}:{e} does not fit a doc of {length} tokens.")
        if e - s == 1:
            path[s] = 4 * label + 4
        else:
            path[s] = 4 * label + 1
            path[s + 1 : e - 1] = 4 * label + 2
            path[e - 1] = 4 * label + 3
    return path


def deferred_span_probabilities(
    E: numpy.ndarray, potentials: numpy.ndarray, starts: numpy.ndarray, ends: numpy.ndarray, label_ids: numpy.ndarray
) -> numpy.ndarray:
    """The marginal probability of each decoded span of one doc, from what a component kept
    to compute it later (`confidences.defer_confidences`): `span_probabilities` over the path
    that tags exactly these spans (`deferred_span_probabilities_batch` of the doc alone).

    E (ndarray): The doc's decoded emission scores, (length, n_tags).
    potentials (ndarray): The transition scores, then the start and the end scores,
        (n_tags + 2, n_tags).
    starts (ndarray): The first token of each span.
    ends (ndarray): The end (exclusive) of each span.
    label_ids (ndarray): The label id of each span.
    RETURNS (ndarray): The probability of each span.
    """
    spans = numpy.stack([numpy.asarray(a, dtype="int32").reshape((-1,)) for a in (starts, ends, label_ids)], axis=1)
    return deferred_span_probabilities_batch([E], potentials, [spans])[0]


def deferred_span_probabilities_batch(
    emissions: List[numpy.ndarray], potentials: numpy.ndarray, spans: List[numpy.ndarray]
) -> List[numpy.ndarray]:
    """deferred_span_probabilities for many docs that share the potentials, computed as
    window_ner computes them in its batch: the docs in groups of similar length, padded.

    emissions (List[ndarray]): Each doc's decoded emission scores, (length, n_tags).
    potentials (ndarray): The transition scores, then the start and the end scores,
        (n_tags + 2, n_tags).
    spans (List[ndarray]): Each doc's spans, (n_spans, 3): start, end (exclusive), label id.
    RETURNS (List[ndarray]): The probability of each span, per doc.
    """
    ops = NumpyOps()
    n_tags = potentials.shape[-1]
    for E, doc_spans in zip(emissions, spans):
        if E.ndim != 2 or E.shape[1] != n_tags or potentials.shape != (n_tags + 2, n_tags) or n_tags % 4 != 1:
            raise ValueError(
                f"Expected BILUO emissions (length, n_tags) and potentials (n_tags + 2, n_tags), got "
                f"{E.shape} and {potentials.shape}."
            )
        if len(doc_spans) and not 0 <= int(doc_spans[:, 2].min()) <= int(doc_spans[:, 2].max()) < n_tags // 4:
            raise ValueError(f"The label ids {doc_spans[:, 2].tolist()} are not those of {n_tags} BILUO tags.")
    T, start, end = potentials[:n_tags], potentials[n_tags], potentials[n_tags + 1]
    output: List[numpy.ndarray] = [numpy.zeros((0,), dtype="float32")] * len(emissions)
    for group in length_groups([len(E) for E in emissions]):
        E = ops.to_numpy(pad(ops, [cast(Floats2d, emissions[i]) for i in group], n_tags))
        paths = numpy.zeros(E.shape[:2], dtype="int32")
        for j, i in enumerate(group):
            s = spans[i]
            paths[j, : len(emissions[i])] = path_from_spans(len(emissions[i]), s[:, 0], s[:, 1], s[:, 2])
        counts = [len(spans[i]) for i in group]
        docs = numpy.repeat(numpy.arange(len(group), dtype="int32"), counts)
        starts = numpy.concatenate([spans[i][:, 0] for i in group])
        ends = numpy.concatenate([spans[i][:, 1] for i in group])
        lengths = numpy.asarray([len(emissions[i]) for i in group], dtype="int32")
        probs = numpy.asarray(
            span_probabilities(ops, E, lengths, T, start, end, paths, (docs, starts, ends))  # type: ignore[arg-type]
        )
        for i, doc_probs in zip(group, numpy.split(probs, numpy.cumsum(counts)[:-1])):
            output[i] = doc_probs
    return output

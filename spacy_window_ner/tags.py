"""BILUO tags: the tag set, its allowed transitions, Viterbi decoding and span
extraction. Plain arrays only: no spaCy pipe code.

Tag ids: 0 is "O"; label j has B = 4j + 1, I = 4j + 2, L = 4j + 3, U = 4j + 4.
"""
from typing import Iterator, List, Sequence, Tuple

import numpy

from thinc.types import ArrayXd, Floats1d, Floats2d, Floats3d, Ints1d, Ints2d

OUT = "O"
PREFIXES = ("B", "I", "L", "U")
# A transition that BILUO forbids gets this score: exp() of it is 0 in float32,
# while sums of it stay finite.
FORBIDDEN = -1e4


def biluo_tags(labels: Sequence[str]) -> List[str]:
    """The tag names for labels, in tag-id order.

    labels (Sequence[str]): The entity labels.
    RETURNS (List[str]): "O", then B-, I-, L-, U- for each label.
    """
    return [OUT] + [f"{prefix}-{label}" for label in labels for prefix in PREFIXES]


def n_labels_for(n_tags: int) -> int:
    if n_tags < 1 or (n_tags - 1) % 4:
        raise ValueError(f"{n_tags} is not a BILUO tag count (1 + 4 * number of labels).")
    return (n_tags - 1) // 4


def allowed_transitions(n_labels: int) -> Tuple[numpy.ndarray, numpy.ndarray, numpy.ndarray]:
    """Which tag may follow which, and which may start or end a doc.

    n_labels (int): The number of entity labels.
    RETURNS (Tuple[ndarray, ndarray, ndarray]): allowed (n_tags, n_tags), where
        allowed[i, j] says tag j may follow tag i; can_start (n_tags,); can_end (n_tags,).
    """
    n_tags = 1 + 4 * n_labels
    label = numpy.arange(n_tags) - 1
    prefix = numpy.where(label >= 0, label % 4, -1)  # -1 for O, then 0..3 for B, I, L, U
    label //= 4
    outside = (prefix == -1) | (prefix == 2) | (prefix == 3)  # O, L, U: no entity open
    opens = (prefix == -1) | (prefix == 0) | (prefix == 3)  # O, B, U: may follow a closed entity
    continues = (prefix == 1) | (prefix == 2)  # I, L: continue an open entity
    same_label = label[:, None] == label[None, :]
    allowed = (outside[:, None] & opens[None, :]) | (
        ~outside[:, None] & continues[None, :] & same_label
    )
    can_end = outside
    return allowed, opens.copy(), can_end


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
    for t in range(1, max_length):
        candidates = best[:, None, :] + into
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
        tag = xp.take_along_axis(backpointers[:, t], tag[:, None], axis=1)[:, 0]
        path[:, t - 1] = tag
    path[xp.arange(max_length)[None, :] >= lengths[:, None]] = 0
    return path


def spans_from_paths(paths: Ints2d) -> Tuple[Ints1d, Ints1d, Ints1d, Ints1d]:
    """The entity spans of a batch of valid BILUO paths.

    paths (Ints2d): Tag ids, (n_docs, length), "O" (0) after the end of each doc.
    RETURNS (Tuple[Ints1d, Ints1d, Ints1d, Ints1d]): The doc index, start, end
        (exclusive) and label id of each span, in doc and then start order.
    """
    paths = numpy.atleast_2d(numpy.asarray(paths))
    width = paths.shape[1]
    prefix = numpy.where(paths > 0, (paths - 1) % 4, -1).ravel()
    starts = numpy.flatnonzero((prefix == 0) | (prefix == 3))
    lasts = numpy.flatnonzero((prefix == 2) | (prefix == 3))
    if (
        len(starts) != len(lasts)
        or numpy.any(lasts < starts)
        or numpy.any(starts // width != lasts // width)
    ):
        raise ValueError(f"Invalid BILUO path: {paths.tolist()}.")
    labels = (paths.ravel()[starts] - 1) // 4
    return starts // width, starts % width, lasts % width + 1, labels


def pad(ops, arrays: Sequence[Floats2d], width: int) -> Floats3d:
    """Stack 2d arrays of different lengths into one zero-padded 3d array."""
    max_length = max((len(a) for a in arrays), default=0)
    padded = ops.alloc3f(len(arrays), max_length, width, dtype=arrays[0].dtype if arrays else "float32")
    for i, array in enumerate(arrays):
        padded[i, : len(array)] = array
    return padded


def to_host(ops, arrays: Sequence[ArrayXd]) -> List[numpy.ndarray]:
    """Copy a list of arrays to numpy in one transfer (no copy where they already are)."""
    if not len(arrays) or isinstance(arrays[0], numpy.ndarray):
        return [numpy.asarray(a) for a in arrays]
    flat = ops.to_numpy(ops.xp.concatenate(arrays))
    return numpy.split(flat, numpy.cumsum([len(a) for a in arrays])[:-1])


def length_groups(lengths: Sequence[int], *, min_size: int = 4096) -> Iterator[List[int]]:
    """Split doc indices into groups of similar length, so that padding a group
    costs at most about twice its real size (or min_size cells). Memory stays
    linear in the batch's length even with one very long doc in it.
    """
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    group: List[int] = []
    total = 0
    for i in order:
        if group and lengths[group[0]] * (len(group) + 1) > max(min_size, 2 * (total + lengths[i])):
            yield group
            group, total = [], 0
        group.append(i)
        total += lengths[i]
    if group:
        yield group

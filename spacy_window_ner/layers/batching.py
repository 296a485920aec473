"""Batching helpers for the CRF layer and for decoding: padded batches, one host copy,
groups of similar length. Plain arrays only; no layer here.
"""
from typing import Iterator, List, Sequence, TypeVar, cast

import numpy
from thinc.api import Ops
from thinc.types import ArrayXd, Floats2d, Floats3d

ArrayT = TypeVar("ArrayT", bound=ArrayXd)


def pad(ops: Ops, arrays: Sequence[Floats2d], width: int) -> Floats3d:
    """Stack 2d arrays of different lengths into one zero-padded 3d array."""
    max_length = max((len(a) for a in arrays), default=0)
    padded = ops.alloc3f(len(arrays), max_length, width, dtype=arrays[0].dtype if arrays else "float32")
    for i, array in enumerate(arrays):
        padded[i, : len(array)] = array
    return padded


def to_host(ops: Ops, arrays: Sequence[ArrayT]) -> List[ArrayT]:
    """Copy a list of arrays to numpy in one transfer (no copy where they already are).
    The copies have the arrays' own types (the casts say so: thinc's array types describe
    numpy arrays as well as cupy ones)."""
    if not len(arrays) or isinstance(arrays[0], numpy.ndarray):
        return [cast(ArrayT, numpy.asarray(a)) for a in arrays]
    flat = ops.to_numpy(ops.xp.concatenate(arrays))
    return cast(List[ArrayT], numpy.split(flat, numpy.cumsum([len(a) for a in arrays])[:-1]))


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

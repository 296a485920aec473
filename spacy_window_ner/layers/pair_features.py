"""The relation instance features: the window idea applied to a pair of spans, as a Thinc
layer with its backward pass written by hand.

For a candidate (head, tail) in a doc with token vectors X (n x nI), the instance vector is

    x = [mean X[head]; mean X[tail]; mean X[between];        3 slots
         X[hs-k..hs-1]; X[he..he+k-1];                       2k slots around the head
         X[ts-k..ts-1]; X[te..te+k-1];                       2k slots around the tail
         L[head_label]; L[tail_label]; D[bucket]]            3 embeddings of width nE

where window slots outside the doc use learned padding and an empty "between" (adjacent
entities) uses a learned "empty" vector.

Every token slot is a weighted sum of rows of one table T = [X_1; ...; X_D; pad; empty], so
the whole batch is built by one gather and one scatter-add (`ops.scatter_add`), and the
backward pass is the same two operations in reverse: no Python loop over tokens or pairs.
The pair scorer (layers/pair_scorer.py) chains the hidden and output layers after it.
"""
from enum import IntEnum
from typing import Callable, List, Optional, Tuple, cast

import numpy
from thinc.api import Model, glorot_uniform_init, normal_init, registry
from thinc.types import Floats2d, Ints1d, Ints2d

from .windows import check_window_size

InT = Tuple[List[Floats2d], List[Ints2d]]
OutT = Floats2d


class CandidateColumn(IntEnum):
    """The columns of a candidate row, the layer's input for one candidate pair: token
    offsets into its doc (end exclusive) and entity label ids. `len(CandidateColumn)` is the
    row width; index rows by name, e.g. `rows[:, CandidateColumn.HEAD_LABEL]`."""

    HEAD_START = 0
    HEAD_END = 1
    TAIL_START = 2
    TAIL_END = 3
    HEAD_LABEL = 4
    TAIL_LABEL = 5


# The column groups the layer reads together.
STARTS = [CandidateColumn.HEAD_START, CandidateColumn.TAIL_START]
ENDS = [CandidateColumn.HEAD_END, CandidateColumn.TAIL_END]
LABELS = [CandidateColumn.HEAD_LABEL, CandidateColumn.TAIL_LABEL]


@registry.layers("spacy-window-ner.PairFeatures.v1")
def PairFeatures(
    nI: Optional[int] = None,
    *,
    window_size: int = 1,
    n_entity_labels: Optional[int] = None,
    label_width: int = 16,
    n_distance_buckets: int = 16,
) -> Model[InT, OutT]:
    """The instance vector x of every candidate pair of spans (see the module's docstring):
    pooled span vectors, a window of window_size tokens on each side of both spans, the
    pooled tokens between them, embeddings of both entity labels and of a distance/order
    bucket.

    The input is (token vectors per doc, candidates per doc). A candidate row holds the
    columns of `CandidateColumn`: [head_start, head_end, tail_start, tail_end, head_label_id,
    tail_label_id], with token offsets into its doc (end exclusive). The output holds the
    instance vectors of all candidates of the batch, doc by doc, nO = (3 + 4k) nI + 3 nE
    wide. The backward pass returns (dX per doc, candidates).

    nI (Optional[int]): Width of the token vectors, inferred from sample input if None.
    window_size (int): k, the tokens on each side of each span.
    n_entity_labels (Optional[int]): Rows of the entity label table; label ids must be
        below it. Inferred from the sample candidates if None.
    label_width (int): Width nE of the label and distance embeddings.
    n_distance_buckets (int): Even number of distance buckets: half for a head before
        its tail, half for a head after it, each log2-spaced in the token gap.
    RETURNS (Model[Tuple[List[Floats2d], List[Ints2d]], Floats2d]): The layer.
    """
    check_feature_options(window_size, label_width, n_distance_buckets)
    return Model(
        "pair_features",
        forward,
        init=init,
        dims={"nO": None, "nI": nI, "nL": n_entity_labels, "nE": label_width, "nB": n_distance_buckets},
        params={"pad": None, "empty": None, "E_label": None, "E_dist": None},
        attrs={"window_size": window_size},
    )


def forward(model: Model[InT, OutT], inputs: InT, is_train: bool) -> Tuple[OutT, Callable]:
    ops = model.ops
    xp = ops.xp
    Xs, cands = inputs
    # The candidates and every index derived from them are small integer arrays: they are
    # worked out on the host and each copied to the device once.
    host_cands = _check_input(model, Xs, cands)
    nI = model.get_dim("nI")
    nE = model.get_dim("nE")
    k = model.attrs["window_size"]
    n_slots = 3 + 4 * k
    dtype = model.get_param("pad").dtype
    pad = cast(Floats2d, model.get_param("pad"))
    empty = cast(Floats2d, model.get_param("empty"))
    E_label = cast(Floats2d, model.get_param("E_label"))
    E_dist = cast(Floats2d, model.get_param("E_dist"))
    C = numpy.concatenate(
        [numpy.zeros((0, len(CandidateColumn)), dtype="int32")]
        + [numpy.asarray(cand, dtype="int32").reshape((-1, len(CandidateColumn))) for cand in host_cands]
    )
    M = C.shape[0]
    # T = [X_1; ...; X_D; pad_before; pad_after; empty]: rows N, N+1, N+2 are learned.
    table = xp.concatenate([*Xs, pad, empty]).astype(dtype, copy=False)
    N = table.shape[0] - 3
    lengths = numpy.asarray([len(X) for X in Xs], dtype="int32")
    counts = numpy.asarray([len(cand) for cand in host_cands], dtype="int32")
    host_rows, host_slots, host_weights = _slot_indices(lengths, counts, C, k, N)
    # The casts say that these numpy int arrays are the Ints1d that thinc's types describe.
    rows, slots = ops.asarray1i(cast(Ints1d, host_rows)), ops.asarray1i(cast(Ints1d, host_slots))
    # One weight per row, as a column, to scale the rows it multiplies.
    weights = ops.asarray2f(cast(Floats2d, host_weights[:, None]), dtype=dtype)
    # X_slots[m * n_slots + j] = sum_r weight_r T[row_r] over the rows r of slot j of candidate m
    X_slots = ops.alloc2f(M * n_slots, nI, dtype=dtype)
    ops.scatter_add(X_slots, slots, ops.as_contig(table[rows] * weights))
    hl = ops.asarray1i(cast(Ints1d, C[:, CandidateColumn.HEAD_LABEL]))
    tl = ops.asarray1i(cast(Ints1d, C[:, CandidateColumn.TAIL_LABEL]))
    bucket = ops.asarray1i(cast(Ints1d, _distance_buckets(C, model.get_dim("nB"))))
    X_inst = xp.concatenate(
        [X_slots.reshape((M, n_slots * nI)), E_label[hl], E_label[tl], E_dist[bucket]], axis=1
    )

    def backprop(d_inst: OutT) -> InT:
        d_slots = ops.reshape2f(d_inst[:, : n_slots * nI], M * n_slots, nI)
        d_emb = d_inst[:, n_slots * nI :]
        # The embeddings were gathered, so their gradients scatter back by id.
        d_E_label = ops.alloc2f(*E_label.shape, dtype=E_label.dtype)
        ops.scatter_add(d_E_label, hl, ops.as_contig(d_emb[:, :nE]))
        ops.scatter_add(d_E_label, tl, ops.as_contig(d_emb[:, nE : 2 * nE]))
        d_E_dist = ops.alloc2f(*E_dist.shape, dtype=E_dist.dtype)
        ops.scatter_add(d_E_dist, bucket, ops.as_contig(d_emb[:, 2 * nE :]))
        model.inc_grad("E_label", d_E_label)
        model.inc_grad("E_dist", d_E_dist)
        # dT[row_r] += weight_r dX_slots[slot_r]: the transpose of the forward gather.
        d_table = ops.alloc2f(N + 3, nI, dtype=table.dtype)
        ops.scatter_add(d_table, rows, ops.as_contig(d_slots[slots] * weights))
        model.inc_grad("pad", d_table[N : N + 2])
        model.inc_grad("empty", d_table[N + 2 :])
        dXs = ops.unflatten(d_table[:N], cast(Ints1d, lengths))
        return dXs, cands

    return X_inst, backprop


def init(model: Model[InT, OutT], X: Optional[InT] = None, Y: Optional[OutT] = None) -> None:
    infer_dims(model, X, None, required=("nI", "nL"))
    nI, nE = model.get_dim("nI"), model.get_dim("nE")
    model.set_dim("nO", instance_width(model.attrs["window_size"], nI, nE))
    init_features(model)


def init_features(model: Model) -> None:
    """Allocate pad, empty, E_label and E_dist, in this order, from the dims nI, nE, nL, nB."""
    nI, nE = model.get_dim("nI"), model.get_dim("nE")
    ops = model.ops
    model.set_param("pad", glorot_uniform_init(ops, (2, nI)))
    model.set_param("empty", glorot_uniform_init(ops, (1, nI)))
    model.set_param("E_label", normal_init(ops, (model.get_dim("nL"), nE), mean=0.0))
    model.set_param("E_dist", normal_init(ops, (model.get_dim("nB"), nE), mean=0.0))


def instance_width(window_size: int, nI: int, nE: int) -> int:
    """The width of the instance vector x: 3 + 4k token slots of width nI and 3 embeddings
    of width nE."""
    return (3 + 4 * window_size) * nI + 3 * nE


def check_feature_options(window_size: int, label_width: int, n_distance_buckets: int) -> None:
    """Raise a ValueError for options the pair features cannot have."""
    check_window_size(window_size)
    if not isinstance(label_width, int) or label_width < 1:
        raise ValueError(f"label_width must be a positive integer, not {label_width!r}.")
    if not isinstance(n_distance_buckets, int) or n_distance_buckets < 2 or n_distance_buckets % 2:
        raise ValueError(
            f"n_distance_buckets must be an even integer >= 2, not {n_distance_buckets!r}."
        )


def infer_dims(
    model: Model, X: Optional[InT], Y: Optional[Floats2d], required: Tuple[str, ...] = ("nI", "nO", "nL")
) -> None:
    """Set nI, nL and nO from sample input and output where they are unset, or raise a
    ValueError where a required one can't be.

    model (Model): The pair features, or a pair scorer (which holds these dims too).
    X (Optional[Tuple[List[Floats2d], List[Ints2d]]]): Sample input.
    Y (Optional[Floats2d]): Sample output of the model.
    required (Tuple[str, ...]): The dims the model must know afterwards.
    """
    if X is not None:
        Xs, cands = X
        if len(Xs) and not model.has_dim("nI"):
            model.set_dim("nI", Xs[0].shape[1])
        if not model.has_dim("nL"):
            ids = [int(cand[:, column].max()) for cand in cands if len(cand) for column in LABELS]
            model.set_dim("nL", max(ids, default=0) + 1)
    if Y is not None and not model.has_dim("nO"):
        model.set_dim("nO", Y.shape[1])
    for name in required:
        if not model.has_dim(name):
            raise ValueError(
                f"PairScorer can't infer its dimension {name}: pass it to the constructor "
                "or initialize the layer with sample input and output."
            )


def _slot_indices(lengths: numpy.ndarray, counts: numpy.ndarray, C: numpy.ndarray, k: int, N: int) -> Tuple[numpy.ndarray, numpy.ndarray, numpy.ndarray]:
    """Which table rows fill which slot, with which weight. Returns (rows, slots, weights):
    slot j of candidate m is filled by sum_r weights[r] T[rows[r]] over slots[r] == m * n_slots + j.
    Mean slots (head, tail, between) list every token of their segment with weight 1/length;
    an empty "between" is the single row N + 2. Window slots are one row each, N (before the
    doc) or N + 1 (after it) where they fall outside the doc. lengths and counts give each
    doc's tokens and candidates, C the candidates of all docs stacked. All on the host."""
    M = C.shape[0]
    n_slots = 3 + 4 * k
    doc_start = numpy.repeat(numpy.cumsum(lengths) - lengths, counts)[:, None]
    doc_length = numpy.repeat(lengths, counts)[:, None]
    hs, he = C[:, CandidateColumn.HEAD_START], C[:, CandidateColumn.HEAD_END]
    ts, te = C[:, CandidateColumn.TAIL_START], C[:, CandidateColumn.TAIL_END]
    # Mean slots 0, 1, 2: head, tail and the tokens between the two spans.
    b_start = numpy.minimum(he, te)
    b_end = numpy.maximum(numpy.maximum(hs, ts), b_start)
    seg_start = numpy.stack([hs, ts, b_start], axis=1) + doc_start
    seg_len = numpy.stack([he - hs, te - ts, b_end - b_start], axis=1)
    seg_start = numpy.where(seg_len > 0, seg_start, N + 2).reshape(-1)
    seg_len = numpy.maximum(seg_len, 1).reshape(-1)
    seg_slot = (numpy.arange(M, dtype="int32")[:, None] * n_slots + numpy.arange(3, dtype="int32")).reshape(-1)
    seg_of = numpy.repeat(numpy.arange(3 * M, dtype="int32"), seg_len)
    within = numpy.arange(int(seg_len.sum()), dtype="int32") - numpy.repeat(numpy.cumsum(seg_len) - seg_len, seg_len)
    mean_rows = seg_start[seg_of] + within
    mean_slots = seg_slot[seg_of]
    mean_weights = 1.0 / seg_len[seg_of]
    # Window slots 3 .. 3 + 4k - 1: k before and k after the head, then the same for the tail.
    before = numpy.arange(-k, 0, dtype="int32")
    after = numpy.arange(0, k, dtype="int32")
    position = numpy.concatenate(
        [hs[:, None] + before, he[:, None] + after, ts[:, None] + before, te[:, None] + after], axis=1
    )
    win_rows = numpy.where(position < 0, N, numpy.where(position >= doc_length, N + 1, position + doc_start))
    win_slots = numpy.arange(M, dtype="int32")[:, None] * n_slots + 3 + numpy.arange(4 * k, dtype="int32")
    rows = numpy.concatenate([mean_rows, win_rows.reshape(-1)]).astype("int32")
    slots = numpy.concatenate([mean_slots, win_slots.reshape(-1)]).astype("int32")
    weights = numpy.concatenate([mean_weights, numpy.ones(win_rows.size)])
    return rows, slots, weights


def _distance_buckets(C: numpy.ndarray, n_buckets: int) -> numpy.ndarray:
    """Bucket of the token gap g between the spans: min(floor(log2(g + 1)), n_buckets / 2 - 1),
    plus n_buckets / 2 when the head comes after the tail."""
    half = n_buckets // 2
    gap = numpy.maximum(C[:, STARTS].max(axis=1) - C[:, ENDS].min(axis=1), 0)
    level = numpy.minimum(numpy.floor(numpy.log2(gap + 1.0)).astype("int32"), half - 1)
    head_after_tail = C[:, CandidateColumn.HEAD_START] > C[:, CandidateColumn.TAIL_START]
    return (level + half * head_after_tail).astype("int32")


def _check_input(model: Model[InT, OutT], Xs: List[Floats2d], cands: List[Ints2d]) -> List[numpy.ndarray]:
    """Check the inputs and return the candidates on the host, where they are checked."""
    if not isinstance(Xs, (list, tuple)) or not isinstance(cands, (list, tuple)):
        raise TypeError(
            "PairScorer expects (token vectors, candidates): a list of 2d float arrays and a "
            "list of 2d int arrays, one of each per doc."
        )
    if len(Xs) != len(cands):
        raise ValueError(
            f"PairScorer got token vectors for {len(Xs)} docs but candidates for {len(cands)}."
        )
    nI = model.get_dim("nI")
    nL = model.get_dim("nL")
    host_cands = [model.ops.to_numpy(cand) for cand in cands]
    for i, (X, cand) in enumerate(zip(Xs, host_cands)):
        # thinc types an array's dtype as its name; it is a numpy.dtype, with a kind.
        if getattr(X, "ndim", None) != 2 or X.dtype.kind != "f" or X.shape[1] != nI:  # type: ignore[union-attr]
            raise ValueError(
                f"PairScorer input {i} must be a 2d float array of width nI={nI}, not "
                f"{type(X).__name__} with shape {getattr(X, 'shape', None)}. Check that the "
                "tok2vec width matches."
            )
        if cand.size == 0:
            continue
        if cand.ndim != 2 or cand.shape[1] != len(CandidateColumn) or cand.dtype.kind not in "iu":
            columns = ", ".join(column.name.lower() for column in CandidateColumn)
            raise ValueError(
                f"PairScorer candidates {i} must be a 2d int array with {len(CandidateColumn)} "
                f"columns [{columns}], "
                f"not shape {cand.shape} and dtype {cand.dtype}."
            )
        n = X.shape[0]
        spans_ok = (cand[:, STARTS] >= 0) & (cand[:, STARTS] < cand[:, ENDS]) & (cand[:, ENDS] <= n)
        labels_ok = (cand[:, LABELS] >= 0) & (cand[:, LABELS] < nL)
        if not bool(spans_ok.all()) or not bool(labels_ok.all()):
            raise ValueError(
                f"PairScorer candidates {i} hold an empty or out-of-range span (doc of {n} "
                f"tokens) or a label id outside [0, {nL}). Build them from spans of the doc and "
                "label ids below n_entity_labels."
            )
    return host_cands

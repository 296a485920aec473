"""The lecture's window features as a Thinc layer, with its backward pass written by hand.

For every token i of a doc with token vectors X (n x nI):

    x_i = [X[i-k]; ...; X[i+k]]        positions outside the doc use learned padding

and backward, from dX_win = dL/dx (one row per token): each slot of dX_win goes back to the
token that filled it, or to the padding vector that did. The whole minibatch is one Ragged
output, so the layers after it (the hidden layer, the output layer) run one GEMM each over
every token of the batch, as thinc's `with_array` runs them.
"""
from typing import Callable, List, Optional, Tuple, cast

import numpy
from thinc.api import Model, glorot_uniform_init, registry
from thinc.types import Floats2d, Ints1d, Ints2d, Ragged

InT = List[Floats2d]
OutT = Ragged


@registry.layers("spacy-window-ner.Windows.v1")
def Windows(nI: Optional[int] = None, *, window_size: int = 2) -> Model[InT, OutT]:
    """The concatenated vectors of the 2 * window_size + 1 tokens around every token,
    x_i = [X[i-k]; ...; X[i+k]], with learned padding (the param "pad": one vector before
    the doc, one after it) outside each doc.

    nI (Optional[int]): Width of the token vectors, inferred from sample input if None.
    window_size (int): k, the number of tokens on each side of the centre token.
    RETURNS (Model[List[Floats2d], Ragged]): The layer. Its output holds one row of width
        nO = (2k + 1) nI per token of the batch, with the docs' lengths.
    """
    check_window_size(window_size)
    return Model(
        "windows",
        forward,
        init=init,
        dims={"nI": nI, "nO": (2 * window_size + 1) * nI if nI is not None else None},
        params={"pad": None},
        attrs={"window_size": window_size},
    )


def forward(model: Model[InT, OutT], Xs: InT, is_train: bool) -> Tuple[OutT, Callable]:
    ops = model.ops
    nI = model.get_dim("nI")
    k = model.attrs["window_size"]
    lengths = check_input(model, Xs)
    N = int(lengths.sum())
    if N == 0:
        return _forward_empty(model, lengths)
    pad = cast(Floats2d, model.get_param("pad"))
    # table = [X_1; ...; X_D; pad_before; pad_after]; idx (N, 2k+1) says which row fills
    # each window slot (N and N+1 are the padding), so one gather builds every window.
    # (The index table is built on the host, where the lengths are known, and copied to the
    # device once. The casts say that these numpy int arrays are the Ints1d and Ints2d that
    # thinc's types describe.)
    table = ops.xp.concatenate([*Xs, pad])
    idx = window_indices(lengths, k)
    X_win = table[ops.asarray2i(cast(Ints2d, idx))].reshape((N, (2 * k + 1) * nI))
    device_lengths = ops.asarray1i(cast(Ints1d, lengths))

    def backprop(dX_win_r: OutT) -> InT:
        dX_win = cast(Floats2d, dX_win_r.dataXd)
        # d_pad[j] = sum of the slots that pad j filled
        slots = ops.reshape2f(dX_win, N * (2 * k + 1), nI)
        d_pad = ops.alloc2f(2, nI, dtype=dX_win.dtype)
        d_pad[0] = slots[ops.asarray1i(cast(Ints1d, numpy.flatnonzero(idx == N)))].sum(axis=0)
        d_pad[1] = slots[ops.asarray1i(cast(Ints1d, numpy.flatnonzero(idx == N + 1)))].sum(axis=0)
        model.inc_grad("pad", d_pad)
        # dX[i] = sum over the windows that hold token i of their slot for it
        # (backprop_seq2col skips the slots outside the doc, which went to pad above).
        dX = ops.backprop_seq2col(ops.as_contig(dX_win), k, lengths=device_lengths)
        return ops.unflatten(dX, cast(Ints1d, lengths))

    return Ragged(X_win, device_lengths), backprop


def init(model: Model[InT, OutT], X: Optional[InT] = None, Y: Optional[OutT] = None) -> None:
    if X is not None and len(X) and not model.has_dim("nI"):
        model.set_dim("nI", X[0].shape[1])
    nI = model.get_dim("nI")
    if not model.has_dim("nO"):
        model.set_dim("nO", (2 * model.attrs["window_size"] + 1) * nI)
    model.set_param("pad", glorot_uniform_init(model.ops, (2, nI)))


def window_indices(lengths: numpy.ndarray, k: int) -> numpy.ndarray:
    """For each token of the flattened batch and each window slot -k..k, the row of the
    table [X; pad_before; pad_after] that fills it: N marks a slot before the start of the
    token's doc, N + 1 a slot after its end.

    lengths (numpy.ndarray): The length of each doc, on the host; they sum to N.
    k (int): The window size.
    RETURNS (numpy.ndarray): (N, 2k + 1) int32 row indices.
    """
    N = int(lengths.sum())
    token = numpy.arange(N, dtype="int32")
    position = token - numpy.repeat(numpy.cumsum(lengths) - lengths, lengths)
    doc_length = numpy.repeat(lengths, lengths)
    offsets = numpy.arange(-k, k + 1, dtype="int32")
    target = position[:, None] + offsets[None, :]
    idx = token[:, None] + offsets[None, :]
    idx = numpy.where(target < 0, N, idx)
    return numpy.where(target >= doc_length[:, None], N + 1, idx).astype("int32")


def check_window_size(window_size: int) -> None:
    """Raise a ValueError for a window size a window layer cannot have."""
    if not isinstance(window_size, int) or window_size < 0:
        raise ValueError(f"window_size must be an integer >= 0, not {window_size!r}.")


def check_input(model: Model, Xs: InT) -> numpy.ndarray:
    """Raise a TypeError or ValueError for input a window layer can't take, and return the
    length of each doc, on the host, where the window index table is built.

    model (Model): The layer, whose dim nI the input must have.
    Xs (List[Floats2d]): The token vectors of each doc.
    RETURNS (numpy.ndarray): The length of each doc, int32.
    """
    if not isinstance(Xs, (list, tuple)):
        raise TypeError(
            f"WindowScorer expects a list of 2d float arrays, one per doc, not {type(Xs).__name__}."
        )
    nI = model.get_dim("nI")
    for i, X in enumerate(Xs):
        # thinc types an array's dtype as its name; it is a numpy.dtype, with a kind.
        if getattr(X, "ndim", None) != 2 or X.dtype.kind != "f":  # type: ignore[union-attr]
            raise TypeError(
                f"WindowScorer input {i} must be a 2d float array, not "
                f"{type(X).__name__} with dtype {getattr(X, 'dtype', None)} and "
                f"shape {getattr(X, 'shape', None)}."
            )
        if X.shape[1] != nI:
            raise ValueError(
                f"WindowScorer input {i} has width {X.shape[1]}, but the layer was "
                f"initialized with nI={nI}. Check that the tok2vec width matches."
            )
    return numpy.asarray([len(X) for X in Xs], dtype="int32")


def _forward_empty(model: Model[InT, OutT], lengths: numpy.ndarray) -> Tuple[OutT, Callable]:
    """The forward pass of a batch without tokens: no rows, and a gradient of no rows per doc."""
    ops = model.ops
    nI = model.get_dim("nI")
    dtype = model.get_param("pad").dtype
    X_win = ops.alloc2f(0, model.get_dim("nO"), dtype=dtype)

    def backprop(dX_win: OutT) -> InT:
        return [ops.alloc2f(0, nI, dtype=dtype) for _ in range(len(lengths))]

    return Ragged(X_win, ops.asarray1i(cast(Ints1d, lengths))), backprop

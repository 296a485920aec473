"""The lecture's window classifier as a Thinc layer, with its backward pass written by hand.

For every token i of a doc with token vectors X (n x nI):

    x_i = [X[i-k]; ...; X[i+k]]        positions outside the doc use learned padding
    h_i = f(W x_i + b)                 the "hidden" child layer (layers/hidden.py)
    s_i = U h_i + c                    nO scores

The whole minibatch is flattened into one matrix, so each weight costs one GEMM.
The products use the array module's matmul (`@`), which is BLAS on NumpyOps and
cuBLAS on CupyOps; on the CPU this is several times faster than blis here.

The forward pass is the three lines above, each with its own backward: `windows_forward`
(x_i), the hidden child (h_i) and `output_forward` (s_i). The published WindowScorer.v1
(spacy_window_ner/legacy), which keeps the hidden layer's W and b flat in itself, runs the
same pieces.
"""
from functools import partial
from typing import Callable, List, Optional, Tuple, cast

import numpy
from thinc.api import Model, glorot_uniform_init, registry, zero_init
from thinc.types import Floats1d, Floats2d, Ints1d, Ints2d

from .hidden import Hidden, affine, affine_backward, check_activation

InT = List[Floats2d]
OutT = List[Floats2d]


@registry.layers("spacy-window-ner.WindowScorer.v2")
def WindowScorer(
    nO: Optional[int] = None,
    nI: Optional[int] = None,
    *,
    window_size: int = 2,
    hidden_width: int = 128,
    activation: str = "tanh",
    dropout: float = 0.0,
    init_U: Callable = glorot_uniform_init,
) -> Model[InT, OutT]:
    """Score every token from the concatenated vectors of the 2 * window_size + 1
    tokens around it: s = U h + c, where h = f(W x + b) is the "hidden" child layer.

    nO (Optional[int]): Number of scores per token, inferred from sample output if None.
    nI (Optional[int]): Width of the token vectors, inferred from sample input if None.
    window_size (int): k, the number of tokens on each side of the centre token.
    hidden_width (int): Width of the hidden layer h.
    activation (str): One of "tanh", "hard_tanh", "relu", "sigmoid".
    dropout (float): Dropout rate applied to h during training. It is the hidden layer's
        "dropout_rate" attr, so spaCy's [training] dropout sets it during training.
    init_U (Callable): Initializer of the output weights U. zero_init makes every
        score start at c (zero), as spaCy's parser starts its output layer.
    RETURNS (Model[List[Floats2d], List[Floats2d]]): The layer.
    """
    check_window_options(window_size, hidden_width, activation, dropout)
    hidden = Hidden(hidden_width, activation=activation, dropout=dropout)
    return Model(
        "window_scorer",
        forward,
        init=partial(init, init_U),
        layers=[hidden],
        dims={"nO": nO, "nI": nI, "nH": hidden_width},
        params={"U": None, "c": None, "pad": None},
        attrs={"window_size": window_size},
    )


def forward(model: Model[InT, OutT], Xs: InT, is_train: bool) -> Tuple[OutT, Callable]:
    # The hidden child is layers[0] (not a ref: thinc's Model.copy() keeps layers, not refs).
    hidden = model.layers[0]
    lengths = check_input(model, Xs)
    if not lengths.sum():
        return forward_empty(model, lengths)
    X_win, backprop_windows = windows_forward(model, Xs, lengths)
    H, backprop_hidden = hidden(X_win, is_train)
    S, backprop_output = output_forward(model, H)

    def backprop(dYs: OutT) -> InT:
        return backprop_windows(backprop_hidden(backprop_output(model.ops.flatten(dYs))))

    return model.ops.unflatten(S, cast(Ints1d, lengths)), backprop


def init(
    init_U: Callable, model: Model[InT, OutT], X: Optional[InT] = None, Y: Optional[OutT] = None
) -> None:
    infer_dims(model, X, Y)
    hidden = model.layers[0]
    nF = 2 * model.attrs["window_size"] + 1
    hidden.set_dim("nI", nF * model.get_dim("nI"))
    hidden.set_dim("nO", model.get_dim("nH"))
    # The same draws in the same order as v1 (W, b, U, c, pad): same seed, same weights.
    hidden.initialize()
    init_output(init_U, model)


def windows_forward(model: Model, Xs: InT, lengths: numpy.ndarray) -> Tuple[Floats2d, Callable[[Floats2d], InT]]:
    """x_i = [X[i-k]; ...; X[i+k]] for every token i of the batch, one row each, with the
    learned padding of the model (its param "pad", its attr "window_size") outside the docs.

    model (Model): The layer that holds pad and window_size.
    Xs (List[Floats2d]): The token vectors of each doc.
    lengths (numpy.ndarray): The length of each doc, on the host (see check_input); they sum
        to N > 0.
    RETURNS (Tuple[Floats2d, Callable]): X_win (N, (2k + 1) nI), and the backprop callback
        from dX_win to dX per doc, which increments the gradient of pad.
    """
    ops = model.ops
    nI = model.get_dim("nI")
    k = model.attrs["window_size"]
    N = int(lengths.sum())
    pad = cast(Floats2d, model.get_param("pad"))
    # Rows N and N+1 of the table are the padding vectors; idx (N, 2k+1) says
    # which row fills each window slot, so one gather builds every window.
    # (The index table is built on the host, where the lengths are known, and copied to the
    # device once. The casts say that these numpy int arrays are the Ints1d and Ints2d that
    # thinc's types describe.)
    table = ops.xp.concatenate([*Xs, pad])
    idx = _window_indices(lengths, k)
    X_win = table[ops.asarray2i(cast(Ints2d, idx))].reshape((N, (2 * k + 1) * nI))

    def backprop_windows(dX_win: Floats2d) -> InT:
        slots = ops.reshape2f(dX_win, N * (2 * k + 1), nI)
        d_pad = ops.alloc2f(2, nI, dtype=dX_win.dtype)
        d_pad[0] = slots[ops.asarray1i(cast(Ints1d, numpy.flatnonzero(idx == N)))].sum(axis=0)
        d_pad[1] = slots[ops.asarray1i(cast(Ints1d, numpy.flatnonzero(idx == N + 1)))].sum(axis=0)
        model.inc_grad("pad", d_pad)
        # backprop_seq2col sums each token's gradient over the windows it sits in,
        # skipping the slots outside the doc, which went to the padding above.
        dX = ops.backprop_seq2col(ops.as_contig(dX_win), k, lengths=ops.asarray1i(cast(Ints1d, lengths)))
        return ops.unflatten(dX, cast(Ints1d, lengths))

    return X_win, backprop_windows


def output_forward(model: Model, H: Floats2d) -> Tuple[Floats2d, Callable[[Floats2d], Floats2d]]:
    """s = U h + c for every row h of H, with the params U and c of the model: the output
    layer of the window and pair scorers.

    model (Model): The layer that holds U and c.
    H (Floats2d): One hidden vector per row.
    RETURNS (Tuple[Floats2d, Callable]): S, and the backprop callback from dS to dH, which
        increments the gradients of U and c.
    """
    U = cast(Floats2d, model.get_param("U"))
    c = cast(Floats1d, model.get_param("c"))
    S = affine(H, U, c)

    def backprop_output(dS: Floats2d) -> Floats2d:
        # s = U h + c: dU = dS^T h, dc = sum dS, dH = dS U
        dH, dU, dc = affine_backward(model.ops, H, U, dS)
        model.inc_grad("U", dU)
        model.inc_grad("c", dc)
        return dH

    return S, backprop_output


def infer_dims(model: Model[InT, OutT], X: Optional[InT], Y: Optional[OutT]) -> None:
    """Set nI and nO from sample input and output, where they are unset."""
    if X is not None and len(X) and not model.has_dim("nI"):
        model.set_dim("nI", X[0].shape[1])
    if Y is not None and len(Y) and not model.has_dim("nO"):
        model.set_dim("nO", Y[0].shape[1])


def init_output(init_U: Callable, model: Model[InT, OutT]) -> None:
    """Allocate U (with init_U), c and pad, in this order."""
    ops = model.ops
    model.set_param("U", init_U(ops, (model.get_dim("nO"), model.get_dim("nH"))))
    model.set_param("c", zero_init(ops, (model.get_dim("nO"),)))
    model.set_param("pad", glorot_uniform_init(ops, (2, model.get_dim("nI"))))


def check_window_options(window_size: int, hidden_width: int, activation: str, dropout: float) -> None:
    """Raise a ValueError for options a window layer cannot have."""
    if not isinstance(window_size, int) or window_size < 0:
        raise ValueError(f"window_size must be an integer >= 0, not {window_size!r}.")
    if not isinstance(hidden_width, int) or hidden_width < 1:
        raise ValueError(f"hidden_width must be a positive integer, not {hidden_width!r}.")
    check_activation(activation, dropout)


def _window_indices(lengths: numpy.ndarray, k: int) -> numpy.ndarray:
    """For each token of the flattened batch and each window slot -k..k, the
    row of the table [X; pad_before; pad_after] that fills it: N marks a slot
    before the start of the token's doc, N + 1 a slot after its end."""
    N = int(lengths.sum())
    token = numpy.arange(N, dtype="int32")
    position = token - numpy.repeat(numpy.cumsum(lengths) - lengths, lengths)
    doc_length = numpy.repeat(lengths, lengths)
    offsets = numpy.arange(-k, k + 1, dtype="int32")
    target = position[:, None] + offsets[None, :]
    idx = token[:, None] + offsets[None, :]
    idx = numpy.where(target < 0, N, idx)
    return numpy.where(target >= doc_length[:, None], N + 1, idx).astype("int32")


def forward_empty(model: Model[InT, OutT], lengths: numpy.ndarray) -> Tuple[OutT, Callable]:
    """The forward pass of a batch without tokens: an empty score matrix per doc."""
    ops = model.ops
    nI, nO = model.get_dim("nI"), model.get_dim("nO")
    Ys = [ops.alloc2f(0, nO) for _ in range(len(lengths))]

    def backprop(dYs: OutT) -> InT:
        return [ops.alloc2f(0, nI) for _ in range(len(lengths))]

    return Ys, backprop


def check_input(model: Model[InT, OutT], Xs: InT) -> numpy.ndarray:
    """Raise a TypeError or ValueError for input the layer can't take, and return the
    length of each doc, on the host, where the window index table is built."""
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

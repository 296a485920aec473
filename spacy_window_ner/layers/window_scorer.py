"""The lecture's window classifier as a Thinc layer, with its backward pass written by hand.

For every token i of a doc with token vectors X (n x nI):

    x_i = [X[i-k]; ...; X[i+k]]        positions outside the doc use learned padding
    h_i = f(W x_i + b)                 the "hidden" child layer (layers/hidden.py)
    s_i = U h_i + c                    nO scores

The whole minibatch is flattened into one matrix, so each weight costs one GEMM.
The products use the array module's matmul (`@`), which is BLAS on NumpyOps and
cuBLAS on CupyOps; on the CPU this is several times faster than blis here.

WindowScorer.v2 holds the hidden layer as a child model. WindowScorer.v1 keeps W and b
flat in itself, as pipelines saved before v2 hold them, and runs the same maths on them.
"""
from functools import partial
from typing import Callable, List, Optional, Tuple, cast

import numpy
from thinc.api import Model, glorot_uniform_init, registry, zero_init
from thinc.types import Floats1d, Floats2d, Ints1d, Ints2d

from .hidden import Hidden, affine, affine_backward, check_activation
from .hidden import forward as forward_hidden

InT = List[Floats2d]
OutT = List[Floats2d]
# (X, is_train) -> (H, backprop dH -> dX): the hidden layer, as a child model or over flat params
HiddenFn = Callable[[Floats2d, bool], Tuple[Floats2d, Callable[[Floats2d], Floats2d]]]


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
    return _forward(model, Xs, is_train, model.layers[0])


def init(
    init_U: Callable, model: Model[InT, OutT], X: Optional[InT] = None, Y: Optional[OutT] = None
) -> None:
    _infer_dims(model, X, Y)
    hidden = model.layers[0]
    nF = 2 * model.attrs["window_size"] + 1
    hidden.set_dim("nI", nF * model.get_dim("nI"))
    hidden.set_dim("nO", model.get_dim("nH"))
    # The same draws in the same order as v1 (W, b, U, c, pad): same seed, same weights.
    hidden.initialize()
    _init_output(init_U, model)


@registry.layers("spacy-window-ner.WindowScorer.v1")
def WindowScorer_v1(
    nO: Optional[int] = None,
    nI: Optional[int] = None,
    *,
    window_size: int = 2,
    hidden_width: int = 128,
    activation: str = "tanh",
    dropout: float = 0.0,
    init_U: Callable = glorot_uniform_init,
) -> Model[InT, OutT]:
    """WindowScorer.v2's network with the hidden layer's W and b flat in the layer (params
    W, b, U, c, pad), as pipelines saved with v1 hold them. Use v2 for new models.

    nO (Optional[int]): Number of scores per token, inferred from sample output if None.
    nI (Optional[int]): Width of the token vectors, inferred from sample input if None.
    window_size (int): k, the number of tokens on each side of the centre token.
    hidden_width (int): Width of the hidden layer h.
    activation (str): One of "tanh", "hard_tanh", "relu", "sigmoid".
    dropout (float): Dropout rate applied to h during training (the "dropout_rate" attr).
    init_U (Callable): Initializer of the output weights U.
    RETURNS (Model[List[Floats2d], List[Floats2d]]): The layer.
    """
    check_window_options(window_size, hidden_width, activation, dropout)
    return Model(
        "window_scorer",
        forward_v1,
        init=partial(init_v1, init_U),
        dims={"nO": nO, "nI": nI, "nH": hidden_width},
        params={"W": None, "b": None, "U": None, "c": None, "pad": None},
        attrs={"window_size": window_size, "activation": activation, "dropout_rate": dropout},
    )


def forward_v1(model: Model[InT, OutT], Xs: InT, is_train: bool) -> Tuple[OutT, Callable]:
    # A .v1 layer holds the hidden layer's W, b and attrs itself, under the names Hidden uses,
    # so Hidden's own forward runs on it.
    return _forward(model, Xs, is_train, partial(forward_hidden, model))


def init_v1(
    init_U: Callable, model: Model[InT, OutT], X: Optional[InT] = None, Y: Optional[OutT] = None
) -> None:
    _infer_dims(model, X, Y)
    nH = model.get_dim("nH")
    nF = 2 * model.attrs["window_size"] + 1
    model.set_param("W", glorot_uniform_init(model.ops, (nH, nF * model.get_dim("nI"))))
    model.set_param("b", zero_init(model.ops, (nH,)))
    _init_output(init_U, model)


def _forward(model: Model[InT, OutT], Xs: InT, is_train: bool, hidden: HiddenFn) -> Tuple[OutT, Callable]:
    """Both versions' forward pass: windows, the hidden layer, then s = U h + c."""
    ops = model.ops
    _check_input(model, Xs)
    nI = model.get_dim("nI")
    nO = model.get_dim("nO")
    k = model.attrs["window_size"]
    # The lengths and the window index table are built on the host, where they are known,
    # and copied to the device once. (The casts say that these numpy int arrays are the Ints1d
    # and Ints2d that thinc's types describe.)
    lengths = numpy.asarray([len(X) for X in Xs], dtype="int32")
    N = int(lengths.sum())
    if N == 0:
        return _forward_empty(model, lengths, nI, nO)
    pad = cast(Floats2d, model.get_param("pad"))
    U = cast(Floats2d, model.get_param("U"))
    c = cast(Floats1d, model.get_param("c"))
    # Rows N and N+1 of the table are the padding vectors; idx (N, 2k+1) says
    # which row fills each window slot, so one gather builds every window.
    table = ops.xp.concatenate([*Xs, pad])
    idx = _window_indices(lengths, k)
    X_win = table[ops.asarray2i(cast(Ints2d, idx))].reshape((N, (2 * k + 1) * nI))
    H, backprop_hidden = hidden(X_win, is_train)
    S = affine(H, U, c)

    def backprop(dYs: OutT) -> InT:
        # s = U h + c: dU = dS^T h, dc = sum dS, dH = dS U
        dH, dU, dc = affine_backward(ops, H, U, ops.flatten(dYs))
        model.inc_grad("U", dU)
        model.inc_grad("c", dc)
        dX_win = backprop_hidden(dH)
        slots = ops.reshape2f(dX_win, N * (2 * k + 1), nI)
        d_pad = ops.alloc2f(2, nI, dtype=dX_win.dtype)
        d_pad[0] = slots[ops.asarray1i(cast(Ints1d, numpy.flatnonzero(idx == N)))].sum(axis=0)
        d_pad[1] = slots[ops.asarray1i(cast(Ints1d, numpy.flatnonzero(idx == N + 1)))].sum(axis=0)
        model.inc_grad("pad", d_pad)
        # backprop_seq2col sums each token's gradient over the windows it sits in,
        # skipping the slots outside the doc, which went to the padding above.
        dX = ops.backprop_seq2col(ops.as_contig(dX_win), k, lengths=ops.asarray1i(cast(Ints1d, lengths)))
        return ops.unflatten(dX, cast(Ints1d, lengths))

    return ops.unflatten(S, cast(Ints1d, lengths)), backprop


def _infer_dims(model: Model[InT, OutT], X: Optional[InT], Y: Optional[OutT]) -> None:
    if X is not None and len(X) and not model.has_dim("nI"):
        model.set_dim("nI", X[0].shape[1])
    if Y is not None and len(Y) and not model.has_dim("nO"):
        model.set_dim("nO", Y[0].shape[1])


def _init_output(init_U: Callable, model: Model[InT, OutT]) -> None:
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


def _forward_empty(model: Model[InT, OutT], lengths: numpy.ndarray, nI: int, nO: int) -> Tuple[OutT, Callable]:
    ops = model.ops
    Ys = [ops.alloc2f(0, nO) for _ in range(len(lengths))]

    def backprop(dYs: OutT) -> InT:
        return [ops.alloc2f(0, nI) for _ in range(len(lengths))]

    return Ys, backprop


def _check_input(model: Model[InT, OutT], Xs: InT) -> None:
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

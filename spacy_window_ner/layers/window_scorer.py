"""The lecture's window classifier as a Thinc layer, with its backward pass written by hand.

For every token i of a doc with token vectors X (n x nI):

    x_i = [X[i-k]; ...; X[i+k]]        positions outside the doc use learned padding
    z_i = W x_i + b
    h_i = f(z_i)
    s_i = U h_i + c                    nO scores

The whole minibatch is flattened into one matrix, so each weight costs one GEMM.
The products use the array module's matmul (`@`), which is BLAS on NumpyOps and
cuBLAS on CupyOps; on the CPU this is several times faster than blis here.
"""
from functools import partial
from typing import Callable, Dict, List, Optional, Tuple, cast

import numpy
from thinc.api import Model, glorot_uniform_init, registry, zero_init
from thinc.types import Floats1d, Floats2d, Ints1d

InT = List[Floats2d]
OutT = List[Floats2d]

# name -> (f, f'): the Jacobian of an elementwise f is diag(f'(z)). Each f' is
# written in terms of h = f(z), so the forward pass need not keep z.
ACTIVATIONS: Dict[str, Tuple[Callable, Callable]] = {
    "tanh": (lambda xp, Z: xp.tanh(Z), lambda xp, H: 1.0 - H * H),
    "hard_tanh": (lambda xp, Z: xp.clip(Z, -1.0, 1.0), lambda xp, H: xp.abs(H) < 1.0),
    "relu": (lambda xp, Z: xp.maximum(Z, 0.0), lambda xp, H: H > 0.0),
    "sigmoid": (lambda xp, Z: 0.5 * (xp.tanh(0.5 * Z) + 1.0), lambda xp, H: H * (1.0 - H)),
}


@registry.layers("spacy-window-ner.WindowScorer.v1")
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
    tokens around it: s = U f(W x + b) + c.

    nO (Optional[int]): Number of scores per token, inferred from sample output if None.
    nI (Optional[int]): Width of the token vectors, inferred from sample input if None.
    window_size (int): k, the number of tokens on each side of the centre token.
    hidden_width (int): Width of the hidden layer h.
    activation (str): One of "tanh", "hard_tanh", "relu", "sigmoid".
    dropout (float): Dropout rate applied to h during training. It is the layer's
        "dropout_rate" attr, so spaCy's [training] dropout sets it during training.
    init_U (Callable): Initializer of the output weights U. zero_init makes every
        score start at c (zero), as spaCy's parser starts its output layer.
    RETURNS (Model[List[Floats2d], List[Floats2d]]): The layer.
    """
    check_window_options(window_size, hidden_width, activation, dropout)
    return Model(
        "window_scorer",
        forward,
        init=partial(init, init_U),
        dims={"nO": nO, "nI": nI, "nH": hidden_width},
        params={"W": None, "b": None, "U": None, "c": None, "pad": None},
        attrs={"window_size": window_size, "activation": activation, "dropout_rate": dropout},
    )


def forward(model: Model[InT, OutT], Xs: InT, is_train: bool) -> Tuple[OutT, Callable]:
    ops = model.ops
    xp = ops.xp
    _check_input(model, Xs)
    nI = model.get_dim("nI")
    nO = model.get_dim("nO")
    k = model.attrs["window_size"]
    # The lengths and the window index table are built on the host, where they are known,
    # and copied to the device once.
    lengths = numpy.asarray([len(X) for X in Xs], dtype="int32")
    N = int(lengths.sum())
    if N == 0:
        return _forward_empty(model, lengths, nI, nO)
    pad = cast(Floats2d, model.get_param("pad"))
    # Rows N and N+1 of the table are the padding vectors; idx (N, 2k+1) says
    # which row fills each window slot, so one gather builds every window.
    table = xp.concatenate([*Xs, pad])
    idx = _window_indices(lengths, k)
    X_win = table[ops.asarray2i(idx)].reshape((N, (2 * k + 1) * nI))
    S, backprop_hidden = hidden_layer(model, X_win, is_train)

    def backprop(dYs: OutT) -> InT:
        dX_win = backprop_hidden(ops.flatten(dYs))
        slots = dX_win.reshape((N * (2 * k + 1), nI))
        d_pad = ops.alloc2f(2, nI, dtype=dX_win.dtype)
        d_pad[0] = slots[ops.asarray1i(numpy.flatnonzero(idx == N))].sum(axis=0)
        d_pad[1] = slots[ops.asarray1i(numpy.flatnonzero(idx == N + 1))].sum(axis=0)
        model.inc_grad("pad", d_pad)
        # backprop_seq2col sums each token's gradient over the windows it sits in,
        # skipping the slots outside the doc, which went to the padding above.
        dX = ops.backprop_seq2col(ops.as_contig(dX_win), k, lengths=ops.asarray1i(lengths))
        return ops.unflatten(dX, lengths)

    return ops.unflatten(S, lengths), backprop


def hidden_layer(model: Model, X: Floats2d, is_train: bool) -> Tuple[Floats2d, Callable[[Floats2d], Floats2d]]:
    """The lecture's network over the rows of X, with the params W, b, U, c and the attrs
    "activation" and "dropout_rate" of model: z = W x + b, h = f(z), dropout on h,
    s = U h + c. Its backprop adds dU, dc, dW, db to model's gradients and returns dX.

    model (Model): The layer that owns the params and attrs.
    X (Floats2d): One input vector x per row.
    is_train (bool): Apply dropout.
    RETURNS (Tuple[Floats2d, Callable[[Floats2d], Floats2d]]): The scores S, one row per
        row of X, and the backprop callback from dS to dX.
    """
    ops = model.ops
    xp = ops.xp
    f, f_prime = ACTIVATIONS[model.attrs["activation"]]
    W = cast(Floats2d, model.get_param("W"))
    b = cast(Floats1d, model.get_param("b"))
    U = cast(Floats2d, model.get_param("U"))
    c = cast(Floats1d, model.get_param("c"))
    Z = X @ W.T
    Z += b
    H = f(xp, Z)
    rate = model.attrs["dropout_rate"]
    mask = ops.get_dropout_mask(H.shape, rate) if is_train and rate > 0 else None
    H_out = H * mask if mask is not None else H
    S = H_out @ U.T
    S += c

    def backprop(dS: Floats2d) -> Floats2d:
        # dU = dS^T h, dc = sum dS. (h^T dS)^T is the same product, and several times
        # faster with numpy's BLAS than dS.T @ h for a tall dS.
        model.inc_grad("U", ops.as_contig((H_out.T @ dS).T))
        model.inc_grad("c", dS.sum(axis=0))
        # delta = (dS U) o f'(z): the local error signal, computed once and reused.
        dH = dS @ U
        if mask is not None:
            dH *= mask
        delta = dH * f_prime(xp, H)
        # dW = delta^T x, db = sum delta, dx = delta W
        model.inc_grad("W", ops.as_contig((X.T @ delta).T))
        model.inc_grad("b", delta.sum(axis=0))
        return delta @ W

    return S, backprop


def init(
    init_U: Callable, model: Model[InT, OutT], X: Optional[InT] = None, Y: Optional[OutT] = None
) -> None:
    if X is not None and len(X) and not model.has_dim("nI"):
        model.set_dim("nI", X[0].shape[1])
    if Y is not None and len(Y) and not model.has_dim("nO"):
        model.set_dim("nO", Y[0].shape[1])
    nI = model.get_dim("nI")
    nO = model.get_dim("nO")
    nH = model.get_dim("nH")
    nF = 2 * model.attrs["window_size"] + 1
    ops = model.ops
    model.set_param("W", glorot_uniform_init(ops, (nH, nF * nI)))
    model.set_param("b", zero_init(ops, (nH,)))
    model.set_param("U", init_U(ops, (nO, nH)))
    model.set_param("c", zero_init(ops, (nO,)))
    model.set_param("pad", glorot_uniform_init(ops, (2, nI)))


def check_window_options(window_size: int, hidden_width: int, activation: str, dropout: float) -> None:
    """Raise a ValueError for options a window layer cannot have."""
    if not isinstance(window_size, int) or window_size < 0:
        raise ValueError(f"window_size must be an integer >= 0, not {window_size!r}.")
    if not isinstance(hidden_width, int) or hidden_width < 1:
        raise ValueError(f"hidden_width must be a positive integer, not {hidden_width!r}.")
    if activation not in ACTIVATIONS:
        raise ValueError(
            f"Unknown activation {activation!r}. Choose one of: {', '.join(ACTIVATIONS)}."
        )
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), not {dropout!r}.")


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


def _forward_empty(model: Model[InT, OutT], lengths: Ints1d, nI: int, nO: int) -> Tuple[OutT, Callable]:
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
        if getattr(X, "ndim", None) != 2 or X.dtype.kind != "f":
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

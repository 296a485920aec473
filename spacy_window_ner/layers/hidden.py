"""The lecture's hidden layer as a Thinc layer, with its backward pass written by hand.

For every row x of X:

    z = W x + b
    h = f(z)                           dropout on h during training

and backward, from dH = dL/dh:

    delta = dH o f'(z)                 the local error signal, computed once
    dW = delta^T X,   db = sum delta,  dX = delta W

The window and pair scorers chain it between their features and their output layer
(layers/output.py, which shares `affine` and `affine_backward`). The published `.v1` scorers
(spacy_window_ner/legacy), which keep W and b flat in themselves under these names, run this
`forward` on themselves.
"""
from typing import Callable, Dict, Optional, Tuple, cast

from thinc.api import Model, Ops, glorot_uniform_init, registry, zero_init
from thinc.types import Floats1d, Floats2d

InT = Floats2d
OutT = Floats2d

# name -> (f, f'): the Jacobian of an elementwise f is diag(f'(z)). Each f' is
# written in terms of h = f(z), so the forward pass need not keep z.
ACTIVATIONS: Dict[str, Tuple[Callable, Callable]] = {
    "tanh": (lambda xp, Z: xp.tanh(Z), lambda xp, H: 1.0 - H * H),
    "hard_tanh": (lambda xp, Z: xp.clip(Z, -1.0, 1.0), lambda xp, H: xp.abs(H) < 1.0),
    "relu": (lambda xp, Z: xp.maximum(Z, 0.0), lambda xp, H: H > 0.0),
    "sigmoid": (lambda xp, Z: 0.5 * (xp.tanh(0.5 * Z) + 1.0), lambda xp, H: H * (1.0 - H)),
}


@registry.layers("spacy-window-ner.Hidden.v1")
def Hidden(
    nO: Optional[int] = None,
    nI: Optional[int] = None,
    *,
    activation: str = "tanh",
    dropout: float = 0.0,
) -> Model[InT, OutT]:
    """The hidden layer h = f(W x + b) over the rows of a matrix, with dropout on h.

    nO (Optional[int]): Width of h, inferred from sample output if None.
    nI (Optional[int]): Width of x, inferred from sample input if None.
    activation (str): One of "tanh", "hard_tanh", "relu", "sigmoid".
    dropout (float): Dropout rate applied to h during training. It is the layer's
        "dropout_rate" attr, so spaCy's [training] dropout sets it during training.
    RETURNS (Model[Floats2d, Floats2d]): The layer.
    """
    check_activation(activation, dropout)
    return Model(
        "hidden",
        forward,
        init=init,
        dims={"nO": nO, "nI": nI},
        params={"W": None, "b": None},
        attrs={"activation": activation, "dropout_rate": dropout},
    )


def forward(model: Model[InT, OutT], X: InT, is_train: bool) -> Tuple[OutT, Callable]:
    ops = model.ops
    xp = ops.xp
    f, f_prime = ACTIVATIONS[model.attrs["activation"]]
    W = cast(Floats2d, model.get_param("W"))
    b = cast(Floats1d, model.get_param("b"))
    # z = W x + b,  h = f(z)
    Z = affine(X, W, b)
    H = f(xp, Z)
    dropout = model.attrs["dropout_rate"] if is_train else 0.0
    mask = ops.get_dropout_mask(H.shape, dropout) if dropout > 0 else None

    def backprop(dH: OutT) -> InT:
        if mask is not None:
            dH = dH * mask
        # delta = dH o f'(z), computed once for dW, db and dX (f' is written in terms of h)
        delta = dH * f_prime(xp, H)
        # dW = delta^T X,  db = sum delta,  dX = delta W
        dX, dW, db = affine_backward(ops, X, W, delta)
        model.inc_grad("W", dW)
        model.inc_grad("b", db)
        return dX

    return (H * mask if mask is not None else H), backprop


def init(model: Model[InT, OutT], X: Optional[InT] = None, Y: Optional[OutT] = None) -> None:
    if X is not None and not model.has_dim("nI"):
        model.set_dim("nI", X.shape[1])
    if Y is not None and not model.has_dim("nO"):
        model.set_dim("nO", Y.shape[1])
    nO, nI = model.get_dim("nO"), model.get_dim("nI")
    model.set_param("W", glorot_uniform_init(model.ops, (nO, nI)))
    model.set_param("b", zero_init(model.ops, (nO,)))


def affine(X: Floats2d, W: Floats2d, b: Floats1d) -> Floats2d:
    """Y = X W^T + b: the affine map y = W x + b of every row x of X.

    X (Floats2d): One input vector per row.
    W (Floats2d): The weights, (nO, nI).
    b (Floats1d): The bias, (nO,).
    RETURNS (Floats2d): One output vector per row.
    """
    Y = X @ W.T
    Y += b
    return Y


def affine_backward(
    ops: Ops, X: Floats2d, W: Floats2d, delta: Floats2d
) -> Tuple[Floats2d, Floats2d, Floats1d]:
    """The gradients of y = W x + b, given delta = dL/dy for every row of X.

    ops (Ops): The ops to compute with.
    X (Floats2d): The inputs of the forward pass.
    W (Floats2d): The weights of the forward pass.
    delta (Floats2d): dL/dy, one row per row of X.
    RETURNS (Tuple[Floats2d, Floats2d, Floats1d]): dX, dW, db.
    """
    # dW = delta^T X. numpy's BLAS is faster on the same product written (X^T delta)^T
    # for a tall delta (one row per token), so that is how it is computed.
    dW = ops.as_contig((X.T @ delta).T)
    db = delta.sum(axis=0)
    dX = delta @ W
    return dX, dW, db


def check_activation(activation: str, dropout: float) -> None:
    """Raise a ValueError for an activation or dropout rate the hidden layer cannot have."""
    if activation not in ACTIVATIONS:
        raise ValueError(
            f"Unknown activation {activation!r}. Choose one of: {', '.join(ACTIVATIONS)}."
        )
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), not {dropout!r}.")

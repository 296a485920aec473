"""The lecture's output layer as a Thinc layer, with its backward pass written by hand.

For every row h of H:

    s = U h + c                        nO scores

and backward, from dS = dL/ds:

    dU = dS^T H,   dc = sum dS,   dH = dS U

The window and pair scorers end with it. Its params keep the lecture's names, U and c, so
that the scorers' output weights are found by name (models.resize_output).
"""
from functools import partial
from typing import Callable, Optional, Tuple, cast

from thinc.api import Model, glorot_uniform_init, registry, zero_init
from thinc.types import Floats1d, Floats2d

from .hidden import affine, affine_backward

InT = Floats2d
OutT = Floats2d


@registry.layers("spacy-window-ner.Output.v1")
def Output(
    nO: Optional[int] = None, nI: Optional[int] = None, *, init_U: Callable = glorot_uniform_init
) -> Model[InT, OutT]:
    """The scores s = U h + c of every row h of a matrix.

    nO (Optional[int]): Number of scores, inferred from sample output if None.
    nI (Optional[int]): Width of h, inferred from sample input if None.
    init_U (Callable): Initializer of U. zero_init makes every score start at c (zero), as
        spaCy's parser starts its output layer.
    RETURNS (Model[Floats2d, Floats2d]): The layer.
    """
    return Model(
        "output",
        forward,
        init=partial(init, init_U),
        dims={"nO": nO, "nI": nI},
        params={"U": None, "c": None},
    )


def forward(model: Model[InT, OutT], H: InT, is_train: bool) -> Tuple[OutT, Callable]:
    U = cast(Floats2d, model.get_param("U"))
    c = cast(Floats1d, model.get_param("c"))
    S = affine(H, U, c)

    def backprop(dS: OutT) -> InT:
        if not dS.size:
            # No rows: thinc flattens the gradients of a batch of no docs to (0, 0).
            dS = model.ops.reshape2f(dS, *S.shape)
        # s = U h + c:  dU = dS^T H,  dc = sum dS,  dH = dS U
        dH, dU, dc = affine_backward(model.ops, H, U, dS)
        model.inc_grad("U", dU)
        model.inc_grad("c", dc)
        return dH

    return S, backprop


def init(
    init_U: Callable, model: Model[InT, OutT], X: Optional[InT] = None, Y: Optional[OutT] = None
) -> None:
    if X is not None and not model.has_dim("nI"):
        model.set_dim("nI", X.shape[1])
    if Y is not None and not model.has_dim("nO"):
        model.set_dim("nO", Y.shape[1])
    nO, nI = model.get_dim("nO"), model.get_dim("nI")
    model.set_param("U", init_U(model.ops, (nO, nI)))
    model.set_param("c", zero_init(model.ops, (nO,)))

"""WindowScorer.v2, as published before WindowScorer.v3 (layers/window_scorer.py): the same
network, with the window padding and the output layer's U and c in the scorer itself and the
hidden layer a child (see layers/window_scorer.py for the maths).

Its params are U, c and pad, beside a `Hidden.v1` child with W and b, as pipelines saved with
it hold them. It runs the pieces of WindowScorer.v3 on itself: the forward of `Windows.v1`
(whose param pad, dim nI and attr window_size it holds under the same names), its hidden
child, and the forward of `Output.v1` (whose params U and c it holds).
"""
from functools import partial
from typing import Callable, Optional, Tuple, cast

import numpy
from thinc.api import Model, glorot_uniform_init, registry, zero_init
from thinc.types import Floats2d, Ints1d, Ragged

from ...layers.hidden import Hidden
from ...layers.output import forward as output_forward
from ...layers.window_scorer import InT, OutT, check_window_options, infer_dims
from ...layers.windows import check_input
from ...layers.windows import forward as windows_forward


@registry.layers("spacy-window-ner.WindowScorer.v2")
def WindowScorer_v2(
    nO: Optional[int] = None,
    nI: Optional[int] = None,
    *,
    window_size: int = 2,
    hidden_width: int = 128,
    activation: str = "tanh",
    dropout: float = 0.0,
    init_U: Callable = glorot_uniform_init,
) -> Model[InT, OutT]:
    """WindowScorer.v3's network with pad, U and c in the layer and the hidden layer a child,
    as pipelines saved with v2 hold them. Use v3 for new models; the arguments are v3's.

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
    return run_pieces(model, model.layers[0], Xs, is_train)


def run_pieces(
    model: Model[InT, OutT], hidden: Callable[[Floats2d, bool], Tuple[Floats2d, Callable]], Xs: InT,
    is_train: bool,
) -> Tuple[OutT, Callable]:
    """The forward pass of WindowScorer.v2 and .v1: the forwards of Windows.v1 and Output.v1 on
    the pad, U and c of the scorer, which holds them under their names, and the hidden layer
    between them.

    model (Model[List[Floats2d], List[Floats2d]]): The scorer.
    hidden (Callable[[Floats2d, bool], Tuple[Floats2d, Callable]]): The hidden layer's forward:
        v2's child, or Hidden.v1's forward on v1's own W and b.
    Xs (List[Floats2d]): The token vectors of each doc.
    is_train (bool): Whether the pass is for training (dropout on).
    RETURNS (Tuple[List[Floats2d], Callable]): The scores per doc, and the backprop callback.
    """
    lengths = check_input(model, Xs)
    if not lengths.sum():
        return forward_empty(model, lengths)
    # (The casts say that the scorer is a Windows and an Output to their forwards.)
    X_win, backprop_windows = windows_forward(cast(Model[InT, Ragged], model), Xs, is_train)
    H, backprop_hidden = hidden(cast(Floats2d, X_win.dataXd), is_train)
    S, backprop_output = output_forward(cast(Model[Floats2d, Floats2d], model), H, is_train)

    def backprop(dYs: OutT) -> InT:
        dH = backprop_output(model.ops.flatten(dYs))
        return backprop_windows(Ragged(backprop_hidden(dH), X_win.lengths))

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


def init_output(init_U: Callable, model: Model[InT, OutT]) -> None:
    """Allocate U (with init_U), c and pad, in this order."""
    ops = model.ops
    model.set_param("U", init_U(ops, (model.get_dim("nO"), model.get_dim("nH"))))
    model.set_param("c", zero_init(ops, (model.get_dim("nO"),)))
    model.set_param("pad", glorot_uniform_init(ops, (2, model.get_dim("nI"))))


def forward_empty(model: Model[InT, OutT], lengths: numpy.ndarray) -> Tuple[OutT, Callable]:
    """The forward pass of a batch without tokens: an empty score matrix per doc."""
    ops = model.ops
    nI, nO = model.get_dim("nI"), model.get_dim("nO")
    Ys = [ops.alloc2f(0, nO) for _ in range(len(lengths))]

    def backprop(dYs: OutT) -> InT:
        return [ops.alloc2f(0, nI) for _ in range(len(lengths))]

    return Ys, backprop

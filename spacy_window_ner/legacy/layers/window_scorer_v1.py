"""WindowScorer.v1, as version 0.1 published it: the window scorer of layers/window_scorer.py
(see there for the maths) with the hidden layer's W and b flat in the layer, not in a child.

Its params are W, b, U, c and pad, as pipelines saved with it hold them, and its attrs
activation and dropout_rate are those Hidden.v1 has: so Hidden's own forward runs on the layer
itself, between the forwards of Windows.v1 and Output.v1.
"""
from functools import partial
from typing import Callable, Optional, Tuple, cast

from thinc.api import Model, glorot_uniform_init, registry, zero_init
from thinc.types import Floats2d

from ...layers.hidden import forward as hidden_forward
from ...layers.window_scorer import InT, OutT, check_window_options, infer_dims
from .window_scorer_v2 import init_output, run_pieces


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
    """WindowScorer.v3's network with every param flat in the layer (params W, b, U, c,
    pad), as pipelines saved with v1 hold them. Use v3 for new models.

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
        forward,
        init=partial(init, init_U),
        dims={"nO": nO, "nI": nI, "nH": hidden_width},
        params={"W": None, "b": None, "U": None, "c": None, "pad": None},
        attrs={"window_size": window_size, "activation": activation, "dropout_rate": dropout},
    )


def forward(model: Model[InT, OutT], Xs: InT, is_train: bool) -> Tuple[OutT, Callable]:
    # The hidden layer on the W, b and attrs of this layer, which holds them under Hidden's names
    # (the cast says that it is a Hidden to Hidden's forward).
    hidden = partial(hidden_forward, cast(Model[Floats2d, Floats2d], model))
    return run_pieces(model, hidden, Xs, is_train)


def init(
    init_U: Callable, model: Model[InT, OutT], X: Optional[InT] = None, Y: Optional[OutT] = None
) -> None:
    infer_dims(model, X, Y)
    nH = model.get_dim("nH")
    nF = 2 * model.attrs["window_size"] + 1
    model.set_param("W", glorot_uniform_init(model.ops, (nH, nF * model.get_dim("nI"))))
    model.set_param("b", zero_init(model.ops, (nH,)))
    init_output(init_U, model)

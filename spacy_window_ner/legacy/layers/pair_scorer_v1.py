"""PairScorer.v1, as version 0.1 published it: the pair scorer of layers/pair_scorer.py (see
layers/pair_features.py for the maths) with the hidden layer's W and b flat in the layer, not in a child.

Its params are W, b, U, c, pad, empty, E_label and E_dist, as pipelines saved with it hold
them, and its attrs activation and dropout_rate are those Hidden.v1 has: so Hidden's own
forward runs on the layer itself, between the forwards of PairFeatures.v1 and Output.v1.
"""
from functools import partial
from typing import Callable, Optional, Tuple, cast

from thinc.api import Model, glorot_uniform_init, registry, zero_init
from thinc.types import Floats2d

from ...layers.hidden import forward as hidden_forward
from ...layers.pair_features import infer_dims, instance_width
from ...layers.pair_scorer import InT, OutT, check_pair_options
from .pair_scorer_v2 import init_rest, pair_dims, run_pieces


@registry.layers("spacy-window-ner.PairScorer.v1")
def PairScorer_v1(
    nO: Optional[int] = None,
    nI: Optional[int] = None,
    *,
    window_size: int = 1,
    hidden_width: int = 128,
    n_entity_labels: Optional[int] = None,
    label_width: int = 16,
    n_distance_buckets: int = 16,
    activation: str = "relu",
    dropout: float = 0.0,
) -> Model[InT, OutT]:
    """PairScorer.v3's network with every param flat in the layer (params W, b, U, c,
    pad, empty, E_label, E_dist), as pipelines saved with v1 hold them. Use v3 for new
    models; the arguments are v3's.

    RETURNS (Model[Tuple[List[Floats2d], List[Ints2d]], Floats2d]): The layer.
    """
    check_pair_options(window_size, hidden_width, activation, dropout, label_width, n_distance_buckets)
    return Model(
        "pair_scorer",
        forward,
        init=init,
        dims=pair_dims(nO, nI, hidden_width, n_entity_labels, label_width, n_distance_buckets),
        params={
            "W": None, "b": None, "U": None, "c": None,
            "pad": None, "empty": None, "E_label": None, "E_dist": None,
        },
        attrs={"window_size": window_size, "activation": activation, "dropout_rate": dropout},
    )


def forward(model: Model[InT, OutT], inputs: InT, is_train: bool) -> Tuple[OutT, Callable]:
    # The hidden layer on the W, b and attrs of this layer, which holds them under Hidden's names
    # (the cast says that it is a Hidden to Hidden's forward).
    hidden = partial(hidden_forward, cast(Model[Floats2d, Floats2d], model))
    return run_pieces(model, hidden, inputs, is_train)


def init(model: Model[InT, OutT], X: Optional[InT] = None, Y: Optional[OutT] = None) -> None:
    infer_dims(model, X, Y)
    nH = model.get_dim("nH")
    nI, nE = model.get_dim("nI"), model.get_dim("nE")
    W_shape = (nH, instance_width(model.attrs["window_size"], nI, nE))
    model.set_param("W", glorot_uniform_init(model.ops, W_shape))
    model.set_param("b", zero_init(model.ops, (nH,)))
    init_rest(model)

"""PairScorer.v2, as published before PairScorer.v3 (layers/pair_scorer.py): the same network,
with the instance features' params and the output layer's U and c in the scorer itself and the
hidden layer a child (see layers/pair_features.py for the maths).

Its params are U, c, pad, empty, E_label and E_dist, beside a `Hidden.v1` child with W and b,
as pipelines saved with it hold them. It runs the pieces of PairScorer.v3 on itself: the
forward of `PairFeatures.v1` (whose params, dims and attr window_size it holds under the same
names), its hidden child, and the forward of `Output.v1` (whose params U and c it holds).
"""
from typing import Callable, Optional, Tuple, cast

from thinc.api import Model, glorot_uniform_init, registry, zero_init
from thinc.types import Floats2d

from ...layers.hidden import Hidden
from ...layers.output import forward as output_forward
from ...layers.pair_features import forward as features_forward
from ...layers.pair_features import infer_dims, init_features, instance_width
from ...layers.pair_scorer import InT, OutT, check_pair_options


@registry.layers("spacy-window-ner.PairScorer.v2")
def PairScorer_v2(
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
    """PairScorer.v3's network with the features' params, U and c in the layer and the hidden
    layer a child, as pipelines saved with v2 hold them. Use v3 for new models; the arguments
    are v3's.

    RETURNS (Model[Tuple[List[Floats2d], List[Ints2d]], Floats2d]): The layer.
    """
    check_pair_options(window_size, hidden_width, activation, dropout, label_width, n_distance_buckets)
    hidden = Hidden(hidden_width, activation=activation, dropout=dropout)
    return Model(
        "pair_scorer",
        forward,
        init=init,
        layers=[hidden],
        dims=pair_dims(nO, nI, hidden_width, n_entity_labels, label_width, n_distance_buckets),
        params={"U": None, "c": None, "pad": None, "empty": None, "E_label": None, "E_dist": None},
        attrs={"window_size": window_size},
    )


def forward(model: Model[InT, OutT], inputs: InT, is_train: bool) -> Tuple[OutT, Callable]:
    return run_pieces(model, model.layers[0], inputs, is_train)


def run_pieces(
    model: Model[InT, OutT], hidden: Callable[[Floats2d, bool], Tuple[Floats2d, Callable]], inputs: InT,
    is_train: bool,
) -> Tuple[OutT, Callable]:
    """The forward pass of PairScorer.v2 and .v1: the forwards of PairFeatures.v1 and Output.v1
    on the params of the scorer, which holds them under their names, and the hidden layer
    between them.

    model (Model[Tuple[List[Floats2d], List[Ints2d]], Floats2d]): The scorer.
    hidden (Callable[[Floats2d, bool], Tuple[Floats2d, Callable]]): The hidden layer's forward:
        v2's child, or Hidden.v1's forward on v1's own W and b.
    inputs (Tuple[List[Floats2d], List[Ints2d]]): The token vectors and candidates of each doc.
    is_train (bool): Whether the pass is for training (dropout on).
    RETURNS (Tuple[Floats2d, Callable]): The scores of every candidate, and the backprop callback.
    """
    # (The cast says that the scorer is an Output to Output's forward.)
    X_inst, backprop_instances = features_forward(model, inputs, is_train)
    H, backprop_hidden = hidden(X_inst, is_train)
    S, backprop_output = output_forward(cast(Model[Floats2d, Floats2d], model), H, is_train)

    def backprop(dS: OutT) -> InT:
        return backprop_instances(backprop_hidden(backprop_output(dS)))

    return S, backprop


def init(model: Model[InT, OutT], X: Optional[InT] = None, Y: Optional[OutT] = None) -> None:
    infer_dims(model, X, Y)
    hidden = model.layers[0]
    hidden.set_dim("nI", instance_width(model.attrs["window_size"], model.get_dim("nI"), model.get_dim("nE")))
    hidden.set_dim("nO", model.get_dim("nH"))
    # The same draws in the same order as v1 (W, b, then the rest): same seed, same weights.
    hidden.initialize()
    init_rest(model)


def pair_dims(
    nO: Optional[int], nI: Optional[int], hidden_width: int, n_entity_labels: Optional[int],
    label_width: int, n_distance_buckets: int,
) -> dict:
    """The dims of a pair scorer: nO, nI, nH, nL (entity labels), nE (embedding width), nB
    (distance buckets)."""
    return {
        "nO": nO,
        "nI": nI,
        "nH": hidden_width,
        "nL": n_entity_labels,
        "nE": label_width,
        "nB": n_distance_buckets,
    }


def init_rest(model: Model[InT, OutT]) -> None:
    """Allocate every param but the hidden layer's W and b, in v1's order: U, c, then the
    features' pad, empty, E_label and E_dist."""
    ops = model.ops
    model.set_param("U", glorot_uniform_init(ops, (model.get_dim("nO"), model.get_dim("nH"))))
    model.set_param("c", zero_init(ops, (model.get_dim("nO"),)))
    init_features(model)

"""The relation scorer, composed as thinc composes: the pair's instance features, then the
hidden layer, then the output layer, each a layer with its own hand-written backward pass.

For every candidate pair (head, tail) of a batch:

    x = the instance vector of the pair      PairFeatures.v1 (layers/pair_features.py)
    h = f(W x + b)                           Hidden.v1 (layers/hidden.py)
    s = U h + c                              Output.v1 (layers/output.py), nO logits

`chain` runs them in this order and their backprops in the reverse one. The published
PairScorer.v2 and .v1 (spacy_window_ner/legacy) run the same pieces.
"""
from typing import Optional

from thinc.api import Model, chain, glorot_uniform_init, registry
from thinc.types import Floats2d

from .hidden import Hidden
from .output import Output
from .pair_features import (
    InT, PairFeatures, check_feature_options, infer_dims, init_features, instance_width,
)
from .window_scorer import check_window_options

OutT = Floats2d


@registry.layers("spacy-window-ner.PairScorer.v3")
def PairScorer(
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
    """Score every candidate pair of spans: chain(PairFeatures, Hidden, Output),
    s = U f(W x + b) + c, where x is the pair's instance vector (pooled span vectors, a
    window of window_size tokens on each side of both spans, the pooled tokens between them,
    embeddings of both entity labels and of a distance/order bucket). The three layers are
    the model's refs "features", "hidden" and "output".

    The input is (token vectors per doc, candidates per doc), the candidates as rows of
    `CandidateColumn` (layers/pair_features.py). The output holds the logits of all
    candidates of the batch, doc by doc. The backward pass returns (dX per doc, candidates).

    nO (Optional[int]): Number of scores (relation labels), inferred from sample output if None.
    nI (Optional[int]): Width of the token vectors, inferred from sample input if None.
    window_size (int): k, the tokens on each side of each span.
    hidden_width (int): Width of the hidden layer h.
    n_entity_labels (Optional[int]): Rows of the entity label table; label ids must be
        below it. Inferred from the sample candidates if None.
    label_width (int): Width nE of the label and distance embeddings.
    n_distance_buckets (int): Even number of distance buckets: half for a head before
        its tail, half for a head after it, each log2-spaced in the token gap.
    activation (str): One of "tanh", "hard_tanh", "relu", "sigmoid".
    dropout (float): Dropout rate applied to h during training. It is the hidden layer's
        "dropout_rate" attr, so spaCy's [training] dropout sets it during training.
    RETURNS (Model[Tuple[List[Floats2d], List[Ints2d]], Floats2d]): The layer.
    """
    check_pair_options(window_size, hidden_width, activation, dropout, label_width, n_distance_buckets)
    features = PairFeatures(
        nI, window_size=window_size, n_entity_labels=n_entity_labels, label_width=label_width,
        n_distance_buckets=n_distance_buckets,
    )
    hidden = Hidden(hidden_width, activation=activation, dropout=dropout)
    output = Output(nO, hidden_width, init_U=glorot_uniform_init)
    model: Model[InT, OutT] = chain(features, hidden, output)
    model.name = "pair_scorer"
    for name, layer in (("features", features), ("hidden", hidden), ("output", output)):
        model.set_ref(name, layer)
    # chain's own init infers each layer's sizes from the one before it, by running it on the
    # sample: this one sets them from the sample's widths alone, and draws the weights in
    # PairScorer.v2's order.
    model.init = init
    return model


def init(model: Model[InT, OutT], X: Optional[InT] = None, Y: Optional[OutT] = None) -> None:
    # By position, not by ref: thinc's Model.copy() keeps layers, not refs.
    features, hidden, output = model.layers
    if model.has_dim("nI") and not features.has_dim("nI"):
        features.set_dim("nI", model.get_dim("nI"))
    infer_dims(features, X, None, required=("nI", "nL"))
    infer_dims(model, None, Y, required=("nO",))
    nI, nE = features.get_dim("nI"), features.get_dim("nE")
    model.set_dim("nI", nI)
    features.set_dim("nO", instance_width(features.attrs["window_size"], nI, nE))
    hidden.set_dim("nI", features.get_dim("nO"))
    output.set_dim("nO", model.get_dim("nO"))
    # The same draws in the same order as PairScorer.v2 (W, b, U, c, pad, empty, E_label,
    # E_dist): same seed, same weights.
    hidden.initialize()
    output.initialize()
    init_features(features)


def check_pair_options(
    window_size: int, hidden_width: int, activation: str, dropout: float, label_width: int,
    n_distance_buckets: int,
) -> None:
    """Raise a ValueError for options a pair scorer cannot have."""
    check_window_options(window_size, hidden_width, activation, dropout)
    check_feature_options(window_size, label_width, n_distance_buckets)

"""Registered architectures: a tok2vec followed by the window layers."""
from typing import Callable, List, Optional, Tuple, cast

from spacy.tokens import Doc
from spacy.util import registry
from spacy.ml.featureextractor import FeatureExtractor
from thinc.api import HashEmbed, Model, chain, concatenate, list2ragged, ragged2list, with_array
from thinc.types import Floats2d, Ints2d, Ragged

from .layers.crf import LinearChainCRF
from .layers.window_scorer import WindowScorer


@registry.architectures("spacy-window-ner.WindowNER.v1")
def build_window_ner_model(
    tok2vec: Model[List[Doc], List[Floats2d]],
    window_size: int = 2,
    hidden_width: int = 128,
    activation: str = "tanh",
    nO: Optional[int] = None,
) -> Model[List[Doc], List[Floats2d]]:
    """Score BILUO tags for every token: tok2vec, then WindowScorer. The model also
    holds a LinearChainCRF whose transition scores the component trains when its
    loss is "crf"; the forward pass returns the emission scores only.

    tok2vec (Model[List[Doc], List[Floats2d]]): Token vectors for each doc.
    window_size (int): k, the tokens on each side in the window.
    hidden_width (int): Width of the hidden layer.
    activation (str): "tanh", "hard_tanh", "relu" or "sigmoid".
    nO (Optional[int]): Number of tags; the component sets it from its labels.
    RETURNS (Model[List[Doc], List[Floats2d]]): The model.
    """
    scorer = WindowScorer(
        nO, window_size=window_size, hidden_width=hidden_width, activation=activation
    )
    crf = LinearChainCRF(nO)
    return Model(
        "window_ner",
        forward,
        init=init,
        layers=[tok2vec, scorer, crf],
        refs={"tok2vec": tok2vec, "scorer": scorer, "crf": crf},
        dims={"nO": nO},
    )


def forward(model: Model[List[Doc], List[Floats2d]], docs: List[Doc], is_train: bool) -> Tuple[List[Floats2d], Callable]:
    tokvecs, backprop_tok2vec = model.get_ref("tok2vec")(docs, is_train)
    scores, backprop_scorer = model.get_ref("scorer")(tokvecs, is_train)

    def backprop(d_scores: List[Floats2d]) -> List[Doc]:
        return backprop_tok2vec(backprop_scorer(d_scores))

    return scores, backprop


def init(model: Model[List[Doc], List[Floats2d]], X: Optional[List[Doc]] = None, Y: Optional[List[Floats2d]] = None) -> None:
    tok2vec = model.get_ref("tok2vec")
    scorer = model.get_ref("scorer")
    crf = model.get_ref("crf")
    if Y is not None and len(Y) and not model.has_dim("nO"):
        model.set_dim("nO", Y[0].shape[1])
    if model.has_dim("nO"):
        for layer in (scorer, crf):
            if not layer.has_dim("nO"):
                layer.set_dim("nO", model.get_dim("nO"))
    tok2vec.initialize(X=X)
    tokvecs = tok2vec.predict(X) if X is not None else None
    scorer.initialize(X=tokvecs, Y=Y)
    crf.initialize()


@registry.architectures("spacy-window-ner.HashEmbed.v1")
def build_hash_embed(
    width: int, attrs: List[str], rows: List[int]
) -> Model[List[Doc], List[Floats2d]]:
    """Hash embeddings of token attributes, concatenated, with no mixing layer:
    the window layer on top mixes them. Cheaper than spacy.MultiHashEmbed.v2,
    whose maxout and layer norm cost more than the embedding tables themselves.

    width (int): Width of each attribute's embedding; the output is
        width * len(attrs) wide.
    attrs (List[str]): Token attributes to embed, e.g. NORM, PREFIX, SUFFIX, SHAPE.
    rows (List[int]): Number of rows of each attribute's table.
    RETURNS (Model[List[Doc], List[Floats2d]]): The embedding.
    """
    if len(attrs) != len(rows) or not attrs:
        raise ValueError(
            f"HashEmbed needs one rows entry per attribute, got attrs={attrs} and rows={rows}."
        )
    tables = [
        HashEmbed(width, n_rows, column=i, seed=7 + i, dropout=0.0)
        for i, n_rows in enumerate(rows)
    ]
    return chain(
        FeatureExtractor(list(attrs)),
        cast(Model[List[Ints2d], Ragged], list2ragged()),
        with_array(concatenate(*tables)),
        ragged2list(),
    )

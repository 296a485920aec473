"""Registered architectures: a tok2vec followed by the window layers."""
from typing import Callable, Dict, List, Optional, Tuple, cast

from spacy.tokens import Doc
from spacy.util import registry
from spacy.ml.featureextractor import FeatureExtractor
from thinc.api import HashEmbed, Model, chain, concatenate, list2ragged, ragged2list, with_array, zero_init
from thinc.types import Floats1d, Floats2d, FloatsXd, Ints1d, Ints2d, Ragged

from .layers.crf import LinearChainCRF
from .layers.pair_scorer import PairScorer
from .layers.window_scorer import WindowScorer


@registry.architectures("spacy-window-ner.WindowNER.v3")
def build_window_ner_model(
    tok2vec: Model[List[Doc], List[Floats2d]],
    window_size: int = 2,
    hidden_width: int = 128,
    activation: str = "tanh",
    nO: Optional[int] = None,
) -> Model[List[Doc], List[Floats2d]]:
    """Score BILUO tags for every token: tok2vec, then WindowScorer.v3. The model also
    holds a LinearChainCRF whose transition scores the component trains when its
    loss is "crf"; the forward pass returns the emission scores only. The output
    weights start at zero, as in spaCy's ner, so an untrained model scores every
    tag alike and decodes to "O" everywhere.

    tok2vec (Model[List[Doc], List[Floats2d]]): Token vectors for each doc.
    window_size (int): k, the tokens on each side in the window.
    hidden_width (int): Width of the hidden layer.
    activation (str): "tanh", "hard_tanh", "relu" or "sigmoid".
    nO (Optional[int]): Number of tags; the component sets it from its labels.
    RETURNS (Model[List[Doc], List[Floats2d]]): The model.
    """
    return window_ner_model(WindowScorer, tok2vec, window_size, hidden_width, activation, nO)


def window_ner_model(
    scorer_layer: Callable[..., Model[List[Floats2d], List[Floats2d]]],
    tok2vec: Model[List[Doc], List[Floats2d]],
    window_size: int,
    hidden_width: int,
    activation: str,
    nO: Optional[int],
) -> Model[List[Doc], List[Floats2d]]:
    """The WindowNER model around a window scorer (WindowNER.v3's, or the published .v2's and
    .v1's in spacy_window_ner/legacy): tok2vec, then the scorer, and a LinearChainCRF beside
    them. The scorer's output weights start at zero.

    scorer_layer (Callable[..., Model[List[Floats2d], List[Floats2d]]]): The window scorer's
        constructor, called with nO and the options below.
    tok2vec (Model[List[Doc], List[Floats2d]]): Token vectors for each doc.
    window_size (int): k, the tokens on each side in the window.
    hidden_width (int): Width of the hidden layer.
    activation (str): "tanh", "hard_tanh", "relu" or "sigmoid".
    nO (Optional[int]): Number of tags; the component sets it from its labels.
    RETURNS (Model[List[Doc], List[Floats2d]]): The model.
    """
    scorer = scorer_layer(
        nO, window_size=window_size, hidden_width=hidden_width, activation=activation, init_U=zero_init
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


def resize_output(model: Model[List[Doc], List[Floats2d]], source: Ints1d, bias: Floats1d) -> None:
    """Resize a WindowNER model's output to len(source) tags. New tag j starts as a
    copy of old tag source[j]: its row of the scorer's U and c (plus bias[j]) and its
    rows and columns of the CRF's transition, start and end scores. The other weights
    are kept. The output layer (the scorer itself before WindowScorer.v3) and the CRF
    are replaced by resized copies, which are new nodes to the optimizer, so an
    optimizer that has seen the old shapes goes on.

    model (Model[List[Doc], List[Floats2d]]): A model built by build_window_ner_model.
    source (Ints1d): For each new tag, the old tag it copies.
    bias (Floats1d): Added to each new tag's output bias c.
    """
    ops = model.ops
    nO = len(source)
    source = ops.asarray1i(source)
    scorer = model.get_ref("scorer")
    # U and c are the params of WindowScorer.v3's output layer, or of a .v2 or .v1 scorer itself.
    output = next(node for node in scorer.walk() if "U" in node.param_names)
    crf = model.get_ref("crf")
    resized: List[Tuple[Model, Dict[str, FloatsXd]]] = [(output, {}), (crf, {})]
    if output.has_param("U"):
        U, c = cast(Floats2d, output.get_param("U")), cast(Floats1d, output.get_param("c"))
        resized[0] = (output, {"U": U[source], "c": c[source] + ops.asarray1f(bias)})
    if crf.has_param("T"):
        T = cast(Floats2d, crf.get_param("T"))
        start, end = cast(Floats1d, crf.get_param("start")), cast(Floats1d, crf.get_param("end"))
        resized[1] = (crf, {"T": T[source][:, source], "start": start[source], "end": end[source]})
    for old, params in resized:
        new = old.copy()
        # thinc refuses to change a dim while the layer holds params: lift them off first.
        kept = {name: new.get_param(name) for name in new.param_names if new.has_param(name)}
        for name in kept:
            new.set_param(name, None)
        new.set_dim("nO", nO, force=True)
        for name, value in {**kept, **params}.items():
            new.set_param(name, ops.as_contig(value))
            if name in params and new.has_grad(name):
                new.set_grad(name, ops.alloc(value.shape, dtype=value.dtype))
        model.replace_node(old, new)
        if old is output:
            output = new
    # The nodes that hold the output layer (the model, v3's chain and its wrappers) share its nO.
    for node in model.walk():
        if node.has_dim("nO") is not False and any(child is output for child in node.walk()):
            node.set_dim("nO", nO, force=True)


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
    tables: List[Model[Ints2d, Floats2d]] = [
        HashEmbed(width, n_rows, column=i, seed=7 + i, dropout=0.0)
        for i, n_rows in enumerate(rows)
    ]
    return chain(
        FeatureExtractor(list(attrs)),
        cast(Model[List[Ints2d], Ragged], list2ragged()),
        with_array(concatenate(*tables)),
        ragged2list(),
    )


@registry.architectures("spacy-window-ner.EntityFeatures.v1")
def build_entity_features(
    tok2vec: Model[List[Doc], List[Floats2d]], width: int = 16, type_rows: int = 256
) -> Model[List[Doc], List[Floats2d]]:
    """Token vectors with the entities already on the doc: each token's vector from
    tok2vec, concatenated with embeddings of its ENT_IOB tag (B, I, O or unset) and its
    ENT_TYPE, as an upstream component (a sourced `ner`) set them. The window then sees
    [v(i); e(i)] at every position. Any labels work: the type is hashed. A doc without
    entity annotation gives every token the same feature (IOB and type unset).

    tok2vec (Model[List[Doc], List[Floats2d]]): Token vectors for each doc.
    width (int): Width of each of the two embeddings; the output is
        tok2vec's width + 2 * width wide.
    type_rows (int): Number of rows of the entity type's hash table.
    RETURNS (Model[List[Doc], List[Floats2d]]): The token vectors with the features.
    """
    # ENT_IOB has four values (unset, I, O, B): a small table holds them.
    entities = build_hash_embed(width, ["ENT_IOB", "ENT_TYPE"], [16, type_rows])
    return concatenate(tok2vec, entities)


@registry.architectures("spacy-window-ner.RelationScorer.v3")
def build_relation_model(
    tok2vec: Model[List[Doc], List[Floats2d]],
    window_size: int = 1,
    hidden_width: int = 128,
    label_width: int = 16,
    n_distance_buckets: int = 16,
    activation: str = "relu",
    n_entity_labels: Optional[int] = None,
    nO: Optional[int] = None,
) -> Model[Tuple[List[Doc], List[Ints2d]], Floats2d]:
    """Score relation labels for candidate pairs of spans: tok2vec, then PairScorer.v3.

    tok2vec (Model[List[Doc], List[Floats2d]]): Token vectors for each doc.
    window_size (int): k, the tokens on each side of both spans.
    hidden_width (int): Width of the hidden layer.
    label_width (int): Width of the entity label and distance embeddings.
    n_distance_buckets (int): Even number of distance/order buckets.
    activation (str): "tanh", "hard_tanh", "relu" or "sigmoid".
    n_entity_labels (Optional[int]): Rows of the entity label table; the component sets it.
    nO (Optional[int]): Number of relation labels; the component sets it.
    RETURNS (Model[Tuple[List[Doc], List[Ints2d]], Floats2d]): The model. Its input is
        (docs, candidates per doc) and its output the logits of every candidate.
    """
    return relation_model(
        PairScorer, tok2vec, window_size, hidden_width, label_width, n_distance_buckets, activation,
        n_entity_labels, nO,
    )


def relation_model(
    scorer_layer: Callable[..., Model[Tuple[List[Floats2d], List[Ints2d]], Floats2d]],
    tok2vec: Model[List[Doc], List[Floats2d]],
    window_size: int,
    hidden_width: int,
    label_width: int,
    n_distance_buckets: int,
    activation: str,
    n_entity_labels: Optional[int],
    nO: Optional[int],
) -> Model[Tuple[List[Doc], List[Ints2d]], Floats2d]:
    """The RelationScorer model around a pair scorer (RelationScorer.v3's, or the published
    .v2's and .v1's in spacy_window_ner/legacy): tok2vec, then the scorer.

    scorer_layer (Callable[..., Model[Tuple[List[Floats2d], List[Ints2d]], Floats2d]]): The
        pair scorer's constructor, called with nO and the options below.
    tok2vec (Model[List[Doc], List[Floats2d]]): Token vectors for each doc.
    window_size (int): k, the tokens on each side of both spans.
    hidden_width (int): Width of the hidden layer.
    label_width (int): Width of the entity label and distance embeddings.
    n_distance_buckets (int): Even number of distance/order buckets.
    activation (str): "tanh", "hard_tanh", "relu" or "sigmoid".
    n_entity_labels (Optional[int]): Rows of the entity label table; the component sets it.
    nO (Optional[int]): Number of relation labels; the component sets it.
    RETURNS (Model[Tuple[List[Doc], List[Ints2d]], Floats2d]): The model.
    """
    scorer = scorer_layer(
        nO, window_size=window_size, hidden_width=hidden_width, n_entity_labels=n_entity_labels,
        label_width=label_width, n_distance_buckets=n_distance_buckets, activation=activation,
    )
    return Model(
        "window_rel",
        _relation_forward,
        init=_relation_init,
        layers=[tok2vec, scorer],
        refs={"tok2vec": tok2vec, "scorer": scorer},
        dims={"nO": nO, "nL": n_entity_labels},
    )


def _relation_forward(
    model: Model[Tuple[List[Doc], List[Ints2d]], Floats2d],
    inputs: Tuple[List[Doc], List[Ints2d]],
    is_train: bool,
) -> Tuple[Floats2d, Callable]:
    docs, cands = inputs
    tokvecs, backprop_tok2vec = model.get_ref("tok2vec")(docs, is_train)
    scores, backprop_scorer = model.get_ref("scorer")((tokvecs, cands), is_train)

    def backprop(d_scores: Floats2d) -> Tuple[List[Doc], List[Ints2d]]:
        d_tokvecs, _ = backprop_scorer(d_scores)
        return backprop_tok2vec(d_tokvecs), cands

    return scores, backprop


def _relation_init(
    model: Model[Tuple[List[Doc], List[Ints2d]], Floats2d],
    X: Optional[Tuple[List[Doc], List[Ints2d]]] = None,
    Y: Optional[Floats2d] = None,
) -> None:
    tok2vec = model.get_ref("tok2vec")
    scorer = model.get_ref("scorer")
    if Y is not None and not model.has_dim("nO"):
        model.set_dim("nO", Y.shape[1])
    if model.has_dim("nO") and not scorer.has_dim("nO"):
        scorer.set_dim("nO", model.get_dim("nO"))
    # nL is the scorer's own before PairScorer.v3, and its features layer's in v3.
    labels = next(node for node in scorer.walk() if node.has_dim("nL") is not False)
    if model.has_dim("nL") and not labels.has_dim("nL"):
        labels.set_dim("nL", model.get_dim("nL"))
    docs = X[0] if X is not None else None
    tok2vec.initialize(X=docs)
    tokvecs = tok2vec.predict(docs) if docs is not None else None
    scorer.initialize(X=(tokvecs, X[1]) if X is not None else None, Y=Y)

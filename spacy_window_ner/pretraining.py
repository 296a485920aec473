"""The lecture's unsupervised window objective for `spacy pretrain` (Collobert et al. 2011):
rank each true window above the same window with its centre word replaced by a random word,

    J = mean_i max(0, 1 - s_i + s_c_i)

Registered as `spacy-window-ner.WindowRanking.v1`, for `[pretraining.objective]`. spaCy calls
it with (vocab, tok2vec), trains the returned model with its "loss" attr, and saves only the
tok2vec, which `[initialize] init_tok2vec` loads into the pipeline later.
"""
from typing import Callable, List, Optional, Tuple, cast

import numpy
from spacy.tokens import Doc
from spacy.util import registry
from spacy.vocab import Vocab
from thinc.api import Model, Ops
from thinc.types import Floats2d, Ints1d

from .layers.window_ranker import WindowRanker


@registry.architectures("spacy-window-ner.WindowRanking.v1")
def create_window_ranking_objective(
    window_size: int = 2, hidden_width: int = 128, activation: str = "tanh"
) -> Callable[[Vocab, Model], Model]:
    """The window ranking objective for [pretraining.objective]. Its window network is
    used for pretraining only; spaCy keeps the tok2vec it trains.

    window_size (int): k, the tokens on each side of the centre word.
    hidden_width (int): Width of the window network's hidden layer.
    activation (str): "tanh", "hard_tanh", "relu" or "sigmoid".
    RETURNS (Callable[[Vocab, Model], Model]): What spaCy's pretraining calls with the
        vocab and the tok2vec to pretrain.
    """

    def create_objective(vocab: Vocab, tok2vec: Model[List[Doc], List[Floats2d]]) -> Model:
        model = build_window_ranking_model(
            tok2vec, window_size=window_size, hidden_width=hidden_width, activation=activation
        )
        model.attrs["loss"] = get_window_ranking_loss
        return model

    return create_objective


def build_window_ranking_model(
    tok2vec: Model[List[Doc], List[Floats2d]],
    *,
    window_size: int = 2,
    hidden_width: int = 128,
    activation: str = "tanh",
) -> Model[List[Doc], Floats2d]:
    """tok2vec, then a random replacement for every token (see sample_replacements), then
    WindowRanker: one row [s, s_c] per token of the batch.

    tok2vec (Model[List[Doc], List[Floats2d]]): The token vectors to pretrain.
    window_size (int): k, the tokens on each side of the centre word.
    hidden_width (int): Width of the window network's hidden layer.
    activation (str): "tanh", "hard_tanh", "relu" or "sigmoid".
    RETURNS (Model[List[Doc], Floats2d]): The model, with refs "tok2vec" and "ranker".
    """
    ranker = WindowRanker(window_size=window_size, hidden_width=hidden_width, activation=activation)
    return Model(
        "window_ranking",
        forward,
        init=init,
        layers=[tok2vec, ranker],
        refs={"tok2vec": tok2vec, "ranker": ranker},
    )


def forward(model: Model[List[Doc], Floats2d], docs: List[Doc], is_train: bool) -> Tuple[Floats2d, Callable]:
    tokvecs, backprop_tok2vec = model.get_ref("tok2vec")(docs, is_train)
    replacements = sample_replacements(sum(len(X) for X in tokvecs))
    scores, backprop_ranker = model.get_ref("ranker")((tokvecs, replacements), is_train)

    def backprop(d_scores: Floats2d) -> List[Doc]:
        d_tokvecs, _ = backprop_ranker(d_scores)
        return backprop_tok2vec(d_tokvecs)

    return scores, backprop


def init(model: Model[List[Doc], Floats2d], X: Optional[List[Doc]] = None, Y: Optional[Floats2d] = None) -> None:
    tok2vec = model.get_ref("tok2vec")
    ranker = model.get_ref("ranker")
    # As spaCy's own objectives (a chain over the tok2vec) do, initializing the objective
    # initializes the tok2vec; `spacy pretrain --resume-path` loads its weights afterwards.
    tok2vec.initialize(X=X)
    if tok2vec.has_dim("nO") and not ranker.has_dim("nI"):
        ranker.set_dim("nI", tok2vec.get_dim("nO"))
    if X is not None and not ranker.has_dim("nI"):
        tokvecs = tok2vec.predict(X)
        ranker.initialize(X=(tokvecs, sample_replacements(sum(len(v) for v in tokvecs))))
    else:
        ranker.initialize()


def sample_replacements(n_tokens: int) -> Ints1d:
    """For each token of a batch, the batch row of a different token, drawn uniformly over
    the batch's other tokens with numpy's global random state (which spaCy seeds from
    [training] seed). So the random word follows the batch's unigram distribution, its
    vector is already computed, and the gradient of s_c trains it too. A batch of one token
    has no other token: it is its own replacement, which makes J = 1 with no gradient.

    n_tokens (int): The number of tokens in the batch.
    RETURNS (Ints1d): One row index per token, never the token's own row when n_tokens > 1.
    """
    # numpy int32 arrays: the Ints1d that thinc's types describe.
    if n_tokens < 2:
        return cast(Ints1d, numpy.zeros((n_tokens,), dtype="int32"))
    token = numpy.arange(n_tokens, dtype="int32")
    other = numpy.random.randint(0, n_tokens - 1, size=n_tokens).astype("int32")
    return cast(Ints1d, other + (other >= token))


def get_window_ranking_loss(ops: Ops, docs: List[Doc], scores: Floats2d) -> Tuple[float, Floats2d]:
    """The hinge J = mean_i max(0, 1 - s_i + s_c_i) and its gradient: where the margin
    1 - s_i + s_c_i is positive, dJ/ds_i = -1/N and dJ/ds_c_i = 1/N; elsewhere 0.

    ops (Ops): The model's ops.
    docs (List[Doc]): The batch (unused: the scores carry all the objective needs).
    scores (Floats2d): One row [s, s_c] per token, as the window ranking model returns it.
    RETURNS (Tuple[float, Floats2d]): J, and dJ/dscores.
    """
    N = scores.shape[0]
    d_scores = ops.alloc2f(N, 2, dtype=scores.dtype)
    if N == 0:
        return 0.0, d_scores
    margin = 1.0 - scores[:, 0] + scores[:, 1]
    active = (margin > 0).astype(scores.dtype)
    d_scores[:, 0] = -active / N
    d_scores[:, 1] = active / N
    return float((margin * active).sum()) / N, d_scores

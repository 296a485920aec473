"""The lecture's unsupervised window criterion as a Thinc layer: score each true window and
the same window with its centre word replaced.

For every token i (the window centre) of a batch with token vectors X and a replacement
row r(i) of the batch:

    s_i   = score([X[i-k]; ...; X[i];    ...; X[i+k]])
    s_c_i = score([X[i-k]; ...; X[r(i)]; ...; X[i+k]])

The score is a child WindowScorer.v2 with nO=1 (s = U f(W x + b) + c), so the window maths and
its backprop live in one place. (WindowRanker.v1 is published: it keeps the scorer it was
published with, from spacy_window_ner/legacy, and so its weights and their draws.) The corrupted windows are built as whole copies of the batch:
copy m (m = 0..2k) replaces every token whose position p in its doc has p % (2k+1) == m. The
2k+1 positions of any window fall in distinct classes mod 2k+1, so in copy p % (2k+1) the
window of token p has exactly its centre replaced, and padding at the doc edges stays where it
is. The scorer therefore scores (2k+2) N windows for 2N scores; the backprop of the copies is
one scatter-add.
"""
from typing import Callable, List, Optional, Tuple, cast

import numpy
from thinc.api import Model, glorot_uniform_init, registry
from thinc.types import Floats2d, Ints1d

from ..legacy.layers.window_scorer_v2 import WindowScorer_v2

InT = Tuple[List[Floats2d], Ints1d]
OutT = Floats2d


@registry.layers("spacy-window-ner.WindowRanker.v1")
def WindowRanker(
    nI: Optional[int] = None,
    *,
    window_size: int = 2,
    hidden_width: int = 128,
    activation: str = "tanh",
    dropout: float = 0.0,
    init_U: Callable = glorot_uniform_init,
) -> Model[InT, OutT]:
    """Score every token's window and the same window with its centre replaced by another
    row of the batch. The input is (Xs, replacements): the token vectors per doc, and for
    each token of the flattened batch the row whose vector replaces it as a centre. The
    output has one row per token: [s, s_c].

    nI (Optional[int]): Width of the token vectors, inferred from sample input if None.
    window_size (int): k, the number of tokens on each side of the centre token.
    hidden_width (int): Width of the scorer's hidden layer h.
    activation (str): One of "tanh", "hard_tanh", "relu", "sigmoid".
    dropout (float): Dropout rate applied to h during training.
    init_U (Callable): Initializer of the scorer's output weights u.
    RETURNS (Model[Tuple[List[Floats2d], Ints1d], Floats2d]): The layer.
    """
    scorer = WindowScorer_v2(
        nO=1,
        nI=nI,
        window_size=window_size,
        hidden_width=hidden_width,
        activation=activation,
        dropout=dropout,
        init_U=init_U,
    )
    return Model(
        "window_ranker",
        forward,
        init=init,
        layers=[scorer],
        refs={"scorer": scorer},
        dims={"nI": nI},
    )


def forward(model: Model[InT, OutT], inputs: InT, is_train: bool) -> Tuple[OutT, Callable]:
    ops = model.ops
    Xs, replacements = inputs
    scorer = model.get_ref("scorer")
    n_copies = 2 * scorer.attrs["window_size"] + 1
    lengths = numpy.asarray([len(X) for X in Xs], dtype="int32")
    N = int(lengths.sum())
    if N == 0:
        return _forward_empty(model, Xs, replacements)
    replacements = ops.to_numpy(replacements).astype("int32")
    if replacements.shape != (N,) or replacements.min() < 0 or replacements.max() >= N:
        raise ValueError(
            f"WindowRanker needs one replacement row in [0, {N}) per token of the batch "
            f"({N} tokens), not an array of shape {replacements.shape} with values "
            f"{replacements.min()}..{replacements.max()}."
        )
    token = numpy.arange(N, dtype="int32")
    position = token - numpy.repeat(numpy.cumsum(lengths) - lengths, lengths)
    centre_class = position % n_copies
    # gather: the batch row behind each row of [X; copy 0; ...; copy 2k].
    gather = numpy.concatenate(
        [token] + [numpy.where(centre_class == m, replacements, token) for m in range(n_copies)]
    )
    # pick: the row of the copy in which token i's window has its own centre replaced.
    # The casts say that these numpy int arrays are the Ints1d that thinc's types describe.
    pick = ops.asarray1i(cast(Ints1d, (1 + centre_class) * N + token))
    gather_dev = ops.asarray1i(cast(Ints1d, gather))
    all_lengths = cast(Ints1d, numpy.tile(lengths, n_copies + 1))
    X = ops.flatten(Xs)
    S_all, backprop_scorer = scorer(ops.unflatten(X[gather_dev], all_lengths), is_train)
    s_all = ops.flatten(S_all)[:, 0]
    S = ops.xp.stack([s_all[:N], s_all[pick]], axis=1)

    def backprop(dS: OutT) -> InT:
        # Only the true windows and the centre-replaced ones reach the score; the other
        # windows of the copies get a zero gradient.
        d_all = ops.alloc2f((n_copies + 1) * N, 1, dtype=dS.dtype)
        d_all[:N, 0] = dS[:, 0]
        d_all[pick, 0] = dS[:, 1]
        d_copies = ops.flatten(backprop_scorer(ops.unflatten(d_all, all_lengths)))
        # dX[j] = sum of the gradients of every copy row that gathered row j.
        dX = ops.alloc2f(N, X.shape[1], dtype=d_copies.dtype)
        ops.scatter_add(dX, gather_dev, d_copies)
        return ops.unflatten(dX, cast(Ints1d, lengths)), inputs[1]

    return S, backprop


def init(model: Model[InT, OutT], X: Optional[InT] = None, Y: Optional[OutT] = None) -> None:
    scorer = model.get_ref("scorer")
    if X is not None and len(X[0]) and not model.has_dim("nI"):
        model.set_dim("nI", X[0][0].shape[1])
    if model.has_dim("nI") and not scorer.has_dim("nI"):
        scorer.set_dim("nI", model.get_dim("nI"))
    scorer.initialize()


def _forward_empty(model: Model[InT, OutT], Xs: List[Floats2d], replacements: Ints1d) -> Tuple[OutT, Callable]:
    ops = model.ops
    nI = model.get_dim("nI")

    def backprop(dS: OutT) -> InT:
        return [ops.alloc2f(0, nI) for _ in Xs], replacements

    return ops.alloc2f(0, 2), backprop

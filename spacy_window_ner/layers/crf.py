"""A linear-chain CRF over BILUO tags: the sentence-level log-likelihood (Collobert's
SLL), with the forward algorithm and its backward pass written by hand.

For emission scores E (n x nT), transitions T, start and end scores, a path y scores

    score(y) = start[y_0] + sum_t E[t, y_t] + sum_{t>0} T[y_{t-1}, y_t] + end[y_{n-1}]

and the loss is -log p(gold) = log Z - log Z_gold, where Z sums exp(score) over all
paths and Z_gold over the paths that agree with the gold tags (all of them where
the gold is missing). Its gradient is a difference of marginals:

    dE[t, j] = p(y_t = j) - p_gold(y_t = j)
    dT[i, j] = sum_t p(y_{t-1} = i, y_t = j) - the same under the gold constraint

The module holds what the layer itself needs: its params, the BILUO constraints on them
(`potentials`, `allowed_transitions`), and the forward-backward messages and marginals its
loss and gradient are made of. Decoding (Viterbi, span probabilities) is `decoding.py`.
"""
from typing import Callable, List, NamedTuple, Optional, Tuple, cast

import numpy
from thinc.api import Model, NumpyOps, Ops, registry, zero_init
from thinc.types import Floats1d, Floats2d, Floats3d, Ints1d, Ints2d

from .batching import pad, to_host

InT = Tuple[List[Floats2d], List[Ints2d]]
OutT = Floats1d
# A transition that BILUO forbids gets this score: exp() of it is 0 in float32,
# while sums of it stay finite.
FORBIDDEN = -1e4


@registry.layers("spacy-window-ner.LinearChainCRF.v1")
def LinearChainCRF(nO: Optional[int] = None, *, biluo: bool = True) -> Model[InT, OutT]:
    """The negative log-likelihood of gold tag sequences under a linear-chain CRF.

    The input is (scores, gold): per doc, emission scores (n, nO) and an allowed-tag
    mask (n, nO) that is 1 for the gold tag, or 1 everywhere where gold is missing.
    The output is the loss of each doc.

    nO (Optional[int]): Number of tags, inferred from sample input if None.
    biluo (bool): Forbid the transitions that BILUO does not allow.
    RETURNS (Model[Tuple[List[Floats2d], List[Ints2d]], Floats1d]): The layer.
    """
    return Model(
        "crf",
        forward,
        init=init,
        dims={"nO": nO},
        params={"T": None, "start": None, "end": None},
        attrs={"biluo": biluo},
    )


def forward(model: Model[InT, OutT], inputs: InT, is_train: bool) -> Tuple[OutT, Callable]:
    ops = model.ops
    # The recursions step through the positions one by one, which on a GPU would be a few tiny
    # kernels per position, so they run on the host: one copy there, one back with the gradients.
    host = NumpyOps()
    scores, gold = inputs
    nO = model.get_dim("nO")
    lengths = numpy.asarray([len(s) for s in scores], dtype="int32")
    E = pad(host, to_host(ops, scores), nO)
    # The casts and ignores below are where thinc's array types fall short of numpy's: astype
    # keeps the int type, and there is no boolean mask index and no numpy array protocol.
    allowed = pad(host, [cast(Floats2d, g.astype(E.dtype)) for g in to_host(ops, gold)], nO)
    inside = numpy.arange(E.shape[1])[None, :] < lengths[:, None]
    # Padding positions allow every tag, so they cancel out of log Z - log Z_gold.
    allowed[~inside] = 1.0  # type: ignore[call-overload]
    T, start, end = (ops.to_numpy(a) for a in potentials(model))
    E_gold = numpy.where(allowed > 0, E, FORBIDDEN)  # type: ignore[call-overload]
    p, pairs, log_Z = marginals(host, E, cast(Ints1d, lengths), T, start, end)
    p_gold, pairs_gold, log_Z_gold = marginals(host, E_gold, cast(Ints1d, lengths), T, start, end)

    def backprop(d_loss: OutT) -> InT:
        d = ops.to_numpy(d_loss)[:, None, None]
        dE = d * (p - p_gold)
        # ops.asarray keeps the float arrays' shapes: the casts name them.
        model.inc_grad("T", cast(Floats2d, ops.asarray((d * (pairs - pairs_gold)).sum(axis=0))))
        model.inc_grad("start", cast(Floats1d, ops.asarray(dE[:, 0].sum(axis=0))))
        last = numpy.maximum(lengths - 1, 0)
        model.inc_grad("end", cast(Floats1d, ops.asarray(dE[numpy.arange(len(lengths)), last].sum(axis=0))))
        return ops.unflatten(cast(Floats2d, ops.asarray(dE[inside])), cast(Ints1d, lengths)), gold

    return cast(Floats1d, ops.asarray(log_Z - log_Z_gold)), backprop


def init(model: Model[InT, OutT], X: Optional[InT] = None, Y: Optional[OutT] = None) -> None:
    if X is not None and len(X[0]) and not model.has_dim("nO"):
        model.set_dim("nO", X[0][0].shape[1])
    nO = model.get_dim("nO")
    if model.attrs["biluo"]:
        n_labels_for(nO)  # raises on a tag count BILUO cannot have
    model.set_param("T", zero_init(model.ops, (nO, nO)))
    model.set_param("start", zero_init(model.ops, (nO,)))
    model.set_param("end", zero_init(model.ops, (nO,)))


def potentials(model: Model[InT, OutT], *, learned: bool = True) -> Tuple[Floats2d, Floats1d, Floats1d]:
    """The transition, start and end scores, with the BILUO constraints applied.

    learned (bool): Include the learned scores; if False, only the constraints,
        for decoding token-level (softmax or hinge) scores.
    RETURNS (Tuple[Floats2d, Floats1d, Floats1d]): transitions, start, end.
    """
    ops = model.ops
    nO = model.get_dim("nO")
    if learned:
        T = cast(Floats2d, model.get_param("T"))
        start = cast(Floats1d, model.get_param("start"))
        end = cast(Floats1d, model.get_param("end"))
    else:
        T, start, end = ops.alloc2f(nO, nO), ops.alloc1f(nO), ops.alloc1f(nO)
    if not model.attrs["biluo"]:
        return T, start, end
    # thinc's asarray is typed for its own array types only; it copies any numpy array.
    masks = allowed_transitions(n_labels_for(nO))
    allowed, can_start, can_end = (ops.asarray(a) for a in masks)  # type: ignore[arg-type]
    xp = ops.xp
    return (
        xp.where(allowed, T, FORBIDDEN),
        xp.where(can_start, start, FORBIDDEN),
        xp.where(can_end, end, FORBIDDEN),
    )


def n_labels_for(n_tags: int) -> int:
    """The number of labels of a BILUO tag count, or a ValueError if it is not one."""
    if n_tags < 1 or (n_tags - 1) % 4:
        raise ValueError(f"{n_tags} is not a BILUO tag count (1 + 4 * number of labels).")
    return (n_tags - 1) // 4


def allowed_transitions(n_labels: int) -> Tuple[numpy.ndarray, numpy.ndarray, numpy.ndarray]:
    """Which tag may follow which, and which may start or end a doc.

    n_labels (int): The number of entity labels.
    RETURNS (Tuple[ndarray, ndarray, ndarray]): allowed (n_tags, n_tags), where
        allowed[i, j] says tag j may follow tag i; can_start (n_tags,); can_end (n_tags,).
    """
    n_tags = 1 + 4 * n_labels
    label = numpy.arange(n_tags) - 1
    prefix = numpy.where(label >= 0, label % 4, -1)  # -1 for O, then 0..3 for B, I, L, U
    label //= 4
    outside = (prefix == -1) | (prefix == 2) | (prefix == 3)  # O, L, U: no entity open
    opens = (prefix == -1) | (prefix == 0) | (prefix == 3)  # O, B, U: may follow a closed entity
    continues = (prefix == 1) | (prefix == 2)  # I, L: continue an open entity
    same_label = label[:, None] == label[None, :]
    allowed = (outside[:, None] & opens[None, :]) | (
        ~outside[:, None] & continues[None, :] & same_label
    )
    can_end = outside
    return allowed, opens.copy(), can_end


class Messages(NamedTuple):
    """Scaled forward and backward messages of a padded batch. Each row of alpha
    and beta sums to 1; the true messages are

        alpha_t(j) = alpha[b, t, j] * exp(log_alpha[b, t])
        beta_t(i) = beta[b, t, i] * exp(log_beta[b, t])

    where alpha_t(j) sums exp(score) over the paths through tokens 0..t that end
    in tag j, and beta_t(i) over the paths from tag i at t to the end.
    """

    alpha: Floats3d
    beta: Floats3d
    log_alpha: Floats2d
    log_beta: Floats2d
    log_Z: Floats1d
    # exp(E - max_j E), exp(T - max T) and max T: the potentials the messages use
    emissions: Floats3d
    transitions: Floats2d
    transitions_max: float


def forward_backward(
    ops: Ops, E: Floats3d, lengths: Ints1d, T: Floats2d, start: Floats1d, end: Floats1d
) -> Messages:
    """The forward and backward algorithms over a padded batch, in probability
    space with per-step scaling, so each step is one small matrix product.

    ops (Ops): The ops to compute with.
    E (Floats3d): Emission scores (n_docs, max_length, n_tags), padded.
    lengths (Ints1d): The length of each doc.
    T (Floats2d): Transition scores.
    start (Floats1d): Start scores.
    end (Floats1d): End scores.
    RETURNS (Messages): The scaled messages and log Z per doc.
    """
    xp = ops.xp
    n_docs, max_length, nO = E.shape
    lengths = xp.asarray(lengths)
    E_max = E.max(axis=2) if max_length else xp.zeros((n_docs, 0), dtype=E.dtype)
    P = xp.exp(E - E_max[:, :, None])
    T_max = float(T.max())
    G = xp.exp(T - T_max)
    if max_length == 0:
        empty = xp.zeros_like(E)
        return Messages(empty, empty, E_max, E_max, xp.zeros((n_docs,), dtype=E.dtype), P, G, T_max)
    # The recursions run over (nO, n_docs) slices, so that the sums over the tags are
    # reductions over the first axis (numpy runs those several times faster than ones over
    # the last): the messages are computed as [t, j, doc] and handed back as [doc, t, j].
    P_t = xp.ascontiguousarray(P.transpose((1, 2, 0)))
    alpha = xp.empty_like(P_t)
    beta = xp.empty_like(P_t)
    log_alpha = xp.empty((max_length, n_docs), dtype=E.dtype)
    log_beta = xp.empty((max_length, n_docs), dtype=E.dtype)
    # log of each step's scale: that of the step's normalizer, the maxima taken out of exp(E)
    # and exp(T), and 0 past the end of a doc, where the messages stay as they were.
    E_max_t = xp.ascontiguousarray(E_max.T)
    inside = xp.arange(max_length)[:, None] < lengths[None, :]  # type: ignore[call-overload]
    all_active_until = int(lengths.min())
    start_max, end_max = float(start.max()), float(end.max())
    # alpha_0 = exp(start) * exp(E_0); alpha_t = (alpha_{t-1} @ exp(T)) * exp(E_t)
    a = xp.exp(start - start_max)[:, None] * P_t[0]
    norm = a.sum(axis=0)
    alpha[0] = a / norm
    log_alpha[0] = xp.log(norm) + start_max + E_max_t[0]
    G_into = xp.ascontiguousarray(G.T)
    for t in range(1, max_length):
        a = (G_into @ alpha[t - 1]) * P_t[t]
        norm = a.sum(axis=0)
        if t < all_active_until:
            alpha[t] = a / norm
            log_alpha[t] = log_alpha[t - 1] + (xp.log(norm) + T_max + E_max_t[t])
        else:
            active = inside[t]
            alpha[t] = xp.where(active, a / norm, alpha[t - 1])
            log_alpha[t] = log_alpha[t - 1] + xp.where(active, xp.log(norm) + T_max + E_max_t[t], 0.0)
    final = xp.exp(end - end_max) @ alpha[-1]
    log_Z = log_alpha[-1] + xp.log(final) + end_max
    # beta_{n-1} = exp(end); beta_t = exp(T) @ (exp(E_{t+1}) * beta_{t+1})
    b = xp.exp(end - end_max)
    beta[-1] = (b / b.sum())[:, None]
    log_beta[-1] = float(xp.log(b.sum())) + end_max
    for t in range(max_length - 2, -1, -1):
        b = G @ (P_t[t + 1] * beta[t + 1])
        norm = b.sum(axis=0)
        if t + 1 < all_active_until:
            beta[t] = b / norm
            log_beta[t] = log_beta[t + 1] + (xp.log(norm) + T_max + E_max_t[t + 1])
        else:
            active = inside[t + 1]
            beta[t] = xp.where(active, b / norm, beta[t + 1])
            log_beta[t] = log_beta[t + 1] + xp.where(active, xp.log(norm) + T_max + E_max_t[t + 1], 0.0)
    return Messages(
        alpha.transpose((2, 0, 1)), beta.transpose((2, 0, 1)), log_alpha.T, log_beta.T, log_Z, P, G, T_max
    )


def marginals(
    ops: Ops, E: Floats3d, lengths: Ints1d, T: Floats2d, start: Floats1d, end: Floats1d
) -> Tuple[Floats3d, Floats3d, Floats1d]:
    """Tag marginals p(y_t = j), expected transition counts per doc
    sum_t p(y_{t-1} = i, y_t = j), and log Z.
    """
    xp = ops.xp
    m = forward_backward(ops, E, lengths, T, start, end)
    n_docs, max_length, nO = E.shape
    inside = xp.arange(max_length)[None, :] < xp.asarray(lengths)[:, None]
    # p_t(j) = alpha_t(j) beta_t(j) / Z, and sum_j alpha_t(j) beta_t(j) = Z at every t.
    # (The ignores: thinc's Floats3d.sum has no positional axis, its arrays no newaxis index.)
    p = m.alpha * m.beta
    p *= (inside / xp.maximum(p.sum(axis=2), 1e-30))[:, :, None]  # type: ignore[call-overload]
    # p(y_{t-1} = i, y_t = j) = alpha_{t-1}(i) exp(T_ij) exp(E_t(j)) beta_t(j) / Z,
    # normalized per step; summed over t as one batched product.
    after = m.emissions[:, 1:] * m.beta[:, 1:]
    norm = ((m.alpha[:, :-1] @ m.transitions) * after).sum(axis=2)  # type: ignore[call-overload]
    after *= (inside[:, 1:] / xp.maximum(norm, 1e-30))[:, :, None]
    pairs = m.transitions[None] * (m.alpha[:, :-1].transpose((0, 2, 1)) @ after)  # type: ignore[call-overload]
    return p, pairs, m.log_Z

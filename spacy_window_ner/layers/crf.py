"""A linear-chain CRF over BILUO tags: the sentence-level log-likelihood (Collobert's
SLL), with the forward algorithm and its backward pass written by hand.

For emission scores E (n x nT), transitions T, start and end scores, a path y scores

    score(y) = start[y_0] + sum_t E[t, y_t] + sum_{t>0} T[y_{t-1}, y_t] + end[y_{n-1}]

and the loss is -log p(gold) = log Z - log Z_gold, where Z sums exp(score) over all
paths and Z_gold over the paths that agree with the gold tags (all of them where
the gold is missing). Its gradient is a difference of marginals:

    dE[t, j] = p(y_t = j) - p_gold(y_t = j)
    dT[i, j] = sum_t p(y_{t-1} = i, y_t = j) - the same under the gold constraint
"""
from typing import Callable, List, Optional, Tuple

from thinc.api import Model, registry, zero_init
from thinc.types import Floats1d, Floats2d, Floats3d, Ints1d, Ints2d

from ..tags import FORBIDDEN, allowed_transitions, n_labels_for, pad

InT = Tuple[List[Floats2d], List[Ints2d]]
OutT = Floats1d


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
    xp = ops.xp
    scores, gold = inputs
    nO = model.get_dim("nO")
    lengths = ops.asarray1i([len(s) for s in scores])
    E = pad(ops, scores, nO)
    allowed = pad(ops, [ops.asarray2f(g, dtype=E.dtype) for g in gold], nO)
    # Padding positions allow every tag, so they cancel out of log Z - log Z_gold.
    allowed[xp.arange(E.shape[1])[None, :] >= xp.asarray(lengths)[:, None]] = 1.0
    T, start, end = potentials(model)
    E_gold = xp.where(allowed > 0, E, FORBIDDEN)
    p, pairs, log_Z = marginals(ops, E, lengths, T, start, end)
    p_gold, pairs_gold, log_Z_gold = marginals(ops, E_gold, lengths, T, start, end)
    loss = log_Z - log_Z_gold

    def backprop(d_loss: OutT) -> InT:
        d = xp.asarray(d_loss)[:, None, None]
        dE = d * (p - p_gold)
        model.inc_grad("T", (d * (pairs - pairs_gold)).sum(axis=0))
        model.inc_grad("start", dE[:, 0].sum(axis=0))
        last = xp.maximum(xp.asarray(lengths) - 1, 0)
        model.inc_grad("end", dE[xp.arange(len(lengths)), last].sum(axis=0))
        return [dE[i, : len(s)] for i, s in enumerate(scores)], gold

    return loss, backprop


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
        T = model.get_param("T")
        start = model.get_param("start")
        end = model.get_param("end")
    else:
        T, start, end = ops.alloc2f(nO, nO), ops.alloc1f(nO), ops.alloc1f(nO)
    if not model.attrs["biluo"]:
        return T, start, end
    allowed, can_start, can_end = (ops.asarray(a) for a in allowed_transitions(n_labels_for(nO)))
    xp = ops.xp
    return (
        xp.where(allowed, T, FORBIDDEN),
        xp.where(can_start, start, FORBIDDEN),
        xp.where(can_end, end, FORBIDDEN),
    )


def forward_backward(
    ops, E: Floats3d, lengths: Ints1d, T: Floats2d, start: Floats1d, end: Floats1d
) -> Tuple[Floats3d, Floats3d, Floats1d]:
    """The forward and backward algorithms in log space over a padded batch.

    alpha[b, t, j] = log sum of exp(score) of the paths through tokens 0..t ending in j
    beta[b, t, i] = log sum of exp(score) of the paths from tag i at t to the end

    RETURNS (Tuple[Floats3d, Floats3d, Floats1d]): alpha, beta, log Z per doc.
    """
    xp = ops.xp
    n_docs, max_length, nO = E.shape
    lengths = xp.asarray(lengths)
    alpha = xp.zeros_like(E)
    beta = xp.zeros_like(E)
    if max_length == 0:
        return alpha, beta, xp.zeros((n_docs,), dtype=E.dtype)
    alpha[:, 0] = start + E[:, 0]
    for t in range(1, max_length):
        step = logsumexp(xp, alpha[:, t - 1, :, None] + T[None], axis=1) + E[:, t]
        alpha[:, t] = xp.where((t < lengths)[:, None], step, alpha[:, t - 1])
    log_Z = logsumexp(xp, alpha[:, -1] + end, axis=1)
    beta[:, -1] = end
    for t in range(max_length - 2, -1, -1):
        step = logsumexp(xp, T[None] + (E[:, t + 1] + beta[:, t + 1])[:, None, :], axis=2)
        beta[:, t] = xp.where((t + 1 < lengths)[:, None], step, beta[:, t + 1])
    return alpha, beta, log_Z


def marginals(
    ops, E: Floats3d, lengths: Ints1d, T: Floats2d, start: Floats1d, end: Floats1d
) -> Tuple[Floats3d, Floats3d, Floats1d]:
    """Tag marginals p(y_t = j), expected transition counts per doc
    sum_t p(y_{t-1} = i, y_t = j), and log Z.
    """
    xp = ops.xp
    alpha, beta, log_Z = forward_backward(ops, E, lengths, T, start, end)
    n_docs, max_length, nO = E.shape
    lengths = xp.asarray(lengths)
    inside = xp.arange(max_length)[None, :, None] < lengths[:, None, None]
    p = xp.exp(alpha + beta - log_Z[:, None, None]) * inside
    pairs = xp.zeros((n_docs, nO, nO), dtype=E.dtype)
    for t in range(1, max_length):
        log_pair = (
            alpha[:, t - 1, :, None] + T[None] + (E[:, t] + beta[:, t])[:, None, :]
            - log_Z[:, None, None]
        )
        pairs += xp.exp(log_pair) * (t < lengths)[:, None, None]
    return p, pairs, log_Z


def span_probabilities(
    ops, E: Floats3d, lengths: Ints1d, T: Floats2d, start: Floats1d, end: Floats1d,
    paths: List[Ints1d], spans: List[Tuple[Ints1d, Ints1d]],
) -> List[Floats1d]:
    """The marginal probability of each predicted span: the total probability of
    the paths that tag exactly that span's tokens as the decoded path does.

    p(span s..e) = exp(entry + sum_{t=s..e} E[t, y_t] + sum_{t=s+1..e} T[y_{t-1}, y_t]
                       + beta[e, y_e] - log Z)
    where entry = start[y_s] at the first token and log sum_i exp(alpha[s-1, i] + T[i, y_s])
    elsewhere.

    paths (List[Ints1d]): The decoded path of each doc.
    spans (List[Tuple[Ints1d, Ints1d]]): Starts and ends (exclusive) of each doc's spans.
    RETURNS (List[Floats1d]): The probability of each span, per doc.
    """
    xp = ops.xp
    alpha, beta, log_Z = forward_backward(ops, E, lengths, T, start, end)
    output = []
    for b, (path, (starts, ends)) in enumerate(zip(paths, spans)):
        if len(starts) == 0:
            output.append(xp.zeros((0,), dtype=E.dtype))
            continue
        path = xp.asarray(path)
        starts = xp.asarray(starts)
        last = xp.asarray(ends) - 1
        n = len(path)
        steps = E[b, xp.arange(n), path]
        steps[1:] += T[path[:-1], path[1:]]
        cumulative = xp.cumsum(steps)
        inner = cumulative[last] - cumulative[starts] + E[b, starts, path[starts]]
        before = alpha[b, xp.maximum(starts - 1, 0)] + T[:, path[starts]].T
        entry = xp.where(starts == 0, start[path[starts]], logsumexp(xp, before, axis=1))
        exit = beta[b, last, path[last]]
        output.append(xp.exp(xp.minimum(entry + inner + exit - log_Z[b], 0.0)))
    return output


def logsumexp(xp, X, *, axis: int):
    top = X.max(axis=axis, keepdims=True)
    return (top + xp.log(xp.exp(X - top).sum(axis=axis, keepdims=True))).squeeze(axis=axis)

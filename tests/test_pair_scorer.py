import numpy
import pytest
from numpy.testing import assert_allclose
from thinc.api import fix_random_seed, registry, use_ops

from spacy_window_ner.gradcheck import check_gradients
from spacy_window_ner.layers.hidden import ACTIVATIONS
from spacy_window_ner.layers.pair_features import CandidateColumn, _distance_buckets
from spacy_window_ner.layers.pair_scorer import PairScorer
from spacy_window_ner.legacy.layers import PairScorer_v1, PairScorer_v2

from .util import param_node

N_I, N_H, N_O, N_L, N_E = 3, 4, 2, 3, 2
PARAMS = {"W", "b", "U", "c", "pad", "empty", "E_label", "E_dist"}
HIDDEN_PARAMS = {"W", "b"}
# v3 chains PairFeatures, Hidden and Output; v2 holds the hidden layer as a child beside the
# other params; v1 keeps every param flat, as saved pipelines hold them.
VERSIONS = {"v1": PairScorer_v1, "v2": PairScorer_v2, "v3": PairScorer}


def params_of(model):
    """Every param of the network by name, wherever it lives."""
    return {name: param_node(model, name).get_param(name) for name in PARAMS}

# Rows: head_start, head_end, tail_start, tail_end, head_label, tail_label (CandidateColumn).
CANDIDATES = [
    [[0, 1, 2, 4, 1, 2], [2, 4, 0, 1, 2, 1], [2, 4, 4, 5, 0, 0]],  # gap, reversed, adjacent
    [],  # a doc with zero candidates
    [[0, 1, 1, 2, 1, 1], [1, 2, 0, 1, 1, 1]],  # a two-token doc: windows hit both paddings
]
LENGTHS = [6, 3, 2]


def make_inputs(lengths=LENGTHS, candidates=CANDIDATES, seed=0):
    rng = numpy.random.RandomState(seed)
    Xs = [rng.uniform(-1, 1, (n, N_I)).astype("float32") for n in lengths]
    cands = [numpy.asarray(c, dtype="int32").reshape((-1, len(CandidateColumn))) for c in candidates]
    return Xs, cands


def make_scorer(*, window_size=1, activation="tanh", seed=0, version="v3", **kwargs):
    fix_random_seed(seed)
    with use_ops("numpy", use_blis=False):
        model = VERSIONS[version](
            nO=N_O, nI=N_I, window_size=window_size, hidden_width=N_H, n_entity_labels=N_L,
            label_width=N_E, n_distance_buckets=4, activation=activation, **kwargs,
        )
    model.initialize()
    rng = numpy.random.RandomState(seed)
    for node, name in ((param_node(model, "b"), "b"), (param_node(model, "c"), "c")):
        node.set_param(name, rng.uniform(-0.5, 0.5, node.get_param(name).shape).astype("f"))
    return model


@pytest.mark.parametrize("version", sorted(VERSIONS))
@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("window_size", [0, 1, 3])
def test_pair_scorer_gradients(version, activation, window_size):
    model = make_scorer(window_size=window_size, activation=activation, version=version)
    errors = check_gradients(model, make_inputs())
    assert set(errors) == {f"{param_node(model, name).name}.{name}" for name in PARAMS} | {"input"}
    assert max(errors.values()) < 1e-5, errors


def test_pair_scorer_v1_keeps_its_flat_params():
    """Pipelines saved with v1 hold one node with all eight params: v1 must build exactly that."""
    model = make_scorer(version="v1")
    assert [node.name for node in model.walk()] == ["pair_scorer"]
    assert set(model.param_names) == PARAMS
    v2 = make_scorer(version="v2")
    assert [node.name for node in v2.walk()] == ["pair_scorer", "hidden"]
    assert set(v2.param_names) == PARAMS - HIDDEN_PARAMS


def test_pair_scorer_v3_is_composed():
    """v3 is thinc's chain of PairFeatures, Hidden and Output, each with its own params."""
    model = make_scorer(version="v3")
    assert [node.name for node in model.walk()] == ["pair_scorer", "pair_features", "hidden", "output"]
    params = {node.name: set(node.param_names) for node in model.walk() if node.param_names}
    assert params == {"pair_features": {"pad", "empty", "E_label", "E_dist"}, "hidden": {"W", "b"}, "output": {"U", "c"}}
    features = model.get_ref("features")
    assert (features.get_dim("nL"), features.get_dim("nO")) == (N_L, 7 * N_I + 3 * N_E)
    assert (model.get_dim("nI"), model.get_dim("nO")) == (N_I, N_O)


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("window_size", [0, 2])
@pytest.mark.parametrize("dropout", [0.0, 0.5])
def test_pair_scorer_v3_computes_what_v2_does(activation, window_size, dropout):
    """Given v2's weights, v3 gives v2's scores, input gradients and param gradients, exactly."""
    Xs, cands = make_inputs()
    v2 = make_scorer(version="v2", activation=activation, window_size=window_size, dropout=dropout, seed=4)
    v3 = make_scorer(version="v3", activation=activation, window_size=window_size, dropout=dropout, seed=5)
    for name in PARAMS:
        param_node(v3, name).set_param(name, param_node(v2, name).get_param(name).copy())
    results = []
    for model in (v2, v3):
        fix_random_seed(3)  # the same dropout mask
        Y, backprop = model.begin_update((Xs, cands))
        dXs, _ = backprop(numpy.linspace(-1, 1, Y.size, dtype="f").reshape(Y.shape))
        results.append([Y, *dXs, *(param_node(model, name).get_grad(name) for name in sorted(PARAMS))])
    for a, b in zip(*results):
        numpy.testing.assert_array_equal(a, b)


def test_pair_scorer_versions_compute_the_same():
    """Same seed, same draws: every version starts with the same weights and runs the same maths."""
    Xs, cands = make_inputs()
    results = []
    for version in sorted(VERSIONS):
        model = make_scorer(version=version)
        Y, backprop = model.begin_update((Xs, cands))
        dXs, _ = backprop(numpy.ones_like(Y))
        results.append((Y, dXs, params_of(model)))
    (Y1, dXs1, p1) = results[0]
    for Y2, dXs2, p2 in results[1:]:
        assert_allclose(Y1, Y2, rtol=1e-6)
        for dX1, dX2 in zip(dXs1, dXs2):
            assert_allclose(dX1, dX2, rtol=1e-6, atol=1e-7)
        for name in PARAMS:
            assert_allclose(p1[name], p2[name])


def test_pair_scorer_gradients_without_candidates():
    model = make_scorer()
    Xs, cands = make_inputs([4, 0], [[], []])
    Y, backprop = model((Xs, cands), is_train=True)
    assert Y.shape == (0, N_O)
    dXs, cands_back = backprop(Y)
    assert [dX.shape for dX in dXs] == [(4, N_I), (0, N_I)]
    assert not any(dX.any() for dX in dXs)
    assert cands_back is cands
    assert max(check_gradients(model, (Xs, cands)).values()) < 1e-5


def test_pair_scorer_gradient_check_catches_a_wrong_backprop():
    model = make_scorer()
    forward = model._func

    def wrong_forward(model, X, is_train):
        Y, backprop = forward(model, X, is_train)

        def wrong_backprop(dY):
            dXs, cands = backprop(dY)
            return [dX * 2 for dX in dXs], cands

        return Y, wrong_backprop

    model._func = wrong_forward
    assert check_gradients(model, make_inputs())["input"] > 0.1


def test_pair_scorer_matches_a_loop_reference():
    """The vectorized instance vectors equal a per-pair loop written from the docstring."""
    k = 1
    model = make_scorer(window_size=k, activation="relu")
    Xs, cands = make_inputs()
    Y = model.predict((Xs, cands))
    p = params_of(model)
    expected = []
    for X, cand in zip(Xs, cands):
        n = len(X)
        for hs, he, ts, te, hl, tl in cand:
            lo, hi = min(he, te), max(hs, ts)
            between = X[lo:hi].mean(axis=0) if hi > lo else p["empty"][0]
            parts = [X[hs:he].mean(axis=0), X[ts:te].mean(axis=0), between]
            for s, e in ((hs, he), (ts, te)):
                for i in list(range(s - k, s)) + list(range(e, e + k)):
                    parts.append(p["pad"][0] if i < 0 else p["pad"][1] if i >= n else X[i])
            gap = max(hi - lo, 0)
            bucket = min(int(numpy.log2(gap + 1)), 1) + 2 * (hs > ts)
            parts += [p["E_label"][hl], p["E_label"][tl], p["E_dist"][bucket]]
            h = numpy.maximum(p["W"] @ numpy.concatenate(parts) + p["b"], 0)
            expected.append(p["U"] @ h + p["c"])
    assert Y.shape == (5, N_O)
    assert_allclose(Y, numpy.asarray(expected), rtol=1e-5, atol=1e-6)


def test_pair_scorer_distance_buckets():
    C = numpy.asarray(
        [[0, 1, 1, 2, 0, 0], [0, 1, 2, 3, 0, 0], [0, 1, 4, 5, 0, 0], [0, 1, 99, 100, 0, 0],
         [9, 10, 0, 1, 0, 0]], dtype="int32"
    )
    assert _distance_buckets(C, 8).tolist() == [0, 1, 2, 3, 7]


def test_pair_scorer_registered_and_infers_sizes():
    assert registry.layers.get("spacy-window-ner.PairScorer.v1") is PairScorer_v1
    assert registry.layers.get("spacy-window-ner.PairScorer.v2") is PairScorer_v2
    model = registry.layers.get("spacy-window-ner.PairScorer.v3")(window_size=1)
    Xs, cands = make_inputs()
    model.initialize(X=(Xs, cands), Y=numpy.zeros((5, 3), dtype="f"))
    assert (model.get_dim("nI"), model.get_dim("nO"), model.get_ref("features").get_dim("nL")) == (N_I, 3, 3)
    assert model.predict((Xs, cands)).shape == (5, 3)


@pytest.mark.parametrize(
    "cand",
    [[[0, 0, 1, 2, 0, 0]], [[0, 1, 5, 7, 0, 0]], [[0, 1, 1, 2, 0, N_L]], [[0, 1, 1, 2]]],
    ids=["empty-span", "out-of-range", "label-id", "columns"],
)
def test_pair_scorer_rejects_bad_candidates(cand):
    model = make_scorer()
    Xs = [numpy.zeros((6, N_I), dtype="f")]
    with pytest.raises(ValueError, match="candidates"):
        model.predict((Xs, [numpy.asarray(cand, dtype="int32")]))


@pytest.mark.parametrize(
    "kwargs",
    [{"window_size": -1}, {"hidden_width": 0}, {"activation": "gelu"}, {"dropout": 1.0},
     {"n_distance_buckets": 3}, {"label_width": 0}],
)
def test_pair_scorer_rejects_bad_settings(kwargs):
    with pytest.raises(ValueError):
        PairScorer(**kwargs)

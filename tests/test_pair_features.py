"""PairFeatures.v1, the instance vectors of candidate pairs (the pair scorer's first layer)."""
import numpy
import pytest
from thinc.api import fix_random_seed, registry, use_ops

from spacy_window_ner.gradcheck import check_gradients
from spacy_window_ner.layers.pair_features import CandidateColumn, PairFeatures

N_I, N_L, N_E = 3, 3, 2
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


def make_features(window_size=1, seed=0):
    fix_random_seed(seed)
    with use_ops("numpy", use_blis=False):
        model = PairFeatures(N_I, window_size=window_size, n_entity_labels=N_L, label_width=N_E, n_distance_buckets=4)
    return model.initialize()


@pytest.mark.parametrize("window_size", [0, 1, 3])
def test_pair_features_gradients(window_size):
    model = make_features(window_size)
    errors = check_gradients(model, make_inputs())
    assert set(errors) == {f"pair_features.{name}" for name in ("pad", "empty", "E_label", "E_dist")} | {"input"}
    assert max(errors.values()) < 1e-6, errors


def test_pair_features_without_candidates():
    model = make_features()
    Xs, cands = make_inputs([4, 0], [[], []])
    X_inst, backprop = model((Xs, cands), is_train=True)
    assert X_inst.shape == (0, model.get_dim("nO"))
    dXs, cands_back = backprop(X_inst)
    assert [dX.shape for dX in dXs] == [(4, N_I), (0, N_I)] and cands_back is cands
    assert max(check_gradients(model, (Xs, cands)).values()) < 1e-6


def test_pair_features_gradient_check_catches_a_wrong_backprop():
    model = make_features()
    forward = model._func

    def wrong_forward(model, X, is_train):
        X_inst, backprop = forward(model, X, is_train)

        def wrong_backprop(d_inst):
            dXs, cands = backprop(d_inst)
            return [2 * dX for dX in dXs], cands

        return X_inst, wrong_backprop

    model._func = wrong_forward
    assert check_gradients(model, make_inputs())["input"] > 0.1


def test_pair_features_infer_sizes():
    model = registry.layers.get("spacy-window-ner.PairFeatures.v1")(window_size=2, label_width=N_E)
    Xs, cands = make_inputs()
    model.initialize(X=(Xs, cands))
    assert (model.get_dim("nI"), model.get_dim("nL"), model.get_dim("nO")) == (N_I, 3, 11 * N_I + 3 * N_E)
    assert model.predict((Xs, cands)).shape == (5, 11 * N_I + 3 * N_E)
    with pytest.raises(ValueError, match="infer its dimension nI"):
        PairFeatures(window_size=1).initialize()

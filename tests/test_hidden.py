import numpy
import pytest
from numpy.testing import assert_allclose
from thinc.api import HardTanh, NumpyOps, Relu, Sigmoid, fix_random_seed, registry, use_ops

from spacy_window_ner.gradcheck import check_gradients
from spacy_window_ner.layers.hidden import ACTIVATIONS, Hidden, affine_backward

N_I, N_H = 5, 4


def make_hidden(*, activation="tanh", seed=0, **kwargs):
    fix_random_seed(seed)
    with use_ops("numpy", use_blis=False):
        model = Hidden(N_H, N_I, activation=activation, **kwargs)
    model.initialize()
    rng = numpy.random.RandomState(seed)
    model.set_param("b", rng.uniform(-0.5, 0.5, (N_H,)).astype("f"))
    return model


def make_X(n, seed=0):
    return numpy.random.RandomState(seed).uniform(-1, 1, (n, N_I)).astype("f")


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("n", [0, 1, 7])
def test_hidden_gradients(activation, n):
    model = make_hidden(activation=activation)
    errors = check_gradients(model, make_X(n))
    assert set(errors) == {"hidden.W", "hidden.b", "input"}
    assert max(errors.values()) < 1e-5, errors


def test_hidden_gradient_check_catches_a_wrong_backprop():
    model = make_hidden()
    forward = model._func

    def wrong_forward(model, X, is_train):
        H, backprop = forward(model, X, is_train)
        return H, lambda dH: 2 * backprop(dH)

    model._func = wrong_forward
    assert check_gradients(model, make_X(3))["input"] > 0.1


def test_hidden_affine_backward_is_the_lectures():
    """dW = delta^T X, db = sum delta, dX = delta W, checked entry by entry."""
    rng = numpy.random.RandomState(0)
    X, W, delta = rng.normal(size=(3, 5)), rng.normal(size=(4, 5)), rng.normal(size=(3, 4))
    dX, dW, db = affine_backward(NumpyOps(), X, W, delta)
    assert_allclose(dW, sum(numpy.outer(delta[i], X[i]) for i in range(3)))
    assert_allclose(db, delta.sum(axis=0))
    assert_allclose(dX, numpy.stack([W.T @ delta[i] for i in range(3)]))


@pytest.mark.parametrize("activation,reference", [("relu", Relu), ("hard_tanh", HardTanh), ("sigmoid", Sigmoid)])
def test_hidden_matches_thinc_reference(activation, reference):
    model = make_hidden(activation=activation)
    ref = reference(N_H, N_I)
    ref.initialize()
    ref.set_param("W", model.get_param("W"))
    ref.set_param("b", model.get_param("b"))
    X = make_X(6)
    H, backprop = model.begin_update(X)
    ref_H, ref_backprop = ref.begin_update(X)
    dH = numpy.random.RandomState(1).uniform(-1, 1, H.shape).astype("f")
    assert_allclose(H, ref_H, rtol=1e-5, atol=1e-6)
    assert_allclose(backprop(dH), ref_backprop(dH), rtol=1e-5, atol=1e-6)


def test_hidden_infers_sizes_and_is_registered():
    model = registry.layers.get("spacy-window-ner.Hidden.v1")()
    assert isinstance(model.attrs["dropout_rate"], float)
    model.initialize(X=make_X(2), Y=numpy.zeros((2, 3), dtype="f"))
    assert model.get_param("W").shape == (3, N_I)
    assert registry.layers.get("spacy-window-ner.Hidden.v1") is Hidden


def test_hidden_dropout_only_in_training():
    model = make_hidden(dropout=0.5)
    X = make_X(20)
    assert_allclose(model.predict(X), model.predict(X))
    H_train, _ = model.begin_update(X)
    assert not numpy.allclose(H_train, model.predict(X))


@pytest.mark.parametrize("kwargs", [{"activation": "softsign"}, {"dropout": 1.0}, {"dropout": -0.1}])
def test_hidden_rejects_bad_options(kwargs):
    with pytest.raises(ValueError):
        Hidden(**kwargs)

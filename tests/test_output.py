"""Output.v1, the output layer s = U h + c of the window and pair scorers."""
import numpy
import pytest
from numpy.testing import assert_allclose
from thinc.api import fix_random_seed, registry, use_ops, zero_init

from spacy_window_ner.gradcheck import check_gradients
from spacy_window_ner.layers.output import Output

N_H, N_O = 4, 3


def make_output(seed=0, **kwargs):
    fix_random_seed(seed)
    with use_ops("numpy", use_blis=False):
        model = Output(N_O, N_H, **kwargs)
    model.initialize()
    model.set_param("c", numpy.random.RandomState(seed).uniform(-0.5, 0.5, (N_O,)).astype("f"))
    return model


def make_H(n, seed=0):
    return numpy.random.RandomState(seed).uniform(-1, 1, (n, N_H)).astype("f")


@pytest.mark.parametrize("n", [0, 1, 7])
def test_output_gradients(n):
    errors = check_gradients(make_output(), make_H(n))
    assert set(errors) == {"output.U", "output.c", "input"}
    assert max(errors.values()) < 1e-6, errors


def test_output_gradient_check_catches_a_wrong_backprop():
    model = make_output()
    forward = model._func

    def wrong_forward(model, H, is_train):
        S, backprop = forward(model, H, is_train)
        return S, lambda dS: 2 * backprop(dS)

    model._func = wrong_forward
    assert check_gradients(model, make_H(3))["input"] > 0.1


def test_output_is_the_lectures():
    model = make_output()
    H = make_H(5)
    U, c = model.get_param("U"), model.get_param("c")
    assert_allclose(model.predict(H), numpy.stack([U @ h + c for h in H]), rtol=1e-5, atol=1e-6)


def test_output_infers_sizes_and_takes_its_initializer():
    model = registry.layers.get("spacy-window-ner.Output.v1")(init_U=zero_init)
    model.initialize(X=make_H(2), Y=numpy.zeros((2, 6), dtype="f"))
    assert (model.get_dim("nI"), model.get_dim("nO")) == (N_H, 6)
    assert not model.get_param("U").any()

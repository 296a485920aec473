import numpy
import pytest
from numpy.testing import assert_allclose
from thinc.api import (
    HardTanh,
    Linear,
    Relu,
    Sigmoid,
    chain,
    expand_window,
    fix_random_seed,
    registry,
    use_ops,
    with_array,
)

from spacy_window_ner.gradcheck import check_gradients
from spacy_window_ner.layers.window_scorer import ACTIVATIONS, WindowScorer

N_I, N_H, N_O = 3, 4, 2


def make_docs(lengths, nI=N_I, seed=0):
    rng = numpy.random.RandomState(seed)
    return [rng.uniform(-1, 1, (n, nI)).astype("float32") for n in lengths]


def make_scorer(*, window_size=2, activation="tanh", nI=N_I, seed=0, **kwargs):
    fix_random_seed(seed)
    with use_ops("numpy", use_blis=False):
        model = WindowScorer(
            nO=N_O, nI=nI, window_size=window_size, hidden_width=N_H, activation=activation, **kwargs
        )
    model.initialize()
    # Non-zero biases so their gradients are exercised away from the origin.
    rng = numpy.random.RandomState(seed)
    for name in ("b", "c"):
        model.set_param(name, rng.uniform(-0.5, 0.5, model.get_param(name).shape).astype("f"))
    return model


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("window_size", [0, 1, 3])
@pytest.mark.parametrize("lengths", [[5], [0], [1], [2, 0, 7, 1]])
def test_window_scorer_gradients(activation, window_size, lengths):
    model = make_scorer(window_size=window_size, activation=activation)
    errors = check_gradients(model, make_docs(lengths))
    assert set(errors) == {"window_scorer.W", "window_scorer.b", "window_scorer.U",
                           "window_scorer.c", "window_scorer.pad", "input"}
    assert max(errors.values()) < 1e-5, errors


def test_window_scorer_gradient_check_catches_a_wrong_backprop():
    """The checker must fail on a layer whose backprop is wrong."""
    model = make_scorer()
    docs = make_docs([4, 3])
    forward = model._func

    def wrong_forward(model, Xs, is_train):
        Ys, backprop = forward(model, Xs, is_train)
        return Ys, lambda dYs: [2 * dX for dX in backprop(dYs)]

    model._func = wrong_forward
    assert check_gradients(model, docs)["input"] > 0.1


def test_window_scorer_padding_is_learned_and_used():
    model = make_scorer(window_size=1)
    docs = make_docs([3])
    Y1 = model.predict(docs)[0]
    model.set_param("pad", model.get_param("pad") + 1.0)
    Y2 = model.predict(docs)[0]
    # Only the first and last tokens see a padding vector.
    assert not numpy.allclose(Y1[0], Y2[0])
    assert not numpy.allclose(Y1[-1], Y2[-1])
    assert_allclose(Y1[1], Y2[1])


def reference_network(activation, window_size):
    """The same network composed from thinc's own layers, with zero padding."""
    hidden = {"relu": Relu, "hard_tanh": HardTanh, "sigmoid": Sigmoid}[activation]
    return with_array(
        chain(expand_window(window_size), hidden(N_H), Linear(N_O)), pad=window_size
    )


@pytest.mark.parametrize("activation", ["relu", "hard_tanh", "sigmoid"])
@pytest.mark.parametrize("window_size", [0, 1, 2])
def test_window_scorer_matches_thinc_reference(activation, window_size):
    docs = make_docs([6, 1, 3])
    model = make_scorer(window_size=window_size, activation=activation)
    model.set_param("pad", numpy.zeros_like(model.get_param("pad")))
    ref = reference_network(activation, window_size)
    ref.initialize(X=docs)
    hidden, output = ref.layers[0].layers[1], ref.layers[0].layers[2]
    hidden.set_param("W", model.get_param("W"))
    hidden.set_param("b", model.get_param("b"))
    output.set_param("W", model.get_param("U"))
    output.set_param("b", model.get_param("c"))
    Ys, backprop = model.begin_update(docs)
    ref_Ys, ref_backprop = ref.begin_update(docs)
    dYs = make_docs([6, 1, 3], nI=N_O, seed=1)
    for Y, ref_Y in zip(Ys, ref_Ys):
        assert_allclose(Y, ref_Y, rtol=1e-5, atol=1e-6)
    for dX, ref_dX in zip(backprop(dYs), ref_backprop(dYs)):
        assert_allclose(dX, ref_dX, rtol=1e-5, atol=1e-6)


def test_window_scorer_batched_equals_doc_by_doc():
    model = make_scorer(window_size=2)
    docs = make_docs([7, 0, 1, 4, 12])
    batched = model.predict(docs)
    for doc, Y in zip(docs, batched):
        assert_allclose(model.predict([doc])[0], Y, rtol=1e-5, atol=1e-6)


def test_window_scorer_infers_sizes():
    model = WindowScorer(hidden_width=5)
    docs = make_docs([3, 2], nI=7)
    model.initialize(X=docs, Y=[numpy.zeros((3, 4), "f"), numpy.zeros((2, 4), "f")])
    assert model.get_dim("nI") == 7
    assert model.get_dim("nO") == 4
    assert [Y.shape for Y in model.predict(docs)] == [(3, 4), (2, 4)]


def test_window_scorer_dropout_only_in_training():
    model = make_scorer(dropout=0.5)
    docs = make_docs([20])
    assert_allclose(model.predict(docs)[0], model.predict(docs)[0])
    Y_train, _ = model.begin_update(docs)
    assert not numpy.allclose(Y_train[0], model.predict(docs)[0])


def test_window_scorer_empty_batch():
    model = make_scorer()
    Ys, backprop = model.begin_update([])
    assert Ys == [] and backprop([]) == []


def test_window_scorer_rejects_wrong_width():
    model = make_scorer()
    with pytest.raises(ValueError, match="width 5.*nI=3"):
        model.predict(make_docs([2], nI=5))


def test_window_scorer_rejects_non_float_input():
    model = make_scorer()
    with pytest.raises(TypeError, match="float"):
        model.predict([numpy.zeros((2, N_I), dtype="int32")])
    with pytest.raises(TypeError, match="list"):
        model.predict(numpy.zeros((2, N_I), dtype="float32"))


@pytest.mark.parametrize(
    "kwargs",
    [{"window_size": -1}, {"hidden_width": 0}, {"activation": "softsign"}, {"dropout": 1.0}],
)
def test_window_scorer_rejects_bad_options(kwargs):
    with pytest.raises(ValueError):
        WindowScorer(**kwargs)


def test_window_scorer_registered():
    assert registry.layers.get("spacy-window-ner.WindowScorer.v1") is WindowScorer


def test_window_scorer_zero_output_init_still_learns():
    """With init_U=zero_init (as window_ner's model uses, like spaCy's ner) every score
    starts at c; the first backprop reaches U and c only (delta = dS U = 0), and
    the next one reaches W, b and the input."""
    from thinc.api import zero_init

    model = WindowScorer(nO=N_O, nI=N_I, window_size=1, hidden_width=N_H, init_U=zero_init)
    model.initialize()
    Xs = make_docs([4, 2])
    Ys, backprop = model(Xs, is_train=True)
    assert all((Y == 0).all() for Y in Ys)
    dXs = backprop([numpy.ones_like(Y) for Y in Ys])
    assert all((dX == 0).all() for dX in dXs)
    assert numpy.abs(model.get_grad("U")).sum() > 0 and numpy.abs(model.get_grad("W")).sum() == 0
    model.set_param("U", model.get_param("U") - 0.1 * model.get_grad("U"))
    Ys, backprop = model(Xs, is_train=True)
    dXs = backprop([numpy.ones_like(Y) for Y in Ys])
    assert numpy.abs(model.get_grad("W")).sum() > 0 and any(numpy.abs(dX).sum() > 0 for dX in dXs)

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
    set_dropout_rate,
    use_ops,
    with_array,
)

from spacy_window_ner.gradcheck import check_gradients
from spacy_window_ner.layers.hidden import ACTIVATIONS
from spacy_window_ner.layers.window_scorer import WindowScorer
from spacy_window_ner.legacy.layers import WindowScorer_v1, WindowScorer_v2

from .util import param_node

N_I, N_H, N_O = 3, 4, 2
# v3 chains Windows, Hidden and Output; v2 holds the hidden layer as a child beside U, c and
# pad; v1 keeps every param flat, as saved pipelines hold them.
VERSIONS = {"v1": WindowScorer_v1, "v2": WindowScorer_v2, "v3": WindowScorer}
PARAMS = ["W", "b", "U", "c", "pad"]


def make_docs(lengths, nI=N_I, seed=0):
    rng = numpy.random.RandomState(seed)
    return [rng.uniform(-1, 1, (n, nI)).astype("float32") for n in lengths]


def make_scorer(*, window_size=2, activation="tanh", nI=N_I, seed=0, version="v3", **kwargs):
    fix_random_seed(seed)
    with use_ops("numpy", use_blis=False):
        model = VERSIONS[version](
            nO=N_O, nI=nI, window_size=window_size, hidden_width=N_H, activation=activation, **kwargs
        )
    model.initialize()
    # Non-zero biases so their gradients are exercised away from the origin.
    rng = numpy.random.RandomState(seed)
    for node, name in ((param_node(model, "b"), "b"), (param_node(model, "c"), "c")):
        node.set_param(name, rng.uniform(-0.5, 0.5, node.get_param(name).shape).astype("f"))
    return model


@pytest.mark.parametrize("version", sorted(VERSIONS))
@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("window_size", [0, 1, 3])
@pytest.mark.parametrize("lengths", [[5], [0], [1], [2, 0, 7, 1]])
def test_window_scorer_gradients(version, activation, window_size, lengths):
    model = make_scorer(window_size=window_size, activation=activation, version=version)
    errors = check_gradients(model, make_docs(lengths))
    assert set(errors) == {f"{param_node(model, name).name}.{name}" for name in PARAMS} | {"input"}
    assert max(errors.values()) < 1e-5, errors


def test_window_scorer_v1_keeps_its_flat_params():
    """Pipelines saved with v1 hold one node with W, b, U, c, pad: v1 must build exactly that."""
    model = make_scorer(version="v1")
    assert [node.name for node in model.walk()] == ["window_scorer"]
    assert list(model.param_names) == ["W", "b", "U", "c", "pad"]
    v2 = make_scorer(version="v2")
    assert [node.name for node in v2.walk()] == ["window_scorer", "hidden"]
    assert list(v2.param_names) == ["U", "c", "pad"]
    assert list(v2.layers[0].param_names) == ["W", "b"]


def test_window_scorer_v3_is_composed():
    """v3 is thinc's chain of Windows, Hidden and Output, each with its own params, found by ref."""
    model = make_scorer(version="v3")
    names = [node.name for node in model.walk()]
    assert names == ["window_scorer", "windows", "with_array(hidden>>output)", "ragged2list", "hidden>>output",
                     "hidden", "output"]
    params = {node.name: list(node.param_names) for node in model.walk() if node.param_names}
    assert params == {"windows": ["pad"], "hidden": ["W", "b"], "output": ["U", "c"]}
    assert [model.get_ref(name).name for name in ("windows", "hidden", "output")] == ["windows", "hidden", "output"]
    assert (model.get_dim("nI"), model.get_dim("nO")) == (N_I, N_O)
    assert model.get_ref("windows").get_dim("nO") == model.get_ref("hidden").get_dim("nI") == 5 * N_I


def copy_params(source, target):
    """Set every param of target to source's param of the same name, wherever each holds it."""
    for name in PARAMS:
        param_node(target, name).set_param(name, param_node(source, name).get_param(name).copy())


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("window_size", [0, 2])
@pytest.mark.parametrize("dropout", [0.0, 0.5])
def test_window_scorer_v3_computes_what_v2_does(activation, window_size, dropout):
    """Given v2's weights, v3 gives v2's scores, input gradients and param gradients, exactly."""
    docs = make_docs([5, 0, 2, 1])
    dYs = make_docs([5, 0, 2, 1], nI=N_O, seed=1)
    v2 = make_scorer(version="v2", activation=activation, window_size=window_size, dropout=dropout, seed=4)
    v3 = make_scorer(version="v3", activation=activation, window_size=window_size, dropout=dropout, seed=5)
    copy_params(v2, v3)
    results = []
    for model in (v2, v3):
        fix_random_seed(3)  # the same dropout mask
        Ys, backprop = model.begin_update(docs)
        dXs = backprop(dYs)
        results.append((Ys, dXs, [param_node(model, name).get_grad(name) for name in PARAMS]))
    (Ys2, dXs2, grads2), (Ys3, dXs3, grads3) = results
    for a, b in zip(Ys2 + dXs2 + grads2, Ys3 + dXs3 + grads3):
        numpy.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("version", sorted(VERSIONS))
def test_window_scorer_copy_predicts_the_same(version):
    """explain and resize_output work on copies: a copy holds its own hidden layer."""
    model = make_scorer(version=version)
    copied = model.copy()
    docs = make_docs([4, 1])
    for Y, Y_copy in zip(model.predict(docs), copied.predict(docs)):
        assert_allclose(Y, Y_copy)
    assert all(a is not b for a, b in zip(model.walk(), copied.walk()))


@pytest.mark.parametrize("dropout", [0.0, 0.5])
def test_window_scorer_versions_compute_the_same(dropout):
    """Same seed, same draws: every version starts with the same weights and runs the same maths."""
    docs = make_docs([5, 0, 2])
    dYs = make_docs([5, 0, 2], nI=N_O, seed=1)
    results = []
    for version in sorted(VERSIONS):
        model = make_scorer(version=version, dropout=dropout)
        fix_random_seed(3)
        Ys, backprop = model.begin_update(docs)
        dXs = backprop(dYs)
        grads = [param_node(model, name).get_grad(name) for name in PARAMS]
        results.append((Ys, dXs, grads))
    (Ys1, dXs1, grads1) = results[0]
    for Ys2, dXs2, grads2 in results[1:]:
        for a, b in zip(Ys1 + dXs1 + grads1, Ys2 + dXs2 + grads2):
            assert_allclose(a, b, rtol=1e-6, atol=1e-7)


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
    windows = param_node(model, "pad")
    windows.set_param("pad", windows.get_param("pad") + 1.0)
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


@pytest.mark.parametrize("version", sorted(VERSIONS))
@pytest.mark.parametrize("activation", ["relu", "hard_tanh", "sigmoid"])
@pytest.mark.parametrize("window_size", [0, 1, 2])
def test_window_scorer_matches_thinc_reference(version, activation, window_size):
    docs = make_docs([6, 1, 3])
    model = make_scorer(window_size=window_size, activation=activation, version=version)
    param_node(model, "pad").set_param("pad", numpy.zeros_like(param_node(model, "pad").get_param("pad")))
    ref = reference_network(activation, window_size)
    ref.initialize(X=docs)
    hidden, output = ref.layers[0].layers[1], ref.layers[0].layers[2]
    hidden.set_param("W", param_node(model, "W").get_param("W"))
    hidden.set_param("b", param_node(model, "b").get_param("b"))
    output.set_param("W", param_node(model, "U").get_param("U"))
    output.set_param("b", param_node(model, "c").get_param("c"))
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


@pytest.mark.parametrize("version", sorted(VERSIONS))
def test_window_scorer_dropout_only_in_training(version):
    model = make_scorer(dropout=0.5, version=version)
    docs = make_docs([20])
    assert_allclose(model.predict(docs)[0], model.predict(docs)[0])
    Y_train, _ = model.begin_update(docs)
    assert not numpy.allclose(Y_train[0], model.predict(docs)[0])


@pytest.mark.parametrize("version", sorted(VERSIONS))
def test_window_scorer_training_dropout_reaches_the_hidden_layer(version):
    """spaCy's [training] dropout sets every "dropout_rate" attr it finds, the child's too."""
    model = make_scorer(version=version)
    set_dropout_rate(model, 0.25)
    assert param_node(model, "W").attrs["dropout_rate"] == 0.25


@pytest.mark.parametrize("version", sorted(VERSIONS))
def test_window_scorer_empty_batch(version):
    model = make_scorer(version=version)
    Ys, backprop = model.begin_update([])
    assert Ys == [] and backprop([]) == []
    Ys, backprop = model.begin_update(make_docs([0, 0]))
    assert [Y.shape for Y in Ys] == [(0, N_O)] * 2
    assert [dX.shape for dX in backprop(Ys)] == [(0, N_I)] * 2


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
    assert registry.layers.get("spacy-window-ner.WindowScorer.v1") is WindowScorer_v1
    assert registry.layers.get("spacy-window-ner.WindowScorer.v2") is WindowScorer_v2
    assert registry.layers.get("spacy-window-ner.WindowScorer.v3") is WindowScorer


@pytest.mark.parametrize("version", sorted(VERSIONS))
def test_window_scorer_zero_output_init_still_learns(version):
    """With init_U=zero_init (as window_ner's model uses, like spaCy's ner) every score
    starts at c; the first backprop reaches U and c only (delta = dS U = 0), and
    the next one reaches W, b and the input."""
    from thinc.api import zero_init

    model = VERSIONS[version](nO=N_O, nI=N_I, window_size=1, hidden_width=N_H, init_U=zero_init)
    model.initialize()
    hidden, output = param_node(model, "W"), param_node(model, "U")
    Xs = make_docs([4, 2])
    Ys, backprop = model(Xs, is_train=True)
    assert all((Y == 0).all() for Y in Ys)
    dXs = backprop([numpy.ones_like(Y) for Y in Ys])
    assert all((dX == 0).all() for dX in dXs)
    assert numpy.abs(output.get_grad("U")).sum() > 0 and numpy.abs(hidden.get_grad("W")).sum() == 0
    output.set_param("U", output.get_param("U") - 0.1 * output.get_grad("U"))
    Ys, backprop = model(Xs, is_train=True)
    dXs = backprop([numpy.ones_like(Y) for Y in Ys])
    assert numpy.abs(hidden.get_grad("W")).sum() > 0 and any(numpy.abs(dX).sum() > 0 for dX in dXs)

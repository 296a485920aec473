"""Windows.v1, the window features x_i = [X[i-k]; ...; X[i+k]] of the window scorer."""
import numpy
import pytest
from numpy.testing import assert_array_equal
from thinc.api import fix_random_seed, registry, use_ops
from thinc.types import Ragged

from spacy_window_ner.gradcheck import check_gradients
from spacy_window_ner.layers.windows import Windows

N_I = 3


def make_windows(window_size=2, seed=0):
    fix_random_seed(seed)
    with use_ops("numpy", use_blis=False):
        model = Windows(N_I, window_size=window_size)
    return model.initialize()


def make_docs(lengths, seed=0):
    rng = numpy.random.RandomState(seed)
    return [rng.uniform(-1, 1, (n, N_I)).astype("float32") for n in lengths]


@pytest.mark.parametrize("window_size", [0, 1, 3])
@pytest.mark.parametrize("lengths", [[5], [0], [1], [2, 0, 7, 1], []])
def test_windows_gradients(window_size, lengths):
    model = make_windows(window_size)
    errors = check_gradients(model, make_docs(lengths))
    assert set(errors) == {"windows.pad"} | ({"input"} if lengths else set())
    assert max(errors.values()) < 1e-6, errors


def test_windows_gradient_check_catches_a_wrong_backprop():
    model = make_windows(1)
    forward = model._func

    def wrong_forward(model, Xs, is_train):
        Xr, backprop = forward(model, Xs, is_train)
        return Xr, lambda dXr: [dX[::-1].copy() for dX in backprop(dXr)]

    model._func = wrong_forward
    assert check_gradients(model, make_docs([4, 3]))["input"] > 0.1


def test_windows_are_the_lectures():
    """Row i is [X[i-k]; ...; X[i+k]], with pad[0] before the doc and pad[1] after it."""
    model = make_windows(1)
    docs = make_docs([3, 1])
    Xr = model.predict(docs)
    assert isinstance(Xr, Ragged) and Xr.lengths.tolist() == [3, 1]
    pad = model.get_param("pad")
    before, after = pad[0], pad[1]
    (a, b, c), (d,) = docs
    expected = [[before, a, b], [a, b, c], [b, c, after], [before, d, after]]
    assert_array_equal(Xr.dataXd, numpy.asarray([numpy.concatenate(row) for row in expected]))
    assert model.get_dim("nO") == 3 * N_I


def test_windows_infer_width_and_reject_bad_input():
    model = registry.layers.get("spacy-window-ner.Windows.v1")(window_size=1)
    model.initialize(X=make_docs([2]))
    assert (model.get_dim("nI"), model.get_dim("nO")) == (N_I, 3 * N_I)
    with pytest.raises(ValueError, match="width 5.*nI=3"):
        model.predict([numpy.zeros((2, 5), dtype="f")])
    with pytest.raises(TypeError, match="list"):
        model.predict(numpy.zeros((2, N_I), dtype="f"))
    with pytest.raises(ValueError, match="window_size"):
        Windows(window_size=-1)

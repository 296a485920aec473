"""Finite-difference gradient checks for any Thinc model.

The check compares what a model's backprop callback says against central
differences of the scalar objective L = sum(Y * dY) for a fixed random dY:

    dL/dθ ≈ (L(θ + ε) - L(θ - ε)) / 2ε

for every element of every parameter and of every float array in the input.
Run it in float64 (the default converts the params) with ops that support
float64 GEMMs, e.g. `NumpyOps(use_blis=False)`, and with dropout off.

    >>> from spacy_window_ner.gradcheck import check_gradients
    >>> errors = check_gradients(model, X)
    >>> assert max(errors.values()) < 1e-6, errors
"""
from typing import Any, Callable, Dict, List

import numpy

from thinc.api import Model
from thinc.types import Ragged


def check_gradients(
    model: Model,
    X: Any,
    *,
    eps: float = 1e-6,
    floor: float = 1e-4,
    float64: bool = True,
    seed: int = 0,
) -> Dict[str, float]:
    """Compare the model's analytic gradients against central differences.

    model (Model): An initialized Thinc model. Its forward pass must be
        deterministic (dropout off).
    X (Any): A model input: an array, a Ragged, or a list/tuple nesting them.
        Float arrays are checked as inputs; integer arrays are passed through.
    eps (float): The finite-difference step.
    floor (float): Gradients smaller than this are compared absolutely, so
        that round-off on near-zero entries does not count as an error.
    float64 (bool): Convert params and float inputs to float64 first.
    seed (int): Seed of the random output gradient dY.
    RETURNS (Dict[str, float]): The max relative error per parameter, keyed
        "node_name.param" (with the node id when a name repeats), and under
        "input" for the input.
    """
    ops = model.ops
    if float64:
        _params_to_float64(model)
        X = _map_floats(X, lambda a: ops.asarray(a, dtype="float64"))
    Y, backprop = model(X, is_train=True)
    rng = numpy.random.RandomState(seed)
    dY = _map_floats(Y, lambda a: ops.asarray(rng.uniform(-1.0, 1.0, a.shape).astype(a.dtype)))
    for node in model.walk():
        for name in node.grad_names:
            param = node.get_param(name)
            node.set_grad(name, ops.alloc(param.shape, dtype=param.dtype))
    dX = backprop(dY)

    def objective() -> float:
        Y, _ = model(X, is_train=True)
        return sum(float((y * d).sum()) for y, d in zip(_floats(Y), _floats(dY)))

    errors: Dict[str, float] = {}
    names = [node.name for node in model.walk()]
    for node in model.walk():
        for name in node.param_names:
            if not node.has_param(name):
                continue
            param = node.get_param(name)
            if node.has_grad(name):
                analytic = ops.to_numpy(node.get_grad(name))
            else:
                analytic = numpy.zeros(param.shape, dtype=param.dtype)
            key = f"{node.name}.{name}" if names.count(node.name) == 1 else f"{node.name}{node.id}.{name}"
            errors[key] = _max_error(analytic, _numeric(param, objective, eps), floor)
    inputs = _floats(X)
    if inputs:
        numeric = [_numeric(x, objective, eps) for x in inputs]
        analytic = [ops.to_numpy(d) for d in _floats(dX)]
        if len(analytic) != len(inputs):
            raise ValueError(
                f"The backprop callback returned {len(analytic)} float arrays for "
                f"{len(inputs)} float input arrays: it must mirror the input."
            )
        errors["input"] = max(
            (_max_error(a, n, floor) for a, n in zip(analytic, numeric)), default=0.0
        )
    return errors


def _numeric(array, objective: Callable[[], float], eps: float) -> numpy.ndarray:
    """Central differences of the objective w.r.t. each entry of array, which is
    perturbed in place and restored."""
    flat = array.reshape(-1)
    grad = numpy.zeros(flat.shape, dtype="float64")
    for i in range(flat.shape[0]):
        original = float(flat[i])
        flat[i] = original + eps
        plus = objective()
        flat[i] = original - eps
        minus = objective()
        flat[i] = original
        grad[i] = (plus - minus) / (2 * eps)
    return grad.reshape(array.shape)


def _max_error(analytic, numeric, floor: float) -> float:
    analytic = numpy.asarray(analytic, dtype="float64")
    if analytic.shape != numeric.shape:
        raise ValueError(f"Gradient shape {analytic.shape} does not match input shape {numeric.shape}.")
    if analytic.size == 0:
        return 0.0
    scale = numpy.maximum(numpy.maximum(numpy.abs(analytic), numpy.abs(numeric)), floor)
    return float((numpy.abs(analytic - numeric) / scale).max())


def _params_to_float64(model: Model) -> None:
    for node in model.walk():
        for name in node.param_names:
            if node.has_param(name):
                node.set_param(name, node.ops.asarray_f(node.get_param(name), dtype="float64"))


def _is_float_array(x: Any) -> bool:
    return hasattr(x, "dtype") and hasattr(x, "shape") and x.dtype.kind == "f"


def _floats(X: Any) -> List:
    """The float arrays in X, in order."""
    if _is_float_array(X):
        return [X]
    if isinstance(X, Ragged):
        return _floats(X.dataXd)
    if isinstance(X, (list, tuple)):
        return [a for x in X for a in _floats(x)]
    return []


def _map_floats(X: Any, fn: Callable) -> Any:
    """Apply fn to every float array in X, keeping the nesting."""
    if _is_float_array(X):
        return fn(X)
    if isinstance(X, Ragged):
        return Ragged(_map_floats(X.dataXd, fn), X.lengths)
    if isinstance(X, tuple):
        return tuple(_map_floats(x, fn) for x in X)
    if isinstance(X, list):
        return [_map_floats(x, fn) for x in X]
    return X

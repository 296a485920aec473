"""The lecture's window classifier, composed as thinc composes: window features, then the
hidden layer, then the output layer, each a layer with its own hand-written backward pass.

For every token i of a doc with token vectors X (n x nI):

    x_i = [X[i-k]; ...; X[i+k]]        Windows.v1 (layers/windows.py), learned padding
    h_i = f(W x_i + b)                 Hidden.v1 (layers/hidden.py)
    s_i = U h_i + c                    Output.v1 (layers/output.py), nO scores

`chain` runs them in this order and their backprops in the reverse one. The windows of the
whole minibatch are one Ragged, so `with_array` runs the hidden and output layers as one GEMM
each over every token of the batch; `ragged2list` gives the scores back per doc.
The published WindowScorer.v2 and .v1 (spacy_window_ner/legacy) run the same pieces.
"""
from typing import Callable, List, Optional

from thinc.api import Model, chain, glorot_uniform_init, ragged2list, registry, with_array
from thinc.types import Floats2d

from .hidden import Hidden, check_activation
from .output import Output
from .windows import Windows, check_window_size

InT = List[Floats2d]
OutT = List[Floats2d]


@registry.layers("spacy-window-ner.WindowScorer.v3")
def WindowScorer(
    nO: Optional[int] = None,
    nI: Optional[int] = None,
    *,
    window_size: int = 2,
    hidden_width: int = 128,
    activation: str = "tanh",
    dropout: float = 0.0,
    init_U: Callable = glorot_uniform_init,
) -> Model[InT, OutT]:
    """Score every token from the concatenated vectors of the 2 * window_size + 1 tokens
    around it: chain(Windows, Hidden, Output), s = U f(W x + b) + c. The three layers are
    the model's refs "windows", "hidden" and "output".

    nO (Optional[int]): Number of scores per token, inferred from sample output if None.
    nI (Optional[int]): Width of the token vectors, inferred from sample input if None.
    window_size (int): k, the number of tokens on each side of the centre token.
    hidden_width (int): Width of the hidden layer h.
    activation (str): One of "tanh", "hard_tanh", "relu", "sigmoid".
    dropout (float): Dropout rate applied to h during training. It is the hidden layer's
        "dropout_rate" attr, so spaCy's [training] dropout sets it during training.
    init_U (Callable): Initializer of the output weights U. zero_init makes every
        score start at c (zero), as spaCy's parser starts its output layer.
    RETURNS (Model[List[Floats2d], List[Floats2d]]): The layer.
    """
    check_window_options(window_size, hidden_width, activation, dropout)
    windows = Windows(nI, window_size=window_size)
    hidden = Hidden(hidden_width, activation=activation, dropout=dropout)
    output = Output(nO, hidden_width, init_U=init_U)
    model: Model[InT, OutT] = chain(windows, with_array(chain(hidden, output)), ragged2list())
    model.name = "window_scorer"
    for name, layer in (("windows", windows), ("hidden", hidden), ("output", output)):
        model.set_ref(name, layer)
    # chain's own init infers each layer's sizes from the one before it, by running it on the
    # sample: this one sets them from nI and nO alone, and draws the weights in
    # WindowScorer.v2's order.
    model.init = init
    if nO is not None:
        # chain takes nO from its last layer, here a wrapper without sizes.
        model.set_dim("nO", nO)
    return model


def init(model: Model[InT, OutT], X: Optional[InT] = None, Y: Optional[OutT] = None) -> None:
    # By position, not by ref: thinc's Model.copy() keeps layers, not refs.
    windows, array_layers, _ = model.layers
    hidden, output = array_layers.layers[0].layers
    infer_dims(model, X, Y)
    windows.set_dim("nI", model.get_dim("nI"))
    windows.set_dim("nO", (2 * windows.attrs["window_size"] + 1) * model.get_dim("nI"))
    hidden.set_dim("nI", windows.get_dim("nO"))
    output.set_dim("nO", model.get_dim("nO"))
    # with_array(chain(hidden, output)) between: their sizes are those of the layers they hold.
    for node in array_layers.walk():
        for name, size in (("nI", hidden.get_dim("nI")), ("nO", output.get_dim("nO"))):
            if node is not hidden and node is not output and node.has_dim(name) is not False:
                node.set_dim(name, size)
    # The same draws in the same order as WindowScorer.v2 (W, b, U, c, pad): same seed,
    # same weights.
    hidden.initialize()
    output.initialize()
    windows.initialize()


def infer_dims(model: Model[InT, OutT], X: Optional[InT], Y: Optional[OutT]) -> None:
    """Set a window scorer's nI and nO from sample input and output, where they are unset.

    model (Model[List[Floats2d], List[Floats2d]]): The window scorer, of any version.
    X (Optional[List[Floats2d]]): Sample token vectors.
    Y (Optional[List[Floats2d]]): Sample scores.
    """
    if X is not None and len(X) and not model.has_dim("nI"):
        model.set_dim("nI", X[0].shape[1])
    if Y is not None and len(Y) and not model.has_dim("nO"):
        model.set_dim("nO", Y[0].shape[1])


def check_window_options(window_size: int, hidden_width: int, activation: str, dropout: float) -> None:
    """Raise a ValueError for options a window scorer cannot have."""
    check_window_size(window_size)
    if not isinstance(hidden_width, int) or hidden_width < 1:
        raise ValueError(f"hidden_width must be a positive integer, not {hidden_width!r}.")
    check_activation(activation, dropout)

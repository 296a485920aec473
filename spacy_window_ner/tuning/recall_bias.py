"""The recall bias of window_ner, tuned on dev entity F (`tune_recall_bias`, used by
`spacy-window-ner tune-ner-bias`) among the values of a grid (`bias_grid`), each a decoding of
the whole dev set, so a grid holds at most MAX_GRID_VALUES."""
import math
from pathlib import Path
from typing import List, NamedTuple, Sequence

import numpy
from spacy.language import Language
from spacy.training import Corpus

from ..ner import WindowNER, check_recall_bias
from .dev import read_dev, tuned_component


# The recall biases tune_recall_bias tries by default: from a little fewer entities than the
# model's own decoding to many more.
DEFAULT_BIAS_GRID = tuple(float(b) for b in numpy.round(numpy.arange(-1.0, 4.0 + 1e-9, 0.25), 2))


MAX_GRID_VALUES = 1000  # recall biases one tuning may try: each is a decoding of the whole dev set


def bias_grid(low: float, high: float, step: float) -> List[float]:
    """The recall biases low, low + step, ... up to high (included when the steps reach it),
    at most MAX_GRID_VALUES of them: the size is checked before the grid is made.

    low (float): The smallest bias, finite.
    high (float): The largest bias, finite and >= low.
    step (float): The spacing, finite and > 0.
    RETURNS (List[float]): The biases, rounded to 6 decimals.
    """
    for name, value in (("low", low), ("high", high), ("step", step)):
        if not math.isfinite(value):
            raise ValueError(f"A grid of recall biases needs finite numbers: its {name} is {value}.")
    if not step > 0 or not low <= high:
        raise ValueError(f"A grid of recall biases needs low <= high and step > 0, not {low}, {high}, {step}.")
    size = math.floor((high - low) / step + 1e-6) + 1
    check_grid_size(size)
    return [round(low + i * step, 6) for i in range(size)]


def check_grid_size(size: int) -> None:
    """Refuse a grid of more than MAX_GRID_VALUES recall biases.

    size (int): How many biases the grid holds.
    """
    if size > MAX_GRID_VALUES:
        raise ValueError(
            f"The grid holds {size:,} recall biases, each a decoding of the whole dev set; the most "
            f"one tuning tries is {MAX_GRID_VALUES:,}. Take a larger step or a narrower range."
        )


class BiasScore(NamedTuple):
    """Entity scores of window_ner on dev data at one recall bias, and what it predicted:
    n_ents entities covering n_tokens tokens (all it predicted, also those a preset entity
    kept out of doc.ents)."""

    bias: float
    p: float
    r: float
    f: float
    n_ents: int
    n_tokens: int


def tune_recall_bias(
    nlp: Language,
    dev_path: Path,
    component: str = "window_ner",
    *,
    grid: Sequence[float] = DEFAULT_BIAS_GRID,
    batch_size: int = 64,
) -> List[BiasScore]:
    """Pick the recall bias of a window_ner component that maximises its entity F on dev
    data, among the values of a grid, and store it in the component's cfg["recall_bias"].
    The model scores the dev docs once; only the decoding is repeated for each value. Ties
    go to the value closest to 0 (the model's own decoding).

    nlp (Language): The pipeline.
    dev_path (Path): The dev .spacy file, with gold entities.
    component (str): The name of the window_ner component.
    grid (Sequence[float]): The biases to try.
    batch_size (int): Documents per batch when scoring.
    RETURNS (List[BiasScore]): The entity P/R/F at every bias of the grid, in grid order.
    """
    pipe = tuned_component(nlp, component, WindowNER)
    check_grid_size(len(grid))
    grid = [check_recall_bias(bias, component) for bias in grid]
    if not grid:
        raise ValueError("The grid of recall biases to try is empty: give at least one value.")
    examples = read_dev(Corpus(dev_path), dev_path, nlp)
    if not any(eg.reference.ents for eg in examples):
        raise ValueError(f"{dev_path} has no gold entities to tune the recall bias of {component!r} on.")
    # What the component reads: the docs after the components before it (a tok2vec it listens to).
    before = nlp.pipe_names[: nlp.pipe_names.index(component)]
    with nlp.select_pipes(enable=before):
        docs = list(nlp.pipe((eg.predicted for eg in examples), batch_size=batch_size))
    scores = [s for i in range(0, len(docs), batch_size) for s in pipe.predict(docs[i : i + batch_size])]
    key = "ents" if pipe.cfg["spans_key"] is None else f"spans_{pipe.cfg['spans_key']}"
    results = []
    for bias in grid:
        pipe.recall_bias = bias
        annotated = [doc.copy() for doc in docs]
        pipe.set_annotations(annotated, scores)
        for example, doc in zip(examples, annotated):
            example.predicted = doc
        prf = pipe.score(examples)
        spans = [span for doc in annotated for span in doc.spans[pipe.scores_key]]
        results.append(BiasScore(
            bias, float(prf[f"{key}_p"]), float(prf[f"{key}_r"]), float(prf[f"{key}_f"]),
            len(spans), sum(len(span) for span in spans),
        ))
    best = max(results, key=lambda score: (score.f, -abs(score.bias)))
    pipe.recall_bias = best.bias
    return results

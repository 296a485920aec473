"""Tuning the relation thresholds of window_rel on dev data: one label's best threshold
(`best_threshold`), a component's (`tune_thresholds`), a pipeline's (`tune_pipeline_thresholds`,
used by `spacy-window-ner tune-thresholds`) and the [training.before_to_disk] callback
`spacy-window-ner.tune_rel_thresholds.v1`; and the choice among the ways of tuning them
(`TUNINGS`: shared, per label, min_support, shrinkage) by k-fold cross-validation over dev
(`rank_tunings`). And the recall bias of window_ner, tuned on dev
entity F (`tune_recall_bias`, used by `spacy-window-ner tune-ner-bias`). `copy_tuning` gives a
pipeline retrained on train + dev the settings tuned for its predecessor, as no held-out data
is left to tune them on (`spacy-window-ner copy-tuning`). `gold_entities` runs a
pipeline on gold entities, for tuning and for `spacy-window-ner evaluate --gold-ents`."""
import math
import warnings
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Callable, ContextManager, Dict, Iterable, Iterator, List, NamedTuple, Optional, Sequence, Tuple, Type, TypeVar, Union

import numpy
from spacy.language import Language
from spacy.training import Corpus, Example, validate_examples
from spacy.util import registry

from .confidences import entity_setters
from .corpus import create_gold_ents_reader
from .ner import WindowNER, check_recall_bias
from .rel import DEFAULT_THRESHOLD, WindowRel
from .relations import relation_tuples

TunedPipe = TypeVar("TunedPipe", WindowRel, WindowNER)  # the components whose settings are tuned on dev


class Tuning(NamedTuple):
    """A way of tuning the relation thresholds: the options of tune_thresholds.

    shared (bool): One threshold for all labels.
    min_support (int): Labels with fewer gold relations get the shared threshold.
    shrinkage (float): The weight of the shared threshold in a label's, in gold relations.
    """

    shared: bool = False
    min_support: int = 0
    shrinkage: float = 0.0

    @property
    def name(self) -> str:
        if self.shared:
            return "shared"
        if self.min_support:
            return f"min_support {self.min_support}"
        return f"shrinkage {self.shrinkage:g}" if self.shrinkage else "per label"


# The ways rank_tunings compares, simplest first (a tie goes to the first).
TUNINGS = (
    Tuning(shared=True),
    Tuning(),
    *(Tuning(min_support=n) for n in (10, 25, 50, 75, 100)),
    *(Tuning(shrinkage=k) for k in (5.0, 10.0, 25.0, 50.0, 100.0)),
)


@registry.misc("spacy-window-ner.tune_rel_thresholds.v1")
def make_tune_rel_thresholds(
    dev_path: Optional[Path],
    component: str = "window_rel",
    gold_ents: bool = True,
    shared: bool = False,
    min_support: int = 0,
    shrinkage: float = 0.0,
) -> Callable[[Language], Language]:
    """A [training.before_to_disk] callback that tunes the thresholds of a window_rel
    component on the dev set before every save, so that the saved pipeline carries them
    in its cfg.

    dev_path (Optional[Path]): The dev .spacy file; it must be set by the time of the
        first save.
    component (str): The name of the window_rel component in the pipeline.
    gold_ents (bool): Tune on the gold entities; if False, on the entities that the
        pipeline's own NER predicts.
    shared (bool): Tune one threshold for all labels (see tune_thresholds).
    min_support (int): Labels with fewer gold dev relations get the shared threshold.
    shrinkage (float): Shrink the labels' thresholds toward the shared one, with this
        weight in gold relations (see tune_thresholds).
    RETURNS (Callable[[Language], Language]): The callback.
    """

    def tune_rel_thresholds(nlp: Language) -> Language:
        if dev_path is None:
            raise ValueError(
                "tune_rel_thresholds needs the dev .spacy file: set dev_path, e.g. with "
                "--paths.dev dev.spacy."
            )
        tune_pipeline_thresholds(
            nlp, Path(dev_path), component, gold_ents=gold_ents, shared=shared,
            min_support=min_support, shrinkage=shrinkage,
        )
        return nlp

    return tune_rel_thresholds


def tune_pipeline_thresholds(
    nlp: Language,
    dev_path: Path,
    component: str = "window_rel",
    *,
    gold_ents: bool = True,
    shared: bool = False,
    min_support: int = 0,
    shrinkage: float = 0.0,
) -> Dict[str, float]:
    """Run a pipeline up to its window_rel component over dev data and tune that
    component's thresholds there (see tune_thresholds).

    nlp (Language): The pipeline.
    dev_path (Path): The dev .spacy file, with gold entities and relations.
    component (str): The name of the window_rel component.
    gold_ents (bool): Give window_rel the gold entities (components that set doc.ents do
        not run); if False, the entities the pipeline's own NER predicts, so that the
        thresholds suit the entities the pipeline will see.
    shared (bool): Tune one threshold for all labels (see tune_thresholds).
    min_support (int): Labels with fewer gold dev relations get the shared threshold.
    shrinkage (float): The weight of the shared threshold in a label's (see tune_thresholds).
    RETURNS (Dict[str, float]): The thresholds of all labels.
    """
    pipe = tuned_component(nlp, component, WindowRel)
    examples = examples_before(nlp, dev_path, component, gold_ents=gold_ents)
    return tune_thresholds(pipe, examples, shared=shared, min_support=min_support, shrinkage=shrinkage)


def tune_pipeline_thresholds_by_cv(
    nlp: Language,
    dev_path: Path,
    component: str = "window_rel",
    *,
    gold_ents: bool = True,
    n_folds: int = 5,
) -> Tuple[List[Tuple[Tuning, float]], Dict[str, float]]:
    """tune_pipeline_thresholds with the way of tuning chosen on the dev data by k-fold
    cross-validation (rank_tunings): the first of the ranked ways tunes the thresholds on
    all of it.

    nlp (Language): The pipeline.
    dev_path (Path): The dev .spacy file, with gold entities and relations.
    component (str): The name of the window_rel component.
    gold_ents (bool): See tune_pipeline_thresholds.
    n_folds (int): The folds of the cross-validation.
    RETURNS (Tuple[List[Tuple[Tuning, float]], Dict[str, float]]): The ways with their
        cross-validated micro F1, best first, and the thresholds of all labels.
    """
    pipe = tuned_component(nlp, component, WindowRel)
    examples = examples_before(nlp, dev_path, component, gold_ents=gold_ents)
    ranked = rank_tunings(pipe, examples, n_folds=n_folds)
    return ranked, tune_thresholds(pipe, examples, **ranked[0][0]._asdict())


def tuned_component(nlp: Language, component: str, kind: Type[TunedPipe]) -> TunedPipe:
    """The component of a pipeline to tune, by name, checked to be a `kind`.

    nlp (Language): The pipeline.
    component (str): The name of the component.
    kind (Type[TunedPipe]): WindowRel (thresholds) or WindowNER (recall bias).
    RETURNS (TunedPipe): The component.
    """
    factory = "window_rel" if kind is WindowRel else "window_ner"
    if component not in nlp.pipe_names:
        raise ValueError(
            f"Can't find the component {component!r} to tune in the pipeline {nlp.pipe_names}. "
            f"Pass the name of its {factory} component."
        )
    pipe = nlp.get_pipe(component)
    if not isinstance(pipe, kind):
        raise TypeError(f"Only a {factory} component can be tuned here, not {type(pipe).__name__}.")
    return pipe


def examples_before(nlp: Language, path: Path, component: str = "window_rel", *, gold_ents: bool = True) -> List[Example]:
    """The examples of a .spacy file, their predicted docs run through the pipeline up to
    its window_rel component (not included): what that component reads there.

    nlp (Language): The pipeline.
    path (Path): The .spacy file, with gold entities and relations.
    component (str): The name of the window_rel component.
    gold_ents (bool): Give window_rel the gold entities (components that set doc.ents do
        not run); if False, the entities the pipeline's own NER predicts.
    RETURNS (List[Example]): The examples.
    """
    pipe = tuned_component(nlp, component, WindowRel)
    after = nlp.pipe_names[nlp.pipe_names.index(component):]
    # The components that write the entities window_rel reads (doc.ents, or doc.spans[key]).
    spans_key = pipe.cfg["spans_key"]
    if not gold_ents and not entity_setters(nlp, spans_key=spans_key, before=component):
        raise ValueError(
            f"No component before {component!r} predicts entities, so its thresholds can only "
            "be tuned on gold entities: use gold_ents=True (--gold-ents)."
        )
    examples = read_dev(create_gold_ents_reader(path) if gold_ents else Corpus(path), path, nlp)
    if not any(relation_tuples(eg.reference) for eg in examples):
        raise ValueError(f"{path} has no gold relations to tune the thresholds of {component!r} on.")
    # Run the components before it (a shared tok2vec, the NER unless gold_ents).
    disabling: ContextManager[List[str]] = gold_entities(nlp, spans_key=spans_key) if gold_ents else nullcontext([])
    with disabling as disabled:
        with nlp.select_pipes(disable=[name for name in after if name not in disabled]):
            docs = list(nlp.pipe(eg.predicted for eg in examples))
    for example, doc in zip(examples, docs):
        example.predicted = doc
    return examples


def read_dev(corpus: Callable[[Language], Iterable[Example]], path: Path, nlp: Language) -> List[Example]:
    """The examples of a dev corpus, refusing one that holds none (a file that is not .spacy,
    or an empty one), so that no tuning succeeds on nothing.

    corpus (Callable[[Language], Iterable[Example]]): The reader of `path`.
    path (Path): The dev data, for the message.
    nlp (Language): The pipeline.
    RETURNS (List[Example]): The examples.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"\[W090\]")  # no .spacy file there: refused below, in words
        examples = list(corpus(nlp))
    if not examples:
        raise ValueError(f"{path} holds no documents to tune on: give a .spacy file, as `spacy-window-ner convert` writes one.")
    return examples


class DevScores(NamedTuple):
    """What threshold tuning reads of a window_rel component on dev data.

    probs (numpy.ndarray): (n_candidates, n_labels) probabilities of the candidates whose
        reference has relation annotation.
    gold (numpy.ndarray): (n_candidates, n_labels), 1 where the label is correct.
    n_gold (numpy.ndarray): (n_labels,) the gold relations of every label, including those
        that no candidate covers.
    """

    probs: numpy.ndarray
    gold: numpy.ndarray
    n_gold: numpy.ndarray


def dev_scores(pipe: WindowRel, examples: Iterable[Example]) -> DevScores:
    """Score the candidates of the examples (from the predicted entities, or the reference
    entities where the predicted doc has none) with a window_rel component.

    pipe (WindowRel): The component.
    examples (Iterable[Example]): Examples with gold relations.
    RETURNS (DevScores): The probabilities, targets and gold counts.
    """
    examples = list(examples)
    validate_examples(examples, "dev_scores")
    candidates = pipe.training_candidates(examples)
    scored = pipe.score_candidates([eg.predicted for eg in examples], candidates)
    P = numpy.concatenate(
        [pipe.model.ops.to_numpy(p) for p in scored.scores] + [numpy.zeros((0, len(pipe.labels)))]
    )
    gold, known = pipe.get_targets(examples, scored.candidates)
    n_gold = numpy.zeros(len(pipe.labels))
    label_ids = {label: i for i, label in enumerate(pipe.labels)}
    for example in examples:
        for *_, label in relation_tuples(example.reference):
            n_gold[label_ids[label]] += 1
    return DevScores(P[known], gold[known], n_gold)


def tune_thresholds(
    pipe: WindowRel,
    examples: Iterable[Example],
    *,
    shared: bool = False,
    min_support: int = 0,
    shrinkage: float = 0.0,
) -> Dict[str, float]:
    """Pick, for every label of a window_rel component, the threshold that maximises that
    label's F1 on the candidates of the examples (from the predicted entities, or the
    reference entities where the predicted doc has none), and store it in the component's
    cfg["thresholds"]. Gold relations that no candidate covers count as misses. Labels
    without a correct prediction keep their threshold.

    A label's best threshold on a small dev set is noisy: min_support and shrinkage pull
    the labels with few gold relations toward the shared threshold (see pick_thresholds).

    pipe (WindowRel): The component.
    examples (Iterable[Example]): Dev examples.
    shared (bool): Pick one threshold for all labels instead, the one that maximises
        micro F1, and store it in cfg["threshold"] (what `spacy find-threshold` searches
        on a grid): one parameter instead of one per label, which varies less from one
        small dev set to another. Per-label tuning sets cfg["threshold"] back to None.
    min_support (int): Labels with fewer gold relations than this in the examples get the
        shared threshold.
    shrinkage (float): The weight, in gold relations, of the shared threshold in a
        label's: t = (n t_label + shrinkage t_shared) / (n + shrinkage), n the label's gold
        relations. 0 keeps t_label.
    RETURNS (Dict[str, float]): The thresholds of all labels.
    """
    scores = dev_scores(pipe, examples)
    if shared:
        threshold = shared_threshold(scores)
        if threshold is not None:
            pipe.cfg["threshold"] = threshold
        return pipe.thresholds
    tuned = pick_thresholds(scores, min_support=min_support, shrinkage=shrinkage)
    pipe.cfg["thresholds"] = {
        **pipe.cfg["thresholds"],
        **{label: tuned[l] for l, label in enumerate(pipe.labels) if tuned[l] is not None},
    }
    # The tuned thresholds replace one set for all labels.
    pipe.cfg["threshold"] = None
    return pipe.thresholds


def shared_threshold(scores: DevScores) -> Optional[float]:
    """The one threshold for all labels that maximises micro F1 (best_threshold over the
    candidates of every label at once).

    scores (DevScores): The dev probabilities, targets and gold counts (dev_scores).
    RETURNS (Optional[float]): The threshold, or None if none finds a correct relation.
    """
    return best_threshold(scores.probs.ravel(), scores.gold.ravel(), scores.n_gold.sum())


def pick_thresholds(scores: DevScores, *, min_support: int = 0, shrinkage: float = 0.0) -> List[Optional[float]]:
    """The threshold of every label (best_threshold), robust to small dev sets: a label
    with fewer than min_support gold relations gets the shared threshold (the one that
    maximises micro F1), and the others are shrunk toward it,
    t = (n t_label + shrinkage t_shared) / (n + shrinkage).

    scores (DevScores): The dev probabilities, targets and gold counts (dev_scores).
    min_support (int): The fewest gold relations for a label's own threshold.
    shrinkage (float): The weight of the shared threshold, in gold relations.
    RETURNS (List[Optional[float]]): Per label, its threshold, or None if no threshold
        finds a correct one (the label keeps its threshold).
    """
    if not isinstance(min_support, int) or min_support < 0:
        raise ValueError(f"min_support must be an integer >= 0, not {min_support!r}.")
    if not 0.0 <= shrinkage < math.inf:
        raise ValueError(f"shrinkage must be a finite number >= 0 (0: no shrinkage), not {shrinkage!r}.")
    probs, gold, n_gold = scores
    own = [best_threshold(probs[:, l], gold[:, l], n_gold[l]) for l in range(len(n_gold))]
    if min_support == 0 and shrinkage == 0.0:
        return own
    shared = shared_threshold(scores)
    if shared is None:
        return own
    picked: List[Optional[float]] = []
    for t, n in zip(own, n_gold):
        if n < min_support:
            picked.append(shared)
        elif t is None:
            picked.append(None)
        else:
            picked.append(float((n * t + shrinkage * shared) / (n + shrinkage)))
    return picked


def relation_f(scores: DevScores, thresholds: Union[Sequence[float], numpy.ndarray]) -> Tuple[float, float]:
    """Strict micro and macro F1 of the rule p >= threshold on scored candidates, as
    score_relations counts them (macro: over the labels with a gold or predicted relation).

    scores (DevScores): The probabilities, targets and gold counts.
    thresholds (Union[Sequence[float], numpy.ndarray]): The threshold of every label.
    RETURNS (Tuple[float, float]): Micro F1 and macro F1.
    """
    predicted = scores.probs >= numpy.asarray(thresholds)[None, :]
    tp = (predicted & (scores.gold > 0)).sum(axis=0).astype(float)
    n_pred = predicted.sum(axis=0).astype(float)
    n_gold = numpy.maximum(scores.n_gold, tp)
    micro = 2 * tp.sum() / max(n_pred.sum() + n_gold.sum(), 1.0)
    seen = (n_pred + n_gold) > 0
    per_label = 2 * tp[seen] / (n_pred[seen] + n_gold[seen])
    return float(micro), float(per_label.mean()) if seen.any() else 0.0


def merge_scores(parts: Sequence[DevScores]) -> DevScores:
    """The scores of several parts of a dev set as one (see dev_scores).

    parts (Sequence[DevScores]): The scores of the parts.
    RETURNS (DevScores): Their union.
    """
    return DevScores(
        numpy.concatenate([part.probs for part in parts]),
        numpy.concatenate([part.gold for part in parts]),
        numpy.sum([part.n_gold for part in parts], axis=0),
    )


def cross_validated_f(
    folds: Sequence[DevScores], *, shared: bool = False, min_support: int = 0, shrinkage: float = 0.0
) -> float:
    """k-fold cross-validation of a way of tuning the thresholds over the folds of a dev set:
    thresholds picked on all folds but one (pick_thresholds, or one shared threshold),
    counted on that one, pooled over the folds into one micro F1. Unlike F1 on the data the
    thresholds were tuned on, it does not favour the way with the most free thresholds, so
    it can choose among them on dev alone. Labels without a picked threshold count at 0.5.

    folds (Sequence[DevScores]): The scores of the dev examples, one part per fold (say,
        dev_scores of every k-th example).
    shared (bool): One threshold for all labels, maximising micro F1.
    min_support (int): See pick_thresholds.
    shrinkage (float): See pick_thresholds.
    RETURNS (float): The pooled micro F1 on the held-out folds.
    """
    if len(folds) < 2:
        raise ValueError(f"Cross-validation needs at least 2 folds, not {len(folds)}.")
    tp = n_pred = n_gold = 0.0
    for k, held_out in enumerate(folds):
        rest = merge_scores([fold for j, fold in enumerate(folds) if j != k])
        thresholds = tuned_vector(rest, shared=shared, min_support=min_support, shrinkage=shrinkage)
        predicted = held_out.probs >= thresholds[None, :]
        tp += float((predicted & (held_out.gold > 0)).sum())
        n_pred += float(predicted.sum())
        n_gold += float(held_out.n_gold.sum())
    return 2 * tp / max(n_pred + n_gold, 1.0)


def rank_tunings(
    pipe: WindowRel, examples: Sequence[Example], *, n_folds: int = 5, tunings: Sequence[Tuning] = TUNINGS
) -> List[Tuple[Tuning, float]]:
    """Rank the ways of tuning a window_rel component's thresholds by k-fold cross-validation
    over dev examples (cross_validated_f, every n_folds-th example in a fold): the way that
    generalises best to dev docs it was not tuned on, chosen on dev alone. Tune with the first
    (tune_thresholds(pipe, examples, **ranked[0][0]._asdict())).

    pipe (WindowRel): The component, whose candidates and probabilities are scored.
    examples (Sequence[Example]): Dev examples, their predicted docs with the entities it reads.
    n_folds (int): The folds, at least 2 and at most the examples.
    tunings (Sequence[Tuning]): The ways to compare; on a tie the earlier wins.
    RETURNS (List[Tuple[Tuning, float]]): Each way with its pooled held-out micro F1, best first.
    """
    if not 2 <= n_folds <= len(examples):
        raise ValueError(f"Cross-validation over {len(examples)} dev docs needs 2 to {max(len(examples), 2)} folds, not {n_folds}.")
    folds = [dev_scores(pipe, examples[k::n_folds]) for k in range(n_folds)]
    scored = [(tuning, cross_validated_f(folds, **tuning._asdict())) for tuning in tunings]
    return sorted(scored, key=lambda item: -item[1])


def tuned_vector(
    scores: DevScores, *, shared: bool = False, min_support: int = 0, shrinkage: float = 0.0,
    default: float = DEFAULT_THRESHOLD,
) -> numpy.ndarray:
    """The thresholds that tune_thresholds picks, as an array over the labels, without a
    component: one shared threshold, or pick_thresholds; default where none is picked.

    scores (DevScores): The dev probabilities, targets and gold counts.
    shared (bool): One threshold for all labels.
    min_support (int): See pick_thresholds.
    shrinkage (float): See pick_thresholds.
    default (float): The threshold of labels without a picked one.
    RETURNS (numpy.ndarray): (n_labels,) thresholds.
    """
    if shared:
        threshold = shared_threshold(scores)
        picked: List[Optional[float]] = [threshold] * len(scores.n_gold)
    else:
        picked = pick_thresholds(scores, min_support=min_support, shrinkage=shrinkage)
    return numpy.asarray([default if t is None else t for t in picked])


def best_threshold(probs: numpy.ndarray, gold: numpy.ndarray, n_gold: float) -> Optional[float]:
    """The threshold t maximising F1 = 2 tp / (n_predicted + n_gold) for the rule p >= t,
    midway between the last probability predicted and the next one, clipped to [0.01, 0.99].

    probs (numpy.ndarray): The probabilities of one label.
    gold (numpy.ndarray): 1 where the label is correct.
    n_gold (float): The gold relations of the label, including those without a candidate.
    RETURNS (Optional[float]): The threshold, or None if no threshold finds a correct one.
    """
    if not len(probs) or not gold.any():
        return None
    order = numpy.argsort(-probs, kind="stable")
    p, y = probs[order], gold[order]
    tp = numpy.cumsum(y)
    f1 = 2.0 * tp / (numpy.arange(1, len(p) + 1) + max(n_gold, tp[-1]))
    # Only cut between distinct probabilities: p >= t can't split a tie.
    f1[:-1][p[:-1] == p[1:]] = -1.0
    k = int(numpy.argmax(f1))
    threshold = (p[k] + p[k + 1]) / 2.0 if k + 1 < len(p) else p[k]
    return float(numpy.clip(threshold, 0.01, 0.99))


@contextmanager
def gold_entities(nlp: Language, *, spans_key: Optional[str] = None) -> Iterator[List[str]]:
    """Run a pipeline on docs that already carry the gold entities (see
    `corpus.copy_gold_ents`): within the block, the components that write them are disabled,
    so the components after them see the gold entities.

    nlp (Language): The pipeline.
    spans_key (Optional[str]): The span group the entities are read from; doc.ents if None.
    YIELDS (List[str]): The names of the disabled components.
    """
    names = entity_setters(nlp, spans_key=spans_key)
    with nlp.select_pipes(disable=names):
        yield names


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


def copy_tuning(source: Language, target: Language) -> Dict[str, str]:
    """Give the components of `target` the settings tuned on dev for the components of the
    same name in `source`: window_rel's thresholds and window_ner's recall bias. For a
    pipeline retrained on train + dev with the settings chosen for one trained on train
    alone: it has no held-out data left to tune them on.

    source (Language): The tuned pipeline.
    target (Language): The pipeline to set, with the same tuned components and labels.
    RETURNS (Dict[str, str]): What was copied, by component name.
    """
    copied = {}
    for name, pipe in target.pipeline:
        if not isinstance(pipe, (WindowRel, WindowNER)):
            continue
        tuned = tuned_component(source, name, type(pipe))
        if set(tuned.labels) != set(pipe.labels):
            raise ValueError(
                f"The labels of {name!r} differ between the pipelines ({sorted(tuned.labels)} and "
                f"{sorted(pipe.labels)}): settings tuned for one don't fit the other. Retrain with "
                "the same labels, or tune this pipeline on held-out data."
            )
        if isinstance(pipe, WindowRel):
            pipe.cfg["threshold"] = tuned.cfg["threshold"]
            pipe.cfg["thresholds"] = dict(tuned.cfg["thresholds"])
            copied[name] = ", ".join(f"{label} {value:.3f}" for label, value in pipe.thresholds.items())
        else:
            pipe.recall_bias = tuned.recall_bias
            copied[name] = f"recall_bias {pipe.recall_bias:g}"
    if not copied:
        raise ValueError(
            f"The pipeline has no window_ner or window_rel component whose settings could be "
            f"copied; its components are {target.pipe_names}."
        )
    return copied

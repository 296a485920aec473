"""The relation thresholds of window_rel, tuned on dev data: one label's best threshold
(`best_threshold`), a component's (`tune_thresholds`: per label, shared, or pulled toward the
shared one by `min_support` and `shrinkage`), a pipeline's (`tune_pipeline_thresholds`, used by
`spacy-window-ner tune-thresholds`), and the [training.before_to_disk] callback
`spacy-window-ner.tune_rel_thresholds.v1`. `dev_scores` scores the dev candidates once;
`tuned_vector`, `relation_f` and `relation_prf` pick and count thresholds on those scores without a component,
for cross-validation (see cv.py) and the benchmarks.

Every tuned threshold is bounded from below by `min_threshold` (DEFAULT_MIN_THRESHOLD): the best
cut on dev may sit below a label's lowest true scores, set there by one or two dev relations that
the model scored near 0 (CoNLL04's Kill at 0.01 let `President Reagan Kill John Hinckley`
through). The cut is the best one among those at or above the floor, so a single low-scored dev
example can't drag a label's threshold below it."""
import math
from pathlib import Path
from typing import Callable, Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple, Union

import numpy
from spacy.language import Language
from spacy.training import Example, validate_examples
from spacy.util import registry

from ..layers.batching import to_host
from ..rel import DEFAULT_THRESHOLD, WindowRel
from .dev import examples_before, tuned_component

# The lowest threshold tuning gives a label (min_threshold): on CoNLL04 dev cross-validation
# does not separate floors from 0 to 0.2, and 0.1 is the smallest that stops every low pick seen
# there (0.01 to 0.07; BENCHMARKS.md, "Relations a user can trust").
DEFAULT_MIN_THRESHOLD = 0.1


@registry.misc("spacy-window-ner.tune_rel_thresholds.v1")
def make_tune_rel_thresholds(
    dev_path: Optional[Path],
    component: str = "window_rel",
    gold_ents: bool = True,
    shared: bool = False,
    min_support: int = 0,
    shrinkage: float = 0.0,
    min_threshold: float = DEFAULT_MIN_THRESHOLD,
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
    min_threshold (float): The lowest threshold a label gets (see best_threshold).
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
            min_support=min_support, shrinkage=shrinkage, min_threshold=min_threshold,
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
    min_threshold: float = DEFAULT_MIN_THRESHOLD,
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
    min_threshold (float): The lowest threshold a label gets (see best_threshold).
    RETURNS (Dict[str, float]): The thresholds of all labels.
    """
    pipe = tuned_component(nlp, component, WindowRel)
    examples = examples_before(nlp, dev_path, component, gold_ents=gold_ents)
    return tune_thresholds(
        pipe, examples, shared=shared, min_support=min_support, shrinkage=shrinkage, min_threshold=min_threshold
    )


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
    host: List[numpy.ndarray] = [numpy.asarray(p) for p in to_host(pipe.model.ops, scored.scores)]
    P = numpy.concatenate(host + [numpy.zeros((0, len(pipe.labels)))])
    gold, known = pipe.get_targets(examples, scored.candidates)
    n_gold = numpy.zeros(len(pipe.labels))
    label_ids = {label: i for i, label in enumerate(pipe.labels)}
    for example in examples:
        for *_, label in pipe.gold_relations(example.reference):
            n_gold[label_ids[label]] += 1
    return DevScores(P[known], gold[known], n_gold)


def tune_thresholds(
    pipe: WindowRel,
    examples: Iterable[Example],
    *,
    shared: bool = False,
    min_support: int = 0,
    shrinkage: float = 0.0,
    min_threshold: float = DEFAULT_MIN_THRESHOLD,
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
    min_threshold (float): The lowest threshold a label gets: the best cut at or above it
        (see best_threshold).
    RETURNS (Dict[str, float]): The thresholds of all labels.
    """
    scores = dev_scores(pipe, examples)
    if shared:
        threshold = shared_threshold(scores, min_threshold=min_threshold)
        if threshold is not None:
            pipe.cfg["threshold"] = threshold
        return pipe.thresholds
    tuned = pick_thresholds(scores, min_support=min_support, shrinkage=shrinkage, min_threshold=min_threshold)
    # pipe.thresholds, not cfg["thresholds"]: a label left untuned keeps the threshold it had,
    # the shared one if that was set.
    pipe.cfg["thresholds"] = {
        **pipe.thresholds,
        **{label: tuned[l] for l, label in enumerate(pipe.labels) if tuned[l] is not None},
    }
    # The tuned thresholds replace one set for all labels.
    pipe.cfg["threshold"] = None
    return pipe.thresholds


def shared_threshold(scores: DevScores, *, min_threshold: float = DEFAULT_MIN_THRESHOLD) -> Optional[float]:
    """The one threshold for all labels that maximises micro F1 (best_threshold over the
    candidates of every label at once).

    scores (DevScores): The dev probabilities, targets and gold counts (dev_scores).
    min_threshold (float): The lowest threshold (see best_threshold).
    RETURNS (Optional[float]): The threshold, or None if none finds a correct relation.
    """
    return best_threshold(scores.probs.ravel(), scores.gold.ravel(), scores.n_gold.sum(), min_threshold=min_threshold)


def pick_thresholds(
    scores: DevScores, *, min_support: int = 0, shrinkage: float = 0.0, min_threshold: float = DEFAULT_MIN_THRESHOLD
) -> List[Optional[float]]:
    """The threshold of every label (best_threshold), robust to small dev sets: a label
    with fewer than min_support gold relations gets the shared threshold (the one that
    maximises micro F1), and the others are shrunk toward it,
    t = (n t_label + shrinkage t_shared) / (n + shrinkage).

    scores (DevScores): The dev probabilities, targets and gold counts (dev_scores).
    min_support (int): The fewest gold relations for a label's own threshold.
    shrinkage (float): The weight of the shared threshold, in gold relations.
    min_threshold (float): The lowest threshold of a label, and of the shared one (see
        best_threshold); shrinkage between two thresholds at or above it stays there.
    RETURNS (List[Optional[float]]): Per label, its threshold, or None if no threshold
        at or above min_threshold finds a correct one (the label keeps its threshold).
    """
    if not isinstance(min_support, int) or min_support < 0:
        raise ValueError(f"min_support must be an integer >= 0, not {min_support!r}.")
    if not 0.0 <= shrinkage < math.inf:
        raise ValueError(f"shrinkage must be a finite number >= 0 (0: no shrinkage), not {shrinkage!r}.")
    probs, gold, n_gold = scores
    own = [best_threshold(probs[:, l], gold[:, l], n_gold[l], min_threshold=min_threshold) for l in range(len(n_gold))]
    if min_support == 0 and shrinkage == 0.0:
        return own
    shared = shared_threshold(scores, min_threshold=min_threshold)
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
    _, _, micro, macro = relation_prf(scores, thresholds)
    return micro, macro


def relation_prf(scores: DevScores, thresholds: Union[Sequence[float], numpy.ndarray]) -> Tuple[float, float, float, float]:
    """Strict micro precision, recall and F1, and macro F1, of the rule p >= threshold on
    scored candidates (see relation_f). A probability of 0 (a label typed labels rule out) is
    never predicted, as set_annotations never predicts it.

    scores (DevScores): The probabilities, targets and gold counts.
    thresholds (Union[Sequence[float], numpy.ndarray]): The threshold of every label.
    RETURNS (Tuple[float, float, float, float]): Micro P, R and F1, and macro F1.
    """
    predicted = (scores.probs >= numpy.asarray(thresholds)[None, :]) & (scores.probs > 0)
    tp = (predicted & (scores.gold > 0)).sum(axis=0).astype(float)
    n_pred = predicted.sum(axis=0).astype(float)
    n_gold = numpy.maximum(scores.n_gold, tp)
    micro = 2 * tp.sum() / max(n_pred.sum() + n_gold.sum(), 1.0)
    seen = (n_pred + n_gold) > 0
    per_label = 2 * tp[seen] / (n_pred[seen] + n_gold[seen])
    p = tp.sum() / max(n_pred.sum(), 1.0)
    r = tp.sum() / max(n_gold.sum(), 1.0)
    return float(p), float(r), float(micro), float(per_label.mean()) if seen.any() else 0.0


def tuned_vector(
    scores: DevScores, *, shared: bool = False, min_support: int = 0, shrinkage: float = 0.0,
    default: float = DEFAULT_THRESHOLD, min_threshold: float = DEFAULT_MIN_THRESHOLD,
) -> numpy.ndarray:
    """The thresholds that tune_thresholds picks, as an array over the labels, without a
    component: one shared threshold, or pick_thresholds; default where none is picked.

    scores (DevScores): The dev probabilities, targets and gold counts.
    shared (bool): One threshold for all labels.
    min_support (int): See pick_thresholds.
    shrinkage (float): See pick_thresholds.
    default (float): The threshold of labels without a picked one.
    min_threshold (float): See best_threshold.
    RETURNS (numpy.ndarray): (n_labels,) thresholds.
    """
    if shared:
        threshold = shared_threshold(scores, min_threshold=min_threshold)
        picked: List[Optional[float]] = [threshold] * len(scores.n_gold)
    else:
        picked = pick_thresholds(scores, min_support=min_support, shrinkage=shrinkage, min_threshold=min_threshold)
    return numpy.asarray([default if t is None else t for t in picked])


def best_threshold(
    probs: numpy.ndarray, gold: numpy.ndarray, n_gold: float, *, min_threshold: float = DEFAULT_MIN_THRESHOLD
) -> Optional[float]:
    """The threshold t >= min_threshold maximising F1 = 2 tp / (n_predicted + n_gold) for the
    rule p >= t: among the cuts between distinct probabilities at or above min_threshold (and
    the cut at min_threshold itself), the best, midway between the last probability predicted
    and the next one (min_threshold where that is lower), clipped to at most 0.99.

    The floor makes the pick robust where the best cut on dev lies in the low tail of the
    scores: there the gap between two neighbouring probabilities is tiny, and the one or two
    dev relations that the model scored near 0 decide it, letting through every candidate
    scored as low at prediction. Cuts below the floor are never chosen, however they score on
    dev.

    probs (numpy.ndarray): The probabilities of one label.
    gold (numpy.ndarray): 1 where the label is correct.
    n_gold (float): The gold relations of the label, including those without a candidate.
    min_threshold (float): The lowest threshold, in [0, 0.99]; 0 picks as before issue 28
        (the best cut anywhere, clipped to at least 0.01).
    RETURNS (Optional[float]): The threshold, or None if no threshold at or above
        min_threshold finds a correct one.
    """
    if not 0.0 <= min_threshold <= 0.99:
        raise ValueError(f"min_threshold must be a number in [0, 0.99], not {min_threshold!r}.")
    if not len(probs) or not gold.any():
        return None
    order = numpy.argsort(-probs, kind="stable")
    p, y = probs[order], gold[order]
    tp = numpy.cumsum(y)
    f1 = 2.0 * tp / (numpy.arange(1, len(p) + 1) + max(n_gold, tp[-1]))
    # Only cut between distinct probabilities: p >= t can't split a tie.
    f1[:-1][p[:-1] == p[1:]] = -1.0
    # Nor below the floor: the cut after the last p >= min_threshold is the rule p >= min_threshold.
    f1[p < min_threshold] = -1.0
    k = int(numpy.argmax(f1))
    if f1[k] <= 0.0:
        return None
    threshold = (p[k] + p[k + 1]) / 2.0 if k + 1 < len(p) else p[k]
    return float(numpy.clip(threshold, max(min_threshold, 0.01), 0.99))

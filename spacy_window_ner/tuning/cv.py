"""The choice among the ways of tuning the relation thresholds (`TUNINGS`: shared, per label,
min_support, shrinkage) by k-fold cross-validation over dev (`rank_tunings`), which tuning and
counting on the same dev set can't do; `tune_pipeline_thresholds_by_cv` then tunes with the way
chosen (`spacy-window-ner tune-thresholds --cross-validate K`)."""
from pathlib import Path
from typing import Dict, List, NamedTuple, Sequence, Tuple

import numpy
from spacy.language import Language
from spacy.training import Example

from ..rel import WindowRel
from .dev import examples_before, tuned_component
from .thresholds import DEFAULT_MIN_THRESHOLD, DevScores, dev_scores, tune_thresholds, tuned_vector


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


def tune_pipeline_thresholds_by_cv(
    nlp: Language,
    dev_path: Path,
    component: str = "window_rel",
    *,
    gold_ents: bool = True,
    n_folds: int = 5,
    min_threshold: float = DEFAULT_MIN_THRESHOLD,
) -> Tuple[List[Tuple[Tuning, float]], Dict[str, float]]:
    """tune_pipeline_thresholds with the way of tuning chosen on the dev data by k-fold
    cross-validation (rank_tunings): the first of the ranked ways tunes the thresholds on
    all of it.

    nlp (Language): The pipeline.
    dev_path (Path): The dev .spacy file, with gold entities and relations.
    component (str): The name of the window_rel component.
    gold_ents (bool): See tune_pipeline_thresholds.
    n_folds (int): The folds of the cross-validation.
    min_threshold (float): The lowest threshold of a label, in every way (see best_threshold).
    RETURNS (Tuple[List[Tuple[Tuning, float]], Dict[str, float]]): The ways with their
        cross-validated micro F1, best first, and the thresholds of all labels.
    """
    pipe = tuned_component(nlp, component, WindowRel)
    examples = examples_before(nlp, dev_path, component, gold_ents=gold_ents)
    ranked = rank_tunings(pipe, examples, n_folds=n_folds, min_threshold=min_threshold)
    return ranked, tune_thresholds(pipe, examples, min_threshold=min_threshold, **ranked[0][0]._asdict())


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
    folds: Sequence[DevScores], *, shared: bool = False, min_support: int = 0, shrinkage: float = 0.0,
    min_threshold: float = DEFAULT_MIN_THRESHOLD,
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
    min_threshold (float): See best_threshold.
    RETURNS (float): The pooled micro F1 on the held-out folds.
    """
    if len(folds) < 2:
        raise ValueError(f"Cross-validation needs at least 2 folds, not {len(folds)}.")
    tp = n_pred = n_gold = 0.0
    for k, held_out in enumerate(folds):
        rest = merge_scores([fold for j, fold in enumerate(folds) if j != k])
        thresholds = tuned_vector(
            rest, shared=shared, min_support=min_support, shrinkage=shrinkage, min_threshold=min_threshold
        )
        predicted = held_out.probs >= thresholds[None, :]
        tp += float((predicted & (held_out.gold > 0)).sum())
        n_pred += float(predicted.sum())
        n_gold += float(held_out.n_gold.sum())
    return 2 * tp / max(n_pred + n_gold, 1.0)


def rank_tunings(
    pipe: WindowRel, examples: Sequence[Example], *, n_folds: int = 5, tunings: Sequence[Tuning] = TUNINGS,
    min_threshold: float = DEFAULT_MIN_THRESHOLD,
) -> List[Tuple[Tuning, float]]:
    """Rank the ways of tuning a window_rel component's thresholds by k-fold cross-validation
    over dev examples (cross_validated_f, every n_folds-th example in a fold): the way that
    generalises best to dev docs it was not tuned on, chosen on dev alone. Tune with the first
    (tune_thresholds(pipe, examples, **ranked[0][0]._asdict())).

    pipe (WindowRel): The component, whose candidates and probabilities are scored.
    examples (Sequence[Example]): Dev examples, their predicted docs with the entities it reads.
    n_folds (int): The folds, at least 2 and at most the examples.
    tunings (Sequence[Tuning]): The ways to compare; on a tie the earlier wins.
    min_threshold (float): The lowest threshold of a label, in every way (see best_threshold).
    RETURNS (List[Tuple[Tuning, float]]): Each way with its pooled held-out micro F1, best first.
    """
    if not 2 <= n_folds <= len(examples):
        raise ValueError(f"Cross-validation over {len(examples)} dev docs needs 2 to {max(len(examples), 2)} folds, not {n_folds}.")
    folds = [dev_scores(pipe, examples[k::n_folds]) for k in range(n_folds)]
    scored = [(tuning, cross_validated_f(folds, min_threshold=min_threshold, **tuning._asdict())) for tuning in tunings]
    return sorted(scored, key=lambda item: -item[1])

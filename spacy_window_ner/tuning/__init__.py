"""Settings of window_rel and window_ner tuned on dev data (`spacy-window-ner tune-thresholds`,
`tune-ner-bias` and `copy-tuning`, and the [training.before_to_disk] callback
`spacy-window-ner.tune_rel_thresholds.v1`):

- thresholds.py: the relation thresholds of window_rel;
- cv.py: the choice among the ways of tuning them, by cross-validation over dev;
- recall_bias.py: the recall bias of window_ner;
- copy.py: settings tuned for one pipeline, given to another (retrained on train + dev);
- dev.py: the dev data a tuning reads.
"""
from .copy import copy_tuning
from .cv import TUNINGS, Tuning, cross_validated_f, merge_scores, rank_tunings, tune_pipeline_thresholds_by_cv
from .dev import examples_before, read_dev, tuned_component
from .recall_bias import (
    DEFAULT_BIAS_GRID, MAX_GRID_VALUES, BiasScore, bias_grid, check_grid_size, tune_recall_bias,
)
from .thresholds import (
    DEFAULT_MIN_THRESHOLD, DevScores, best_threshold, dev_scores, make_tune_rel_thresholds, pick_thresholds,
    relation_f, relation_prf, shared_threshold, tune_pipeline_thresholds, tune_thresholds, tuned_vector,
)

__all__ = [
    "BiasScore", "DEFAULT_BIAS_GRID", "DEFAULT_MIN_THRESHOLD", "DevScores", "MAX_GRID_VALUES", "TUNINGS", "Tuning",
    "best_threshold", "bias_grid", "check_grid_size", "copy_tuning", "cross_validated_f", "dev_scores",
    "examples_before", "make_tune_rel_thresholds", "merge_scores", "pick_thresholds", "rank_tunings", "read_dev",
    "relation_f", "relation_prf", "shared_threshold", "tune_pipeline_thresholds", "tune_pipeline_thresholds_by_cv",
    "tune_recall_bias", "tune_thresholds", "tuned_component", "tuned_vector",
]

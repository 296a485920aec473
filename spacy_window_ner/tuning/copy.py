"""Settings tuned on dev, given to another pipeline (`copy_tuning`, used by
`spacy-window-ner copy-tuning`): one retrained on train + dev has no held-out data left to tune
them on, so it takes those tuned for its predecessor trained on train alone."""
from typing import Dict

from spacy.language import Language

from ..ner import WindowNER
from ..rel import WindowRel
from .dev import tuned_component


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

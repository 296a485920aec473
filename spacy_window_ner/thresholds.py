"""Tuning the relation thresholds of window_rel on dev data: one label's best threshold
(`best_threshold`), a component's (`tune_thresholds`), a pipeline's (`tune_pipeline_thresholds`,
used by `spacy-window-ner tune-thresholds`) and the [training.before_to_disk] callback
`spacy-window-ner.tune_rel_thresholds.v1`. `gold_entities` runs a pipeline on gold entities,
for tuning and for `spacy-window-ner evaluate --gold-ents`."""
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Callable, ContextManager, Dict, Iterable, Iterator, List, Optional

import numpy
from spacy.language import Language
from spacy.training import Corpus, Example, validate_examples
from spacy.util import registry

from .confidences import entity_setters
from .corpus import create_gold_ents_reader
from .rel import WindowRel
from .relations import relation_tuples


@registry.misc("spacy-window-ner.tune_rel_thresholds.v1")
def make_tune_rel_thresholds(
    dev_path: Optional[Path], component: str = "window_rel", gold_ents: bool = True, shared: bool = False
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
    RETURNS (Callable[[Language], Language]): The callback.
    """

    def tune_rel_thresholds(nlp: Language) -> Language:
        if dev_path is None:
            raise ValueError(
                "tune_rel_thresholds needs the dev .spacy file: set dev_path, e.g. with "
                "--paths.dev dev.spacy."
            )
        tune_pipeline_thresholds(nlp, Path(dev_path), component, gold_ents=gold_ents, shared=shared)
        return nlp

    return tune_rel_thresholds


def tune_pipeline_thresholds(
    nlp: Language,
    dev_path: Path,
    component: str = "window_rel",
    *,
    gold_ents: bool = True,
    shared: bool = False,
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
    RETURNS (Dict[str, float]): The thresholds of all labels.
    """
    if component not in nlp.pipe_names:
        raise ValueError(
            f"Can't find the component {component!r} to tune in the pipeline {nlp.pipe_names}. "
            "Pass the name of its window_rel component."
        )
    pipe = nlp.get_pipe(component)
    if not isinstance(pipe, WindowRel):
        raise TypeError(f"Thresholds can only be tuned for a window_rel component, not {type(pipe).__name__}.")
    after = nlp.pipe_names[nlp.pipe_names.index(component):]
    # The components that write the entities window_rel reads (doc.ents, or doc.spans[key]).
    spans_key = pipe.cfg["spans_key"]
    if not gold_ents and not entity_setters(nlp, spans_key=spans_key, before=component):
        raise ValueError(
            f"No component before {component!r} predicts entities, so its thresholds can only "
            "be tuned on gold entities: use gold_ents=True (--gold-ents)."
        )
    read_dev = create_gold_ents_reader(dev_path) if gold_ents else Corpus(dev_path)
    examples = list(read_dev(nlp))
    # Run the components before it (a shared tok2vec, the NER unless gold_ents).
    disabling: ContextManager[List[str]] = gold_entities(nlp, spans_key=spans_key) if gold_ents else nullcontext([])
    with disabling as disabled:
        with nlp.select_pipes(disable=[name for name in after if name not in disabled]):
            docs = list(nlp.pipe(eg.predicted for eg in examples))
    for example, doc in zip(examples, docs):
        example.predicted = doc
    return tune_thresholds(pipe, examples, shared=shared)


def tune_thresholds(pipe: WindowRel, examples: Iterable[Example], *, shared: bool = False) -> Dict[str, float]:
    """Pick, for every label of a window_rel component, the threshold that maximises that
    label's F1 on the candidates of the examples (from the predicted entities, or the
    reference entities where the predicted doc has none), and store it in the component's
    cfg["thresholds"]. Gold relations that no candidate covers count as misses. Labels
    without a correct prediction keep their threshold.

    pipe (WindowRel): The component.
    examples (Iterable[Example]): Dev examples.
    shared (bool): Pick one threshold for all labels instead, the one that maximises
        micro F1, and store it in cfg["threshold"] (what `spacy find-threshold` searches
        on a grid): one parameter instead of one per label, which varies less from one
        small dev set to another. Per-label tuning sets cfg["threshold"] back to None.
    RETURNS (Dict[str, float]): The thresholds of all labels.
    """
    examples = list(examples)
    validate_examples(examples, "tune_thresholds")
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
    if shared:
        threshold = best_threshold(P[known].ravel(), gold[known].ravel(), n_gold.sum())
        if threshold is not None:
            pipe.cfg["threshold"] = threshold
        return pipe.thresholds
    tuned = dict(pipe.cfg["thresholds"])
    for l, label in enumerate(pipe.labels):
        threshold = best_threshold(P[known, l], gold[known, l], n_gold[l])
        if threshold is not None:
            tuned[label] = threshold
    pipe.cfg["thresholds"] = tuned
    # The tuned thresholds replace one set for all labels.
    pipe.cfg["threshold"] = None
    return pipe.thresholds


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

"""The `window_rel` component: relation extraction between the entities of a doc. Every
ordered pair of entities in the same sentence (or within max_distance tokens) is a
candidate; the pair scorer gives each candidate an independent sigmoid score per relation
label, and a relation is predicted where the score reaches that label's threshold. The
thresholds are tuned on dev data and kept in cfg."""
from contextlib import contextmanager
from itertools import islice
from pathlib import Path
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

import numpy
from spacy.language import Language
from spacy.pipeline import TrainablePipe
from spacy.tokens import Doc, Span
from spacy.training import Corpus, Example, validate_examples, validate_get_examples
from spacy.util import registry
from spacy.vocab import Vocab
from thinc.api import Config, Model, set_dropout_rate
from thinc.types import Floats2d, Ints2d

from .corpus import aligned_ents, create_gold_ents_reader
from .relations import Relation, has_relation_annotation, relation_tuples, set_relations
from .scorers import score_relations

default_model_config = """
[model]
@architectures = "spacy-window-ner.RelationScorer.v2"
window_size = 1
hidden_width = 128
label_width = 16
n_distance_buckets = 16
activation = "relu"
n_entity_labels = null
nO = null

[model.tok2vec]
@architectures = "spacy.Tok2Vec.v2"

[model.tok2vec.embed]
@architectures = "spacy.MultiHashEmbed.v2"
width = 96
attrs = ["NORM", "PREFIX", "SUFFIX", "SHAPE"]
rows = [5000, 1000, 2500, 2500]
include_static_vectors = false

[model.tok2vec.encode]
@architectures = "spacy.MaxoutWindowEncoder.v2"
width = 96
depth = 2
window_size = 1
maxout_pieces = 3
"""
DEFAULT_WINDOW_REL_MODEL = Config().from_str(default_model_config)["model"]
UNKNOWN_ENTITY_LABEL = 0  # id of entity labels not seen in initialize
DEFAULT_THRESHOLD = 0.5  # of a label without a tuned threshold, when cfg["threshold"] is None


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
    shared (bool): Tune one threshold for all labels (see WindowRel.tune_thresholds).
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
    component's thresholds there (see WindowRel.tune_thresholds).

    nlp (Language): The pipeline.
    dev_path (Path): The dev .spacy file, with gold entities and relations.
    component (str): The name of the window_rel component.
    gold_ents (bool): Give window_rel the gold entities (components that set doc.ents do
        not run); if False, the entities the pipeline's own NER predicts, so that the
        thresholds suit the entities the pipeline will see.
    shared (bool): Tune one threshold for all labels (see WindowRel.tune_thresholds).
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
    before = nlp.pipe_names[: nlp.pipe_names.index(component)]
    # The components that write the entities window_rel reads (doc.ents, or doc.spans[key]).
    writes = "doc.ents" if pipe.cfg["spans_key"] is None else "doc.spans"
    sets_ents = [name for name in before if writes in nlp.get_pipe_meta(name).assigns]
    if not gold_ents and not sets_ents:
        raise ValueError(
            f"No component before {component!r} predicts entities, so its thresholds can only "
            "be tuned on gold entities: use gold_ents=True (--gold-ents)."
        )
    read_dev = create_gold_ents_reader(dev_path) if gold_ents else Corpus(dev_path)
    examples = list(read_dev(nlp))
    docs: Iterable[Doc] = [eg.predicted for eg in examples]
    # Run the components before it (a shared tok2vec, the NER unless gold_ents).
    for name in before:
        if gold_ents and name in sets_ents:
            continue
        proc = nlp.get_pipe(name)
        docs = proc.pipe(docs) if hasattr(proc, "pipe") else (proc(doc) for doc in docs)
    for example, doc in zip(examples, docs):
        example.predicted = doc
    return pipe.tune_thresholds(examples, shared=shared)


@Language.factory(
    "window_rel",
    requires=["doc.ents"],
    assigns=["doc._.swn_relations"],
    default_config={
        "model": DEFAULT_WINDOW_REL_MODEL,
        "threshold": None,
        "spans_key": None,
        "max_distance": 100,
        "max_candidates_per_doc": 2000,
        "pos_weight": 3.0,
        "scorer": {"@scorers": "spacy-window-ner.rel_scorer.v1"},
    },
    default_score_weights={
        "rel_micro_f": 1.0, "rel_micro_p": 0.0, "rel_micro_r": 0.0, "rel_per_type": None,
    },
)
def make_window_rel(
    nlp: Language,
    name: str,
    model: Model[Tuple[List[Doc], List[Ints2d]], Floats2d],
    threshold: Optional[float],
    spans_key: Optional[str],
    max_distance: int,
    max_candidates_per_doc: int,
    pos_weight: float,
    scorer: Optional[Callable],
) -> "WindowRel":
    """Create a window_rel component.

    model (Model[Tuple[List[Doc], List[Ints2d]], Floats2d]): Scores every relation label
        for candidate pairs of entities.
    threshold (Optional[float]): One threshold for all labels, in [0, 1]; None for each
        label's tuned threshold (cfg["thresholds"], 0.5 for a label without one).
        `spacy find-threshold PIPELINE DEV window_rel threshold rel_micro_f` searches it.
    spans_key (Optional[str]): Relate the spans in doc.spans[spans_key] (say, those of a
        window_ner with the same spans_key) instead of doc.ents.
    max_distance (int): Without sentence boundaries, the largest token gap between
        the two entities of a candidate.
    max_candidates_per_doc (int): The most candidates per doc; the nearest pairs are kept.
    pos_weight (float): Weight of the positive term of the binary cross-entropy. Values
        above 1 make missing a relation cost more than a false alarm, against the
        imbalance of mostly-negative candidates.
    scorer (Optional[Callable]): The scoring method.
    """
    return WindowRel(
        nlp.vocab, model, name, threshold=threshold, spans_key=spans_key, max_distance=max_distance,
        max_candidates_per_doc=max_candidates_per_doc, pos_weight=pos_weight, scorer=scorer,
    )


class WindowRel(TrainablePipe):
    """Relation extraction between the entities in doc.ents (or doc.spans[spans_key]); the
    relations are stored with their scores (read them with `get_relations(doc)`).

    Candidates are ordered pairs (head, tail) of distinct entities in one sentence when the
    doc has sentence boundaries, otherwise with at most max_distance tokens between them.
    In training, a doc without predicted entities uses the reference entities (aligned by
    character offsets); a candidate is positive for a label iff the reference has a
    relation with that label between the same character spans. Docs whose reference holds
    no relation annotation at all are treated as missing, not as negative.
    """

    def __init__(
        self,
        vocab: Vocab,
        model: Model[Tuple[List[Doc], List[Ints2d]], Floats2d],
        name: str = "window_rel",
        *,
        threshold: Optional[float] = None,
        spans_key: Optional[str] = None,
        max_distance: int = 100,
        max_candidates_per_doc: int = 2000,
        pos_weight: float = 3.0,
        scorer: Optional[Callable] = score_relations,
    ) -> None:
        if threshold is not None and not (isinstance(threshold, (int, float)) and 0.0 <= threshold <= 1.0):
            raise ValueError(
                f"threshold must be a number in [0, 1], or None to use each label's tuned "
                f"threshold, not {threshold!r}."
            )
        if spans_key is not None and (not isinstance(spans_key, str) or not spans_key):
            raise ValueError(
                f"spans_key must be a non-empty string (read the entities from doc.spans[spans_key]) "
                f"or None (read doc.ents), not {spans_key!r}."
            )
        if not isinstance(max_distance, int) or max_distance < 0:
            raise ValueError(f"max_distance must be an integer >= 0, not {max_distance!r}.")
        if not isinstance(max_candidates_per_doc, int) or max_candidates_per_doc < 1:
            raise ValueError(
                f"max_candidates_per_doc must be a positive integer, not {max_candidates_per_doc!r}."
            )
        if not pos_weight > 0.0:
            raise ValueError(f"pos_weight must be > 0, not {pos_weight!r}.")
        self.vocab = vocab
        self.model = model
        self.name = name
        self.scorer = scorer
        self.cfg = {
            "labels": [],
            "entity_labels": [],
            "threshold": None if threshold is None else float(threshold),
            "thresholds": {},
            "spans_key": spans_key,
            "max_distance": max_distance,
            "max_candidates_per_doc": max_candidates_per_doc,
            "pos_weight": pos_weight,
        }

    @property
    def labels(self) -> Tuple[str, ...]:
        return tuple(self.cfg["labels"])

    @property
    def entity_labels(self) -> Tuple[str, ...]:
        return tuple(self.cfg["entity_labels"])

    @property
    def thresholds(self) -> Dict[str, float]:
        """The threshold of every label: cfg["threshold"] if set (one for all labels, as
        `spacy find-threshold` sets it), else the label's tuned one, else 0.5."""
        shared = self.cfg["threshold"]
        tuned = self.cfg["thresholds"]
        return {
            label: float(shared if shared is not None else tuned.get(label, DEFAULT_THRESHOLD))
            for label in self.labels
        }

    @property
    def label_data(self) -> Dict[str, List[str]]:
        return {"relations": list(self.labels), "entities": list(self.entity_labels)}

    def add_label(self, label: str) -> int:
        """Add a relation label before the component is initialized.

        label (str): The label.
        RETURNS (int): 0 if the label was already present, otherwise 1.
        """
        if not isinstance(label, str) or not label:
            raise ValueError(f"Relation labels must be non-empty strings, not {label!r}.")
        if label in self.labels:
            return 0
        self._allow_extra_label()
        self.cfg["labels"].append(label)
        self.vocab.strings.add(label)
        return 1

    def add_entity_label(self, label: str) -> int:
        """Add an entity label the model embeds, before the component is initialized.
        Entities with other labels share one "unknown" embedding.

        label (str): The entity label.
        RETURNS (int): 0 if the label was already present, otherwise 1.
        """
        if label in self.entity_labels:
            return 0
        self._allow_extra_label()
        self.cfg["entity_labels"].append(label)
        return 1

    def initialize(
        self,
        get_examples: Callable[[], Iterable[Example]],
        *,
        nlp: Optional[Language] = None,
        labels: Optional[Union[List[str], Dict[str, List[str]]]] = None,
    ) -> None:
        """Initialize the labels and the model from a few examples.

        get_examples (Callable[[], Iterable[Example]]): The training examples.
        nlp (Optional[Language]): The pipeline.
        labels (Optional[Union[List[str], Dict[str, List[str]]]]): The relation labels, or
            {"relations": [...], "entities": [...]} as `spacy init labels` writes them.
            Read from the data if None.
        """
        validate_get_examples(get_examples, "WindowRel.initialize")
        if isinstance(labels, dict):
            for label in labels.get("entities", []):
                self.add_entity_label(label)
            labels = labels.get("relations")
        if labels is not None:
            for label in labels:
                self.add_label(label)
        for example in get_examples():
            if labels is None:
                for key in relation_tuples(example.reference):
                    self.add_label(key[6])
            for ent in (*self._reference_ents(example.reference), *(self._source_ents(example.predicted) or [])):
                self.add_entity_label(ent.label_)
        if not self.labels:
            raise ValueError(
                f"{self.name} found no relation labels. Pass labels to initialize "
                "([initialize.components.NAME.labels] in the config) or provide training "
                "examples with relations (set_relations)."
            )
        if not self.entity_labels:
            raise ValueError(
                f"{self.name} found no entities in the training examples. It scores pairs of "
                f"entities from {self._source_name()}: give the reference docs entities, or put an "
                "entity recognizer before it."
            )
        self.model.set_dim("nO", len(self.labels))
        self.model.set_dim("nL", len(self.entity_labels) + 1)
        docs, cands = [], []
        for example in islice(get_examples(), 10):
            docs.append(example.predicted)
            cands.append(self._candidate_rows(self._training_ents(example))[1])
        if not any(len(doc) for doc in docs):
            docs, cands = [Doc(self.vocab, words=["initialize"])], [numpy.zeros((0, 6), dtype="int32")]
        n_cands = sum(len(cand) for cand in cands)
        self.model.initialize(X=(docs, cands), Y=self.model.ops.alloc2f(n_cands, len(self.labels)))

    def candidates(self, doc: Doc, ents: Optional[Sequence[Span]] = None) -> numpy.ndarray:
        """The candidate pairs of a doc, as indices into its entities.

        doc (Doc): The doc.
        ents (Optional[Sequence[Span]]): The entities; those of the doc it reads (doc.ents, or
            doc.spans[spans_key]) if None.
        RETURNS (numpy.ndarray): (n_candidates, 2) int32 (head, tail) entity indices,
            in order of head, then tail.
        """
        ents = self.entities(doc) if ents is None else ents
        sent_ids = None
        if doc.has_annotation("SENT_START"):
            sent_ids = numpy.cumsum(doc.to_array("SENT_START") == 1)
        return candidate_pairs(
            numpy.asarray([ent.start for ent in ents], dtype="int32"),
            numpy.asarray([ent.end for ent in ents], dtype="int32"),
            sent_ids,
            max_distance=self.cfg["max_distance"],
            max_candidates=self.cfg["max_candidates_per_doc"],
        )

    def predict(self, docs: Iterable[Doc]) -> List[Floats2d]:
        """Score every relation label for the candidates of every doc.

        docs (Iterable[Doc]): The docs, with entities.
        RETURNS (List[Floats2d]): Per doc, the probabilities (n_candidates, n_labels), rows
            in the order of `candidates(doc)`.
        """
        docs = list(docs)
        cands = [self._candidate_rows(self.entities(doc))[1] for doc in docs]
        return self._predict(docs, cands)

    def set_annotations(self, docs: Iterable[Doc], scores: List[Floats2d]) -> None:
        """Store the relations whose probability reaches their label's threshold on the
        docs (`set_relations`), replacing any there.

        docs (Iterable[Doc]): The docs.
        scores (List[Floats2d]): The output of predict.
        """
        labels = self.labels
        thresholds = numpy.asarray([self.thresholds[label] for label in labels], dtype="float32")
        for doc, probs in zip(docs, scores):
            ents = self.entities(doc)
            pairs = self.candidates(doc, ents)
            probs = self.model.ops.to_numpy(probs)
            rows, cols = numpy.nonzero(probs >= thresholds)
            set_relations(doc, [
                Relation(ents[pairs[m, 0]], ents[pairs[m, 1]], labels[l], float(probs[m, l]))
                for m, l in zip(rows.tolist(), cols.tolist())
            ])

    def update(
        self,
        examples: Iterable[Example],
        *,
        drop: float = 0.0,
        sgd: Optional[Callable] = None,
        losses: Optional[Dict[str, float]] = None,
    ) -> Dict[str, float]:
        """Learn from a batch of examples.

        examples (Iterable[Example]): The examples.
        drop (float): The dropout rate.
        sgd (Optional[Callable]): The optimizer.
        losses (Optional[Dict[str, float]]): Accumulated losses, updated in place.
        RETURNS (Dict[str, float]): The updated losses.
        """
        if losses is None:
            losses = {}
        losses.setdefault(self.name, 0.0)
        validate_examples(examples, "WindowRel.update")
        examples = list(examples)
        ents = [self._training_ents(eg) for eg in examples]
        if not any(len(doc_ents) > 1 for doc_ents in ents):
            return losses
        set_dropout_rate(self.model, drop)
        # Every doc of the batch goes in, those without a pair too: a listener checks that
        # it gets the batch its tok2vec saw.
        docs = [eg.predicted for eg in examples]
        cands = [self._candidate_rows(doc_ents)[1] for doc_ents in ents]
        scores, backprop = self.model.begin_update((docs, cands))
        loss, d_scores = self.get_loss(examples, scores)
        backprop(d_scores)
        if sgd is not None:
            self.finish_update(sgd)
        losses[self.name] += loss
        return losses

    def get_loss(self, examples: Iterable[Example], scores: Floats2d) -> Tuple[float, Floats2d]:
        """Binary cross-entropy with logits, summed over labels and averaged over the
        candidates of the batch, with the positive term weighted by pos_weight and masked
        where the reference has no relation annotation.

            loss = -(w y log p + (1 - y) log(1 - p)),    p = sigmoid(s)
            d_s = w y (p - 1) + (1 - y) p

        examples (Iterable[Example]): The batch.
        scores (Floats2d): The logits of the candidates of the batch.
        RETURNS (Tuple[float, Floats2d]): The loss and d_scores.
        """
        ops = self.model.ops
        xp = ops.xp
        gold, known = self._gold(list(examples))
        if gold.shape != scores.shape:
            raise ValueError(
                f"{self.name} got scores of shape {scores.shape} for {gold.shape[0]} candidates "
                f"and {gold.shape[1]} labels. Score the candidates of these examples."
            )
        Y = ops.asarray2f(gold, dtype=scores.dtype)
        mask = ops.asarray2f(known[:, None], dtype=scores.dtype)
        w = self.cfg["pos_weight"]
        n = max(float(known.sum()), 1.0)
        # log p = -softplus(-s), log(1 - p) = -softplus(s)
        loss = (w * Y * xp.logaddexp(0.0, -scores) + (1.0 - Y) * xp.logaddexp(0.0, scores)) * mask
        p = 1.0 / (1.0 + xp.exp(-scores))
        d_scores = (w * Y * (p - 1.0) + (1.0 - Y) * p) * mask / n
        loss_value = float(loss.sum()) / n
        if not numpy.isfinite(loss_value):
            raise ValueError(
                f"The loss of {self.name} became {loss_value}. Lower "
                "[training.optimizer.learn_rate] or add gradient clipping."
            )
        return loss_value, d_scores

    def from_bytes(self, bytes_data: bytes, *, exclude: Iterable[str] = tuple()) -> "WindowRel":
        """Load the component from bytes, upgrading the cfg of version 0.1 (see _upgrading_cfg)."""
        with self._upgrading_cfg():
            return super().from_bytes(bytes_data, exclude=exclude)

    def from_disk(self, path: Union[str, Path], *, exclude: Iterable[str] = tuple()) -> "WindowRel":
        """Load the component from disk, upgrading the cfg of version 0.1 (see _upgrading_cfg)."""
        with self._upgrading_cfg():
            return super().from_disk(path, exclude=exclude)

    @contextmanager
    def _upgrading_cfg(self) -> Iterator[None]:
        """Keep what a pipeline saved by version 0.1 predicted. Its cfg has no "spans_key", and
        its cfg["threshold"] was the threshold of the labels without a tuned one, where it now
        is one threshold for all labels: those labels get it as their own, and it is unset."""
        spans_key = self.cfg.pop("spans_key")
        try:
            yield
        finally:
            if "spans_key" not in self.cfg and isinstance(self.cfg.get("threshold"), float):
                tuned = self.cfg["thresholds"]
                self.cfg["thresholds"] = {label: tuned.get(label, self.cfg["threshold"]) for label in self.cfg["labels"]}
                self.cfg["threshold"] = None
            self.cfg.setdefault("spans_key", spans_key)

    def tune_thresholds(self, examples: Iterable[Example], *, shared: bool = False) -> Dict[str, float]:
        """Pick, for every label, the threshold that maximises that label's F1 on the
        candidates of the examples (from the predicted entities, or the reference entities
        where the predicted doc has none), and store it in cfg["thresholds"]. Gold relations
        that no candidate covers count as misses. Labels without a correct prediction keep
        their threshold.

        examples (Iterable[Example]): Dev examples.
        shared (bool): Pick one threshold for all labels instead, the one that maximises
            micro F1, and store it in cfg["threshold"] (what `spacy find-threshold` searches
            on a grid): one parameter instead of one per label, which varies less from one
            small dev set to another. Per-label tuning sets cfg["threshold"] back to None.
        RETURNS (Dict[str, float]): The thresholds of all labels.
        """
        examples = list(examples)
        validate_examples(examples, "WindowRel.tune_thresholds")
        cands = [self._candidate_rows(self._training_ents(eg))[1] for eg in examples]
        probs = self._predict([eg.predicted for eg in examples], cands)
        P = numpy.concatenate([self.model.ops.to_numpy(p) for p in probs] + [numpy.zeros((0, len(self.labels)))])
        gold, known = self._gold(examples)
        n_gold = numpy.zeros(len(self.labels))
        label_ids = {label: i for i, label in enumerate(self.labels)}
        for example in examples:
            for key in relation_tuples(example.reference):
                n_gold[label_ids[key[6]]] += 1
        if shared:
            threshold = best_threshold(P[known].ravel(), gold[known].ravel(), n_gold.sum())
            if threshold is not None:
                self.cfg["threshold"] = threshold
            return self.thresholds
        tuned = dict(self.cfg["thresholds"])
        for l, label in enumerate(self.labels):
            threshold = best_threshold(P[known, l], gold[known, l], n_gold[l])
            if threshold is not None:
                tuned[label] = threshold
        self.cfg["thresholds"] = tuned
        # The tuned thresholds replace one set for all labels.
        self.cfg["threshold"] = None
        return self.thresholds

    def _predict(self, docs: List[Doc], cands: List[numpy.ndarray]) -> List[Floats2d]:
        ops = self.model.ops
        n_labels = len(self.labels)
        used = [i for i, cand in enumerate(cands) if len(cand)]
        output = [ops.alloc2f(len(cand), n_labels) for cand in cands]
        if not used:
            return output
        logits = self.model.predict(([docs[i] for i in used], [cands[i] for i in used]))
        probs = 1.0 / (1.0 + ops.xp.exp(-logits))
        counts = ops.asarray1i([len(cands[i]) for i in used])
        for i, p in zip(used, ops.unflatten(probs, counts)):
            output[i] = p
        return output

    def entities(self, doc: Doc) -> List[Span]:
        """The entities the component relates: doc.ents, or doc.spans[spans_key].

        doc (Doc): The doc.
        RETURNS (List[Span]): The entities.
        """
        ents = self._source_ents(doc)
        if ents is None:
            raise ValueError(
                f"{self.name} reads its entities from doc.spans[{self.cfg['spans_key']!r}], which "
                f"this doc lacks (its span groups: {list(doc.spans)}). Put a component that writes "
                f"that group before it (window_ner with spans_key={self.cfg['spans_key']!r}), or "
                f"set {self.name}'s spans_key to the group that holds the entities (null for doc.ents)."
            )
        return ents

    def _source_ents(self, doc: Doc) -> Optional[List[Span]]:
        """doc.ents or doc.spans[spans_key]; None if the doc has no such span group."""
        key = self.cfg["spans_key"]
        if key is None:
            return list(doc.ents)
        return list(doc.spans[key]) if key in doc.spans else None

    def _reference_ents(self, reference: Doc) -> List[Span]:
        """The gold entities: the reference's doc.spans[spans_key] if it has that group,
        else its doc.ents."""
        ents = self._source_ents(reference)
        return list(reference.ents) if ents is None else ents

    def _source_name(self) -> str:
        key = self.cfg["spans_key"]
        return "doc.ents" if key is None else f"doc.spans[{key!r}]"

    def _training_ents(self, example: Example) -> List[Span]:
        """The predicted entities, or the reference ones aligned to the predicted tokens
        when the predicted doc has none."""
        ents = self._source_ents(example.predicted)
        if ents:
            return ents
        return aligned_ents(example.reference, example.predicted, self._reference_ents(example.reference))

    def _candidate_rows(self, ents: Sequence[Span]) -> Tuple[numpy.ndarray, numpy.ndarray]:
        """The candidate pairs of the entities' doc, and their rows for the model:
        [head_start, head_end, tail_start, tail_end, head_label_id, tail_label_id]."""
        if not ents:
            return numpy.zeros((0, 2), dtype="int32"), numpy.zeros((0, 6), dtype="int32")
        pairs = self.candidates(ents[0].doc, ents)
        ids = {label: i + 1 for i, label in enumerate(self.entity_labels)}
        table = numpy.asarray(
            [(ent.start, ent.end, ids.get(ent.label_, UNKNOWN_ENTITY_LABEL)) for ent in ents],
            dtype="int32",
        )
        head, tail = table[pairs[:, 0]], table[pairs[:, 1]]
        rows = numpy.stack([head[:, 0], head[:, 1], tail[:, 0], tail[:, 1], head[:, 2], tail[:, 2]], axis=1)
        return pairs, numpy.ascontiguousarray(rows, dtype="int32")

    def _gold(self, examples: List[Example]) -> Tuple[numpy.ndarray, numpy.ndarray]:
        """The targets (n_candidates, n_labels) of the candidates of the examples, and
        whether each candidate's reference has relation annotation."""
        label_ids = {label: i for i, label in enumerate(self.labels)}
        golds, knowns = [], []
        for example in examples:
            ents = self._training_ents(example)
            pairs = self.candidates(example.predicted, ents)
            gold = numpy.zeros((len(pairs), len(label_ids)), dtype="float32")
            known = has_relation_annotation(example.reference)
            if known and len(pairs):
                # Strict, like the scorer: a relation between a span of the wrong type is a negative.
                index = {(ent.start_char, ent.end_char, ent.label_): i for i, ent in enumerate(ents)}
                row_of = {(a, b): m for m, (a, b) in enumerate(pairs.tolist())}
                ref = example.reference
                for hs, he, hl, ts, te, tl, label in relation_tuples(ref):
                    if label not in label_ids:
                        raise ValueError(
                            f"{self.name} got a gold relation with the label {label!r}, which it "
                            f"does not know. Known labels: {list(self.labels)}. Add it with "
                            "add_label before initialize, or pass it in initialize(labels=...)."
                        )
                    head = index.get((ref[hs].idx, ref[he - 1].idx + len(ref[he - 1]), hl))
                    tail = index.get((ref[ts].idx, ref[te - 1].idx + len(ref[te - 1]), tl))
                    if (head, tail) in row_of:
                        gold[row_of[head, tail], label_ids[label]] = 1.0
            golds.append(gold)
            knowns.append(numpy.full(len(pairs), known))
        gold = numpy.concatenate([numpy.zeros((0, len(label_ids)), dtype="float32"), *golds])
        return gold, numpy.concatenate([numpy.zeros(0, dtype=bool), *knowns])


def candidate_pairs(
    starts: numpy.ndarray,
    ends: numpy.ndarray,
    sent_ids: Optional[numpy.ndarray],
    *,
    max_distance: int,
    max_candidates: int,
) -> numpy.ndarray:
    """Ordered pairs (a, b), a != b, of spans in one sentence (when sent_ids is given) or
    with at most max_distance tokens between them (when it is None). Above max_candidates,
    the pairs with the smallest gap are kept (the first in order of a, then b among equal
    gaps). The gap of two spans is max(0, later start - earlier end).

    Only pairs that can be kept are built: time and memory grow with the number of spans
    times the spans within reach of one, not with its square. Pairs are enumerated in
    (sentence, start) order, where the partners of a span that start at or after it form
    one slice, bounded by a gap g: the smallest g with at least max_candidates pairs if
    there are more, else max_distance (or the sentence).

    starts (numpy.ndarray): The start token of every span.
    ends (numpy.ndarray): The end token (exclusive, >= start) of every span.
    sent_ids (Optional[numpy.ndarray]): The sentence id of every token of the doc, or None.
    max_distance (int): The largest gap without sentences.
    max_candidates (int): The most pairs returned.
    RETURNS (numpy.ndarray): (n_pairs, 2) int32 span indices, sorted by a, then b.
    """
    n = len(starts)
    no_pairs = numpy.zeros((0, 2), dtype="int32")
    if n < 2 or (sent_ids is None and max_distance < 0):
        return no_pairs
    starts = numpy.asarray(starts)
    ends = numpy.asarray(ends)
    # Every span's group (its sentence, or one group), as dense ranks.
    groups = numpy.zeros(n, dtype="int64")
    if sent_ids is not None:
        groups = numpy.unique(numpy.asarray(sent_ids)[starts], return_inverse=True)[1].reshape(-1)
    # In (group, start) order, the partners q > p of span p that lie within gap g are the slice
    # p+1 .. hi_p(g)-1, hi_p(g) the first q with key[q] > key of (group p, end p + g).
    order = numpy.lexsort((starts, groups))
    s = starts[order].astype("int64") - int(starts.min())
    e = ends[order].astype("int64") - int(starts.min())
    g_max = max(int(s.max() - e.min()), 0)  # no gap is larger
    g_limit = g_max if sent_ids is not None else min(max_distance, g_max)
    scale = int(e.max()) + g_max + 1  # > every e + g: a key never reaches the next group
    key = groups[order] * scale + s
    positions = numpy.arange(n)

    def partner_ends(g: int) -> numpy.ndarray:
        return numpy.searchsorted(key, key - s + e + g, side="right")

    def n_pairs(g: int) -> int:
        return 2 * int((partner_ends(g) - positions - 1).sum())

    if max_candidates >= 0 and n_pairs(g_limit) > max_candidates:
        # Bisect the smallest g with at least max_candidates pairs: the nearest pairs all
        # have a gap <= g, so the truncation below keeps the same ones.
        low, high = 0, g_limit
        while low < high:
            mid = (low + high) // 2
            if n_pairs(mid) >= max_candidates:
                high = mid
            else:
                low = mid + 1
        g_limit = low
    counts = partner_ends(g_limit) - positions - 1
    first = numpy.repeat(positions, counts)
    offsets = numpy.arange(len(first)) - numpy.repeat(numpy.cumsum(counts) - counts, counts)
    p, q = order[first], order[first + 1 + offsets]
    a, b = numpy.concatenate([p, q]), numpy.concatenate([q, p])
    if not len(a):
        return no_pairs
    by_a_b = numpy.lexsort((b, a))
    a, b = a[by_a_b], b[by_a_b]
    gap = numpy.maximum(numpy.maximum(starts[a], starts[b]) - numpy.minimum(ends[a], ends[b]), 0)
    if len(a) > max_candidates:
        nearest = numpy.sort(numpy.argsort(gap, kind="stable")[:max_candidates])
        a, b = a[nearest], b[nearest]
    return numpy.stack([a, b], axis=1).astype("int32")


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

"""The `window_rel` component: relation extraction between the entities of a doc. Its
candidate generator (by default every ordered pair of entities in the same sentence, or within
max_distance tokens; see candidates.py) proposes the pairs once per batch; the pair scorer
gives each candidate an independent sigmoid score per relation label, and a relation is
predicted where the score reaches that label's threshold. The thresholds are tuned on dev
data (see the tuning package) and kept in cfg.

Typed labels (`typed_labels`, on by default): initialize learns which (relation label, head
entity label, tail entity label) triples the training relations hold (cfg["licensed_triples"]),
and a label gets probability 0 for a candidate whose entity labels it was never seen with, so a
`Live_In` between an organisation and a place is never predicted, however high its score. A
training relation with an unlabelled head or tail (label "") licenses its label for any label
there. A cfg saved before the triples (no "licensed_triples") keeps every label for every pair,
as it did."""
from contextlib import contextmanager
from itertools import islice
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

import numpy
from spacy.language import Language
from spacy.pipeline import TrainablePipe
from spacy.tokens import Doc, Span
from spacy.training import Example, validate_examples
from spacy.vocab import Vocab
from thinc.api import Config, Model, set_dropout_rate
from thinc.types import Floats2d, Ints2d

from .alignment import aligned_ents
from .candidates import (
    CandidateGenerator, Candidates, Licence, ScoredCandidates, make_candidates, make_rel_candidates_v2,
)
from .corpus import validate_initialize_examples
from .layers.batching import to_host
from .legacy.window_rel import upgrade_candidates, upgrade_cfg
from .relations import Relation, has_relation_annotation, relation_tuples, set_relations
from .scorers import CharRelationKey, char_relation_tuples, score_relations

default_model_config = """
[model]
@architectures = "spacy-window-ner.RelationScorer.v3"
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


@Language.factory(
    "window_rel",
    requires=["doc.ents"],
    assigns=["doc._.swn_relations"],
    default_config={
        "model": DEFAULT_WINDOW_REL_MODEL,
        "threshold": None,
        "spans_key": None,
        "candidates": {"@misc": "spacy-window-ner.rel_candidates.v2", "typed": True},
        "pos_weight": 3.0,
        "typed_labels": True,
        "scorer": {"@scorers": "spacy-window-ner.rel_scorer.v1"},
        # Read only from configs saved before the candidates block; a factory argument, so
        # that every saved config, which names it, loads (see legacy/window_rel.py).
        "max_distance": None,
        "max_candidates_per_doc": None,
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
    candidates: CandidateGenerator,
    pos_weight: float,
    scorer: Optional[Callable],
    typed_labels: bool = True,
    max_distance: Optional[int] = None,
    max_candidates_per_doc: Optional[int] = None,
) -> "WindowRel":
    """Create a window_rel component.

    model (Model[Tuple[List[Doc], List[Ints2d]], Floats2d]): Scores every relation label
        for candidate pairs of entities.
    threshold (Optional[float]): One threshold for all labels, in [0, 1]; None for each
        label's tuned threshold (cfg["thresholds"], 0.5 for a label without one).
        `spacy find-threshold PIPELINE DEV window_rel threshold rel_micro_f` searches it.
    spans_key (Optional[str]): Relate the spans in doc.spans[spans_key] (say, those of a
        window_ner with the same spans_key) instead of doc.ents.
    candidates (CandidateGenerator): Proposes the candidate pairs of a batch
        (`spacy-window-ner.rel_candidates.v2` with typed=True by default: only the
        (head label, tail label) pairs of the training relations).
    pos_weight (float): Weight of the positive term of the binary cross-entropy. Values
        above 1 make missing a relation cost more than a false alarm, against the
        imbalance of mostly-negative candidates.
    scorer (Optional[Callable]): The scoring method.
    typed_labels (bool): Predict a relation label only between entities whose (head label,
        tail label) some training relation with that label joins (the triples initialize
        learns into cfg["licensed_triples"]); any other gets probability 0. False scores
        every label for every candidate.
    max_distance (Optional[int]): Only read from configs saved before the candidates block
        (it is an option of the candidates now): when set, the candidates are
        rel_candidates.v1 with it (see legacy/window_rel.py). Leave it null.
    max_candidates_per_doc (Optional[int]): The same, for max_candidates_per_doc.
    """
    candidates = upgrade_candidates(
        candidates, name, max_distance=max_distance, max_candidates_per_doc=max_candidates_per_doc
    )
    return WindowRel(
        nlp.vocab, model, name, threshold=threshold, spans_key=spans_key, candidates=candidates,
        pos_weight=pos_weight, scorer=scorer, typed_labels=typed_labels,
    )


class WindowRel(TrainablePipe):
    """Relation extraction between the entities in doc.ents (or doc.spans[spans_key]); the
    relations are stored with their scores (read them with `get_relations(doc)`).

    Candidates are ordered pairs (head, tail) of distinct entities, proposed by the
    candidate generator once per batch: `predict` returns them with their scores, and
    `set_annotations` reads them from there, as `get_loss` reads those that `update` made.
    In training, a doc without predicted entities uses the reference entities (aligned by
    character offsets); a candidate is positive for a label iff the reference has a relation
    with that label between the same character spans. Docs whose reference holds no relation
    annotation at all are treated as missing, not as negative.
    """

    def __init__(
        self,
        vocab: Vocab,
        model: Model[Tuple[List[Doc], List[Ints2d]], Floats2d],
        name: str = "window_rel",
        *,
        threshold: Optional[float] = None,
        spans_key: Optional[str] = None,
        candidates: Optional[CandidateGenerator] = None,
        pos_weight: float = 3.0,
        scorer: Optional[Callable] = score_relations,
        typed_labels: bool = True,
    ) -> None:
        """Create a window_rel component (see make_window_rel).

        candidates (Optional[CandidateGenerator]): The candidate generator;
            `spacy-window-ner.rel_candidates.v2` with its defaults if None.
        typed_labels (bool): Give a label probability 0 between entity labels that no
            training relation with it joins (see make_window_rel).
        """
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
        if not pos_weight > 0.0:
            raise ValueError(f"pos_weight must be > 0, not {pos_weight!r}.")
        if not isinstance(typed_labels, bool):
            raise ValueError(
                f"typed_labels must be true (predict a label only between the entity labels its "
                f"training relations join) or false (every label for every pair), not {typed_labels!r}."
            )
        # A setting of the config, not of cfg: a saved pipeline takes the value its config gives
        # (spacy.load(path, config=...) switches it, and saves the switch with the pipeline);
        # setting the attribute switches this component until it is loaded again.
        self.typed_labels = typed_labels
        self.vocab = vocab
        self.model = model
        self.name = name
        self.scorer = scorer
        self.candidates = make_rel_candidates_v2() if candidates is None else candidates
        self._licence_cache: Optional[Licence] = None
        self.cfg: Dict[str, Any] = {
            "labels": [],
            "entity_labels": [],
            "threshold": None if threshold is None else float(threshold),
            "thresholds": {},
            "spans_key": spans_key,
            "pos_weight": pos_weight,
            # The (head label, tail label) pairs of the training relations, for typed candidates.
            "licensed_pairs": None,
            # The [relation label, head label, tail label] triples of the training relations,
            # for typed labels; None (as in a cfg saved before them): every label for every pair.
            "licensed_triples": None,
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
        validate_initialize_examples(get_examples, self.name)
        if isinstance(labels, dict):
            for label in labels.get("entities", []):
                self.add_entity_label(label)
            labels = labels.get("relations")
        if labels is not None:
            for label in labels:
                self.add_label(label)
        triples = set()
        for example in get_examples():
            # relation_tuples is a set: sorted, so that the labels' order (the output columns)
            # is that of their first relation in the docs, not Python's hash seed's.
            for _, _, head_label, _, _, tail_label, label in sorted(relation_tuples(example.reference)):
                triples.add((label, head_label, tail_label))
                if labels is None:
                    self.add_label(label)
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
        self.license_relations(triples)
        self.model.set_dim("nO", len(self.labels))
        self.model.set_dim("nL", len(self.entity_labels) + 1)
        examples = list(islice(get_examples(), 10))
        docs = [example.predicted for example in examples]
        rows = self.training_candidates(examples).rows
        if not any(len(doc) for doc in docs):
            docs = [Doc(self.vocab, words=["initialize"])]
            rows = self.make_candidates(docs, [[]]).rows
        n_cands = sum(len(doc_rows) for doc_rows in rows)
        self.model.initialize(X=(docs, rows), Y=self.model.ops.alloc2f(n_cands, len(self.labels)))

    def license_pairs(self, label_pairs: Iterable[Tuple[str, str]]) -> None:
        """Keep the (head label, tail label) pairs that relations may join in
        cfg["licensed_pairs"], and give them to a candidate generator that uses them (one
        with a `license` method: rel_candidates.v2, or .v1, with typed=True). initialize
        learns them from the training relations; call this to turn typed candidates on for a
        pipeline initialized before.

        label_pairs (Iterable[Tuple[str, str]]): The entity label pairs.
        """
        self.cfg["licensed_pairs"] = sorted([str(head), str(tail)] for head, tail in label_pairs)
        license = getattr(self.candidates, "license", None)
        if license is not None:
            license(self.cfg["licensed_pairs"])

    def license_relations(self, triples: Iterable[Tuple[str, str, str]]) -> None:
        """Keep the (relation label, head label, tail label) triples that relations may have
        in cfg["licensed_triples"] (typed labels), and their (head label, tail label) pairs
        for the candidates (license_pairs). initialize learns them from the training
        relations; call this to turn typed labels on for a pipeline initialized before them.
        An empty head or tail label stands for any label.

        triples (Iterable[Tuple[str, str, str]]): The (relation, head, tail) label triples.
        """
        triples = sorted({(str(label), str(head), str(tail)) for label, head, tail in triples})
        self.cfg["licensed_triples"] = [list(triple) for triple in triples]
        self.license_pairs({(head, tail) for _, head, tail in triples})

    def licensed_masks(self, candidates: Candidates) -> List[Optional[numpy.ndarray]]:
        """Which labels typed labels allow for each candidate pair of every doc of a batch:
        those that some licensed triple has with the pair's (head label, tail label), an empty
        label in the triple matching any. None for every doc where every label is allowed:
        typed_labels is off, or the cfg holds no triples (a pipeline saved before them, or not
        initialized).

        candidates (Candidates): The batch's candidates.
        RETURNS (List[Optional[numpy.ndarray]]): Per doc, (n_pairs, n_labels) bool; or None
            for every doc.
        """
        licence = self._licence()
        if licence is None:
            return [None] * len(candidates.ents)
        return [
            licence.mask([ent.label_ for ent in ents], pairs)
            for ents, pairs in zip(candidates.ents, candidates.pairs)
        ]

    def _licence(self) -> Optional[Licence]:
        """The licence of the current cfg, built once per change of the triples, the labels or
        typed_labels; None where every label is allowed (see licensed_masks)."""
        triples = self.cfg.get("licensed_triples")
        if not self.typed_labels or triples is None:
            return None
        key = (tuple(map(tuple, triples)), self.labels)
        if self._licence_cache is None or self._licence_cache.key != key:
            self._licence_cache = Licence(*key)
        return self._licence_cache

    def make_candidates(self, docs: Sequence[Doc], ents: Optional[Sequence[Sequence[Span]]] = None) -> Candidates:
        """The candidates of a batch: one call of the candidate generator.

        docs (Sequence[Doc]): The docs.
        ents (Optional[Sequence[Sequence[Span]]]): The entities of each doc; those it reads
            (doc.ents, or doc.spans[spans_key]) if None.
        RETURNS (Candidates): The entities, pairs and model rows of every doc.
        """
        docs = list(docs)
        if ents is None:
            ents = [self.entities(doc) for doc in docs]
        ids = {label: i + 1 for i, label in enumerate(self.entity_labels)}
        return make_candidates(self.candidates, docs, ents, ids, UNKNOWN_ENTITY_LABEL)

    def training_candidates(self, examples: Sequence[Example]) -> Candidates:
        """The candidates of a batch of examples, from the predicted entities, or the
        reference ones where the predicted doc has none (see _training_ents).

        examples (Sequence[Example]): The examples.
        RETURNS (Candidates): The candidates, per example.
        """
        return self.make_candidates(
            [eg.predicted for eg in examples], [self._training_ents(eg) for eg in examples]
        )

    def predict(self, docs: Iterable[Doc]) -> ScoredCandidates:
        """Propose the candidates of the docs and score every relation label for them.

        docs (Iterable[Doc]): The docs, with entities.
        RETURNS (ScoredCandidates): The candidates, and per doc the probabilities
            (n_candidates, n_labels), rows in the order of the doc's candidate pairs.
        """
        docs = list(docs)
        return self.score_candidates(docs, self.make_candidates(docs))

    def score_candidates(self, docs: Sequence[Doc], candidates: Candidates) -> ScoredCandidates:
        """Score every relation label for given candidates of the docs. With typed labels, a
        label that no training relation has between the pair's entity labels gets
        probability 0 (licensed_masks).

        docs (Sequence[Doc]): The docs.
        candidates (Candidates): Their candidates.
        RETURNS (ScoredCandidates): The candidates, with the probabilities of each doc.
        """
        ops = self.model.ops
        rows = candidates.rows
        used = [i for i, doc_rows in enumerate(rows) if len(doc_rows)]
        probs = [ops.alloc2f(len(doc_rows), len(self.labels)) for doc_rows in rows]
        allowed = self.licensed_masks(candidates)
        if used:
            logits = self.model.predict(([docs[i] for i in used], [rows[i] for i in used]))
            flat = 1.0 / (1.0 + ops.xp.exp(-logits))
            if allowed[used[0]] is not None:  # licensed_masks gives a mask for every doc, or none
                mask = numpy.concatenate([allowed[i] for i in used])
                flat = flat * ops.asarray2f(mask, dtype=flat.dtype)  # type: ignore[arg-type]
            counts = ops.asarray1i([len(rows[i]) for i in used])
            for i, p in zip(used, ops.unflatten(flat, counts)):
                probs[i] = p
        return ScoredCandidates(candidates, probs, allowed)

    def set_annotations(self, docs: Iterable[Doc], scores: ScoredCandidates) -> None:
        """Store the relations whose probability reaches their label's threshold on the
        docs (`set_relations`), replacing any there. With typed labels, a label is never
        predicted between entity labels it is not licensed for, even at threshold 0.

        docs (Iterable[Doc]): The docs.
        scores (ScoredCandidates): The output of predict.
        """
        labels = self.labels
        thresholds = numpy.asarray([self.thresholds[label] for label in labels], dtype="float32")
        candidates = scores.candidates
        masks = self.licensed_masks(candidates) if scores.allowed is None else scores.allowed
        # The batch's probabilities come to the host in one copy.
        host = to_host(self.model.ops, scores.scores)
        for doc, ents, pairs, probs, allowed in zip(docs, candidates.ents, candidates.pairs, host, masks):
            predicted = probs >= thresholds
            if allowed is not None:
                predicted &= allowed
            rows, cols = numpy.nonzero(predicted)
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
        examples = list(examples)  # validate_examples iterates: a generator would be used up
        validate_examples(examples, "WindowRel.update")
        candidates = self.training_candidates(examples)
        if not any(len(doc_ents) > 1 for doc_ents in candidates.ents):
            return losses
        set_dropout_rate(self.model, drop)
        # Every doc of the batch goes in, those without a pair too: a listener checks that
        # it gets the batch its tok2vec saw.
        docs = [eg.predicted for eg in examples]
        scores, backprop = self.model.begin_update((docs, candidates.rows))
        loss, d_scores = self.get_loss(examples, (candidates, scores))
        backprop(d_scores)
        if sgd is not None:
            self.finish_update(sgd)
        losses[self.name] += loss
        return losses

    def get_loss(self, examples: Iterable[Example], candidates_scores: Tuple[Candidates, Floats2d]) -> Tuple[float, Floats2d]:
        """Binary cross-entropy with logits, summed over labels and averaged over the
        candidates of the batch, with the positive term weighted by pos_weight and masked
        where the reference has no relation annotation.

            loss = -(w y log p + (1 - y) log(1 - p)),    p = sigmoid(s)
            d_s = w y (p - 1) + (1 - y) p

        examples (Iterable[Example]): The batch.
        candidates_scores (Tuple[Candidates, Floats2d]): The candidates of the batch (from
            training_candidates) and their logits.
        RETURNS (Tuple[float, Floats2d]): The loss and d_scores.
        """
        ops = self.model.ops
        xp = ops.xp
        candidates, scores = candidates_scores
        gold, known = self.get_targets(list(examples), candidates)
        if gold.shape != scores.shape:
            raise ValueError(
                f"{self.name} got scores of shape {scores.shape} for {gold.shape[0]} candidates "
                f"and {gold.shape[1]} labels. Score the candidates of these examples."
            )
        # thinc types asarray2f's input as its own Floats2d; it copies any numpy array, as here.
        Y = ops.asarray2f(gold, dtype=scores.dtype)  # type: ignore[arg-type]
        mask = ops.asarray2f(known[:, None], dtype=scores.dtype)  # type: ignore[arg-type]
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
        """Load the component from bytes; a cfg that an earlier version saved is upgraded
        (see _reading_cfg)."""
        with self._reading_cfg():
            return super().from_bytes(bytes_data, exclude=exclude)

    def from_disk(self, path: Union[str, Path], *, exclude: Iterable[str] = tuple()) -> "WindowRel":
        """Load the component from disk; a cfg that an earlier version saved is upgraded
        (see _reading_cfg)."""
        with self._reading_cfg():
            return super().from_disk(path, exclude=exclude)

    @contextmanager
    def _reading_cfg(self) -> Iterator[None]:
        """Read the saved cfg into an empty dict, then set cfg to the current one updated with
        it as this version reads it (legacy/window_rel.py upgrades what 0.1 and the versions
        before the candidates block saved), and give the candidate generator what it holds."""
        defaults, self.cfg = self.cfg, {}
        try:
            yield
        finally:
            cfg, options = upgrade_cfg(self.cfg)
            self.cfg = {**defaults, **cfg}
            self.candidates = upgrade_candidates(self.candidates, self.name, **options)
            if self.cfg["licensed_pairs"] is not None:
                self.license_pairs(self.cfg["licensed_pairs"])

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

    def gold_relations(self, reference: Doc) -> List[CharRelationKey]:
        """The relations of a reference doc as the scorer keys them (char_relation_tuples:
        character offsets and both entity labels), after checking that the component knows
        their labels.

        reference (Doc): The reference doc.
        RETURNS (List[CharRelationKey]): Its relations, sorted.
        """
        relations = sorted(char_relation_tuples(reference))
        unknown = sorted({label for *_, label in relations} - set(self.labels))
        if unknown:
            raise ValueError(
                f"{self.name} got gold relations with the labels {unknown}, which it does not "
                f"know. Known labels: {list(self.labels)}. Add them with add_label before "
                "initialize, or pass them in initialize(labels=...)."
            )
        return relations

    def get_targets(self, examples: Sequence[Example], candidates: Candidates) -> Tuple[numpy.ndarray, numpy.ndarray]:
        """The targets of the candidates of the examples, and whether each candidate's
        reference has relation annotation.

        examples (Sequence[Example]): The examples.
        candidates (Candidates): Their candidates (see training_candidates).
        RETURNS (Tuple[numpy.ndarray, numpy.ndarray]): (n_candidates, n_labels) float32
            targets and (n_candidates,) bool, for the candidates of all examples in order.
        """
        label_ids = {label: i for i, label in enumerate(self.labels)}
        golds, knowns = [], []
        for example, ents, pairs in zip(examples, candidates.ents, candidates.pairs):
            gold = numpy.zeros((len(pairs), len(label_ids)), dtype="float32")
            known = has_relation_annotation(example.reference)
            if known:
                relations = self.gold_relations(example.reference)
                # Strict, like the scorer: a relation between a span of the wrong type is a negative.
                index = {(ent.start_char, ent.end_char, ent.label_): i for i, ent in enumerate(ents)}
                row_of = {(a, b): m for m, (a, b) in enumerate(pairs.tolist())}
                for hs, he, hl, ts, te, tl, label in relations:
                    head, tail = index.get((hs, he, hl)), index.get((ts, te, tl))
                    if (head, tail) in row_of:
                        gold[row_of[head, tail], label_ids[label]] = 1.0
            golds.append(gold)
            knowns.append(numpy.full(len(pairs), known))
        gold = numpy.concatenate([numpy.zeros((0, len(label_ids)), dtype="float32"), *golds])
        return gold, numpy.concatenate([numpy.zeros(0, dtype=bool), *knowns])

"""The `window_ner` component: BILUO tagging with the window scorer, trained with a
softmax, CRF or hinge loss, decoded with Viterbi so that spans are always valid,
with a confidence for every predicted entity."""
import json
import math
import numbers
import warnings
from itertools import islice
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple, Union, cast

import numpy
from spacy.attrs import ENT_IOB, ENT_TYPE, intify_attr
from spacy.language import Language
from spacy.pipeline import TrainablePipe, Tok2Vec
from spacy.tokens import Doc, Span, SpanGroup
from spacy.training import Example, validate_examples
from spacy.vocab import Vocab
from thinc.api import Config, Model, NumpyOps, Ops, set_dropout_rate
from thinc.types import Floats1d, Floats2d, Ints1d, Ints2d

from .confidences import DeferredBatch, defer_confidences, entity_setters, set_confidences
from .corpus import validate_initialize_examples
from .decoding import span_probabilities, spans_from_paths, viterbi
from .layers.batching import length_groups, pad, to_host
from .layers.crf import potentials
from .models import resize_output
from .scorers import score_ents
from .tags import PREFIXES, biluo_tags, entity_starts

default_model_config = """
[model]
@architectures = "spacy-window-ner.WindowNER.v3"
window_size = 2
hidden_width = 128
activation = "tanh"
nO = null

[model.tok2vec]
@architectures = "spacy.MultiHashEmbed.v2"
width = 96
attrs = ["NORM", "PREFIX", "SUFFIX", "SHAPE"]
rows = [5000, 1000, 2500, 2500]
include_static_vectors = false
"""
DEFAULT_WINDOW_NER_MODEL = Config().from_str(default_model_config)["model"]
LOSSES = ("crf", "softmax", "hinge")
# The confidences setting: computed in set_annotations, computed when first read, or never.
CONFIDENCES = (True, "lazy", False)
# A label added to a trained component starts as a copy of "O" with this lower score,
# so the trained predictions stay as they are until training teaches the label.
NEW_LABEL_OFFSET = -2.0


@Language.factory(
    "window_ner",
    assigns=["doc.ents", "token.ent_iob", "token.ent_type", "doc.spans"],
    default_config={
        "model": DEFAULT_WINDOW_NER_MODEL,
        "loss": "crf",
        "spans_key": None,
        "overwrite_ents": False,
        "recall_bias": 0.0,
        "confidences": True,
        "scorer": {"@scorers": "spacy-window-ner.ner_scorer.v1"},
    },
    default_score_weights={"ents_f": 1.0, "ents_p": 0.0, "ents_r": 0.0, "ents_per_type": None},
)
def make_window_ner(
    nlp: Language,
    name: str,
    model: Model[List[Doc], List[Floats2d]],
    loss: str,
    spans_key: Optional[str],
    overwrite_ents: bool,
    recall_bias: float,
    confidences: Union[bool, str],
    scorer: Optional[Callable],
) -> "WindowNER":
    """Create a window_ner component.

    model (Model[List[Doc], List[Floats2d]]): Scores every BILUO tag for every token.
    loss (str): "crf" (sentence-level log-likelihood), "softmax" (token-level
        cross-entropy) or "hinge" (multiclass max-margin).
    spans_key (Optional[str]): Write the entities to doc.spans[spans_key] instead
        of doc.ents, e.g. to run beside another NER component; the scorer then
        reports spans_{spans_key}_p/r/f and spans_{spans_key}_per_type.
    overwrite_ents (bool): Replace entities already in doc.ents. By default they
        are kept, blocked tokens stay blocked, and the predictions fill the gaps.
    recall_bias (float): Added to the scores of the tags that open an entity (B-
        and U- of every label) at every token before decoding, so once per entity:
        above 0 more entities are predicted (recall up, precision down), below 0
        fewer. `spacy-window-ner tune-ner-bias` picks it on dev data.
    confidences (Union[bool, str]): True computes the confidence (span marginal)
        of every predicted entity in set_annotations and stores it (get_confidences,
        the span group's attrs["scores"]). "lazy" stores what computing them takes
        (the doc's tag scores) and computes them on the first get_confidences(doc):
        nothing for docs whose confidences nobody reads. False skips them: the
        entities are the same, without confidences.
    scorer (Optional[Callable]): The scoring method.
    """
    return WindowNER(
        nlp.vocab, model, name, loss=loss, spans_key=spans_key,
        overwrite_ents=overwrite_ents, recall_bias=recall_bias, confidences=confidences, scorer=scorer,
    )


class WindowNER(TrainablePipe):
    """Named entity recognition as window classification over BILUO tags.

    All predicted entities, also those that a preset entity kept out of
    doc.ents, are written with their confidences to the span group
    doc.spans[scores_key], where scores_key is spans_key or the component's
    name: the confidence of each span is in group.attrs["scores"]. The same
    confidences are stored by character offsets, so that they survive
    retokenization, Doc.from_docs, span.as_doc and to_json: read them with
    spacy_window_ner.confidences.get_confidences(doc).

    recall_bias (in cfg, settable on a trained component) trades precision for
    recall at decoding time: the model and its training are unchanged. confidences
    (in cfg, settable too): "lazy" computes them on the doc's first
    get_confidences(doc), which also fills attrs["scores"] (see confidences.py);
    false switches them off: the span group then has no attrs["scores"] and
    get_confidences finds none of its entities.
    """

    def __init__(
        self,
        vocab: Vocab,
        model: Model[List[Doc], List[Floats2d]],
        name: str = "window_ner",
        *,
        loss: str = "crf",
        spans_key: Optional[str] = None,
        overwrite_ents: bool = False,
        recall_bias: float = 0.0,
        confidences: Union[bool, str] = True,
        scorer: Optional[Callable] = score_ents,
    ) -> None:
        if loss not in LOSSES:
            raise ValueError(f"Unknown loss {loss!r} for {name}. Choose one of: {', '.join(LOSSES)}.")
        if spans_key is not None and not (isinstance(spans_key, str) and spans_key):
            raise ValueError(f"spans_key must be a non-empty string or None, not {spans_key!r}.")
        self.vocab = vocab
        self.model = model
        self.name = name
        self.scorer = scorer
        self.cfg: Dict[str, Any] = {
            "labels": [],
            "loss": loss,
            "spans_key": spans_key,
            "overwrite_ents": overwrite_ents,
            "recall_bias": check_recall_bias(recall_bias, name),
            "confidences": check_confidences(confidences, name),
        }

    @property
    def labels(self) -> Tuple[str, ...]:
        return tuple(self.cfg["labels"])

    @property
    def tags(self) -> List[str]:
        return biluo_tags(self.labels)

    @property
    def scores_key(self) -> str:
        """The span group with the predicted entities and their confidences."""
        return self.cfg["spans_key"] or self.name

    @property
    def recall_bias(self) -> float:
        """The score added to the B- and U- tags at every token before decoding (cfg["recall_bias"])."""
        return check_recall_bias(self.cfg.get("recall_bias", 0.0), self.name)

    @recall_bias.setter
    def recall_bias(self, value: float) -> None:
        self.cfg["recall_bias"] = check_recall_bias(value, self.name)

    @property
    def confidences(self) -> Union[bool, str]:
        """When the entities' confidences are computed (cfg["confidences"]): True in set_annotations,
        "lazy" on the doc's first get_confidences, False never."""
        # Pipelines saved before the setting existed have no such key: they computed them.
        return check_confidences(self.cfg.get("confidences", True), self.name)

    @confidences.setter
    def confidences(self, value: Union[bool, str]) -> None:
        self.cfg["confidences"] = check_confidences(value, self.name)

    @property
    def label_data(self) -> List[str]:
        return list(self.labels)

    def add_label(self, label: str) -> int:
        """Add an entity label. On an initialized (or trained) component the output
        grows by the label's four tags: the weights of the old tags are kept, and the
        new tags start as copies of "O" scored NEW_LABEL_OFFSET lower, so the
        predictions stay the same until the label is trained.

        label (str): The label: any non-empty string.
        RETURNS (int): 0 if the label was already present, otherwise 1.
        """
        if not isinstance(label, str) or not label:
            raise ValueError(f"Entity labels must be non-empty strings, not {label!r}.")
        if label in self.labels:
            return 0
        self.cfg["labels"].append(label)
        self.vocab.strings.add(label)
        if self.model.has_dim("nO"):
            n_old = self.model.get_dim("nO")
            n_new = len(PREFIXES)
            source = numpy.concatenate([numpy.arange(n_old), numpy.zeros(n_new, dtype=int)])
            bias = numpy.concatenate([numpy.zeros(n_old), numpy.full(n_new, NEW_LABEL_OFFSET)])
            # numpy arrays: the Ints1d and Floats1d that thinc's types describe
            resize_output(self.model, cast(Ints1d, source), cast(Floats1d, bias.astype("float32")))
        return 1

    def initialize(
        self,
        get_examples: Callable[[], Iterable[Example]],
        *,
        nlp: Optional[Language] = None,
        labels: Optional[List[str]] = None,
    ) -> None:
        """Initialize the labels and the model from a few examples.

        get_examples (Callable[[], Iterable[Example]]): The training examples.
        nlp (Optional[Language]): The pipeline.
        labels (Optional[List[str]]): The labels, as `spacy init labels` writes
            them. Read from the data if None.
        """
        validate_initialize_examples(get_examples, self.name)
        if nlp is not None:
            check_static_vectors(nlp, self.name)
            check_entity_features(
                nlp, self.name, self.model, replaces=self.cfg["overwrite_ents"] or self.cfg["spans_key"] is not None
            )
        if labels is not None:
            for label in labels:
                self.add_label(label)
        else:
            for example in get_examples():
                for ent in example.reference.ents:
                    self.add_label(ent.label_)
        # Without labels (as spaCy's ner) the only tag is "O": nothing is predicted
        # until labels are added.
        self.model.set_dim("nO", len(self.tags))
        sample = [eg.predicted for eg in islice(get_examples(), 10)]
        if not any(len(doc) for doc in sample):
            sample = [Doc(self.vocab, words=["initialize"])]
        self.model.initialize(X=sample)

    def predict(self, docs: Iterable[Doc]) -> List[Floats2d]:
        """Score every BILUO tag for every token.

        docs (Iterable[Doc]): The docs.
        RETURNS (List[Floats2d]): Scores (len(doc), n_tags) per doc.
        """
        docs = list(docs)
        if not any(len(doc) for doc in docs):
            n_tags = self.model.get_dim("nO")
            return [self.model.ops.alloc2f(len(doc), n_tags) for doc in docs]
        return self.model.predict(docs)

    def decode(
        self, scores: List[Floats2d], *, confidences: Optional[bool] = None
    ) -> List[Tuple[numpy.ndarray, numpy.ndarray, numpy.ndarray, numpy.ndarray]]:
        """Find the best valid BILUO path of each doc and the confidence of each span.
        The recall bias is added to the scores of the B- and U- tags first (to their
        log-probabilities with the token-level losses), so the confidences are those
        of the biased model that chose the spans.

        scores (List[Floats2d]): The output of predict.
        confidences (Optional[bool]): Compute the confidences; if None, as the
            component's confidences setting says (True only: "lazy" computes none here).
        RETURNS (List[Tuple[ndarray, ndarray, ndarray, ndarray]]): Per doc, the
            starts, ends, label ids and confidences of the entities (NaN where
            they were not computed).
        """
        if confidences is None:
            confidences = self.confidences is True
        return self._decode(scores, confidences)[0]

    def _decode(self, scores: List[Floats2d], confidences: bool) -> Tuple[List, List[Floats2d], Floats2d]:
        """decode, and also each doc's decoded emission scores and the potentials stacked as
        (T; start; end), for the confidences that set_annotations defers."""
        # Decoding steps through the positions one by one: on a GPU that would be a few tiny
        # kernels per position, so the batch's scores come to the host in one copy instead.
        ops = NumpyOps()
        crf = self.model.get_ref("crf")
        learned = self.cfg["loss"] == "crf"
        T, start, end = (self.model.ops.to_numpy(a) for a in potentials(crf, learned=learned))
        scores = to_host(self.model.ops, scores)
        n_tags = len(self.tags)
        # A valid path has one B or U tag per entity, so adding b to those tags adds b per
        # entity to a path's score: more entities win, not longer ones (b on every entity
        # token, i.e. -b on "O", lengthens the spans the CRF finds instead of adding spans).
        start_bias = numpy.where(entity_starts(self.labels), self.recall_bias, 0.0).astype("float32")
        output: List = [None] * len(scores)
        decoded: List = [None] * len(scores)
        for group in length_groups([len(s) for s in scores]):
            # Token-level losses decode log-probabilities, with the constraints only.
            emissions = [(scores[i] if learned else _log_softmax(ops, scores[i])) + start_bias for i in group]
            for i, emitted in zip(group, emissions):
                decoded[i] = emitted
            E = pad(ops, emissions, n_tags)
            lengths = ops.asarray1i([len(s) for s in emissions])
            paths = viterbi(ops, E, lengths, T, start, end, biluo=crf.attrs["biluo"])
            docs, starts, ends, label_ids = spans_from_paths(ops.to_numpy(paths))
            if confidences:
                probs = ops.to_numpy(
                    span_probabilities(ops, E, lengths, T, start, end, paths, (docs, starts, ends))
                )
            else:
                probs = numpy.full(len(docs), numpy.nan, dtype=E.dtype)
            bounds = numpy.searchsorted(docs, numpy.arange(len(group) + 1))
            for j, i in enumerate(group):
                doc_spans = slice(bounds[j], bounds[j + 1])
                output[i] = (starts[doc_spans], ends[doc_spans], label_ids[doc_spans], probs[doc_spans])
        potentials_stacked = numpy.concatenate([T, start[None], end[None]]).astype("float32")
        return output, decoded, cast(Floats2d, potentials_stacked)

    def set_annotations(self, docs: Iterable[Doc], scores: List[Floats2d]) -> None:
        """Write the decoded entities to doc.ents (or doc.spans[spans_key]) and, with
        confidences = true, their confidences to doc.spans[scores_key].attrs["scores"]
        and, by character offsets, to the span extension data that get_confidences
        reads (see confidences.py); with "lazy", what computing them takes, for the
        first get_confidences(doc).

        docs (Iterable[Doc]): The docs.
        scores (List[Floats2d]): The output of predict.
        """
        # Labels as their string-store ids, and the offsets as Python ints, converted once
        # per doc: the per-span work is then only making the Span.
        names = self.labels
        labels = [self.vocab.strings.add(label) for label in names]
        confidences = self.confidences
        output, emissions, potentials = self._decode(scores, confidences is True)
        batch = DeferredBatch(self.name, potentials)
        for doc, (starts, ends, label_ids, probs), emitted in zip(docs, output, emissions):
            label_list = label_ids.tolist()
            spans = [Span(doc, s, e, label=labels[l]) for s, e, l in zip(starts.tolist(), ends.tolist(), label_list)]
            if self.cfg["spans_key"] is None:
                self._write_ents(doc, spans, starts, ends)
            if confidences is False:
                doc.spans[self.scores_key] = SpanGroup(doc, name=self.scores_key, spans=spans)
                continue
            if confidences == "lazy" and spans:
                doc.spans[self.scores_key] = SpanGroup(doc, name=self.scores_key, spans=spans)
                defer_confidences(
                    doc, self.name, spans, label_list, emitted, potentials,
                    labels=[names[l] for l in label_list], group=self.scores_key, batch=batch,
                )
                continue
            scores_list = probs.tolist()
            doc.spans[self.scores_key] = SpanGroup(
                doc, name=self.scores_key, spans=spans, attrs={"scores": scores_list}
            )
            set_confidences(doc, spans, scores_list)

    def _write_ents(self, doc: Doc, spans: List[Span], starts: numpy.ndarray, ends: numpy.ndarray) -> None:
        """Set doc.ents: replace what is there with overwrite_ents. Else, as spaCy's
        ner, keep the entities already set and the blocked tokens (doc.set_ents(...,
        blocked=...)) as they are, add the predictions that touch neither, and set
        the tokens without annotation to "O"."""
        if self.cfg["overwrite_ents"] or not doc.has_annotation("ENT_IOB"):
            doc.set_ents(spans, default="outside")
            return
        iob = doc.to_array(ENT_IOB)
        preset = (iob == 1) | (iob == 3)  # inside a preset entity, or blocked
        n_preset = numpy.concatenate([[0], numpy.cumsum(preset)])
        free = n_preset[ends] == n_preset[starts]
        doc.set_ents([span for span, ok in zip(spans, free) if ok], default="unmodified")
        # The runs of tokens still without annotation become "O".
        missing = numpy.diff(numpy.concatenate([[0], doc.to_array(ENT_IOB) == 0, [0]]).astype("int8"))
        outside = [doc[s:e] for s, e in zip(numpy.flatnonzero(missing == 1), numpy.flatnonzero(missing == -1))]
        if outside:
            doc.set_ents([], outside=outside, default="unmodified")

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
        validate_examples(examples, "WindowNER.update")
        if not any(len(eg.predicted) for eg in examples):
            return losses
        set_dropout_rate(self.model, drop)
        scores, backprop = self.model.begin_update([eg.predicted for eg in examples])
        loss, d_scores = self.get_loss(examples, scores)
        backprop(d_scores)
        if sgd is not None:
            self.finish_update(sgd)
        losses[self.name] += loss
        return losses

    def get_loss(self, examples: Iterable[Example], scores: List[Floats2d]) -> Tuple[float, List[Floats2d]]:
        """The loss and its gradient for a batch, masked where the gold tag is missing.
        With the CRF loss this also accumulates the gradient of the transition scores.

        examples (Iterable[Example]): The batch.
        scores (List[Floats2d]): The scores for the batch.
        RETURNS (Tuple[float, List[Floats2d]]): The loss and d_scores.
        """
        ops = self.model.ops
        gold = self._gold_masks(examples)
        loss_name = self.cfg["loss"]
        if loss_name == "crf":
            losses, backprop = self.model.get_ref("crf").begin_update((scores, gold))
            d_scores, _ = backprop(ops.alloc1f(len(scores)) + 1.0)
            loss = float(losses.sum())
        else:
            loss_fn = _softmax_loss if loss_name == "softmax" else _hinge_loss
            results = [loss_fn(ops, S, ops.asarray2i(G)) for S, G in zip(scores, gold)]
            loss = sum(value for value, _ in results)
            d_scores = [d for _, d in results]
        if not numpy.isfinite(loss):
            raise ValueError(
                f"The {loss_name} loss of {self.name} became {loss}. The usual causes are a "
                "learning rate that is too high, or scores that overflowed; lower "
                "[training.optimizer.learn_rate] or add gradient clipping "
                "([training.optimizer.grad_clip])."
            )
        return loss, d_scores

    def _gold_masks(self, examples: Iterable[Example]) -> List[Ints2d]:
        """Per doc, an (n_tokens, n_tags) mask of the tags the gold allows: the gold
        tag, or every tag where the gold is missing or does not align."""
        tag_ids = {tag: i for i, tag in enumerate(self.tags)}
        masks: List[Ints2d] = []
        misaligned = 0
        for example in examples:
            aligned = example.get_aligned_ner()
            mask = numpy.ones((len(example.predicted), len(tag_ids)), dtype="int32")
            known = [(i, tag) for i, tag in enumerate(aligned) if tag not in (None, "-", "")]
            unknown = {tag.split("-", 1)[1] for _, tag in known if tag not in tag_ids}
            if unknown:
                raise ValueError(
                    f"{self.name} got gold entities with labels it does not know: "
                    f"{sorted(unknown)}. Known labels: {list(self.labels)}. Add them with "
                    "add_label before initialize, or pass them in initialize(labels=...)."
                )
            if known:
                rows = numpy.array([i for i, _ in known])
                mask[rows] = 0
                mask[rows, [tag_ids[tag] for _, tag in known]] = 1
            misaligned += len(example.reference.ents) - len(
                example.get_aligned_spans_y2x(example.reference.ents)
            )
            masks.append(cast(Ints2d, mask))  # a numpy int array: thinc's Ints2d
        if misaligned:
            warnings.warn(
                f"{self.name}: skipped {misaligned} gold entities that do not align to the "
                "tokenization; their tokens are treated as missing annotation."
            )
        return masks


def check_recall_bias(value: Any, name: str = "window_ner") -> float:
    """Check a recall bias: a finite number.

    value (Any): The bias.
    name (str): The component, for the message.
    RETURNS (float): The bias as a float.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(
            f"The recall_bias of {name} must be a finite number, not {value!r}: 0.0 decodes the "
            "model's own scores, a positive value (e.g. 0.5) predicts more entities (recall up, "
            "precision down), a negative one fewer. `spacy-window-ner tune-ner-bias` picks it on dev data."
        )
    return float(value)


def check_confidences(value: Any, name: str = "window_ner") -> Union[bool, str]:
    """Check the confidences setting: true, "lazy" or false.

    value (Any): The setting.
    name (str): The component, for the message.
    RETURNS (Union[bool, str]): The setting.
    """
    if not any(value is option or (isinstance(value, str) and value == option) for option in CONFIDENCES):
        raise ValueError(
            f"The confidences setting of {name} must be true, \"lazy\" or false, not {value!r}: true "
            "computes and stores the confidence of every predicted entity, \"lazy\" computes them "
            "when get_confidences(doc) first reads them, false skips them."
        )
    return value


def check_static_vectors(nlp: Language, name: str) -> None:
    """Refuse a tok2vec that the component listens to and that reads static vectors the pipeline
    lacks: sourced (from en_core_web_md, say) without its vectors, it is not initialized again,
    and would fail at the first update with an IndexError.

    nlp (Language): The pipeline.
    name (str): The name of the listening component.
    """
    if nlp.vocab.vectors.shape[0] > 0:
        return
    # nlp.components: spacy train initializes with the sourced tok2vec disabled.
    for upstream, pipe in nlp.components:
        if not isinstance(pipe, Tok2Vec) or name not in pipe.listening_components:
            continue
        if any(node.name == "static_vectors" for node in pipe.model.walk()):
            raise ValueError(
                f"The tok2vec '{upstream}' that '{name}' listens to reads static vectors, but the "
                "pipeline has none. Load the vectors of the pipeline it comes from with the config "
                "key [initialize] vectors (e.g. `spacy train ... --initialize.vectors "
                "en_core_web_md`), or source the tok2vec from a pipeline without static vectors, "
                "such as en_core_web_sm. See docs/config.md."
            )


def check_entity_features(nlp: Language, name: str, model: Model, *, replaces: bool) -> None:
    """Warn when the component's model reads the entities already on the doc (ENT_IOB or
    ENT_TYPE, as spacy-window-ner.EntityFeatures.v1 does) and they would not be there: no
    component before it sets doc.ents (the features are then the same for every token), or
    those that do are not [training] annotating_components (spacy train would then teach it
    on docs without the entities that it sees at prediction time). Warn too when it would keep
    those entities, with their labels, in doc.ents (overwrite_ents is false).

    nlp (Language): The pipeline.
    name (str): The name of the component.
    model (Model): Its model.
    replaces (bool): Whether it replaces the entities (overwrite_ents) or writes elsewhere (spans_key).
    """
    entity_attrs = {ENT_IOB, ENT_TYPE}
    if not any(
        node.name == "extract_features" and entity_attrs & {intify_attr(c) for c in node.attrs["columns"]}
        for node in model.walk()
    ):
        return
    upstream = entity_setters(nlp, before=name, disabled=True)
    if not upstream:
        warnings.warn(
            f"'{name}' reads the entities that an earlier component sets (EntityFeatures), but no "
            "component before it sets doc.ents: the feature is the same for every token. Add a "
            "ner before it (e.g. sourced from en_core_web_md), or use its tok2vec alone.",
            UserWarning,
        )
        return
    if not replaces:
        warnings.warn(
            f"'{name}' reads the entities that {upstream} set (EntityFeatures) and keeps them in "
            "doc.ents, with their labels, predicting only around them. Set overwrite_ents = true "
            "to replace them with its own.",
            UserWarning,
        )
    annotating = nlp.config["training"]["annotating_components"]
    missing = [n for n in upstream if n not in annotating]
    if missing:
        warnings.warn(
            f"'{name}' reads the entities that {missing} set (EntityFeatures), but [training] "
            "annotating_components does not name them: spacy train would teach it on docs "
            "without those entities. Add them, and to frozen_components to keep their weights: "
            f"--training.annotating_components '{json.dumps(sorted({*annotating, *missing}))}'.",
            UserWarning,
        )


def _log_softmax(ops: Ops, scores: Floats2d) -> Floats2d:
    xp = ops.xp
    # (thinc's Floats2d.max is typed without keepdims, which numpy and cupy have)
    shifted = scores - scores.max(axis=1, keepdims=True)  # type: ignore[call-arg]
    return shifted - xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))


def _softmax_loss(ops: Ops, scores: Floats2d, gold: Ints2d) -> Tuple[float, Floats2d]:
    """Token-level cross-entropy (Collobert's word-level log-likelihood)."""
    xp = ops.xp
    allowed = gold.astype(scores.dtype)
    known = allowed.sum(axis=1, keepdims=True) == 1
    log_p = _log_softmax(ops, scores)
    loss = -(log_p * allowed * known).sum()
    return float(loss), (xp.exp(log_p) - allowed) * known


def _hinge_loss(ops: Ops, scores: Floats2d, gold: Ints2d) -> Tuple[float, Floats2d]:
    """The multiclass max-margin loss max(0, 1 + max_wrong - gold) per token."""
    xp = ops.xp
    allowed = gold.astype(scores.dtype)
    known = allowed.sum(axis=1) == 1
    rows = xp.arange(len(scores))
    gold_score = (scores * allowed).sum(axis=1)
    wrong = xp.where(allowed > 0, -xp.inf, scores)
    worst = wrong.argmax(axis=1)
    margin = xp.maximum(0.0, 1.0 + wrong[rows, worst] - gold_score) * known
    violated = margin > 0
    d_scores = xp.zeros_like(scores)
    d_scores[rows[violated], worst[violated]] += 1.0
    d_scores -= allowed * violated[:, None]
    return float(margin.sum()), d_scores

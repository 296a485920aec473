"""Predicted entities in a pipeline: which components set them, and where their confidences are.

Which components set the entities: `entity_setters(nlp)`, from what each component's factory
declares (`assigns=["doc.ents", ...]`: window_ner, spaCy's ner and entity_ruler, ...). `kb
build`, `evaluate` and threshold tuning ask it, and nothing else decides it.

How `kb build`, `visualize` (and any reader) find an entity's confidence: one protocol, by
character offsets, independent of which component wrote the entity or under what name.
- A component that predicts entities stores their confidences with
  `set_confidences(doc, spans, scores)`. window_ner does; any other component (a rule-based
  one, a wrapper around another model) can, and its confidences are then stored and shown.
- A reader calls `get_confidences(doc)`: {(start_char, end_char, label): confidence}, and looks
  an entity up by `(ent.start_char, ent.end_char, ent.label_)`; `get_confidences(doc, spans)`
  gives the same entries for the spans only (`kb build`: the doc's entities), looked up by key.
  An entity without an entry has no confidence (`kb build` stores NULL, `visualize` shows the
  label alone).
Readers look nowhere else. In particular `WindowNER.scores_key` is not part of this protocol:
it only names the span group `doc.spans[scores_key]` (`spans_key`, or the component's name)
that window_ner also writes, with `group.attrs["scores"]`, for users who read spans the spaCy
way; that group has spaCy's limits (not moved on `retokenize()`, dropped by `as_doc()`, its
`attrs` lost in `from_docs` and `to_json`).

The storage: `Span._.swn_confidences`, a {label: confidence} dict (two components may label
the same text differently), kept by spaCy under `doc.user_data[("._.", "swn_confidences",
start_char, end_char)]`. So the confidences keep pointing at the same text after
`doc.retokenize()` (merge_entities, merge_noun_chunks, splits), `Doc.from_docs` shifts them,
`span.as_doc(copy_user_data=True)` keeps those inside the span,
`doc.to_json(underscore=["swn_confidences"])` writes them and `Doc.from_json` reads them back,
and they survive `Doc.to_bytes`, pickle, `DocBin(store_user_data=True)` and
`nlp.pipe(n_process=...)`. The extension is registered by `extensions.install_extensions`, with
the relations' extensions.

Computed when first read (window_ner's `confidences = "lazy"`): instead of the confidences, a
component stores what computing them takes with `defer_confidences` -- per doc, the emission
scores it decoded (float32, tokens × tags), the CRF's potentials and its spans (tokens, label
and character offsets) -- under one doc-wide key of the same kind, `doc.user_data[("._.",
"swn_pending_confidences", 0, end_char)]` (end_char: the last token's), a {component: record} dict. The first
`get_confidences(doc)` (or `set_confidences`, to keep the order of writes) computes them, stores
them as above and drops the record, so a doc computes them once, and one that nobody asks
never does. The docs of one batch are computed together, at the first read of one of them, as
in the batch (`DeferredBatch`, in memory only). Stored beside the confidences and keyed the same
way, the record travels where they travel (retokenization: it keeps the tokens it was decoded on, and the spans are resolved by
their characters; `Doc.from_docs` and `as_doc` shift its key; `to_bytes`, pickle, Ray,
`n_process`, `DocBin(store_user_data=True)`), and is lost where they are lost:
`DocBin(store_user_data=False)` (spaCy's default) and `to_json` keep neither, so call
`get_confidences(doc)` before those. The span group's `attrs["scores"]` is filled at the same
time, where the group still holds the record's spans; before that it has no "scores".
"""
import weakref
from itertools import zip_longest
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy
from spacy.attrs import IDX, LENGTH
from spacy.language import Language
from spacy.tokens import Doc, Span
from thinc.types import Floats2d

from .decoding import deferred_span_probabilities, deferred_span_probabilities_batch

EXTENSION = "swn_confidences"
PENDING = "swn_pending_confidences"


class DeferredBatch:
    """The docs whose confidences one component deferred in one call (one `nlp.pipe` batch): the
    first read of any of them computes those of all that are still waiting, in one batch, as
    `confidences = true` would have. In memory only: a doc that was copied, pickled or
    deserialized is not in it, and computes its own alone.
    """

    def __init__(self, component: str, potentials: Floats2d) -> None:
        self.component = component
        self.potentials = potentials
        self.docs: List[weakref.ref] = []


# doc -> the batch it was deferred in; weak, so a batch lives as long as one of its docs
_BATCHES: "weakref.WeakKeyDictionary[Doc, DeferredBatch]" = weakref.WeakKeyDictionary()

# (start_char, end_char, label)
ConfidenceKey = Tuple[int, int, str]


def entity_setters(
    nlp: Language, *, spans_key: Optional[str] = None, before: Optional[str] = None, disabled: bool = False
) -> List[str]:
    """The components that set the entities, in pipeline order: those whose factory declares
    that it assigns doc.ents (window_ner, ner, entity_ruler, ...), or, for entities read from
    doc.spans[spans_key], doc.spans (spaCy's meta does not name the group, so every component
    that assigns doc.spans counts: window_ner with that spans_key among them).

    nlp (Language): The pipeline.
    spans_key (Optional[str]): The span group the entities are read from; doc.ents if None.
    before (Optional[str]): Only the components before this one (a reader of the entities).
    disabled (bool): Count the disabled components too (`spacy train` initializes with the
        frozen ones disabled).
    RETURNS (List[str]): The names of the components.
    """
    names = nlp.component_names if disabled else nlp.pipe_names
    if before is not None:
        if before not in names:
            raise ValueError(f"The pipeline {names} has no component {before!r}.")
        names = names[: names.index(before)]
    sets = "doc.ents" if spans_key is None else "doc.spans"
    return [name for name in names if sets in nlp.get_pipe_meta(name).assigns]


def set_confidences(doc: Doc, spans: Iterable[Span], scores: Iterable[float]) -> None:
    """Store the confidence of each span, beside any stored before: a span with the same text
    and label as one stored before replaces its confidence. Nothing is changed if any span or
    score is invalid.

    doc (Doc): The doc the spans belong to.
    spans (Iterable[Span]): Labelled spans of the doc, as it is now.
    scores (Iterable[float]): One confidence in [0, 1] per span.
    """
    rows = []
    for span, score in zip_longest(spans, scores):
        if span is None or score is None:
            raise ValueError("Give one confidence per span: got more of one than of the other.")
        if not isinstance(span, Span) or span.doc is not doc:
            raise ValueError(
                f"Expected spans of the doc the confidences are stored on, not {span!r}. Build "
                "the spans from that doc (doc.ents, doc.char_span)."
            )
        label = span.label_
        if not label or span.start == span.end:
            raise ValueError(f"The span {span.text!r} at tokens {span.start}:{span.end} needs a label and a token.")
        score = float(score)
        if not 0.0 <= score <= 1.0:  # also NaN
            raise ValueError(f"Confidences must be finite numbers in [0, 1], not {score}.")
        rows.append((span.start_char, span.end_char, label, score))
    # Confidences deferred before these are stored first, so that the later write wins.
    resolve_confidences(doc)
    _store(doc, rows)


def _store(doc: Doc, rows: Iterable[Tuple[int, int, str, float]]) -> None:
    """Store checked (start_char, end_char, label, confidence) rows: the one write of the protocol."""
    user_data = doc.user_data
    for start_char, end_char, label, score in rows:
        # spaCy's stub types user_data's keys as str; extensions' keys are tuples like this one.
        user_data.setdefault(("._.", EXTENSION, start_char, end_char), {})[label] = score  # type: ignore[call-overload]


def defer_confidences(
    doc: Doc,
    component: str,
    spans: Sequence[Span],
    label_ids: Sequence[int],
    emissions: Floats2d,
    potentials: Floats2d,
    *,
    labels: Optional[Sequence[str]] = None,
    group: Optional[str] = None,
    batch: Optional[DeferredBatch] = None,
) -> None:
    """Store what computing the spans' confidences (their marginals under a linear-chain CRF)
    takes, for the first get_confidences(doc) to compute and store them (see the module
    docstring). A record the same component deferred before on this doc is computed first.

    doc (Doc): The doc the spans belong to.
    component (str): The component's name: one record per component and doc.
    spans (Sequence[Span]): The decoded spans of the doc, in token order, each with its label.
    label_ids (Sequence[int]): Each span's label id, as in the tag ids (label j: B = 4j + 1).
    emissions (Floats2d): The doc's decoded emission scores, (len(doc), n_tags).
    potentials (Floats2d): The transition scores, then the start and the end scores,
        (n_tags + 2, n_tags).
    labels (Optional[Sequence[str]]): Each span's label, if the caller has them (else read
        from the spans).
    group (Optional[str]): The span group holding the spans, whose attrs["scores"] is then set.
    batch (Optional[DeferredBatch]): The batch the doc was decoded in, to compute them together.
    """
    if not spans:
        return
    if len(emissions) != len(doc) or len(potentials) != len(emissions[0]) + 2:
        raise ValueError(
            f"The emissions {tuple(emissions.shape)} and potentials {tuple(potentials.shape)} do not fit a "
            f"doc of {len(doc)} tokens: give (len(doc), n_tags) and (n_tags + 2, n_tags)."
        )
    # The key spans the doc's tokens (doc.text would join every token's text, for a length).
    last = doc[-1]
    key = ("._.", PENDING, 0, last.idx + len(last))
    pending = doc.user_data.get(key)  # type: ignore[call-overload]
    if isinstance(pending, dict) and component in pending:
        resolve_confidences(doc)
    record = {
        "emissions": emissions,
        "potentials": potentials,
        # token start, end, label id, start_char, end_char: plain ints, cheaper to make than an array
        "spans": [(s.start, s.end, label_id, s.start_char, s.end_char) for s, label_id in zip(spans, label_ids)],
        "labels": list(labels) if labels is not None else [s.label_ for s in spans],
        "group": group,
    }
    doc.user_data.setdefault(key, {})[component] = record  # type: ignore[call-overload]
    if batch is not None:
        batch.docs.append(weakref.ref(doc))
        _BATCHES[doc] = batch


def resolve_confidences(doc: Doc) -> None:
    """Compute and store the confidences that components deferred on this doc (defer_confidences),
    and fill their span groups' attrs["scores"]. get_confidences and set_confidences call it;
    nothing is computed twice. A doc without user data (an eager component's, when it stores
    its confidences) returns at once; otherwise the records are found by their keys, wherever
    the doc came from (a pickled or merged doc has no batch in memory).

    doc (Doc): The doc.
    """
    user_data = doc.user_data
    if not user_data:  # a doc fresh from the tokenizer: what an eager component stores into
        return
    # Inline (no _is_key call per key): every read scans the keys once for the records.
    keys = [key for key in user_data if type(key) is tuple and len(key) == 4 and key[1] == PENDING and key[0] == "._."]
    if keys:
        _compute_batch(doc)
    for key in keys:
        pending = doc.user_data[key]
        offset = key[2]
        if not isinstance(pending, dict) or not isinstance(offset, int):
            raise ValueError(
                f"The deferred confidences under doc.user_data[{key!r}] are not a {{component: record}} "
                "dict: the doc's user_data was changed by hand. Delete that key, and run the pipeline "
                "again for the confidences."
            )
        for component, record in pending.items():
            _resolve_record(doc, component, offset, record)
        del doc.user_data[key]


def _compute_batch(doc: Doc) -> None:
    """Compute the confidences of every doc still waiting in the doc's batch, and keep each doc's
    in its record (record["probs"]), for _resolve_record to store when that doc is read."""
    batch = _BATCHES.pop(doc, None)
    if batch is None:
        return
    records = []
    for ref in batch.docs:
        other = ref()
        if other is None:
            continue
        _BATCHES.pop(other, None)
        for key, pending in other.user_data.items():
            record = pending.get(batch.component) if _is_key(key, PENDING) and isinstance(pending, dict) else None
            # Only the records as set_annotations left them: a changed one is reported by its own read.
            if isinstance(record, dict) and record.get("potentials") is batch.potentials and "probs" not in record:
                records.append(record)
    try:
        emissions = [numpy.asarray(record["emissions"]) for record in records]
        spans = [numpy.asarray(record["spans"], dtype="int32").reshape((-1, 5))[:, :3] for record in records]
        probs = deferred_span_probabilities_batch(emissions, numpy.asarray(batch.potentials), spans)
    except (KeyError, TypeError, ValueError, IndexError):
        return  # each doc then computes its own, and reports what is wrong with it
    for record, doc_probs in zip(records, probs):
        record["probs"] = doc_probs.tolist()


def _resolve_record(doc: Doc, component: str, offset: int, record: Any) -> None:
    """Compute and store one component's deferred confidences; offset: where the record's key
    starts now (moved by Doc.from_docs or as_doc), added to its spans' character offsets."""
    try:
        spans = numpy.asarray(record["spans"], dtype="int32").reshape((-1, 5))
        probs = record.get("probs")
        if not isinstance(probs, list) or len(probs) != len(spans):
            probs = deferred_span_probabilities(
                numpy.asarray(record["emissions"]), numpy.asarray(record["potentials"]),
                spans[:, 0], spans[:, 1], spans[:, 2],
            ).tolist()
        labels = [str(label) for label in record["labels"]]
    except (KeyError, TypeError, ValueError, IndexError) as err:
        raise ValueError(
            f"The confidences that {component!r} deferred on this doc cannot be computed ({err}): the "
            "record in doc.user_data was changed or comes from another version. Run the pipeline "
            "again, or set its confidences to true."
        ) from err
    chars = (spans[:, 3:5] + offset).tolist()
    _store(doc, [(start, end, label, score) for (start, end), label, score in zip(chars, labels, probs)])
    name = record.get("group")
    if isinstance(name, str) and name in doc.spans:
        group = doc.spans[name]
        if [(s.start_char, s.end_char, s.label_) for s in group] == [(s, e, l) for (s, e), l in zip(chars, labels)]:
            group.attrs["scores"] = probs


def get_confidences(doc: Doc, spans: Optional[Iterable[Span]] = None) -> Dict[ConfidenceKey, float]:
    """The stored confidences of a doc's spans, resolved against its current tokens: a span
    that no longer starts and ends on token boundaries (a retokenization merged across it) or
    lies outside the doc's text (cut off by `span.as_doc`) is left out. Confidences deferred
    by a component (defer_confidences) are computed and stored first, once.

    doc (Doc): The doc.
    spans (Optional[Iterable[Span]]): Only the confidences of these spans of the doc (a reader
        that looks up its entities: doc.ents): each is looked up by its key, without reading
        the doc's tokens or the other stored confidences. None for all.
    RETURNS (Dict[Tuple[int, int, str], float]): (start_char, end_char, label) -> confidence.
        Look a span up with (span.start_char, span.end_char, span.label_).
    """
    resolve_confidences(doc)
    user_data = doc.user_data
    found: Dict[ConfidenceKey, float] = {}
    if spans is not None:
        # A span of the doc starts and ends on its token boundaries: its key needs no check.
        for span in spans:
            if not isinstance(span, Span) or span.doc is not doc:
                raise ValueError(f"Expected spans of the doc the confidences are read from, not {span!r}.")
            start_char, end_char = span.start_char, span.end_char
            scores = user_data.get(("._.", EXTENSION, start_char, end_char))  # type: ignore[call-overload]
            if scores is not None and start_char < end_char and isinstance(scores, dict):
                span_label = span.label_
                span_score = _stored_score(scores.get(span_label))
                if span_score is not None:
                    found[(start_char, end_char, span_label)] = span_score
        return found
    stored = [(key[2], key[3], value) for key, value in user_data.items() if _is_key(key)]
    if not stored or not len(doc):
        return found
    # Sets of the tokens' boundaries: a doc holds a few spans, for which numpy.isin's set-up
    # per call costs more than the look-ups.
    bounds = doc.to_array([IDX, LENGTH]).tolist()
    starts = {idx for idx, _ in bounds}
    ends = {idx + length for idx, length in bounds}
    for start, end, by_label in stored:
        if start in starts and end in ends and start < end and isinstance(by_label, dict):
            for label, value in by_label.items():
                score = _stored_score(value)
                if score is not None:
                    found[(int(start), int(end), str(label))] = score
    return found


def _stored_score(value: Any) -> Optional[float]:
    """A stored confidence as get_confidences returns it: an int or float in [0, 1] (what
    set_confidences accepts), as a float; None for anything else user_data may hold (NaN,
    infinity, a number out of range, a bool, text or None from another tool or a hand-edited
    file), which is left out.

    value (Any): The value stored for a label.
    RETURNS (Optional[float]): The confidence, or None.
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0.0 <= value <= 1.0:
        return float(value)
    return None


def _is_key(key, name: str = EXTENSION) -> bool:
    return isinstance(key, tuple) and len(key) == 4 and key[0] == "._." and key[1] == name

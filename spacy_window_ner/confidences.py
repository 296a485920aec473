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
  an entity up by `(ent.start_char, ent.end_char, ent.label_)`. An entity without an entry has
  no confidence (`kb build` stores NULL, `visualize` shows the label alone).
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
"""
import math
from itertools import zip_longest
from typing import Dict, Iterable, List, Optional, Tuple

from spacy.attrs import IDX, LENGTH
from spacy.language import Language
from spacy.tokens import Doc, Span

EXTENSION = "swn_confidences"

# (start_char, end_char, label)
ConfidenceKey = Tuple[int, int, str]


def entity_setters(nlp: Language, *, spans_key: Optional[str] = None, before: Optional[str] = None) -> List[str]:
    """The components that set the entities, in pipeline order: those whose factory declares
    that it assigns doc.ents (window_ner, ner, entity_ruler, ...), or, for entities read from
    doc.spans[spans_key], doc.spans (spaCy's meta does not name the group, so every component
    that assigns doc.spans counts: window_ner with that spans_key among them).

    nlp (Language): The pipeline.
    spans_key (Optional[str]): The span group the entities are read from; doc.ents if None.
    before (Optional[str]): Only the components before this one (a reader of the entities).
    RETURNS (List[str]): The names of the components.
    """
    names = nlp.pipe_names
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
        rows.append((("._.", EXTENSION, span.start_char, span.end_char), label, score))
    user_data = doc.user_data
    for key, label, score in rows:
        # spaCy's stub types user_data's keys as str; extensions' keys are tuples like this one.
        user_data.setdefault(key, {})[label] = score  # type: ignore[call-overload]


def get_confidences(doc: Doc) -> Dict[ConfidenceKey, float]:
    """The stored confidences of a doc's spans, resolved against its current tokens: a span
    that no longer starts and ends on token boundaries (a retokenization merged across it) or
    lies outside the doc's text (cut off by `span.as_doc`) is left out.

    doc (Doc): The doc.
    RETURNS (Dict[Tuple[int, int, str], float]): (start_char, end_char, label) -> confidence.
        Look a span up with (span.start_char, span.end_char, span.label_).
    """
    stored = [(key[2], key[3], value) for key, value in doc.user_data.items() if _is_key(key)]
    if not stored or not len(doc):
        return {}
    # Sets of the tokens' boundaries: a doc holds a few spans, for which numpy.isin's set-up
    # per call costs more than the look-ups.
    bounds = doc.to_array([IDX, LENGTH]).tolist()
    starts = {idx for idx, _ in bounds}
    ends = {idx + length for idx, length in bounds}
    found: Dict[ConfidenceKey, float] = {}
    for start, end, by_label in stored:
        if start in starts and end in ends and start < end and isinstance(by_label, dict):
            for label, score in by_label.items():
                if isinstance(score, (int, float)) and math.isfinite(score):
                    found[(int(start), int(end), str(label))] = float(score)
    return found


def _is_key(key) -> bool:
    return isinstance(key, tuple) and len(key) == 4 and key[0] == "._." and key[1] == EXTENSION

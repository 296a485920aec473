"""Relations between spans of a Doc: the data model shared by readers, the relation pipe and
scoring.

Read and write a doc's relations with `get_relations` / `set_relations`. They are stored by
character offsets, as spaCy stores span extension data: under
`doc.user_data[("._.", "swn_relation_rows", head.start_char, head.end_char)]`, one plain row

    [head_label, tail.start_char - head.start_char, tail.end_char - head.start_char,
     tail_label, label, score]

per relation headed by that span (the tail is relative to the head). So the relations keep
pointing at the same text after `doc.retokenize()` (merge_entities, merge_noun_chunks, splits),
`Doc.from_docs` shifts them and `span.as_doc(copy_user_data=True)` keeps those inside the span,
as spaCy does for all span extensions; plain msgpack data survives `Doc.to_bytes`, pickle,
`DocBin(store_user_data=True)` and `nlp.pipe(n_process=...)`. A doc whose relations were set,
even to none, also holds an empty row list under the span of its whole text: it tells
"annotated, no relations" from "not annotated".

`Doc._.swn_relations` gives the relations as JSON (character offsets, what
`doc.to_json(underscore=["swn_relations"])` writes and `Doc.from_json` reads back), and
`Span._.swn_relation_rows` is the storage above; both are registered by
`extensions.install_extensions`.
"""
import math
import numbers
import warnings
from typing import Any, Dict, Iterable, List, NamedTuple, Optional, Set, Tuple

from spacy.tokens import Doc, Span

EXTENSION = "swn_relations"
ROWS_EXTENSION = "swn_relation_rows"
# Where spacy-window-ner 0.1 stored relations, by token offsets. Still read, never written.
LEGACY_KEY = ("spacy_window_ner", "relations")

# (head_start, head_end, head_label, tail_start, tail_end, tail_label, label): token offsets
# from relation_tuples, character offsets in storage.
RelationKey = Tuple[int, int, str, int, int, str, str]


class Relation(NamedTuple):
    """A directed, labelled relation from a head span to a tail span of the same Doc.

    head (Span): The head (first argument) span.
    tail (Span): The tail (second argument) span.
    label (str): The relation label.
    score (float): Confidence in [0, 1]; 1.0 for gold relations.
    """

    head: Span
    tail: Span
    label: str
    score: float


def get_relations(doc: Doc) -> List[Relation]:
    """Read the relations stored on a doc, resolved to spans of its current tokens. A relation
    whose span no longer starts and ends on token boundaries (a retokenization merged or split
    across it) is dropped with a warning; one outside the doc's text (cut off by
    `span.as_doc`) is left out.

    doc (Doc): The doc.
    RETURNS (List[Relation]): The relations, sorted by (head.start, tail.start, label); empty if
        none were set.
    """
    relations = []
    # len(doc.text) without building it (Doc.text joins every token's text in Python).
    n_chars = doc[-1].idx + len(doc[-1].text_with_ws) if len(doc) else 0
    for (hs, he, hl, ts, te, tl, label), score in _stored(doc):
        if not (0 <= hs < he <= n_chars and 0 <= ts < te <= n_chars):
            continue
        head = doc.char_span(hs, he, label=hl)
        tail = doc.char_span(ts, te, label=tl)
        if head is None or tail is None:
            warnings.warn(
                f"Dropped the relation {doc.text[hs:he]!r} -{label}-> {doc.text[ts:te]!r}: "
                f"the {'head' if head is None else 'tail'} no longer starts and ends on token "
                "boundaries (the doc was retokenized across it). Retokenize along entity "
                "boundaries, or set the relations again with set_relations.",
                stacklevel=2,
            )
            continue
        relations.append(Relation(head, tail, label, score))
    return relations


def set_relations(doc: Doc, relations: Iterable[Relation]) -> None:
    """Validate relations and store them on a doc, replacing any stored before. Identical
    (head, tail, label) triples are merged, keeping the highest score. Nothing is changed if
    any relation is invalid.

    doc (Doc): The doc whose spans the relations connect.
    relations (Iterable[Relation]): Relations, or (head, tail, label, score) tuples.
    """
    best: Dict[RelationKey, float] = {}
    for relation in relations:
        key, score = _validate(doc, relation)
        best[key] = max(score, best.get(key, score))
    rows: Dict[Tuple[int, int], List[list]] = {}
    if len(doc):
        rows[(doc[0].idx, doc[-1].idx + len(doc[-1]))] = []
    for key in sorted(best, key=_order):
        hs, he, hl, ts, te, tl, label = key
        rows.setdefault((hs, he), []).append([hl, ts - hs, te - hs, tl, label, best[key]])
    _delete(doc)
    for (start, end), head_rows in rows.items():
        # spaCy's stub types user_data's keys as str; extensions' keys are tuples like this one.
        doc.user_data[("._.", ROWS_EXTENSION, start, end)] = head_rows  # type: ignore[index]


def has_relation_annotation(doc: Doc) -> bool:
    """Whether relations were set on a doc, even none. A doc without it is unannotated, not
    a doc without relations.

    doc (Doc): The doc.
    RETURNS (bool): True if set_relations (or a reader) stored relations on the doc; always
        False for a doc without tokens, which has nowhere to keep the mark.
    """
    return LEGACY_KEY in doc.user_data or any(_is_rows_key(key) for key in doc.user_data)


def relation_tuples(doc: Doc) -> Set[RelationKey]:
    """The strict keys of a doc's relations, as compared by scoring: a predicted relation is
    correct only if both spans, both span labels and the relation label match.

    doc (Doc): The doc.
    RETURNS (Set[Tuple[int, int, str, int, int, str, str]]): One
        (head_start, head_end, head_label, tail_start, tail_end, tail_label, label) per relation,
        with token offsets.
    """
    return {
        (h.start, h.end, h.label_, t.start, t.end, t.label_, label)
        for h, t, label, _ in get_relations(doc)
    }


def relations_to_json(doc: Doc) -> Optional[List[Dict[str, Any]]]:
    """The getter of `Doc._.swn_relations`: a doc's relations as JSON-serializable data with
    character offsets, the form of `doc.to_json()`'s "ents".

    doc (Doc): The doc.
    RETURNS (Optional[List[Dict[str, Any]]]): One {"head": {"start", "end", "label"},
        "tail": {...}, "label", "score"} per relation, in the order of get_relations; None if
        the doc has no relation annotation.
    """
    if not has_relation_annotation(doc):
        return None
    return [
        {"head": _span_json(h), "tail": _span_json(t), "label": label, "score": score}
        for h, t, label, score in get_relations(doc)
    ]


def relations_from_json(doc: Doc, data: Optional[List[Dict[str, Any]]]) -> None:
    """The setter of `Doc._.swn_relations` (used by `Doc.from_json`): store relations given in
    the form relations_to_json returns, replacing any stored before. Nothing is changed if
    any relation is invalid.

    doc (Doc): The doc.
    data (Optional[List[Dict[str, Any]]]): The relations; None removes the relation
        annotation.
    """
    if data is None:
        _delete(doc)
        return
    if isinstance(data, (str, bytes, dict)) or not isinstance(data, Iterable):
        raise TypeError(f"Expected a list of relation dicts or None, not {type(data).__name__}.")
    set_relations(doc, [_relation_from_json(doc, item) for item in data])


def _is_rows_key(key: Any) -> bool:
    return isinstance(key, tuple) and len(key) == 4 and key[0] == "._." and key[1] == ROWS_EXTENSION


def _delete(doc: Doc) -> None:
    for key in [key for key in doc.user_data if _is_rows_key(key) or key == LEGACY_KEY]:
        del doc.user_data[key]


def _order(key: RelationKey) -> tuple:
    # Total order: (head start, tail start, label) first, then the remaining offsets and labels.
    hs, he, hl, ts, te, tl, label = key
    return (hs, ts, label, he, te, hl, tl)


def _stored(doc: Doc) -> List[Tuple[RelationKey, float]]:
    """The stored relations as ((head_start_char, ..., label), score), sorted."""
    stored: List[Tuple[RelationKey, float]] = []
    new_format = False
    # spaCy's stub types user_data's keys as str; extensions' (and ours) are tuples.
    user_data: Dict[Any, Any] = doc.user_data
    for key, rows in user_data.items():
        if _is_rows_key(key):
            new_format = True
            hs, he = key[2], key[3]
            # DocBin restores rows as tuples, Doc.from_bytes as lists: unpack both.
            for hl, dts, dte, tl, label, score in rows:
                stored.append(((hs, he, str(hl), hs + dts, hs + dte, str(tl), str(label)), float(score)))
    if not new_format and LEGACY_KEY in user_data:
        stored = [_from_legacy(doc, row) for row in user_data[LEGACY_KEY]]
    return sorted(stored, key=lambda item: _order(item[0]))


def _from_legacy(doc: Doc, row: Any) -> Tuple[RelationKey, float]:
    """A relation stored by token offsets, as spacy-window-ner 0.1 wrote them, by chars."""
    hs, he, hl, ts, te, tl, label, score = row
    for start, end in ((hs, he), (ts, te)):
        if not 0 <= start < end <= len(doc):
            raise ValueError(
                f"A relation stored by spacy-window-ner 0.1 spans tokens {start}:{end}, outside "
                f"this doc of {len(doc)} tokens: the tokens changed after it was stored. Set "
                "the relations again with set_relations, or convert the data again."
            )
    head, tail = doc[hs:he], doc[ts:te]
    key = (head.start_char, head.end_char, str(hl), tail.start_char, tail.end_char, str(tl), str(label))
    return key, float(score)


def _span_json(span: Span) -> Dict[str, Any]:
    return {"start": span.start_char, "end": span.end_char, "label": span.label_}


def _relation_from_json(doc: Doc, item: Any) -> Relation:
    try:
        (hs, he, hl), (ts, te, tl) = [
            (item[arg]["start"], item[arg]["end"], item[arg]["label"]) for arg in ("head", "tail")
        ]
        label, score = item["label"], item["score"]
    except (TypeError, KeyError, IndexError):
        raise TypeError(
            'Expected a relation as {"head": {"start", "end", "label"}, "tail": {...}, "label", '
            f'"score"}}, not {item!r}. To store Relation objects, use set_relations.'
        ) from None
    spans = []
    for arg, start, end, span_label in (("head", hs, he, hl), ("tail", ts, te, tl)):
        span = None
        if isinstance(start, int) and isinstance(end, int) and isinstance(span_label, str):
            span = doc.char_span(start, end, label=span_label)
        if span is None:
            raise ValueError(
                f"The relation {arg} at characters {start!r}:{end!r} (label {span_label!r}) is "
                f"not a span of tokens of this doc of {len(doc.text)} characters. Give the "
                "character offsets of the doc the relations belong to."
            )
        spans.append(span)
    return Relation(spans[0], spans[1], label, score)


def _validate(doc: Doc, relation: Any) -> Tuple[RelationKey, float]:
    try:
        head, tail, label, score = relation
    except (TypeError, ValueError):
        raise TypeError(
            f"Expected a Relation(head, tail, label, score), not {relation!r}."
        ) from None
    for name, span in (("head", head), ("tail", tail)):
        if not isinstance(span, Span):
            raise TypeError(f"Relation {name} must be a Span, not {type(span).__name__}.")
        if span.doc is not doc:
            raise ValueError(
                f"Relation {name} {span.text!r} belongs to a different Doc. "
                "Build the spans from the doc you store the relations on."
            )
        start, end = span.start, span.end
        if start == end:
            raise ValueError(f"Relation {name} is an empty span at token {start}.")
        if not (0 <= start < end <= len(doc)) or (span.start_char, span.end_char) != (
            doc[start].idx, doc[end - 1].idx + len(doc[end - 1])
        ):
            raise ValueError(
                f"Relation {name} at tokens {start}:{end} (characters {span.start_char}:"
                f"{span.end_char}) is not in this doc of {len(doc)} tokens as it is now: was it "
                "made before a retokenization? Take the spans from the doc after it (doc.ents, "
                "doc.char_span)."
            )
    if not isinstance(label, str):
        raise TypeError(f"Relation label must be a str, not {type(label).__name__}.")
    if not label:
        raise ValueError("Relation label must be a non-empty string.")
    if isinstance(score, bool) or not isinstance(score, numbers.Real):
        raise TypeError(f"Relation score must be a float, not {type(score).__name__}.")
    score = float(score)
    if not (math.isfinite(score) and 0.0 <= score <= 1.0):
        raise ValueError(f"Relation score must be a finite number in [0, 1], not {score}.")
    key = (head.start_char, head.end_char, head.label_, tail.start_char, tail.end_char, tail.label_, label)
    return key, score

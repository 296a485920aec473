"""Relations between spans of a Doc: the data model shared by readers, the relation pipe and
scoring.

A doc's relations live in `doc.user_data[RELATIONS_KEY]` as a list of plain lists

    [head_start, head_end, head_label, tail_start, tail_end, tail_label, label, score]

with token offsets (end exclusive), str labels and a float score. Plain msgpack data survives
`Doc.to_bytes`, `DocBin(store_user_data=True)` and saved pipelines without pickling. Read and
write them with `get_relations` / `set_relations`, or `doc._.relations` after
`install_extensions()`.
"""
import math
import numbers
from typing import Any, Dict, Iterable, List, NamedTuple, Sequence, Set, Tuple

from spacy.tokens import Doc, Span

RELATIONS_KEY = ("spacy_window_ner", "relations")

# (head_start, head_end, head_label, tail_start, tail_end, tail_label, label)
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
    """Read the relations stored on a doc.

    doc (Doc): The doc.
    RETURNS (List[Relation]): The relations, sorted by (head.start, tail.start, label); empty if
        none were set.
    """
    return [_relation_from_row(doc, row) for row in doc.user_data.get(RELATIONS_KEY, [])]


def set_relations(doc: Doc, relations: Iterable[Relation]) -> None:
    """Validate relations and store them on a doc, replacing any stored before. Identical
    (head, tail, label) triples are merged, keeping the highest score. Nothing is stored if
    any relation is invalid.

    doc (Doc): The doc whose spans the relations connect.
    relations (Iterable[Relation]): Relations, or (head, tail, label, score) tuples.
    """
    best: Dict[RelationKey, float] = {}
    for relation in relations:
        key, score = _validate(doc, relation)
        best[key] = max(score, best.get(key, score))
    # Total order: (head.start, tail.start, label) first, then the remaining offsets and labels.
    keys = sorted(best, key=lambda k: (k[0], k[3], k[6], k[1], k[4], k[2], k[5]))
    doc.user_data[RELATIONS_KEY] = [[*key, best[key]] for key in keys]


def relation_tuples(doc: Doc) -> Set[RelationKey]:
    """The strict keys of a doc's relations, as compared by scoring: a predicted relation is
    correct only if both spans, both span labels and the relation label match.

    doc (Doc): The doc.
    RETURNS (Set[Tuple[int, int, str, int, int, str, str]]): One
        (head_start, head_end, head_label, tail_start, tail_end, tail_label, label) per relation.
    """
    return {_row_key(row) for row in doc.user_data.get(RELATIONS_KEY, [])}


def install_extensions() -> None:
    """Register `Doc._.relations` (getter `get_relations`, setter `set_relations`). Safe to
    call more than once; an existing `relations` extension is left as it is.
    """
    if not Doc.has_extension("relations"):
        Doc.set_extension("relations", getter=get_relations, setter=set_relations)


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
        if len(span) == 0:
            raise ValueError(f"Relation {name} is an empty span at token {span.start}.")
    if not isinstance(label, str):
        raise TypeError(f"Relation label must be a str, not {type(label).__name__}.")
    if not label:
        raise ValueError("Relation label must be a non-empty string.")
    if isinstance(score, bool) or not isinstance(score, numbers.Real):
        raise TypeError(f"Relation score must be a float, not {type(score).__name__}.")
    score = float(score)
    if not (math.isfinite(score) and 0.0 <= score <= 1.0):
        raise ValueError(f"Relation score must be a finite number in [0, 1], not {score}.")
    key = (head.start, head.end, head.label_, tail.start, tail.end, tail.label_, label)
    return key, score


def _row_key(row: Sequence) -> RelationKey:
    # DocBin restores user_data as tuples, Doc.from_bytes as lists: accept both.
    hs, he, hl, ts, te, tl, label = row[:7]
    return (int(hs), int(he), str(hl), int(ts), int(te), str(tl), str(label))


def _relation_from_row(doc: Doc, row: Sequence) -> Relation:
    hs, he, hl, ts, te, tl, label = _row_key(row)
    for start, end in ((hs, he), (ts, te)):
        if not 0 <= start < end <= len(doc):
            raise ValueError(
                f"A stored relation spans tokens {start}:{end}, outside this doc of {len(doc)} "
                "tokens. Were the tokens changed after the relations were set? Set them again "
                "with set_relations."
            )
    head = Span(doc, hs, he, label=hl)
    tail = Span(doc, ts, te, label=tl)
    return Relation(head, tail, label, float(row[7]))

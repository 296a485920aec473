"""Registered scorers."""
from collections import defaultdict
from typing import Any, Callable, Dict, Iterable, Optional, Set, Tuple

from spacy.scorer import PRFScore, Scorer
from spacy.tokens import Doc
from spacy.training import Example
from spacy.util import registry

from .relations import relation_tuples


def score_ents(examples: Iterable[Example], *, spans_key: Optional[str] = None, **kwargs) -> Dict[str, Any]:
    """Strict entity P/R/F, overall and per type. Without spans_key, the predicted
    doc.ents under spaCy's keys ents_p, ents_r, ents_f and ents_per_type. With
    spans_key, the predicted doc.spans[spans_key] under spancat's keys
    spans_{spans_key}_p/r/f and spans_{spans_key}_per_type, so that they do not
    overwrite the scores of another NER component. The gold entities always come
    from doc.ents, which window_ner trains on.

    spans_key (Optional[str]): The span group the component writes its entities to.
    RETURNS (Dict[str, Any]): The scores.
    """
    if spans_key is None:
        return Scorer.score_spans(
            examples, "ents", has_annotation=lambda doc: doc.has_annotation("ENT_IOB"), labeled=True
        )
    examples = list(examples)
    for example in examples:
        if spans_key not in example.predicted.spans:
            raise ValueError(
                f"A predicted doc has no span group {spans_key!r} to score. The window_ner "
                f"component with spans_key {spans_key!r} writes it: score docs that the "
                "pipeline processed with that component enabled (nlp.evaluate does this)."
            )
    predicted = {id(example.predicted) for example in examples}

    def getter(doc: Doc, attr: str):
        return doc.spans[spans_key] if id(doc) in predicted else doc.ents

    return Scorer.score_spans(
        examples,
        f"spans_{spans_key}",
        getter=getter,
        has_annotation=lambda doc: id(doc) in predicted or doc.has_annotation("ENT_IOB"),
        labeled=True,
    )


@registry.scorers("spacy-window-ner.ner_scorer.v1")
def make_ner_scorer() -> Callable[..., Dict[str, Any]]:
    return score_ents


# (head_start_char, head_end_char, head_label, tail_start_char, tail_end_char, tail_label, label)
CharRelationKey = Tuple[int, int, str, int, int, str, str]


def score_relations(examples: Iterable[Example], **kwargs) -> Dict[str, Any]:
    """Strict relation P/R/F, micro-averaged, macro-averaged over the relation labels and
    per relation label, under the keys rel_micro_p/r/f, rel_macro_p/r/f and rel_per_type. A predicted relation is
    correct only if its head span, tail span, both entity labels and its label match
    a gold relation. Spans are compared by character offsets, so the predicted and
    reference docs may be tokenized differently; a relation on a wrongly predicted
    entity counts as a miss.

    examples (Iterable[Example]): Examples with relations on both docs.
    RETURNS (Dict[str, Any]): The scores.
    """
    micro = PRFScore()
    per_type: Dict[str, PRFScore] = defaultdict(PRFScore)
    for example in examples:
        gold = char_relation_tuples(example.reference)
        pred = char_relation_tuples(example.predicted)
        for key in pred & gold:
            micro.tp += 1
            per_type[key[6]].tp += 1
        for key in pred - gold:
            micro.fp += 1
            per_type[key[6]].fp += 1
        for key in gold - pred:
            micro.fn += 1
            per_type[key[6]].fn += 1
    labels = sorted(per_type)
    return {
        "rel_micro_p": micro.precision,
        "rel_micro_r": micro.recall,
        "rel_micro_f": micro.fscore,
        # The mean over the labels seen in the gold or the predictions, as Bekoulis et al.
        # (2018) report CoNLL04.
        "rel_macro_p": sum(per_type[label].precision for label in labels) / max(len(labels), 1),
        "rel_macro_r": sum(per_type[label].recall for label in labels) / max(len(labels), 1),
        "rel_macro_f": sum(per_type[label].fscore for label in labels) / max(len(labels), 1),
        "rel_per_type": {label: per_type[label].to_dict() for label in labels},
    }


def char_relation_tuples(doc: Doc) -> Set[CharRelationKey]:
    """The strict keys of a doc's relations (see `relation_tuples`), with character
    offsets instead of token offsets.

    doc (Doc): The doc.
    RETURNS (Set[Tuple[int, int, str, int, int, str, str]]): One key per relation.
    """
    return {
        (doc[hs].idx, _end_char(doc, he), hl, doc[ts].idx, _end_char(doc, te), tl, label)
        for hs, he, hl, ts, te, tl, label in relation_tuples(doc)
        if 0 <= hs < he <= len(doc) and 0 <= ts < te <= len(doc)
    }


def _end_char(doc: Doc, end: int) -> int:
    token = doc[end - 1]
    return token.idx + len(token)


@registry.scorers("spacy-window-ner.rel_scorer.v1")
def make_rel_scorer() -> Callable[..., Dict[str, Any]]:
    return score_relations

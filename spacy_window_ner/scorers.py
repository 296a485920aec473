"""Registered scorers."""
from typing import Any, Callable, Dict, Iterable, Optional

from spacy.scorer import Scorer
from spacy.tokens import Doc
from spacy.training import Example
from spacy.util import registry


def score_ents(examples: Iterable[Example], *, spans_key: Optional[str] = None, **kwargs) -> Dict[str, Any]:
    """Strict entity P/R/F, overall and per type, under spaCy's keys ents_p,
    ents_r, ents_f and ents_per_type.

    spans_key (Optional[str]): Score the predicted spans in doc.spans[spans_key]
        instead of doc.ents. The gold entities always come from doc.ents.
    RETURNS (Dict[str, Any]): The scores.
    """

    def getter(doc: Doc, attr: str):
        if spans_key is not None and spans_key in doc.spans:
            return doc.spans[spans_key]
        return doc.ents

    return Scorer.score_spans(
        examples,
        "ents",
        getter=getter,
        has_annotation=lambda doc: doc.has_annotation("ENT_IOB"),
        labeled=True,
    )


@registry.scorers("spacy-window-ner.ner_scorer.v1")
def make_ner_scorer() -> Callable[..., Dict[str, Any]]:
    return score_ents

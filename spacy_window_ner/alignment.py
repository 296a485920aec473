"""Matching spans across two docs of the same text by character offsets: the reference doc of
an Example and its predicted doc, tokenized apart. The corpus readers, window_rel (its training
candidates on reference entities), cross-fitting and evaluation on gold entities align
entities this way."""
from typing import Iterable, List, Optional

from spacy.tokens import Doc, Span


def copy_gold_ents(reference: Doc, predicted: Doc) -> List[Span]:
    """Set the entities of the reference doc on the predicted doc, matched by character
    offsets. Entities that don't align with the predicted tokens are left out.

    reference (Doc): The doc with the gold entities.
    predicted (Doc): The doc to annotate, with the same text.
    RETURNS (List[Span]): The entities set on the predicted doc.
    """
    spans = aligned_ents(reference, predicted)
    predicted.set_ents(spans, default="outside")
    return spans


def aligned_ents(reference: Doc, predicted: Doc, ents: Optional[Iterable[Span]] = None) -> List[Span]:
    """The entities of the reference doc as spans of the predicted doc, matched by
    character offsets; entities that don't align with its tokens are left out.

    reference (Doc): The doc with the entities.
    predicted (Doc): A doc with the same text.
    ents (Optional[Iterable[Span]]): The reference's spans to align; its doc.ents if None.
    RETURNS (List[Span]): The aligned spans, with their labels.
    """
    if reference.text != predicted.text:
        raise ValueError(
            "Can't align entities between docs with different texts. Pass the predicted and "
            "reference docs of one Example."
        )
    spans = (
        predicted.char_span(ent.start_char, ent.end_char, label=ent.label_)
        for ent in (reference.ents if ents is None else ents)
    )
    return [span for span in spans if span is not None]

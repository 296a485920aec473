"""Scoring a pipeline on gold docs (`evaluate_pipeline`, used by `spacy-window-ner evaluate`): on
the entities it predicts, or on the gold entities. `gold_entities` runs a pipeline on docs that
already carry the gold entities, the components that write entities switched off, so that those
after them (window_rel) read the gold ones: for evaluation, and for tuning on gold entities."""
from contextlib import contextmanager
from typing import Any, Dict, Iterable, Iterator, List, Optional

from spacy.language import Language
from spacy.tokens import Doc
from spacy.training import Example
from spacy.vocab import Vocab

from .alignment import copy_gold_ents
from .confidences import entity_setters


def evaluate_pipeline(nlp: Language, references: Iterable[Doc], *, gold_ents: bool = False, batch_size: int = 64) -> Dict[str, Any]:
    """Score a pipeline on gold docs with nlp.evaluate: each reference's text runs through the
    whole pipeline, or, with gold_ents, its tokens and gold entities through the components
    after those that write entities (gold_entities), which alone are then scored.

    nlp (Language): The pipeline.
    references (Iterable[Doc]): The gold docs.
    gold_ents (bool): Give the pipeline the gold entities.
    batch_size (int): Documents per nlp.pipe batch.
    RETURNS (Dict[str, Any]): The scores of nlp.evaluate.
    """
    if not gold_ents:
        examples = [Example(nlp.make_doc(reference.text), reference) for reference in references]
        return nlp.evaluate(examples, batch_size=batch_size)
    examples = [Example(gold_ents_doc(nlp.vocab, reference), reference) for reference in references]
    with gold_entities(nlp):
        return nlp.evaluate(examples, batch_size=batch_size)


def gold_ents_doc(vocab: Vocab, reference: Doc) -> Doc:
    """A doc to predict on with the tokens and the entities of a gold doc, and nothing else of
    its annotation, for gold_entities.

    vocab (Vocab): The pipeline's vocab.
    reference (Doc): The gold doc.
    RETURNS (Doc): The new doc.
    """
    doc = Doc(vocab, words=[token.text for token in reference], spaces=[bool(token.whitespace_) for token in reference])
    copy_gold_ents(reference, doc)
    return doc


@contextmanager
def gold_entities(nlp: Language, *, spans_key: Optional[str] = None) -> Iterator[List[str]]:
    """Run a pipeline on docs that already carry the gold entities (see gold_ents_doc, or
    `alignment.copy_gold_ents`): within the block, the components that write them are disabled,
    so the components after them see the gold entities.

    nlp (Language): The pipeline.
    spans_key (Optional[str]): The span group the entities are read from; doc.ents if None.
    YIELDS (List[str]): The names of the disabled components.
    """
    names = entity_setters(nlp, spans_key=spans_key)
    with nlp.select_pipes(disable=names):
        yield names

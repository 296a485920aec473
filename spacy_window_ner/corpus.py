"""Corpus readers for a relation component: one whose predicted docs already carry the gold
entities, so that it is trained and evaluated on gold entities (as spaCy's relation tutorial
does), and one that adds the entities an NER predicted for the same docs without having trained
on them (`spacy-window-ner cross-predict`), so that it also learns from the NER's mistakes."""
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Optional

from spacy.language import Language
from spacy.training import Corpus, Example, validate_get_examples
from spacy.util import registry

from .alignment import aligned_ents, copy_gold_ents

# The span group of the entities an NER predicted for docs it did not train on.
PREDICTED_KEY = "cross_predicted"


@registry.readers("spacy-window-ner.GoldEntsCorpus.v1")
def create_gold_ents_reader(
    path: Optional[Path],
    gold_preproc: bool = False,
    max_length: int = 0,
    limit: int = 0,
) -> Callable[[Language], Iterable[Example]]:
    """Read Examples from a .spacy file, like spacy.Corpus.v1, and copy the reference
    entities onto each predicted doc (aligned by character offsets).

    path (Optional[Path]): The .spacy file.
    gold_preproc (bool): Use the reference tokenization for the predicted docs.
    max_length (int): Skip docs longer than this many tokens (0 for no limit).
    limit (int): Read at most this many docs (0 for no limit).
    RETURNS (Callable[[Language], Iterable[Example]]): The corpus.
    """
    corpus = _docbin_corpus("spacy-window-ner.GoldEntsCorpus.v1", path, gold_preproc=gold_preproc, max_length=max_length, limit=limit)

    def read(nlp: Language) -> Iterator[Example]:
        for example in corpus(nlp):
            copy_gold_ents(example.reference, example.predicted)
            yield example

    return read


@registry.readers("spacy-window-ner.PredictedEntsCorpus.v1")
def create_predicted_ents_reader(
    path: Optional[Path],
    predicted_key: str = PREDICTED_KEY,
    gold: bool = True,
    gold_preproc: bool = False,
    max_length: int = 0,
    limit: int = 0,
) -> Callable[[Language], Iterable[Example]]:
    """Read Examples from a .spacy file written by `spacy-window-ner cross-predict`, whose docs
    hold the entities an NER predicted without having trained on them in
    doc.spans[predicted_key]. Each doc gives an example whose predicted doc carries those
    entities and, with gold=True, before it the example with the gold entities (as
    GoldEntsCorpus.v1 reads it). The references keep the gold entities and relations, so a
    relation between predicted spans that don't match the gold ones exactly is a negative, as the
    strict scorer counts it.

    path (Optional[Path]): The .spacy file.
    predicted_key (str): The span group holding the predicted entities.
    gold (bool): Also yield every doc with its gold entities.
    gold_preproc, max_length, limit: As in GoldEntsCorpus.v1 (spacy.Corpus.v1's).
    RETURNS (Callable[[Language], Iterable[Example]]): The corpus.
    """
    corpus = _docbin_corpus(
        "spacy-window-ner.PredictedEntsCorpus.v1", path, " written by `spacy-window-ner cross-predict`",
        gold_preproc=gold_preproc, max_length=max_length, limit=limit,
    )

    def read(nlp: Language) -> Iterator[Example]:
        for example in corpus(nlp):
            reference = example.reference
            if predicted_key not in reference.spans:
                raise ValueError(
                    f"The doc {reference.text[:40]!r}... of {path} has no span group "
                    f"{predicted_key!r} of predicted entities. Write the file with "
                    f"`spacy-window-ner cross-predict`, or set predicted_key to the group that holds them."
                )
            predicted = example.predicted.copy()
            if gold:
                copy_gold_ents(reference, example.predicted)
                yield example
            spans = aligned_ents(reference, predicted, reference.spans[predicted_key])
            if spans:
                predicted.set_ents(spans, default="outside")
                yield Example(predicted, reference)

    return read


def _docbin_corpus(reader: str, path: Optional[Path], written_by: str = "", **options: Any) -> Corpus:
    """spaCy's Corpus of a .spacy file, for the reader named `reader`; a missing path says
    where to set it."""
    if path is None:
        raise ValueError(
            f"{reader} needs a path to a .spacy file{written_by}: set it in the config or pass "
            "it on the command line, e.g. --paths.train train.spacy."
        )
    return Corpus(path, **options)


def validate_initialize_examples(get_examples: Callable[[], Iterable[Example]], name: str) -> None:
    """Check the get_examples of a component's initialize: spaCy's validate_get_examples, then
    that get_examples() yields at least one example. initialize calls get_examples() more than
    once, so one that returns the same generator each time (`lambda: Corpus(path)(nlp)`'s result
    held in a variable) is used up by the first call; the check says so, instead of letting the
    component find no labels.

    get_examples (Callable[[], Iterable[Example]]): The training examples.
    name (str): The component, for the messages.
    """
    validate_get_examples(get_examples, f"{name}.initialize")
    if next(iter(get_examples()), None) is None:
        raise ValueError(
            f"{name}.initialize got no examples: get_examples() returned an empty iterable. "
            "initialize calls it more than once, so it must return a new iterable each time: "
            "if it returns a generator such as Corpus(path)(nlp), the first call used it up. "
            "Pass `lambda: examples` with `examples = list(Corpus(path)(nlp))`, or check that "
            "the corpus is not empty."
        )

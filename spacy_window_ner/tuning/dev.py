"""The dev data a tuning reads: the component to tune, checked to be of its kind
(`tuned_component`), the examples of a dev .spacy file, refused if it holds none (`read_dev`),
and those examples with their predicted docs run through the pipeline up to window_rel, on the
gold entities or the ones its NER predicts (`examples_before`)."""
import warnings
from contextlib import nullcontext
from pathlib import Path
from typing import Callable, ContextManager, Iterable, List, Type, TypeVar

from spacy.language import Language
from spacy.training import Corpus, Example

from ..confidences import entity_setters
from ..corpus import create_gold_ents_reader
from ..evaluation import gold_entities
from ..ner import WindowNER
from ..rel import WindowRel
from ..relations import relation_tuples


TunedPipe = TypeVar("TunedPipe", WindowRel, WindowNER)  # the components whose settings are tuned on dev


def tuned_component(nlp: Language, component: str, kind: Type[TunedPipe]) -> TunedPipe:
    """The component of a pipeline to tune, by name, checked to be a `kind`.

    nlp (Language): The pipeline.
    component (str): The name of the component.
    kind (Type[TunedPipe]): WindowRel (thresholds) or WindowNER (recall bias).
    RETURNS (TunedPipe): The component.
    """
    factory = "window_rel" if kind is WindowRel else "window_ner"
    if component not in nlp.pipe_names:
        raise ValueError(
            f"Can't find the component {component!r} to tune in the pipeline {nlp.pipe_names}. "
            f"Pass the name of its {factory} component."
        )
    pipe = nlp.get_pipe(component)
    if not isinstance(pipe, kind):
        raise TypeError(f"Only a {factory} component can be tuned here, not {type(pipe).__name__}.")
    return pipe


def examples_before(nlp: Language, path: Path, component: str = "window_rel", *, gold_ents: bool = True) -> List[Example]:
    """The examples of a .spacy file, their predicted docs run through the pipeline up to
    its window_rel component (not included): what that component reads there.

    nlp (Language): The pipeline.
    path (Path): The .spacy file, with gold entities and relations.
    component (str): The name of the window_rel component.
    gold_ents (bool): Give window_rel the gold entities (components that set doc.ents do
        not run); if False, the entities the pipeline's own NER predicts.
    RETURNS (List[Example]): The examples.
    """
    pipe = tuned_component(nlp, component, WindowRel)
    after = nlp.pipe_names[nlp.pipe_names.index(component):]
    # The components that write the entities window_rel reads (doc.ents, or doc.spans[key]).
    spans_key = pipe.cfg["spans_key"]
    if not gold_ents and not entity_setters(nlp, spans_key=spans_key, before=component):
        raise ValueError(
            f"No component before {component!r} predicts entities, so its thresholds can only "
            "be tuned on gold entities: use gold_ents=True (--gold-ents)."
        )
    examples = read_dev(create_gold_ents_reader(path) if gold_ents else Corpus(path), path, nlp)
    if not any(relation_tuples(eg.reference) for eg in examples):
        raise ValueError(f"{path} has no gold relations to tune the thresholds of {component!r} on.")
    # Run the components before it (a shared tok2vec, the NER unless gold_ents).
    disabling: ContextManager[List[str]] = gold_entities(nlp, spans_key=spans_key) if gold_ents else nullcontext([])
    with disabling as disabled:
        with nlp.select_pipes(disable=[name for name in after if name not in disabled]):
            docs = list(nlp.pipe(eg.predicted for eg in examples))
    for example, doc in zip(examples, docs):
        example.predicted = doc
    return examples


def read_dev(corpus: Callable[[Language], Iterable[Example]], path: Path, nlp: Language) -> List[Example]:
    """The examples of a dev corpus, refusing one that holds none (a file that is not .spacy,
    or an empty one), so that no tuning succeeds on nothing.

    corpus (Callable[[Language], Iterable[Example]]): The reader of `path`.
    path (Path): The dev data, for the message.
    nlp (Language): The pipeline.
    RETURNS (List[Example]): The examples.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"\[W090\]")  # no .spacy file there: refused below, in words
        examples = list(corpus(nlp))
    if not examples:
        raise ValueError(f"{path} holds no documents to tune on: give a .spacy file, as `spacy-window-ner convert` writes one.")
    return examples

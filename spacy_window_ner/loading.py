"""Loading a saved pipeline by its directory or installed package name: the one loader of the
command line, `kb build` and the Ray engine's actors (which each load the pipeline themselves,
since a `Language` object must not travel through Ray's object store, spaCy #13506).
"""
from pathlib import Path
from typing import Union

import spacy
from spacy.language import Language


class PipelineError(ValueError):
    """A pipeline that can't be loaded; the message says why."""


def load_pipeline(name: Union[str, Path]) -> Language:
    """Load a spaCy pipeline from its directory (as nlp.to_disk writes it) or from an
    installed package (as `spacy package` builds it).

    name (Union[str, Path]): The pipeline directory or the package name.
    RETURNS (Language): The pipeline.
    """
    path = Path(name)
    if path.exists() or isinstance(name, Path) or not spacy.util.is_package(str(name)):
        if not path.is_dir() or not (path / "config.cfg").is_file():
            raise PipelineError(
                f"{name} is not a spaCy pipeline: expected a directory with a config.cfg, as "
                "nlp.to_disk writes, or the name of an installed pipeline package."
            )
    try:
        return spacy.load(name)
    except Exception as err:  # spacy.load fails in many ways on a broken directory or package
        message = " ".join(str(err).split())
        raise PipelineError(f"Can't load the spaCy pipeline {name}: {type(err).__name__}: {message}") from err

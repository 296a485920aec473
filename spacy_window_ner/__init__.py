"""spacy-window-ner: window-classifier NER and relation extraction for spaCy."""
from . import candidates, corpus, layers, legacy, models, ner, pretraining, rel, scorers, tuning  # noqa: F401  (fill the registries)
from .extensions import install_extensions

install_extensions()

__version__ = "0.1.0"

"""spacy-window-ner: window-classifier NER and relation extraction for spaCy."""
from . import corpus, layers, models, ner, rel, scorers  # noqa: F401  (fill the registries)
from . import pretraining  # noqa: F401  (the spacy pretrain objective)
from .relations import install_extensions

install_extensions()

__version__ = "0.1.0"

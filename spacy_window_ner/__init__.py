"""spacy-window-ner: window-classifier NER and relation extraction for spaCy."""
from . import layers  # noqa: F401  (registers the layers)

__version__ = "0.1.0"

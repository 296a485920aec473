"""The doc and span extensions of spacy-window-ner, registered in one place: importing the
package calls `install_extensions()` once.

- `Doc._.swn_relations`: a doc's relations as JSON, by character offsets (see
  relations.relations_to_json), what `doc.to_json(underscore=["swn_relations"])` writes and
  `Doc.from_json` reads back.
- `Span._.swn_relation_rows`: where the relations are stored, under the head span (see the
  relations module).
- `Span._.swn_confidences`: the confidences of predicted entities (see the confidences module).

The names carry the `swn_` prefix so that the plain ones (`relations`, `confidences`) stay free
for other code; a prefixed name that other code registered differently is refused, never
overwritten.
"""
from typing import Any

from spacy.tokens import Doc, Span

from .confidences import EXTENSION as CONFIDENCES_EXTENSION
from .relations import EXTENSION as RELATIONS_EXTENSION
from .relations import ROWS_EXTENSION, relations_from_json, relations_to_json


def install_extensions() -> None:
    """Register `Doc._.swn_relations`, `Span._.swn_relation_rows` and `Span._.swn_confidences`.
    Safe to call more than once.

    RAISES (ValueError): If other code already registered one of the names differently.
    """
    for cls, name, kwargs in (
        (Doc, RELATIONS_EXTENSION, {"getter": relations_to_json, "setter": relations_from_json}),
        (Span, ROWS_EXTENSION, {"default": None}),
        (Span, CONFIDENCES_EXTENSION, {"default": None}),
    ):
        wanted = (kwargs.get("default"), None, kwargs.get("getter"), kwargs.get("setter"))
        if not cls.has_extension(name):
            cls.set_extension(name, **kwargs)
        elif tuple(map(_describe, cls.get_extension(name))) != tuple(map(_describe, wanted)):
            raise ValueError(
                f"{cls.__name__}._.{name} is already registered by other code, as "
                f"{cls.get_extension(name)} (default, method, getter, setter). "
                f"spacy-window-ner stores its annotations there. Rename the other extension, or "
                f"remove it with {cls.__name__}.remove_extension({name!r}) before importing "
                "spacy_window_ner."
            )


def _describe(value: Any) -> Any:
    # Functions compare by name, so re-importing a module is not a conflict.
    if callable(value):
        return (getattr(value, "__module__", None), getattr(value, "__qualname__", None))
    return value

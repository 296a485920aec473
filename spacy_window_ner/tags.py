"""BILUO tags: the tag set. Which tag may follow which is the CRF layer's constraint
(`layers.crf.allowed_transitions`); decoding paths into spans is in `decoding.py`.

Tag ids: 0 is "O"; label j has B = 4j + 1, I = 4j + 2, L = 4j + 3, U = 4j + 4.
"""
from typing import List, Sequence

import numpy

OUT = "O"
PREFIXES = ("B", "I", "L", "U")
# The tags that open an entity: a valid path has exactly one of them per entity.
START_PREFIXES = ("B", "U")


def biluo_tags(labels: Sequence[str]) -> List[str]:
    """The tag names for labels, in tag-id order.

    labels (Sequence[str]): The entity labels.
    RETURNS (List[str]): "O", then B-, I-, L-, U- for each label.
    """
    return [OUT] + [f"{prefix}-{label}" for label in labels for prefix in PREFIXES]


def entity_starts(labels: Sequence[str]) -> numpy.ndarray:
    """Which tags open an entity (B- and U- for each label), in tag-id order.

    labels (Sequence[str]): The entity labels.
    RETURNS (numpy.ndarray): Bools, one per tag of biluo_tags(labels).
    """
    return numpy.asarray([tag.split("-", 1)[0] in START_PREFIXES for tag in biluo_tags(labels)], dtype=bool)

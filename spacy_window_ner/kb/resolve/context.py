"""The context of a mention, for telling apart two referents of one name: the words around it
in its sentence, the other entities of its document (`MentionRecord.neighbours`), its relations
(`MentionRecord.relations`), and, when the caller has them, the mean vector of its context words.

A `Profile` sums the contexts of many mentions (an entity's), and `similarity` compares a
mention's context with a profile in [0, 1]. Nothing here counts over the whole input: a profile
holds only the mentions it was given, so a component's result depends on that component alone.
"""
import math
import re
from collections import Counter
from typing import Callable, List, Mapping, Optional, Sequence

import numpy

from .names import name_key
from .records import MentionRecord
from .tables import FUNCTION_WORDS

# How many words each side of a mention count as its context.
WINDOW = 10
# How much more an entity of the mention's document, or of its relations, counts than a word
# around it: they name who or what the sentence is about. Chosen on the CoNLL04 gold alias set's
# train part (benchmarks/resolution/): 1, 2, 3 and 5 score pairwise F1 95.7, 95.8, 96.0, 95.8.
ENTITY_WEIGHT = 3
# Words -> one mean vector (the pipeline's static vectors), as `resolve` takes them.
VectorsT = Callable[[Sequence[str]], numpy.ndarray]

_WORD = re.compile(r"\w+")


def context_words(record: MentionRecord, window: int = WINDOW) -> List[str]:
    """The content words around a mention in its sentence, nearest `window` each side, the
    mention itself, function words and numbers left out.

    record (MentionRecord): The mention.
    window (int): Words taken each side.
    RETURNS (List[str]): The words, `name_key`ed.
    """
    before = _WORD.findall(name_key(record.sentence[: max(record.start, 0)]))[-window:] if window else []
    after = _WORD.findall(name_key(record.sentence[record.end:]))[:window] if window else []
    return [w for w in before + after if w not in FUNCTION_WORDS and not w.isdigit() and len(w) > 1]


def context_features(record: MentionRecord, window: int = WINDOW) -> Counter[str]:
    """A mention's context as a bag of features: its context words, its document's other
    entities ("entity NAME") and its relations ("LABEL NAME"), those two ENTITY_WEIGHT each.

    record (MentionRecord): The mention.
    window (int): Context words taken each side.
    RETURNS (Counter[str]): Feature -> count.
    """
    features: Counter[str] = Counter(context_words(record, window))
    for n in record.neighbours:
        features[f"\tentity {name_key(n)}"] += ENTITY_WEIGHT
    for label, n in record.relations:
        features[f"\t{label} {name_key(n)}"] += ENTITY_WEIGHT
    return features


def cosine(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    """The cosine of two sparse vectors (feature -> weight), 0 when either is empty.

    a (Mapping[str, float]): One vector.
    b (Mapping[str, float]): The other.
    RETURNS (float): The cosine, in [0, 1] for non-negative weights.
    """
    if len(a) > len(b):
        a, b = b, a
    dot = sum(w * b.get(f, 0.0) for f, w in a.items())
    if not dot:
        return 0.0
    return dot / math.sqrt(sum(w * w for w in a.values()) * sum(w * w for w in b.values()))


class Profile:
    """The summed context of a set of mentions (one entity's).

    features (Counter[str]): Feature -> count over the mentions.
    vector (Optional[numpy.ndarray]): The sum of the mentions' context vectors, when vectors are
        given.
    """

    def __init__(self) -> None:
        self.features: Counter[str] = Counter()
        self.vector: Optional[numpy.ndarray] = None

    def add(self, features: Counter[str], vector: Optional[numpy.ndarray] = None) -> None:
        """Add one mention's context.

        features (Counter[str]): Its `context_features`.
        vector (Optional[numpy.ndarray]): Its context vector.
        """
        self.features.update(features)
        if vector is not None:
            self.vector = vector.copy() if self.vector is None else self.vector + vector


def mention_vector(record: MentionRecord, vectors: Optional[VectorsT]) -> Optional[numpy.ndarray]:
    """The mean vector of a mention's context words, or None without vectors or words.

    record (MentionRecord): The mention.
    vectors (Optional[VectorsT]): Words -> their mean vector.
    RETURNS (Optional[numpy.ndarray]): The vector, float64.
    """
    if vectors is None:
        return None
    words = context_words(record)
    if not words:
        return None
    vector = numpy.asarray(vectors(words), dtype="float64").ravel()
    return vector if numpy.any(vector) else None


def similarity(features: Counter[str], vector: Optional[numpy.ndarray], profile: Profile) -> float:
    """How alike a mention's context and a profile are, in [0, 1]: the cosine of their features,
    averaged with the cosine of their vectors where both have one (negative cosines count 0).

    features (Counter[str]): The mention's `context_features`.
    vector (Optional[numpy.ndarray]): Its context vector.
    profile (Profile): The entity's profile.
    RETURNS (float): The similarity.
    """
    score = cosine(features, profile.features)
    if vector is not None and profile.vector is not None:
        norm = float(numpy.linalg.norm(vector) * numpy.linalg.norm(profile.vector))
        if norm:
            score = (score + max(0.0, float(vector @ profile.vector) / norm)) / 2
    return score

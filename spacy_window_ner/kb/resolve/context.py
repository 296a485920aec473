"""The context of a mention, for telling apart two referents of one name: the words around it
in its sentence, the other entities of its document (`MentionRecord.neighbours`), its relations
(`MentionRecord.relations`), and, when the caller has them, the mean vector of its context words.

A `ProfileIndex` holds the context profiles of the entities an ambiguous name may mean (each the
summed context of some of an entity's mentions) and compares a mention's context with them in
[0, 1]. A `ProfileSum` is such a sum made once and kept (the store keeps one per entity), which
a profile takes in one step instead of its mentions one by one. Nothing here counts over the
whole input: a profile holds only the mentions it was given, so a component's result depends on
that component alone.
"""
import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence

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


@dataclass(frozen=True)
class ProfileSum:
    """The summed `context_features` of the first mentions of an entity's profile sample (see
    `cluster.place_by_context`), made once and kept, so that a profile takes them in one step.

    first (int): The smallest mention id summed.
    id (int): The largest: a profile takes the sum when it would take that mention (a profile
        that takes only some of the summed mentions can't use it).
    count (int): How many mentions are summed.
    features (Counter[str]): Their summed `context_features` (no vectors: the store keeps sums
        only for passes without them).
    """

    first: int
    id: int
    count: int
    features: Counter


def summed_features(features: Sequence[Counter]) -> Counter:
    """The sum of some mentions' `context_features`, as a profile sums them.

    features (Sequence[Counter]): The mentions' features.
    RETURNS (Counter): Feature -> summed weight (no zero weights).
    """
    total: Counter = Counter()
    for found in features:
        total.update(found)
    return total


class ProfileIndex:
    """The context profiles of the entities an ambiguous name may mean, each the summed context
    of some of an entity's mentions, grown one mention at a time (`add`) and indexed by
    feature: a mention is compared only with the profiles it shares a feature with (and, with
    vectors, with each that has one), so a very common name with thousands of candidate
    entities costs its mentions' features, not mentions x entities.

    ids (Sequence[int]): The entities, in a fixed order; their profiles start empty.
    """

    def __init__(self, ids: Sequence[int]) -> None:
        self.ids = list(ids)
        self.position = {entity: p for p, entity in enumerate(self.ids)}
        self.features: List[Counter[str]] = [Counter() for _ in self.ids]
        self.squares = [0.0] * len(self.ids)  # the sum of each profile's squared feature counts
        self.by_feature: Dict[str, List[int]] = defaultdict(list)
        self.sums: List[Optional[numpy.ndarray]] = [None] * len(self.ids)  # summed context vectors
        self._vectors: Optional[Dict[int, numpy.ndarray]] = None  # their unit vectors, made when first asked

    def add(self, entity: int, features: Counter[str], vector: Optional[numpy.ndarray] = None) -> None:
        """Add one mention's context to an entity's profile.

        entity (int): The entity (one of `ids`).
        features (Counter[str]): The mention's `context_features`.
        vector (Optional[numpy.ndarray]): Its `mention_vector`.
        """
        p = self.position[entity]
        profile = self.features[p]
        if not profile:  # its first context (often a profile sum of many features): copied whole
            self.features[p] = Counter(features)
            square = self.squares[p]
            for feature, weight in features.items():
                self.by_feature[feature].append(p)
                square += weight**2  # as below, with old = 0
            self.squares[p] = square
        else:
            for feature, weight in features.items():
                old = profile[feature]
                if not old:
                    self.by_feature[feature].append(p)
                profile[feature] = old + weight
                self.squares[p] += (old + weight) ** 2 - old**2
        if vector is not None:
            total = self.sums[p]
            self.sums[p] = total = vector.copy() if total is None else total + vector
            if self._vectors is not None:
                self._vectors[p] = _unit(total)

    def similarities(self, features: Counter[str], vector: Optional[numpy.ndarray]) -> Dict[int, float]:
        """How alike a mention's context is to each profile, in [0, 1]: the cosine of their
        features, averaged with the cosine of their vectors where both have one (negative
        cosines count 0). Profiles it shares nothing with are left out (they score 0).

        features (Counter[str]): The mention's `context_features`.
        vector (Optional[numpy.ndarray]): Its context vector.
        RETURNS (Dict[int, float]): Entity -> similarity, for the profiles scoring above 0.
        """
        dots: Dict[int, float] = defaultdict(float)
        for feature, weight in features.items():
            for position in self.by_feature.get(feature, ()):
                dots[position] += weight * self.features[position][feature]
        norm = math.sqrt(sum(w * w for w in features.values()))
        scores = {p: dot / (norm * math.sqrt(self.squares[p])) for p, dot in dots.items() if dot}
        if vector is not None:
            length = float(numpy.linalg.norm(vector))
            if length:
                unit = vector / length
                # One dot product per profile, so a profile's score doesn't depend on which
                # others are indexed with it (the store compares with its own selection).
                for p, row in self._unit_vectors().items():
                    scores[p] = (scores.get(p, 0.0) + max(0.0, float(numpy.dot(row, unit)))) / 2
        return {self.ids[p]: score for p, score in scores.items() if score > 0}

    def _unit_vectors(self) -> Dict[int, numpy.ndarray]:
        """The profiles' summed vectors as unit vectors, by position (those that have one)."""
        if self._vectors is None:
            self._vectors = {p: _unit(total) for p, total in enumerate(self.sums) if total is not None}
        return self._vectors


def _unit(vector: numpy.ndarray) -> numpy.ndarray:
    """A vector scaled to length 1 (a zero vector as it is)."""
    norm = float(numpy.linalg.norm(vector))
    return vector / norm if norm else vector

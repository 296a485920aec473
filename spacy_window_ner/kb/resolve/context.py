"""The context of a mention, for telling apart two referents of one name: the words around it
in its sentence, the other entities of its document (`MentionRecord.neighbours`), its relations
(`MentionRecord.relations`), and, when the caller has them, the mean vector of its context words.

A `Profile` sums the contexts of many mentions (an entity's), and a `ProfileIndex` of the
profiles an ambiguous name may mean compares a mention's context with them in [0, 1]. Nothing here counts over the whole input: a profile
holds only the mentions it was given, so a component's result depends on that component alone.
"""
import math
import re
from collections import Counter, defaultdict
from typing import Callable, Dict, List, Optional, Sequence, Tuple

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


class ProfileIndex:
    """The profiles of the entities an ambiguous name may mean, indexed by feature: a mention is
    compared only with the profiles it shares a feature with (and, with vectors, with all of
    them in one matrix product), so a very common name with thousands of candidate entities
    costs its mentions' features, not mentions x entities.

    profiles (Sequence[Tuple[int, Profile]]): (entity, its profile), in a fixed order.
    """

    def __init__(self, profiles: Sequence[Tuple[int, Profile]]) -> None:
        self.ids = [entity for entity, _ in profiles]
        self.features = [profile.features for _, profile in profiles]
        self.norms = [math.sqrt(sum(w * w for w in f.values())) for f in self.features]
        self.by_feature: Dict[str, List[int]] = defaultdict(list)
        for position, features in enumerate(self.features):
            for feature in features:
                self.by_feature[feature].append(position)
        with_vectors = [(p, profile.vector) for p, (_, profile) in enumerate(profiles) if profile.vector is not None]
        self.vector_rows = [p for p, _ in with_vectors]
        self.vectors: Optional[numpy.ndarray] = None
        if with_vectors:
            matrix = numpy.vstack([v for _, v in with_vectors])
            norms = numpy.linalg.norm(matrix, axis=1, keepdims=True)
            self.vectors = matrix / numpy.where(norms == 0, 1.0, norms)

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
        scores = {p: dot / (norm * self.norms[p]) for p, dot in dots.items() if dot}
        if vector is not None and self.vectors is not None:
            length = float(numpy.linalg.norm(vector))
            if length:
                cosines = self.vectors @ (vector / length)
                for p, vector_cosine in zip(self.vector_rows, cosines.tolist()):
                    scores[p] = (scores.get(p, 0.0) + max(0.0, vector_cosine)) / 2
        return {self.ids[p]: score for p, score in scores.items() if score > 0}

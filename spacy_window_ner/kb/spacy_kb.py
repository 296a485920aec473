"""The knowledge base as a spaCy knowledge base (`kb export --format spacy-kb`): a directory
holding an `InMemoryLookupKB` (spacy.kb), as its `to_disk` writes it, for spaCy's
`entity_linker` (load it with `spacy.KBFromFile.v1`, or `InMemoryLookupKB.from_disk`).

Entities: one per resolved entity (Store.entity_table), keyed by its id in the knowledge base
as a string (the `entity_id` of `kb export --format mentions`, so the `ent.kb_id_` an
entity_linker sets joins its mentions and `kb query`), with its mention count as its frequency
and a vector from a pipeline with static vectors (`vectors`, read with
resolution.pipeline_vectors, as resolution's context signal reads them): the mean of the vectors
of its names' words (split at spaces), each name weighted by the mentions that use it. Words without a vector are left
out; an entity none of whose words has one gets a zero vector, and is counted
(`SpacyKBCounts.without_vector`).

Aliases: every name a resolved mention is written with (Store.mentions; whitespace collapsed),
because spaCy looks candidates up by the mention's text as written. The prior probability of an
entity for an alias is its mentions by that name over all mentions by that name, where names
are compared normalised (store.normalize: case and spacing, as `kb query` compares them), so
"Kennedy" and "KENNEDY" have the same candidates with the same priors, and the priors of every
alias sum to 1. A mention whose entity is not among the entities read (a resolution that
committed between the two reads) is left out.

The directory is written whole or not at all (files.atomic_directory); an existing directory is
replaced only if it holds nothing but a spaCy knowledge base's files.
"""
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Set, Tuple, Union

import numpy
from spacy.kb import InMemoryLookupKB
from spacy.vocab import Vocab

from ..files import atomic_directory
from .backends import open_store
from .export import check_export_directory
from .pass_state import Vectors
from .resolution import pipeline_vectors
from .store import KBError, normalize

# The files InMemoryLookupKB.to_disk writes: the only ones an export replaces in its directory
SPACY_KB_FILES = ("contents", "strings.json")


@dataclass
class SpacyKBCounts:
    """What `export_spacy_kb` wrote.

    entities (int): Entities written.
    aliases (int): Aliases written (names as written; names that normalise alike share their
        candidates).
    without_vector (int): Entities none of whose name words has a vector: their vector is zeros.
    vector_width (int): The length of the entity vectors.
    """

    entities: int = 0
    aliases: int = 0
    without_vector: int = 0
    vector_width: int = 0


def export_spacy_kb(db: Union[str, Path], output: Path, vectors: Union[str, Path]) -> SpacyKBCounts:
    """Write the resolved entities of a knowledge base as a spaCy InMemoryLookupKB directory
    (see the module docstring).

    db (Union[str, Path]): The database: a SQLite file or a postgresql:// URL.
    output (Path): The directory to write; missing parents are created.
    vectors (Union[str, Path]): A pipeline with static vectors (a directory, or an installed
        package such as en_core_web_md): its vectors give the entities theirs.
    RETURNS (SpacyKBCounts): What was written.
    RAISES (KBError): If the pipeline can't be loaded or has no vectors, or the knowledge
        base has no resolved entity.
    """
    check_export_directory(output, SPACY_KB_FILES, "spacy-kb")
    mean_vector = pipeline_vectors(str(vectors))
    with open_store(db, readonly=True) as store:
        entities = list(store.entity_table())
        if not entities:
            raise KBError(
                "The knowledge base has no resolved entities to export: build it with documents (the "
                "build resolves them; after --no-resolve, run kb resolve DB), then export again."
            )
        spacy_kb, counts = make_spacy_kb(entities, store.mentions(), mean_vector)
    with atomic_directory(output) as directory:
        spacy_kb.to_disk(directory)
    return counts


def make_spacy_kb(
    entities: Sequence[Dict[str, Any]], mentions: Iterable[Dict[str, Any]], mean_vector: Vectors
) -> Tuple[InMemoryLookupKB, SpacyKBCounts]:
    """An InMemoryLookupKB of the resolved entities and the names of their mentions, in a vocab
    of its own (so that its strings.json holds its own strings, not the vectors pipeline's).

    entities (Sequence[Dict[str, Any]]): The rows of Store.entity_table: "id" and
        "mention_count" are used.
    mentions (Iterable[Dict[str, Any]]): The rows of Store.mentions: "text" and "entity_id" are
        used (unresolved mentions are left out).
    mean_vector (Vectors): Words -> the mean of their static vectors, zeros where none has one
        (resolution.pipeline_vectors).
    RETURNS (Tuple[InMemoryLookupKB, SpacyKBCounts]): The knowledge base and what it holds.
    """
    width = len(mean_vector([]))
    keys = {entity["id"]: str(entity["id"]) for entity in entities}
    names: Dict[str, Counter[str]] = defaultdict(Counter)  # entity key -> name as written -> mentions
    by_norm: Dict[str, Counter[str]] = defaultdict(Counter)  # normalised name -> entity key -> mentions
    for mention in mentions:
        key = keys.get(mention["entity_id"])
        name = " ".join(mention["text"].split())
        if key is None or not name:
            continue
        names[key][name] += 1
        by_norm[normalize(name)][key] += 1
    counts = SpacyKBCounts(vector_width=width)
    name_vectors: Dict[str, Optional[numpy.ndarray]] = {}
    entity_vectors: List[List[float]] = []
    for entity in entities:
        vector = _entity_vector(names[keys[entity["id"]]], mean_vector, name_vectors)
        if vector is None:
            counts.without_vector += 1
            vector = numpy.zeros((width,), dtype="float32")
        entity_vectors.append(vector.tolist())
    spacy_kb = InMemoryLookupKB(Vocab(), entity_vector_length=width)
    spacy_kb.set_entities(
        entity_list=[keys[entity["id"]] for entity in entities],
        freq_list=[entity["mention_count"] for entity in entities],
        vector_list=entity_vectors,
    )
    written: Dict[str, Set[str]] = defaultdict(set)  # normalised name -> the names written so
    for counter in names.values():
        for name in counter:
            written[normalize(name)].add(name)
    for norm in sorted(by_norm):
        candidates = sorted(by_norm[norm].items(), key=lambda item: (-item[1], item[0]))
        total = sum(n for _, n in candidates)
        candidate_keys, priors = [key for key, _ in candidates], [n / total for _, n in candidates]
        for alias in sorted(written[norm]):
            spacy_kb.add_alias(alias=alias, entities=candidate_keys, probabilities=priors)
            counts.aliases += 1
    counts.entities = len(entities)
    return spacy_kb, counts


def _entity_vector(
    names: Counter[str], mean_vector: Vectors, cache: Dict[str, Optional[numpy.ndarray]]
) -> Optional[numpy.ndarray]:
    """The mean of the vectors of an entity's names (each the mean of its words' vectors, the
    words split at spaces as resolution splits them), each weighted by its mentions; None if no
    word of any name has a vector."""
    total = None
    weight = 0
    for name, n_mentions in names.items():
        if name not in cache:
            words = numpy.asarray(mean_vector(name.split()), dtype="float64")
            cache[name] = words if words.any() else None
        vector = cache[name]
        if vector is None:
            continue
        total = vector * n_mentions if total is None else total + vector * n_mentions
        weight += n_mentions
    return None if total is None else (total / weight).astype("float32")

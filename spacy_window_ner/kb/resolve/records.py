"""The values that pass into and out of entity resolution: the mentions (`MentionRecord`), the
user's alias entries (`AliasEntry`) and curated decisions (`Decision`), the settings
(`ResolveSettings`), and the result (`Resolution` of `ResolvedEntity`). Plain dataclasses, so they
pickle and compare by value.
"""
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

# The pair score a name needs to join an entity, chosen on the CoNLL04 gold alias set's train
# part (benchmarks/resolution/score.py --split train --threshold T): every threshold from 0.72 to
# 0.8 scores pairwise P/R/F1 96.5/95.6/96.1, the best precision; at 0.7 and below an
# organisation's first words join it ("Ford" / "Ford Motor", names.SCORE_PREFIX) and precision
# falls 0.1 (B-cubed 0.3) for 0.1 more recall; above 0.8 a bare surname fits no full name, so it
# is no longer ambiguous and all its mentions become one entity: precision falls to 87, recall
# to 79. 0.75 sits in the middle.
DEFAULT_THRESHOLD = 0.75
# Where a name's mentions go (`Resolution.names`): (the entity, None) for a name all of whose
# mentions are one entity's; (its own entity or None, the entities it may mean) for an
# ambiguous name, whose mentions go where their context says (`cluster.place_by_context`), the
# others to its own entity. Each entity is given by its smallest mention id.
NamePlace = Tuple[Optional[int], Optional[Tuple[int, ...]]]


@dataclass(frozen=True)
class MentionRecord:
    """One mention to resolve.

    id (int): The mention's row id, unique and stable within a database.
    document (int): Its document's row id.
    text (str): The mention as written.
    label (str): Its entity label.
    sentence (str): The sentence it is in.
    start (int): Its start character offset in `sentence`.
    end (int): Its end character offset in `sentence`.
    neighbours (Tuple[str, ...]): `store.normalize` of the texts of the other mentions in its
        document.
    relations (Tuple[Tuple[str, str], ...]): (relation label, `store.normalize` of the other
        mention's text) for each relation it takes part in.
    """

    id: int
    document: int
    text: str
    label: str
    sentence: str
    start: int
    end: int
    neighbours: Tuple[str, ...] = ()
    relations: Tuple[Tuple[str, str], ...] = ()


@dataclass(frozen=True)
class AliasEntry:
    """One entry of a user alias file: names that mean one entity.

    canonical (str): The name to show for the entity.
    aliases (Tuple[str, ...]): Its other names.
    label (Optional[str]): The label its mentions carry; None: any label, in which case mentions
        of different labels that bear its names become one entity.
    external_id (Optional[str]): An identifier elsewhere, e.g. a Wikidata QID.
    line (int): The line of the file it was read from, for messages (0: not from a file).
    """

    canonical: str
    aliases: Tuple[str, ...]
    label: Optional[str] = None
    external_id: Optional[str] = None
    line: int = 0


@dataclass(frozen=True)
class Decision:
    """A curated decision (`kb merge` / `kb split`), kept by the store and applied on every
    resolution.

    kind (str): "same" (the names are one entity) or "different" (they are never one).
    label (str): The label of the mentions it is about.
    a (str): One name, `store.normalize`d.
    b (str): The other name, `store.normalize`d.
    """

    kind: str
    label: str
    a: str
    b: str


@dataclass(frozen=True)
class ResolveSettings:
    """How `resolve` decides.

    threshold (float): The pair score, in [0, 1], a name needs to join an entity. Higher keeps
        entities apart (precision), lower joins more (recall).
    context (bool): Whether to use the words around mentions, their neighbours and relations
        (and vectors, when given) to tell apart two referents of one name.
    """

    threshold: float = DEFAULT_THRESHOLD
    context: bool = True


@dataclass
class ResolvedEntity:
    """One resolved entity.

    label (str): Its label.
    canonical (str): The name shown for it.
    mentions (List[int]): Its mentions' ids, sorted.
    aliases (Dict[str, int]): Every name it is mentioned by (whitespace collapsed, written as
        most often) -> how many of its mentions bear it.
    external_id (Optional[str]): The identifier an alias entry gave it.
    """

    label: str
    canonical: str
    mentions: List[int]
    aliases: Dict[str, int]
    external_id: Optional[str] = None


@dataclass
class Resolution:
    """What `resolve` found.

    entities (List[ResolvedEntity]): Every entity, sorted by its smallest mention id.
    ambiguous (List[Tuple[str, str, List[str]]]): (alias, label, the canonical names it may
        mean), for each name that fits several entities equally well (its mentions went where
        their context said, the others stayed an entity of their own), and for each name that
        several alias entries claim (with all their canonical names, mentioned or not). Sorted.
    names (Dict[Tuple[str, str], NamePlace]): By (`name_key`, label), where the name's
        mentions go: what the store keeps to place a later mention of the name without
        resolving its component again.
    """

    entities: List[ResolvedEntity] = field(default_factory=list)
    ambiguous: List[Tuple[str, str, List[str]]] = field(default_factory=list)
    names: Dict[Tuple[str, str], NamePlace] = field(default_factory=dict)

"""What every knowledge base back end provides, and the values that pass between the build, the
queries, resolution and a back end. `sqlite.SQLiteStore` and `postgres.PostgresStore` implement
`Store`; `backends.open_store` picks the back end a database names. Everything here is plain data
(dicts, tuples, dataclasses), so rows can cross process boundaries (nlp.pipe workers, an engine's
actors) by pickling.
"""
import itertools
import math
from dataclasses import dataclass, field
from typing import (
    Any, Callable, ContextManager, Dict, Iterable, Iterator, List, Optional, Protocol, Sequence, Tuple, Type,
)

from ..inputs import Record

# A resolved entity (Store.entity_table, the graph's nodes): its canonical "name", its label, its
# mentions' count, the id an alias entry gave it (or None), and "aliases" ({name: mention_count}).
ENTITY_FIELDS = ("id", "name", "label", "mention_count", "external_id")
NODE_FIELDS = (*ENTITY_FIELDS, "aliases")
EDGE_FIELDS = ("source", "target", "label", "count", "max_confidence", "mean_confidence")
# An entity's mentions and relations, in Store.entities: "doc_id" is the document's JSONL "id" (None
# without one), "start_in_sentence"/"end_in_sentence" the mention's character offsets in "sentence".
MENTION_FIELDS = (
    "source", "line", "doc_id", "text", "confidence", "sentence", "start_in_sentence", "end_in_sentence",
)
RELATION_FIELDS = ("label", "other", "other_label", "confidence", "source", "line", "doc_id")

SpanKey = Tuple[int, int, str]  # (start token, end token, label) of a mention in its doc
# Everything the database needs from a processed doc (see rows.doc_rows): "n_chars",
# "n_tokens", "mentions" ({SpanKey: {"start_char", "end_char", "text", "label", "confidence",
# "sentence", "sent_start_char", "sent_end_char"}}), "relations" ([(head SpanKey, tail
# SpanKey, label, confidence)]) and "dropped_candidates" (relation candidates a cap dropped).
# Plain, picklable data.
DocRows = Dict[str, Any]
Graph = Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]  # nodes (NODE_FIELDS), edges (EDGE_FIELDS)


class KBError(ValueError):
    """A database or input the knowledge base can't use; the message says what to do."""


@dataclass
class WriteCounts:
    """What one `Store.write_batch` stored.

    added (int): Documents stored, replaced versions included.
    replaced (int): Of added, documents that replaced a stored version with another text.
    raced (int): Documents skipped because another build stored the same version meanwhile.
    mentions (int): Mentions stored.
    relations (int): Relations stored.
    """

    added: int = 0
    replaced: int = 0
    raced: int = 0
    mentions: int = 0
    relations: int = 0


@dataclass
class RemoveStats:
    """What `remove_documents` deleted.

    documents (List[Tuple[str, Optional[int], Optional[str]]]): The documents removed, as
        (source, line, id).
    mentions (int): Mentions deleted.
    relations (int): Relations deleted.
    entities (int): Entities deleted because no mention of them was left (by the resolution
        pass that follows; 0 without one).
    unmatched (List[str]): The selectors that matched no document, e.g. "id 'x'".
    """

    documents: List[Tuple[str, Optional[int], Optional[str]]] = field(default_factory=list)
    mentions: int = 0
    relations: int = 0
    entities: int = 0
    unmatched: List[str] = field(default_factory=list)


class Store(Protocol):
    """A knowledge base back end: its statements live in its module, or in sql.py where every
    back end writes them alike, and its tables are schema.py's.

    Error (Type[BaseException]): What its driver raises when a statement fails (sqlite3.Error),
        which callers report as a KBError that says what was kept.
    concurrent_writes (bool): Whether many processes may each write their own batches at once
        (PostgreSQL), rather than one writer storing every batch (SQLite).
    """

    concurrent_writes: bool

    @property
    def Error(self) -> Type[BaseException]:
        """The exception class of the driver."""

    def __enter__(self) -> "Store":
        """The store itself, closed (without discarding) on leaving the block."""

    def __exit__(self, *exc_info: Any) -> None:
        """Close the store."""

    def known(self, records: Sequence[Record]) -> List[bool]:
        """Per record, whether its identity is stored with the same text, in one look-up for
        all of them (then a record whose source or line moved gets its new place stored)."""

    def write_batch(self, batch: Sequence[Tuple[Record, DocRows]]) -> WriteCounts:
        """Store documents with their rows, all of them or none: a document whose identity is
        stored with another text replaces it; with the same text it is skipped (raced)."""

    def remove(self, sources: Iterable[str], ids: Iterable[str]) -> RemoveStats:
        """Remove, all at once, the documents read from `sources` or with these `ids`."""

    def entities(self, norm: str, label: Optional[str]) -> List[Dict[str, Any]]:
        """The resolved entities with an alias of this normalised name (and label), with their
        aliases, mentions and relations."""

    def graph(self) -> Graph:
        """The entity graph: resolved entities as nodes (with their aliases), and edges merged
        per (head, tail, label)."""

    def mentions(self) -> Iterator[Dict[str, Any]]:
        """Every mention, in id order: "document" (its document's JSONL id where it has one, else
        SOURCE:LINE), "start_char", "end_char", "text", "label", "entity_id" and "canonical" (the
        entity's name; both None while unresolved)."""

    def entity_table(self) -> Iterator[Dict[str, Any]]:
        """Every resolved entity, in id order: ENTITY_FIELDS and "aliases" ({alias name: mention_count})."""

    def pending(self) -> Tuple[int, int]:
        """What waits for a resolution pass: the unresolved mentions, and the names whose
        mentions were removed since the last pass."""

    def resolution(self) -> ContextManager[Any]:
        """A transaction for a resolution pass (resolution.py) or a migration, as an sql.Session:
        nothing else writes the knowledge base until it ends; committed on leaving the block,
        rolled back on an error."""

    def upgrade(self) -> Optional[str]:
        """Convert a knowledge base of an older schema version (schema.UPGRADABLE) to this one,
        in one transaction (migrate.py); the store must have been opened with `upgrade`.
        Returns the version it had, or None if it had this one."""

    def close(self, *, discard_if_empty: bool = False) -> None:
        """Close the database; with `discard_if_empty`, remove it if this store created it and
        it holds no document."""


def merge_edges(relations: Iterable[Tuple[int, int, str, float]]) -> List[Dict[str, Any]]:
    """Merge relations into the graph's edges, one per (head, tail, label), the same way for
    every back end: the mean with math.fsum, so that it does not depend on the summation order
    of a database's AVG.

    relations (Iterable[Tuple[int, int, str, float]]): (head entity, tail entity, label,
        confidence), sorted by (head, tail, label).
    RETURNS (List[Dict[str, Any]]): The edges (EDGE_FIELDS).
    """
    edges = []
    for (head, tail, label), group in itertools.groupby(relations, key=lambda row: tuple(row[:3])):
        confidences = [row[3] for row in group]
        values = (head, tail, label, len(confidences), max(confidences), math.fsum(confidences) / len(confidences))
        edges.append(dict(zip(EDGE_FIELDS, values)))
    return edges


def describe_entities(
    entities: Iterable[Tuple[Any, ...]],
    aliases: Callable[[int], Iterable[Tuple[str, int]]],
    mentions: Callable[[int], Iterable[Tuple[Any, ...]]],
    relations: Callable[[int, str], Iterable[Tuple[Any, ...]]],
) -> List[Dict[str, Any]]:
    """What `Store.entities` returns, from rows a back end reads with its own SQL.

    entities (Iterable[Tuple[Any, ...]]): ENTITY_FIELDS per entity.
    aliases (Callable[[int], Iterable[Tuple[str, int]]]): An entity's aliases, as (name,
        mention_count), most mentioned first.
    mentions (Callable[[int], Iterable[Tuple[Any, ...]]]): An entity's mentions, as MENTION_FIELDS.
    relations (Callable[[int, str], Iterable[Tuple[Any, ...]]]): An entity's relations in one
        direction ("out": it is the head; "in": the tail), as RELATION_FIELDS.
    RETURNS (List[Dict[str, Any]]): Per entity: NODE_FIELDS, "mentions" and "relations" (each
        with its "direction").
    """
    found = []
    for entity in entities:
        ent_id = entity[0]
        found.append({
            **dict(zip(ENTITY_FIELDS, entity)),
            "aliases": dict(aliases(ent_id)),
            "mentions": [dict(zip(MENTION_FIELDS, row)) for row in mentions(ent_id)],
            "relations": [
                {"direction": direction, **dict(zip(RELATION_FIELDS, row))}
                for direction in ("out", "in") for row in relations(ent_id, direction)
            ],
        })
    return found


def match_stored(
    records: Sequence[Record], stored: Dict[str, Tuple[str, str, Optional[int]]]
) -> Tuple[List[bool], List[Tuple[str, Optional[int], str, str]]]:
    """Which records are stored with the same text, given what a store holds for their
    identities, and the new places of those stored elsewhere (a document with an id that moved).

    records (Sequence[Record]): The records looked up.
    stored (Dict[str, Tuple[str, str, Optional[int]]]): identity -> (sha256, source, line) of
        the stored documents among them.
    RETURNS (Tuple[List[bool], List[Tuple[str, Optional[int], str, str]]]): Per record, whether
        it is stored; and (source, line, identity, sha256) per record whose place to update.
    """
    known, moved = [], []
    for record in records:
        sha256, source, line = stored.get(record.identity, (None, None, None))
        known.append(sha256 == record.sha256)
        if sha256 == record.sha256 and (source, line) != (record.source, record.line):
            moved.append((record.source, record.line, record.identity, record.sha256))
    return known, moved


def normalize(name: str) -> str:
    """The key a name is looked up and stored by: case-folded, whitespace collapsed.

    name (str): An entity name.
    RETURNS (str): The key.
    """
    return " ".join(name.split()).casefold()

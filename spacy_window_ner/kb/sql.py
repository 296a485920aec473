"""The statements that are the same on every back end, written once: reading an entity with its
aliases, mentions and relations (`Store.entities`), the graph's nodes and edges (`Store.graph`),
the mention and entity tables (`Store.mentions`, `Store.entity_table`), choosing the documents to
remove, the names and blocking keys a batch stores, and every statement of a resolution pass
(resolution.py) and of the migration from an older schema (migrate.py). A back end makes its
`Queries` with what its database and driver write their own way: the parameter placeholder
(sqlite3's "?", psycopg's "%s"), how text is ordered byte-wise (SQLite's default; COLLATE "C" in
PostgreSQL) and how a temporary table is made; and hands resolution and migration a `Session`.
"""
import itertools
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

from ..inputs import location
from .store import ENTITY_FIELDS, describe_entities

# A connection's or cursor's execute: (statement, parameters) -> a cursor with fetchall.
Execute = Callable[[str, Sequence[Any]], Any]
ExecuteMany = Callable[[str, Sequence[Sequence[Any]]], Any]
# (statement, parameters) -> its rows, fetched a chunk at a time (a server-side cursor where the
# driver would otherwise fetch them all at once).
Stream = Callable[[str, Sequence[Any]], Iterator[Tuple[Any, ...]]]
Place = Tuple[str, Optional[int], Optional[str]]  # (source, line, doc_id) of a document
NameKey = Tuple[str, str, str]  # (blocking key, norm, label): a row of name_keys
Name = Tuple[str, str]  # (norm, label)


@dataclass(frozen=True)
class Queries:
    """The shared statements in one back end's placeholder and text order (see `Queries.of`).

    entity (str): The entities with an alias of a normalised name (one parameter), without ORDER BY.
    entity_label (str): `entity` narrowed to a label (a second parameter), without ORDER BY.
    by_label (str): Ends `entity` or `entity_label`: ordered by label, then id.
    aliases (str): An entity's aliases as (name, mention_count), most mentioned first.
    mentions (str): An entity's mentions, as store.MENTION_FIELDS (the entity's id).
    relations (Dict[str, str]): By direction ("out": the entity is the head; "in": the tail),
        its relations as store.RELATION_FIELDS (the entity's id).
    entity_table (str): Every entity (store.ENTITY_FIELDS) with one of its aliases (name,
        mention_count; NULL for none) a row, ordered by entity id.
    edges (str): Every relation between resolved mentions as (head entity, tail entity, label,
        confidence), sorted for store.merge_edges.
    mention_table (str): Every mention in id order as (doc_id, source, line, start_char,
        end_char, text, label, entity_id, canonical).
    pending (str): The number of unresolved mentions and of stale names.
    documents (Dict[str, str]): By column ("source" or "doc_id"), the documents with that
        value (one parameter), as (id, source, line, doc_id).
    move (str): Give a stored document a new place: (source, line, identity, sha256).
    stale (str): Record the names of a document's mentions as stale (the document's id).
    add_keys (str): Insert a row of name_keys (key, norm, label), if new.
    todo_table (str): Create the temporary table a resolution pass works through.
    order (str): Written after a text column in ORDER BY to order it byte-wise.
    mark (str): The parameter placeholder.
    """

    entity: str
    entity_label: str
    by_label: str
    aliases: str
    mentions: str
    relations: Dict[str, str]
    entity_table: str
    edges: str
    mention_table: str
    pending: str
    documents: Dict[str, str]
    move: str
    stale: str
    add_keys: str
    todo_table: str
    order: str
    mark: str

    @classmethod
    def of(cls, mark: str, bytewise: str = "", *, key: str, temporary: str = "") -> "Queries":
        """The statements as a back end writes them.

        mark (str): The parameter placeholder of its driver's paramstyle ("?" or "%s").
        bytewise (str): Written after a text column in ORDER BY to order it byte-wise: "" where
            that is the default (SQLite), ' COLLATE "C"' in PostgreSQL.
        key (str): The type of an id numbered by the database (as in schema.schema).
        temporary (str): Written after a temporary table's columns: PostgreSQL drops it at
            the end of the transaction with " ON COMMIT DROP".
        RETURNS (Queries): The statements.
        """
        entity = (
            "SELECT e.id, e.name, e.label, e.mention_count, e.external_id FROM entities e "
            f"WHERE e.id IN (SELECT entity_id FROM aliases WHERE norm = {mark})"
        )
        relations = {
            direction: (
                f"SELECT r.label, e.name, e.label, r.confidence, d.source, d.line, d.doc_id FROM relations r "
                f"JOIN mentions this ON this.id = r.{this} JOIN mentions other ON other.id = r.{other} "
                f"JOIN entities e ON e.id = other.entity_id JOIN documents d ON d.id = r.doc_id "
                f"WHERE this.entity_id = {mark} ORDER BY r.id"
            )
            for direction, this, other in (("out", "head_mention", "tail_mention"), ("in", "tail_mention", "head_mention"))
        }
        return cls(
            entity=entity,
            entity_label=f"{entity} AND e.label = {mark}",
            by_label=f" ORDER BY e.label{bytewise}, e.id",
            aliases=f"SELECT name, mention_count FROM aliases WHERE entity_id = {mark} ORDER BY mention_count DESC, name{bytewise}",
            mentions=(
                "SELECT d.source, d.line, d.doc_id, m.text, m.confidence, m.sentence, "
                "m.start_char - m.sent_start_char, m.end_char - m.sent_start_char FROM mentions m "
                f"JOIN documents d ON d.id = m.doc_id WHERE m.entity_id = {mark} ORDER BY m.id"
            ),
            relations=relations,
            entity_table=(
                "SELECT e.id, e.name, e.label, e.mention_count, e.external_id, a.name, a.mention_count "
                "FROM entities e LEFT JOIN aliases a ON a.entity_id = e.id "
                f"ORDER BY e.id, a.mention_count DESC, a.name{bytewise}"
            ),
            edges=(
                "SELECT h.entity_id, t.entity_id, r.label, r.confidence FROM relations r "
                "JOIN mentions h ON h.id = r.head_mention JOIN mentions t ON t.id = r.tail_mention "
                "WHERE h.entity_id IS NOT NULL AND t.entity_id IS NOT NULL "
                f"ORDER BY h.entity_id, t.entity_id, r.label{bytewise}"
            ),
            mention_table=(
                "SELECT d.doc_id, d.source, d.line, m.start_char, m.end_char, m.text, m.label, m.entity_id, e.name "
                "FROM mentions m JOIN documents d ON d.id = m.doc_id LEFT JOIN entities e ON e.id = m.entity_id "
                "ORDER BY m.id"
            ),
            pending="SELECT (SELECT COUNT(*) FROM mentions WHERE entity_id IS NULL), (SELECT COUNT(*) FROM stale_names)",
            documents={
                column: f"SELECT id, source, line, doc_id FROM documents WHERE {column} = {mark} ORDER BY id"
                for column in ("source", "doc_id")
            },
            move=f"UPDATE documents SET source = {mark}, line = {mark} WHERE identity = {mark} AND sha256 = {mark}",
            stale=(
                "INSERT INTO stale_names (norm, label) SELECT DISTINCT norm, label FROM mentions "
                f"WHERE doc_id = {mark} ON CONFLICT DO NOTHING"
            ),
            add_keys=f"INSERT INTO name_keys (key, norm, label) VALUES ({mark}, {mark}, {mark}) ON CONFLICT DO NOTHING",
            todo_table=(
                f"CREATE TEMPORARY TABLE resolve_todo (id {key}, norm TEXT NOT NULL, label TEXT NOT NULL, "
                f"UNIQUE (norm, label)){temporary}"
            ),
            order=bytewise,
            mark=mark,
        )


@dataclass(frozen=True)
class Session:
    """One transaction of a back end, as a resolution pass (resolution.py) or a migration
    (migrate.py) uses it: nothing else writes the knowledge base until it ends.

    execute (Execute): Run a statement; the cursor it returns has fetchone and fetchall.
    executemany (ExecuteMany): Run a statement once per row of parameters.
    stream (Stream): Run a query and read its rows a chunk at a time.
    queries (Queries): The back end's statements.
    """

    execute: Execute
    executemany: ExecuteMany
    stream: Stream
    queries: Queries


def read_entities(execute: Execute, queries: Queries, norm: str, label: Optional[str]) -> List[Dict[str, Any]]:
    """What `Store.entities` returns, read with a back end's statements.

    execute (Execute): Its connection's execute.
    queries (Queries): Its statements.
    norm (str): The normalised name (store.normalize) of any alias of the entity.
    label (Optional[str]): Only entities with this label.
    RETURNS (List[Dict[str, Any]]): See store.describe_entities.
    """
    sql, args = (queries.entity, [norm]) if label is None else (queries.entity_label, [norm, label])

    def aliases(ent_id: int) -> Iterable[Tuple[Any, ...]]:
        return execute(queries.aliases, (ent_id,)).fetchall()

    def mentions(ent_id: int) -> Iterable[Tuple[Any, ...]]:
        return execute(queries.mentions, (ent_id,)).fetchall()

    def relations(ent_id: int, direction: str) -> Iterable[Tuple[Any, ...]]:
        return execute(queries.relations[direction], (ent_id,)).fetchall()

    return describe_entities(execute(sql + queries.by_label, args).fetchall(), aliases, mentions, relations)


def entity_rows(rows: Iterable[Tuple[Any, ...]]) -> Iterator[Dict[str, Any]]:
    """The entities of `Queries.entity_table`'s rows, each with its aliases.

    rows (Iterable[Tuple[Any, ...]]): The rows, in their order.
    YIELDS (Dict[str, Any]): Per entity: store.ENTITY_FIELDS and "aliases" ({alias name:
        mention_count}, most mentioned first).
    """
    width = len(ENTITY_FIELDS)
    for values, group in itertools.groupby(rows, key=lambda row: tuple(row[:width])):
        entity = dict(zip(ENTITY_FIELDS, values))
        entity["aliases"] = {row[width]: row[width + 1] for row in group if row[width] is not None}
        yield entity


def mention_rows(rows: Iterable[Tuple[Any, ...]]) -> Iterator[Dict[str, Any]]:
    """The mentions of `Queries.mention_table`'s rows, as `Store.mentions` yields them.

    rows (Iterable[Tuple[Any, ...]]): The rows, in their order.
    YIELDS (Dict[str, Any]): Per mention: "document" (its document's JSONL id where it has one,
        else SOURCE:LINE, or SOURCE for a whole file), "start_char", "end_char", "text",
        "label", "entity_id" and "canonical" (None while unresolved).
    """
    for doc_id, source, line, start, end, text, label, entity_id, canonical in rows:
        yield {
            "document": doc_id if doc_id is not None else location(source, line), "start_char": start,
            "end_char": end, "text": text, "label": label, "entity_id": entity_id, "canonical": canonical,
        }


def choose_documents(
    execute: Execute, queries: Queries, sources: Iterable[str], ids: Iterable[str]
) -> Tuple[Dict[int, Place], List[str]]:
    """The documents to remove (`Store.remove`), read inside the caller's transaction.

    execute (Execute): The back end's execute.
    queries (Queries): Its statements.
    sources (Iterable[str]): Every document read from these inputs.
    ids (Iterable[str]): The documents with these JSONL ids.
    RETURNS (Tuple[Dict[int, Place], List[str]]): The documents by row id, and the selectors
        that matched none (e.g. "id 'x'").
    """
    chosen: Dict[int, Place] = {}
    unmatched = []
    for column, value in [("source", s) for s in sources] + [("doc_id", i) for i in ids]:
        rows = execute(queries.documents[column], (value,)).fetchall()
        if not rows:
            unmatched.append(f"{'source' if column == 'source' else 'id'} {value!r}")
        chosen.update((row[0], tuple(row[1:])) for row in rows)
    return chosen, unmatched

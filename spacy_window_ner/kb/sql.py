"""The statements that are the same on every back end, written once: reading an entity with its
mentions and relations (`Store.entities`), the graph's nodes and edges (`Store.graph`), and
choosing the documents to remove. A back end makes its `Queries` with what its database and
driver write their own way: the parameter placeholder (sqlite3's "?", psycopg's "%s") and how
text is ordered byte-wise (SQLite's default; COLLATE "C" in PostgreSQL).
"""
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from .store import describe_entities

# A connection's or cursor's execute: (statement, parameters) -> a cursor with fetchall.
Execute = Callable[[str, Sequence[Any]], Any]
Place = Tuple[str, Optional[int], Optional[str]]  # (source, line, doc_id) of a document


@dataclass(frozen=True)
class Queries:
    """The shared statements in one back end's placeholder and text order (see `Queries.of`).

    entity (str): The entities with a normalised name (one parameter), without ORDER BY.
    entity_label (str): `entity` narrowed to a label (a second parameter), without ORDER BY.
    by_label (str): Ends `entity` or `entity_label`: ordered by label.
    mentions (str): An entity's mentions, as store.MENTION_FIELDS (the entity's id).
    relations (Dict[str, str]): By direction ("out": the entity is the head; "in": the tail),
        its relations as store.RELATION_FIELDS (the entity's id).
    nodes (str): The graph's nodes, as store.NODE_FIELDS.
    edges (str): Every relation as (head, tail, label, confidence), sorted for store.merge_edges.
    documents (Dict[str, str]): By column ("source" or "doc_id"), the documents with that
        value (one parameter), as (id, source, line, doc_id).
    move (str): Give a stored document a new place: (source, line, identity, sha256).
    """

    entity: str
    entity_label: str
    by_label: str
    mentions: str
    relations: Dict[str, str]
    nodes: str
    edges: str
    documents: Dict[str, str]
    move: str

    @classmethod
    def of(cls, mark: str, bytewise: str = "") -> "Queries":
        """The statements as a back end writes them.

        mark (str): The parameter placeholder of its driver's paramstyle ("?" or "%s").
        bytewise (str): Written after a text column in ORDER BY to order it byte-wise: "" where
            that is the default (SQLite), ' COLLATE "C"' in PostgreSQL.
        RETURNS (Queries): The statements.
        """
        entity = f"SELECT id, name, label, mention_count FROM entities WHERE norm = {mark}"
        relations = {
            direction: (
                f"SELECT r.label, e.name, e.label, r.confidence, d.source, d.line, d.doc_id FROM relations r "
                f"JOIN entities e ON e.id = r.{other} JOIN documents d ON d.id = r.doc_id "
                f"WHERE r.{this} = {mark} ORDER BY r.id"
            )
            for direction, this, other in (("out", "head_entity", "tail_entity"), ("in", "tail_entity", "head_entity"))
        }
        return cls(
            entity=entity,
            entity_label=f"{entity} AND label = {mark}",
            by_label=f" ORDER BY label{bytewise}",
            mentions=(
                "SELECT d.source, d.line, d.doc_id, m.text, m.confidence, m.sentence, "
                "m.start_char - m.sent_start_char, m.end_char - m.sent_start_char FROM mentions m "
                f"JOIN documents d ON d.id = m.doc_id WHERE m.entity_id = {mark} ORDER BY m.id"
            ),
            relations=relations,
            nodes="SELECT id, name, label, mention_count FROM entities ORDER BY id",
            edges=(
                "SELECT head_entity, tail_entity, label, confidence FROM relations "
                f"ORDER BY head_entity, tail_entity, label{bytewise}"
            ),
            documents={
                column: f"SELECT id, source, line, doc_id FROM documents WHERE {column} = {mark} ORDER BY id"
                for column in ("source", "doc_id")
            },
            move=f"UPDATE documents SET source = {mark}, line = {mark} WHERE identity = {mark} AND sha256 = {mark}",
        )


def read_entities(execute: Execute, queries: Queries, norm: str, label: Optional[str]) -> List[Dict[str, Any]]:
    """What `Store.entities` returns, read with a back end's statements.

    execute (Execute): Its connection's execute.
    queries (Queries): Its statements.
    norm (str): The normalised name (store.normalize).
    label (Optional[str]): Only entities with this label.
    RETURNS (List[Dict[str, Any]]): See store.describe_entities.
    """
    sql, args = (queries.entity, [norm]) if label is None else (queries.entity_label, [norm, label])

    def mentions(ent_id: int) -> Iterable[Tuple[Any, ...]]:
        return execute(queries.mentions, (ent_id,)).fetchall()

    def relations(ent_id: int, direction: str) -> Iterable[Tuple[Any, ...]]:
        return execute(queries.relations[direction], (ent_id,)).fetchall()

    return describe_entities(execute(sql + queries.by_label, args).fetchall(), mentions, relations)


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

"""Reading a knowledge base: one resolved entity (found by any of its aliases) with its mentions
and relations, the entity graph, and what waits for a resolution pass."""
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

from .backends import open_store
from .store import Graph, normalize


def query_entity(db: Union[str, Path], name: str, *, label: Optional[str] = None) -> List[Dict[str, Any]]:
    """Look a resolved entity up by any of its aliases (compared after normalising case and
    whitespace).

    db (Union[str, Path]): The database: a SQLite file or a postgresql:// URL.
    name (str): A name of the entity: its canonical name or any alias.
    label (Optional[str]): Only entities with this label.
    RETURNS (List[Dict[str, Any]]): One dict per matching entity (an alias may name several),
        with "id", "name" (canonical), "label", "mention_count", "external_id", "aliases"
        ({alias: mention_count}), "mentions" ("source", "line", "doc_id" (the document's JSONL
        "id", or None), "text", "confidence", "sentence", and the mention's character offsets in
        it, "start_in_sentence" and "end_in_sentence") and "relations" ("direction" "out" or
        "in", "label", "other" (the other entity's canonical name), "other_label",
        "confidence", "source", "line", "doc_id").
    """
    with open_store(db, readonly=True) as store:
        return store.entities(normalize(name), label)


def read_graph(db: Union[str, Path]) -> Graph:
    """The entity graph: resolved entities as nodes, relations merged per (head, tail, label) as
    edges (relations of unresolved mentions are left out).

    db (Union[str, Path]): The database: a SQLite file or a postgresql:// URL.
    RETURNS (Graph): Nodes ("id", "name", "label", "mention_count", "external_id", "aliases")
        and edges ("source", "target", "label", "count", "max_confidence", "mean_confidence").
    """
    with open_store(db, readonly=True) as store:
        return store.graph()


def pending(db: Union[str, Path]) -> Tuple[int, int]:
    """What waits for a resolution pass (`kb resolve`): queries and exports don't show it yet.

    db (Union[str, Path]): The database: a SQLite file or a postgresql:// URL.
    RETURNS (Tuple[int, int]): The unresolved mentions, and the names whose mentions were
        removed since the last pass.
    """
    with open_store(db, readonly=True) as store:
        return store.pending()

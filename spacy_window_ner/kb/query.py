"""Reading a knowledge base: one entity with its mentions and relations, and the entity graph."""
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

from .backends import open_store
from .store import Graph, normalize


def query_entity(db: Union[str, Path], name: str, *, label: Optional[str] = None) -> List[Dict[str, Any]]:
    """Look an entity up by name (compared after normalising case and whitespace).

    db (Union[str, Path]): The database: a SQLite file or a postgresql:// URL.
    name (str): The entity name.
    label (Optional[str]): Only entities with this label.
    RETURNS (List[Dict[str, Any]]): One dict per matching entity (one per label), with "id",
        "name", "label", "mention_count", "mentions" ("source", "line", "doc_id" (the
        document's JSONL "id", or None), "text", "confidence", "sentence", and the mention's
        character offsets in it, "start_in_sentence" and "end_in_sentence") and "relations"
        ("direction" "out" or "in", "label", "other", "other_label", "confidence", "source",
        "line", "doc_id").
    """
    with open_store(db, readonly=True) as store:
        return store.entities(normalize(name), label)


def read_graph(db: Union[str, Path]) -> Graph:
    """The entity graph: entities as nodes, relations merged per (head, tail, label) as edges.

    db (Union[str, Path]): The database: a SQLite file or a postgresql:// URL.
    RETURNS (Graph): Nodes ("id", "name", "label",
        "mention_count") and edges ("source", "target", "label", "count", "max_confidence",
        "mean_confidence").
    """
    with open_store(db, readonly=True) as store:
        return store.graph()

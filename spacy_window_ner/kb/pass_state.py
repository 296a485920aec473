"""What the two halves of a resolution pass share: the pass's state (its session, links,
settings, vectors and `ResolveStats`) and the reads and writes both make (`PassState`). The pass
(resolution.py) resolves components whole; the placement (placement.py) places new mentions
without resolving their components again. Both find a name's component (`PassState.components`),
read mentions as `MentionRecord`s (`PassState.records`), read with IN lists of bounded length
(`PassState.select_in`), and write the rows they change in place (`PassState.write_rows`).
"""
import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Set, Tuple

import numpy

from .links import Links
from .resolve import Context, MentionRecord, ProfileSum, ResolveSettings, context_features, summed_features
from .resolve.names import parse_name
from .sql import Name, Session

# A name's row of resolved_names, as the placement reads and writes it: its key (name_key), its
# entity (an ambiguous name's own entity, if it has one), and an ambiguous name's candidates.
NameRow = Tuple[str, Optional[int], Optional[List[int]]]

IN_LIST = 400  # values per IN list (SQLite builds before 3.32 allow 999 parameters)
Vectors = Callable[[Sequence[str]], numpy.ndarray]
Ambiguity = Tuple[str, str, List[str]]


@dataclass
class ResolveStats:
    """What a resolution pass did.

    from_scratch (bool): Whether it resolved every mention.
    components (int): Components resolved.
    mentions (int): Mentions in them.
    entities (int): Entities they hold now.
    merged (int): Of those, entities known by more than one name.
    created (int): Entities created.
    deleted (int): Entities deleted (their mentions went to others, or were removed).
    total_entities (int): Entities in the knowledge base after the pass.
    placed (int): New mentions placed without resolving their component again (their name
        was resolved before: see `Placement`, placement.py).
    inserted (int): Components whose new names `Placement` placed into their kept
        clustering by scoring them against the known names they share a blocking key with
        (`resolve.insert_names`).
    reclustered (int): Components whose names it clustered again to place their new names
        (where insertion could not show it gives the same).
    ambiguous (List[Tuple[str, str, List[str]]]): (alias, label, the canonical names it may
        mean) as `Resolution.ambiguous` reported them.
    seconds (float): Wall time of the pass.
    """

    from_scratch: bool = False
    components: int = 0
    mentions: int = 0
    entities: int = 0
    merged: int = 0
    created: int = 0
    deleted: int = 0
    total_entities: int = 0
    placed: int = 0
    inserted: int = 0
    reclustered: int = 0
    ambiguous: List[Ambiguity] = field(default_factory=list)
    seconds: float = 0.0


class PassState:
    """One resolution pass's state inside the store's transaction, and the reads and writes that
    the pass (resolution.py) and its placement of new mentions (placement.py) both make.

    session (Session): The store's transaction.
    links (Links): The decisions and alias entries, read once per pass.
    settings (ResolveSettings): The pass's settings.
    vectors (Optional[Vectors]): Words -> their mean static vector, for the context signal.
    """

    def __init__(self, session: Session, links: Links, settings: ResolveSettings, vectors: Optional[Vectors]) -> None:
        self.session = session
        self.q = session.queries
        self.links = links
        self.settings = settings
        self.vectors = vectors
        self.stats = ResolveStats()
        # Profile sums are kept (entity_profiles) for passes that compare contexts without vectors.
        self.profiles = settings.context and vectors is None
        self.made: List[int] = []  # entities the placement made for clusters of new names

    def select_in(self, query: str, values: Iterable[Any], suffix: str = "") -> List[Tuple[Any, ...]]:
        """The rows of `query`, which ends with a column that must be one of `values` (then
        `suffix`, such as a GROUP BY): run with an IN list of at most IN_LIST values at a time.

        query (str): The query, up to the column the IN list is of.
        values (Iterable[Any]): The values the column may have (repeats are read once).
        suffix (str): What follows the IN list.
        RETURNS (List[Tuple[Any, ...]]): The rows, of one IN list after another.
        """
        values = sorted(set(values))
        rows: List[Tuple[Any, ...]] = []
        for start in range(0, len(values), IN_LIST):
            chunk = values[start : start + IN_LIST]
            marks = ", ".join([self.q.mark] * len(chunk))
            rows.extend(tuple(row) for row in self.session.execute(f"{query} IN ({marks}){suffix}", chunk).fetchall())
        return rows

    def components(self, seeds: List[Name]) -> List[List[Name]]:
        """The components of the seeds: the names linked to each, directly or not, by a shared
        blocking key or a decision, explored breadth first for all seeds at once.

        seeds (List[Name]): The names to start from.
        RETURNS (List[List[Name]]): The components, each a sorted list of names.
        """
        parent: Dict[Any, Any] = {}

        def find(node: Any) -> Any:
            root = parent.setdefault(node, node)
            while parent[root] != root:
                root = parent[root]
            while parent[node] != root:
                parent[node], node = root, parent[node]
            return root

        def union(a: Any, b: Any) -> None:
            parent[find(a)] = find(b)

        names: Set[Name] = set(seeds)
        frontier: Set[Name] = set(seeds)
        seen_keys: Set[str] = set()
        while frontier:
            reached: Set[Name] = set()
            new_keys: Set[str] = set()
            stored = self.select_in("SELECT norm, label, key FROM name_keys WHERE norm", (n for n, _ in frontier))
            have = {(norm, label) for norm, label, _ in stored}  # a name's rows hold all its keys
            computed = [(norm, label, key) for norm, label in frontier - have for key in self.links.keys((norm, label))]
            for norm, label, key in stored + computed:
                if (norm, label) in frontier:
                    union((norm, label), (key,))  # a key is a node of its own: a 1-tuple
                    if key not in seen_keys:
                        new_keys.add(key)
            for name in frontier:
                find(name)
                for other in self.links.linked(name):
                    union(name, other)
                    reached.add(other)
            seen_keys |= new_keys
            for key, norm, label in self.select_in("SELECT key, norm, label FROM name_keys WHERE key", new_keys):
                union((key,), (norm, label))
                reached.add((norm, label))
            frontier = reached - names
            names |= frontier
        groups: Dict[Any, List[Name]] = defaultdict(list)
        for name in names:
            groups[find(name)].append(name)
        return sorted(sorted(group) for group in groups.values())

    def records(self, rows: List[Tuple[Any, ...]]) -> List[MentionRecord]:
        """The MentionRecords of mention rows, in id order, with the names of the other mentions
        of their documents and the relations they take part in.

        rows (List[Tuple[Any, ...]]): Mention rows of `mention_columns`.
        RETURNS (List[MentionRecord]): Their records.
        """
        neighbours: Dict[int, List[Tuple[int, str]]] = defaultdict(list)
        relations: Dict[int, List[Tuple[str, str]]] = defaultdict(list)
        documents = {row[1] for row in rows}
        for doc_id, mention_id, norm in self.select_in("SELECT doc_id, id, norm FROM mentions WHERE doc_id", documents):
            neighbours[doc_id].append((mention_id, norm))
        for label, head, tail, head_norm, tail_norm in self.select_in(
            "SELECT r.label, r.head_mention, r.tail_mention, h.norm, t.norm FROM relations r "
            "JOIN mentions h ON h.id = r.head_mention JOIN mentions t ON t.id = r.tail_mention WHERE r.doc_id",
            documents,
        ):
            relations[head].append((label, tail_norm))
            relations[tail].append((label, head_norm))
        return [
            MentionRecord(
                id=mention_id, document=doc_id, text=text, label=label, sentence=sentence, start=start, end=end,
                neighbours=tuple(sorted(norm for other, norm in neighbours[doc_id] if other != mention_id)),
                relations=tuple(sorted(relations.get(mention_id, []))),
            )
            for mention_id, doc_id, text, label, sentence, start, end, _, _ in sorted(rows)
        ]

    @property
    def mention_columns(self) -> str:
        """The columns of a mention row (`records`), of mentions m."""
        return (
            "m.id, m.doc_id, m.text, m.label, m.sentence, m.start_char - m.sent_start_char, "
            "m.end_char - m.sent_start_char, m.entity_id, m.norm"
        )

    def write_rows(
        self, table: str, keys: Sequence[str], columns: Sequence[str], old: Dict[Any, Tuple[Any, ...]], new: Dict[Any, Tuple[Any, ...]]
    ) -> None:
        """Replace some rows of a table, by their key: rows that stay the same are left as they
        are, changed ones updated in place, and the others deleted or inserted. A row updated in
        place keeps its place in the table and in the indexes of columns it keeps, so a pass
        writes fewer pages than deleting every row and inserting it again (in a big base each
        row of a component is on a page of its own).

        table (str): The table.
        keys (Sequence[str]): The columns of its key.
        columns (Sequence[str]): The other columns.
        old (Dict[Any, Tuple[Any, ...]]): The rows now (key values -> the other columns' values).
        new (Dict[Any, Tuple[Any, ...]]): The rows to have instead.
        """
        mark, executemany = self.q.mark, self.session.executemany
        where = " AND ".join(f"{key} = {mark}" for key in keys)
        executemany(f"DELETE FROM {table} WHERE {where}", sorted(key for key in old if key not in new))
        executemany(
            f"UPDATE {table} SET {', '.join(f'{column} = {mark}' for column in columns)} WHERE {where}",
            [(*values, *key) for key, values in sorted(new.items()) if key in old and old[key] != values],
        )
        executemany(
            f"INSERT INTO {table} ({', '.join((*keys, *columns))}) VALUES ({', '.join([mark] * (len(keys) + len(columns)))})",
            [(*key, *values) for key, values in sorted(new.items()) if key not in old],
        )

    @property
    def keep_profile(self) -> str:
        """The statement that keeps a profile sum: a row of entity_profiles."""
        mark = self.q.mark
        return (
            "INSERT INTO entity_profiles (entity_id, first_mention, last_mention, mentions, features) "
            f"VALUES ({mark}, {mark}, {mark}, {mark}, {mark})"
        )

    @property
    def keep_name(self) -> str:
        """The statement that keeps where a name's mentions go: a row of resolved_names."""
        mark = self.q.mark
        return (
            "INSERT INTO resolved_names (norm, label, key, entity_id, candidates, written) "
            f"VALUES ({mark}, {mark}, {mark}, {mark}, {mark}, {mark})"
        )


class PassPart:
    """A part of a resolution pass that works on its state (the placement of new mentions, the
    learning of new names): the pass, and its session, placeholders, links, settings, vectors
    and stats under the same names.

    pass_ (PassState): The pass.
    """

    def __init__(self, pass_: PassState) -> None:
        self.pass_ = pass_
        self.session = pass_.session
        self.q = pass_.q
        self.links = pass_.links
        self.settings = pass_.settings
        self.vectors = pass_.vectors
        self.stats = pass_.stats


def profile_sum(sample: List[MentionRecord], contexts: Dict[int, Context]) -> ProfileSum:
    """The profile sum of sample mentions (sorted by id), their contexts taken from `contexts`
    where there (computed and added there where not).

    sample (List[MentionRecord]): The mentions.
    contexts (Dict[int, Context]): The contexts computed so far, by mention id; filled in.
    RETURNS (ProfileSum): Their summed context features, with their first and last ids and count.
    """
    for record in sample:
        if record.id not in contexts:
            contexts[record.id] = (context_features(record), None)
    return ProfileSum(sample[0].id, sample[-1].id, len(sample), summed_features([contexts[r.id][0] for r in sample]))


def profile_row(profile: ProfileSum) -> Tuple[Any, ...]:
    """A profile sum as a row of entity_profiles, without its entity id.

    profile (ProfileSum): The sum.
    RETURNS (Tuple[Any, ...]): (first mention, last mention, count, the summed features as JSON).
    """
    return (profile.first, profile.id, profile.count, json.dumps(profile.features))


def reading(texts: Iterable[str], label: str) -> str:
    """The writing of a name that resolve reads it from: an acronym when one writing is (see
    resolve.cluster._make_group), else the first."""
    return min(texts, key=lambda text: (not parse_name(text, label).acronym, parse_name(text, label).words, text))


def candidates_json(candidates: Optional[Sequence[int]]) -> Optional[str]:
    """A name's candidate entities as resolved_names keeps them: a JSON list of sorted ids, or NULL."""
    return None if candidates is None else json.dumps(sorted(candidates))


def read_candidates(kept: Optional[str]) -> Optional[List[int]]:
    """A name's candidate entities from resolved_names (what candidates_json wrote): the ids, or
    None for a name that is not ambiguous."""
    return None if kept is None else json.loads(kept)

"""Resolving a knowledge base's mentions into entities, incrementally: the pass that reads what
changed from the store, calls `resolve.resolve` on it and writes the entities back.

A build stores each mention with no entity (`entity_id` NULL) and each name's blocking keys
(`links.name_key_rows`, in `name_keys`, with the entry keys of the kept alias entries that claim the
name); removing or replacing a document records its names in `stale_names`. A pass (`resolve_kb`) then, in ONE transaction of the store (`Store.resolution`:
no other writer meanwhile):
1. lists the changed names: those of unresolved mentions and the stale ones (every name, with
   `from_scratch`, whose blocking keys are computed again first);
2. expands each to its whole component: names sharing a blocking key (alias entries link their
   names through one), or named together by a decision (the locality rule of resolve's
   contract: a component's entities depend on its mentions only, so resolving a union of
   components gives each the same entities);
3. loads the component's mentions as `MentionRecord`s, with their sentence, the names of the
   other mentions of their document and the relations they take part in, all read from the
   stored rows; calls `resolve`; and replaces the component's entities, aliases and counts. An
   entity keeps its id when it keeps most of its mentions, so an unchanged partition keeps
   every id. It keeps where each name's mentions go (`resolve.Resolution.names`) in the
   resolved_names table.
An incremental pass first places what it can without step 3 (`_Pass.place_known`), in time
proportional to the new mentions: a new mention of a name in resolved_names goes where that
name's mentions go (an ambiguous name's, where its context says, compared only with mentions
before it: `resolve.place_by_context`), and a new name goes where inserting it into its
component's kept clustering puts it (`resolve.insert_names`, scored against the known names it
shares a blocking key with), or, where insertion can't show that is what clustering again gives,
where its component's names, clustered alone from their kept writings, put it, as long as every
known name keeps its place there. Only the components where that does not hold (a name's place changes, a document was
removed, an alias entry claims a name) are resolved again by steps 2 and 3. To compare a mention's
context with a candidate entity's first mentions, a pass reads the candidate's profile sum, one
row of the entity_profiles table (`resolve.ProfileSum`), not those mentions: a pass that resolves
a component keeps the sums of the entities its ambiguous names may mean, a sum of fewer than
PROFILE_MENTIONS mentions takes the mentions placed in its entity since when a pass next reads it,
and a sum a pass needs and lacks is made from the mentions; each is kept. Sums are kept for passes that compare contexts
without vectors; they are of mentions before the new ones, which a mention's window
(LOOKAHEAD) always takes whole in an incremental pass.
The names to do are kept in a temporary table and worked through a page (TODO_PAGE names) at a
time; a page's components are read and written together in loads of at most LOAD_MENTIONS
mentions (a bigger component alone) and resolved one by one, so memory holds one load whatever
the size of the knowledge base: the largest component bounds it (benchmarks/resolution/scale.py
measures it). Incremental passes and a pass from scratch give the same entities
(tests/test_kb_resolution.py).

The settings a pass used are kept in `meta` (`resolve_threshold`, `resolve_vectors`) and reused
by the next; a changed threshold, new alias entries or other vectors resolve from scratch.
A pass runs with fewer collections of Python's cyclic garbage collector (`_fewer_collections`),
and updates in place the rows it rewrites that stay (`_Pass._write_rows`).
"""
import gc
import json
import threading
import time
from collections import Counter, defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, FrozenSet, Iterable, Iterator, List, Optional, Sequence, Set, Tuple, Union

import numpy

from .resolve import (
    ENTITY_WEIGHT, LOOKAHEAD, PROFILE_MENTIONS, WINDOW, AliasEntry, Context, Decision, KeptName, MentionRecord, NamePlace, ProfileSum,
    ResolvedEntity, ResolveSettings, blocking_keys, context_features, insert_names, name_key, place_by_context, read_alias_file, resolve,
    summed_features,
)
from .links import Links, add_alias_entries, add_decisions, name_key_rows
from .resolve.names import parse_name
from .schema import ENTITY_PROFILES, RESOLVED_NAMES, statements
from .sql import Execute, Name, NameKey, Session
from .store import KBError, Store, normalize

THRESHOLD_KEY = "resolve_threshold"  # meta: the threshold of the last pass
VECTORS_KEY = "resolve_vectors"  # meta: the pipeline whose static vectors the last pass used
PROFILES_KEY = "resolve_profiles"  # meta: the profile rules that made the rows of entity_profiles
# Raise when resolve.context_features changes what it counts (its words, tables or weights).
PROFILE_RULES_VERSION = 1
TODO_PAGE = 256  # names to do whose components are found together
LOAD_MENTIONS = 20_000  # mentions of a page's components loaded and resolved together, at most
IN_LIST = 400  # values per IN list (SQLite builds before 3.32 allow 999 parameters)
# Allocations between two collections of the cyclic garbage collector's youngest generation
# during a pass (Python's default: 700); see `_fewer_collections`.
PASS_GC_ALLOCATIONS = 100_000
_GC_LOCK = threading.Lock()
_GC_PASSES = 0  # passes running in this process (threads), for _fewer_collections
_GC_BEFORE: Tuple[int, ...] = gc.get_threshold()  # the thresholds the first of them found
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
        was resolved before: see `_Pass.place_known`).
    inserted (int): Components whose new names `_Pass.place_known` placed into their kept
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


def resolve_kb(
    store: Store,
    *,
    from_scratch: bool = False,
    aliases: Sequence[Tuple[AliasEntry, str]] = (),
    threshold: Optional[float] = None,
    vectors: Optional[str] = None,
    decisions: Sequence[Decision] = (),
) -> ResolveStats:
    """Resolve what changed since the last pass (or everything), in one transaction.

    store (Store): The open store.
    from_scratch (bool): Resolve every mention again.
    aliases (Sequence[Tuple[AliasEntry, str]]): New alias entries to keep, each with where it
        was read (FILE:LINE); entries already kept are not added twice. Any new one resolves
        from scratch.
    threshold (Optional[float]): The pair score needed to join an entity; None keeps the one
        the last pass used (or resolve's default). Another than the last resolves from scratch.
    vectors (Optional[str]): A pipeline whose static vectors to use for context, kept for
        later passes; "" stops using vectors; None keeps the last pass's choice. Another than
        the last resolves from scratch.
    decisions (Sequence[Decision]): New curated decisions to keep (`kb merge`, `kb split`);
        the components of their names are resolved again.
    RETURNS (ResolveStats): What the pass did.
    """
    start = time.perf_counter()
    if vectors is None:  # the last pass's, loaded before the pass's transaction holds the lock
        with store.resolution() as session:
            vectors = _stored(session).get(VECTORS_KEY, "")
        vector_fn = _stored_vectors(vectors) if vectors else None
    else:
        vector_fn = pipeline_vectors(vectors) if vectors else None
    with store.resolution() as session:
        settings, changed = _settings(session, threshold, vectors)
        from_scratch = from_scratch or changed
        if add_alias_entries(session, aliases):
            from_scratch = True
        add_decisions(session, decisions)
        links = Links(session.execute)
        with _fewer_collections():
            stats = _Pass(session, links, settings, vector_fn).run(from_scratch)
    stats.seconds = time.perf_counter() - start
    return stats


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """Run a pass with the cyclic garbage collector's youngest generation collected every
    PASS_GC_ALLOCATIONS allocations rather than Python's default, then as before. A pass
    allocates many short-lived rows, sets and tuples, and makes few reference cycles (refcounts
    free the rest at once); at the default, the collections it set off took about a sixth of an
    incremental pass on a base of 1M mentions (0.39 s), more with the base, since each older
    collection scans every object the process holds (a loaded pipeline's too). Cycles are still
    collected, so memory stays bounded. A collector turned off (threshold 0) stays off. Passes
    running at once in threads of one process share the setting: the first to start sets it, the
    last to end puts back what the first found."""
    global _GC_PASSES, _GC_BEFORE
    with _GC_LOCK:
        if _GC_PASSES == 0:
            _GC_BEFORE = gc.get_threshold()
            if 0 < _GC_BEFORE[0] < PASS_GC_ALLOCATIONS:
                gc.set_threshold(PASS_GC_ALLOCATIONS, *_GC_BEFORE[1:])
        _GC_PASSES += 1
    try:
        yield
    finally:
        with _GC_LOCK:
            _GC_PASSES -= 1
            if _GC_PASSES == 0:
                gc.set_threshold(*_GC_BEFORE)


def pipeline_vectors(model: str) -> Vectors:
    """The mean static vector of some words, from a pipeline's vectors table (for the context
    signal of `resolve`).

    model (str): The pipeline's directory or installed package name.
    RETURNS (Vectors): words -> their mean vector (zeros where none has a vector).
    RAISES (KBError): The pipeline can't be loaded or has no vectors.
    """
    from ..loading import PipelineError, load_pipeline

    try:
        nlp = load_pipeline(model)
    except PipelineError as err:
        raise KBError(str(err)) from None
    vocab = nlp.vocab
    if vocab.vectors.shape[0] == 0 or vocab.vectors.shape[1] == 0:
        raise KBError(f"The pipeline {model} has no static vectors: give --vectors a pipeline that has them (such as en_core_web_md).")
    width = vocab.vectors.shape[1]

    def mean_vector(words: Sequence[str]) -> numpy.ndarray:
        rows = [numpy.asarray(vocab.get_vector(word)) for word in words if vocab.has_vector(word)]
        return numpy.mean(rows, axis=0) if rows else numpy.zeros((width,), dtype="float32")

    return mean_vector


def _stored_vectors(source: str) -> Vectors:
    """pipeline_vectors of the pipeline the last pass used, with a message that says how to do
    without it where it can't be loaded."""
    try:
        return pipeline_vectors(source)
    except KBError as err:
        raise KBError(
            f"The knowledge base is resolved with the static vectors of {source}, which can't be used here ({err}) "
            "Give `kb resolve --vectors` a pipeline that can, or --vectors '' to resolve without vectors."
        ) from None


def _stored(session: Session) -> Dict[str, str]:
    """The settings the last pass kept in meta."""
    rows = session.execute(f"SELECT key, value FROM meta WHERE key IN ('{THRESHOLD_KEY}', '{VECTORS_KEY}')", ())
    return dict(rows.fetchall())


def _settings(session: Session, threshold: Optional[float], vectors: str) -> Tuple[ResolveSettings, bool]:
    """The settings of this pass (kept in meta for the next), and whether they changed."""
    stored = _stored(session)
    default = ResolveSettings()
    old_threshold = float(stored[THRESHOLD_KEY]) if THRESHOLD_KEY in stored else None
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise KBError(f"--threshold must be between 0 and 1, not {threshold}.")
    new_threshold = threshold if threshold is not None else old_threshold if old_threshold is not None else default.threshold
    changed = (old_threshold is not None and new_threshold != old_threshold) or vectors != stored.get(VECTORS_KEY, "")
    for key, value in ((THRESHOLD_KEY, repr(new_threshold)), (VECTORS_KEY, vectors)):
        session.execute(f"DELETE FROM meta WHERE key = {session.queries.mark}", (key,))
        session.execute(f"INSERT INTO meta (key, value) VALUES ({session.queries.mark}, {session.queries.mark})", (key, value))
    return ResolveSettings(threshold=new_threshold), changed


class _Pass:
    """One resolution pass inside the store's transaction (see the module docstring). It works
    through the names to do a page at a time: the page's components are found, loaded and
    written together, with a few statements per page rather than per name (an IN list of at
    most IN_LIST values each), and resolved one component at a time."""

    def __init__(self, session: Session, links: Links, settings: ResolveSettings, vectors: Optional[Vectors]) -> None:
        self.session = session
        self.q = session.queries
        self.links = links
        self.settings = settings
        self.vectors = vectors
        self.stats = ResolveStats()
        # Profile sums are kept (entity_profiles) for passes that compare contexts without vectors.
        self.profiles = settings.context and vectors is None
        self.first_new = 0  # the smallest id of a new mention (`place_known`)
        self.made: List[int] = []  # entities made for clusters of new names (`_learn`)
        self.grown: Dict[Name, Tuple[str, Optional[int], Optional[List[int]]]] = {}  # their known names' new rows

    def run(self, from_scratch: bool) -> ResolveStats:
        execute, mark, order = self.session.execute, self.q.mark, self.q.order
        self.stats.from_scratch = from_scratch
        execute(self.q.drop_todo, ())
        execute(self.q.todo_table, ())
        for statement in statements(RESOLVED_NAMES) + statements(ENTITY_PROFILES):
            execute(statement, ())
        self._check_profiles(from_scratch)
        if from_scratch:
            execute("DELETE FROM resolved_names", ())
            self._recompute_keys()
            names = f"SELECT norm, label FROM mentions GROUP BY norm, label ORDER BY norm{order}, label{order}"
        else:
            names = (
                "SELECT norm, label FROM mentions WHERE entity_id IS NULL GROUP BY norm, label "
                f"ORDER BY norm{order}, label{order}"
            )
        execute(f"INSERT INTO resolve_todo (norm, label) {names}", ())
        execute(
            # WHERE: SQLite reads the ON of an upsert after a bare FROM as a join's.
            "INSERT INTO resolve_todo (norm, label) SELECT norm, label FROM stale_names WHERE 1 = 1 "
            f"ORDER BY norm{order}, label{order} ON CONFLICT DO NOTHING",
            (),
        )
        if not from_scratch:
            self.place_known()
        last = 0
        while True:
            # The names still to do: those of a component resolved earlier are deleted.
            page = execute(
                f"SELECT id, norm, label FROM resolve_todo WHERE id > {mark} ORDER BY id LIMIT {TODO_PAGE}", (last,)
            ).fetchall()
            if not page:
                break
            last = page[-1][0]
            for load in self._loads(self._components([(norm, label) for _, norm, label in page])):
                self._resolve_components(load)
        execute("DELETE FROM stale_names", ())
        for entity_id in self.made:  # unless made for names whose mentions the pass resolved after all
            self.stats.created += execute(
                f"DELETE FROM entities WHERE id = {mark} AND NOT EXISTS (SELECT 1 FROM mentions m WHERE m.entity_id = {mark})",
                (entity_id, entity_id),
            ).rowcount == 0
        if from_scratch:  # entities whose every mention was removed
            deleted = execute(
                "DELETE FROM entities WHERE NOT EXISTS (SELECT 1 FROM mentions m WHERE m.entity_id = entities.id)", ()
            ).rowcount
            self.stats.deleted += max(deleted, 0)
        execute(self.q.drop_todo, ())
        self.stats.total_entities = execute("SELECT COUNT(*) FROM entities", ()).fetchone()[0]
        self.stats.ambiguous.sort()
        return self.stats

    def _check_profiles(self, from_scratch: bool) -> None:
        """Empty entity_profiles when its rows can't be used: a pass from scratch, a pass with
        vectors or without context (which keeps none), or other profile rules than the rows'."""
        execute, mark = self.session.execute, self.q.mark
        rules = f"{PROFILE_RULES_VERSION} {PROFILE_MENTIONS} {WINDOW} {ENTITY_WEIGHT}" if self.profiles else ""
        row = execute(f"SELECT value FROM meta WHERE key = {mark}", (PROFILES_KEY,)).fetchone()
        if from_scratch or not self.profiles or row is None or row[0] != rules:
            execute("DELETE FROM entity_profiles", ())
            execute(f"DELETE FROM meta WHERE key = {mark}", (PROFILES_KEY,))
            execute(f"INSERT INTO meta (key, value) VALUES ({mark}, {mark})", (PROFILES_KEY, rules))

    def _recompute_keys(self) -> None:
        """Compute every name's blocking keys again (resolve's rules may have changed)."""
        self.session.execute("DELETE FROM name_keys", ())
        batch: List[Dict[str, Any]] = []
        for norm, label in self.session.stream("SELECT DISTINCT norm, label FROM mentions", ()):
            batch.append({"text": norm, "label": label})
            if len(batch) >= 10_000:
                self.session.executemany(self.q.add_keys, name_key_rows(batch, self.links.aliases))
                batch = []
        if batch:
            self.session.executemany(self.q.add_keys, name_key_rows(batch, self.links.aliases))

    def _in(self, query: str, values: Iterable[Any], suffix: str = "") -> List[Tuple[Any, ...]]:
        """The rows of `query`, which ends with a column that must be one of `values` (then
        `suffix`, such as a GROUP BY): run with an IN list of at most IN_LIST values at a time."""
        values = sorted(set(values))
        rows: List[Tuple[Any, ...]] = []
        for start in range(0, len(values), IN_LIST):
            chunk = values[start : start + IN_LIST]
            marks = ", ".join([self.q.mark] * len(chunk))
            rows.extend(tuple(row) for row in self.session.execute(f"{query} IN ({marks}){suffix}", chunk).fetchall())
        return rows

    def _loads(self, components: List[List[Name]]) -> Iterator[List[List[Name]]]:
        """The components of a page in loads of at most LOAD_MENTIONS mentions (a bigger
        component is a load of its own), so that memory holds one load, not the whole page: the
        names of a page can reach components that hold much of the knowledge base."""
        sizes: Counter = Counter()
        norms = {norm for names in components for norm, _ in names}
        for norm, label, count in self._in("SELECT norm, label, COUNT(*) FROM mentions WHERE norm", norms, " GROUP BY norm, label"):
            sizes[norm, label] += count
        load: List[List[Name]] = []
        size = 0
        for names in components:
            mentions = sum(sizes[name] for name in names)
            if load and size + mentions > LOAD_MENTIONS:
                yield load
                load, size = [], 0
            load.append(names)
            size += mentions
        if load:
            yield load

    def _components(self, seeds: List[Name]) -> List[List[Name]]:
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
            stored = self._in("SELECT norm, label, key FROM name_keys WHERE norm", (n for n, _ in frontier))
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
            for key, norm, label in self._in("SELECT key, norm, label FROM name_keys WHERE key", new_keys):
                union((key,), (norm, label))
                reached.add((norm, label))
            frontier = reached - names
            names |= frontier
        groups: Dict[Any, List[Name]] = defaultdict(list)
        for name in names:
            groups[find(name)].append(name)
        return sorted(sorted(group) for group in groups.values())

    def _resolve_components(self, components: List[List[Name]]) -> None:
        """Resolve the mentions of components, one component at a time, and replace their
        entities, aliases and counts."""
        execute, executemany, mark = self.session.execute, self.session.executemany, self.q.mark
        component_of = {name: i for i, names in enumerate(components) for name in names}
        norms = {norm for norm, _ in component_of}
        rows = [
            row for row in self._in(
                "SELECT id, doc_id, text, label, sentence, start_char - sent_start_char, end_char - sent_start_char, "
                "entity_id, norm FROM mentions WHERE norm",
                norms,
            )
            if (row[8], row[3]) in component_of
        ]
        old_entity = {row[0]: row[7] for row in rows}
        owned = {entity_id for entity_id in old_entity.values() if entity_id is not None}
        # Entities all of whose mentions were removed: nothing refers to them any more.
        owned.update(row[0] for row in self._in(
            "SELECT DISTINCT a.entity_id FROM aliases a "
            "WHERE NOT EXISTS (SELECT 1 FROM mentions m WHERE m.entity_id = a.entity_id) AND a.norm",
            norms,
        ))
        old_names = dict(self._in("SELECT id, name FROM entities WHERE id", owned))
        by_component: List[List[MentionRecord]] = [[] for _ in components]
        for record, row in zip(self._records(rows), sorted(rows)):
            by_component[component_of[row[8], row[3]]].append(record)
        entities: List[ResolvedEntity] = []
        places: Dict[Tuple[str, str], NamePlace] = {}
        name_of = {row[0]: (row[8], row[3]) for row in rows}
        sums: List[Tuple[int, Tuple[Any, ...]]] = []  # profile sums to keep, by their entity's first mention
        for names, records in zip(components, by_component):
            contexts: Dict[int, Context] = {}  # of the mentions profiles took: summed, then let go
            found, placed = self._resolve(names, records, contexts)
            entities.extend(found)
            places.update(placed)
            if self.profiles:
                sums.extend(self._profile_sums(placed, found, records, name_of, contexts))
        ids = self._entity_ids(entities, old_entity, old_names)
        updates: List[Tuple[Any, ...]] = []
        alias_rows: List[Tuple[Any, ...]] = []
        moved: List[Tuple[int, int]] = []
        for entity, entity_id in zip(entities, ids):
            values = (entity.label, entity.canonical, len(entity.mentions), entity.external_id)
            if entity_id is None:
                entity_id = execute(
                    f"INSERT INTO entities (label, name, mention_count, external_id) VALUES ({mark}, {mark}, {mark}, {mark}) RETURNING id",
                    values,
                ).fetchone()[0]
                self.stats.created += 1
            else:
                updates.append((*values, entity_id))
            alias_rows.extend((entity_id, norm, name, count) for norm, name, count in _alias_rows(entity))
            moved.extend((entity_id, mention) for mention in entity.mentions if old_entity.get(mention) != entity_id)
            self.stats.merged += len(entity.aliases) > 1
        executemany(
            f"UPDATE entities SET label = {mark}, name = {mark}, mention_count = {mark}, external_id = {mark} WHERE id = {mark}",
            updates,
        )
        old_aliases = {
            (entity_id, norm): (name, count)
            for entity_id, norm, name, count in self._in(
                "SELECT entity_id, norm, name, mention_count FROM aliases WHERE entity_id", [row[-1] for row in updates]
            )
        }
        new_aliases = {(entity_id, norm): (name, count) for entity_id, norm, name, count in alias_rows}
        self._write_rows("aliases", ("entity_id", "norm"), ("name", "mention_count"), old_aliases, new_aliases)
        executemany(f"UPDATE mentions SET entity_id = {mark} WHERE id = {mark}", moved)
        for entity_id in sorted(set(old_names) - set(ids)):
            deleted = execute(
                f"DELETE FROM entities WHERE id = {mark} AND NOT EXISTS (SELECT 1 FROM mentions m WHERE m.entity_id = {mark})",
                (entity_id, entity_id),
            ).rowcount
            self.stats.deleted += max(deleted, 0)
        mentioned = {(row[8], row[3]) for row in rows}
        executemany(f"DELETE FROM name_keys WHERE norm = {mark} AND label = {mark}", sorted(set(component_of) - mentioned))
        id_of = self._keep_places(component_of, mentioned, places, entities, ids, rows)
        if self.profiles:
            touched = sorted(set(old_names) | set(id_of.values()))
            executemany(f"DELETE FROM entity_profiles WHERE entity_id = {mark}", [(e,) for e in touched])
            executemany(self._keep_profile, [(id_of[first], *row) for first, row in sums])
        executemany(f"DELETE FROM resolve_todo WHERE norm = {mark} AND label = {mark}", sorted(component_of))
        self.stats.components += len(components)
        self.stats.mentions += len(rows)
        self.stats.entities += len(entities)

    def _resolve(
        self, names: List[Name], records: List[MentionRecord], contexts: Dict[int, Context]
    ) -> Tuple[List[ResolvedEntity], Dict[Tuple[str, str], NamePlace]]:
        """The entities of one component's mentions, with the alias entries and decisions
        about its names, and where each name's mentions go (`Resolution.names`); `contexts` is
        filled in with those of the mentions profiles took. A mention whose name is empty after
        name_key (only spaces or marks) can't be compared with any other: it is an entity of
        its own."""
        aliases = sorted(
            {id(e): e for norm, label in names for e in self.links.aliases.claiming(norm, label)}.values(),
            key=lambda e: e.line,
        )
        decisions = sorted({d for name in names for d in self.links.decisions_of(name)}, key=lambda d: (d.label, d.a, d.b))
        named = [record for record in records if name_key(record.text)]
        entities = [
            ResolvedEntity(record.label, " ".join(record.text.split()) or record.text, [record.id], {record.text: 1})
            for record in records if not name_key(record.text)
        ]
        places: Dict[Tuple[str, str], NamePlace] = {}
        if named:
            resolution = resolve(
                named, aliases=aliases, decisions=decisions, settings=self.settings, vectors=self.vectors, contexts=contexts
            )
            self.stats.ambiguous.extend(resolution.ambiguous)
            entities.extend(resolution.entities)
            places = resolution.names
        return sorted(entities, key=lambda entity: entity.mentions[0]), places

    def _keep_places(
        self,
        component_of: Dict[Name, int],
        mentioned: Set[Name],
        places: Dict[Tuple[str, str], NamePlace],
        entities: List[ResolvedEntity],
        ids: List[Optional[int]],
        rows: List[Tuple[Any, ...]],
    ) -> Dict[int, int]:
        """Keep where each mentioned name of resolved components goes (the resolved_names
        table), by entity id, for later passes to place new mentions with (`place_known`).

        RETURNS (Dict[int, int]): The id of each entity, by its first mention.
        """
        texts: Dict[Name, Set[str]] = defaultdict(set)
        for row in rows:
            texts[row[8], row[3]].add(row[2])
        id_of: Dict[int, int] = {}
        for entity, entity_id in zip(entities, ids):
            if entity_id is not None:
                id_of[entity.mentions[0]] = entity_id
        missing = [entity.mentions[0] for entity, entity_id in zip(entities, ids) if entity_id is None]
        if missing:  # the ids the entities created just now got
            for mention, entity_id in self._in("SELECT id, entity_id FROM mentions WHERE id", missing):
                id_of[mention] = entity_id
        old = {
            (norm, label): tuple(values)
            for norm, label, *values in self._in(
                "SELECT norm, label, key, entity_id, candidates, written FROM resolved_names WHERE norm", {n for n, _ in component_of}
            )
            if (norm, label) in component_of
        }
        kept: Dict[Name, Tuple[Any, ...]] = {}
        for norm, label in sorted(mentioned):
            place = places.get((name_key(norm), label))
            if place is None:  # a name of marks only: each of its mentions is an entity of its own
                continue
            own, candidates = place
            kept[norm, label] = (
                name_key(norm), None if own is None else id_of[own],
                _candidates_json(None if candidates is None else [id_of[c] for c in candidates]),
                _reading(texts[norm, label], label),
            )
        self._write_rows("resolved_names", ("norm", "label"), ("key", "entity_id", "candidates", "written"), old, kept)
        return id_of

    def _write_rows(
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

    @staticmethod
    def _profile_sums(
        places: Dict[Tuple[str, str], NamePlace],
        entities: List[ResolvedEntity],
        records: List[MentionRecord],
        name_of: Dict[int, Name],
        contexts: Dict[int, Context],
    ) -> List[Tuple[int, Tuple[Any, ...]]]:
        """The profile sums (rows of entity_profiles, without their entity id) of each entity
        that an ambiguous name of one resolved component may mean, among two or more: its first
        PROFILE_MENTIONS mentions of names that are not ambiguous, as `resolve.place_by_context`
        takes them.

        places (Dict[Tuple[str, str], NamePlace]): Where the component's names go.
        entities (List[ResolvedEntity]): Its entities.
        records (List[MentionRecord]): Its mentions.
        name_of (Dict[int, Name]): Each mention's (norm, label).
        contexts (Dict[int, Context]): The contexts resolve computed (others are computed).
        RETURNS (List[Tuple[int, Tuple[Any, ...]]]): (the entity's first mention, its row).
        """
        wanted = sorted({c for _, candidates in places.values() if candidates is not None and len(candidates) > 1 for c in candidates})
        if not wanted:
            return []
        by_id = {record.id: record for record in records}
        plain = {m for m in by_id if (places.get((name_key(name_of[m][0]), name_of[m][1])) or (None, ()))[1] is None}
        by_first = {entity.mentions[0]: entity for entity in entities}
        sums = []
        for first in wanted:
            sample = [by_id[m] for m in by_first[first].mentions if m in plain][:PROFILE_MENTIONS]
            if sample:
                sums.append((first, _Pass._profile_row(sample, contexts)))
        return sums

    @staticmethod
    def _profile_row(sample: List[MentionRecord], contexts: Dict[int, Context]) -> Tuple[Any, ...]:
        """The row of entity_profiles of sample mentions (sorted by id) without its entity id,
        their contexts taken from `contexts` where there (computed and added there where not)."""
        features = []
        for record in sample:
            if record.id not in contexts:
                contexts[record.id] = (context_features(record), None)
            features.append(contexts[record.id][0])
        return (sample[0].id, sample[-1].id, len(sample), json.dumps(summed_features(features)))

    @property
    def _keep_profile(self) -> str:
        mark = self.q.mark
        return (
            "INSERT INTO entity_profiles (entity_id, first_mention, last_mention, mentions, features) "
            f"VALUES ({mark}, {mark}, {mark}, {mark}, {mark})"
        )

    @property
    def _keep_name(self) -> str:
        mark = self.q.mark
        return (
            "INSERT INTO resolved_names (norm, label, key, entity_id, candidates, written) "
            f"VALUES ({mark}, {mark}, {mark}, {mark}, {mark}, {mark})"
        )

    def place_known(self) -> None:
        """Place the new mentions without resolving their components again, as a pass that
        resolved them would (and so one from scratch): what the pass does in time proportional
        to the new mentions, not to the knowledge base.

        A component gives the same clusters of names as long as its names are the same (and
        written the same way: a new writing can change how a name reads), so a new mention of a
        known name (resolved_names) goes where its name's mentions go: to its name's entity, or,
        for an ambiguous name, where its context says (`resolve.place_by_context`). New names
        are placed by `_learn` (or `_twins`). Then the ambiguous mentions of the last LOOKAHEAD
        ids, whose context may now hold new mentions, are placed again (`_place_recent`), and the
        entities that gained or lost mentions are counted again.

        The new mentions of a name are left to the pass (which resolves their whole component)
        when `_learn` can't place the name, when it is written a new way, is claimed by an alias
        entry, is not its own name_key (NFKC), or was removed from; when one of the entities its
        mentions may join has such a name (or its canonical name comes from an alias entry); or,
        for an ambiguous name, when a mention stays unplaced and the name has no entity of its
        own yet, or a name around a mention belongs to two of its candidates. A component the
        pass resolves again anyway has what was placed here redone.
        """
        execute, executemany, mark = self.session.execute, self.session.executemany, self.q.mark
        new = [tuple(row) for row in execute(
            "SELECT id, doc_id, text, label, sentence, start_char - sent_start_char, end_char - sent_start_char, "
            "entity_id, norm FROM mentions WHERE entity_id IS NULL ORDER BY id", (),
        ).fetchall()]
        # A first build (fewer mentions resolved than new ones) resolves its components: that
        # is faster in bulk, and gives the same entities.
        if not new or execute(f"SELECT 1 FROM mentions WHERE entity_id IS NOT NULL LIMIT 1 OFFSET {len(new) - 1}", ()).fetchone() is None:
            return
        self.first_new = new[0][0]
        known: Dict[Name, Tuple[str, Optional[int], Optional[List[int]]]] = {}
        for norm, label, key, entity_id, candidates in self._in(
            "SELECT norm, label, key, entity_id, candidates FROM resolved_names WHERE norm", {row[8] for row in new}
        ):
            known[norm, label] = (key, entity_id, None if candidates is None else json.loads(candidates))
        names: Dict[Name, List[Tuple[Any, ...]]] = defaultdict(list)
        for row in new:
            names[row[8], row[3]].append(row)
        stale = {tuple(row) for row in execute("SELECT norm, label FROM stale_names", ()).fetchall()}
        eligible: Dict[Name, List[Tuple[Any, ...]]] = {}
        for name, rows in names.items():
            state = known.get(name)
            if state is None or name in stale or state[0] != name[0] or not name_key(name[0]) or self.links.aliases.claiming(*name):
                continue
            texts = sorted({row[2] for row in rows})
            if all(self._written_before(name, text) for text in texts):
                eligible[name] = rows
        unknown = [name for name in names if name not in known and name not in stale]
        # Names mentioned before in another label can't be new keys of an entity's names: the
        # names around a mention count whatever their label (resolve.place_by_context).
        mentioned = {norm for norm, _ in self._in(
            "SELECT DISTINCT norm, label FROM mentions WHERE entity_id IS NOT NULL AND norm", {n for n, _ in unknown}
        )}
        unknown = [name for name in unknown if name[0] not in mentioned]
        learned = self._learn(unknown, names, stale)
        learned.update(self._twins([name for name in unknown if name not in learned], names))
        for name, state in learned.items():
            known[name] = state
            eligible[name] = names[name]
        known.update((name, state) for name, state in self.grown.items() if name in known)
        # The entities those names' mentions may join, checked: no alias entry's canonical name.
        reach = {e for name in eligible for e in self._reach(known[name])}
        alias_rows: Dict[int, Dict[str, Tuple[str, int]]] = defaultdict(dict)
        for entity_id, norm, alias, count in self._in("SELECT entity_id, norm, name, mention_count FROM aliases WHERE entity_id", reach):
            alias_rows[entity_id][norm] = (alias, count)
        entity_rows = {row[0]: row for row in self._in("SELECT id, label, name, mention_count FROM entities WHERE id", reach)}
        bad = {
            e for e in reach
            if e not in entity_rows or any(norm != name_key(norm) or self.links.aliases.claiming(norm, entity_rows[e][1]) for norm in alias_rows[e])
        }
        eligible = {name: rows for name, rows in eligible.items() if not set(self._reach(known[name])) & bad}
        executemany(self._keep_name, [
            (*name, known[name][0], known[name][1], _candidates_json(known[name][2]), _reading({row[2] for row in names[name]}, name[1]))
            for name in sorted(learned) if name in eligible
        ])
        # Names all of whose mentions are one entity's first: their mentions are in the samples
        # that ambiguous names are placed by.
        entity_of: Dict[int, int] = {}
        for name, rows in eligible.items():
            _, entity_id, candidates = known[name]
            if candidates is None and entity_id is not None:
                entity_of.update((row[0], entity_id) for row in rows)
        ambiguous = sorted(n for n in eligible if known[n][2] is not None)
        if ambiguous:
            records = {r.id: r for r in self._records([row for name in ambiguous for row in eligible[name]])}
            keys = {name_key(n) for r in records.values() for n in (*r.neighbours, *(n for _, n in r.relations))}
            owners: Dict[str, Set[int]] = defaultdict(set)  # name_key -> the entities of its unambiguous names
            for key, entity_id in self._in("SELECT key, entity_id FROM resolved_names WHERE candidates IS NULL AND key", keys):
                owners[key].add(entity_id)
        samples = _Samples(self, dict(entity_of))
        if ambiguous:
            for name in ambiguous:
                placed = self._place_ambiguous([records[row[0]] for row in eligible[name]], known[name], owners, samples)
                if placed is None:
                    del eligible[name]
                else:
                    entity_of.update(placed)
        moved, again = self._place_recent(new[0][0], samples, stale)
        if not entity_of and not moved:
            return
        executemany(f"UPDATE mentions SET entity_id = {mark} WHERE id = {mark}", [(to, m) for m, (_, to) in sorted(moved.items())])
        recount = {e for pair in moved.values() for e in pair}  # the entities mentions left or joined
        by_entity: Dict[int, List[Tuple[Any, ...]]] = defaultdict(list)
        for row in new:
            if row[0] in entity_of:
                by_entity[entity_of[row[0]]].append(row)
        updates = []
        old_aliases: Dict[Tuple[int, str], Tuple[str, int]] = {}  # the aliases the new mentions add to
        new_aliases: Dict[Tuple[int, str], Tuple[str, int]] = {}
        for entity_id, rows in sorted(by_entity.items()):
            if entity_id in recount:
                continue
            _, label, canonical, count = entity_rows[entity_id]
            aliases = dict(alias_rows[entity_id])
            for norm in sorted({row[8] for row in rows}):
                writings = Counter(" ".join(row[2].split()) for row in rows if row[8] == norm)
                old = aliases.get(norm)
                if old is not None and set(writings) != {old[0]}:
                    writings.update(self._writings(entity_id, norm))
                elif old is not None:
                    writings[old[0]] += old[1]
                best = min(writings, key=lambda w: (-writings[w], w))
                aliases[norm] = new_aliases[entity_id, norm] = (best, sum(writings.values()))
                if old is not None:
                    old_aliases[entity_id, norm] = old
            canonical = min(aliases.values(), key=lambda a: _canonical_order(a, label))[0]
            updates.append((canonical, count + len(rows), entity_id))
        assigned = [(entity_id, mention) for mention, entity_id in sorted(entity_of.items())]
        executemany(f"UPDATE mentions SET entity_id = {mark} WHERE id = {mark}", assigned)
        executemany(f"UPDATE entities SET name = {mark}, mention_count = {mark} WHERE id = {mark}", updates)
        self._write_rows("aliases", ("entity_id", "norm"), ("name", "mention_count"), old_aliases, new_aliases)
        again.update(self._recount(recount))
        done = [name for name, rows in eligible.items() if name not in again and all(row[0] in entity_of for row in rows)]
        executemany(f"DELETE FROM resolve_todo WHERE norm = {mark} AND label = {mark}", sorted(done))
        executemany(
            f"INSERT INTO resolve_todo (norm, label) VALUES ({mark}, {mark}) ON CONFLICT DO NOTHING", sorted(again)
        )
        self.stats.placed += len(entity_of)

    def _place_recent(self, first_new: int, samples: "_Samples", stale: Set[Any]) -> Tuple[Dict[int, Tuple[int, int]], Set[Name]]:
        """Place again the resolved mentions of ambiguous names that come at most LOOKAHEAD ids
        before the new ones (`resolve.place_by_context` compares them with mentions up to
        LOOKAHEAD ids after them, which may now include new ones); earlier ones can't move.

        first_new (int): The smallest id of a new mention.
        samples (_Samples): The candidates' samples, loaded when needed.
        stale (Set[Any]): The names whose mentions were removed since the last pass (their
            components are resolved again anyway).
        RETURNS (Tuple[Dict[int, Tuple[int, int]], Set[Name]]): The mentions that move (id ->
            (entity, new entity)), and the names whose components the pass must resolve again
            instead.
        """
        rows = [tuple(row) for row in self.session.execute(
            "SELECT m.id, m.doc_id, m.text, m.label, m.sentence, m.start_char - m.sent_start_char, "
            "m.end_char - m.sent_start_char, m.entity_id, m.norm, r.entity_id, r.candidates FROM mentions m "
            "JOIN resolved_names r ON r.norm = m.norm AND r.label = m.label "
            f"WHERE m.id >= {self.q.mark} AND m.entity_id IS NOT NULL AND r.candidates IS NOT NULL",
            (first_new - LOOKAHEAD,),
        ).fetchall()]
        again: Set[Name] = set()
        moved: Dict[int, Tuple[int, int]] = {}
        if not rows or not self.settings.context:
            return moved, again
        by_name: Dict[Name, List[Tuple[Any, ...]]] = defaultdict(list)
        for row in rows:
            if (row[8], row[3]) not in stale:
                by_name[row[8], row[3]].append(row)
        records = {r.id: r for r in self._records([row[:9] for found in by_name.values() for row in found])}
        keys = {name_key(n) for r in records.values() for n in (*r.neighbours, *(n for _, n in r.relations))}
        owners: Dict[str, Set[int]] = defaultdict(set)
        for key, entity_id in self._in("SELECT key, entity_id FROM resolved_names WHERE candidates IS NULL AND key", keys):
            owners[key].add(entity_id)
        for name, found in sorted(by_name.items()):
            state = (name[0], found[0][9], json.loads(found[0][10]))
            if name_key(name[0]) != name[0]:
                again.add(name)
                continue
            placed = self._place_ambiguous([records[row[0]] for row in found], state, owners, samples)
            if placed is None:
                again.add(name)
                continue
            moved.update((row[0], (row[7], placed[row[0]])) for row in found if placed[row[0]] != row[7])
        return moved, again

    def _recount(self, entity_ids: Iterable[int]) -> Set[Name]:
        """Count the mentions, aliases and canonical names of entities again from their
        mentions (those some mentions left or joined); an entity left with none is deleted.

        entity_ids (Iterable[int]): The entities.
        RETURNS (Set[Name]): Names whose components the pass must resolve instead (an entity
            of names that are not their own name_key, or claimed by alias entries).
        """
        execute, mark = self.session.execute, self.q.mark
        again: Set[Name] = set()
        for entity_id in sorted(set(entity_ids)):
            row = execute(f"SELECT label FROM entities WHERE id = {mark}", (entity_id,)).fetchone()
            if row is None:
                continue
            label = row[0]
            counts = execute(
                f"SELECT norm, text, label, COUNT(*) FROM mentions WHERE entity_id = {mark} GROUP BY norm, text, label", (entity_id,)
            ).fetchall()
            if not counts:
                execute(f"UPDATE resolved_names SET entity_id = NULL WHERE entity_id = {mark} AND candidates IS NOT NULL", (entity_id,))
                execute(f"DELETE FROM aliases WHERE entity_id = {mark}", (entity_id,))
                self.stats.deleted += max(execute(f"DELETE FROM entities WHERE id = {mark}", (entity_id,)).rowcount, 0)
                continue
            if any(norm != name_key(norm) or self.links.aliases.claiming(norm, lab) or lab != label for norm, _, lab, _ in counts):
                again.update((norm, lab) for norm, _, lab, _ in counts)
                continue
            writings: Dict[str, Counter] = defaultdict(Counter)
            for norm, text, _, count in counts:
                writings[norm][" ".join(text.split())] += count
            aliases = {}
            for norm, found in writings.items():
                aliases[norm] = (min(found, key=lambda w: (-found[w], w)), sum(found.values()))
            canonical = min(aliases.values(), key=lambda a: _canonical_order(a, label))[0]
            execute(
                f"UPDATE entities SET name = {mark}, mention_count = {mark} WHERE id = {mark}",
                (canonical, sum(count for *_, count in counts), entity_id),
            )
            execute(f"DELETE FROM aliases WHERE entity_id = {mark}", (entity_id,))
            self.session.executemany(
                f"INSERT INTO aliases (entity_id, norm, name, mention_count) VALUES ({mark}, {mark}, {mark}, {mark})",
                [(entity_id, norm, name, count) for norm, (name, count) in sorted(aliases.items())],
            )
        return again

    def _learn(
        self, unknown: List[Name], names: Dict[Name, List[Tuple[Any, ...]]], stale: Set[Any]
    ) -> Dict[Name, Tuple[str, Optional[int], Optional[List[int]]]]:
        """Where the mentions of new names go, found without resolving their components'
        mentions again: each component's new names are inserted into its kept clustering
        (`_insert`, counted in ResolveStats.inserted) where `resolve.insert_names` can show that
        gives what clustering the component again gives; else (ResolveStats.reclustered) the
        names of the component (each read from its writing kept in resolved_names) are
        clustered by `resolve` alone, one record each, without context, and if every known name
        keeps its place there (its entity, or its own entity and candidates), the new names'
        places follow: an entity of the clusters they join, an entity made now for a cluster of
        new names only, or, for an ambiguous new name, the candidates it may mean (known
        entities only). Else the component is left to the pass.

        unknown (List[Name]): New names: no row of resolved_names, no mention before.
        names (Dict[Name, List[Tuple[Any, ...]]]): The new mention rows of each name.
        stale (Set[Any]): The names whose mentions were removed since the last pass.
        RETURNS (Dict[Name, Tuple[str, Optional[int], Optional[List[int]]]]): The rows of
            resolved_names for the names learned.
        """
        seeds = [name for name in unknown if name[0] and name_key(name[0]) == name[0] and not self.links.aliases.claiming(*name)]
        learned: Dict[Name, Tuple[str, Optional[int], Optional[List[int]]]] = {}
        if seeds:
            for component in self._components(seeds):
                if not any(name in stale for name in component):
                    learned.update(self._learn_component(component, names, set(seeds)))
        return learned

    def _learn_component(
        self, component: List[Name], names: Dict[Name, List[Tuple[Any, ...]]], allowed: Set[Name]
    ) -> Dict[Name, Tuple[str, Optional[int], Optional[List[int]]]]:
        """`_learn` for one component: the rows of its new names (those of known ambiguous
        names that may now mean a new entity too are updated), or none."""
        if any(name_key(norm) != norm for norm, _ in component):
            return {}
        members = set(component)
        rows = {
            (norm, label): (entity_id, None if candidates is None else json.loads(candidates), written)
            for norm, label, entity_id, candidates, written in self._in(
                "SELECT norm, label, entity_id, candidates, written FROM resolved_names WHERE norm", {n for n, _ in component}
            )
            if (norm, label) in members
        }
        new = [name for name in component if name not in rows and name in names]
        others = [name for name in component if name not in rows and name not in names]
        if not new or any(name not in allowed for name in new) or any(name in members for name in self._in("SELECT DISTINCT norm, label FROM mentions WHERE norm", {n for n, _ in others})):
            return {}  # a name with mentions and no row (kept before resolved_names was): resolve it
        aliases = sorted({id(e): e for name in component for e in self.links.aliases.claiming(*name)}.values(), key=lambda e: e.line)
        decisions = []
        if self.links.decisions:
            decisions = sorted({d for name in component for d in self.links.decisions_of(name)}, key=lambda d: (d.label, d.a, d.b))
        settings = ResolveSettings(threshold=self.settings.threshold, context=False)
        if not aliases and not decisions:
            inserted = self._insert(rows, new, names, settings)
            if inserted is not None:
                self.stats.inserted += 1
                return inserted
        self.stats.reclustered += 1
        records: List[MentionRecord] = []
        for i, name in enumerate(sorted(rows) + sorted(new)):
            written = rows[name][2] if name in rows else _reading({row[2] for row in names[name]}, name[1])
            records.append(MentionRecord(i + 1, i + 1, written, name[1], written, 0, len(written)))
        places = resolve(records, aliases=aliases, decisions=decisions, settings=settings).names
        cluster_entity: Dict[int, int] = {}
        own_of: Dict[int, Optional[int]] = {}
        for name, (entity_id, candidates, _) in sorted(rows.items()):
            cluster, fits = places[name]
            if candidates is None and (fits is not None or entity_id is None or cluster is None):
                return {}
            if candidates is None and cluster is not None and cluster_entity.setdefault(cluster, entity_id) != entity_id:
                return {}
        if len(set(cluster_entity.values())) < len(cluster_entity):
            return {}
        # Clusters of new names only: each a new entity, named when its mentions are placed.
        fresh = sorted({c for c, fits in (places[name] for name in new) if fits is None and c is not None} - set(cluster_entity))
        grown: List[Name] = []  # known ambiguous names that may now mean a new entity too
        for name, (entity_id, candidates, _) in sorted(rows.items()):
            cluster, fits = places[name]
            if candidates is None:
                continue
            if fits is None or cluster is None or any(c not in cluster_entity and c not in fresh for c in fits):
                return {}
            known_fits = sorted(cluster_entity[c] for c in fits if c in cluster_entity)
            if known_fits != sorted(candidates) or own_of.setdefault(cluster, entity_id) != entity_id:
                return {}
            if len(known_fits) < len(fits):
                # Its earlier mentions stay where they are: a new entity's mentions come after
                # them (its profile is empty for them), and none of its names is around them.
                if len(candidates) < 2:  # with one, context had not been asked
                    return {}
                grown.append(name)
        return self._adopt(new, places, fresh, cluster_entity, own_of, {name: ([], list(places[name][1] or ())) for name in grown}, rows)

    def _adopt(
        self,
        new: List[Name],
        places: Dict[Name, NamePlace],
        fresh: List[int],
        cluster_entity: Dict[int, int],
        own_of: Dict[int, Optional[int]],
        grown: Dict[Name, Tuple[List[int], List[int]]],
        rows: Dict[Name, Tuple[Optional[int], Optional[List[int]], str]],
    ) -> Dict[Name, Tuple[str, Optional[int], Optional[List[int]]]]:
        """The end of `_learn_component` (either way): the rows of resolved_names of the new
        names, from their places, with an entity made now for each cluster of new names only;
        the known ambiguous names that may now mean such clusters too get them as candidates.

        new (List[Name]): The new names.
        places (Dict[Name, NamePlace]): Where the new names go, by cluster.
        fresh (List[int]): The clusters of new names only.
        cluster_entity (Dict[int, int]): The entity of each cluster of known names.
        own_of (Dict[int, Optional[int]]): The own entity of known ambiguous names' clusters.
        grown (Dict[Name, Tuple[List[int], List[int]]]): Known ambiguous names -> the entities
            and clusters they may mean now.
        rows (Dict[Name, Tuple[Optional[int], Optional[List[int]], str]]): The known names' rows.
        RETURNS (Dict[Name, Tuple[str, Optional[int], Optional[List[int]]]]): The new names' rows, or
            none if a new name has no place that can be kept.
        """
        for name in new:
            cluster, fits = places[name]
            if cluster is None or (fits is not None and any(c not in cluster_entity and c not in fresh for c in fits)):
                return {}
        if any(len(rows[name][1] or ()) < 2 for name in grown):  # with one candidate, context had not been asked
            return {}
        for cluster in fresh:
            label = next(name[1] for name in new if places[name] == (cluster, None))
            cluster_entity[cluster] = self.session.execute(
                f"INSERT INTO entities (label, name, mention_count) VALUES ({self.q.mark}, '', 0) RETURNING id", (label,)
            ).fetchone()[0]
            self.made.append(cluster_entity[cluster])
        learned: Dict[Name, Tuple[str, Optional[int], Optional[List[int]]]] = {}
        for name in sorted(new):
            cluster, fits = places[name]
            assert cluster is not None
            if fits is None:
                learned[name] = (name[0], cluster_entity[cluster], None)
            else:
                learned[name] = (name[0], own_of.get(cluster), sorted(cluster_entity[c] for c in fits))
        for name, (entities, clusters) in sorted(grown.items()):
            self.grown[name] = (name[0], rows[name][0], sorted(entities + [cluster_entity[c] for c in clusters]))
            self.session.execute(
                f"UPDATE resolved_names SET candidates = {self.q.mark} WHERE norm = {self.q.mark} AND label = {self.q.mark}",
                (_candidates_json(self.grown[name][2]), *name),
            )
        return learned

    def _insert(
        self,
        rows: Dict[Name, Tuple[Optional[int], Optional[List[int]], str]],
        new: List[Name],
        names: Dict[Name, List[Tuple[Any, ...]]],
        settings: ResolveSettings,
    ) -> Optional[Dict[Name, Tuple[str, Optional[int], Optional[List[int]]]]]:
        """`_learn_component` without clustering the component again: the new names placed
        into its kept clustering by `resolve.insert_names` (scored against the known names they
        share a blocking key with), when it can show that gives what clustering the whole
        component gives; else None.

        rows (Dict[Name, Tuple[Optional[int], Optional[List[int]], str]]): The known names' rows
            of resolved_names (entity, candidates, written).
        new (List[Name]): The new names.
        names (Dict[Name, List[Tuple[Any, ...]]]): The new mention rows of each name.
        settings (ResolveSettings): The threshold, without context.
        RETURNS (Optional[Dict[Name, Tuple[str, Optional[int], Optional[List[int]]]]]): The
            new names' rows (none: leave the component to the pass), or None.
        """
        entities = {e for entity_id, candidates, _ in rows.values() for e in (entity_id, *(candidates or ())) if e is not None}
        records = []  # ids after the entities': a new name's place may be a known entity
        for i, name in enumerate(sorted(new), start=max(entities, default=0) + 1):
            written = _reading({row[2] for row in names[name]}, name[1])
            records.append(MentionRecord(i, i, written, name[1], written, 0, len(written)))
        kept = {
            name: KeptName(written, name[1], entity_id, None if candidates is None else tuple(candidates))
            for name, (entity_id, candidates, written) in rows.items()
        }

        def named(keys: Set[str]) -> List[Name]:
            return [(norm, label) for norm, label in self._in("SELECT norm, label FROM name_keys WHERE key", keys)]

        insertion = insert_names(records, kept, named, settings)
        if insertion is None:
            return None
        fresh = sorted({c for c, fits in insertion.names.values() if fits is None and c is not None and c not in entities})
        grown = {name: (list(rows[name][1] or ()), clusters) for name, clusters in insertion.grown.items()}
        placed = [name for name in new if name not in insertion.twins]
        learned = self._adopt(placed, dict(insertion.names), fresh, {e: e for e in entities}, {}, grown, rows)
        if placed and not learned:
            return {}
        for name, other in insertion.twins.items():  # where the kept name goes (its new candidates too)
            entity_id, candidates = self.grown[other][1:] if other in self.grown else rows[other][:2]
            learned[name] = (name[0], entity_id, candidates)
        return learned

    def _twins(self, unknown: List[Name], names: Dict[Name, List[Tuple[Any, ...]]]) -> Dict[Name, Tuple[str, Optional[int], Optional[List[int]]]]:
        """The new names that are one name with a known one, and its row of resolved_names: a
        new name with the label and the identifying words of a resolved name ("Actor Smith"
        beside "Smith": `names.Name.ident`) joins that name's node whatever else the component
        holds, its keys, score and specificity are that name's, and so the component's clusters
        stay as they were. Only names no alias entry claims and no decision is about, that are
        their own name_key and are not written as an acronym (which can score more).

        unknown (List[Name]): The names with new mentions and no row of resolved_names.
        names (Dict[Name, List[Tuple[Any, ...]]]): Their new mention rows.
        RETURNS (Dict[Name, Tuple[str, Optional[int], Optional[List[int]]]]): The twins' rows.
        """
        ident_key: Dict[Name, str] = {}
        for norm, label in unknown:
            if name_key(norm) != norm or not norm or self.links.aliases.claiming(norm, label) or self.links.decisions_of((norm, label)):
                continue
            if any(parse_name(row[2], label).acronym for row in names[norm, label]):
                continue
            keys = [key for key in blocking_keys(norm, label) if key.startswith("n\t")]
            if len(keys) == 1:
                ident_key[norm, label] = keys[0]
        others: Dict[str, Set[Name]] = defaultdict(set)
        for key, norm, label in self._in("SELECT key, norm, label FROM name_keys WHERE key", set(ident_key.values())):
            others[key].add((norm, label))
        found: Dict[Name, Set[Tuple[str, Optional[int], Optional[str]]]] = defaultdict(set)
        rows = self._in(
            "SELECT norm, label, key, entity_id, candidates FROM resolved_names WHERE norm",
            {norm for names_ in others.values() for norm, _ in names_},
        )
        state_of = {(norm, label): (entity_id, candidates) for norm, label, _, entity_id, candidates in rows}
        twins: Dict[Name, Tuple[str, Optional[int], Optional[List[int]]]] = {}
        for name, key in ident_key.items():
            for other in others.get(key, ()):
                if other != name and other in state_of:
                    found[name].add((name[0], *state_of[other]))
            if len(found[name]) == 1:
                own, entity_id, candidates = found[name].pop()
                twins[name] = (own, entity_id, None if candidates is None else json.loads(candidates))
        return twins

    def _reach(self, state: Tuple[str, Optional[int], Optional[List[int]]]) -> List[int]:
        """The entities a known name's mentions may join."""
        _, own, candidates = state
        return [e for e in [own, *(candidates or ())] if e is not None]

    def _written_before(self, name: Name, text: str) -> bool:
        """Whether a resolved mention of the name is written so."""
        mark = self.q.mark
        return self.session.execute(
            f"SELECT 1 FROM mentions WHERE norm = {mark} AND label = {mark} AND text = {mark} AND entity_id IS NOT NULL LIMIT 1",
            (name[0], name[1], text),
        ).fetchone() is not None

    def _writings(self, entity_id: int, norm: str) -> Counter:
        """How often an entity's resolved mentions of a name are written each way (whitespace collapsed)."""
        mark = self.q.mark
        found: Counter = Counter()
        for text, count in self.session.execute(
            f"SELECT text, COUNT(*) FROM mentions WHERE entity_id = {mark} AND norm = {mark} GROUP BY text", (entity_id, norm)
        ).fetchall():
            found[" ".join(text.split())] += count
        return found

    def _place_ambiguous(
        self,
        records: List[MentionRecord],
        state: Tuple[str, Optional[int], Optional[List[int]]],
        owners: Dict[str, Set[int]],
        samples: "_Samples",
    ) -> Optional[Dict[int, int]]:
        """Where the new mentions of an ambiguous known name go (mention id -> entity id), as
        `resolve.place_by_context` places them, or None if the pass must resolve its component.

        records (List[MentionRecord]): The new mentions.
        state (Tuple[str, Optional[int], Optional[List[int]]]): The name's row of resolved_names.
        owners (Dict[str, Set[int]]): The name_key of names around the mentions (the pass's) ->
            the entities of the unambiguous names with that key.
        samples (_Samples): The candidates' samples, loaded when needed.
        """
        _, own, candidates = state
        assert candidates is not None
        names: Dict[str, int] = {}
        around = {name_key(n) for r in records for n in (*r.neighbours, *(n for _, n in r.relations))}
        for key in around:
            mine = owners.get(key, set()).intersection(candidates)
            if len(mine) > 1:  # resolve would pick one by its clusters' order: resolve it
                return None
            if mine:
                names[key] = mine.pop()
        placed = place_by_context(records, candidates, names, samples, self.vectors, samples.contexts) if self.settings.context else {}
        if len(placed) == len(records):
            return placed
        if own is None:
            return None
        return {record.id: placed.get(record.id, own) for record in records}

    def samples(self, entity_id: int, new: List[int], contexts: Dict[int, Context]) -> List[Union[MentionRecord, ProfileSum]]:
        """An entity's first PROFILE_MENTIONS mentions of the names clustered into it (none
        placed by context), the new ones placed already included (see
        `resolve.place_by_context`): those resolved before as their ProfileSum, read from
        entity_profiles (a sum of fewer than PROFILE_MENTIONS takes the mentions placed since,
        `_grow_profile`; one missing is made from the mentions), kept when the pass keeps sums;
        the new ones as records.

        entity_id (int): The entity.
        new (List[int]): The new mentions of its unambiguous names.
        contexts (Dict[int, Context]): The contexts of sample mentions computed so far, filled in.
        RETURNS (List[Union[MentionRecord, ProfileSum]]): The sample, in id order.
        """
        mark = self.q.mark
        # The entity's mentions of names not ambiguous, resolved before this pass (all before
        # the new ones), after a mention id.
        clustered = (
            f"SELECT {self._columns} FROM mentions m JOIN resolved_names r ON r.norm = m.norm AND r.label = m.label "
            f"AND r.candidates IS NULL WHERE m.entity_id = {mark} AND m.id > {mark} ORDER BY m.id LIMIT {mark}"
        )
        row = None
        if self.profiles:
            row = self.session.execute(
                f"SELECT first_mention, last_mention, mentions, features FROM entity_profiles WHERE entity_id = {mark}", (entity_id,)
            ).fetchone()
            if row is not None and row[1] < self.first_new and row[2] <= PROFILE_MENTIONS:
                found = ProfileSum(row[0], row[1], row[2], Counter(json.loads(row[3])))
                if found.count < PROFILE_MENTIONS:  # mentions placed since it was kept join it now
                    later = self._records([tuple(r) for r in self.session.execute(
                        clustered, (entity_id, found.id, PROFILE_MENTIONS - found.count)
                    ).fetchall()])
                    if later:
                        found = self._grow_profile(entity_id, found, later, contexts)
                joining = sorted(new)[: PROFILE_MENTIONS - found.count]
                rest = self._records(self._in(f"SELECT {self._columns} FROM mentions m WHERE m.id", joining))
                return [found, *rest]
        rows = [tuple(row) for row in self.session.execute(clustered, (entity_id, -1, PROFILE_MENTIONS)).fetchall()]
        if new:
            rows.extend(self._in(f"SELECT {self._columns} FROM mentions m WHERE m.id", new))
        records = self._records(rows)[:PROFILE_MENTIONS]
        before = [record for record in records if record.id < self.first_new]
        if not self.profiles or not before:
            return list(records)
        kept = self._profile_row(before, contexts)
        if row is not None:  # a row it can't use (of mentions since removed, whose ids came again): replaced
            self.session.execute(f"DELETE FROM entity_profiles WHERE entity_id = {mark}", (entity_id,))
        self.session.execute(self._keep_profile, (entity_id, *kept))
        return [ProfileSum(kept[0], kept[1], kept[2], summed_features([contexts[r.id][0] for r in before])), *records[len(before):]]

    def _grow_profile(self, entity_id: int, found: ProfileSum, later: List[MentionRecord], contexts: Dict[int, Context]) -> ProfileSum:
        """A kept profile sum of fewer than PROFILE_MENTIONS mentions with the entity's mentions
        placed after it was kept (they come after every mention it holds) added, kept."""
        for record in later:
            if record.id not in contexts:
                contexts[record.id] = (context_features(record), None)
        grown = ProfileSum(
            found.first, later[-1].id, found.count + len(later), found.features + summed_features([contexts[r.id][0] for r in later])
        )
        mark = self.q.mark
        self.session.execute(
            f"UPDATE entity_profiles SET last_mention = {mark}, mentions = {mark}, features = {mark} WHERE entity_id = {mark}",
            (grown.id, grown.count, json.dumps(dict(grown.features)), entity_id),
        )
        return grown

    @property
    def _columns(self) -> str:
        """The columns of a mention row (`_records`), of mentions m."""
        return (
            "m.id, m.doc_id, m.text, m.label, m.sentence, m.start_char - m.sent_start_char, "
            "m.end_char - m.sent_start_char, m.entity_id, m.norm"
        )

    def _records(self, rows: List[Tuple[Any, ...]]) -> List[MentionRecord]:
        """The MentionRecords of mention rows, in id order, with the names of the other mentions
        of their documents and the relations they take part in."""
        neighbours: Dict[int, List[Tuple[int, str]]] = defaultdict(list)
        relations: Dict[int, List[Tuple[str, str]]] = defaultdict(list)
        documents = {row[1] for row in rows}
        for doc_id, mention_id, norm in self._in("SELECT doc_id, id, norm FROM mentions WHERE doc_id", documents):
            neighbours[doc_id].append((mention_id, norm))
        for label, head, tail, head_norm, tail_norm in self._in(
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

    @staticmethod
    def _entity_ids(
        entities: List[ResolvedEntity], old_entity: Dict[int, Optional[int]], old_names: Dict[int, str]
    ) -> List[Optional[int]]:
        """Per entity, the id of the old entity it keeps, or None for a new one: the one most of
        its mentions had (on a tie, the one with its canonical name, then the smallest id), the
        biggest entity choosing first.

        entities (List[ResolvedEntity]): The components' new entities.
        old_entity (Dict[int, Optional[int]]): Each mention's old entity id.
        old_names (Dict[int, str]): The canonical names of the old entities the components own.
        RETURNS (List[Optional[int]]): Per entity, the id it keeps.
        """
        ids: List[Optional[int]] = [None] * len(entities)
        taken: Set[int] = set()
        order = sorted(range(len(entities)), key=lambda i: (-len(entities[i].mentions), entities[i].mentions[0]))
        for i in order:
            votes = Counter(old_entity.get(m) for m in entities[i].mentions)
            votes.pop(None, None)
            choices = sorted(
                (-n, old_names[entity_id] != entities[i].canonical, entity_id)
                for entity_id, n in votes.items() if entity_id in old_names and entity_id not in taken
            )
            if choices:
                ids[i] = choices[0][2]
                taken.add(choices[0][2])
        return ids


class _Samples(Dict[int, List[Union[MentionRecord, ProfileSum]]]):
    """The candidates' samples an incremental pass places ambiguous mentions by, each loaded
    (`_Pass.samples`) when `resolve.place_by_context` first asks for it.

    pass_ (_Pass): The pass.
    members (Dict[int, int]): The new mentions of unambiguous names -> their entities.
    """

    def __init__(self, pass_: "_Pass", members: Dict[int, int]) -> None:
        super().__init__()
        self.pass_ = pass_
        self.contexts: Dict[int, Context] = {}  # the samples' contexts, computed once for every name placed
        self.members: Dict[int, List[int]] = defaultdict(list)  # entity -> its new mentions
        for mention, entity_id in members.items():
            self.members[entity_id].append(mention)

    def __missing__(self, entity_id: int) -> List[Union[MentionRecord, ProfileSum]]:
        found = self[entity_id] = self.pass_.samples(entity_id, self.members.get(entity_id, []), self.contexts)
        return found


def _reading(texts: Iterable[str], label: str) -> str:
    """The writing of a name that resolve reads it from: an acronym when one writing is (see
    resolve.cluster._make_group), else the first."""
    return min(texts, key=lambda text: (not parse_name(text, label).acronym, parse_name(text, label).words, text))


def _candidates_json(candidates: Optional[Sequence[int]]) -> Optional[str]:
    """A name's candidate entities as resolved_names keeps them: a JSON list of sorted ids, or NULL."""
    return None if candidates is None else json.dumps(sorted(candidates))


def _canonical_order(alias: Tuple[str, int], label: str) -> Tuple[Any, ...]:
    """How an entity's name (as written, its mention count) ranks to be its canonical name, as
    resolve ranks them: the most specific, the longest, the most mentioned, then the longest and
    alphabetically first writing."""
    written, count = alias
    name = parse_name(written, label)
    return (-name.specificity, -len(name.ident), -count, -len(written), written)


def _alias_rows(entity: ResolvedEntity) -> List[Tuple[str, str, int]]:
    """An entity's aliases as (norm, name, mention_count), one per norm (the most mentioned
    spelling, its count the sum of the norm's)."""
    by_norm: Dict[str, List[Tuple[int, str]]] = defaultdict(list)
    for name, count in entity.aliases.items():
        by_norm[normalize(name)].append((count, name))
    rows = []
    for norm, spellings in sorted(by_norm.items()):
        best = sorted(spellings, key=lambda item: (-item[0], item[1]))[0][1]
        rows.append((norm, best, sum(count for count, _ in spellings)))
    return rows


def describe_ambiguity(ambiguity: Ambiguity) -> str:
    """An ambiguous alias as reports print it: 'NAME' (LABEL) may mean: 'A', 'B'."""
    alias, label, canonicals = ambiguity
    return f"{alias!r} ({label}) may mean: {', '.join(repr(c) for c in canonicals)}"

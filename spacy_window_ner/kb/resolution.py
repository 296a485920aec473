"""Resolving a knowledge base's mentions into entities, incrementally: the pass that reads what
changed from the store, calls `resolve.resolve` on it and writes the entities back.

A build stores each mention with no entity (`entity_id` NULL) and each name's blocking keys
(`links.name_key_rows`, in `name_keys`, with the entry keys of the kept alias entries that claim
the name); removing or replacing a document records its names in `stale_names`. A pass
(`resolve_kb`) then, in ONE transaction of the store (`Store.resolution`: no other writer
meanwhile):
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
An incremental pass first places what it can without step 3 (`placement.Placement`), in time
proportional to the new mentions; only the components where that does not hold are resolved
again by steps 2 and 3. A pass that resolves a component keeps the profile sums (the
entity_profiles table, `resolve.ProfileSum`) of the entities its ambiguous names may mean, which
the placement compares the context of new mentions with (see placement.py).
The names to do are kept in a temporary table and worked through a page (TODO_PAGE names) at a
time; a page's components are read and written together in loads of at most LOAD_MENTIONS
mentions (a bigger component alone) and resolved one by one, so memory holds one load whatever
the size of the knowledge base: the largest component bounds it (benchmarks/resolution/scale.py
measures it). Incremental passes and a pass from scratch give the same entities
(tests/test_kb_resolution.py).

The settings a pass used are kept in `meta` (`resolve_threshold`, `resolve_vectors`) and reused
by the next; a changed threshold, new alias entries (links.py) or other vectors resolve from
scratch. A pass runs with fewer collections of Python's cyclic garbage collector
(`_fewer_collections`), and updates in place the rows it rewrites that stay
(`pass_state.PassState.write_rows`).
"""

import gc
import threading
import time
from collections import Counter, defaultdict
from contextlib import contextmanager
from typing import Any, Dict, Iterator, List, Optional, Sequence, Set, Tuple

import numpy

from .links import Links, add_alias_entries, add_decisions, name_key_rows
from .pass_state import Ambiguity, PassState, ResolveStats, Vectors, candidates_json, profile_row, profile_sum, reading
from .placement import Placement
from .resolve import (
    ENTITY_WEIGHT, PROFILE_MENTIONS, WINDOW, AliasEntry, Context, Decision, MentionRecord, NamePlace, ResolvedEntity, ResolveSettings,
    name_key, resolve,
)
from .schema import ENTITY_PROFILES, RESOLVED_NAMES, statements
from .sql import Name, Session
from .store import KBError, Store, normalize

THRESHOLD_KEY = "resolve_threshold"  # meta: the threshold of the last pass
VECTORS_KEY = "resolve_vectors"  # meta: the pipeline whose static vectors the last pass used
PROFILES_KEY = "resolve_profiles"  # meta: the profile rules that made the rows of entity_profiles
# Raise when resolve.context_features changes what it counts (its words, tables or weights).
PROFILE_RULES_VERSION = 1
TODO_PAGE = 256  # names to do whose components are found together
LOAD_MENTIONS = 20_000  # mentions of a page's components loaded and resolved together, at most
# Allocations between two collections of the cyclic garbage collector's youngest generation
# during a pass (Python's default: 700); see `_fewer_collections`.
PASS_GC_ALLOCATIONS = 100_000
_GC_LOCK = threading.Lock()
_GC_PASSES = 0  # passes running in this process (threads), for _fewer_collections
_GC_BEFORE: Tuple[int, ...] = gc.get_threshold()  # the thresholds the first of them found


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


def describe_ambiguity(ambiguity: Ambiguity) -> str:
    """An ambiguous alias as reports print it: 'NAME' (LABEL) may mean: 'A', 'B'."""
    alias, label, canonicals = ambiguity
    return f"{alias!r} ({label}) may mean: {', '.join(repr(c) for c in canonicals)}"


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


class _Pass(PassState):
    """One resolution pass inside the store's transaction (see the module docstring). It works
    through the names to do a page at a time: the page's components are found, loaded and
    written together, with a few statements per page rather than per name (an IN list of at
    most IN_LIST values each), and resolved one component at a time."""

    def run(self, from_scratch: bool) -> ResolveStats:
        """List the names to do, place what the placement can (an incremental pass), then
        resolve the components of the names left, a page at a time.

        from_scratch (bool): Resolve every mention again.
        RETURNS (ResolveStats): What the pass did.
        """
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
            Placement(self).run()
        last = 0
        while True:
            # The names still to do: those of a component resolved earlier are deleted.
            page = execute(
                f"SELECT id, norm, label FROM resolve_todo WHERE id > {mark} ORDER BY id LIMIT {TODO_PAGE}", (last,)
            ).fetchall()
            if not page:
                break
            last = page[-1][0]
            for load in self._loads(self.components([(norm, label) for _, norm, label in page])):
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

    def _loads(self, components: List[List[Name]]) -> Iterator[List[List[Name]]]:
        """The components of a page in loads of at most LOAD_MENTIONS mentions (a bigger
        component is a load of its own), so that memory holds one load, not the whole page: the
        names of a page can reach components that hold much of the knowledge base."""
        sizes: Counter = Counter()
        norms = {norm for names in components for norm, _ in names}
        for norm, label, count in self.select_in("SELECT norm, label, COUNT(*) FROM mentions WHERE norm", norms, " GROUP BY norm, label"):
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

    def _resolve_components(self, components: List[List[Name]]) -> None:
        """Resolve the mentions of components, one component at a time, and replace their
        entities, aliases and counts."""
        execute, executemany, mark = self.session.execute, self.session.executemany, self.q.mark
        component_of = {name: i for i, names in enumerate(components) for name in names}
        norms = {norm for norm, _ in component_of}
        rows = [
            row for row in self.select_in(
                "SELECT id, doc_id, text, label, sentence, start_char - sent_start_char, end_char - sent_start_char, "
                "entity_id, norm FROM mentions WHERE norm",
                norms,
            )
            if (row[8], row[3]) in component_of
        ]
        old_entity = {row[0]: row[7] for row in rows}
        owned = {entity_id for entity_id in old_entity.values() if entity_id is not None}
        # Entities all of whose mentions were removed: nothing refers to them any more.
        owned.update(row[0] for row in self.select_in(
            "SELECT DISTINCT a.entity_id FROM aliases a "
            "WHERE NOT EXISTS (SELECT 1 FROM mentions m WHERE m.entity_id = a.entity_id) AND a.norm",
            norms,
        ))
        old_names = dict(self.select_in("SELECT id, name FROM entities WHERE id", owned))
        by_component: List[List[MentionRecord]] = [[] for _ in components]
        for record, row in zip(self.records(rows), sorted(rows)):
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
            for entity_id, norm, name, count in self.select_in(
                "SELECT entity_id, norm, name, mention_count FROM aliases WHERE entity_id", [row[-1] for row in updates]
            )
        }
        new_aliases = {(entity_id, norm): (name, count) for entity_id, norm, name, count in alias_rows}
        self.write_rows("aliases", ("entity_id", "norm"), ("name", "mention_count"), old_aliases, new_aliases)
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
            executemany(self.keep_profile, [(id_of[first], *row) for first, row in sums])
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
        table), by entity id, for later passes to place new mentions with (placement.py).

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
            for mention, entity_id in self.select_in("SELECT id, entity_id FROM mentions WHERE id", missing):
                id_of[mention] = entity_id
        old = {
            (norm, label): tuple(values)
            for norm, label, *values in self.select_in(
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
                candidates_json(None if candidates is None else [id_of[c] for c in candidates]),
                reading(texts[norm, label], label),
            )
        self.write_rows("resolved_names", ("norm", "label"), ("key", "entity_id", "candidates", "written"), old, kept)
        return id_of

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
                sums.append((first, profile_row(profile_sum(sample, contexts))))
        return sums

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

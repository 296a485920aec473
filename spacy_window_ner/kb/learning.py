"""Placing the new names of an incremental resolution pass (placement.py) without resolving
their components' mentions again (`NameLearning`).

A new name goes where inserting it into its component's kept clustering puts it
(`resolve.insert_names`, scored against the known names it shares a blocking key with, counted
in ResolveStats.inserted), or, where insertion can't show that is what clustering again gives,
where its component's names, clustered alone from their kept writings, put it, as long as every
known name keeps its place there (ResolveStats.reclustered). A new name that is one name with a
known one ("Actor Smith" beside "Smith") takes that name's place (`NameLearning.twins`). Where
none of this holds, the component is left to the pass.
"""
from collections import defaultdict
from typing import Any, Dict, List, Optional, Set, Tuple

from .pass_state import NameRow, PassPart, PassState, candidates_json, read_candidates, reading
from .resolve import KeptName, MentionRecord, NamePlace, ResolveSettings, blocking_keys, insert_names, name_key, resolve
from .resolve.names import parse_name
from .sql import Name


class NameLearning(PassPart):
    """Where an incremental pass's new names go (see the module docstring): the rows of
    resolved_names they get, found by the placement before it places their mentions.

    pass_ (PassState): The pass: its session, links, settings and stats, and the reads and
        writes it shares.
    """

    def __init__(self, pass_: PassState) -> None:
        super().__init__(pass_)
        self.grown: Dict[Name, NameRow] = {}  # known ambiguous names' new rows (`_adopt`)

    def learn(
        self, unknown: List[Name], names: Dict[Name, List[Tuple[Any, ...]]], stale: Set[Any]
    ) -> Dict[Name, NameRow]:
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
        RETURNS (Dict[Name, NameRow]): The rows of resolved_names for the names learned.
        """
        seeds = [name for name in unknown if name[0] and name_key(name[0]) == name[0] and not self.links.aliases.claiming(*name)]
        learned: Dict[Name, NameRow] = {}
        if seeds:
            for component in self.pass_.components(seeds):
                if not any(name in stale for name in component):
                    learned.update(self._learn_component(component, names, set(seeds)))
        return learned

    def _learn_component(
        self, component: List[Name], names: Dict[Name, List[Tuple[Any, ...]]], allowed: Set[Name]
    ) -> Dict[Name, NameRow]:
        """`learn` for one component: the rows of its new names (those of known ambiguous
        names that may now mean a new entity too are updated), or none."""
        if any(name_key(norm) != norm for norm, _ in component):
            return {}
        members = set(component)
        rows = {
            (norm, label): (entity_id, read_candidates(candidates), written)
            for norm, label, entity_id, candidates, written in self.pass_.select_in(
                "SELECT norm, label, entity_id, candidates, written FROM resolved_names WHERE norm", {n for n, _ in component}
            )
            if (norm, label) in members
        }
        new = [name for name in component if name not in rows and name in names]
        others = [name for name in component if name not in rows and name not in names]
        if not new or any(name not in allowed for name in new) or any(name in members for name in self.pass_.select_in("SELECT DISTINCT norm, label FROM mentions WHERE norm", {n for n, _ in others})):
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
            written = rows[name][2] if name in rows else reading({row[2] for row in names[name]}, name[1])
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
    ) -> Dict[Name, NameRow]:
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
        RETURNS (Dict[Name, NameRow]): The new names' rows, or none if a new name has no
            place that can be kept.
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
            self.pass_.made.append(cluster_entity[cluster])
        learned: Dict[Name, NameRow] = {}
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
                (candidates_json(self.grown[name][2]), *name),
            )
        return learned

    def _insert(
        self,
        rows: Dict[Name, Tuple[Optional[int], Optional[List[int]], str]],
        new: List[Name],
        names: Dict[Name, List[Tuple[Any, ...]]],
        settings: ResolveSettings,
    ) -> Optional[Dict[Name, NameRow]]:
        """`_learn_component` without clustering the component again: the new names placed
        into its kept clustering by `resolve.insert_names` (scored against the known names they
        share a blocking key with), when it can show that gives what clustering the whole
        component gives; else None.

        rows (Dict[Name, Tuple[Optional[int], Optional[List[int]], str]]): The known names' rows
            of resolved_names (entity, candidates, written).
        new (List[Name]): The new names.
        names (Dict[Name, List[Tuple[Any, ...]]]): The new mention rows of each name.
        settings (ResolveSettings): The threshold, without context.
        RETURNS (Optional[Dict[Name, NameRow]]): The new names' rows (none: leave the
            component to the pass), or None.
        """
        entities = {e for entity_id, candidates, _ in rows.values() for e in (entity_id, *(candidates or ())) if e is not None}
        records = []  # ids after the entities': a new name's place may be a known entity
        for i, name in enumerate(sorted(new), start=max(entities, default=0) + 1):
            written = reading({row[2] for row in names[name]}, name[1])
            records.append(MentionRecord(i, i, written, name[1], written, 0, len(written)))
        kept = {
            name: KeptName(written, name[1], entity_id, None if candidates is None else tuple(candidates))
            for name, (entity_id, candidates, written) in rows.items()
        }

        def named(keys: Set[str]) -> List[Name]:
            return [(norm, label) for norm, label in self.pass_.select_in("SELECT norm, label FROM name_keys WHERE key", keys)]

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

    def twins(self, unknown: List[Name], names: Dict[Name, List[Tuple[Any, ...]]]) -> Dict[Name, NameRow]:
        """The new names that are one name with a known one, and its row of resolved_names: a
        new name with the label and the identifying words of a resolved name ("Actor Smith"
        beside "Smith": `names.Name.ident`) joins that name's node whatever else the component
        holds, its keys, score and specificity are that name's, and so the component's clusters
        stay as they were. Only names no alias entry claims and no decision is about, that are
        their own name_key and are not written as an acronym (which can score more).

        unknown (List[Name]): The names with new mentions and no row of resolved_names.
        names (Dict[Name, List[Tuple[Any, ...]]]): Their new mention rows.
        RETURNS (Dict[Name, NameRow]): The twins' rows.
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
        for key, norm, label in self.pass_.select_in("SELECT key, norm, label FROM name_keys WHERE key", set(ident_key.values())):
            others[key].add((norm, label))
        found: Dict[Name, Set[Tuple[str, Optional[int], Optional[str]]]] = defaultdict(set)
        rows = self.pass_.select_in(
            "SELECT norm, label, key, entity_id, candidates FROM resolved_names WHERE norm",
            {norm for names_ in others.values() for norm, _ in names_},
        )
        state_of = {(norm, label): (entity_id, candidates) for norm, label, _, entity_id, candidates in rows}
        twins: Dict[Name, NameRow] = {}
        for name, key in ident_key.items():
            for other in others.get(key, ()):
                if other != name and other in state_of:
                    found[name].add((name[0], *state_of[other]))
            if len(found[name]) == 1:
                own, entity_id, candidates = found[name].pop()
                twins[name] = (own, entity_id, read_candidates(candidates))
        return twins

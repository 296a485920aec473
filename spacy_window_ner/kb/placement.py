"""Placing a knowledge base's new mentions without resolving their components again: what an
incremental resolution pass (resolution.py) does first, in time proportional to the new mentions,
not to the knowledge base (`Placement`).

A new mention of a name in resolved_names goes where that name's mentions go (an ambiguous
name's, where its context says, compared only with mentions before it:
`resolve.place_by_context`), and a new name goes where learning.py's `NameLearning` places it.
Only the components where that does not hold (a name's place changes, a document was removed,
an alias entry claims a name) are left to the pass, which resolves them whole. To compare a
mention's context with a candidate entity's first mentions, the placement reads the candidate's
profile sum, one row of the entity_profiles table (`resolve.ProfileSum`), not those mentions: a
sum of fewer than PROFILE_MENTIONS mentions takes the mentions placed in its entity since when
it is next read, and a sum it needs and lacks is made from the mentions; each is kept. Sums are
kept for passes that compare contexts without vectors; they are of mentions before the new
ones, which a mention's window (LOOKAHEAD) always takes whole in an incremental pass.
"""
import json
from collections import Counter, defaultdict
from typing import Any, Dict, Iterable, List, Optional, Set, Tuple, Union

from .learning import NameLearning
from .pass_state import NameRow, PassPart, PassState, candidates_json, profile_row, profile_sum, read_candidates, reading
from .resolve import LOOKAHEAD, PROFILE_MENTIONS, Context, MentionRecord, ProfileSum, name_key, place_by_context
from .resolve.names import parse_name
from .sql import Name


class Placement(PassPart):
    """The placement of an incremental pass's new mentions (see the module docstring), made and
    run by the pass before it resolves what is left to do.

    pass_ (PassState): The pass: its session, links, settings and stats, and the reads and
        writes it shares.
    """

    def __init__(self, pass_: PassState) -> None:
        super().__init__(pass_)
        self.first_new = 0  # the smallest id of a new mention
        self.learning = NameLearning(pass_)  # places new names

    def run(self) -> None:
        """Place the new mentions without resolving their components again, as a pass that
        resolved them would (and so one from scratch): what the pass does in time proportional
        to the new mentions, not to the knowledge base.

        A component gives the same clusters of names as long as its names are the same (and
        written the same way: a new writing can change how a name reads), so a new mention of a
        known name (resolved_names) goes where its name's mentions go: to its name's entity, or,
        for an ambiguous name, where its context says (`resolve.place_by_context`). New names
        are placed by `NameLearning`. Then the ambiguous mentions of the last LOOKAHEAD ids,
        whose context may now hold new mentions, are placed again (`_place_recent`), and the
        entities that gained or lost mentions are counted again.

        The new mentions of a name are left to the pass (which resolves their whole component)
        when `NameLearning` can't place the name, when it is written a new way, is claimed by an
        alias entry, is not its own name_key (NFKC), or was removed from; when one of the
        entities its mentions may join has such a name (or its canonical name comes from an
        alias entry); or, for an ambiguous name, when a mention stays unplaced and the name has
        no entity of its own yet, or a name around a mention belongs to two of its candidates. A
        component the pass resolves again anyway has what was placed here redone.
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
        names: Dict[Name, List[Tuple[Any, ...]]] = defaultdict(list)
        for row in new:
            names[row[8], row[3]].append(row)
        stale = {tuple(row) for row in execute("SELECT norm, label FROM stale_names", ()).fetchall()}
        known, eligible, learned = self._known_names(names, stale)
        eligible, entity_rows, alias_rows = self._joinable(eligible, known)
        executemany(self.pass_.keep_name, [
            (*name, known[name][0], known[name][1], candidates_json(known[name][2]), reading({row[2] for row in names[name]}, name[1]))
            for name in sorted(learned) if name in eligible
        ])
        entity_of, samples = self._place_names(eligible, known)
        moved, again = self._place_recent(samples, stale)
        if not entity_of and not moved:
            return
        executemany(f"UPDATE mentions SET entity_id = {mark} WHERE id = {mark}", [(to, m) for m, (_, to) in sorted(moved.items())])
        recount = {e for pair in moved.values() for e in pair}  # the entities mentions left or joined
        self._write_places(new, entity_of, recount, entity_rows, alias_rows)
        again.update(self._recount(recount))
        done = [name for name, rows in eligible.items() if name not in again and all(row[0] in entity_of for row in rows)]
        executemany(f"DELETE FROM resolve_todo WHERE norm = {mark} AND label = {mark}", sorted(done))
        executemany(
            f"INSERT INTO resolve_todo (norm, label) VALUES ({mark}, {mark}) ON CONFLICT DO NOTHING", sorted(again)
        )
        self.stats.placed += len(entity_of)

    def _known_names(
        self, names: Dict[Name, List[Tuple[Any, ...]]], stale: Set[Any]
    ) -> Tuple[Dict[Name, NameRow], Dict[Name, List[Tuple[Any, ...]]], Set[Name]]:
        """The rows of resolved_names of the new mentions' names, and the names whose new
        mentions may be placed here: known names written as before, not stale, their own
        name_key and claimed by no alias entry, and the new names `NameLearning` places.

        names (Dict[Name, List[Tuple[Any, ...]]]): The new mention rows of each name.
        stale (Set[Any]): The names whose mentions were removed since the last pass.
        RETURNS (Tuple[Dict, Dict, Set]): The names' rows of resolved_names (those learned and
            grown now included), the eligible names' new mention rows, and the names learned.
        """
        known: Dict[Name, NameRow] = {}
        for norm, label, key, entity_id, candidates in self.pass_.select_in(
            "SELECT norm, label, key, entity_id, candidates FROM resolved_names WHERE norm", {norm for norm, _ in names}
        ):
            known[norm, label] = (key, entity_id, read_candidates(candidates))
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
        mentioned = {norm for norm, _ in self.pass_.select_in(
            "SELECT DISTINCT norm, label FROM mentions WHERE entity_id IS NOT NULL AND norm", {n for n, _ in unknown}
        )}
        unknown = [name for name in unknown if name[0] not in mentioned]
        learned = self.learning.learn(unknown, names, stale)
        learned.update(self.learning.twins([name for name in unknown if name not in learned], names))
        for name, state in learned.items():
            known[name] = state
            eligible[name] = names[name]
        known.update((name, state) for name, state in self.learning.grown.items() if name in known)
        return known, eligible, set(learned)

    def _joinable(
        self, eligible: Dict[Name, List[Tuple[Any, ...]]], known: Dict[Name, NameRow]
    ) -> Tuple[Dict[Name, List[Tuple[Any, ...]]], Dict[int, Tuple[Any, ...]], Dict[int, Dict[str, Tuple[str, int]]]]:
        """The eligible names whose mentions may join every entity they may mean: none of those
        has a name that is not its own name_key or that an alias entry claims (its canonical
        name may come from the entry).

        eligible (Dict[Name, List[Tuple[Any, ...]]]): The eligible names' new mention rows.
        known (Dict[Name, NameRow]): Their rows of resolved_names.
        RETURNS (Tuple[Dict, Dict, Dict]): Those names' new mention rows; the entities they may
            join (id -> the row of entities: id, label, name, mention_count); and those
            entities' aliases (id -> norm -> (name, mention_count)).
        """
        reach = {e for name in eligible for e in self._reach(known[name])}
        alias_rows: Dict[int, Dict[str, Tuple[str, int]]] = defaultdict(dict)
        for entity_id, norm, alias, count in self.pass_.select_in("SELECT entity_id, norm, name, mention_count FROM aliases WHERE entity_id", reach):
            alias_rows[entity_id][norm] = (alias, count)
        entity_rows = {row[0]: row for row in self.pass_.select_in("SELECT id, label, name, mention_count FROM entities WHERE id", reach)}
        bad = {
            e for e in reach
            if e not in entity_rows or any(norm != name_key(norm) or self.links.aliases.claiming(norm, entity_rows[e][1]) for norm in alias_rows[e])
        }
        eligible = {name: rows for name, rows in eligible.items() if not set(self._reach(known[name])) & bad}
        return eligible, entity_rows, alias_rows

    def _place_names(
        self, eligible: Dict[Name, List[Tuple[Any, ...]]], known: Dict[Name, NameRow]
    ) -> Tuple[Dict[int, int], "_Samples"]:
        """Where the eligible names' new mentions go: an unambiguous name's to its entity, an
        ambiguous name's where `_place_ambiguous` says. An ambiguous name whose mentions can't
        all be placed is dropped from `eligible` (its component is left to the pass).

        eligible (Dict[Name, List[Tuple[Any, ...]]]): The eligible names' new mention rows.
        known (Dict[Name, NameRow]): Their rows of resolved_names.
        RETURNS (Tuple[Dict[int, int], _Samples]): Mention id -> entity id, and the candidates'
            samples loaded (which `_place_recent` places by too).
        """
        # Names all of whose mentions are one entity's first: their mentions are in the samples
        # that ambiguous names are placed by.
        entity_of: Dict[int, int] = {}
        for name, rows in eligible.items():
            _, entity_id, candidates = known[name]
            if candidates is None and entity_id is not None:
                entity_of.update((row[0], entity_id) for row in rows)
        ambiguous = sorted(n for n in eligible if known[n][2] is not None)
        if ambiguous:
            records = {r.id: r for r in self.pass_.records([row for name in ambiguous for row in eligible[name]])}
            keys = {name_key(n) for r in records.values() for n in (*r.neighbours, *(n for _, n in r.relations))}
            owners: Dict[str, Set[int]] = defaultdict(set)  # name_key -> the entities of its unambiguous names
            for key, entity_id in self.pass_.select_in("SELECT key, entity_id FROM resolved_names WHERE candidates IS NULL AND key", keys):
                owners[key].add(entity_id)
        samples = _Samples(self, dict(entity_of))
        for name in ambiguous:
            placed = self._place_ambiguous([records[row[0]] for row in eligible[name]], known[name], owners, samples)
            if placed is None:
                del eligible[name]
            else:
                entity_of.update(placed)
        return entity_of, samples

    def _write_places(
        self,
        new: List[Tuple[Any, ...]],
        entity_of: Dict[int, int],
        recount: Set[int],
        entity_rows: Dict[int, Tuple[Any, ...]],
        alias_rows: Dict[int, Dict[str, Tuple[str, int]]],
    ) -> None:
        """Write the new mentions' entities, and the mention counts, canonical names and aliases
        of the entities they join (except those in `recount`, which `_recount` counts whole).

        new (List[Tuple[Any, ...]]): The new mention rows.
        entity_of (Dict[int, int]): Mention id -> the entity it joins.
        recount (Set[int]): The entities that mentions placed again left or joined.
        entity_rows (Dict[int, Tuple[Any, ...]]): The rows of the entities they may join.
        alias_rows (Dict[int, Dict[str, Tuple[str, int]]]): Those entities' aliases.
        """
        mark = self.q.mark
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
        self.session.executemany(f"UPDATE mentions SET entity_id = {mark} WHERE id = {mark}", assigned)
        self.session.executemany(f"UPDATE entities SET name = {mark}, mention_count = {mark} WHERE id = {mark}", updates)
        self.pass_.write_rows("aliases", ("entity_id", "norm"), ("name", "mention_count"), old_aliases, new_aliases)

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
            f"SELECT {self.pass_.mention_columns} FROM mentions m JOIN resolved_names r ON r.norm = m.norm AND r.label = m.label "
            f"AND r.candidates IS NULL WHERE m.entity_id = {mark} AND m.id > {mark} ORDER BY m.id LIMIT {mark}"
        )
        row = None
        if self.pass_.profiles:
            row = self.session.execute(
                f"SELECT first_mention, last_mention, mentions, features FROM entity_profiles WHERE entity_id = {mark}", (entity_id,)
            ).fetchone()
            if row is not None and row[1] < self.first_new and row[2] <= PROFILE_MENTIONS:
                found = ProfileSum(row[0], row[1], row[2], Counter(json.loads(row[3])))
                if found.count < PROFILE_MENTIONS:  # mentions placed since it was kept join it now
                    later = self.pass_.records([tuple(r) for r in self.session.execute(
                        clustered, (entity_id, found.id, PROFILE_MENTIONS - found.count)
                    ).fetchall()])
                    if later:
                        found = self._grow_profile(entity_id, found, later, contexts)
                joining = sorted(new)[: PROFILE_MENTIONS - found.count]
                rest = self.pass_.records(self.pass_.select_in(f"SELECT {self.pass_.mention_columns} FROM mentions m WHERE m.id", joining))
                return [found, *rest]
        rows = [tuple(row) for row in self.session.execute(clustered, (entity_id, -1, PROFILE_MENTIONS)).fetchall()]
        if new:
            rows.extend(self.pass_.select_in(f"SELECT {self.pass_.mention_columns} FROM mentions m WHERE m.id", new))
        records = self.pass_.records(rows)[:PROFILE_MENTIONS]
        before = [record for record in records if record.id < self.first_new]
        if not self.pass_.profiles or not before:
            return list(records)
        kept = profile_sum(before, contexts)
        if row is not None:  # a row it can't use (of mentions since removed, whose ids came again): replaced
            self.session.execute(f"DELETE FROM entity_profiles WHERE entity_id = {mark}", (entity_id,))
        self.session.execute(self.pass_.keep_profile, (entity_id, *profile_row(kept)))
        return [kept, *records[len(before):]]

    def _place_recent(self, samples: "_Samples", stale: Set[Any]) -> Tuple[Dict[int, Tuple[int, int]], Set[Name]]:
        """Place again the resolved mentions of ambiguous names that come at most LOOKAHEAD ids
        before the new ones (`resolve.place_by_context` compares them with mentions up to
        LOOKAHEAD ids after them, which may now include new ones); earlier ones can't move.

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
            (self.first_new - LOOKAHEAD,),
        ).fetchall()]
        again: Set[Name] = set()
        moved: Dict[int, Tuple[int, int]] = {}
        if not rows or not self.settings.context:
            return moved, again
        by_name: Dict[Name, List[Tuple[Any, ...]]] = defaultdict(list)
        for row in rows:
            if (row[8], row[3]) not in stale:
                by_name[row[8], row[3]].append(row)
        records = {r.id: r for r in self.pass_.records([row[:9] for found in by_name.values() for row in found])}
        keys = {name_key(n) for r in records.values() for n in (*r.neighbours, *(n for _, n in r.relations))}
        owners: Dict[str, Set[int]] = defaultdict(set)
        for key, entity_id in self.pass_.select_in("SELECT key, entity_id FROM resolved_names WHERE candidates IS NULL AND key", keys):
            owners[key].add(entity_id)
        for name, found in sorted(by_name.items()):
            state = (name[0], found[0][9], read_candidates(found[0][10]))
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

    def _reach(self, state: NameRow) -> List[int]:
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
        state: NameRow,
        owners: Dict[str, Set[int]],
        samples: "_Samples",
    ) -> Optional[Dict[int, int]]:
        """Where the new mentions of an ambiguous known name go (mention id -> entity id), as
        `resolve.place_by_context` places them, or None if the pass must resolve its component.

        records (List[MentionRecord]): The new mentions.
        state (NameRow): The name's row of resolved_names.
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

    def _grow_profile(self, entity_id: int, found: ProfileSum, later: List[MentionRecord], contexts: Dict[int, Context]) -> ProfileSum:
        """A kept profile sum of fewer than PROFILE_MENTIONS mentions with the entity's mentions
        placed after it was kept (they come after every mention it holds) added, kept."""
        added = profile_sum(later, contexts)
        grown = ProfileSum(found.first, added.id, found.count + added.count, found.features + added.features)
        mark = self.q.mark
        self.session.execute(
            f"UPDATE entity_profiles SET last_mention = {mark}, mentions = {mark}, features = {mark} WHERE entity_id = {mark}",
            (*profile_row(grown)[1:], entity_id),
        )
        return grown


class _Samples(Dict[int, List[Union[MentionRecord, ProfileSum]]]):
    """The candidates' samples an incremental pass places ambiguous mentions by, each loaded
    (`Placement.samples`) when `resolve.place_by_context` first asks for it.

    placement (Placement): The placement.
    members (Dict[int, int]): The new mentions of unambiguous names -> their entities.
    """

    def __init__(self, placement: Placement, members: Dict[int, int]) -> None:
        super().__init__()
        self.placement = placement
        self.contexts: Dict[int, Context] = {}  # the samples' contexts, computed once for every name placed
        self.members: Dict[int, List[int]] = defaultdict(list)  # entity -> its new mentions
        for mention, entity_id in members.items():
            self.members[entity_id].append(mention)

    def __missing__(self, entity_id: int) -> List[Union[MentionRecord, ProfileSum]]:
        found = self[entity_id] = self.placement.samples(entity_id, self.members.get(entity_id, []), self.contexts)
        return found


def _canonical_order(alias: Tuple[str, int], label: str) -> Tuple[Any, ...]:
    """How an entity's name (as written, its mention count) ranks to be its canonical name, as
    resolve ranks them: the most specific, the longest, the most mentioned, then the longest and
    alphabetically first writing."""
    written, count = alias
    name = parse_name(written, label)
    return (-name.specificity, -len(name.ident), -count, -len(written), written)

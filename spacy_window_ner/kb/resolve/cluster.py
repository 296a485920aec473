"""Entity resolution: `resolve` groups mentions into real-world entities.

How it decides, for the mentions of one component (see `blocking_keys`) at a time:
1. Mentions are grouped by name: `names.name_key` of their text and their label.
2. Names that must be one entity are joined first: a "same" `Decision`, the names of one
   `AliasEntry`, and names that differ only in a title, a leading "the" or a corporate designator
   ("President Kennedy" / "Kennedy", "The Associated Press" / "Associated Press"). A "different"
   decision forbids a join, and names of two alias entries never join.
3. Pairs of names that share a blocking key are scored in [0, 1] by their structure
   (`names.name_score`: given names, initials and short forms, surnames, acronyms, places, an
   organisation's first words); inside a block only the pairs a rule can score are compared
   (`names.candidate_pairs`), never all pairs. A pair joins only with a score of at least
   `ResolveSettings.threshold`, and never with a score of 0.
4. Clustering is anchored, so it never chains. The most specific names (no more specific name
   fits them; an initial says less than a name) are anchors; anchors join one another only if
   every pair of them fits (complete linkage). A partial name ("Kennedy", "AP", "J. F. Kennedy"),
   most specific first, joins the entity whose anchors it fits, every one of them; of several,
   those it fits best ("N.C." is North Carolina as a place before Niagara County as an acronym).
   If it fits several equally ("Kennedy": "John F. Kennedy" and "Robert F. Kennedy"), or several
   alias entries claim it, it is ambiguous: each of its mentions is assigned by context (another
   mention of its document, or a relation, that names one of them; else the words, entities and
   relations around it, and vectors, most alike by MARGIN, compared with the first
   PROFILE_MENTIONS mentions of each entity up to LOOKAHEAD after it: `place_by_context`), and
   the mentions context can't place stay one entity of their own. Such names are reported in
   `Resolution.ambiguous`. So a bare surname never merges two people, and the full names that
   share a very common surname stay apart however many there are.
5. By default an entity has one label: mentions with different labels never merge, unless an
   alias entry without a label names both.

Why not a library. Splink (Fellegi-Sunter) and dedupe estimate match weights of field
comparisons over the whole input and cluster by connected components above a match
probability: components chain (one bare "Kennedy" joins both Kennedys), the weights are global
statistics (a component's result would change with the rest of the input, which breaks the
locality below), and they bring DuckDB/Spark or labelled training pairs. String similarity
(rapidfuzz) sees letters, not names. Measured on the CoNLL04 gold alias set
(benchmarks/resolution/), pairwise precision/recall/F1 on train: rapidfuzz's WRatio >= 90 with
connected components 8.0/82.6/14.6, exact strings 89.2/51.7/65.4, this module 96.5/95.6/96.1
(dev, held out: 97.4/95.9/96.6); on train+dev, Splink 5 88.7/56.6/69.1 (splink_baseline.py)
against this module's 96.6/95.1/95.8. So the comparisons here are name rules, written for this
package, and the core needs no new dependency.

Determinism and locality, which the store relies on: two names are linked when they share a
blocking key, which includes the entry keys of the alias entries that name them; a "same" or
"different" decision also links its two names. A component is a connected set of names under
that link. The result does not depend on the input's order, a component's entities are the same
whether it is resolved alone or with others (nothing is counted over the whole input), and two
mentions are in one entity only if their names are in one component.
"""
import heapq
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Dict, FrozenSet, Iterable, List, Mapping, Optional, Sequence, Set, Tuple, Union, overload

import numpy

from ..store import KBError
from .context import ProfileIndex, ProfileSum, VectorsT, context_features, mention_vector
from .names import Name, candidate_pairs, name_blocking_keys, name_key, name_score, parse_name
from .records import AliasEntry, Decision, MentionRecord, NamePlace, Resolution, ResolvedEntity, ResolveSettings

# An ambiguous name's mention joins the entity whose context it is most like only if that
# similarity is at least MIN_SIMILARITY, and MARGIN more than the next entity's. Chosen on the
# CoNLL04 gold alias set's train part (benchmarks/resolution/): a margin of 0.05 keeps pairwise
# precision where it is without context placement (0.02 or none cost 0.4 points), and a minimum
# of 0.05 places 0.5 points more recall than 0.1 at the same precision.
MIN_SIMILARITY = 0.05
MARGIN = 0.05
# An entity's context profile, against which an ambiguous name's mention is compared, sums the
# contexts of its first PROFILE_MENTIONS mentions (in id order) among those whose id is at most
# LOOKAHEAD more than that mention's: a bounded sample, which documents added much later never
# change, so the store places only the last LOOKAHEAD mentions again when it adds documents
# (see `place_by_context`). On the CoNLL04 gold set (3,697 mentions) it is every mention; a
# window of mentions before each one only (no lookahead) cost 5.6 points of pairwise recall there.
PROFILE_MENTIONS = 50
LOOKAHEAD = 10_000

MIN_SCORE = 1e-9  # the least pair score that may join, whatever the threshold
DECISION_KINDS = ("same", "different")
NameId = Tuple[str, str]  # (name_key, label)
Context = Tuple[Counter, Optional[numpy.ndarray]]  # a mention's context_features and mention_vector
Sample = Sequence[Union[MentionRecord, ProfileSum]]  # a candidate's profile sample, sorted by id
EntryId = Tuple[str, Optional[str]]  # (name_key of the canonical name, label or None)


def blocking_key(kind: str, label: str, value: str) -> str:
    """One blocking key as stored: kind, label and value, tab-separated (names hold no tabs).

    kind (str): What it blocks on: a kind of `names.name_blocking_keys` ("n", the identifying
        words, ...) or "e", an alias entry.
    label (str): The label (empty for an alias entry of any label).
    value (str): The value.
    RETURNS (str): The key.
    """
    return f"{kind}\t{label}\t{value}"


@dataclass
class _Entity:
    """The alias entries with one canonical name and label, merged."""

    canonical: str
    label: Optional[str]
    external_id: Optional[str]
    names: Set[str] = field(default_factory=set)


class AliasIndex(Sequence[AliasEntry]):
    """The user's alias entries, indexed by name: which entries claim a name. It is the sequence
    of its entries, so a caller that resolves many times (the store) builds it once and passes
    it as `aliases` to `blocking_keys` and `resolve`, which then don't index the entries again.

    aliases (Sequence[AliasEntry]): The entries. Entries with the same canonical name (by
        `name_key`) and label are one entity: its written canonical name is the alphabetically
        first of theirs, its external id the first of their ids, so the order of the entries
        does not matter.
    """

    def __init__(self, aliases: Sequence[AliasEntry]) -> None:
        self.entries: Tuple[AliasEntry, ...] = tuple(aliases)
        self.entities: Dict[EntryId, _Entity] = {}
        self.by_name: Dict[str, Set[EntryId]] = defaultdict(set)
        for entry in self.entries:
            ident = (name_key(entry.canonical), entry.label)
            entity = self.entities.get(ident)
            if entity is None:
                entity = self.entities[ident] = _Entity(entry.canonical, entry.label, entry.external_id)
            entity.canonical = min(entity.canonical, entry.canonical)
            if entry.external_id is not None:
                entity.external_id = min(entity.external_id or entry.external_id, entry.external_id)
            for name in (entry.canonical, *entry.aliases):
                key = name_key(name)
                if key:
                    entity.names.add(key)
                    self.by_name[key].add(ident)

    @overload
    def __getitem__(self, index: int) -> AliasEntry: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[AliasEntry]: ...

    def __getitem__(self, index: Union[int, slice]) -> Union[AliasEntry, Sequence[AliasEntry]]:
        return self.entries[index]

    def __len__(self) -> int:
        return len(self.entries)

    def claims(self, key: str, label: str) -> List[EntryId]:
        """The entries that claim a name for a label (theirs, or any label), sorted.

        key (str): The name's `name_key`.
        label (str): The mention label.
        RETURNS (List[EntryId]): The entries.
        """
        return sorted((i for i in self.by_name.get(key, ()) if i[1] is None or i[1] == label), key=_entry_order)


def _entry_order(ident: EntryId) -> Tuple[str, str]:
    return (ident[0], ident[1] or "")


def _entry_key(ident: EntryId) -> str:
    """The blocking key that links the names of one alias entry (its label empty for any label)."""
    return blocking_key("e", ident[1] or "", ident[0])


def _name_keys(name: Name, index: AliasIndex) -> FrozenSet[str]:
    """The blocking keys of a parsed name. They don't depend on how it is written, only on its
    name_key (names.name_blocking_keys)."""
    keys = {blocking_key(kind, name.label, value) for kind, value in name_blocking_keys(name)}
    keys.update(_entry_key(ident) for ident in index.claims(name.key, name.label))
    return frozenset(keys)


def blocking_keys(text: str, label: str, aliases: Sequence[AliasEntry] = ()) -> FrozenSet[str]:
    """The blocking keys of a name: two names are compared only if they share one. They depend
    only on `store.normalize(text)` (in fact on its `names.name_key`), the label and the alias
    entries, so the store can keep them per normalised name.

    text (str): The name as written.
    label (str): Its mention label.
    aliases (Sequence[AliasEntry]): The user's alias entries (an AliasIndex of them saves
        indexing them on every call): the names of one entry share a key.
    RETURNS (FrozenSet[str]): Its keys.
    """
    return _name_keys(parse_name(name_key(text), label), _index(aliases))


def _index(aliases: Sequence[AliasEntry]) -> AliasIndex:
    """The alias entries indexed: as given when they are an AliasIndex already."""
    return aliases if isinstance(aliases, AliasIndex) else AliasIndex(aliases)


class _Union:
    """Union-find over integers, the smaller root kept (so the result is order-free)."""

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, x: int) -> int:
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


@dataclass
class _Group:
    """The mentions of one name (name_key, label)."""

    key: str
    label: str
    mentions: List[MentionRecord]
    name: Name
    entry: Optional[EntryId] = None
    claims: Tuple[EntryId, ...] = ()


def resolve(
    mentions: Iterable[MentionRecord],
    *,
    aliases: Sequence[AliasEntry] = (),
    decisions: Sequence[Decision] = (),
    settings: ResolveSettings = ResolveSettings(),
    vectors: Optional[VectorsT] = None,
    contexts: Optional[Dict[int, Context]] = None,
) -> Resolution:
    """Group mentions into resolved entities (see the module docstring for how).

    mentions (Iterable[MentionRecord]): The mentions, in any order; ids must be unique.
    aliases (Sequence[AliasEntry]): The user's alias entries, or an AliasIndex of them.
    decisions (Sequence[Decision]): Curated decisions: "same" joins two names of a label, "different"
        keeps them apart.
    settings (ResolveSettings): The threshold, and whether to use context.
    vectors (Optional[Callable[[Sequence[str]], numpy.ndarray]]): Words -> their mean vector (the
        pipeline's static vectors), to compare contexts with; None: words, neighbours and
        relations only.
    contexts (Optional[Dict[int, Context]]): Filled in with the contexts of the mentions that
        profiles took (by mention id), for a caller that keeps their sums (the store).
    RETURNS (Resolution): The entities, and the names reported ambiguous.
    RAISES (KBError): A mention id repeats, a mention has an empty name, a decision's kind is
        unknown, or the threshold is outside [0, 1].
    """
    if not 0.0 <= settings.threshold <= 1.0:
        raise KBError(f"the resolution threshold must be in [0, 1], not {settings.threshold}; pick e.g. 0.75")
    for decision in decisions:
        if decision.kind not in DECISION_KINDS:
            raise KBError(f"unknown decision kind {decision.kind!r} ({decision}); use 'same' or 'different'")
    records = sorted(mentions, key=lambda r: r.id)
    index = _index(aliases)
    by_name: Dict[NameId, List[MentionRecord]] = defaultdict(list)
    for i, record in enumerate(records):
        if i and records[i - 1].id == record.id:
            raise KBError(f"mention id {record.id} is given twice; give every mention its own id")
        key = name_key(record.text)
        if not key:
            raise KBError(f"mention {record.id} has an empty name ({record.text!r}); remove it or give it text")
        by_name[(key, record.label)].append(record)
    groups = [_make_group(key, label, by_name[(key, label)], index) for key, label in sorted(by_name)]
    group_of = {(g.key, g.label): i for i, g in enumerate(groups)}
    # Components: names linked by a blocking key or a decision.
    links = _Union(len(groups))
    first_with: Dict[str, int] = {}
    for i, group in enumerate(groups):
        for key in sorted(_name_keys(group.name, index)):
            links.union(first_with.setdefault(key, i), i)
    named: List[Tuple[Decision, int]] = []  # the decisions whose two names are present
    for decision in decisions:
        pair = _decision_groups(decision, group_of)
        if pair is not None:
            links.union(*pair)
            named.append((decision, pair[0]))
    components: Dict[int, List[int]] = defaultdict(list)
    for i in range(len(groups)):
        components[links.find(i)].append(i)
    decisions_of: Dict[int, List[Decision]] = defaultdict(list)
    for decision, i in named:
        decisions_of[links.find(i)].append(decision)
    resolution = Resolution()
    for root, members in components.items():
        part = _Component([groups[i] for i in members], index, decisions_of[root], settings, vectors).resolve(contexts)
        resolution.entities.extend(part.entities)
        resolution.ambiguous.extend(part.ambiguous)
        resolution.names.update(part.names)
    resolution.entities.sort(key=lambda e: e.mentions[0])
    resolution.ambiguous.sort()
    return resolution


def place_by_context(
    mentions: Sequence[MentionRecord],
    candidates: Sequence[int],
    names: Dict[str, int],
    samples: Mapping[int, Sample],
    vectors: Optional[VectorsT] = None,
    contexts: Optional[Dict[int, Context]] = None,
) -> Dict[int, int]:
    """Where the mentions of an ambiguous name go by their context (step 4 of the module
    docstring): to the candidate one of whose names another mention of the document (or a
    relation) bears, else, with two candidates or more, to the candidate whose profile is most
    like the mention's context (by MIN_SIMILARITY and MARGIN), else nowhere.

    A candidate's profile, for a mention, is the summed context of the first PROFILE_MENTIONS
    mentions of the names clustered into it (none placed by context), in id order, among those
    whose id is at most LOOKAHEAD more than the mention's. So a mention's place never depends on
    mentions more than LOOKAHEAD ids after it: when documents are added (larger ids), the store
    places the new mentions and those of the last LOOKAHEAD ids again, not the others, and gets
    what a pass from scratch gets.

    mentions (Sequence[MentionRecord]): The ambiguous name's mentions (any order).
    candidates (Sequence[int]): The entities it may mean (any ids, in a fixed order).
    names (Dict[str, int]): The `name_key` of each name clustered into a candidate -> that
        candidate.
    samples (Mapping[int, Sample]): Each candidate's sample, sorted by id (at least its first
        PROFILE_MENTIONS; only needed with two candidates or more). It may start with a
        `ProfileSum` of its first mentions, which counts as that many; each mention's window (up to
        its id + LOOKAHEAD) must then take all of the sum's mentions or none.
    vectors (Optional[VectorsT]): Words -> their mean vector, to compare contexts with.
    contexts (Optional[Dict[int, Context]]): The contexts (`context_features`,
        `mention_vector`) of sample mentions, by mention id, filled in as they are computed: a
        caller that places many names against the same samples computes each once.
    RETURNS (Dict[int, int]): Mention id -> candidate, for the mentions placed.
    RAISES (ValueError): A mention's window takes only some of a sum's mentions.
    """
    placed: Dict[int, int] = {}
    index: Optional[ProfileIndex] = None
    sample: List[Tuple[int, int, Union[MentionRecord, ProfileSum]]] = []
    sums: List[Tuple[int, int]] = []  # (first, last) of the sums, by first
    added = entered = 0
    for mention in sorted(mentions, key=lambda m: m.id):
        around = {name_key(n) for n in mention.neighbours} | {name_key(n) for _, n in mention.relations}
        named = {names[key] for key in around if key in names}
        if len(named) == 1:
            placed[mention.id] = named.pop()
            continue
        if len(candidates) < 2:  # similarity means something only against another candidate
            continue
        if index is None:
            index = ProfileIndex(candidates)
            sample = sorted((m.id, c, m) for c in candidates for m in _first(samples[c]))
            sums = sorted((m.first, m.id) for _, _, m in sample if isinstance(m, ProfileSum))
        while added < len(sample) and sample[added][0] <= mention.id + LOOKAHEAD:
            _, c, other = sample[added]
            added += 1
            if isinstance(other, ProfileSum):
                index.add(c, other.features)
                continue
            context = None if contexts is None else contexts.get(other.id)
            if context is None:
                context = (context_features(other), mention_vector(other, vectors))
                if contexts is not None:
                    contexts[other.id] = context
            index.add(c, *context)
        while entered < len(sums) and sums[entered][0] <= mention.id + LOOKAHEAD:
            if sums[entered][1] > mention.id + LOOKAHEAD:
                raise ValueError(f"mention {mention.id}'s context window takes only part of a profile sum: give its mentions instead")
            entered += 1
        scores = index.similarities(context_features(mention), mention_vector(mention, vectors))
        ranked = sorted(((score, -c) for c, score in scores.items()), reverse=True)
        best = ranked[0][0] if ranked else 0.0
        runner_up = ranked[1][0] if len(ranked) > 1 else 0.0
        if best >= MIN_SIMILARITY and best - runner_up >= MARGIN:
            placed[mention.id] = -ranked[0][1]
    return placed


def _first(sample: Sample) -> Sample:
    """The first PROFILE_MENTIONS mentions of a sample, a ProfileSum counting as its mentions."""
    count = 0
    for n, item in enumerate(sample):
        if count >= PROFILE_MENTIONS:
            return sample[:n]
        count += item.count if isinstance(item, ProfileSum) else 1
    return sample


def _make_group(key: str, label: str, mentions: List[MentionRecord], index: AliasIndex) -> _Group:
    """The group of one name: parsed from the writing that reads most (an acronym, when any
    writing of it is one), and the alias entries that claim it."""
    parses = sorted({parse_name(text, label) for text in {m.text for m in mentions}}, key=lambda n: (not n.acronym, n.words))
    claims = tuple(index.claims(key, label))
    return _Group(key, label, mentions, parses[0], claims[0] if len(claims) == 1 else None, claims)


def _decision_groups(decision: Decision, group_of: Dict[NameId, int]) -> Optional[Tuple[int, int]]:
    """The two groups a decision names, when both are present."""
    a = group_of.get((name_key(decision.a), decision.label))
    b = group_of.get((name_key(decision.b), decision.label))
    return None if a is None or b is None or a == b else (a, b)


class _Component:
    """The resolution of one component's names (see the module docstring)."""

    def __init__(
        self,
        groups: List[_Group],
        index: AliasIndex,
        decisions: Sequence[Decision],
        settings: ResolveSettings,
        vectors: Optional[VectorsT],
    ) -> None:
        self.groups = sorted(groups, key=lambda g: (g.label, g.key))
        self.index = index
        self.settings = settings
        self.vectors = vectors
        group_of = {(g.key, g.label): i for i, g in enumerate(self.groups)}
        self.same: List[Tuple[int, int]] = []
        self.different: List[Tuple[int, int]] = []
        for decision in decisions:
            pair = _decision_groups(decision, group_of)
            if pair is not None:
                (self.same if decision.kind == "same" else self.different).append((min(pair), max(pair)))
        self.same.sort()
        self.different.sort()
        self._adjacent: Dict[int, Set[int]] = defaultdict(set)  # node -> the nodes scored with it

    def _forced(self) -> _Union:
        """Step 2: the names that must be one entity, joined (decisions, alias entries, one
        name written two ways); sets `entry_of`, the alias entry of each joined root."""
        forced = _Union(len(self.groups))
        entry_of: Dict[int, Optional[EntryId]] = {i: g.entry for i, g in enumerate(self.groups)}
        # Roots holding a name several alias entries claim: only a decision joins them to an entry.
        claimed = {i for i, g in enumerate(self.groups) if len(g.claims) > 1}

        def join(a: int, b: int, decided: bool = False) -> None:
            ra, rb = forced.find(a), forced.find(b)
            if ra == rb or self._forbidden(forced, ra, rb):
                return
            ea, eb = entry_of[ra], entry_of[rb]
            if ea is not None and eb is not None and ea != eb:
                return
            if not decided and (ra in claimed and eb is not None or rb in claimed and ea is not None):
                return
            forced.union(ra, rb)
            root = forced.find(ra)
            entry_of[root] = ea if ea is not None else eb
            if ra in claimed or rb in claimed:
                claimed.add(root)

        for a, b in self.same:
            join(a, b, decided=True)
        by_entry: Dict[EntryId, List[int]] = defaultdict(list)
        for i, group in enumerate(self.groups):
            if group.entry is not None:
                by_entry[group.entry].append(i)
        for ident in sorted(by_entry, key=_entry_order):
            first, *rest = by_entry[ident]
            for i in rest:
                join(first, i)
        by_ident: Dict[Tuple[str, str], List[int]] = defaultdict(list)
        for i, group in enumerate(self.groups):
            by_ident[(group.label, group.name.ident)].append(i)
        for members in by_ident.values():
            for i in members[1:]:
                join(members[0], i)
        self.entry_of = {r: entry_of[r] for r in range(len(self.groups)) if forced.find(r) == r}
        return forced

    def _forbidden(self, forced: _Union, ra: int, rb: int) -> bool:
        """Whether a "different" decision keeps two roots apart."""
        return any({forced.find(a), forced.find(b)} == {ra, rb} for a, b in self.different)

    def resolve(self, contexts: Optional[Dict[int, Context]] = None) -> Resolution:
        """The component's entities and ambiguous names (steps 2 to 4 of the module docstring).

        contexts (Optional[Dict[int, Context]]): Filled in with the contexts of profiles'
            mentions (see `resolve`).
        RETURNS (Resolution): Its part of the result.
        """
        forced = self._forced()
        nodes: Dict[int, List[int]] = defaultdict(list)  # root -> its groups
        for i in range(len(self.groups)):
            nodes[forced.find(i)].append(i)
        spec = {r: max(self.groups[i].name.specificity for i in members) for r, members in nodes.items()}
        scores = self._scores(forced)
        # A pair joins with a score of at least the threshold, and never with a score of 0 (its
        # names say they are not one), even at threshold 0.
        threshold = max(self.settings.threshold, MIN_SCORE)

        def fits(a: int, b: int) -> float:
            return scores.get((min(a, b), max(a, b)), 0.0)

        # Step 4: anchors are the nodes no more specific node fits; alias entries are anchors.
        # A name several alias entries claim is ambiguous whatever its structure says.
        claimed: Dict[int, Set[EntryId]] = {
            r: {c for i in group_ids if len(self.groups[i].claims) > 1 for c in self.groups[i].claims}
            for r, group_ids in nodes.items()
        }
        claimed = {r: c for r, c in claimed.items() if c and self.entry_of[r] is None}
        partial = {
            r for r in nodes
            if self.entry_of[r] is None
            and (r in claimed or any(spec[o] > spec[r] and fits(r, o) >= threshold for o in self._neighbours(r)))
        }
        anchors = sorted(r for r in nodes if r not in partial)
        anchor_set = set(anchors)
        cluster_of: Dict[int, int] = {r: r for r in anchors}
        members: Dict[int, List[int]] = {r: [r] for r in anchors}
        candidates = sorted(
            (-s, a, b) for (a, b), s in scores.items() if s >= threshold and a not in partial and b not in partial
        )
        for _, a, b in candidates:
            ca, cb = cluster_of[a], cluster_of[b]
            if ca == cb:
                continue
            if not all(fits(x, y) >= threshold for x in members[ca] for y in members[cb]):
                continue
            if any(self._forbidden(forced, x, y) for x in members[ca] for y in members[cb]):
                continue
            entries = {self.entry_of[x] for x in members[ca] + members[cb]} - {None}
            if len(entries) > 1:
                continue
            keep, drop = min(ca, cb), max(ca, cb)
            for x in members.pop(drop):
                cluster_of[x] = keep
                members[keep].append(x)
        # Step 4, partial names: most specific first, each joins the one cluster it fits.
        assigned: Dict[int, int] = {}  # mention id -> cluster, for an ambiguous name's mentions
        ambiguous: List[Tuple[int, List[int]]] = []
        to_place: List[Tuple[int, List[int]]] = []  # ambiguous names and the clusters they may mean
        residual: Set[int] = set()  # ambiguous names: never a partial name's target
        for r in sorted(partial, key=lambda r: (-spec[r], r)):
            # The clusters it fits best: "N.C." fits "North Carolina" as a place (tables.PLACES)
            # better than "Niagara County" as an acronym.
            best: Dict[int, float] = {}
            for o in self._neighbours(r):
                if o in cluster_of and o not in residual and spec[o] > spec[r] and fits(r, o) >= threshold:
                    c = cluster_of[o]
                    if c in best or any(self._forbidden(forced, r, x) for x in members[c]):
                        continue
                    # It must fit the cluster's anchors themselves, every one: no chaining.
                    best[c] = min(fits(r, a) for a in members[c] if a in anchor_set)
            best = {c: score for c, score in best.items() if score >= threshold}
            top = max(best.values(), default=0.0)
            fitting = sorted({c for c, score in best.items() if score == top} | {
                c for c, cluster in members.items()
                if r in claimed and c not in residual and any(self.entry_of.get(x) in claimed[r] for x in cluster)
            })
            if len(fitting) == 1 and r not in claimed:
                cluster_of[r] = fitting[0]
                members[fitting[0]].append(r)
                continue
            members[r] = [r]  # its own entity: what context does not place stays here
            cluster_of[r] = r
            anchor_set.add(r)  # the anchor of its own entity, for less specific names
            if len(fitting) > 1 or (fitting and r in claimed):
                residual.add(r)
                if r not in claimed:  # those are reported with all the entries that claim them
                    ambiguous.append((r, fitting))
                to_place.append((r, fitting))
        # The clusters are made; an ambiguous name's mentions go where their context says.
        samples: Dict[int, Sample] = {}
        contexts = {} if contexts is None else contexts
        for r, fitting in to_place:
            assigned.update(self._place(r, fitting, members, nodes, samples, contexts))
        return self._entities(nodes, members, assigned, ambiguous, cluster_of, dict(to_place))

    def _scores(self, forced: _Union) -> Dict[Tuple[int, int], float]:
        """The name scores of the node pairs that share a blocking key, by (root, root)."""
        buckets: Dict[Tuple[str, str, str], List[int]] = defaultdict(list)
        for i, group in enumerate(self.groups):
            for kind, value in name_blocking_keys(group.name):
                if kind != "n":  # one ident: joined already
                    buckets[(kind, group.label, value)].append(i)
        scores: Dict[Tuple[int, int], float] = {}
        for (kind, _, _), bucket in buckets.items():
            for x, y in candidate_pairs(kind, [self.groups[i].name for i in bucket]):
                i, j = bucket[x], bucket[y]
                ri, rj = forced.find(i), forced.find(j)
                if ri == rj or (self.different and self._forbidden(forced, ri, rj)):
                    continue
                pair = (min(ri, rj), max(ri, rj))
                score = name_score(self.groups[i].name, self.groups[j].name)
                if score > scores.get(pair, 0.0):
                    scores[pair] = score
        for a, b in scores:
            self._adjacent[a].add(b)
            self._adjacent[b].add(a)
        return scores

    def _neighbours(self, r: int) -> List[int]:
        """The nodes scored against node r, sorted."""
        return sorted(self._adjacent.get(r, ()))

    def _place(
        self,
        r: int,
        fitting: List[int],
        members: Dict[int, List[int]],
        nodes: Dict[int, List[int]],
        samples: Dict[int, Sample],
        contexts: Dict[int, Context],
    ) -> Dict[int, int]:
        """The clusters an ambiguous name's mentions belong to by their context
        (`place_by_context`).

        r (int): The ambiguous name's node.
        fitting (List[int]): The clusters it may mean.
        members (Dict[int, List[int]]): The nodes of each cluster.
        nodes (Dict[int, List[int]]): The groups of each node.
        samples (Dict[int, Sample]): The clusters' profile samples made so far,
            filled in as needed.
        contexts (Dict[int, Context]): The samples' contexts computed so far, filled in.
        RETURNS (Dict[int, int]): Mention id -> cluster, for the mentions placed.
        """
        if not self.settings.context:
            return {}
        names = {self.groups[i].key: c for c in fitting for x in members[c] for i in nodes[x]}
        if len(fitting) > 1:
            for c in fitting:
                if c not in samples:
                    clustered = (m for x in members[c] for i in nodes[x] for m in self.groups[i].mentions)
                    samples[c] = heapq.nsmallest(PROFILE_MENTIONS, clustered, key=lambda m: m.id)
        mentions = [m for i in nodes[r] for m in self.groups[i].mentions]
        return place_by_context(mentions, fitting, names, samples, self.vectors, contexts)

    def _entities(
        self,
        nodes: Dict[int, List[int]],
        members: Dict[int, List[int]],
        assigned: Dict[int, int],
        ambiguous: List[Tuple[int, List[int]]],
        cluster_of: Dict[int, int],
        placed: Dict[int, List[int]],
    ) -> Resolution:
        """The entities of the clusters, with their canonical names and aliases, and where each
        name's mentions go (`Resolution.names`)."""
        mentions_of: Dict[int, List[Tuple[MentionRecord, _Group]]] = defaultdict(list)
        for c, cluster in members.items():
            for x in cluster:
                for i in nodes[x]:
                    group = self.groups[i]
                    for mention in group.mentions:
                        mentions_of[assigned.get(mention.id, c)].append((mention, group))
        entities: Dict[int, ResolvedEntity] = {}
        for c, found in mentions_of.items():
            entries = {e for e in (self.entry_of[x] for x in members[c]) if e is not None}
            entities[c] = self._entity(found, entries)
        reported = []
        for r, fitting in ambiguous:
            alias = min(entities[r].aliases.items(), key=lambda kv: (-kv[1], kv[0]))[0] if r in entities else ""
            if not alias:
                alias = _written(self.groups[nodes[r][0]].mentions)
            reported.append((alias, self.groups[r].label, sorted(entities[c].canonical for c in fitting)))
        for key, label in sorted({(g.key, g.label) for g in self.groups if len(g.claims) > 1}):
            group = next(g for g in self.groups if (g.key, g.label) == (key, label))
            canonicals = sorted(self.index.entities[ident].canonical for ident in group.claims)
            reported.append((_written(group.mentions), label, canonicals))
        first = {c: entity.mentions[0] for c, entity in entities.items()}
        names: Dict[NameId, NamePlace] = {}
        for x, group_ids in nodes.items():
            if x in placed:
                place: NamePlace = (first.get(x), tuple(sorted(first[c] for c in placed[x])))
            else:
                place = (first[cluster_of[x]], None)
            names.update(((self.groups[i].key, self.groups[i].label), place) for i in group_ids)
        return Resolution(sorted(entities.values(), key=lambda e: e.mentions[0]), sorted(reported), names)

    def _entity(self, found: List[Tuple[MentionRecord, _Group]], entries: Set[EntryId]) -> ResolvedEntity:
        """One entity from its mentions (with their name groups) and its alias entry, if any."""
        by_key: Dict[str, List[MentionRecord]] = defaultdict(list)
        group_by_key: Dict[str, _Group] = {}
        for mention, group in found:
            by_key[group.key].append(mention)
            group_by_key[group.key] = group
        written = {key: _written(ms) for key, ms in by_key.items()}  # each name's writing, once
        aliases = {written[key]: len(ms) for key, ms in by_key.items()}
        labels = Counter(m.label for m, _ in found)
        label = min(labels, key=lambda lab: (-labels[lab], lab))
        external_id = None
        if entries:
            entity = self.index.entities[sorted(entries, key=_entry_order)[0]]
            canonical, external_id = entity.canonical, entity.external_id
        else:
            best = min(
                by_key,
                key=lambda k: (
                    -group_by_key[k].name.specificity,
                    -len(group_by_key[k].name.ident),
                    -len(by_key[k]),
                    -len(written[k]),
                    written[k],
                ),
            )
            canonical = written[best]
        return ResolvedEntity(label, canonical, sorted(m.id for m, _ in found), aliases, external_id)


def _written(mentions: Sequence[MentionRecord]) -> str:
    """The way a name is written most often (whitespace collapsed; ties: alphabetically first)."""
    counts = Counter(" ".join(m.text.split()) for m in mentions)
    return min(counts, key=lambda t: (-counts[t], t))


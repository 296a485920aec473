"""New names placed into a component's kept clustering without clustering the component again
(`insert_names`): what the store's incremental pass tries first for the new names of a component
(kb/placement.py), in time that grows with the new names and the kept names they share a blocking
key with, not with the component. Where it can't show that gives what `resolve` of the whole
component gives, it returns None and the caller clusters the component again.

A name is read here as `resolve` reads it (cluster.py): names of one label and ident are one node
(step 2), nodes are scored as `cluster._Component._scores` scores them (`_node_score`), and a cluster's
anchors are its nodes that no more specific node fits (step 4).
"""
from collections import defaultdict
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Callable, Dict, FrozenSet, Iterable, List, Mapping, Optional, Sequence, Set, Tuple

from .cluster import MIN_SCORE, NameId, blocking_key, blocking_keys, resolve
from .names import Name, candidate_pairs, name_blocking_keys, name_key, name_score, parse_name
from .records import MentionRecord, NamePlace, ResolveSettings


@dataclass(frozen=True)
class KeptName:
    """A name of a component as a kept resolution left it (the store's resolved_names).

    written (str): The writing it is read from (see `cluster._make_group`).
    label (str): Its label.
    entity (Optional[int]): The entity (cluster) its mentions go to; for an ambiguous name, its
        own entity (the mentions context did not place), if any.
    candidates (Optional[Tuple[int, ...]]): For an ambiguous name, the entities it may mean;
        None for the others.
    """

    written: str
    label: str
    entity: Optional[int]
    candidates: Optional[Tuple[int, ...]] = None


@dataclass
class Insertion:
    """Where new names go in a component's kept clustering (`insert_names`).

    names (Dict[NameId, NamePlace]): The new names' places: a kept entity, or a cluster of new
        names only, named by its first record's id.
    grown (Dict[NameId, List[int]]): The kept ambiguous names that may now mean some of those
        clusters too: the clusters, by their first record's id.
    twins (Dict[NameId, NameId]): New names that are one name with a kept one (a new writing,
        such as "Gov. Smith" beside "Smith"), not in `names`: the kept name whose place they take.
    """

    names: Dict[NameId, NamePlace] = field(default_factory=dict)
    grown: Dict[NameId, List[int]] = field(default_factory=dict)
    twins: Dict[NameId, NameId] = field(default_factory=dict)


# A node: the parsed names (label, ident) of one name written several ways (step 2's "one name
# written two ways"; without decisions and alias entries, that is all step 2 joins).
_Node = Tuple[Name, ...]


def insert_names(
    new: Sequence[MentionRecord],
    kept: Mapping[NameId, KeptName],
    named: Callable[[Set[str]], Iterable[NameId]],
    settings: ResolveSettings = ResolveSettings(),
) -> Optional[Insertion]:
    """Place new names into a component's kept clustering without clustering the component
    again: the new names are scored only against one another and the kept names they share a
    blocking key with (and those names' entities), never the kept names against each other.
    None when that can't be shown to give what `resolve` of the whole component gives (the
    caller clusters it again then).

    The condition. Clustering all names (kept K and new N) leaves every kept name where it was
    when
    1. no alias entry claims a name of the component and no decision names one (the caller
       checks that); and a new name that is one name with a kept one (one label and ident: it
       joins the kept name's node, step 2) reads as that name does but for its key and titles
       (the only parts no score, block or specificity reads), and either sorts after the
       node's names (by key: a node is placed by its first name, and the merges of anchors go
       in that order on equal scores) or joins a partial node (ambiguous, or placed as in 2),
       which no merge involves. Such a twin changes no score: it goes where its node goes, and
       is no new name below;
    2. for every new node n and kept node o that fit (a pair score of at least the threshold):
       if o is less specific than n, o is partial already (ambiguous, or placed in an entity E
       that holds a more specific name fitting it); if they are as specific, o or n is partial
       (two anchors could merge); if o is more specific, n is partial;
    3. no kept partial o that fits a more specific new node changes place: let t be the score
       it was placed with (the least of its scores with the anchors of E, or of one of its
       candidates: they all score the same), and s_c, for each cluster c that such a new node
       joined (below) and that o did not mean already, the least of o's scores with c's anchors
       (when at least the threshold). A placed o needs every s_c < t; an ambiguous o every
       s_c <= t, and those with s_c = t join its candidates (`Insertion.grown`) if c is a
       cluster of new names (a kept entity it may mean now would have its earlier mentions
       placed again).
    The new names then cluster as step 4 clusters them among the kept clusters, which is what
    this does: the new anchors (no more specific node, kept or new, fits them) merge among
    themselves as `resolve` of them alone merges them, and the new partial names, most
    specific first, join the one cluster, kept or new, whose anchors they fit best (else they
    are ambiguous, or an entity of their own).
    Why it suffices (the steps of the module docstring): by 2 no kept anchor becomes partial
    and no new anchor fits a kept anchor, so the anchors' merges are the kept ones and those of
    the new anchors alone (only pairs of anchors merge, and pairs of kept anchors keep their
    order: new nodes only add indices between them); new partial names join kept clusters but
    are none of their anchors, so a kept partial name finds the scores it found for the
    clusters it reached, and gains only the clusters it reaches through a new node, which leave
    its place as it was (3). The anchors of an entity, as a partial name placed later saw them,
    are its nodes that no more specific node of it fits: a placed name fits the more specific
    name it was placed by, an anchor is fitted by none (else it is partial), and an entity's
    own partial root is its most specific node. Scores need no other names: a pair's score
    depends on its two names alone, and so does whether `names.candidate_pairs` compares them
    (tests/test_resolve_names.py checks that).

    new (Sequence[MentionRecord]): One record per new name (its writing, as `cluster._make_group` reads
        it), with ids no kept entity has: a new cluster is named by its first record's id.
    kept (Mapping[NameId, KeptName]): The component's kept names, by (`name_key`, label); each
        is its own `name_key`.
    named (Callable[[Set[str]], Iterable[NameId]]): Blocking keys (as `blocking_keys` gives
        them) -> the names of the component that have one (those in neither `new` nor `kept`
        are left out: they have no mention).
    settings (ResolveSettings): The threshold (context is not used).
    RETURNS (Optional[Insertion]): Where the new names go, or None.
    """
    threshold = max(settings.threshold, MIN_SCORE)
    new_names = {(name_key(r.text), r.label): parse_name(r.text, r.label) for r in new}
    # The kept names that share a key with a new one, the ident key ("n") included: every name of
    # a node that a new name joins.
    near = {name for name in named({key for key, label in new_names for key in blocking_keys(key, label)}) if name in kept}
    old_names = {name: parse_name(kept[name].written, name[1]) for name in near}
    old_nodes = _nodes(old_names.values())
    by_entity: Dict[int, List[KeptName]] = defaultdict(list)  # parsed only for the entities asked for
    for state in kept.values():
        if state.candidates is None and state.entity is not None:
            by_entity[state.entity].append(state)
    anchors_kept: Dict[int, List[_Node]] = {}

    def place_of(node: _Node) -> Optional[Tuple[Optional[int], Optional[Tuple[int, ...]]]]:
        """A kept node's place (entity, candidates), if all its names have one."""
        states = {(kept[name.key, name.label].entity, kept[name.key, name.label].candidates) for name in node}
        return states.pop() if len(states) == 1 else None

    def cluster_anchors(entity: int) -> List[_Node]:
        if entity not in anchors_kept:
            parsed = (parse_name(state.written, state.label) for state in by_entity[entity])
            anchors_kept[entity] = _anchors(list(_nodes(parsed).values()), threshold)
        return anchors_kept[entity]

    twins: Dict[NameId, NameId] = {}
    all_new = _nodes(new_names.values())
    for node in sorted(set(old_nodes) & set(all_new)):
        o_names, place = old_nodes[node], place_of(old_nodes[node])
        if place is None:
            return None
        for twin in all_new[node]:
            same = next((o for o in o_names if _alike(o, twin)), None)
            if same is None:
                return None
            twins[twin.key, twin.label] = (same.key, same.label)
        entity, candidates = place
        partial = candidates is not None or (entity in by_entity and o_names not in cluster_anchors(entity))
        if all_new[node][0].key < o_names[0].key and not partial:
            return None
    new_nodes = {node: names for node, names in all_new.items() if node not in old_nodes}
    record_of = {(name_key(r.text), r.label): r for r in new}
    first = {n: min(record_of[name.key, name.label].id for name in names) for n, names in new_nodes.items()}
    spec = {n: _spec(names) for n, names in new_nodes.items()}
    # The pairs that fit (a score of at least the threshold): new with new, new with kept.
    fits_new: Dict[Tuple[str, str], List[Tuple[str, str]]] = defaultdict(list)
    ordered = sorted(new_nodes.items())
    for i, (n, a) in enumerate(ordered):
        for m, b in ordered[i + 1:]:
            if _share(a, b) and _node_score(a, b) >= threshold:
                fits_new[n].append(m)
                fits_new[m].append(n)
    fits_old: Dict[Tuple[str, str], List[Tuple[str, str]]] = defaultdict(list)  # new node -> kept nodes
    fitting: Dict[Tuple[str, str], List[Tuple[str, str]]] = defaultdict(list)  # kept node -> new nodes
    for n, a in new_nodes.items():
        for o, b in old_nodes.items():
            if _share(a, b) and _node_score(a, b) >= threshold:
                fits_old[n].append(o)
                fitting[o].append(n)
    # The kept nodes that fit new ones, with every name of theirs (the keys they share with new
    # names may leave some out; those score 0 with them).
    for name in named({blocking_key("n", label, ident) for label, ident in fitting}):
        if name in kept and name not in old_names:
            old_names[name] = parse_name(kept[name].written, name[1])
    old_nodes = _nodes(old_names.values())
    kept_place: Dict[Tuple[str, str], Tuple[Optional[int], Optional[Tuple[int, ...]], bool]] = {}
    for o in fitting:
        place = place_of(old_nodes[o])
        if place is None:
            return None
        entity, candidates = place
        target = candidates[0] if candidates is not None else entity
        if target is None or target not in by_entity:
            return None
        partial = candidates is not None or old_nodes[o] not in cluster_anchors(target)
        kept_place[o] = (entity, candidates, partial)
    partial_new = {
        n for n in new_nodes
        if any(spec[m] > spec[n] for m in fits_new[n]) or any(_spec(old_nodes[o]) > spec[n] for o in fits_old[n])
    }
    for o, found in fitting.items():
        for n in found:
            if _spec(old_nodes[o]) < spec[n] and not kept_place[o][2]:
                return None  # a kept anchor (or an entity's own partial root) would become partial
            if _spec(old_nodes[o]) == spec[n] and not kept_place[o][2] and n not in partial_new:
                return None  # two anchors that may merge
    # Step 4 for the new names: their anchors merge among themselves (as `resolve` of them alone
    # merges them), then their partial names, most specific first, join a cluster, kept or new.
    merged = resolve(
        [record_of[name.key, name.label] for n in new_nodes if n not in partial_new for name in new_nodes[n]],
        settings=ResolveSettings(settings.threshold, context=False),
    ).names
    cluster_of: Dict[Tuple[str, str], int] = {}
    new_anchors: Dict[int, List[_Node]] = defaultdict(list)  # new clusters -> their anchors
    for n in new_nodes:
        if n not in partial_new:
            own, _ = merged[new_nodes[n][0].key, n[0]]
            assert own is not None
            cluster_of[n] = own
            new_anchors[own].append(new_nodes[n])

    def anchors_of(cluster: int) -> List[_Node]:
        return new_anchors[cluster] if cluster in new_anchors else cluster_anchors(cluster)

    residual: Dict[Tuple[str, str], List[int]] = {}  # ambiguous new names -> the clusters they may mean
    for n in sorted(partial_new, key=lambda n: (-spec[n], n[0], new_nodes[n][0].key)):
        best: Dict[int, float] = {}
        reach: List[Optional[int]] = [cluster_of[m] for m in fits_new[n] if spec[m] > spec[n] and m not in residual]
        reach += [kept_place[o][0] for o in fits_old[n] if _spec(old_nodes[o]) > spec[n] and kept_place[o][1] is None]
        for cluster in reach:
            if cluster is not None and cluster not in best:
                best[cluster] = min(_node_score(new_nodes[n], a) for a in anchors_of(cluster))
        best = {c: score for c, score in best.items() if score >= threshold}
        top = max(best.values(), default=0.0)
        fits = sorted(c for c, score in best.items() if score == top)
        if len(fits) == 1:
            cluster_of[n] = fits[0]
            continue
        cluster_of[n] = first[n]  # its own cluster, of which it is the anchor
        new_anchors[first[n]].append(new_nodes[n])
        if fits:
            residual[n] = fits
    places: Dict[NameId, NamePlace] = {}
    for n, names in new_nodes.items():
        where: NamePlace = (cluster_of[n], tuple(residual[n]) if n in residual else None)
        places.update(((name.key, name.label), where) for name in names)
    # The kept partial names that fit new ones: the clusters those joined are candidates of
    # theirs now, which must leave their places as they were.
    grown: Dict[NameId, List[int]] = {}
    for o, found in sorted(fitting.items()):
        o_names = old_nodes[o]
        entity, candidates, _ = kept_place[o]
        reached = sorted({cluster_of[n] for n in found if spec[n] > _spec(o_names) and n not in residual})
        reached = [c for c in reached if c not in (candidates or (entity,))]
        if not reached:
            continue
        target = candidates[0] if candidates is not None else entity
        assert target is not None
        top = min(_node_score(o_names, a) for a in cluster_anchors(target))
        if top < threshold:
            return None  # not as kept: leave it to `resolve`
        joined: List[int] = []
        for cluster in reached:
            score = min(_node_score(o_names, a) for a in anchors_of(cluster))
            if score < threshold:
                continue
            if score > top or (score == top and candidates is None):
                return None
            if score == top:
                if cluster not in new_anchors:
                    return None  # a kept entity it may mean now: its earlier mentions may go there
                joined.append(cluster)
        if joined:
            grown.update(((name.key, name.label), joined) for name in o_names)
    return Insertion(places, grown, twins)


def _nodes(names: Iterable[Name]) -> Dict[Tuple[str, str], _Node]:
    """Names by node: (label, ident) -> the names, sorted by key."""
    nodes: Dict[Tuple[str, str], List[Name]] = defaultdict(list)
    for name in names:
        nodes[name.label, name.ident].append(name)
    return {node: tuple(sorted(found, key=lambda n: n.key)) for node, found in nodes.items()}


@lru_cache(maxsize=1 << 14)
def _keys(name: Name) -> FrozenSet[Tuple[str, str]]:
    """The blocking keys `cluster._Component._scores` compares a name in ("n" left out)."""
    return frozenset(key for key in name_blocking_keys(name) if key[0] != "n")


def _alike(a: Name, b: Name) -> bool:
    """Whether two names read alike but for their key and titles, which no score, block or
    specificity reads: one scores as the other does against any name."""
    return replace(a, key="", titles=()) == replace(b, key="", titles=())


def _share(a: _Node, b: _Node) -> bool:
    """Whether two nodes of one label share a blocking key (that `cluster._Component._scores` compares in)."""
    return a[0].label == b[0].label and bool({k for x in a for k in _keys(x)} & {k for y in b for k in _keys(y)})


def _spec(node: _Node) -> float:
    return max(name.specificity for name in node)


def _node_score(a: _Node, b: _Node) -> float:
    """The score of two nodes, as `cluster._Component._scores` gives it: the best of their names'
    scores, of the pairs that `names.candidate_pairs` compares in a block they share."""
    best = 0.0
    for x in a:
        for y in b:
            score = name_score(x, y)
            if score > best and any(next(candidate_pairs(kind, (x, y)), None) is not None for kind, _ in _keys(x) & _keys(y)):
                best = score
    return best


def _anchors(nodes: List[_Node], threshold: float) -> List[_Node]:
    """The anchors of one cluster's nodes, as a partial name placed after them sees them: the
    nodes that no more specific node of the cluster fits (see `insert_names`)."""
    return [
        a for a in nodes
        if not any(_spec(b) > _spec(a) and _node_score(a, b) >= threshold for b in nodes if b is not a)
    ]

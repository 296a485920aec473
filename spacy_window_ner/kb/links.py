"""What a resolution pass links names by, besides the blocking keys they share: the alias entries
kept in the knowledge base (`KeptAliases`, read once per batch by `AliasCache`) and the curated
decisions (`kb merge`, `kb split`), both read once per pass (`Links`); and the rows of name_keys a
build stores for each name (`name_key_rows`, the entry keys of the kept alias entries that claim
the name included).

New alias entries and decisions are checked (`read_alias_files`, `read_decision`) and kept
(`add_alias_entries`, `add_decisions`) inside the pass's transaction (resolution.py); a new alias
entry resolves from scratch, a new decision marks its names stale.
"""
import json
from collections import defaultdict
from pathlib import Path
from typing import Any, Dict, FrozenSet, Iterable, List, Optional, Sequence, Set, Tuple

from .resolve import AliasEntry, Decision, blocking_keys, name_key, read_alias_file
from .sql import Execute, Name, NameKey, Session
from .store import KBError, normalize

DECISION_KINDS = ("same", "different")


class KeptAliases:
    """The alias entries kept in a knowledge base, indexed by the `name_key` of their names.

    entries (Sequence[AliasEntry]): The entries, in the order they were kept.
    """

    def __init__(self, entries: Sequence[AliasEntry] = ()) -> None:
        self.entries = list(entries)
        self._by_key: Dict[str, List[AliasEntry]] = defaultdict(list)
        for entry in self.entries:
            for key in {name_key(name) for name in (entry.canonical, *entry.aliases)}:
                self._by_key[key].append(entry)

    def claiming(self, text: str, label: str) -> List[AliasEntry]:
        """The entries that name a name, for its label or any label.

        text (str): The name (as written or normalised).
        label (str): Its label.
        RETURNS (List[AliasEntry]): The entries, in the order they were kept.
        """
        if not self.entries:  # most knowledge bases: no name_key to compute
            return []
        return [entry for entry in self._by_key.get(name_key(text), []) if entry.label in (None, label)]


class AliasCache:
    """A store's `KeptAliases`, read again only when the alias_entries table changed (entries
    are only ever added), so that writing a batch costs one small query for them."""

    def __init__(self) -> None:
        self._stamp: Optional[Tuple[Any, ...]] = None
        self._aliases = KeptAliases()

    def get(self, execute: Execute) -> KeptAliases:
        """The kept alias entries, read with a back end's execute inside its transaction."""
        stamp = tuple(execute("SELECT COUNT(*), MAX(id) FROM alias_entries", ()).fetchone())
        if stamp != self._stamp:
            self._aliases = KeptAliases(read_alias_entries(execute))
            self._stamp = stamp
        return self._aliases


def name_key_rows(mentions: Iterable[Dict[str, Any]], aliases: KeptAliases) -> List[NameKey]:
    """The rows of name_keys for mentions: (key, norm, label) for every blocking key of each
    (text, label), those of the alias entries that claim it included; sorted (concurrent
    PostgreSQL writers insert them in one order).

    mentions (Iterable[Dict[str, Any]]): Mentions with "text" and "label" (store.DocRows).
    aliases (KeptAliases): The knowledge base's alias entries.
    RETURNS (List[NameKey]): The rows, without repeats.
    """
    rows: Set[NameKey] = set()
    for norm, label in {(normalize(m["text"]), m["label"]) for m in mentions}:
        rows.update((key, norm, label) for key in blocking_keys(norm, label, aliases.claiming(norm, label)))
    return sorted(rows)


def read_decision(kind: str, label: str, a: str, b: str) -> Decision:
    """A curated decision about two names, checked.

    kind (str): "same" (`kb merge`) or "different" (`kb split`).
    label (str): The label of the names' mentions.
    a (str): One name, as written or normalised.
    b (str): The other.
    RETURNS (Decision): The decision, with normalised names.
    RAISES (KBError): An empty name or label, or twice the same name.
    """
    if kind not in DECISION_KINDS:
        raise KBError(f"Unknown decision {kind!r}: choose one of {', '.join(DECISION_KINDS)}.")
    norm_a, norm_b = normalize(a), normalize(b)
    if not norm_a or not norm_b or not label.strip():
        raise KBError("Give two non-empty names and a non-empty --label.")
    if norm_a == norm_b:
        raise KBError(f"{a!r} and {b!r} are the same name: give two different names.")
    return Decision(kind, label, *sorted((norm_a, norm_b)))


def read_alias_files(paths: Iterable[Path]) -> List[Tuple[AliasEntry, str]]:
    """The entries of alias files, each with where it was read (FILE:LINE).

    paths (Iterable[Path]): The files (JSONL or CSV).
    RETURNS (List[Tuple[AliasEntry, str]]): The entries.
    RAISES (KBError): A malformed file ("PATH:LINE: ...").
    """
    entries: List[Tuple[AliasEntry, str]] = []
    for path in paths:
        entries.extend((entry, f"{path}:{entry.line}") for entry in read_alias_file(Path(path)))
    return entries


def read_alias_entries(execute: Execute) -> List[AliasEntry]:
    """The alias entries kept in the knowledge base, in the order they were added.

    execute (Execute): A back end's execute.
    RETURNS (List[AliasEntry]): The entries (`line` is their row id).
    """
    rows = execute("SELECT id, canonical, label, external_id, aliases FROM alias_entries ORDER BY id", ()).fetchall()
    return [
        AliasEntry(canonical=canonical, aliases=tuple(json.loads(aliases)), label=label, external_id=external_id, line=row_id)
        for row_id, canonical, label, external_id, aliases in rows
    ]


def add_alias_entries(session: Session, entries: Sequence[Tuple[AliasEntry, str]]) -> bool:
    """Keep new alias entries (those not kept already), in the pass's transaction.

    session (Session): The pass's session.
    entries (Sequence[Tuple[AliasEntry, str]]): The entries, each with where it was read (FILE:LINE).
    RETURNS (bool): Whether any was new (the pass then resolves from scratch).
    """
    mark = session.queries.mark
    kept = {_entry_key(entry) for entry in read_alias_entries(session.execute)}
    added = False
    for entry, source in entries:
        if _entry_key(entry) in kept:
            continue
        kept.add(_entry_key(entry))
        session.execute(
            f"INSERT INTO alias_entries (canonical, label, external_id, aliases, source) VALUES ({mark}, {mark}, {mark}, {mark}, {mark})",
            (entry.canonical, entry.label, entry.external_id, json.dumps(list(entry.aliases), ensure_ascii=False), source),
        )
        added = True
    return added


def _entry_key(entry: AliasEntry) -> Tuple[Any, ...]:
    """What tells two alias entries apart (not where they were read)."""
    return (entry.canonical, tuple(entry.aliases), entry.label, entry.external_id)


def add_decisions(session: Session, decisions: Sequence[Decision]) -> None:
    """Keep new decisions (replacing one about the same names and label) and mark their names
    stale, in the pass's transaction.

    session (Session): The pass's session.
    decisions (Sequence[Decision]): The decisions (`read_decision`).
    """
    mark = session.queries.mark
    for decision in decisions:
        session.execute(
            f"DELETE FROM decisions WHERE label = {mark} AND a = {mark} AND b = {mark}", (decision.label, decision.a, decision.b)
        )
        session.execute(
            f"INSERT INTO decisions (kind, label, a, b) VALUES ({mark}, {mark}, {mark}, {mark})",
            (decision.kind, decision.label, decision.a, decision.b),
        )
        for norm in (decision.a, decision.b):
            session.execute(f"INSERT INTO stale_names (norm, label) VALUES ({mark}, {mark}) ON CONFLICT DO NOTHING", (norm, decision.label))


class Links:
    """What a pass needs besides the stored blocking keys: the decisions, which link their two
    names, and the alias entries, read once per pass (there are few).

    execute (Execute): The pass's execute.
    """

    def __init__(self, execute: Execute) -> None:
        self.decisions = [Decision(*row) for row in execute("SELECT kind, label, a, b FROM decisions ORDER BY id", ()).fetchall()]
        self.aliases = KeptAliases(read_alias_entries(execute))
        # By the name_key of their names, as resolve matches decisions to mentions.
        self._decisions_of: Dict[Name, List[Decision]] = defaultdict(list)
        for decision in self.decisions:
            for norm in (decision.a, decision.b):
                self._decisions_of[name_key(norm), decision.label].append(decision)

    def decisions_of(self, name: Name) -> List[Decision]:
        """The decisions about a name (or another spelling with its name_key)."""
        norm, label = name
        return self._decisions_of.get((name_key(norm), label), [])

    def keys(self, name: Name) -> FrozenSet[str]:
        """The blocking keys of a name, as name_key_rows stores them: a decision may name a
        spelling no mention has, whose names are found through its keys."""
        norm, label = name
        return blocking_keys(norm, label, self.aliases.claiming(norm, label))

    def linked(self, name: Name) -> Set[Name]:
        """The names a name's decisions link it to."""
        names = {(norm, decision.label) for decision in self.decisions_of(name) for norm in (decision.a, decision.b)}
        names.discard(name)
        return names

"""Entity resolution: which mentions name one real-world entity. Pure Python, no database and no
pipe; the store (`kb/store.py` and its back ends) calls it on the mentions of the components
that changed.

One job per module; each imports only those listed above it:
    tables.py    general word tables: titles, name suffixes, corporate designators, function words
    records.py   the values in and out: MentionRecord, AliasEntry, Decision, ResolveSettings,
                 ResolvedEntity, Resolution
    names.py     a name's structure (titles, given names, initials, surname, suffix, acronyms),
                 name pair scores and their blocking keys
    aliases.py   user alias files (JSONL or CSV), validated with line-numbered errors
    context.py   a mention's context (words, neighbours, relations, vectors) and its similarity
    cluster.py   `blocking_keys` and `resolve`: blocking, pair scoring, anchored clustering
    insert.py    `insert_names`: new names placed into a kept clustering without clustering again
"""
from .aliases import read_alias_file
from .cluster import LOOKAHEAD, PROFILE_MENTIONS, AliasIndex, Context, blocking_keys, place_by_context, resolve
from .context import ENTITY_WEIGHT, WINDOW, ProfileSum, context_features, summed_features
from .insert import Insertion, KeptName, insert_names
from .names import name_key
from .records import (
    DEFAULT_THRESHOLD,
    AliasEntry,
    Decision,
    MentionRecord,
    NamePlace,
    Resolution,
    ResolvedEntity,
    ResolveSettings,
)

__all__ = [
    "AliasEntry", "AliasIndex", "Context", "DEFAULT_THRESHOLD", "Decision", "ENTITY_WEIGHT", "Insertion", "KeptName", "LOOKAHEAD",
    "MentionRecord", "NamePlace", "PROFILE_MENTIONS", "ProfileSum", "Resolution", "ResolvedEntity", "ResolveSettings", "WINDOW",
    "blocking_keys", "context_features", "insert_names", "name_key", "place_by_context", "read_alias_file", "resolve", "summed_features",
]

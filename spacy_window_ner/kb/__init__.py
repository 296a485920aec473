"""A knowledge base built by streaming documents through any pipeline that sets `doc.ents`
(and, when it has them, relations read with `get_relations`). This is its public API.

Tables (schema.py): `documents` (one row per document identity, see inputs.document_identity),
`mentions` (one predicted entity span in a document, with its confidence, sentence, normalised
name and resolved entity), `relations` (one predicted relation between two mentions; its entities
are theirs), `entities` (resolved real-world entities: canonical name, label, mention count,
external id) with their `aliases`; and what resolution keeps between passes: `name_keys` (each
name's blocking keys), `stale_names`, `decisions` (`kb merge`/`kb split`) and `alias_entries`.

One job per module; each imports only those listed above it, and nothing imports in a circle
(tests/test_imports.py):
    store.py     what every back end provides (`Store`), the values passed to it, KBError
    urls.py      PostgreSQL URLs: `is_url`, `check_url`, and the password kept out of messages (`describe`)
    resolve/     entity resolution on plain records (`resolve`, `blocking_keys`, alias files):
                 no database; imports only store.py
    schema.py    the tables, their schema version, and the one schema every back end creates
    sql.py       the statements every back end writes alike, in its placeholder (`Queries`), and
                 the transaction a pass works in (`Session`)
    links.py     what a pass links names by besides their blocking keys: kept alias entries
                 (`KeptAliases`, `AliasCache`), decisions (`Links`), and the names' blocking keys
                 as name_keys stores them (`name_key_rows`)
    pass_state.py  a resolution pass's state (`ResolveStats`) and the reads and writes its parts
                 share (`PassState`: components, mention records, rows written in place; `PassPart`)
    learning.py  an incremental pass's new names placed into their components' kept clusterings
                 (`NameLearning`)
    placement.py  new mentions placed without resolving their components again (`Placement`)
    resolution.py  the incremental resolution pass (`resolve_kb`): components resolved whole
    rows.py      docs into rows (`doc_rows`), a batch stored and counted (`write_batch`, `BuildStats`);
                 for both back ends, a batch's mention rows and names (`batch_mentions`) and each
                 name's keys computed once per store (`NameKeys`)
    migrate.py   converting a knowledge base of an older schema version (`kb migrate`)
    sqlite.py    the SQLite back end: its SQL, connections (WAL) and files (`database_files`)
    postgres.py  the PostgreSQL back end (many concurrent writers): its SQL and locking;
                 imported only for a postgresql:// URL, as it needs psycopg (the `postgres` extra)
    backends.py  which back end a database names (`open_store`, `database_files`)
    ray_engine.py  `build_kb(engine="ray")`: the pipeline in one pool of Ray actors (the only module
                 importing Ray; build.py imports it lazily, for that engine only)
    build.py     `build_kb` and the local engine: stream records, skip those stored, nlp.pipe,
                 store; remove documents
    annotated.py `build_annotated` (`kb build --annotated`): the docs of .spacy files stored with
                 the entities and relations they carry, without a pipeline
    query.py     one entity (by any alias) with its mentions and relations; the entity graph
    export.py    the graph as JSONL, CSV or GraphML, sanitised for each format; the mentions as JSONL
    spacy_kb.py  the resolved entities as a spaCy InMemoryLookupKB, for entity_linker
    manage.py    resolving, deciding (`kb merge`/`kb split`) and migrating a database by its name
Input streaming (files, lines, identities, malformed lines) is `spacy_window_ner.inputs`.
"""
from .annotated import ID_KEY, build_annotated
from .backends import database_files, open_store
from .build import build_kb, check_database_not_input, remove_documents
from .export import CSV_FILES, EXPORT_FORMATS, MENTIONS_FIELDS, export_graph, export_mentions, write_graph, write_mentions
from .manage import decide, migrate_database, resolve_database
from .pass_state import ResolveStats
from .query import pending, query_entity, read_graph
from .resolution import describe_ambiguity, resolve_kb
from .rows import CONTEXT_TOKENS, MAX_SENTENCE_TOKENS, BuildStats, doc_rows
from .schema import SCHEMA_VERSION, TABLES
from .spacy_kb import SPACY_KB_FILES, SpacyKBCounts, export_spacy_kb, make_spacy_kb
from .sqlite import SCHEMA, SQLiteStore, open_kb
from .store import (
    EDGE_FIELDS, ENTITY_FIELDS, NODE_FIELDS, DocRows, KBError, RemoveStats, Store, WriteCounts, merge_edges, normalize,
)
from .urls import describe, hide_password, is_url

__all__ = [
    "BuildStats", "CSV_FILES", "CONTEXT_TOKENS", "DocRows", "EDGE_FIELDS", "ENTITY_FIELDS", "EXPORT_FORMATS", "ID_KEY",
    "KBError", "MAX_SENTENCE_TOKENS", "MENTIONS_FIELDS", "NODE_FIELDS", "RemoveStats", "ResolveStats", "SCHEMA",
    "SCHEMA_VERSION", "SPACY_KB_FILES", "SQLiteStore", "SpacyKBCounts", "Store", "TABLES", "WriteCounts",
    "build_annotated", "build_kb", "check_database_not_input", "database_files", "decide", "describe",
    "describe_ambiguity", "doc_rows", "export_graph", "export_mentions", "export_spacy_kb", "hide_password", "is_url",
    "make_spacy_kb", "merge_edges", "migrate_database", "normalize", "open_kb", "open_store", "pending", "query_entity",
    "read_graph", "remove_documents", "resolve_database", "resolve_kb", "write_graph", "write_mentions",
]

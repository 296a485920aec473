"""The knowledge base's tables, as every back end creates them: one schema, with the same
columns, keys and indexes everywhere, written once here with the few type names a back end
spells its own way (`schema`); and the schema version a database records in its `meta` table.
Both back ends (sqlite.py, postgres.py) import this module; neither imports the other.
"""
from typing import Iterable, List

SCHEMA_VERSION = "3"
# The data ("meta" holds the version and the resolution settings): documents, their mentions and
# relations; the resolved entities with their aliases; what resolution keeps between passes.
TABLES = (
    "documents", "entities", "aliases", "mentions", "relations", "name_keys", "stale_names", "decisions",
    "alias_entries",
)
ALL_TABLES = (*TABLES, "meta")
READ_VERSION = "SELECT value FROM meta WHERE key = 'schema_version'"
UPGRADABLE = ("2",)  # the versions `kb migrate` converts to SCHEMA_VERSION (see migrate.py)

# Where each resolved name's mentions go (resolve.Resolution.names), as the last pass that
# resolved its component left it: the entity of a name all of whose mentions are one entity's
# (candidates NULL), or, for an ambiguous name, its own entity (or NULL) and the entities it may
# mean (candidates: a JSON list of ids). key: resolve.name_key of norm; written: the writing of
# it that resolve reads the name from (an acronym, when one writing is). Derived data, which a pass
# creates when missing (a knowledge base built before it holds none) and refills: an incremental
# pass places a new mention of a name found here without resolving its component again.
RESOLVED_NAMES = """
CREATE TABLE IF NOT EXISTS resolved_names (
    norm TEXT NOT NULL,
    label TEXT NOT NULL,
    key TEXT NOT NULL,
    entity_id BIGINT,
    candidates TEXT,
    written TEXT NOT NULL,
    PRIMARY KEY (norm, label)
);
CREATE INDEX IF NOT EXISTS resolved_names_key ON resolved_names (key)"""

# The context profile sum of entities that an ambiguous name may mean (resolve.ProfileSum): the
# summed context features (a JSON object) of the first `mentions` mentions (ids first_mention to
# last_mention) of the entity's names that are not ambiguous, at most resolve.PROFILE_MENTIONS
# (fewer: all it has). Derived data like resolved_names, created when missing and refilled: an
# incremental pass compares a new mention with one row per candidate, not with its mentions. A
# pass that resolves an entity's component again deletes its row (and makes it again); a row of
# fewer mentions takes those placed since when a pass reads it; meta's resolve_profiles names
# the profile rules that made the rows, and other rules empty the table.
ENTITY_PROFILES = """
CREATE TABLE IF NOT EXISTS entity_profiles (
    entity_id BIGINT PRIMARY KEY REFERENCES entities (id) ON DELETE CASCADE,
    first_mention BIGINT NOT NULL,
    last_mention BIGINT NOT NULL,
    mentions BIGINT NOT NULL,
    features TEXT NOT NULL
)"""

# Each table with its indexes, in creation order. {if_new}: "IF NOT EXISTS " or nothing; {key}:
# an id numbered by the database in insertion order; {integer}: a 64-bit integer; {real}: a double.
_TABLES = {
    "meta": """
CREATE TABLE {if_new}meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
)""",
    "documents": """
CREATE TABLE {if_new}documents (
    id {key},
    identity TEXT NOT NULL UNIQUE,
    doc_id TEXT,
    source TEXT NOT NULL,
    line {integer},
    sha256 TEXT NOT NULL,
    n_chars {integer} NOT NULL,
    n_tokens {integer} NOT NULL
);
CREATE INDEX {if_new}documents_source ON documents (source);
CREATE INDEX {if_new}documents_doc_id ON documents (doc_id)""",
    # A resolved entity: its canonical name, its mentions' count, the id an alias entry gave it.
    "entities": """
CREATE TABLE {if_new}entities (
    id {key},
    label TEXT NOT NULL,
    name TEXT NOT NULL,
    mention_count {integer} NOT NULL DEFAULT 0,
    external_id TEXT
)""",
    # Every name an entity is mentioned by (norm: store.normalize of it; name: as written).
    "aliases": """
CREATE TABLE {if_new}aliases (
    entity_id {integer} NOT NULL REFERENCES entities (id) ON DELETE CASCADE,
    norm TEXT NOT NULL,
    name TEXT NOT NULL,
    mention_count {integer} NOT NULL,
    UNIQUE (entity_id, norm)
);
CREATE INDEX {if_new}aliases_norm ON aliases (norm)""",
    # entity_id is NULL until a resolution pass has assigned the mention its entity.
    "mentions": """
CREATE TABLE {if_new}mentions (
    id {key},
    doc_id {integer} NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    norm TEXT NOT NULL,
    entity_id {integer} REFERENCES entities (id),
    start_char {integer} NOT NULL,
    end_char {integer} NOT NULL,
    text TEXT NOT NULL,
    label TEXT NOT NULL,
    confidence {real},
    sentence TEXT NOT NULL,
    sent_start_char {integer} NOT NULL,
    sent_end_char {integer} NOT NULL,
    UNIQUE (doc_id, start_char, end_char, label)
);
CREATE INDEX {if_new}mentions_entity ON mentions (entity_id);
CREATE INDEX {if_new}mentions_doc ON mentions (doc_id);
CREATE INDEX {if_new}mentions_name ON mentions (norm, label)""",
    # A relation's entities are its mentions' entities (read through a join).
    "relations": """
CREATE TABLE {if_new}relations (
    id {key},
    doc_id {integer} NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    label TEXT NOT NULL,
    confidence {real} NOT NULL,
    head_mention {integer} NOT NULL REFERENCES mentions (id) ON DELETE CASCADE,
    tail_mention {integer} NOT NULL REFERENCES mentions (id) ON DELETE CASCADE,
    UNIQUE (head_mention, tail_mention, label)
);
CREATE INDEX {if_new}relations_head ON relations (head_mention);
CREATE INDEX {if_new}relations_tail ON relations (tail_mention);
CREATE INDEX {if_new}relations_doc ON relations (doc_id)""",
    # The blocking keys (resolve.blocking_keys) of every name (norm, label) mentioned: two names
    # sharing a key are in one component, which resolution handles as a whole.
    "name_keys": """
CREATE TABLE {if_new}name_keys (
    key TEXT NOT NULL,
    norm TEXT NOT NULL,
    label TEXT NOT NULL,
    PRIMARY KEY (key, norm, label)
);
CREATE INDEX {if_new}name_keys_name ON name_keys (norm, label)""",
    # The names whose mentions were removed (or which a decision is about) since the last
    # resolution pass: their components are resolved again, as those of unresolved mentions are.
    "stale_names": """
CREATE TABLE {if_new}stale_names (
    norm TEXT NOT NULL,
    label TEXT NOT NULL,
    PRIMARY KEY (norm, label)
)""",
    # Curated decisions (`kb merge`, `kb split`): resolve.Decision.
    "decisions": """
CREATE TABLE {if_new}decisions (
    id {key},
    kind TEXT NOT NULL,
    label TEXT NOT NULL,
    a TEXT NOT NULL,
    b TEXT NOT NULL
)""",
    # The alias file entries given to `kb resolve --aliases` (resolve.AliasEntry; aliases: a
    # JSON list; source: FILE:LINE), used by every later resolution pass.
    "alias_entries": """
CREATE TABLE {if_new}alias_entries (
    id {key},
    canonical TEXT NOT NULL,
    label TEXT,
    external_id TEXT,
    aliases TEXT NOT NULL,
    source TEXT NOT NULL
)""",
}


def schema(*, key: str, integer: str, real: str, if_new: bool) -> str:
    """The schema's statements (";"-separated) in a back end's types.

    key (str): The type of an id: an integer primary key the database numbers in insertion order.
    integer (str): The type of the other integer columns (64 bits).
    real (str): The type of a confidence (a double).
    if_new (bool): Write CREATE ... IF NOT EXISTS, for a back end that runs the statements
        on a database that may hold them already.
    RETURNS (str): The statements.
    """
    return table_schema(ALL_TABLES, key=key, integer=integer, real=real, if_new=if_new)


def table_schema(tables: Iterable[str], *, key: str, integer: str, real: str, if_new: bool) -> str:
    """The statements (";"-separated) that create some of the tables, with their indexes, in a
    back end's types (see `schema`).

    tables (Iterable[str]): The tables (of ALL_TABLES), created in the schema's order.
    key (str): The type of an id.
    integer (str): The type of the other integer columns.
    real (str): The type of a confidence.
    if_new (bool): Write CREATE ... IF NOT EXISTS.
    RETURNS (str): The statements.
    """
    wanted = set(tables)
    sql = ";".join(text for name, text in _TABLES.items() if name in wanted)
    return sql.format(key=key, integer=integer, real=real, if_new="IF NOT EXISTS " if if_new else "")


def statements(sql: str) -> List[str]:
    """The statements of a ";"-separated script (no ";" inside one), one to execute each.

    sql (str): The script, such as a back end's SCHEMA.
    RETURNS (List[str]): Its non-empty statements.
    """
    return [statement for statement in sql.split(";") if statement.strip()]


def missing_tables(tables: Iterable[str]) -> List[str]:
    """The schema's tables (ALL_TABLES) that a database lacks.

    tables (Iterable[str]): The tables the database holds.
    RETURNS (List[str]): The missing ones, in ALL_TABLES order.
    """
    tables = set(tables)
    return [table for table in ALL_TABLES if table not in tables]

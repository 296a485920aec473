"""The knowledge base's tables, as every back end creates them: one schema, with the same
columns, keys and indexes everywhere, written once here with the few type names a back end
spells its own way (`schema`); and the schema version a database records in its `meta` table.
Both back ends (sqlite.py, postgres.py) import this module; neither imports the other.
"""
from typing import Iterable, List

SCHEMA_VERSION = "2"
TABLES = ("documents", "entities", "mentions", "relations")  # the data; "meta" holds the version
ALL_TABLES = (*TABLES, "meta")
READ_VERSION = "SELECT value FROM meta WHERE key = 'schema_version'"

# {if_new}: "IF NOT EXISTS " or nothing; {key}: an id numbered by the database in insertion
# order; {integer}: a 64-bit integer; {real}: a double.
_SCHEMA = """
CREATE TABLE {if_new}meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
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
CREATE TABLE {if_new}entities (
    id {key},
    norm TEXT NOT NULL,
    label TEXT NOT NULL,
    name TEXT NOT NULL,
    mention_count {integer} NOT NULL DEFAULT 0,
    UNIQUE (norm, label)
);
CREATE TABLE {if_new}mentions (
    id {key},
    doc_id {integer} NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    entity_id {integer} NOT NULL REFERENCES entities (id),
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
CREATE TABLE {if_new}relations (
    id {key},
    doc_id {integer} NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    head_entity {integer} NOT NULL REFERENCES entities (id),
    tail_entity {integer} NOT NULL REFERENCES entities (id),
    label TEXT NOT NULL,
    confidence {real} NOT NULL,
    head_mention {integer} NOT NULL REFERENCES mentions (id) ON DELETE CASCADE,
    tail_mention {integer} NOT NULL REFERENCES mentions (id) ON DELETE CASCADE,
    UNIQUE (head_mention, tail_mention, label)
);
CREATE INDEX {if_new}documents_source ON documents (source);
CREATE INDEX {if_new}documents_doc_id ON documents (doc_id);
CREATE INDEX {if_new}mentions_entity ON mentions (entity_id);
CREATE INDEX {if_new}mentions_doc ON mentions (doc_id);
CREATE INDEX {if_new}relations_head ON relations (head_entity);
CREATE INDEX {if_new}relations_tail ON relations (tail_entity);
CREATE INDEX {if_new}relations_doc ON relations (doc_id);
"""


def schema(*, key: str, integer: str, real: str, if_new: bool) -> str:
    """The schema's statements (";"-separated) in a back end's types.

    key (str): The type of an id: an integer primary key the database numbers in insertion order.
    integer (str): The type of the other integer columns (64 bits).
    real (str): The type of a confidence (a double).
    if_new (bool): Write CREATE ... IF NOT EXISTS, for a back end that runs the statements
        on a database that may hold them already.
    RETURNS (str): The statements.
    """
    return _SCHEMA.format(key=key, integer=integer, real=real, if_new="IF NOT EXISTS " if if_new else "")


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

"""Converting a knowledge base of an older schema version to this one (`kb migrate`), the same
way on every back end, inside the one transaction a back end's `Store.upgrade` gives it: a
conversion that fails leaves the database as it was. A database of another version is never
read as this one: back ends refuse it on opening, with `refusal`'s message.

Version 2 (before entity resolution) to 3: documents are kept as they are, with their ids;
mentions and relations keep their ids and values; each mention gets its normalised name, and each
name its blocking keys; relations lose their entity columns (a relation's entities are its
mentions'). Version 2's entities (one per normalised name and label) are dropped: the resolution
pass that `kb migrate` runs next makes the resolved ones.
"""
from typing import Callable, Dict, List, Optional, Tuple

from .links import KeptAliases, name_key_rows
from .schema import SCHEMA_VERSION, UPGRADABLE, table_schema
from .sql import Session
from .store import KBError, normalize

CHUNK = 5000  # mentions converted per statement
NEW_TABLES = ("entities", "aliases", "mentions", "relations", "name_keys", "stale_names", "decisions", "alias_entries")
V2_INDEXES = ("mentions_entity", "mentions_doc", "relations_head", "relations_tail", "relations_doc")
V2_MOVED = ("relations", "mentions", "entities")  # renamed to v2_*, copied, dropped (in this order)
# Makes a table's id column number new rows after the highest id (PostgreSQL's identity
# columns don't follow ids inserted explicitly); None where the database does it (SQLite).
RestartIds = Optional[Callable[[Session, str], None]]


def refusal(where: str, db: str, version: str) -> str:
    """The message that refuses a knowledge base of a version `kb migrate` converts.

    where (str): The database, as the message starts with it.
    db (str): The database as the command to run names it (a URL without its password).
    version (str): Its schema version.
    RETURNS (str): The message.
    """
    return (
        f"{where} is a knowledge base of schema version {version}, from before entity resolution; this "
        f"version of spacy-window-ner reads version {SCHEMA_VERSION}. Nothing was changed. Convert it "
        f"in place with `spacy-window-ner kb migrate {db}` (one transaction, then it is resolved), and "
        "rerun this command."
    )


def upgrade(session: Session, version: str, types: Dict[str, str], restart_ids: RestartIds = None) -> None:
    """Convert the knowledge base to SCHEMA_VERSION inside the session's transaction.

    session (Session): The back end's transaction.
    version (str): The database's schema version (one of schema.UPGRADABLE).
    types (Dict[str, str]): The back end's "key", "integer" and "real" types (schema.schema).
    restart_ids (RestartIds): The back end's way to renumber a table's ids after a copy.
    """
    if version not in UPGRADABLE:
        raise KBError(f"Can't convert a knowledge base of schema version {version}: rebuild it into a new database.")
    execute = session.execute
    for index in V2_INDEXES:
        execute(f"DROP INDEX IF EXISTS {index}", ())
    for table in V2_MOVED:
        execute(f"ALTER TABLE {table} RENAME TO v2_{table}", ())
    for statement in table_schema(NEW_TABLES, **types, if_new=False).split(";"):
        if statement.strip():
            execute(statement, ())
    mark = session.queries.mark
    insert = (
        "INSERT INTO mentions (id, doc_id, norm, entity_id, start_char, end_char, text, label, confidence, "
        f"sentence, sent_start_char, sent_end_char) VALUES ({', '.join([mark] * 3)}, NULL, {', '.join([mark] * 8)})"
    )
    chunk: List[Tuple[object, ...]] = []
    for row in session.stream(
        "SELECT id, doc_id, start_char, end_char, text, label, confidence, sentence, sent_start_char, sent_end_char "
        "FROM v2_mentions ORDER BY id",
        (),
    ):
        chunk.append(row)
        if len(chunk) >= CHUNK:
            _copy_mentions(session, insert, chunk)
            chunk = []
    if chunk:
        _copy_mentions(session, insert, chunk)
    execute(
        "INSERT INTO relations (id, doc_id, label, confidence, head_mention, tail_mention) "
        "SELECT id, doc_id, label, confidence, head_mention, tail_mention FROM v2_relations ORDER BY id",
        (),
    )
    for table in V2_MOVED:
        execute(f"DROP TABLE v2_{table}", ())
    if restart_ids is not None:
        for table in ("mentions", "relations"):
            restart_ids(session, table)
    execute(f"UPDATE meta SET value = {mark} WHERE key = 'schema_version'", (SCHEMA_VERSION,))


def _copy_mentions(session: Session, insert: str, rows: List[Tuple[object, ...]]) -> None:
    """Insert version 2's mention rows with their normalised names, and their names' keys."""
    session.executemany(insert, [(row[0], row[1], normalize(str(row[4])), *row[2:]) for row in rows])
    session.executemany(session.queries.add_keys, name_key_rows(({"text": row[4], "label": row[5]} for row in rows), KeptAliases()))

"""The SQLite back end: the SQL of a SQLite knowledge base (its types of schema.py's tables;
the statements every back end shares are in sql.py), all connection handling, and the files
a database is kept in (`database_files`: the WAL, shared-memory and journal files beside it),
behind `SQLiteStore` (see store.Store).

Builds are idempotent and resumable: each batch is written in ONE transaction, and concurrent
builds on one database are safe (WAL journal, busy timeout, UNIQUE identity checked in the
writing transaction). A build's batches commit with synchronous=NORMAL: no fsync per commit, the
WAL is synced at checkpoints (the last when the last connection closes) and by the next commit
with synchronous=FULL. A crash of the build loses nothing it committed; a power failure or an
operating system crash may lose the batches committed since the last sync, never the database's
consistency, and rerunning the build stores them again. Resolution passes and removals commit
with synchronous=FULL. A build that opens a database holding no document (a first build) writes
its mentions without the indexes on their entity and name (`DEFERRED_INDEXES`: only the
resolution pass and the queries of resolved entities read them, and there is no entity before
a resolution pass); its store makes them, by one sort in one transaction, before it resolves,
removes or reads anything, and when it closes. Every other store that opens the database to
write makes them first where they are missing (a first build that crashed, or one that is still
writing), so a reader finds them wherever there is an entity to find. A resolution pass
(resolution.py) is one BEGIN IMMEDIATE transaction too, so no batch is written while it runs.
The schema and its version are created in one transaction, and a file that is not a knowledge
base, or one of another schema version, is refused before anything is written to it (version 2
with the command that converts it, `kb migrate`). Stores that only read open the database
read-only, so a knowledge base on read-only media can be queried and exported.
"""
import os
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple
from urllib.parse import quote

from ..inputs import Record
from . import migrate
from .links import AliasCache
from .rows import NameKeys, batch_mentions
from .schema import READ_VERSION, SCHEMA_VERSION, UPGRADABLE, missing_tables, schema, statements
from .sql import Queries, Session, choose_documents, entity_rows, mention_rows, read_entities
from .store import DocRows, Graph, KBError, RemoveStats, WriteCounts, match_stored, merge_edges

BUSY_TIMEOUT_MS = 60_000
MAX_VARIABLES = 999  # bound parameters per statement: SQLite builds before 3.32 allow no more
STREAM_ROWS = 1000  # rows fetched at a time by Session.stream
TYPES = {"key": "INTEGER PRIMARY KEY", "integer": "INTEGER", "real": "REAL"}
SCHEMA = schema(**TYPES, if_new=True)
# The indexes a first build makes at its end (see the module docstring): a batch's mentions go to
# random places of the index on their names, so that every batch rewrites most of its pages.
DEFERRED_INDEXES = {
    name: statement for name in ("mentions_entity", "mentions_name") for statement in statements(SCHEMA)
    if f"INDEX IF NOT EXISTS {name} ON" in statement
}
QUERIES = Queries.of("?", key=TYPES["key"])  # sqlite3's qmark paramstyle; text is ordered byte-wise by default


class SQLiteStore:
    """A knowledge base in one SQLite file (see store.Store for what each method does).

    conn (sqlite3.Connection): The connection, as open_kb makes it.
    path (Path): The database file.
    created (bool): Whether this store created the file (then an empty one can be discarded).
    """

    Error = sqlite3.Error
    concurrent_writes = False

    def __init__(self, conn: sqlite3.Connection, path: Path, *, created: bool = False) -> None:
        self.conn = conn
        self.path = path
        self.created = created
        self._aliases = AliasCache()
        self._keys = NameKeys()
        self._data_version: Optional[int] = None
        self._sync: Optional[str] = None  # PRAGMA synchronous, as this store last set it
        self._deferred = False  # whether this store writes its batches without DEFERRED_INDEXES

    @classmethod
    def open(cls, path: Path, *, create: bool = False, readonly: bool = False, upgrade: bool = False) -> "SQLiteStore":
        """Open a knowledge base (see open_kb). With `create`, a file this call creates is
        removed again if it can't be made a knowledge base.

        path (Path): The database file.
        create (bool): Create the file and the schema if missing.
        readonly (bool): Open it read-only.
        upgrade (bool): Accept a schema version `upgrade()` converts (schema.UPGRADABLE).
        RETURNS (SQLiteStore): The store.
        """
        path = Path(path)
        created = _create_file(path) if create else False
        try:
            conn = open_kb(path, create=create, readonly=readonly, upgrade=upgrade)
        except BaseException:
            if created:
                _remove_if_empty(path, None)
            raise
        store = cls(conn, path, created=created)
        if not readonly:
            try:
                store._open_indexes(defer=create)
            except BaseException:
                store.close()
                raise
        return store

    def __enter__(self) -> "SQLiteStore":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def close(self, *, discard_if_empty: bool = False) -> None:
        if self._deferred:
            try:
                self._make_indexes()
            except sqlite3.Error:  # the error being reported (a full disk) matters more
                pass  # the next store that opens the database to write makes them
        if discard_if_empty and self.created:
            _remove_if_empty(self.path, self.conn)
        else:
            self.conn.close()

    def known(self, records: Sequence[Record]) -> List[bool]:
        identities = [record.identity for record in records]
        stored = {row[0]: tuple(row[1:]) for row in self._in("SELECT identity, sha256, source, line FROM documents WHERE identity", identities)}
        known, moved = match_stored(records, stored)
        if moved:  # documents with an id that moved: same text, so only their place is updated
            self.conn.executemany(QUERIES.move, moved)
        return known

    def write_batch(self, batch: Sequence[Tuple[Record, DocRows]]) -> WriteCounts:
        conn = self.conn
        counts = WriteCounts()
        self._synchronous("NORMAL")  # a batch lost by a power failure is stored again by a rerun
        with _in_transaction(conn):
            aliases = self._aliases.get(conn.execute)
            # Another connection's commit (a removal, a resolution pass) may have deleted name
            # keys this store wrote before: then they are written again.
            data_version = conn.execute("PRAGMA data_version").fetchone()[0]
            if data_version != self._data_version:
                self._keys.forget_stored()
            stored = self._stored_versions([record.identity for record, _ in batch])
            todo: Dict[str, Tuple[Record, DocRows]] = {}  # identity -> the version this batch writes
            for record, rows in batch:
                identity = record.identity
                earlier, old = todo.get(identity), stored.get(identity)  # in this batch; stored
                version = earlier[0].sha256 if earlier is not None else old[1] if old is not None else None
                if version == record.sha256:  # another build stored this version meanwhile
                    counts.raced += 1
                    continue
                if earlier is not None:  # replaced before it was written
                    del todo[identity]
                elif old is not None:
                    _delete_documents(conn, [old[0]])
                counts.replaced += version is not None
                todo[identity] = (record, rows)
                counts.added += 1
            conn.executemany(
                "INSERT INTO documents (identity, doc_id, source, line, sha256, n_chars, n_tokens) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(r.identity, r.doc_id, r.source, r.line, r.sha256, rows["n_chars"], rows["n_tokens"]) for r, rows in todo.values()],
            )
            ids = dict(self._in("SELECT identity, id FROM documents WHERE identity", list(todo)))
            written = {ids[identity]: rows for identity, (_, rows) in todo.items()}  # the documents written, by id
            # Every mention of the batch in one statement, then the relations' mentions read back.
            mention_values, names = batch_mentions(written.items())
            conn.executemany(
                "INSERT INTO mentions (doc_id, norm, entity_id, start_char, end_char, text, label, "
                "confidence, sentence, sent_start_char, sent_end_char) VALUES (?, ?, NULL, ?, ?, ?, ?, ?, ?, ?, ?)",
                mention_values,
            )
            counts.mentions = len(mention_values)
            related = [doc_id for doc_id, rows in written.items() if rows["relations"]]
            if related:
                # A mention is one (doc_id, start_char, end_char, label).
                ids = {tuple(place): mention_id for *place, mention_id in self._in(
                    "SELECT doc_id, start_char, end_char, label, id FROM mentions WHERE doc_id", related
                )}
                relations: List[Tuple[int, str, float, int, int]] = []
                for doc_id in related:
                    mentions = written[doc_id]["mentions"]
                    places = {key: ids[(doc_id, m["start_char"], m["end_char"], m["label"])] for key, m in mentions.items()}
                    relations.extend(
                        (doc_id, label, score, places[head], places[tail]) for head, tail, label, score in written[doc_id]["relations"]
                    )
                conn.executemany(
                    "INSERT INTO relations (doc_id, label, confidence, head_mention, tail_mention) VALUES (?, ?, ?, ?, ?)",
                    relations,
                )
                counts.relations = len(relations)
            keys, keyed = self._keys.rows(names, aliases)
            conn.executemany(QUERIES.add_keys, keys)
        self._data_version = data_version  # this connection's own commits leave it as it is
        self._keys.written(keyed)
        return counts

    def _open_indexes(self, *, defer: bool) -> None:
        """Make the DEFERRED_INDEXES that are missing (a first build that crashed or is still
        writing left them out), or, with `defer` and no document stored, drop them until this
        store's batches are written (see the module docstring)."""
        conn = self.conn
        if _version(conn) != SCHEMA_VERSION:  # a database that `kb migrate` converts first
            return
        # Read first: most opens change nothing, and need not wait for a writer's lock.
        missing = set(DEFERRED_INDEXES) - _schema_names(conn, "index")
        if not missing and not (defer and _no_documents(conn)):
            return
        with _in_transaction(conn):
            if defer and _no_documents(conn):
                for name in DEFERRED_INDEXES:
                    conn.execute(f"DROP INDEX IF EXISTS {name}")
                self._deferred = True
            else:
                _create_indexes(conn)

    def _make_indexes(self) -> None:
        """Make the DEFERRED_INDEXES this store left out, in one transaction, if it left them out."""
        if not self._deferred:
            return
        with _in_transaction(self.conn):
            _create_indexes(self.conn)
        self._deferred = False

    def _synchronous(self, level: str) -> None:
        """Set PRAGMA synchronous (outside a transaction), if it is not set to that already."""
        if level != self._sync:
            self.conn.execute(f"PRAGMA synchronous = {level}")
            self._sync = level

    def _stored_versions(self, identities: Sequence[str]) -> Dict[str, Tuple[int, str]]:
        """The stored documents with these identities: identity -> (id, sha256)."""
        return {
            identity: (doc_id, sha256)
            for identity, doc_id, sha256 in self._in("SELECT identity, id, sha256 FROM documents WHERE identity", identities)
        }

    def _in(self, query: str, values: Sequence[Any]) -> Iterator[Tuple[Any, ...]]:
        """The rows of `query` (which ends with a column) IN values, MAX_VARIABLES values a statement."""
        for start in range(0, len(values), MAX_VARIABLES):
            chunk = values[start : start + MAX_VARIABLES]
            yield from self.conn.execute(f"{query} IN ({', '.join('?' * len(chunk))})", chunk)

    def remove(self, sources: Iterable[str], ids: Iterable[str]) -> RemoveStats:
        conn = self.conn
        self._make_indexes()
        stats = RemoveStats()
        self._synchronous("FULL")
        with _in_transaction(conn):
            chosen, stats.unmatched = choose_documents(conn.execute, QUERIES, sources, ids)
            stats.mentions, stats.relations = _delete_documents(conn, list(chosen))
        stats.documents = [chosen[doc_id] for doc_id in sorted(chosen)]
        return stats

    def entities(self, norm: str, label: Optional[str]) -> List[Dict[str, Any]]:
        self._make_indexes()
        return read_entities(self.conn.execute, QUERIES, norm, label)

    def graph(self) -> Graph:
        self._make_indexes()
        return list(self.entity_table()), merge_edges(self.conn.execute(QUERIES.edges))

    def mentions(self) -> Iterator[Dict[str, Any]]:
        self._make_indexes()
        return mention_rows(self.conn.execute(QUERIES.mention_table))

    def entity_table(self) -> Iterator[Dict[str, Any]]:
        self._make_indexes()
        return entity_rows(self.conn.execute(QUERIES.entity_table))

    def pending(self) -> Tuple[int, int]:
        self._make_indexes()
        unresolved, stale = self.conn.execute(QUERIES.pending).fetchone()
        return unresolved, stale

    @contextmanager
    def resolution(self) -> Iterator[Session]:
        conn = self.conn
        self._make_indexes()
        self._keys.forget_stored()  # a pass deletes the keys of names no longer mentioned
        self._synchronous("FULL")  # its commit also syncs the batches committed before it
        with _in_transaction(conn):
            yield Session(conn.execute, conn.executemany, _stream(conn), QUERIES)

    def upgrade(self) -> Optional[str]:
        with self.resolution() as session:
            version = session.execute(READ_VERSION, ()).fetchone()[0]
            if version == SCHEMA_VERSION:
                return None
            migrate.upgrade(session, version, TYPES)
        return version


def _stream(conn: sqlite3.Connection):
    def stream(sql: str, args: Sequence[Any]) -> Iterator[Tuple[Any, ...]]:
        cur = conn.execute(sql, args)
        while True:
            rows = cur.fetchmany(STREAM_ROWS)
            if not rows:
                return
            yield from rows

    return stream


def open_kb(path: Path, *, create: bool = False, readonly: bool = False, upgrade: bool = False) -> sqlite3.Connection:
    """Open a knowledge base, checking that it is one before changing anything, with foreign
    keys on, WAL journal and a busy timeout. The connection is in autocommit mode: writers use
    explicit transactions.

    path (Path): The database file.
    create (bool): Create the file and the schema if missing. If False, the file must exist.
    readonly (bool): Open it read-only (for commands that only read): the journal mode is left
        as it is, and a database in a read-only directory is opened immutable.
    upgrade (bool): Accept a schema version that `kb migrate` converts (schema.UPGRADABLE).
    RETURNS (sqlite3.Connection): The connection.
    """
    path = Path(path)
    if path.is_dir():
        raise KBError(f"{path} is a directory. Give the path of a database file.")
    if not create and not path.is_file():
        raise KBError(f"Can't find the database {path}. Build one with `spacy-window-ner kb build`.")
    if create:
        path.parent.mkdir(parents=True, exist_ok=True)
    conn = None
    try:
        conn = _connect(path, readonly=readonly and not create)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
        tables = _schema_names(conn, "table")
        if create and not tables:
            # An empty database is ours to format. The schema and its version are created in
            # one transaction: no process ever sees one without the other.
            _set_wal(conn)
            with _in_transaction(conn):
                if not _schema_names(conn, "table"):
                    for statement in statements(SCHEMA):
                        conn.execute(statement)
                    conn.execute(
                        "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
                        (SCHEMA_VERSION,),
                    )
            tables = _schema_names(conn, "table")
        _check_schema(conn, path, tables, upgrade=upgrade)
        if create:
            _set_wal(conn)  # only once the file is known to be ours
    except sqlite3.DatabaseError as err:
        if conn is not None:
            conn.close()
        if "not a database" in str(err):
            raise KBError(f"{path} is not a SQLite database ({err}).") from None
        raise KBError(f"Can't open the database {path}: {err}.") from None
    except BaseException:
        if conn is not None:
            conn.close()
        raise
    return conn


def _connect(path: Path, *, readonly: bool) -> sqlite3.Connection:
    """A connection whose text is read as UTF-8 with invalid bytes replaced by U+FFFD (text
    another tool wrote into the file would otherwise stop every read with "Could not decode
    to UTF-8"). Read-only ones fall back to `immutable=1` when the directory is read-only,
    where SQLite can't create the WAL index a read-only WAL database needs."""
    conn = _open_connection(path, readonly=readonly)
    conn.text_factory = _utf8_text
    return conn


def _utf8_text(value: bytes) -> str:
    return value.decode("utf8", errors="replace")


def _open_connection(path: Path, *, readonly: bool) -> sqlite3.Connection:
    timeout = BUSY_TIMEOUT_MS / 1000
    if not readonly:
        return sqlite3.connect(str(path), timeout=timeout, isolation_level=None)
    uri = "file:" + quote(str(path.absolute()))
    conn = sqlite3.connect(uri + "?mode=ro", uri=True, timeout=timeout, isolation_level=None)
    try:
        conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        return conn
    except sqlite3.OperationalError:
        conn.close()
        if os.access(path.absolute().parent, os.W_OK):
            raise
    return sqlite3.connect(uri + "?immutable=1", uri=True, timeout=timeout, isolation_level=None)


def _set_wal(conn: sqlite3.Connection) -> None:
    """Switch to the WAL journal. SQLite answers "database is locked" at once, without waiting
    for the busy timeout, while another connection creates the schema: retry until the timeout."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL").fetchone()
            return
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _schema_names(conn: sqlite3.Connection, kind: str) -> set:
    """The names of the database's objects of one kind ("table", "index")."""
    return {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = ?", (kind,))}


def _create_indexes(conn: sqlite3.Connection) -> None:
    """Create the DEFERRED_INDEXES that are missing, inside the caller's transaction."""
    for statement in DEFERRED_INDEXES.values():
        conn.execute(statement)


def _no_documents(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT NOT EXISTS (SELECT 1 FROM documents)").fetchone()[0] == 1


@contextmanager
def _in_transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """Run the block in one transaction, BEGIN IMMEDIATE: it takes the write lock at once, waiting
    for another writer's up to the busy timeout (BUSY_TIMEOUT_MS). Any exception in the block or
    the commit rolls it back (`_rollback`) and propagates; nothing runs again."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        _rollback(conn)
        raise


def _rollback(conn: sqlite3.Connection) -> None:
    """Roll back the open transaction, if SQLite has not already (it does on a full disk):
    a second error must not hide the first."""
    if conn.in_transaction:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass


def _check_schema(conn: sqlite3.Connection, path: Path, tables: set, *, upgrade: bool = False) -> None:
    version = _version(conn) if "meta" in tables else None
    if version in UPGRADABLE:
        if upgrade:
            return
        raise KBError(migrate.refusal(str(path), str(path), version))
    missing = missing_tables(tables)
    if missing:
        raise KBError(
            f"{path} is a SQLite database but not a spacy-window-ner knowledge base (no table "
            f"{', '.join(missing)}). Give another path to build one."
        )
    if version == "1":
        raise KBError(
            f"{path} was built by an older spacy-window-ner (knowledge base schema version 1, "
            "documents keyed by their text only), which this version can't update. Rebuild it "
            "with `spacy-window-ner kb build` into a new database file."
        )
    if version != SCHEMA_VERSION:
        raise KBError(
            f"{path} has knowledge base schema version {version}, but this version of "
            f"spacy-window-ner reads version {SCHEMA_VERSION}. Use the spacy-window-ner that built "
            "it, or rebuild it into a new database file."
        )


def _version(conn: sqlite3.Connection) -> Optional[str]:
    """The schema version in a meta table, or None where there is none (another tool's meta)."""
    try:
        row = conn.execute(READ_VERSION).fetchone()
    except sqlite3.OperationalError:
        return None
    return row[0] if row else None


def _create_file(path: Path) -> bool:
    """Create an empty database file if there is none; True if this call created it (at most
    one of several concurrent builds does)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise KBError(f"Can't create the database {path}: {err.strerror} ({err.filename}).") from None
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except FileExistsError:
        return False
    except OSError as err:
        raise KBError(f"Can't create the database {path}: {err.strerror}.") from None
    os.close(fd)
    return True


def database_files(path: Path) -> List[Path]:
    """The files a SQLite database is kept in: the database and its WAL, shared-memory and
    rollback journal files beside it.

    path (Path): The database file.
    RETURNS (List[Path]): The files, whether they exist or not.
    """
    return [Path(str(path) + suffix) for suffix in ("", "-wal", "-shm", "-journal")]


def _remove_if_empty(path: Path, conn: Optional[sqlite3.Connection]) -> None:
    """Remove a database this build created, if it holds no document (no other build stored any)."""
    try:
        if conn is not None:
            empty = conn.execute("SELECT COUNT(*) FROM documents").fetchone()[0] == 0
            conn.close()
            if not empty:
                return
        for file_ in database_files(path):
            file_.unlink(missing_ok=True)
    except (sqlite3.Error, OSError):
        pass  # the database stays: the error being reported matters more


def _delete_documents(conn: sqlite3.Connection, doc_ids: Sequence[int]) -> Tuple[int, int]:
    """Delete documents with their relations and mentions, inside the caller's transaction, and
    record their mentions' names as stale: the next resolution pass resolves their components
    again (and deletes the entities left with no mention).

    RETURNS (Tuple[int, int]): The mentions and relations deleted.
    """
    mentions = relations = 0
    for doc_id in doc_ids:
        conn.execute(QUERIES.stale, (doc_id,))
        relations += conn.execute("DELETE FROM relations WHERE doc_id = ?", (doc_id,)).rowcount
        mentions += conn.execute("DELETE FROM mentions WHERE doc_id = ?", (doc_id,)).rowcount
        conn.execute("DELETE FROM documents WHERE id = ?", (doc_id,))
    return mentions, relations

"""A SQLite knowledge base built by streaming documents through any pipeline that sets
`doc.ents` (and, when it has them, relations read with `get_relations`).

Tables: `documents` (one row per document identity), `mentions` (one predicted entity span in
a document, with its confidence and sentence), `entities` (one node per normalised name +
label, with its mention count) and `relations` (one predicted relation between two mentions,
pointing at both their entities).

A document's identity is the `id` field of its JSONL line where given (a string or an integer,
compared as a string, so 7 and "7" are one id), else its source and line: the source as given
to the build, and for a whole-file .txt document the source alone. Two identities with the
same text are two documents, each with its own mentions. A document whose identity and text
hash are stored is skipped before it reaches the pipeline, so a rerun on unchanged input adds
nothing and costs no pipeline time. A document whose identity is stored with another text
replaces the old version in the transaction that writes the new one: the old mentions and
relations are deleted and each entity's `mention_count` is decreased by them; an entity left
with no mention is deleted, so every `mention_count` equals the entity's number of mention rows
and every entity has at least one. `remove_documents` (`kb remove`) deletes documents the same
way. Identities by position follow the lines: a line inserted in a file changes the identity of
every line after it, so give the documents an `id` when their files are edited.

Documents that can't be processed are skipped and reported with the malformed lines ("path:line:
why"), before the pipeline: a text longer than `nlp.max_length` (raise it with `max_length`,
knowing that spaCy's parser and NER need about 1 GB of memory per 100,000 characters) and a text
or id that can't be encoded as UTF-8 (a lone surrogate such as "\\ud800" in JSON).

Builds are idempotent and resumable: each batch is written in ONE transaction, and concurrent
builds on one database are safe (WAL journal, busy timeout, UNIQUE identity checked in the
writing transaction, entity counts updated there). The schema and its version are created in
one transaction, and a file that is not a knowledge base is refused before anything is written
to it. Commands that only read (`query_entity`, `read_graph`) open the database read-only, so a
knowledge base on read-only media can be queried and exported.
"""
import bisect
import csv
import json
import os
import re
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union
from urllib.parse import quote
from xml.sax.saxutils import escape as xml_escape

from spacy.language import Language
from spacy.tokens import Doc, Span

from .confidences import get_confidences
from .files import atomic_write
from .inputs import InputStats, Record, iter_records, location
from .relations import get_relations

SCHEMA_VERSION = "2"
CONTEXT_TOKENS = 15  # context each side of a mention when the pipeline sets no sentences
MAX_SENTENCE_TOKENS = 512  # a longer "sentence" (a text without sentence marks) is stored as that context
BUSY_TIMEOUT_MS = 60_000
EXPORT_FORMATS = ("jsonl", "csv", "graphml")
NODE_FIELDS = ("id", "name", "label", "mention_count")
EDGE_FIELDS = ("source", "target", "label", "count", "max_confidence", "mean_confidence")
CSV_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")  # OWASP: CSV injection
_SURROGATES = re.compile("[\ud800-\udfff]")
_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS documents (
    id INTEGER PRIMARY KEY,
    identity TEXT NOT NULL UNIQUE,
    doc_id TEXT,
    source TEXT NOT NULL,
    line INTEGER,
    sha256 TEXT NOT NULL,
    n_chars INTEGER NOT NULL,
    n_tokens INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS entities (
    id INTEGER PRIMARY KEY,
    norm TEXT NOT NULL,
    label TEXT NOT NULL,
    name TEXT NOT NULL,
    mention_count INTEGER NOT NULL DEFAULT 0,
    UNIQUE (norm, label)
);
CREATE TABLE IF NOT EXISTS mentions (
    id INTEGER PRIMARY KEY,
    doc_id INTEGER NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    entity_id INTEGER NOT NULL REFERENCES entities (id),
    start_char INTEGER NOT NULL,
    end_char INTEGER NOT NULL,
    text TEXT NOT NULL,
    label TEXT NOT NULL,
    confidence REAL,
    sentence TEXT NOT NULL,
    sent_start_char INTEGER NOT NULL,
    sent_end_char INTEGER NOT NULL,
    UNIQUE (doc_id, start_char, end_char, label)
);
CREATE TABLE IF NOT EXISTS relations (
    id INTEGER PRIMARY KEY,
    doc_id INTEGER NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    head_entity INTEGER NOT NULL REFERENCES entities (id),
    tail_entity INTEGER NOT NULL REFERENCES entities (id),
    label TEXT NOT NULL,
    confidence REAL NOT NULL,
    head_mention INTEGER NOT NULL REFERENCES mentions (id) ON DELETE CASCADE,
    tail_mention INTEGER NOT NULL REFERENCES mentions (id) ON DELETE CASCADE,
    UNIQUE (head_mention, tail_mention, label)
);
CREATE INDEX IF NOT EXISTS documents_source ON documents (source);
CREATE INDEX IF NOT EXISTS documents_doc_id ON documents (doc_id);
CREATE INDEX IF NOT EXISTS mentions_entity ON mentions (entity_id);
CREATE INDEX IF NOT EXISTS mentions_doc ON mentions (doc_id);
CREATE INDEX IF NOT EXISTS relations_head ON relations (head_entity);
CREATE INDEX IF NOT EXISTS relations_tail ON relations (tail_entity);
CREATE INDEX IF NOT EXISTS relations_doc ON relations (doc_id);
"""
TABLES = ("documents", "entities", "mentions", "relations")


class KBError(ValueError):
    """A database or input the knowledge base can't use; the message says what to do."""


@dataclass
class BuildStats(InputStats):
    """What a build read, stored and skipped: the input counts of `InputStats` (files,
    malformed lines), and:

    docs_read (int): Documents read from the inputs.
    docs_existing (int): Documents skipped before the pipeline because the same identity and
        text were stored (or read earlier in this build).
    docs_added (int): Documents stored by this build, replaced versions included.
    docs_replaced (int): Of docs_added, documents that replaced a stored version with another text.
    docs_raced (int): Documents another build stored while this one was processing them.
    mentions (int): Mentions stored.
    relations (int): Relations stored.
    words (int): Tokens in the documents run through the pipeline.
    skipped_files (List[str]): Input files skipped whole (empty, not decodable), with why.
    seconds (float): Wall time of the build.
    seconds_sqlite (float): Wall time spent in SQLite (identity look-ups and batch writes).
    """

    docs_read: int = 0
    docs_existing: int = 0
    docs_added: int = 0
    docs_replaced: int = 0
    docs_raced: int = 0
    mentions: int = 0
    relations: int = 0
    words: int = 0
    skipped_files: List[str] = field(default_factory=list)
    seconds: float = 0.0
    seconds_sqlite: float = 0.0


@dataclass
class RemoveStats:
    """What `remove_documents` deleted.

    documents (List[Tuple[str, Optional[int], Optional[str]]]): The documents removed, as
        (source, line, id).
    mentions (int): Mentions deleted.
    relations (int): Relations deleted.
    entities (int): Entities deleted because no mention of them was left.
    unmatched (List[str]): The selectors that matched no document, e.g. "id 'x'".
    """

    documents: List[Tuple[str, Optional[int], Optional[str]]] = field(default_factory=list)
    mentions: int = 0
    relations: int = 0
    entities: int = 0
    unmatched: List[str] = field(default_factory=list)


def open_kb(path: Path, *, create: bool = False, readonly: bool = False) -> sqlite3.Connection:
    """Open a knowledge base, checking that it is one before changing anything, with foreign
    keys on, WAL journal and a busy timeout. The connection is in autocommit mode: writers use
    explicit transactions.

    path (Path): The database file.
    create (bool): Create the file and the schema if missing. If False, the file must exist.
    readonly (bool): Open it read-only (for commands that only read): the journal mode is left
        as it is, and a database in a read-only directory is opened immutable.
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
        tables = _tables(conn)
        if create and not tables:
            # An empty database is ours to format. The schema and its version are created in
            # one transaction: no process ever sees one without the other.
            _set_wal(conn)
            conn.execute("BEGIN IMMEDIATE")
            try:
                if not _tables(conn):
                    for statement in SCHEMA.split(";"):
                        if statement.strip():
                            conn.execute(statement)
                    conn.execute(
                        "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
                        (SCHEMA_VERSION,),
                    )
                conn.execute("COMMIT")
            except BaseException:
                _rollback(conn)
                raise
            tables = _tables(conn)
        _check_schema(conn, path, tables)
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
    """A connection; read-only ones fall back to `immutable=1` when the directory is
    read-only, where SQLite can't create the WAL index a read-only WAL database needs."""
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


def _tables(conn: sqlite3.Connection) -> set:
    return {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _rollback(conn: sqlite3.Connection) -> None:
    """Roll back the open transaction, if SQLite has not already (it does on a full disk):
    a second error must not hide the first."""
    if conn.in_transaction:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass


def build_kb(
    nlp: Language,
    inputs: Iterable[Path],
    db: Path,
    *,
    lines: bool = False,
    encoding: str = "utf8",
    batch_size: int = 64,
    n_process: int = 1,
    progress: Optional[Callable[[int, int], None]] = None,
    max_length: Optional[int] = None,
) -> BuildStats:
    """Run a pipeline over documents streamed from files and store its entities and relations.
    Documents whose identity and text are stored are skipped before the pipeline; a document
    stored with another text is replaced; each batch of `batch_size` documents is written in
    one transaction. Documents that can't be processed (too long, not encodable) are reported
    in the stats and skipped before the pipeline. If this build created the database and
    stored no document, it removes it, so a failed or empty build leaves no empty database.

    nlp (Language): A pipeline with a component that sets doc.ents.
    inputs (Iterable[Path]): Input files, checked by `check_inputs`.
    db (Path): The database, created if missing.
    lines (bool): Read .txt files as one document per line.
    encoding (str): The text encoding of the inputs.
    batch_size (int): Documents per nlp.pipe batch and per transaction.
    n_process (int): Processes for nlp.pipe.
    progress (Optional[Callable[[int, int], None]]): Called after each document with the bytes
        of input consumed so far and the documents stored so far.
    max_length (Optional[int]): Raise (or lower) nlp.max_length to this for the build; longer
        texts are skipped. spaCy's parser and NER need about 1 GB of memory per 100,000
        characters, so raise it knowingly. nlp.max_length is restored afterwards.
    RETURNS (BuildStats): What was read, stored and skipped.
    """
    if batch_size < 1 or n_process < 1:
        raise KBError("--batch-size and --n-process must be at least 1.")
    if max_length is not None and max_length < 1:
        raise KBError("--max-length must be at least 1.")
    if not any("doc.ents" in nlp.get_pipe_meta(name).assigns for name in nlp.pipe_names):
        raise KBError(
            "The pipeline has no component that sets doc.ents (such as window_ner, ner or "
            "entity_ruler), so there is nothing to store."
        )
    stats = BuildStats()
    start = time.perf_counter()
    db = Path(db)
    created = _create_file(db)
    saved_max_length = nlp.max_length
    conn = None
    try:
        conn = open_kb(db, create=True)
        if max_length is not None:
            nlp.max_length = max_length
        records = iter_records(inputs, lines=lines, encoding=encoding, stats=stats, max_length=nlp.max_length)
        docs = nlp.pipe(
            ((r.text, r) for r in _new_records(conn, records, stats)),
            as_tuples=True, batch_size=batch_size, n_process=n_process,
        )
        batch: List[Tuple[Record, Dict[str, Any]]] = []
        for doc, record in docs:
            stats.words += len(doc)
            batch.append((record, _doc_rows(doc)))
            if len(batch) >= batch_size:
                _write_batch(conn, batch, stats)
                batch = []
            if progress is not None:
                progress(record.offset, stats.docs_added + len(batch))
        if batch:
            _write_batch(conn, batch, stats)
    except sqlite3.Error as err:  # a full disk, a lost file: not the pipeline's fault
        raise KBError(
            f"Can't write to the database {db} ({type(err).__name__}: {err}). Every batch written "
            "before is kept; fix the cause (free disk space, permissions) and rerun the same "
            "command to resume."
        ) from err
    finally:
        nlp.max_length = saved_max_length
        if created and stats.docs_added == 0:
            _remove_if_empty(db, conn)
        elif conn is not None:
            conn.close()
        stats.seconds = time.perf_counter() - start
    return stats


def remove_documents(
    db: Path, *, sources: Iterable[Union[str, Path]] = (), ids: Iterable[Union[str, int]] = ()
) -> RemoveStats:
    """Remove documents with their mentions and relations, in one transaction: each entity's
    mention_count is decreased by the removed mentions, and entities left with no mention
    are deleted.

    db (Path): The database.
    sources (Iterable[Union[str, Path]]): Remove every document read from these inputs (the
        paths as given to the build).
    ids (Iterable[Union[str, int]]): Remove the documents with these JSONL ids (compared as strings).
    RETURNS (RemoveStats): What was removed, and the selectors that matched nothing.
    """
    sources, ids = [str(s) for s in sources], [str(i) for i in ids]
    if not sources and not ids:
        raise KBError("Nothing to remove: give --source PATH or --id ID (both can be repeated).")
    stats = RemoveStats()
    conn = open_kb(db)
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            chosen: Dict[int, Tuple[str, Optional[int], Optional[str]]] = {}
            selectors = [("source", s) for s in sources] + [("doc_id", i) for i in ids]
            for column, value in selectors:
                rows = conn.execute(
                    f"SELECT id, source, line, doc_id FROM documents WHERE {column} = ? ORDER BY id", (value,)
                ).fetchall()
                if not rows:
                    stats.unmatched.append(f"{'source' if column == 'source' else 'id'} {value!r}")
                chosen.update((row[0], tuple(row[1:])) for row in rows)
            stats.mentions, stats.relations, stats.entities = _delete_documents(conn, list(chosen))
            conn.execute("COMMIT")
        except BaseException:
            _rollback(conn)
            raise
    except sqlite3.Error as err:
        raise KBError(f"Can't remove documents from {db} ({type(err).__name__}: {err}); nothing was removed.") from err
    finally:
        conn.close()
    stats.documents = [chosen[doc_id] for doc_id in sorted(chosen)]
    return stats


def query_entity(db: Path, name: str, *, label: Optional[str] = None) -> List[Dict[str, Any]]:
    """Look an entity up by name (compared after normalising case and whitespace).

    db (Path): The database.
    name (str): The entity name.
    label (Optional[str]): Only entities with this label.
    RETURNS (List[Dict[str, Any]]): One dict per matching entity (one per label), with "id",
        "name", "label", "mention_count", "mentions" (source, line, text, confidence, sentence)
        and "relations" ("direction" "out" or "in", "label", "other", "other_label",
        "confidence", "source", "line").
    """
    conn = open_kb(db, readonly=True)
    try:
        sql = "SELECT id, name, label, mention_count FROM entities WHERE norm = ?"
        args: List[Any] = [normalize(name)]
        if label is not None:
            sql += " AND label = ?"
            args.append(label)
        found = []
        for ent_id, ent_name, ent_label, count in conn.execute(sql + " ORDER BY label", args).fetchall():
            mentions = [
                dict(zip(("source", "line", "text", "confidence", "sentence"), row))
                for row in conn.execute(
                    "SELECT d.source, d.line, m.text, m.confidence, m.sentence FROM mentions m "
                    "JOIN documents d ON d.id = m.doc_id WHERE m.entity_id = ? ORDER BY m.id",
                    (ent_id,),
                )
            ]
            relations = []
            for direction, this, other in (("out", "head_entity", "tail_entity"), ("in", "tail_entity", "head_entity")):
                rows = conn.execute(
                    f"SELECT r.label, e.name, e.label, r.confidence, d.source, d.line FROM relations r "
                    f"JOIN entities e ON e.id = r.{other} JOIN documents d ON d.id = r.doc_id "
                    f"WHERE r.{this} = ? ORDER BY r.id",
                    (ent_id,),
                )
                keys = ("label", "other", "other_label", "confidence", "source", "line")
                relations.extend({"direction": direction, **dict(zip(keys, row))} for row in rows)
            found.append(
                {"id": ent_id, "name": ent_name, "label": ent_label, "mention_count": count,
                 "mentions": mentions, "relations": relations}
            )
        return found
    finally:
        conn.close()


def read_graph(db: Path) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
    """The entity graph: entities as nodes, relations merged per (head, tail, label) as edges.

    db (Path): The database.
    RETURNS (Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]): Nodes ("id", "name", "label",
        "mention_count") and edges ("source", "target", "label", "count", "max_confidence",
        "mean_confidence").
    """
    conn = open_kb(db, readonly=True)
    try:
        nodes = [
            dict(zip(NODE_FIELDS, row))
            for row in conn.execute("SELECT id, name, label, mention_count FROM entities ORDER BY id")
        ]
        edges = [
            dict(zip(EDGE_FIELDS, row))
            for row in conn.execute(
                "SELECT head_entity, tail_entity, label, COUNT(*), MAX(confidence), AVG(confidence) "
                "FROM relations GROUP BY head_entity, tail_entity, label "
                "ORDER BY head_entity, tail_entity, label"
            )
        ]
        return nodes, edges
    finally:
        conn.close()


def export_graph(db: Path, output: Path, fmt: str) -> Tuple[int, int]:
    """Write the entity graph for other tools (see write_graph).

    db (Path): The database.
    output (Path): The output file; missing parent directories are created.
    fmt (str): "jsonl", "csv" or "graphml".
    RETURNS (Tuple[int, int]): The numbers of nodes and edges written.
    """
    nodes, edges = read_graph(db)
    write_graph(nodes, edges, output, fmt)
    return len(nodes), len(edges)


def write_graph(nodes: List[Dict[str, Any]], edges: List[Dict[str, Any]], output: Path, fmt: str) -> None:
    """Write nodes and edges as read_graph returns them. jsonl: one {"type": "node"|"edge", ...}
    object a line; csv: OUTPUT for the nodes and OUTPUT's stem + "_edges.csv" beside it for the
    edges; graphml: one GraphML file (readable by networkx, Gephi, yEd). Each file is written
    atomically (files.atomic_write); csv replaces its two files one after the other.

    Every name and label is written as stored, except that: characters that no UTF-8 file can
    hold (lone surrogates) become U+FFFD in every format; in GraphML, so does every character
    XML 1.0 forbids (controls other than tab, newline and carriage return; U+FFFE, U+FFFF);
    in CSV, a text cell that starts with "=", "+", "-", "@", tab or carriage return gets a
    leading "'" so that spreadsheets don't run it as a formula (OWASP's advice on CSV
    injection). Ids and numbers are written as they are.

    nodes (List[Dict[str, Any]]): The nodes: "id", "name", "label", "mention_count".
    edges (List[Dict[str, Any]]): The edges: "source", "target", "label", "count",
        "max_confidence", "mean_confidence".
    output (Path): The output file; missing parent directories are created.
    fmt (str): "jsonl", "csv" or "graphml".
    RAISES (OutputError): When a file can't be written.
    """
    if fmt not in EXPORT_FORMATS:
        raise KBError(f"Unknown export format {fmt!r}. Choose one of: {', '.join(EXPORT_FORMATS)}.")
    if fmt == "jsonl":
        with atomic_write(output) as file_:
            for kind, items in (("node", nodes), ("edge", edges)):
                for item in items:
                    row = {key: _utf8_text(value) for key, value in item.items()}
                    file_.write(json.dumps({"type": kind, **row}, ensure_ascii=False) + "\n")
    elif fmt == "csv":
        with atomic_write(output, newline="") as nodes_file, atomic_write(edges_csv_path(output), newline="") as edges_file:
            for file_, items, default in ((nodes_file, nodes, NODE_FIELDS), (edges_file, edges, EDGE_FIELDS)):
                writer = csv.DictWriter(file_, fieldnames=_fields(items, default))
                writer.writeheader()
                writer.writerows({key: _csv_cell(value) for key, value in item.items()} for item in items)
    else:
        with atomic_write(output) as file_:
            file_.write(_graphml(nodes, edges))


def edges_csv_path(output: Path) -> Path:
    """Where the csv export writes the edges, beside the nodes file.

    output (Path): The nodes file.
    RETURNS (Path): OUTPUT's stem + "_edges.csv".
    """
    return Path(output).with_name(Path(output).stem + "_edges.csv")


def normalize(name: str) -> str:
    """The key entities are merged on: case-folded, whitespace collapsed.

    name (str): An entity name.
    RETURNS (str): The key.
    """
    return " ".join(name.split()).casefold()


def _check_schema(conn: sqlite3.Connection, path: Path, tables: set) -> None:
    missing = [t for t in (*TABLES, "meta") if t not in tables]
    if missing:
        raise KBError(
            f"{path} is a SQLite database but not a spacy-window-ner knowledge base (no table "
            f"{', '.join(missing)}). Give another path to build one."
        )
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    version = row[0] if row else None
    if version == "1":
        raise KBError(
            f"{path} was built by an older spacy-window-ner (knowledge base schema version 1, "
            "documents keyed by their text only), which this version can't update. Rebuild it "
            "with `spacy-window-ner kb build` into a new database file."
        )
    if version != SCHEMA_VERSION:
        raise KBError(
            f"{path} has knowledge base schema version {version}, but this version of "
            f"spacy-window-ner reads version {SCHEMA_VERSION}. Rebuild it."
        )


def _new_records(conn: sqlite3.Connection, records: Iterable[Record], stats: BuildStats) -> Iterator[Record]:
    """Drop, before the pipeline, the records whose identity is stored with the same text (a
    record with an id that moved gets its new source and line), or was read earlier in this
    run (an id read twice with different texts keeps the first)."""
    seen: Dict[str, Tuple[str, str, Optional[int]]] = {}  # identity -> (sha256, source, line)
    for record in records:
        earlier = seen.get(record.identity)
        if earlier is not None and earlier[0] != record.sha256:
            where = location(*earlier[1:])
            stats.malformed_line(
                record.source, record.line, f"id {record.doc_id!r} was read before with another text ({where}); kept that one"
            )
            continue
        stats.docs_read += 1
        if earlier is not None:
            stats.docs_existing += 1
            continue
        seen[record.identity] = (record.sha256, record.source, record.line)
        start = time.perf_counter()
        stored = conn.execute("SELECT sha256, source, line FROM documents WHERE identity = ?", (record.identity,)).fetchone()
        if stored is not None and stored[0] == record.sha256 and tuple(stored[1:]) != (record.source, record.line):
            # A document with an id that moved: same text, so only its place is updated.
            conn.execute(
                "UPDATE documents SET source = ?, line = ? WHERE identity = ? AND sha256 = ?",
                (record.source, record.line, record.identity, record.sha256),
            )
        stats.seconds_sqlite += time.perf_counter() - start
        if stored is not None and stored[0] == record.sha256:
            stats.docs_existing += 1
            continue
        yield record


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


def _remove_if_empty(path: Path, conn: Optional[sqlite3.Connection]) -> None:
    """Remove a database this build created, if it holds no document (no other build stored any)."""
    try:
        if conn is not None:
            empty = conn.execute("SELECT COUNT(*) FROM documents").fetchone()[0] == 0
            conn.close()
            if not empty:
                return
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(str(path) + suffix).unlink(missing_ok=True)
    except (sqlite3.Error, OSError):
        pass  # the database stays: the error being reported matters more


def _doc_rows(doc: Doc) -> Dict[str, Any]:
    """Everything the database needs from a processed doc, as plain data."""
    confidences = get_confidences(doc)
    has_sents = doc.has_annotation("SENT_START") or doc.has_annotation("DEP")
    # The sentences once per doc (Span.sent walks to the sentence start for every mention).
    sents = list(doc.sents) if has_sents else []
    sent_starts = [sent.start for sent in sents]
    spans: Dict[Tuple[int, int, str], Dict[str, Any]] = {}

    def add(span: Span) -> Tuple[int, int, str]:
        key = (span.start, span.end, span.label_)
        if key not in spans:
            context = sents[bisect.bisect_right(sent_starts, span.start) - 1] if sents else None
            if context is not None and context.end < span.end:  # a span across sentences
                context = span.sent
            if context is None or len(context) > MAX_SENTENCE_TOKENS:
                context = doc[max(0, span.start - CONTEXT_TOKENS) : span.end + CONTEXT_TOKENS]
            spans[key] = {
                "start_char": span.start_char, "end_char": span.end_char, "text": span.text,
                "label": span.label_,
                "confidence": confidences.get((span.start_char, span.end_char, span.label_)),
                "sentence": context.text, "sent_start_char": context.start_char,
                "sent_end_char": context.end_char,
            }
        return key

    for ent in doc.ents:
        add(ent)
    relations = [(add(r.head), add(r.tail), r.label, r.score) for r in get_relations(doc)]
    return {"n_chars": len(doc.text), "n_tokens": len(doc), "mentions": spans, "relations": relations}


def _write_batch(conn: sqlite3.Connection, batch: List[Tuple[Record, Dict[str, Any]]], stats: BuildStats) -> None:
    """Write a batch of documents in one transaction: all of it or none of it. A document
    whose identity is stored with another text replaces it; with the same text (another build
    stored it meanwhile) it is skipped."""
    start = time.perf_counter()
    added = replaced = mentions = relations = raced = 0
    conn.execute("BEGIN IMMEDIATE")
    try:
        for record, rows in batch:
            identity = record.identity
            old = conn.execute("SELECT id, sha256 FROM documents WHERE identity = ?", (identity,)).fetchone()
            if old is not None and old[1] == record.sha256:  # another build stored this version meanwhile
                raced += 1
                continue
            if old is not None:
                _delete_documents(conn, [old[0]])
                replaced += 1
            cur = conn.execute(
                "INSERT INTO documents (identity, doc_id, source, line, sha256, n_chars, n_tokens) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (identity, record.doc_id, record.source, record.line, record.sha256, rows["n_chars"], rows["n_tokens"]),
            )
            doc_id = cur.lastrowid
            added += 1
            ids: Dict[Tuple[int, int, str], Tuple[int, int]] = {}
            for key, m in rows["mentions"].items():
                entity_id = _entity_id(conn, m["text"], m["label"])
                cur = conn.execute(
                    "INSERT INTO mentions (doc_id, entity_id, start_char, end_char, text, label, "
                    "confidence, sentence, sent_start_char, sent_end_char) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (doc_id, entity_id, m["start_char"], m["end_char"], m["text"], m["label"],
                     m["confidence"], m["sentence"], m["sent_start_char"], m["sent_end_char"]),
                )
                ids[key] = (cur.lastrowid, entity_id)
                mentions += 1
            for head, tail, label, score in rows["relations"]:
                (head_mention, head_entity), (tail_mention, tail_entity) = ids[head], ids[tail]
                conn.execute(
                    "INSERT INTO relations (doc_id, head_entity, tail_entity, label, confidence, "
                    "head_mention, tail_mention) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (doc_id, head_entity, tail_entity, label, score, head_mention, tail_mention),
                )
                relations += 1
        conn.execute("COMMIT")
    except BaseException:
        _rollback(conn)
        raise
    finally:
        stats.seconds_sqlite += time.perf_counter() - start
    stats.docs_added += added
    stats.docs_replaced += replaced
    stats.docs_raced += raced
    stats.mentions += mentions
    stats.relations += relations


def _delete_documents(conn: sqlite3.Connection, doc_ids: Sequence[int]) -> Tuple[int, int, int]:
    """Delete documents with their relations and mentions, inside the caller's transaction:
    decrease each entity's mention_count by its deleted mentions, and delete the entities left
    with none (no relation can point at them: a relation's entities are its mentions').

    RETURNS (Tuple[int, int, int]): The mentions, relations and entities deleted.
    """
    mentions = relations = entities = 0
    for doc_id in doc_ids:
        per_entity = conn.execute(
            "SELECT entity_id, COUNT(*) FROM mentions WHERE doc_id = ? GROUP BY entity_id", (doc_id,)
        ).fetchall()
        relations += conn.execute("DELETE FROM relations WHERE doc_id = ?", (doc_id,)).rowcount
        mentions += conn.execute("DELETE FROM mentions WHERE doc_id = ?", (doc_id,)).rowcount
        conn.execute("DELETE FROM documents WHERE id = ?", (doc_id,))
        for entity_id, n in per_entity:
            conn.execute("UPDATE entities SET mention_count = mention_count - ? WHERE id = ?", (n, entity_id))
            entities += conn.execute(
                "DELETE FROM entities WHERE id = ? AND mention_count <= 0", (entity_id,)
            ).rowcount
    return mentions, relations, entities


def _entity_id(conn: sqlite3.Connection, text: str, label: str) -> int:
    """Count one more mention of the entity (norm, label), creating it if new."""
    norm = normalize(text)
    conn.execute(
        "INSERT INTO entities (norm, label, name, mention_count) VALUES (?, ?, ?, 1) "
        "ON CONFLICT (norm, label) DO UPDATE SET mention_count = mention_count + 1",
        (norm, label, " ".join(text.split())),
    )
    return conn.execute("SELECT id FROM entities WHERE norm = ? AND label = ?", (norm, label)).fetchone()[0]


def _fields(items: List[Dict[str, Any]], default: Sequence[str]) -> List[str]:
    return list(items[0]) if items else list(default)


def _utf8_text(value: Any) -> Any:
    """A string with its lone surrogates (which UTF-8 can't encode) replaced by U+FFFD."""
    return _SURROGATES.sub("\ufffd", value) if isinstance(value, str) else value


def _csv_cell(value: Any) -> Any:
    """A CSV cell: a string that a spreadsheet would run as a formula gets a leading "'"."""
    if not isinstance(value, str):
        return value
    value = _utf8_text(value)
    return "'" + value if value.startswith(CSV_FORMULA_PREFIXES) else value


def _xml_text(value: str) -> str:
    """A string as XML 1.0 character data or attribute value: forbidden characters replaced by
    U+FFFD, markup and quotes escaped, carriage returns kept as references (parsers would
    turn a raw one into a newline)."""
    return xml_escape(_XML_FORBIDDEN.sub("\ufffd", value), {'"': "&quot;", "'": "&apos;", "\r": "&#13;"})


def _graphml(nodes: List[Dict[str, Any]], edges: List[Dict[str, Any]]) -> str:
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<graphml xmlns="http://graphml.graphdrawing.org/xmlns">',
        '  <key id="name" for="node" attr.name="name" attr.type="string"/>',
        '  <key id="label" for="node" attr.name="label" attr.type="string"/>',
        '  <key id="mention_count" for="node" attr.name="mention_count" attr.type="int"/>',
        '  <key id="rel" for="edge" attr.name="label" attr.type="string"/>',
        '  <key id="count" for="edge" attr.name="count" attr.type="int"/>',
        '  <key id="max_confidence" for="edge" attr.name="max_confidence" attr.type="double"/>',
        '  <key id="mean_confidence" for="edge" attr.name="mean_confidence" attr.type="double"/>',
        '  <graph id="kb" edgedefault="directed">',
    ]
    for n in nodes:
        out.append(
            f'    <node id="n{n["id"]}"><data key="name">{_xml_text(n["name"])}</data>'
            f'<data key="label">{_xml_text(n["label"])}</data>'
            f'<data key="mention_count">{n["mention_count"]}</data></node>'
        )
    for i, e in enumerate(edges):
        out.append(
            f'    <edge id="e{i}" source="n{e["source"]}" target="n{e["target"]}">'
            f'<data key="rel">{_xml_text(e["label"])}</data><data key="count">{e["count"]}</data>'
            f'<data key="max_confidence">{e["max_confidence"]!r}</data>'
            f'<data key="mean_confidence">{e["mean_confidence"]!r}</data></edge>'
        )
    out += ["  </graph>", "</graphml>", ""]
    return "\n".join(out)

"""A SQLite knowledge base built by streaming documents through any pipeline that sets
`doc.ents` (and, when it has them, relations read with `get_relations`).

Tables: `documents` (one row per distinct text, by sha256), `mentions` (one predicted entity
span in a document, with its confidence and sentence), `entities` (one node per normalised
name + label, with its mention count) and `relations` (one predicted relation between two
mentions, pointing at both their entities).

Builds are idempotent and resumable: a document whose text hash is stored is skipped before
it reaches the pipeline, each batch is written in ONE transaction, and concurrent builds on
one database are safe (WAL journal, busy timeout, `INSERT OR IGNORE` on the unique hash,
entity counts updated in the writing transaction).
"""
import codecs
import csv
import hashlib
import json
import re
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple
from xml.sax.saxutils import escape as xml_escape

from spacy.language import Language
from spacy.tokens import Doc, Span

from .files import atomic_write
from .relations import get_relations

SCHEMA_VERSION = "1"
MAX_PROBLEMS = 5  # malformed lines quoted in the report
CONTEXT_TOKENS = 15  # context each side of a mention when the pipeline sets no sentences
BUSY_TIMEOUT_MS = 60_000
CHECK_CHUNK = 1 << 20  # bytes read at a time when checking an input's encoding
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
    source TEXT NOT NULL,
    line INTEGER,
    sha256 TEXT NOT NULL UNIQUE,
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
class Record:
    """One input document, before the pipeline.

    source (str): The file it came from.
    line (Optional[int]): Its 1-based line, or None for a whole-file document.
    text (str): The text.
    sha256 (str): The hex sha256 of the UTF-8 text.
    offset (int): Bytes of all inputs consumed once this record was read (for progress).
    """

    source: str
    line: Optional[int]
    text: str
    sha256: str
    offset: int


@dataclass
class BuildStats:
    """What a build read, stored and skipped.

    files (int): Input files read.
    docs_read (int): Documents read from the inputs.
    docs_existing (int): Documents skipped before the pipeline because their text was stored.
    docs_added (int): Documents stored by this build.
    docs_raced (int): Documents another build stored while this one was processing them.
    mentions (int): Mentions stored.
    relations (int): Relations stored.
    words (int): Tokens in the documents run through the pipeline.
    malformed (int): Input lines skipped: invalid JSON, no "text" string, empty text.
    problems (List[str]): The first few malformed lines, as "path:line: why".
    skipped_files (List[str]): Input files skipped whole (empty, not decodable), with why.
    seconds (float): Wall time of the build.
    seconds_sqlite (float): Wall time spent in SQLite (hash look-ups and batch writes).
    """

    files: int = 0
    docs_read: int = 0
    docs_existing: int = 0
    docs_added: int = 0
    docs_raced: int = 0
    mentions: int = 0
    relations: int = 0
    words: int = 0
    malformed: int = 0
    problems: List[str] = field(default_factory=list)
    skipped_files: List[str] = field(default_factory=list)
    seconds: float = 0.0
    seconds_sqlite: float = 0.0

    def malformed_line(self, source: str, line: int, why: str) -> None:
        """Count one skipped input line and remember the first few.

        source (str): The file.
        line (int): The 1-based line number.
        why (str): The reason.
        """
        self.malformed += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(f"{source}:{line}: {why}")


def open_kb(path: Path, *, create: bool = False) -> sqlite3.Connection:
    """Open a knowledge base, checking that it is one, with foreign keys on, WAL journal and a
    busy timeout. The connection is in autocommit mode: writers use explicit transactions.

    path (Path): The database file.
    create (bool): Create the file and the schema if missing. If False, the file must exist.
    RETURNS (sqlite3.Connection): The connection.
    """
    path = Path(path)
    if path.is_dir():
        raise KBError(f"{path} is a directory. Give the path of a database file.")
    if not create and not path.is_file():
        raise KBError(f"Can't find the database {path}. Build one with `spacy-window-ner kb build`.")
    if create:
        path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if create:
            conn.execute("PRAGMA journal_mode = WAL")
            if not tables:
                conn.executescript(f"BEGIN IMMEDIATE; {SCHEMA} COMMIT;")
                conn.execute(
                    "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
                    (SCHEMA_VERSION,),
                )
                tables = set(TABLES) | {"meta"}
        _check_schema(conn, path, tables)
    except sqlite3.DatabaseError as err:
        conn.close()
        raise KBError(f"{path} is not a SQLite database ({err}).") from None
    except KBError:
        conn.close()
        raise
    return conn


def check_inputs(paths: Iterable[Path], encoding: str = "utf8") -> Tuple[List[Path], List[str], int]:
    """Check that every input exists, is not empty and decodes, reading it in chunks.

    paths (Iterable[Path]): The input files.
    encoding (str): Their text encoding.
    RETURNS (Tuple[List[Path], List[str], int]): The usable files, a message for each skipped
        file, and the total size in bytes of the usable files.
    """
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise KBError(f"Unknown encoding {encoding!r}. Use a Python codec name, e.g. utf8 or latin-1.") from None
    good, skipped, total = [], [], 0
    for path in paths:
        path = Path(path)
        if not path.is_file():
            skipped.append(f"{path}: no such file")
            continue
        size = path.stat().st_size
        why = "empty file" if size == 0 else _decode_problem(path, encoding)
        if why is None:
            good.append(path)
            total += size
        else:
            skipped.append(f"{path}: {why}")
    return good, skipped, total


def iter_records(
    paths: Iterable[Path],
    *,
    lines: bool = False,
    encoding: str = "utf8",
    stats: Optional[BuildStats] = None,
) -> Iterator[Record]:
    """Stream documents from .jsonl files (one JSON object with a "text" string per line) and
    text files (one document per file, or per non-blank line with `lines`). Files are read
    line by line, never whole, except a text file that is itself one document.

    paths (Iterable[Path]): The inputs, checked by `check_inputs`.
    lines (bool): Read text files as one document per line.
    encoding (str): The text encoding of the inputs.
    stats (Optional[BuildStats]): Counts files and malformed lines when given.
    YIELDS (Record): The documents.
    """
    stats = stats if stats is not None else BuildStats()
    consumed = 0
    for path in paths:
        path = Path(path)
        source = str(path)
        stats.files += 1
        jsonl = path.suffix.lower() == ".jsonl"
        if not jsonl and not lines:
            text = path.read_text(encoding=encoding)
            consumed += path.stat().st_size
            if text.strip():
                yield _record(source, None, text, consumed)
            continue
        with path.open("rb") as file_:
            for lineno, raw in enumerate(file_, 1):
                consumed += len(raw)
                line = raw.decode(encoding).rstrip("\r\n")
                if not line.strip():
                    continue
                if not jsonl:
                    yield _record(source, lineno, line, consumed)
                    continue
                text, why = _jsonl_text(line)
                if text is None:
                    stats.malformed_line(source, lineno, why)
                else:
                    yield _record(source, lineno, text, consumed)


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
) -> BuildStats:
    """Run a pipeline over documents streamed from files and store its entities and relations.
    Documents already stored (same text hash) are skipped before the pipeline; each batch of
    `batch_size` documents is written in one transaction.

    nlp (Language): A pipeline with a component that sets doc.ents.
    inputs (Iterable[Path]): Input files, checked by `check_inputs`.
    db (Path): The database, created if missing.
    lines (bool): Read .txt files as one document per line.
    encoding (str): The text encoding of the inputs.
    batch_size (int): Documents per nlp.pipe batch and per transaction.
    n_process (int): Processes for nlp.pipe.
    progress (Optional[Callable[[int, int], None]]): Called after each document with the bytes
        of input consumed so far and the documents stored so far.
    RETURNS (BuildStats): What was read, stored and skipped.
    """
    if batch_size < 1 or n_process < 1:
        raise KBError("--batch-size and --n-process must be at least 1.")
    if not any("doc.ents" in nlp.get_pipe_meta(name).assigns for name in nlp.pipe_names):
        raise KBError(
            "The pipeline has no component that sets doc.ents (such as window_ner, ner or "
            "entity_ruler), so there is nothing to store."
        )
    stats = BuildStats()
    start = time.perf_counter()
    conn = open_kb(db, create=True)
    scores_keys = pipeline_scores_keys(nlp)
    try:
        records = _new_records(conn, iter_records(inputs, lines=lines, encoding=encoding, stats=stats), stats)
        docs = nlp.pipe(
            ((r.text, r) for r in records), as_tuples=True, batch_size=batch_size, n_process=n_process
        )
        batch: List[Tuple[Record, Dict[str, Any]]] = []
        for doc, record in docs:
            stats.words += len(doc)
            batch.append((record, _doc_rows(doc, scores_keys)))
            if len(batch) >= batch_size:
                _write_batch(conn, batch, stats)
                batch = []
            if progress is not None:
                progress(record.offset, stats.docs_added + len(batch))
        if batch:
            _write_batch(conn, batch, stats)
    finally:
        conn.close()
        stats.seconds = time.perf_counter() - start
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
    conn = open_kb(db)
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
    conn = open_kb(db)
    try:
        nodes = [
            dict(zip(("id", "name", "label", "mention_count"), row))
            for row in conn.execute("SELECT id, name, label, mention_count FROM entities ORDER BY id")
        ]
        edges = [
            dict(zip(("source", "target", "label", "count", "max_confidence", "mean_confidence"), row))
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


def span_confidences(doc: Doc, keys: Sequence[str]) -> Dict[Tuple[int, int, str], float]:
    """The confidences that components wrote for spans, in span groups carrying
    `attrs["scores"]` (as window_ner does in doc.spans[pipe.scores_key]).

    doc (Doc): A processed doc.
    keys (Sequence[str]): The span group keys to read.
    RETURNS (Dict[Tuple[int, int, str], float]): (start, end, label) -> confidence.
    """
    found: Dict[Tuple[int, int, str], float] = {}
    for key in keys:
        group = doc.spans.get(key) if key in doc.spans else None
        scores = group.attrs.get("scores") if group is not None else None
        if scores is None or len(scores) != len(group):
            continue
        for span, score in zip(group, scores):
            found.setdefault((span.start, span.end, span.label_), float(score))
    return found


def pipeline_scores_keys(nlp: Language) -> List[str]:
    """The span group keys where the pipeline's components keep span confidences.

    nlp (Language): The pipeline.
    RETURNS (List[str]): The keys, in pipeline order.
    """
    keys = []
    for _, pipe in nlp.pipeline:
        key = getattr(pipe, "scores_key", None)
        if isinstance(key, str) and key not in keys:
            keys.append(key)
    return keys


def _check_schema(conn: sqlite3.Connection, path: Path, tables: set) -> None:
    missing = [t for t in (*TABLES, "meta") if t not in tables]
    if missing:
        raise KBError(
            f"{path} is a SQLite database but not a spacy-window-ner knowledge base (no table "
            f"{', '.join(missing)}). Give another path to build one."
        )
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    if row is None or row[0] != SCHEMA_VERSION:
        raise KBError(
            f"{path} has knowledge base schema version {row[0] if row else None}, but this "
            f"version of spacy-window-ner reads version {SCHEMA_VERSION}. Rebuild it."
        )


def _decode_problem(path: Path, encoding: str) -> Optional[str]:
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    done, newlines = 0, 0
    with path.open("rb") as file_:
        while True:
            chunk = file_.read(CHECK_CHUNK)
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as err:
                line = newlines + chunk[: max(err.start, 0)].count(b"\n") + 1
                return (
                    f"not valid {encoding} (byte {done + err.start}, line {line}); "
                    "pass its encoding with --encoding"
                )
            if not chunk:
                return None
            done += len(chunk)
            newlines += chunk.count(b"\n")


def _jsonl_text(line: str) -> Tuple[Optional[str], str]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as err:
        return None, f"invalid JSON ({err.msg})"
    if not isinstance(record, dict) or "text" not in record:
        return None, 'no "text" field'
    text = record["text"]
    if not isinstance(text, str):
        return None, f'"text" is a {type(text).__name__}, not a string'
    if not text.strip():
        return None, '"text" is empty'
    return text, ""


def _record(source: str, line: Optional[int], text: str, offset: int) -> Record:
    sha = hashlib.sha256(text.encode("utf8")).hexdigest()
    return Record(source, line, text, sha, offset)


def _new_records(conn: sqlite3.Connection, records: Iterable[Record], stats: BuildStats) -> Iterator[Record]:
    """Drop the records whose text is stored, or seen earlier in this run, before the pipeline."""
    seen = set()
    for record in records:
        stats.docs_read += 1
        start = time.perf_counter()
        stored = conn.execute("SELECT 1 FROM documents WHERE sha256 = ?", (record.sha256,)).fetchone()
        stats.seconds_sqlite += time.perf_counter() - start
        if stored is not None or record.sha256 in seen:
            stats.docs_existing += 1
            continue
        seen.add(record.sha256)
        yield record


def _doc_rows(doc: Doc, scores_keys: Sequence[str]) -> Dict[str, Any]:
    """Everything the database needs from a processed doc, as plain data."""
    confidences = span_confidences(doc, scores_keys)
    has_sents = doc.has_annotation("SENT_START") or doc.has_annotation("DEP")
    spans: Dict[Tuple[int, int, str], Dict[str, Any]] = {}

    def add(span: Span) -> Tuple[int, int, str]:
        key = (span.start, span.end, span.label_)
        if key not in spans:
            context = span.sent if has_sents else doc[max(0, span.start - CONTEXT_TOKENS) : span.end + CONTEXT_TOKENS]
            spans[key] = {
                "start_char": span.start_char, "end_char": span.end_char, "text": span.text,
                "label": span.label_, "confidence": confidences.get(key),
                "sentence": context.text, "sent_start_char": context.start_char,
                "sent_end_char": context.end_char,
            }
        return key

    for ent in doc.ents:
        add(ent)
    relations = [(add(r.head), add(r.tail), r.label, r.score) for r in get_relations(doc)]
    return {"n_chars": len(doc.text), "n_tokens": len(doc), "mentions": spans, "relations": relations}


def _write_batch(conn: sqlite3.Connection, batch: List[Tuple[Record, Dict[str, Any]]], stats: BuildStats) -> None:
    """Write a batch of documents in one transaction: all of it or none of it."""
    start = time.perf_counter()
    added = mentions = relations = raced = 0
    conn.execute("BEGIN IMMEDIATE")
    try:
        for record, rows in batch:
            cur = conn.execute(
                "INSERT OR IGNORE INTO documents (source, line, sha256, n_chars, n_tokens) VALUES (?, ?, ?, ?, ?)",
                (record.source, record.line, record.sha256, rows["n_chars"], rows["n_tokens"]),
            )
            if cur.rowcount == 0:  # another build stored this text meanwhile
                raced += 1
                continue
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
        conn.execute("ROLLBACK")
        raise
    finally:
        stats.seconds_sqlite += time.perf_counter() - start
    stats.docs_added += added
    stats.docs_raced += raced
    stats.mentions += mentions
    stats.relations += relations


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

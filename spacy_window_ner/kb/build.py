"""Building a knowledge base: stream records from the inputs, skip those stored, run the rest
through `nlp.pipe`, turn each doc into rows (rows.doc_rows) and store them a batch at a time;
and removing documents; then, unless told not to, the resolution pass (resolution.py) that
assigns the new mentions their entities.

A document whose identity and text hash are stored is skipped before it reaches the pipeline,
so a rerun on unchanged input adds nothing and costs no pipeline time. Two identities with the
same text are two documents, each with its own mentions. A document whose identity is stored
with another text replaces the old version in the transaction that writes the new one: the old
mentions and relations are deleted, and their names recorded as stale. Mentions are stored
unresolved; the resolution pass at the end of the build resolves the components of the new and
stale names, so every `mention_count` equals the entity's number of mention rows and every entity
has at least one. `remove_documents` (`kb remove`) deletes documents the same way and resolves
what they touched.

Documents that can't be processed are skipped and reported with the malformed lines ("path:line:
why"), before the pipeline (see inputs.text_problem).

The pipeline runs in this process (engine "local", nlp.pipe) or in one pool of Ray actors for
the whole build (engine "ray", see ray_engine.py, imported only for that engine); both make and
store the same rows through rows.py (`doc_rows`, `write_batch`).
"""
import itertools
import time
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Tuple, Union

from spacy.language import Language

from ..candidates import DROPPED_KEY
from ..confidences import entity_setters
from ..files import check_not_input
from ..inputs import Record, iter_records, location
from ..loading import PipelineError, load_pipeline
from .backends import database_files, open_store
from .resolution import resolve_kb
from .rows import BuildStats, doc_rows, write_batch
from .store import DocRows, KBError, RemoveStats, Store
from .urls import describe, hide_password, is_url

KNOWN_CHUNK = 256  # records per "already stored?" look-up
ENGINES = ("local", "ray")  # build_kb(engine=...): nlp.pipe in this process, or Ray actors


def build_kb(
    nlp: Union[Language, str, Path],
    inputs: Iterable[Path],
    db: Union[str, Path],
    *,
    lines: bool = False,
    encoding: str = "utf8",
    batch_size: int = 64,
    n_process: int = 1,
    progress: Optional[Callable[[int, int], None]] = None,
    max_length: Optional[int] = None,
    engine: str = "local",
    address: Optional[str] = None,
    workers: Optional[int] = None,
    resolve: bool = True,
) -> BuildStats:
    """Run a pipeline over documents streamed from files and store its entities and relations.
    Documents whose identity and text are stored are skipped before the pipeline; a document
    stored with another text is replaced; each batch of `batch_size` documents is written in
    one transaction. Documents that can't be processed (too long, not encodable) are reported
    in the stats and skipped before the pipeline. If this build created the database and
    stored no document, it removes it, so a failed or empty build leaves no empty database.

    With engine="ray", the documents to process are sent in blocks of `batch_size` to a pool
    of Ray actors (see ray_engine.py), each of which loads the pipeline once by its name.

    nlp (Union[Language, str, Path]): A pipeline with a component that sets doc.ents, or its
        directory or installed package name (the only form the Ray engine takes).
    inputs (Iterable[Path]): Input files, checked by `check_inputs`.
    db (Union[str, Path]): The database: a SQLite file, created if missing, or a postgresql://
        URL of an existing database, whose tables are created if missing.
    lines (bool): Read .txt files as one document per line.
    encoding (str): The text encoding of the inputs.
    batch_size (int): Documents per nlp.pipe batch and per transaction.
    n_process (int): Processes for nlp.pipe (local engine).
    progress (Optional[Callable[[int, int], None]]): Called after each document (after each
        batch with the Ray engine) with the bytes of input consumed so far and the documents
        stored so far.
    max_length (Optional[int]): Raise (or lower) nlp.max_length to this for the build; longer
        texts are skipped. spaCy's parser and NER need about 1 GB of memory per 100,000
        characters, so raise it knowingly. nlp.max_length is restored afterwards.
    engine (str): "local" (nlp.pipe in this process) or "ray" (a pool of Ray actors).
    address (Optional[str]): Ray only: the cluster for ray.init ("auto", "HOST:PORT",
        "ray://HOST:10001"); None starts a local one.
    workers (Optional[int]): Ray only: the number of actors; None for one per CPU of the cluster.
    resolve (bool): Resolve the new mentions (and those a replaced document touched) at the end
        (resolution.resolve_kb), with the settings of the last pass; False leaves them
        unresolved until `kb resolve`.
    RETURNS (BuildStats): What was read, stored and skipped.
    """
    if batch_size < 1 or n_process < 1:
        raise KBError("--batch-size and --n-process must be at least 1.")
    if max_length is not None and max_length < 1:
        raise KBError("--max-length must be at least 1.")
    if engine not in ENGINES:
        raise KBError(f"Unknown engine {engine!r}: choose one of {', '.join(ENGINES)}.")
    if engine == "ray":
        if isinstance(nlp, Language):
            raise KBError(
                "The Ray engine loads the pipeline in each actor: give its directory or installed "
                "package name, not a Language object (one shipped through Ray's object store "
                "crashes on read-only buffers, spaCy #13506)."
            )
        if n_process != 1:
            raise KBError("--n-process is for --engine local; give --engine ray the number of actors as --workers.")
        if workers is not None and workers < 1:
            raise KBError("--workers must be at least 1.")
        engine_module = _ray_engine()
    elif address is not None or workers is not None:
        raise KBError("--address and --workers are for --engine ray.")
    model = nlp
    if not isinstance(nlp, Language):
        try:
            nlp = load_pipeline(nlp)
        except PipelineError as err:
            raise KBError(str(err)) from None
    if not entity_setters(nlp):
        raise KBError(
            "The pipeline has no component that sets doc.ents (such as window_ner, ner or "
            "entity_ruler), so there is nothing to store."
        )
    stats = BuildStats()
    saved_max_length = nlp.max_length
    try:
        with building(db, stats, resolve=resolve) as store:
            if max_length is not None:
                nlp.max_length = max_length
            records = iter_records(inputs, lines=lines, encoding=encoding, stats=stats, max_length=nlp.max_length)
            records = new_records(store, records, stats)
            if engine == "ray":
                engine_module.build_on_ray(
                    str(model), records, store, db, stats, batch_size=batch_size,
                    max_length=nlp.max_length, address=address, workers=workers, progress=progress,
                )
            else:
                stats.pipeline_loads = 0 if isinstance(model, Language) else 1
                _build_local(nlp, records, store, stats, batch_size=batch_size, n_process=n_process, progress=progress)
    finally:
        nlp.max_length = saved_max_length
    return stats


@contextmanager
def building(db: Union[str, Path], stats: BuildStats, *, resolve: bool) -> Iterator[Store]:
    """The store a build writes into, for every kind of build (a pipeline's, on either engine, or
    annotated docs): yields it open, then resolves what the build stored (unless `resolve` is
    False) and closes it, discarding a database this build created and left empty. A database
    error becomes a KBError that says every batch written is kept.

    db (Union[str, Path]): The SQLite file or PostgreSQL URL.
    stats (BuildStats): The build's counts; gets the resolution pass's and the wall time.
    resolve (bool): Resolve the new mentions (and those of replaced documents) at the end.
    YIELDS (Store): The open store.
    """
    start = time.perf_counter()
    store = open_store(db, create=True)
    try:
        yield store
        if resolve and stats.docs_added + stats.docs_existing:
            try:
                stats.resolution = resolve_kb(store)
            except KBError as err:
                raise KBError(
                    f"Stored {stats.docs_added} documents, but could not resolve their mentions: {err} "
                    "They stay unresolved until `kb resolve` succeeds."
                ) from None
    except store.Error as err:  # a full disk, a lost file or connection: not the pipeline's fault
        causes = "the server, the network, the login" if is_url(db) else "free disk space, permissions"
        raise KBError(
            f"Can't write to the database {describe(db)} ({store_error(err, db)}). Every batch written "
            f"before is kept; fix the cause ({causes}) and rerun the same command to resume."
        ) from None
    finally:
        store.close(discard_if_empty=stats.docs_added == 0)
        stats.seconds = time.perf_counter() - start


def write_in_batches(
    store: Store,
    documents: Iterable[Tuple[Record, DocRows]],
    stats: BuildStats,
    *,
    batch_size: int,
    progress: Optional[Callable[[int, int], None]],
) -> None:
    """Store documents with their rows, batch_size per transaction (rows.write_batch).

    store (Store): The open store.
    documents (Iterable[Tuple[Record, DocRows]]): The documents and their rows, in input order.
    stats (BuildStats): Counts what was stored.
    batch_size (int): Documents per transaction.
    progress (Optional[Callable[[int, int], None]]): Called after each document with the input
        offset read so far and the documents stored or waiting in the batch.
    """
    batch: List[Tuple[Record, DocRows]] = []
    for record, rows in documents:
        batch.append((record, rows))
        if len(batch) >= batch_size:
            write_batch(store, batch, stats)
            batch = []
        if progress is not None:
            progress(record.offset, stats.docs_added + len(batch))
    if batch:
        write_batch(store, batch, stats)


def _build_local(
    nlp: Language,
    records: Iterable[Record],
    store: Store,
    stats: BuildStats,
    *,
    batch_size: int,
    n_process: int,
    progress: Optional[Callable[[int, int], None]],
) -> None:
    """The local engine: run the records through nlp.pipe and write a batch at a time."""
    docs = nlp.pipe(((r.text, r) for r in records), as_tuples=True, batch_size=batch_size, n_process=n_process)

    def documents() -> Iterator[Tuple[Record, DocRows]]:
        for doc, record in docs:
            stats.words += len(doc)
            stats.docs_capped += DROPPED_KEY in doc.user_data
            yield record, doc_rows(doc, record.text)

    write_in_batches(store, documents(), stats, batch_size=batch_size, progress=progress)


def _ray_engine() -> ModuleType:
    """ray_engine.py, which imports Ray: only the Ray engine needs it installed."""
    try:
        from . import ray_engine
    except ImportError as err:
        if not (err.name or "").startswith("ray"):
            raise
        raise KBError(
            f'--engine ray needs Ray, which can\'t be imported ({err}): pip install "spacy-window-ner[ray]".'
        ) from None
    return ray_engine


def remove_documents(
    db: Union[str, Path],
    *,
    sources: Iterable[Union[str, Path]] = (),
    ids: Iterable[Union[str, int]] = (),
    resolve: bool = True,
) -> RemoveStats:
    """Remove documents with their mentions and relations, in one transaction; then resolve the
    components of their names again (a second transaction), which updates the entities' counts
    and aliases and deletes the entities left with no mention.

    db (Union[str, Path]): The database: a SQLite file or a postgresql:// URL.
    sources (Iterable[Union[str, Path]]): Remove every document read from these inputs (the
        paths as given to the build).
    ids (Iterable[Union[str, int]]): Remove the documents with these JSONL ids (compared as strings).
    resolve (bool): Resolve what the removal touched; False leaves it to `kb resolve`.
    RETURNS (RemoveStats): What was removed, and the selectors that matched nothing.
    """
    source_names, id_names = [str(s) for s in sources], [str(i) for i in ids]
    if not source_names and not id_names:
        raise KBError("Nothing to remove: give --source PATH or --id ID (both can be repeated).")
    store = open_store(db)
    try:
        try:
            stats = store.remove(source_names, id_names)
        except store.Error as err:
            raise KBError(f"Can't remove documents from {describe(db)} ({store_error(err, db)}); nothing was removed.") from None
        if resolve and stats.documents:
            try:
                stats.entities = resolve_kb(store).deleted
            except (KBError, store.Error) as err:
                reason = str(err) if isinstance(err, KBError) else store_error(err, db)
                raise KBError(
                    f"Removed {len(stats.documents)} documents from {describe(db)}, but could not resolve what they "
                    f"touched ({reason}); their entities wait for `kb resolve`."
                ) from None
        return stats
    finally:
        store.close()


def check_database_not_input(db: Union[str, Path], inputs: Iterable[Union[str, Path]]) -> None:
    """Refuse a knowledge base whose files are, hold or lie inside one of the inputs (a
    SQLite --db that names an input file would be written over it).

    db (Union[str, Path]): The database.
    inputs (Iterable[Union[str, Path]]): Every input the build was given, usable or not.
    RAISES (KBError): If they overlap, saying which.
    """
    inputs = list(inputs)
    for path in database_files(db):
        try:
            check_not_input(path, inputs)
        except ValueError as err:
            raise KBError(f"--db {db}: {err}") from None


def store_error(err: BaseException, db: Union[str, Path]) -> str:
    """A back end's error in one line, without the database's password: "Class: message".

    err (BaseException): The error (sqlite3's, psycopg's or libpq's).
    db (Union[str, Path]): The database it came from.
    RETURNS (str): The line.
    """
    return f"{type(err).__name__}: {hide_password(' '.join(str(err).split()), db)}"


def new_records(store: Store, records: Iterable[Record], stats: BuildStats) -> Iterator[Record]:
    """Drop, before the pipeline, the records whose identity is stored with the same text (a
    record with an id that moved gets its new source and line), or was read earlier in this
    run (an id read twice with different texts keeps the first). The store is asked about
    KNOWN_CHUNK records at a time: one round trip each, not one per document."""
    first_reads = _first_reads(records, stats)
    while True:
        chunk = list(itertools.islice(first_reads, KNOWN_CHUNK))
        if not chunk:
            return
        start = time.perf_counter()
        known = store.known(chunk)
        stats.seconds_store += time.perf_counter() - start
        stats.docs_existing += sum(known)
        yield from (record for record, is_known in zip(chunk, known) if not is_known)


def _first_reads(records: Iterable[Record], stats: BuildStats) -> Iterator[Record]:
    """The records whose identity this run reads for the first time; a repeat with the same
    text counts as existing, one with another text is reported as a malformed line."""
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
        yield record

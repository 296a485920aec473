"""Throughput of `kb build` on one corpus, in one run: the local engine (nlp.pipe with each
--processes value) and the Ray engine (with each --actors value), each into SQLite and into
PostgreSQL; and how many actors one writer can keep busy.

    python -m benchmarks.kb [--model PATH] [--n-docs 3000] [--sentences-per-doc 4]
        [--processes 1,2] [--actors 1,2] [--pg-url postgresql://USER:PASSWORD@HOST:PORT]
        [--overhead-repeats 2] [--ray-loads-docs 50000] [--ray-loads-actors 2]

Without --model, a window_ner pipeline is trained for a couple of epochs on the embedded
sample (assets/sample/sample_train.json). The documents join CoNLL04 sentences (from
tests/data.py: data_dir()/conll04, else the embedded sample) into texts, repeated with a numbered
prefix so that every text is distinct. Scratch files go to --work-dir.

PostgreSQL: a temporary server of our own (tests/postgres_server.py: temporary_server, as the tests
start one), or the server of --pg-url, whose user must be allowed to create databases (each
build gets a new database, dropped afterwards). Without psycopg or PostgreSQL's programs, or
without Ray, those rows say "skipped" and why.

What is measured:
- pipeline alone: nlp.pipe and the rows (kb.rows.doc_rows) of every doc, without a store. With
  n_process 1, that is the work of one Ray actor: its docs/s is "one actor's docs/s".
- writer capacity: the rows of all docs computed once, then written (store.write_batch, a
  batch per transaction) into a new database: by one SQLite writer, and by 1, 2 and 4
  concurrent PostgreSQL writer processes, each with its share of the batches. Write docs/s
  divided by one actor's docs/s is the largest number of actors the writer(s) can keep busy.
- builds: build_kb into a new database, then a rerun (every document skipped). The Ray
  cluster is started once (ray.init with num_cpus = the most actors) before the builds and its
  start-up is reported apart; each Ray build still starts its actor pool (each actor loads the
  pipeline) inside its timed wall time.
- the local build's overhead (--overhead-repeats, 0 for none): the local engine's build into a
  new SQLite file (n_process 1, without the resolution pass) against nlp.pipe alone on the same
  texts, in turns, wall and CPU time; then the resolution pass the build would end with
  (kb.resolve_database), timed apart. Overhead = build / nlp.pipe - 1.
- pipeline loads (--ray-loads-docs N, 0 for none): a Ray build of N short documents (one
  sentence each, so many more blocks than actors) with --ray-loads-actors actors, without the
  resolution pass: its BuildStats.pipeline_loads should equal its actors.
"""
import collections
import itertools
import json
import multiprocessing
import os
import random
import resource
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import spacy
import typer
from spacy.language import Language
from spacy.training import Example
from thinc.api import fix_random_seed

from spacy_window_ner.inputs import Record, iter_records
from spacy_window_ner.kb import BuildStats, DocRows, build_kb, describe, doc_rows, open_store, resolve_database
from spacy_window_ner.readers import read_conll04
from tests.data import data_dir
from tests.postgres_server import ServerError, server_cpu_seconds, temporary_database, temporary_server

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "assets" / "sample"


def train_pipeline(epochs: int) -> Language:
    """A window_ner pipeline (default model) trained for a few epochs on the embedded sample."""
    fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe("window_ner")
    docs, _ = read_conll04(SAMPLE / "sample_train.json", nlp.vocab)
    examples = [Example(nlp.make_doc(doc.text), doc) for doc in docs]
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(epochs):
        random.shuffle(examples)
        for start in range(0, len(examples), 32):
            nlp.update(examples[start : start + 32], sgd=optimizer)
    return nlp


def make_texts(n_docs: int, per_doc: int) -> List[str]:
    """n_docs distinct texts of per_doc CoNLL04 sentences each."""
    source = data_dir() / "conll04" / "conll04_train.json"
    if not source.is_file():
        source = SAMPLE / "sample_train.json"
    sentences = [" ".join(record["tokens"]) for record in json.loads(source.read_text(encoding="utf8"))]
    texts = []
    for i in range(n_docs):
        start = (i * per_doc) % len(sentences)
        chunk = [sentences[(start + j) % len(sentences)] for j in range(per_doc)]
        texts.append(f"Report {i}. " + " ".join(chunk))
    return texts


def load_average() -> str:
    """The machine's load and CPU count, as printed at the start and the end.

    RETURNS (str): "load average 1-MIN, 5-MIN, 15-MIN on N CPUs" (os.getloadavg).
    """
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} on {os.cpu_count()} CPUs"


def rate(per_second: float) -> str:
    """A throughput to three significant figures (a slow run under load prints 0.452, not 0)."""
    return f"{per_second:,.0f}" if per_second >= 100 else f"{per_second:.3g}"


def cpu_seconds() -> float:
    """CPU seconds (user and system) of this process and of its children that ended (the
    processes of nlp.pipe's n_process; not Ray's actors, which are the raylet's).

    RETURNS (float): The seconds so far.
    """
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def pipeline_rows(nlp: Language, records: List[Record], batch_size: int, n_process: int) -> Tuple[float, List[Tuple[Record, DocRows]]]:
    """Run the records through the pipeline and turn each doc into rows, without a store.

    nlp (Language): The pipeline.
    records (List[Record]): The documents.
    batch_size (int): nlp.pipe's batch size.
    n_process (int): nlp.pipe's processes.
    RETURNS (Tuple[float, List[Tuple[Record, DocRows]]]): The wall time, and the rows.
    """
    start = time.perf_counter()
    docs = nlp.pipe(((r.text, r) for r in records), as_tuples=True, batch_size=batch_size, n_process=n_process)
    rows = [(record, doc_rows(doc)) for doc, record in docs]
    return time.perf_counter() - start, rows


def batches(rows: Sequence[Tuple[Record, DocRows]], batch_size: int) -> List[Sequence[Tuple[Record, DocRows]]]:
    """The rows in batches of batch_size, as the builds write them.

    rows (Sequence[Tuple[Record, DocRows]]): The documents and their rows.
    batch_size (int): Documents per batch.
    RETURNS (List[Sequence[Tuple[Record, DocRows]]]): The batches.
    """
    return [rows[i : i + batch_size] for i in range(0, len(rows), batch_size)]


def write_sqlite(rows: Sequence[Tuple[Record, DocRows]], batch_size: int, db: Path) -> float:
    """Write pre-computed rows into a new SQLite knowledge base, a batch per transaction.

    rows (Sequence[Tuple[Record, DocRows]]): The documents and their rows.
    batch_size (int): Documents per transaction.
    db (Path): The database file, replaced if it exists.
    RETURNS (float): The wall time of the writes and of closing the store, where a first build
        makes the indexes it deferred (opening the database excluded).
    """
    for path in db.parent.glob(db.name + "*"):
        path.unlink()
    store = open_store(db, create=True)
    start = time.perf_counter()
    try:
        for batch in batches(rows, batch_size):
            store.write_batch(batch)
    finally:
        store.close()
    return time.perf_counter() - start


def _postgres_writer(url: str, work: Sequence[Sequence[Tuple[Record, DocRows]]], barrier: Any, queue: Any) -> None:
    """One writer process of write_postgres: connect, wait for the others, write its batches."""
    store = open_store(url)
    try:
        barrier.wait()
        start = time.perf_counter()
        for batch in work:
            store.write_batch(batch)
        queue.put((start, time.perf_counter()))
    finally:
        store.close()


def write_postgres(rows: Sequence[Tuple[Record, DocRows]], batch_size: int, url: str, writers: int) -> float:
    """Write pre-computed rows into a new PostgreSQL knowledge base from `writers` processes at
    once, the batches dealt round-robin; each connects before the clock starts.

    rows (Sequence[Tuple[Record, DocRows]]): The documents and their rows.
    batch_size (int): Documents per transaction.
    url (str): A new, empty database.
    writers (int): The writer processes.
    RETURNS (float): The wall time from the first writer's start to the last one's end.
    """
    open_store(url, create=True).close()  # the schema, before the writers race to it
    context = multiprocessing.get_context("fork")  # before ray.init: the rows are inherited, not pickled
    barrier, queue = context.Barrier(writers), context.Queue()
    work = batches(rows, batch_size)
    processes = [
        context.Process(target=_postgres_writer, args=(url, work[i::writers], barrier, queue)) for i in range(writers)
    ]
    for process in processes:
        process.start()
    times = [queue.get() for _ in processes]
    for process in processes:
        process.join()
        if process.exitcode != 0:
            raise RuntimeError(f"A PostgreSQL writer process failed (exit code {process.exitcode}).")
    return max(end for _, end in times) - min(start for start, _ in times)


def timed_build(
    model: Union[Language, str], corpus: Path, db: Union[str, Path], pg_server: Optional[str], **options: Any
) -> Tuple[BuildStats, float, Optional[float]]:
    """build_kb, with the CPU seconds of this process and its actors, and of the PostgreSQL
    server (None where it can't be read or the store is SQLite).

    model (Union[Language, str]): The pipeline (its directory for the Ray engine).
    corpus (Path): The input file.
    db (Union[str, Path]): The database.
    pg_server (Optional[str]): The PostgreSQL server's URL, to read its CPU time; None for SQLite.
    **options (Any): More arguments of build_kb (engine, workers, n_process, batch_size).
    RETURNS (Tuple[BuildStats, float, Optional[float]]): The stats, the CPU seconds (this process,
        its ended children and the Ray actors), the server's CPU seconds.
    """
    server_before = server_cpu_seconds(pg_server) if pg_server is not None else None
    before = cpu_seconds()
    stats = build_kb(model, [corpus], db, **options)
    cpu = cpu_seconds() - before + stats.seconds_workers_cpu
    server = None
    if server_before is not None and pg_server is not None:
        after = server_cpu_seconds(pg_server)
        server = after - server_before if after is not None else None
    return stats, cpu, server


def fresh_sqlite(db: Path) -> Path:
    """A SQLite path with no database (its files removed).

    db (Path): The path.
    RETURNS (Path): The same path.
    """
    for path in db.parent.glob(db.name + "*"):
        path.unlink()
    return db


def local_overhead(nlp: Language, corpus: Path, texts: List[str], batch_size: int, work_dir: Path, repeats: int) -> None:
    """Print the local engine's build time (SQLite, n_process 1, no resolution pass) against
    nlp.pipe alone on the same texts, `repeats` times each in turns, with the resolution pass
    the build would end with, timed apart.

    nlp (Language): The pipeline.
    corpus (Path): The JSONL file of the texts.
    texts (List[str]): Its texts.
    batch_size (int): nlp.pipe's batch size, and the build's.
    work_dir (Path): Where the database goes.
    repeats (int): Runs of each.
    """
    print(f"\nlocal build over nlp.pipe alone (SQLite, n_process 1, batch {batch_size}; {repeats} runs each, in turns):")
    print(f"  {'run':<4} {'nlp.pipe s':>10} {'build s':>8} {'overhead':>8} {'pipe CPU s':>10} {'build CPU s':>11} "
          f"{'CPU overhead':>12} {'resolution s':>12}")
    walls, cpus = [], []
    for run in range(1, repeats + 1):
        start, before = time.perf_counter(), cpu_seconds()
        collections.deque(nlp.pipe(texts, batch_size=batch_size), maxlen=0)
        pipe_wall, pipe_cpu = time.perf_counter() - start, cpu_seconds() - before
        db = fresh_sqlite(work_dir / "kb_overhead.sqlite")
        start, before = time.perf_counter(), cpu_seconds()
        stats = build_kb(nlp, [corpus], db, batch_size=batch_size, resolve=False)
        build_wall, build_cpu = time.perf_counter() - start, cpu_seconds() - before
        assert stats.docs_added == len(texts), stats
        resolution = resolve_database(db)
        walls.append(build_wall / pipe_wall - 1)
        cpus.append(build_cpu / pipe_cpu - 1)
        print(f"  {run:<4} {pipe_wall:>10.2f} {build_wall:>8.2f} {walls[-1]:>8.1%} {pipe_cpu:>10.2f} {build_cpu:>11.2f} "
              f"{cpus[-1]:>12.1%} {resolution.seconds:>12.2f}")
    print(f"  overhead, mean of {repeats}: {sum(walls) / repeats:.1%} wall, {sum(cpus) / repeats:.1%} CPU")


def ray_loads(model: Path, work_dir: Path, n_docs: int, actors: int, batch_size: int) -> None:
    """Print how often a Ray build of n_docs one-sentence documents loaded the pipeline.

    model (Path): The pipeline's directory.
    work_dir (Path): Where the corpus and the database go.
    n_docs (int): Documents.
    actors (int): The build's --workers.
    batch_size (int): Documents per block.
    """
    corpus = work_dir / "corpus_short.jsonl"
    corpus.write_text("".join(json.dumps({"text": t}) + "\n" for t in make_texts(n_docs, 1)), encoding="utf8")
    db = fresh_sqlite(work_dir / "kb_loads.sqlite")
    stats = build_kb(str(model), [corpus], db, batch_size=batch_size, engine="ray", workers=actors, resolve=False)
    assert stats.docs_added == n_docs, stats
    blocks = -(-n_docs // batch_size)
    print(f"\nRay build of {n_docs:,} one-sentence documents ({blocks:,} blocks of {batch_size}, {stats.words:,} words, "
          f"no resolution pass): actors {actors}, actor processes that ran blocks {len(stats.worker_pids)}, "
          f"pipeline loads {stats.pipeline_loads}; {rate(n_docs / stats.seconds)} docs/s, {stats.seconds:.1f} s")


def start_postgres(stack: ExitStack, pg_url: Optional[str]) -> Tuple[Optional[str], str]:
    """The server for the PostgreSQL rows: --pg-url, or a temporary one (stopped by `stack`).

    stack (ExitStack): Stops the temporary server when it closes.
    pg_url (Optional[str]): --pg-url.
    RETURNS (Tuple[Optional[str], str]): The server's base URL, or None and why it is skipped.
    """
    if pg_url is not None:
        try:
            import psycopg
        except ImportError:
            return None, 'psycopg is not installed: pip install "spacy-window-ner[postgres]"'
        try:
            psycopg.connect(pg_url.rstrip("/") + "/postgres", connect_timeout=10).close()
        except psycopg.Error as err:
            raise typer.BadParameter(
                f"Can't connect to {describe(pg_url)} ({err}): give a running server as "
                "postgresql://USER:PASSWORD@HOST:PORT, whose user may create databases, or leave --pg-url out."
            ) from None
        return pg_url.rstrip("/"), ""
    try:
        return stack.enter_context(temporary_server()), ""
    except ServerError as err:
        return None, str(err)


def main(
    model: Optional[Path] = typer.Option(None, help="Pipeline directory; trained on the sample if omitted."),
    n_docs: int = typer.Option(3000, help="Documents in the corpus."),
    sentences_per_doc: int = typer.Option(4, help="CoNLL04 sentences joined into one document."),
    batch_size: int = typer.Option(64, help="nlp.pipe batch size, documents per transaction and per Ray block."),
    epochs: int = typer.Option(2, help="Training epochs when no --model is given."),
    processes: str = typer.Option("1,2", help="Comma-separated --n-process values of the local engine to time."),
    actors: str = typer.Option("1,2", help="Comma-separated --workers values of the Ray engine to time; empty for none."),
    pg_writers: str = typer.Option("1,2,4", help="Comma-separated numbers of concurrent PostgreSQL writer processes."),
    pg_url: Optional[str] = typer.Option(
        None,
        help="An existing PostgreSQL server (postgresql://USER:PASSWORD@HOST:PORT) whose user may create "
        "databases; a temporary one if omitted.",
    ),
    work_dir: Path = typer.Option(Path("/work/scratch/kb/bench"), help="Scratch directory for the corpus and databases."),
    overhead_repeats: int = typer.Option(2, help="Runs of the local build against nlp.pipe alone; 0 for none."),
    ray_loads_docs: int = typer.Option(0, help="Short documents of a Ray build that counts its pipeline loads; 0 for none."),
    ray_loads_actors: int = typer.Option(2, help="Actors of that build."),
) -> None:
    n_processes = [int(n) for n in processes.split(",") if n.strip()]
    n_actors = [int(n) for n in actors.split(",") if n.strip()]
    n_writers = [int(n) for n in pg_writers.split(",") if n.strip()]
    print(f"start: {load_average()}")
    with ExitStack() as stack:
        # Only the writer capacity and the builds use PostgreSQL.
        pg_server, pg_skipped = start_postgres(stack, pg_url) if n_writers or n_processes or n_actors else (None, "")
        work_dir.mkdir(parents=True, exist_ok=True)
        if model is None:
            start = time.perf_counter()
            nlp = train_pipeline(epochs)
            model = work_dir / "window_ner"
            nlp.to_disk(model)
            print(f"trained window_ner for {epochs} epochs on the sample in {time.perf_counter() - start:.1f}s")
        nlp = spacy.load(model)
        texts = make_texts(n_docs, sentences_per_doc)
        corpus = work_dir / "corpus.jsonl"
        corpus.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), encoding="utf8")
        records = list(iter_records([corpus]))
        n_words = sum(len(nlp.make_doc(t)) for t in texts)
        print(f"corpus: {n_docs} docs, {n_words} words ({n_words / n_docs:.0f} words/doc), batch size {batch_size}, "
              f"pipeline {nlp.pipe_names}")

        print("\npipeline alone (nlp.pipe and doc_rows, no store):")
        rows: List[Tuple[Record, DocRows]] = []
        actor_docs_s = 0.0
        for n_process in sorted(set(n_processes) | {1}):
            seconds, computed = pipeline_rows(nlp, records, batch_size, n_process)
            print(f"  n_process {n_process}: {rate(n_docs / seconds)} docs/s")
            if n_process == 1:
                rows, actor_docs_s = computed, n_docs / seconds
        print(f"  one actor's docs/s (n_process 1): {rate(actor_docs_s)}")

        databases = itertools.count()

        def new_database() -> str:
            assert pg_server is not None
            return stack.enter_context(temporary_database(pg_server, f"kb_bench_{os.getpid()}_{next(databases)}"))

        print("\nwriter capacity (pre-computed rows of all docs, written into a new database):")
        print(f"  {'writer':<24} {'write docs/s':>12} {'actors kept busy':>17}")
        seconds = write_sqlite(rows, batch_size, work_dir / "kb_write.sqlite")
        print(f"  {'SQLite, 1 writer':<24} {rate(n_docs / seconds):>12} {n_docs / seconds / actor_docs_s:>17.1f}")
        for writers in n_writers:
            label = f"PostgreSQL, {writers} writer{'s' if writers > 1 else ''}"
            if pg_server is None:
                print(f"  {label:<24} skipped: {pg_skipped}")
                continue
            seconds = write_postgres(rows, batch_size, new_database(), writers)
            print(f"  {label:<24} {rate(n_docs / seconds):>12} {n_docs / seconds / actor_docs_s:>17.1f}")

        ray_skipped = ""
        if n_actors:
            try:
                import ray
            except ImportError as err:
                ray_skipped = f'Ray can\'t be imported ({err}): pip install "spacy-window-ner[ray]"'
            else:
                start = time.perf_counter()
                ray.init(address="local", num_cpus=max(n_actors), include_dashboard=False, configure_logging=False)
                stack.callback(ray.shutdown)
                print(f"\nRay cluster start-up (ray.init, num_cpus={max(n_actors)}, once before the builds): "
                      f"{time.perf_counter() - start:.1f}s")

        print(f"\n{'engine':<20} {'store':<10} {'docs/s':>7} {'words/s':>8} {'CPU ms/doc':>10} {'PG ms/doc':>9} "
              f"{'writer':>7} {'pids':>4} {'rerun docs/s':>12}")
        runs: List[Tuple[str, Dict[str, Any]]] = [(f"local n_process={n}", {"n_process": n}) for n in n_processes]
        runs += [(f"ray {n} actor{'s' if n > 1 else ''}", {"engine": "ray", "workers": n}) for n in n_actors]
        for label, options in runs:
            for store in ("SQLite", "PostgreSQL"):
                skipped = ray_skipped if options.get("engine") == "ray" else ""
                skipped = skipped or (pg_skipped if store == "PostgreSQL" else "")
                if skipped:
                    print(f"{label:<20} {store:<10} skipped: {skipped}")
                    continue
                if store == "SQLite":
                    db: Union[str, Path] = work_dir / f"kb_{label.replace(' ', '_').replace('=', '')}.sqlite"
                    for path in Path(db).parent.glob(Path(db).name + "*"):
                        path.unlink()
                else:
                    db = new_database()
                server = pg_server if store == "PostgreSQL" else None
                pipeline: Union[Language, str] = str(model) if options.get("engine") == "ray" else nlp
                stats, cpu, server_cpu = timed_build(pipeline, corpus, db, server, batch_size=batch_size, **options)
                assert stats.docs_added == n_docs, stats
                rerun = build_kb(pipeline, [corpus], db, batch_size=batch_size, **options)
                assert rerun.docs_added == 0, rerun
                actors_write = store == "PostgreSQL" and options.get("engine") == "ray"
                # The writers' share of their time: this process's, or (actors writing) the actors'.
                writer_share = (
                    stats.seconds_workers_store / (len(stats.worker_pids) * stats.seconds)
                    if actors_write else stats.seconds_store / stats.seconds
                )
                writer = f"{writer_share:.1%}"
                server_ms = f"{server_cpu / n_docs * 1000:.2f}" if server_cpu is not None else "n/a"
                pids = str(len(stats.worker_pids)) if options.get("engine") == "ray" else "-"
                print(
                    f"{label:<20} {store:<10} {rate(n_docs / stats.seconds):>7} {rate(stats.words / stats.seconds):>8} "
                    f"{cpu / n_docs * 1000:>10.2f} {server_ms:>9} {writer:>7} {pids:>4} {rate(n_docs / rerun.seconds):>12}"
                )
        if overhead_repeats:
            local_overhead(nlp, corpus, texts, batch_size, work_dir, overhead_repeats)
        if ray_loads_docs:
            ray_loads(model, work_dir, ray_loads_docs, ray_loads_actors, batch_size)
    print(
        "\ndocs/s, words/s: documents (tokens) stored / build wall time. CPU ms/doc: CPU milliseconds per document\n"
        "of this process (the driver: reading, skipping, writing, Ray's driver threads), of the n_process children\n"
        "and of the Ray actors (their pipeline, rows and, into PostgreSQL, their writes: BuildStats.seconds_workers_cpu);\n"
        "not Ray's own daemons. PG ms/doc: CPU of the PostgreSQL server's processes per document (n/a: not readable).\n"
        "writer: the driver's time in the store (look-ups of stored documents and batch writes) / wall time; for Ray\n"
        "into PostgreSQL, where every actor writes its own batches, the actors' write time / (actors x wall time).\n"
        "pids: distinct actor processes that processed blocks. rerun: every document skipped (same identity and hash).\n"
        "actors kept busy: write docs/s / one actor's docs/s. On a 2-core machine the writer processes (and the\n"
        "actors) compete with each other and with the PostgreSQL server for the same cores."
    )
    print(f"end: {load_average()}")


if __name__ == "__main__":
    typer.run(main)

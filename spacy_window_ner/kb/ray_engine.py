"""`kb build --engine ray`: the pipeline runs in a pool of Ray Data actors, on one machine or a
cluster. The only module that imports Ray; build.build_kb imports it only for this engine.

The driver (the process that calls build_kb) reads the inputs with today's checks
(inputs.iter_records, malformed lines, build.new_records skipping stored documents) and groups
the documents to process into blocks of `batch_size`, one Ray Data block each, so that every
actor gets work. `Dataset.map_batches` runs `Extractor` on a pool of `workers` actors: each
loads the pipeline ONCE, by its directory or installed package name (a `Language` object is
never shipped through the object store: spaCy #13506), and turns a block into plain rows
(rows.doc_rows).

Who writes depends on the store. SQLite has one writer: the actors return the rows and the
driver writes each block in one transaction, as the local engine does. A store with
`concurrent_writes` (PostgreSQL) is opened by every actor, which writes its own blocks and
returns only the counts. Either way a block is written whole or not at all and a stored
document is skipped by its text hash, so a block that Ray retries (an actor restarted) or a
build rerun after the driver was killed adds nothing twice. An actor whose process dies (killed,
out of memory, its node lost) is restarted by Ray and its block retried, with Ray Data's
default of no limit; an exception in an actor (a pipeline that can't be loaded, a component
that crashes) stops the build with a KBError, and the blocks stored before are kept. A block
whose actor died MAX_BLOCK_ATTEMPTS times (a document that exhausts memory, say) stops the build
too, naming its documents: Ray would retry it forever.

Ray Data needs the list of a run's blocks before it starts, so the driver streams the inputs in
waves of WAVE_BLOCKS blocks: it reads and checks one wave, runs it on a fresh actor pool and
stores its rows, then reads the next. The driver holds one wave, never the whole input.
"""
import itertools
import os
import pickle
import re
import socket
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Tuple, Union

import numpy
import ray
import ray.data

from ..inputs import Record, location
from ..loading import load_pipeline
from .backends import open_store
from .rows import BuildStats, add_counts, doc_rows, write_batch
from .store import KBError, Store

PROBE_SECONDS = 3.0  # a TCP connect to --address must answer within this, or the build stops
REMOTE_ERROR = re.compile(r"[A-Za-z_][\w.]*(Error|Exception)\b[^:]*: ")  # "ValueError: ..." in a traceback
ACTORS_START_SECONDS = 600  # a pool not started by then (a cluster without the CPUs) stops the build
# Blocks per Ray Data run: the driver reads and holds this many at a time (each run starts its
# actors, which load the pipeline: 16,384 documents at --batch-size 64 make that cost small).
WAVE_BLOCKS = 256
MAX_BLOCK_ATTEMPTS = 3  # actor calls that may start one block: more means its documents kill the actor


class Attempts:
    """Counts the actor calls that started each block, for every actor of a build. Ray Data
    restarts a dead actor and retries its block without limit (setting `max_restarts` on
    map_batches is deprecated), so the bound is kept here. One Ray actor (no CPU) per build."""

    def __init__(self) -> None:
        self.counts: Dict[int, int] = {}

    def start(self, index: int) -> int:
        """Count a start of block `index` and return how many there were."""
        self.counts[index] = self.counts.get(index, 0) + 1
        return self.counts[index]


class Extractor:
    """The callable class of `map_batches`: loads the pipeline once per actor and turns each
    block of records into rows, or (with `db`) writes them itself.

    model (str): The pipeline's directory or installed package name.
    max_length (int): The driver's nlp.max_length (longer texts were skipped there).
    attempts (ray.actor.ActorHandle): The build's `Attempts`.
    max_attempts (int): Starts of one block after which it is refused.
    db (Optional[str]): The database, for a store with concurrent writes; None to return the
        rows to the driver.
    """

    def __init__(self, model: str, max_length: int, attempts: Any, max_attempts: int, db: Optional[str] = None) -> None:
        self.nlp = load_pipeline(model)
        self.nlp.max_length = max_length
        self.attempts = attempts
        self.max_attempts = max_attempts
        self.store: Optional[Store] = open_store(db) if db is not None else None

    def __call__(self, batch: Dict[str, numpy.ndarray]) -> Dict[str, Any]:
        """Process blocks: each is a pickled list of records.

        batch (Dict[str, numpy.ndarray]): "index": the blocks' numbers, "block": the pickled blocks.
        RETURNS (Dict[str, Any]): Per block: "index", "result" (the pickled [(Record, DocRows)], or the
            pickled WriteCounts where this actor wrote them), "words", "capped" (documents whose
            relation candidates a cap cut), "pid", "cpu" (seconds),
            "store" (seconds writing, where this actor wrote).
        """
        results, words, capped, cpu, store_seconds = [], [], [], [], []
        for index, block in zip(batch["index"], batch["block"]):
            start = time.process_time()
            records: List[Record] = pickle.loads(block)
            if ray.get(self.attempts.start.remote(int(index))) > self.max_attempts:
                # Returned, not raised: the driver stops the build with this message as it is.
                first, last = records[0], records[-1]
                refusal = KBError(
                    f"The actors that ran the documents {location(first.source, first.line)} to "
                    f"{location(last.source, last.line)} died {self.max_attempts} times (out of memory?). "
                    "Remove or shorten the document that kills them (--max-length bounds the text) and "
                    "rerun the same command: every batch written before is kept."
                )
                results.append(pickle.dumps(refusal))
                words.append(0)
                capped.append(0)
                cpu.append(time.process_time() - start)
                store_seconds.append(0.0)
                continue
            docs = self.nlp.pipe(((r.text, r) for r in records), as_tuples=True, batch_size=len(records))
            rows = [(record, doc_rows(doc)) for doc, record in docs]
            words.append(sum(row["n_tokens"] for _, row in rows))
            capped.append(sum(row["dropped_candidates"] > 0 for _, row in rows))
            write_start = time.perf_counter()
            result = self.store.write_batch(rows) if self.store is not None else rows
            store_seconds.append(time.perf_counter() - write_start if self.store is not None else 0.0)
            results.append(pickle.dumps(result))
            cpu.append(time.process_time() - start)
        pids = [os.getpid()] * len(results)
        return {
            "index": batch["index"], "result": results, "words": words, "capped": capped, "pid": pids, "cpu": cpu,
            "store": store_seconds,
        }


def build_on_ray(
    model: str,
    records: Iterable[Record],
    store: Store,
    db: Union[str, Path],
    stats: BuildStats,
    *,
    batch_size: int,
    max_length: int,
    address: Optional[str],
    workers: Optional[int],
    progress: Optional[Callable[[int, int], None]],
) -> None:
    """Process the records on a pool of Ray actors and store their rows (see the module's
    docstring). Starts a local Ray cluster when none is running and `address` is None, and
    shuts down what it started.

    model (str): The pipeline's directory or installed package name, on every node.
    records (Iterable[Record]): The documents to process (stored ones already skipped).
    store (Store): The open store.
    db (Union[str, Path]): The database, opened again by each actor of a concurrent store.
    stats (BuildStats): Counts what was stored, the words, and the actors' pids and CPU time.
    batch_size (int): Documents per block (one actor call, one transaction).
    max_length (int): The pipeline's max_length for the build.
    address (Optional[str]): The cluster for ray.init, or None.
    workers (Optional[int]): Actors; None for one per CPU of the cluster.
    progress (Optional[Callable[[int, int], None]]): Called after each stored block with the
        bytes of input consumed so far and the documents stored so far.
    """
    check_address(address)
    waves = _waves(records, batch_size)
    first = next(waves, None)
    if first is None:  # nothing new: no cluster needed
        return
    started = not ray.is_initialized()
    if started:
        ray.init(address=address, include_dashboard=False, configure_logging=False)
    try:
        cpus = int(ray.cluster_resources().get("CPU", 0))
        if workers is None:
            workers = max(cpus, 1)
        if workers > cpus:
            raise KBError(f"--workers {workers} is more than the {cpus} CPUs of the Ray cluster; give --workers {cpus} or fewer.")
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False  # the command line draws its own
        # Start the whole pool before the first block is handed out: else the first actor up takes
        # every block while the others still load the pipeline.
        context.wait_for_min_actors_s = ACTORS_START_SECONDS
        concurrent = getattr(store, "concurrent_writes", False)
        constructor = {
            "model": model, "max_length": max_length, "attempts": ray.remote(num_cpus=0)(Attempts).remote(),
            "max_attempts": MAX_BLOCK_ATTEMPTS, "db": str(db) if concurrent else None,
        }
        pids = set()
        offset = 0
        for wave in itertools.chain([first], waves):
            dataset = ray.data.from_items(
                [{"index": index, "block": pickle.dumps(block)} for index, block in wave], override_num_blocks=len(wave)
            ).map_batches(
                Extractor,
                batch_size=1,
                # One actor per block at most: an actor without a block would only load the pipeline.
                compute=ray.data.ActorPoolStrategy(size=min(workers, len(wave))),
                num_cpus=1,
                fn_constructor_kwargs=constructor,
            )
            ends = {index: block[-1].offset for index, block in wave}  # input bytes read once a block was
            del wave
            for row in _rows(dataset):
                result = pickle.loads(row["result"])
                if isinstance(result, KBError):
                    raise result
                if concurrent:
                    add_counts(stats, result)
                else:
                    write_batch(store, result, stats)
                stats.words += int(row["words"])
                stats.docs_capped += int(row["capped"])
                stats.seconds_workers_cpu += float(row["cpu"])
                stats.seconds_workers_store += float(row["store"])
                pids.add(int(row["pid"]))
                if progress is not None:
                    offset = max(offset, ends[int(row["index"])])
                    progress(offset, stats.docs_added)
        stats.worker_pids = sorted(pids)
    finally:
        if started:
            ray.shutdown()


def _waves(records: Iterable[Record], batch_size: int) -> Iterator[List[Tuple[int, List[Record]]]]:
    """The records in blocks of batch_size, numbered across the build, WAVE_BLOCKS blocks at a
    time: the driver holds one wave, not the whole input."""
    records = iter(records)
    blocks = iter(lambda: list(itertools.islice(records, batch_size)), [])
    numbered = enumerate(blocks)
    while True:
        wave = list(itertools.islice(numbered, WAVE_BLOCKS))
        if not wave:
            return
        yield wave


def _rows(dataset: Any) -> Iterator[Dict[str, Any]]:
    """The rows of a dataset as its actors finish them; an actor's error is a KBError."""
    results = iter(dataset.iter_rows())
    while True:
        try:
            row = next(results)
        except StopIteration:
            return
        except ray.exceptions.RayError as err:
            raise KBError(
                f"A Ray actor failed ({_root_cause(err)}). Every batch written "
                "before is kept; fix the cause and rerun the same command to resume."
            ) from err
        yield row


def check_address(address: Optional[str]) -> None:
    """Fail quickly, with a KBError, if `address` names a host and port that don't answer a TCP
    connect (ray.init would wait for them).

    address (Optional[str]): None, "auto", "HOST:PORT" or "ray://HOST:PORT".
    """
    if address is None or address == "auto":
        return
    host, _, port = address.split("://", 1)[-1].rpartition(":")
    if not host or not port.isdigit():
        raise KBError(f"--address {address!r} is not auto, HOST:PORT or ray://HOST:PORT.")
    try:
        socket.create_connection((host, int(port)), timeout=PROBE_SECONDS).close()
    except OSError as err:
        raise KBError(
            f"Can't reach the Ray cluster at {address} ({err.strerror or err}). Check the host and "
            "port (`ray start --head` prints them), or leave --address out to start a local cluster."
        ) from None


def _root_cause(err: BaseException) -> str:
    """What failed in an actor, in one line: the last line of the remote traceback that names
    an exception not Ray's own (Ray's error carries the traceback as text, with its advice after)."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    raised = [line for line in lines if REMOTE_ERROR.match(line) and not line.startswith("ray.")]
    return (raised or lines or [type(err).__name__])[-1]

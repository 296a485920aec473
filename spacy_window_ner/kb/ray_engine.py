"""`kb build --engine ray`: the pipeline runs in a pool of Ray actors, on one machine or a
cluster. The only module that imports Ray; build.build_kb imports it only for this engine.

The driver (the process that calls build_kb) reads the inputs with today's checks
(inputs.iter_records, malformed lines, build.new_records skipping stored documents) and groups
the documents to process into blocks of `batch_size`. It starts one pool of `workers`
`Extractor` actors for the whole build (fewer when the input has fewer blocks: an actor without
a block would only load the pipeline): each loads the pipeline ONCE, by its directory or
installed package name (a `Language` object is never shipped through the object store: spaCy
#13506), and turns each block it is sent into plain rows (rows.doc_rows). The driver streams
the blocks to the actors, BLOCKS_PER_ACTOR ahead of each actor's results (one running, the next
waiting, so an actor never waits for the driver), and reads the next block of input only when
a result has come back: it holds at most workers x BLOCKS_PER_ACTOR blocks, never the whole
input, however long the build. The actors' pipeline loads are counted (BuildStats.pipeline_loads).

Who writes depends on the store. SQLite has one writer: the actors return the rows and the
driver writes each block in one transaction, as the local engine does. A store with
`concurrent_writes` (PostgreSQL) is opened by every actor, which writes its own blocks and
returns only the counts. Either way a block is written whole or not at all and a stored
document is skipped by its text hash, so a block that Ray retries (an actor restarted) or a
build rerun after the driver was killed adds nothing twice. An actor whose process dies (killed,
out of memory, its node lost) is restarted by Ray (loading the pipeline again) and its blocks
retried, without limit; an exception in an actor (a pipeline that can't be loaded, a component
that crashes) stops the build with a KBError, and the blocks stored before are kept. A block
whose actor died MAX_BLOCK_ATTEMPTS times (a document that exhausts memory, say) stops the build
too, naming its documents: Ray would retry it forever. An input that fails while being read
(a file that went away) stops the reading; the blocks already sent are stored, then its error
is raised.
"""
import itertools
import os
import re
import socket
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Tuple, Union

import ray

from ..inputs import Record, location
from ..loading import load_pipeline
from .backends import open_store
from .rows import BuildStats, add_counts, doc_rows, write_batch
from .store import KBError, Store

PROBE_SECONDS = 3.0  # a TCP connect to --address must answer within this, or the build stops
REMOTE_ERROR = re.compile(r"[A-Za-z_][\w.]*(Error|Exception)\b[^:]*: ")  # "ValueError: ..." in a traceback
ACTORS_START_SECONDS = 600  # a pool not started by then (a cluster without the CPUs) stops the build
# Blocks sent to each actor ahead of its results: one it runs and one waiting. The driver holds
# at most workers x this many blocks (records, and their rows once returned).
BLOCKS_PER_ACTOR = 2
MAX_BLOCK_ATTEMPTS = 3  # actor calls that may start one block: more means its documents kill the actor


class Tally:
    """The build's counts that outlive an actor: the calls that started each block, and the
    pipeline loads. Ray restarts a dead actor and retries its blocks without limit, so the bound
    on a block's attempts is kept here. One Ray actor (no CPU) per build."""

    def __init__(self) -> None:
        self.counts: Dict[int, int] = {}
        self.loads = 0

    def start(self, index: int) -> int:
        """Count a start of block `index` and return how many there were."""
        self.counts[index] = self.counts.get(index, 0) + 1
        return self.counts[index]

    def loaded(self) -> None:
        """Count a load of the pipeline (an actor started, or restarted)."""
        self.loads += 1

    def pipeline_loads(self) -> int:
        """RETURNS (int): The pipeline loads counted so far."""
        return self.loads


class Extractor:
    """One actor of the pool: loads the pipeline once and turns each block of records it is
    sent into rows, or (with `db`) writes them itself.

    model (str): The pipeline's directory or installed package name.
    max_length (int): The driver's nlp.max_length (longer texts were skipped there).
    tally (str): The name of the build's `Tally` actor. A name, not its handle: Ray keeps the
        arguments of an actor it may restart, and one that holds a handle in the object store,
        which it warns about on every start.
    max_attempts (int): Starts of one block after which it is refused.
    db (Optional[str]): The database, for a store with concurrent writes; None to return the
        rows to the driver.
    """

    def __init__(self, model: str, max_length: int, tally: str, max_attempts: int, db: Optional[str] = None) -> None:
        self.nlp = load_pipeline(model)
        self.nlp.max_length = max_length
        self.tally: Any = ray.get_actor(tally)
        ray.get(self.tally.loaded.remote())
        self.max_attempts: int = max_attempts
        self.store: Optional[Store] = open_store(db) if db is not None else None

    def ready(self) -> int:
        """RETURNS (int): The actor's process id, once it has loaded the pipeline."""
        return os.getpid()

    def process(self, index: int, records: List[Record]) -> Dict[str, Any]:
        """Process one block.

        index (int): The block's number in the build.
        records (List[Record]): Its documents.
        RETURNS (Dict[str, Any]): "result" (the [(Record, DocRows)], the WriteCounts where this
            actor wrote them, or the KBError that refuses a block whose actors died too often),
            "words", "capped" (documents whose relation candidates a cap cut), "pid",
            "cpu" (seconds), "store" (seconds writing, where this actor wrote).
        """
        start = time.process_time()
        if ray.get(self.tally.start.remote(index)) > self.max_attempts:
            # Returned, not raised: the driver stops the build with this message as it is.
            first, last = records[0], records[-1]
            refusal = KBError(
                f"The actors that ran the documents {location(first.source, first.line)} to "
                f"{location(last.source, last.line)} died {self.max_attempts} times (out of memory?). "
                "Remove or shorten the document that kills them (--max-length bounds the text) and "
                "rerun the same command: every batch written before is kept."
            )
            return {"result": refusal, "words": 0, "capped": 0, "pid": os.getpid(), "cpu": time.process_time() - start, "store": 0.0}
        docs = self.nlp.pipe(((r.text, r) for r in records), as_tuples=True, batch_size=len(records))
        rows = [(record, doc_rows(doc, record.text)) for doc, record in docs]
        write_start = time.perf_counter()
        result = self.store.write_batch(rows) if self.store is not None else rows
        return {
            "result": result, "words": sum(row["n_tokens"] for _, row in rows),
            "capped": sum(row["dropped_candidates"] > 0 for _, row in rows), "pid": os.getpid(),
            "cpu": time.process_time() - start,
            "store": time.perf_counter() - write_start if self.store is not None else 0.0,
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
    stats (BuildStats): Counts what was stored, the words, the actors' pids, CPU time and
        pipeline loads.
    batch_size (int): Documents per block (one actor call, one transaction).
    max_length (int): The pipeline's max_length for the build.
    address (Optional[str]): The cluster for ray.init, or None.
    workers (Optional[int]): Actors; None for one per CPU of the cluster.
    progress (Optional[Callable[[int, int], None]]): Called after each stored block with the
        bytes of input consumed so far and the documents stored so far.
    """
    check_address(address)
    records = iter(records)
    blocks = enumerate(iter(lambda: list(itertools.islice(records, batch_size)), []))
    first = next(blocks, None)
    if first is None:  # nothing new: no cluster needed
        return
    started = not ray.is_initialized()
    if started:
        ray.init(address=address, include_dashboard=False, configure_logging=False)
    tally: Any = None
    pool: List[Any] = []
    try:
        cpus = int(ray.cluster_resources().get("CPU", 0))
        if workers is None:
            workers = max(cpus, 1)
        if workers > cpus:
            raise KBError(f"--workers {workers} is more than the {cpus} CPUs of the Ray cluster; give --workers {cpus} or fewer.")
        concurrent = getattr(store, "concurrent_writes", False)
        tally_name = f"spacy-window-ner-tally-{uuid.uuid4().hex}"
        tally = ray.remote(num_cpus=0)(Tally).options(name=tally_name).remote()
        # One actor per block at most: an actor without a block would only load the pipeline.
        head = [first, *itertools.islice(blocks, workers - 1)]
        actor = ray.remote(Extractor).options(num_cpus=1, max_restarts=-1, max_task_retries=-1)
        constructor = {
            "model": model, "max_length": max_length, "tally": tally_name, "max_attempts": MAX_BLOCK_ATTEMPTS,
            "db": str(db) if concurrent else None,
        }
        pool = [actor.remote(**constructor) for _ in head]
        _wait_for_pool(pool)
        pids = set()
        offset = 0
        for row, end in _stream(pool, itertools.chain(head, blocks)):
            result = row["result"]
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
                offset = max(offset, end)
                progress(offset, stats.docs_added)
        stats.worker_pids = sorted(pids)
        stats.pipeline_loads = _get(tally.pipeline_loads.remote())
    finally:
        for handle in [*pool, *([tally] if tally is not None else [])]:  # on a cluster this build did not start too
            ray.kill(handle)
        if started:
            ray.shutdown()


def _wait_for_pool(pool: List[Any]) -> None:
    """Wait until every actor of the pool has loaded the pipeline (an actor that can't is a
    KBError), for at most ACTORS_START_SECONDS."""
    ready, waiting = ray.wait([actor.ready.remote() for actor in pool], num_returns=len(pool), timeout=ACTORS_START_SECONDS)
    for ref in ready:
        _get(ref)
    if waiting:
        raise KBError(
            f"Only {len(ready)} of {len(pool)} Ray actors started within {ACTORS_START_SECONDS} s: the cluster "
            "has no free CPU for the others (other jobs?). Give fewer --workers, or free the cluster's CPUs, and rerun."
        )


def _stream(pool: List[Any], blocks: Iterator[Tuple[int, List[Record]]]) -> Iterator[Tuple[Dict[str, Any], int]]:
    """Send the blocks to the actors, BLOCKS_PER_ACTOR ahead of each one's results, to the one
    with the fewest waiting; yield each result as it comes back, with the input offset read once
    its block was. An input that fails while being read stops the reading: the results of the
    blocks already sent are yielded, then its error is raised."""
    sent: Dict[Any, Tuple[int, int]] = {}  # a result's ObjectRef -> (its actor, the block's end offset)
    waiting = [0] * len(pool)  # blocks sent to each actor and not yet returned
    failure: Optional[BaseException] = None
    while True:
        while failure is None and len(sent) < len(pool) * BLOCKS_PER_ACTOR:
            try:
                item = next(blocks, None)
            except Exception as err:  # raised once the results of the blocks sent are stored
                failure = err
                break
            if item is None:
                break
            index, block = item
            actor = waiting.index(min(waiting))
            sent[pool[actor].process.remote(index, block)] = (actor, block[-1].offset)
            waiting[actor] += 1
        if not sent:
            break
        (ref,), _ = ray.wait(list(sent), num_returns=1)
        actor, end = sent.pop(ref)
        waiting[actor] -= 1
        yield _get(ref), end
    if failure is not None:
        raise failure


def _get(ref: Any) -> Any:
    """ray.get, with an actor's error as a KBError."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayError as err:
        raise KBError(
            f"A Ray actor failed ({_root_cause(err)}). Every batch written "
            "before is kept; fix the cause and rerun the same command to resume."
        ) from err


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

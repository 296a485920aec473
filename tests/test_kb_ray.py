"""`kb build --engine ray`: a local Ray cluster (the module-scoped `ray_cluster` fixture) runs
the pipeline in actors; the knowledge base must equal the local engine's, survive a killed
driver, and refuse what the engine can't use."""
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Dict, Iterator, List

import pytest
from typer.testing import CliRunner

from spacy_window_ner import kb
from spacy_window_ner.cli import app

from .util import WINDOW_NER_DATA as TRAIN_DATA, kb_counts as counts, kb_snapshot as snapshot, make_kb_nlp as make_nlp
from .util import pg_rows

N_DOCS = 200
BATCH = 16  # 13 blocks of 200 documents: work for both actors
# nlp.pipe pads a batch to its longest doc, so a confidence depends (by ~4e-4 here) on the
# other docs of its batch: Ray's blocks and a resumed build's batches are not the local
# engine's. The entities and every other value must be equal.
CONFIDENCE_TOLERANCE = 1e-3
KILLED_AFTER = 2  # blocks stored before the driver kills itself
# Run in another process: a Ray build into DB that SIGKILLs its own process (the driver) once
# KILLED_AFTER blocks are stored.
KILLED_DRIVER = """
import os, signal, sys
from spacy_window_ner import kb

model, source, db, address, batch_size, killed_after = sys.argv[1:]
stored = []

def progress(offset, docs):
    stored.append(docs)
    if len(stored) >= int(killed_after):
        os.kill(os.getpid(), signal.SIGKILL)

kb.build_kb(model, [source], db, batch_size=int(batch_size), engine="ray", address=address, workers=2, progress=progress)
"""


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    """N_DOCS JSONL documents of 1 to 4 sentences of util.WINDOW_NER_DATA (distinct lengths,
    so that batch padding differs)."""
    sentences = [text for text, _ in TRAIN_DATA]
    path = tmp_path / "sample.jsonl"
    with path.open("w", encoding="utf8") as file_:
        for i in range(N_DOCS):
            text = f"Report {i}. " + " ".join(sentences[(i + j) % len(sentences)] for j in range(i % 4 + 1))
            file_.write(json.dumps({"id": f"doc{i}", "text": text}) + "\n")
    return path


def assert_same_kb(db: Path, expected: Path) -> None:
    """The two knowledge bases hold the same rows, with confidences within CONFIDENCE_TOLERANCE."""
    assert_same_rows(snapshot(db), snapshot(expected))


def assert_same_rows(got: Dict[str, list], want: Dict[str, list]) -> None:
    """Two snapshots (util.kb_snapshot_rows) hold the same rows, with confidences within
    CONFIDENCE_TOLERANCE."""
    assert got["documents"] == want["documents"]
    assert got["entities"] == want["entities"]
    for table, column in (("mentions", 6), ("relations", 4)):
        assert len(got[table]) == len(want[table])
        for row, other in zip(got[table], want[table]):
            assert row[:column] + row[column + 1 :] == other[:column] + other[column + 1 :]
            assert row[column] == pytest.approx(other[column], abs=CONFIDENCE_TOLERANCE)


def test_kb_ray_same_rows_as_local_on_two_actors(ray_cluster, window_ner_path, sample, tmp_path):
    local, ray_db = tmp_path / "local.sqlite", tmp_path / "ray.sqlite"
    kb.build_kb(str(window_ner_path), [sample], local, lines=True)
    stats = kb.build_kb(str(window_ner_path), [sample], ray_db, batch_size=BATCH, engine="ray", workers=2)
    assert stats.docs_added == N_DOCS and counts(ray_db)["mentions"] > N_DOCS
    assert_same_kb(ray_db, local)
    # Two actors ran blocks, in processes of their own, each loading the pipeline once.
    assert len(stats.worker_pids) == 2 and os.getpid() not in stats.worker_pids
    assert stats.pipeline_loads == 2
    assert stats.seconds_workers_cpu > 0


@pytest.mark.slow
def test_kb_ray_driver_killed_then_rerun(ray_cluster, window_ner_path, sample, tmp_path):
    db, clean = tmp_path / "kb.sqlite", tmp_path / "clean.sqlite"
    script = [sys.executable, "-c", KILLED_DRIVER, str(window_ner_path), str(sample), str(db), ray_cluster, str(BATCH), str(KILLED_AFTER)]
    result = subprocess.run(script, capture_output=True, text=True)
    assert result.returncode == -9, result.stderr[-2000:]
    # The driver wrote whole blocks until it died (it may have written one more before the signal).
    assert counts(db)["documents"] in (KILLED_AFTER * BATCH, (KILLED_AFTER + 1) * BATCH)
    resumed = kb.build_kb(str(window_ner_path), [sample], db, batch_size=BATCH, engine="ray", workers=2)
    assert resumed.docs_existing + resumed.docs_added == N_DOCS and resumed.docs_existing >= KILLED_AFTER * BATCH
    kb.build_kb(str(window_ner_path), [sample], clean, batch_size=BATCH, engine="ray", workers=2)
    assert_same_kb(db, clean)
    before = snapshot(db)
    again = kb.build_kb(str(window_ner_path), [sample], db, batch_size=BATCH, engine="ray", workers=2)
    assert (again.docs_added, again.docs_existing) == (0, N_DOCS)
    assert again.worker_pids == [] and again.pipeline_loads == 0  # nothing to process: no actor started
    assert snapshot(db) == before


def test_kb_ray_refuses_language_object(corpus, tmp_path):
    db = tmp_path / "kb.sqlite"
    with pytest.raises(kb.KBError, match="13506"):
        kb.build_kb(make_nlp(), corpus, db, lines=True, engine="ray")
    assert not db.exists()


def test_kb_ray_refuses_options_of_the_other_engine(ruler_path, corpus, tmp_path):
    with pytest.raises(kb.KBError, match="--engine ray"):
        kb.build_kb(str(ruler_path), corpus, tmp_path / "kb.sqlite", workers=2)
    with pytest.raises(kb.KBError, match="--workers"):
        kb.build_kb(str(ruler_path), corpus, tmp_path / "kb.sqlite", engine="ray", n_process=2)
    with pytest.raises(kb.KBError, match="Unknown engine"):
        kb.build_kb(str(ruler_path), corpus, tmp_path / "kb.sqlite", engine="spark")


def unused_port() -> int:
    """A localhost port that nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_kb_ray_unreachable_address_refused(ray_module, ruler_path, corpus, tmp_path):
    """An address where no Ray cluster listens is refused with a clear error (Ray installed:
    the error comes from connecting)."""
    address = f"127.0.0.1:{unused_port()}"
    db = tmp_path / "kb.sqlite"
    with pytest.raises(kb.KBError, match="Can't reach the Ray cluster"):
        kb.build_kb(str(ruler_path), corpus, db, lines=True, engine="ray", address=f"ray://{address}")
    assert not db.exists()
    result = CliRunner().invoke(app, ["kb", "build", str(ruler_path), *map(str, corpus), "--db", str(db), "--lines", "--engine", "ray", "--address", address])
    assert result.exit_code == 1 and f"Can't reach the Ray cluster at {address}" in result.output
    result = CliRunner().invoke(app, ["kb", "build", str(ruler_path), *map(str, corpus), "--db", str(db), "--engine", "ray", "--address", "nowhere"])
    assert result.exit_code == 1 and "is not auto, HOST:PORT or ray://HOST:PORT" in result.output


def test_kb_ray_input_disappears(ray_cluster, window_ner_path, sample, tmp_path):
    db = tmp_path / "kb.sqlite"
    kb.build_kb(str(window_ner_path), [sample], db, engine="local", batch_size=BATCH)
    stored = snapshot(db)
    more = tmp_path / "more.txt"
    more.write_text("Mary lives in Paris.\nAcme hired John Smith.\n", encoding="utf8")

    def inputs() -> Iterator[Path]:
        """The inputs as the build reads them: the second file is deleted once the first is read."""
        yield sample
        text = more.read_text(encoding="utf8")
        more.unlink()
        yields.append(text)
        yield more

    yields: List[str] = []
    with pytest.raises(FileNotFoundError, match="more.txt"):
        kb.build_kb(str(window_ner_path), inputs(), db, lines=True, batch_size=BATCH, engine="ray", workers=2)
    assert snapshot(db) == stored  # nothing lost, nothing half-written
    more.write_text(yields[0], encoding="utf8")
    args = ["kb", "build", str(window_ner_path), str(sample), str(more), "--db", str(db), "--lines", "--engine", "ray", "--workers", "2", "--batch-size", str(BATCH)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    # The rerun resumes; its one block needs one actor.
    assert "added 2 " in result.output and f"skipped {N_DOCS} already stored" in result.output
    assert "on 1 Ray actor (" in result.output and "CPU s, 1 pipeline load)" in result.output


def test_kb_ray_input_fails_midway_blocks_sent_are_stored(ray_cluster, window_ner_path, sample, tmp_path, monkeypatch):
    """An input that fails while the driver reads it (here the second file, deleted once the first
    is read) stops the reading; the blocks already sent to the actors (the first 12 of 16
    documents; the 13th would hold the first file's last 8 and the second file's lines) are
    stored before the error is raised, and a rerun adds the rest."""
    monkeypatch.setattr(kb.build, "KNOWN_CHUNK", BATCH)  # the look-ups of stored documents read ahead no further
    db = tmp_path / "kb.sqlite"
    more = tmp_path / "more.txt"
    more.write_text("Mary lives in Paris.\nAcme hired John Smith.\n", encoding="utf8")

    def inputs() -> Iterator[Path]:
        yield sample
        more.unlink()
        yield more

    with pytest.raises(FileNotFoundError, match="more.txt"):
        kb.build_kb(str(window_ner_path), inputs(), db, lines=True, batch_size=BATCH, engine="ray", workers=2)
    assert counts(db)["documents"] == (N_DOCS // BATCH) * BATCH
    resumed = kb.build_kb(str(window_ner_path), [sample], db, lines=True, batch_size=BATCH, engine="ray", workers=2)
    assert (resumed.docs_existing, resumed.docs_added) == ((N_DOCS // BATCH) * BATCH, N_DOCS % BATCH)


def test_kb_ray_actor_failure_is_a_clear_error(ray_cluster, ruler_path, sample, tmp_path):
    """The actors can't load ruler_path's pipeline (its test component, util.py's, is registered
    only in this process): a KBError that says what to do, and no database left behind."""
    db = tmp_path / "kb.sqlite"
    with pytest.raises(kb.KBError, match="A Ray actor failed.*test_kb_relations.*rerun the same command"):
        kb.build_kb(str(ruler_path), [sample], db, batch_size=BATCH, engine="ray", workers=1)
    assert not db.exists()


def actor_pids() -> List[int]:
    """The process ids of the Ray actors of the class Extractor that descend from this process
    (the cluster the tests started), not another one's on the same machine (from /proc)."""
    pids = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if cmdline.read_bytes().startswith(b"ray::Extractor") and os.getpid() in ancestors(int(cmdline.parent.name)):
                pids.append(int(cmdline.parent.name))
        except OSError:  # a process that ended meanwhile
            continue
    return pids


def ancestors(pid: int) -> List[int]:
    """The process ids above `pid`, its parent first (from /proc/PID/stat)."""
    found = []
    while pid > 1:
        # The parent is the 2nd field after the command name, which is in parentheses.
        pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        found.append(pid)
    return found


def test_kb_ray_actor_killed_block_retried(ray_cluster, window_ner_path, sample, tmp_path):
    """An actor process killed mid-build is restarted by Ray (loading the pipeline again) and
    its blocks retried: the build completes with the same rows as a clean one, nothing twice."""
    db, clean = tmp_path / "kb.sqlite", tmp_path / "clean.sqlite"
    killed: List[int] = []

    def kill_an_actor(offset: int, docs: int) -> None:
        if not killed:
            pids = actor_pids()
            assert pids, "no actor process found"
            os.kill(pids[0], signal.SIGKILL)
            killed.append(pids[0])

    stats = kb.build_kb(str(window_ner_path), [sample], db, batch_size=BATCH, engine="ray", workers=2, progress=kill_an_actor)
    assert killed and stats.docs_added == N_DOCS and stats.pipeline_loads == 3
    kb.build_kb(str(window_ner_path), [sample], clean, batch_size=BATCH, engine="local")
    assert_same_kb(db, clean)


def test_kb_ray_postgres_actors_write_their_own_batches(ray_cluster, window_ner_path, sample, tmp_path, postgres_url):
    """Into PostgreSQL every actor writes its own blocks: the same rows as the local engine's
    SQLite build, each count exact, and a rerun adds nothing."""
    local = tmp_path / "local.sqlite"
    kb.build_kb(str(window_ner_path), [sample], local, lines=True)
    stats = kb.build_kb(str(window_ner_path), [sample], postgres_url, batch_size=BATCH, engine="ray", workers=2)
    assert stats.docs_added == N_DOCS and len(stats.worker_pids) == 2
    rows = pg_rows(postgres_url)
    assert rows.pop("wrong_counts") == 0
    table_counts = rows.pop("counts")
    assert table_counts["documents"] == N_DOCS
    # The driver resolved every mention the actors wrote, once they were done.
    assert stats.resolution is not None and stats.resolution.mentions == table_counts["mentions"]
    assert kb.pending(postgres_url) == (0, 0) and table_counts["entities"] > 0
    assert_same_rows(rows, snapshot(local))
    again = kb.build_kb(str(window_ner_path), [sample], postgres_url, batch_size=BATCH, engine="ray", workers=2)
    assert (again.docs_added, again.docs_existing) == (0, N_DOCS)


# Run in another process: a Ray build (one actor) of the inputs into the database, joining the
# cluster at the address; prints the documents it added.
RAY_BUILD = """
import sys
from spacy_window_ner import kb

model, db, address, *sources = sys.argv[1:]
stats = kb.build_kb(model, sources, db, batch_size=8, engine="ray", address=address, workers=1)
print(stats.docs_added)
"""


@pytest.mark.slow
def test_kb_ray_postgres_concurrent_builds(ray_cluster, window_ner_path, sample, tmp_path, postgres_url):
    """Two Ray builds (one actor each, joining the same cluster) and a local build run at once
    into one PostgreSQL database, over overlapping inputs: every document is stored exactly once
    and the rows equal one build of all the inputs into SQLite."""
    texts = sample.read_text(encoding="utf8").splitlines()
    halves = [tmp_path / "first.jsonl", tmp_path / "second.jsonl", tmp_path / "middle.jsonl"]
    halves[0].write_text("\n".join(texts[:120]) + "\n", encoding="utf8")
    halves[1].write_text("\n".join(reversed(texts[80:])) + "\n", encoding="utf8")
    halves[2].write_text("\n".join(texts[60:140]) + "\n", encoding="utf8")
    builds = [
        subprocess.Popen(
            [sys.executable, "-c", RAY_BUILD, str(window_ner_path), postgres_url, ray_cluster, str(source)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for source in halves[:2]
    ]
    local = kb.build_kb(str(window_ner_path), [halves[2]], postgres_url, batch_size=8)
    added = [local.docs_added]
    for build in builds:
        out, err = build.communicate(timeout=300)
        assert build.returncode == 0, err[-2000:]
        added.append(int(out.split()[-1]))
    rows = pg_rows(postgres_url)
    assert sum(added) == rows.pop("counts")["documents"] == N_DOCS  # each document stored exactly once
    assert rows.pop("wrong_counts") == 0
    alone = tmp_path / "alone.sqlite"
    kb.build_kb(str(window_ner_path), [sample], alone)
    want = snapshot(alone)
    # A document is known by its JSONL id: its source and line are those of the build that stored it.
    for snap in (rows, want):
        snap["documents"] = sorted(document[2:] for document in snap["documents"])
    assert_same_rows(rows, want)


def test_kb_ray_block_that_kills_its_actors_refused(ray_cluster, window_ner_path, sample, tmp_path, monkeypatch):
    """Ray retries a block whose actor died without limit; the build counts the starts of each
    block and stops once one passes MAX_BLOCK_ATTEMPTS (here 0: the first start), naming its
    documents, with nothing stored twice."""
    from spacy_window_ner.kb import ray_engine

    monkeypatch.setattr(ray_engine, "MAX_BLOCK_ATTEMPTS", 0)
    db = tmp_path / "kb.sqlite"
    with pytest.raises(kb.KBError, match=r"documents .*sample.jsonl:\d+ to .*sample.jsonl:\d+ died 0 times.*--max-length"):
        kb.build_kb(str(window_ner_path), [sample], db, batch_size=BATCH, engine="ray", workers=1)
    assert not db.exists()


def test_kb_ray_streams_the_inputs_to_one_pool(ray_cluster, window_ner_path, sample, tmp_path, monkeypatch):
    """One pool of actors runs the whole build, each loading the pipeline once however many
    blocks it gets (13 here), and the driver reads the input only as far as the blocks it may
    have sent (BLOCKS_PER_ACTOR per actor ahead of the results): the result equals the local
    engine's."""
    from spacy_window_ner.kb import ray_engine

    monkeypatch.setattr(kb.build, "KNOWN_CHUNK", BATCH)  # the look-ups of stored documents read ahead no further
    local, ray_db = tmp_path / "local.sqlite", tmp_path / "ray.sqlite"
    kb.build_kb(str(window_ner_path), [sample], local, lines=True)
    read: List[int] = []  # records read by the driver when each block was stored
    stored: List[int] = []

    def progress(offset: int, docs: int) -> None:
        stored.append(docs)
        read.append(len(records_read))

    records_read: List[object] = []
    iter_records = kb.build.iter_records

    def counting(*args, **kwargs):
        for record in iter_records(*args, **kwargs):
            records_read.append(record)
            yield record

    monkeypatch.setattr(kb.build, "iter_records", counting)
    stats = kb.build_kb(str(window_ner_path), [sample], ray_db, batch_size=BATCH, engine="ray", workers=2, progress=progress)
    assert stats.docs_added == N_DOCS and stored[-1] == N_DOCS and len(stored) == 13
    assert len(stats.worker_pids) == 2 and stats.pipeline_loads == 2
    # When the n-th block was stored, the driver had sent at most n - 1 + 2 x BLOCKS_PER_ACTOR
    # blocks, and read no further.
    ahead = 2 * ray_engine.BLOCKS_PER_ACTOR
    assert all(count <= (n + ahead) * BATCH for n, count in enumerate(read))
    assert read[0] < N_DOCS and read[-1] == N_DOCS
    assert_same_kb(ray_db, local)

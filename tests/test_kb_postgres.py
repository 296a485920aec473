"""The PostgreSQL knowledge base (issue 13), on a real server (conftest.postgres_server): the
same rows, query and export output as SQLite, idempotent batches, concurrent writer processes,
bad URLs and logins, another schema version, and a connection lost mid-build."""
import multiprocessing
import sys
from pathlib import Path
from typing import List

import pytest
from spacy.language import Language
from spacy.tokens import Doc

from spacy_window_ner import inputs, kb

from .postgres_server import free_port
from .util import EXPECTED_COUNTS, failed, invoke, pg_rows, unavailable
from .util import build_from_corpus as build, kb_snapshot as snapshot, make_kb_nlp as make_nlp

CUT = "CUT"  # the test component cuts the build's connections on a doc with this text while
DISCONNECT = {"url": ""}  # the url is set


@Language.factory("test_kb_pg_disconnect")
def make_disconnect(nlp: Language, name: str):
    def disconnect(doc: Doc) -> Doc:
        if DISCONNECT["url"] and CUT in doc.text:
            import psycopg

            with psycopg.connect(DISCONNECT["url"], autocommit=True) as conn:
                conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
        return doc

    return disconnect


def with_password(url: str, password: str) -> str:
    user, _, host = url.rpartition("@")
    return f"{user.rpartition(':')[0]}:{password}@{host}"


def test_kb_postgres_same_rows_query_and_export_as_sqlite(corpus, tmp_path, postgres_url):
    sqlite_db = tmp_path / "kb.sqlite"
    build(make_nlp(), corpus, sqlite_db, tmp_path, batch_size=2)
    stats = build(make_nlp(), corpus, postgres_url, tmp_path, batch_size=2)
    assert stats.docs_added == EXPECTED_COUNTS["documents"]
    rows = pg_rows(postgres_url)
    assert rows.pop("counts") == EXPECTED_COUNTS
    assert rows.pop("wrong_counts") == 0
    assert rows == snapshot(sqlite_db)
    assert kb.read_graph(postgres_url) == kb.read_graph(sqlite_db)
    for name in ("alice", "BOB", "Acme", "paris", "Boston", "nobody"):
        assert kb.query_entity(postgres_url, name) == kb.query_entity(sqlite_db, name)
        for label in ("PER", "LOC"):  # the statement narrowed to a label (kb/sql.py)
            assert kb.query_entity(postgres_url, name, label=label) == kb.query_entity(sqlite_db, name, label=label)
    assert [e["label"] for e in kb.query_entity(postgres_url, "alice", label="PER")] == ["PER"]
    for fmt in kb.EXPORT_FORMATS:
        outputs = [tmp_path / "pg" / f"graph.{fmt}", tmp_path / "sqlite" / f"graph.{fmt}"]
        kb.export_graph(postgres_url, outputs[0], fmt)
        kb.export_graph(sqlite_db, outputs[1], fmt)
        files = [outputs[0] / name for name in kb.CSV_FILES.values()] if fmt == "csv" else [outputs[0]]
        for written in files:  # csv: a directory of nodes.csv and edges.csv
            assert written.read_bytes() == (outputs[1] / written.relative_to(outputs[0])).read_bytes()
    # A rerun adds nothing.
    again = kb.build_kb(make_nlp(), corpus, postgres_url, lines=True)
    assert (again.docs_added, again.docs_existing) == (0, 5)
    assert pg_rows(postgres_url)["counts"] == EXPECTED_COUNTS


def test_kb_postgres_retried_batch_adds_nothing(corpus, postgres_url):
    nlp = make_nlp()
    batch = [(r, kb.doc_rows(nlp(r.text))) for r in inputs.iter_records(corpus, lines=True)]
    with kb.open_store(postgres_url, create=True) as store:
        assert store.concurrent_writes
        first = store.write_batch(batch)
        before = pg_rows(postgres_url)
        retried = store.write_batch(batch)
    assert (first.added, first.raced, first.mentions) == (5, 0, 12)
    assert (retried.added, retried.raced, retried.mentions, retried.relations) == (0, 5, 0, 0)
    assert pg_rows(postgres_url) == before


def test_kb_postgres_batch_rerun_after_deadlock(corpus, tmp_path, monkeypatch, postgres_url):
    from psycopg.errors import DeadlockDetected

    from spacy_window_ner.kb import postgres

    write, calls = postgres._write_batch, []

    def deadlocked(cur, batch, aliases, name_keys, always: bool):
        counts = write(cur, batch, aliases, name_keys)  # all written, then PostgreSQL picks this transaction as the victim
        calls.append(counts.added)
        if always or len(calls) == 1:
            raise DeadlockDetected("deadlock detected")
        return counts

    monkeypatch.setattr(postgres, "_write_batch", lambda cur, batch, aliases, name_keys: deadlocked(cur, batch, aliases, name_keys, False))
    stats = kb.build_kb(make_nlp(), corpus, postgres_url, lines=True)
    assert calls == [5, 5] and stats.docs_added == 5  # rolled back, then written once
    rows = pg_rows(postgres_url)
    assert rows["counts"]["documents"] == 5 and rows["wrong_counts"] == 0
    # A deadlock every time: the batch is given up after DEADLOCK_RETRIES tries, keeping the rest.
    monkeypatch.setattr(postgres, "_write_batch", lambda cur, batch, aliases, name_keys: deadlocked(cur, batch, aliases, name_keys, True))
    more = tmp_path / "more.txt"
    more.write_text("Alice and Bob.\n", encoding="utf8")
    with pytest.raises(kb.KBError, match="DeadlockDetected.*Every batch written before is kept"):
        kb.build_kb(make_nlp(), [more], postgres_url, lines=True)
    assert calls[2:] == [1] * postgres.DEADLOCK_RETRIES
    assert pg_rows(postgres_url) == rows


def test_kb_postgres_cli_same_output_as_sqlite(ruler_path, corpus, tmp_path, postgres_url):
    sqlite_db = tmp_path / "kb.sqlite"
    outputs = []
    for db in (postgres_url, sqlite_db):
        result = invoke("kb", "build", ruler_path, *corpus, "--db", db, "--lines", "--batch-size", "2")
        assert "added 5 " in result.output
        out = tmp_path / f"export{len(outputs)}.jsonl"
        invoke("kb", "export", db, "--format", "jsonl", "--output", out)
        outputs.append((invoke("kb", "query", db, "Alice", "--json").output, out.read_text(encoding="utf8")))
    assert outputs[0] == outputs[1]
    password = postgres_url.rpartition("@")[0].rpartition(":")[2]
    result = invoke("kb", "build", ruler_path, *corpus, "--db", postgres_url, "--lines")
    assert "added 0 " in result.output and password not in result.output and ":***@" in result.output
    removed = invoke("kb", "remove", postgres_url, "--source", corpus[0]).output
    assert "Removed 3 documents" in removed and password not in removed


def test_kb_postgres_remove_same_as_sqlite(corpus, tmp_path, postgres_url):
    sqlite_db = tmp_path / "kb.sqlite"
    for db in (sqlite_db, postgres_url):
        build(make_nlp(), corpus, db, tmp_path)
    removed = [kb.remove_documents(db, sources=corpus, ids=["nope"]) for db in (sqlite_db, postgres_url)]
    assert removed[0] == removed[1]
    assert removed[1].entities == 2 and removed[1].unmatched == ["id 'nope'"]
    rows = pg_rows(postgres_url)
    assert rows.pop("wrong_counts") == 0
    rows.pop("counts")
    assert rows == snapshot(sqlite_db)
    assert kb.read_graph(postgres_url) == kb.read_graph(sqlite_db)


def _write(url: str, paths: List[Path], added) -> None:
    """A writer process: build the paths into the database, and report the documents it added."""
    stats = kb.build_kb(make_nlp(), paths, url, lines=True, batch_size=2)
    added.put(stats.docs_added)


def test_kb_postgres_concurrent_writer_processes(tmp_path, postgres_url):
    names = ["Alice", "Bob", "Acme", "Boston", "Paris"]
    texts = [f"{names[i % 5]} met {names[(i * 3 + 1) % 5]} and {names[(i + 2) % 5]} on day {i}." for i in range(40)]
    shared_a, shared_b = tmp_path / "a.txt", tmp_path / "b.txt"
    shared_a.write_text("\n".join(texts[:20]) + "\n", encoding="utf8")
    shared_b.write_text("\n".join(reversed(texts[20:])) + "\n", encoding="utf8")
    own = []
    for k in range(4):
        own.append(tmp_path / f"own{k}.txt")
        own[-1].write_text(f"Paris likes Bob, writer {k}.\nAcme and Alice, writer {k}.\n", encoding="utf8")
    orders = [[shared_a, shared_b, own[k]] if k % 2 else [shared_b, shared_a, own[k]] for k in range(4)]
    # Forked, so that the writers start at once with spaCy loaded (no connection is open here).
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    writers = [context.Process(target=_write, args=(postgres_url, order, queue)) for order in orders]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=120)
    assert [writer.exitcode for writer in writers] == [0] * 4
    added = sum(queue.get(timeout=1) for _ in writers)
    alone = tmp_path / "alone.sqlite"
    kb.build_kb(make_nlp(), [shared_a, shared_b, *own], alone, lines=True)
    rows = pg_rows(postgres_url)
    assert added == rows["counts"]["documents"] == 48  # each document stored exactly once
    assert rows.pop("wrong_counts") == 0
    rows.pop("counts")
    assert rows == snapshot(alone)


def test_kb_postgres_lost_connection_keeps_earlier_batches(tmp_path, postgres_url):
    lines = ["Alice met Bob.", "Bob in Paris.", "Acme in Boston.", f"{CUT} near Alice.", "Paris and Acme."]
    source = tmp_path / "docs.txt"
    source.write_text("\n".join(lines) + "\n", encoding="utf8")
    nlp = make_nlp()
    nlp.add_pipe("test_kb_pg_disconnect")
    DISCONNECT["url"] = postgres_url
    try:
        with pytest.raises(kb.KBError, match=r"Every batch written before is kept; fix the cause \(the server, the network") as err:
            kb.build_kb(nlp, [source], postgres_url, lines=True, batch_size=1)
    finally:
        DISCONNECT["url"] = ""
    assert postgres_url.rpartition("@")[0] not in str(err.value)
    kept = pg_rows(postgres_url)
    assert 0 < kept["counts"]["documents"] < len(lines) and kept["wrong_counts"] == 0
    stats = kb.build_kb(nlp, [source], postgres_url, lines=True)
    assert stats.docs_added == len(lines) - kept["counts"]["documents"]
    clean = tmp_path / "clean.sqlite"
    kb.build_kb(nlp, [source], clean, lines=True)
    rows = pg_rows(postgres_url)
    rows.pop("counts"), rows.pop("wrong_counts")
    assert rows == snapshot(clean)


def test_kb_postgres_bad_url_login_and_server(postgres_server, postgres_url):
    password = postgres_url.rpartition("@")[0].rpartition(":")[2]
    host = postgres_url.rpartition("@")[2].partition("/")[0]
    bad: List[str] = [
        with_password(postgres_url, "wrong-secret"),  # refused login
        postgres_url + "_missing",  # no such database
        f"postgresql://kbtest:{password}@127.0.0.1:{free_port()}/kb",  # no server there
        f"postgresql://kbtest:{password}@{host}/kb?no_such_option=1",  # not a valid URL
    ]
    for url in bad:
        with pytest.raises(kb.KBError, match="Can't connect to the PostgreSQL database") as err:
            kb.open_store(url, create=True)
        assert password not in str(err.value) and "wrong-secret" not in str(err.value)
        assert ":***@" in str(err.value)
    message = failed("kb", "query", bad[0], "Alice")
    assert "Can't connect" in message and "wrong-secret" not in message


def test_kb_postgres_other_schema_version_refused(corpus, tmp_path, postgres_url):
    import psycopg

    build(make_nlp(), corpus, postgres_url, tmp_path)
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    before = pg_rows(postgres_url)
    for create in (False, True):
        with pytest.raises(kb.KBError, match=f"schema version 1, but .* reads version {kb.SCHEMA_VERSION}"):
            kb.open_store(postgres_url, create=create)
    with pytest.raises(kb.KBError, match="schema version 1"):
        kb.build_kb(make_nlp(), corpus, postgres_url, lines=True)
    assert pg_rows(postgres_url) == before
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("DROP TABLE relations")
    with pytest.raises(kb.KBError, match="not a spacy-window-ner knowledge base .*no table relations"):
        kb.open_store(postgres_url, create=True)


def test_kb_postgres_nul_character_skipped_with_its_place(tmp_path, postgres_url):
    """PostgreSQL text can't hold a NUL: the document is reported with its place and skipped,
    as a malformed line is, and the documents after it are stored (tests/test_hostile.py runs
    the same input through both back ends)."""
    source = tmp_path / "docs.txt"
    source.write_text("Alice met Bob.\nBob in \x00 Paris.\nAcme in Boston.\n", encoding="utf8")
    stats = kb.build_kb(make_nlp(), [source], postgres_url, lines=True, batch_size=1)
    assert stats.malformed.first == [f"{source}:2: text holds a NUL character (\\x00) at character 7, which PostgreSQL can't store"]
    assert pg_rows(postgres_url)["counts"]["documents"] == stats.docs_added == 2


def test_kb_postgres_empty_database_not_a_kb_for_readers(postgres_url):
    with pytest.raises(kb.KBError, match="holds no spacy-window-ner knowledge base"):
        kb.query_entity(postgres_url, "Alice")


def test_kb_postgres_without_psycopg(monkeypatch):
    monkeypatch.setitem(sys.modules, "psycopg", None)
    monkeypatch.delitem(sys.modules, "spacy_window_ner.kb.postgres", raising=False)
    with pytest.raises(kb.KBError, match=r'pip install "spacy-window-ner\[postgres\]"') as err:
        kb.open_store("postgresql://user:secret@localhost/kb")
    assert "secret" not in str(err.value)


def test_kb_postgres_describe_hides_password():
    assert kb.is_url("postgresql://u@h/db") and kb.is_url("postgres://h/db")
    assert not kb.is_url(Path("postgresql://h/db")) and not kb.is_url("kb.sqlite")
    assert kb.describe("postgresql://me:s3cret@host:5432/kb") == "postgresql://me:***@host:5432/kb"
    assert kb.describe("postgres://host/kb?password=s3cret&sslmode=require") == "postgres://host/kb?password=***&sslmode=require"
    assert kb.describe(Path("kb.sqlite")) == "kb.sqlite"


def test_kb_postgres_unavailable_fails_under_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="no initdb.*must run in CI"):
        unavailable("no initdb")
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception, match="no initdb"):
        unavailable("no initdb")

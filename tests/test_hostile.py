"""Hostile input, round three (issue 25): each class a hostile user tried, run as they ran it.
Every case must end in a clear one-line error or a reported decision, with nothing lost,
corrupted or leaked (a password)."""
import csv
import json
import math
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import List

import numpy
import pytest
import spacy
from spacy.tokens import DocBin, Span
from spacy.training import Example
from typer.testing import CliRunner

from spacy_window_ner import kb
from spacy_window_ner.cli import app
from spacy_window_ner.relations import Relation, set_relations
from spacy_window_ner.tuning import MAX_GRID_VALUES, DevScores, pick_thresholds

runner = CliRunner()

SECRET = "s3cr3t-Pa55"
MALFORMED_URLS = [
    f"postgresql://u:{SECRET}@[::1:5432/x",  # an unbalanced IPv6 bracket
    f"postgresql://u:{SECRET}@host:port/x",  # a port that is not a number
    f"postgresql://u:{SECRET}@host:99999/x",  # a port out of range
    f"postgres://u@[::1/x?password={SECRET}",  # the password as a parameter
    f"postgresql://u:{SECRET}@host/x\x00",  # a NUL
]


def cli(*args: object) -> str:
    """Run the command line; a failure must be a clean exit 1 (no traceback). Returns the
    output on one line."""
    result = runner.invoke(app, [str(arg) for arg in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return result.output


def failure(*args: object) -> str:
    result = runner.invoke(app, [str(arg) for arg in args])
    assert isinstance(result.exception, SystemExit) and result.exit_code == 1, (result.exception, result.output)
    assert "Traceback" not in result.output
    return result.output


# ------------------------------------------------------------------ 1. a password in a traceback


@pytest.mark.parametrize("url", MALFORMED_URLS)
def test_hostile_describe_hides_the_password_of_any_url(url):
    assert SECRET not in kb.describe(url)
    assert "***" in kb.describe(url)
    assert SECRET not in kb.hide_password(f"libpq said: {url} (password {SECRET})", url)


@pytest.mark.parametrize("url", MALFORMED_URLS)
def test_hostile_malformed_url_is_one_line_without_the_password(url, ruler_path, tmp_path):
    text = tmp_path / "in.txt"
    text.write_text("Alice met Bob in Paris.\n", encoding="utf8")
    commands: List[List[object]] = [
        ["kb", "query", url, "Alice"],
        ["kb", "export", url, "--format", "jsonl", "--output", tmp_path / "graph.jsonl"],
        ["kb", "remove", url, "--id", "x"],
        ["kb", "build", ruler_path, text, "--db", url],
    ]
    for command in commands:
        output = failure(*command)
        assert SECRET not in output, output
        assert "PostgreSQL URL" in output and ("malformed" in output or "NUL" in output), output
        errors = [line for line in output.splitlines() if line.startswith("✘")]
        assert len(errors) == 1, output
    assert not (tmp_path / "graph.jsonl").exists()


# ------------------------------------------------------------------ 2. a NUL that stops PostgreSQL


@pytest.fixture
def nul_jsonl(tmp_path: Path) -> Path:
    """Five documents: a NUL in the text of line 2 and in the id of line 4."""
    path = tmp_path / "nul.jsonl"
    records = [
        {"id": "a", "text": "Alice met Bob."}, {"id": "b", "text": "Bob\x00 in Paris."}, {"id": "c", "text": "Acme in Boston."},
        {"id": "d\x00", "text": "Alice in Paris."}, {"id": "e", "text": "Bob met Alice."},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf8")
    return path


def snapshot(db) -> dict:
    """What a knowledge base holds, back end aside: entities with their counts, and relations."""
    nodes, edges = kb.read_graph(db)
    names = {node["id"]: (node["name"], node["label"]) for node in nodes}
    return {
        "entities": sorted((node["name"], node["label"], node["mention_count"]) for node in nodes),
        "edges": sorted((names[e["source"]], names[e["target"]], e["label"], e["count"]) for e in edges),
    }


def test_hostile_nul_is_skipped_and_reported_alike_on_both_back_ends(ruler_path, nul_jsonl, tmp_path, postgres_url):
    """A NUL in a text or an id is reported with its path:line and skipped, on SQLite and on
    PostgreSQL alike: the other documents are all stored, a rerun adds nothing, and both back
    ends hold the same knowledge base."""
    sqlite_db = tmp_path / "kb.sqlite"
    for db in (sqlite_db, postgres_url):
        output = " ".join(cli("kb", "build", ruler_path, nul_jsonl, "--db", db, "--batch-size", "1").split())
        assert "added 3 " in output, output
        assert f"{nul_jsonl}:2: text holds a NUL character" in output and f'{nul_jsonl}:4: "id" holds a NUL character' in output
        rerun = " ".join(cli("kb", "build", ruler_path, nul_jsonl, "--db", db).split())
        assert "added 0 " in rerun and "skipped 3 already stored" in rerun, rerun
    assert snapshot(sqlite_db) == snapshot(postgres_url)
    assert snapshot(sqlite_db)["entities"]


# ------------------------------------- 3. unbounded grids, 7. non-finite numbers, 8. tuning on nothing


@pytest.fixture
def gold_dev(tmp_path: Path) -> Path:
    """Dev data with gold entities and one gold relation per doc."""
    nlp = spacy.blank("en")
    docs = []
    for text in ("Alice works for Acme .", "Bob works for Initech ."):
        doc = nlp.make_doc(text)
        doc.ents = [Span(doc, 0, 1, label="Peop"), Span(doc, 3, 4, label="Org")]
        set_relations(doc, [Relation(doc.ents[0], doc.ents[1], "Work_For", 1.0)])
        docs.append(doc)
    path = tmp_path / "dev.spacy"
    DocBin(store_user_data=True, docs=docs).to_disk(path)
    return path


@pytest.fixture
def rel_model(gold_dev: Path, tmp_path: Path) -> Path:
    """An entity_ruler + window_rel pipeline, initialized on gold_dev (untrained)."""
    nlp = spacy.blank("en")
    nlp.add_pipe("entity_ruler").add_patterns(
        [{"label": "Peop", "pattern": name} for name in ("Alice", "Bob")]
        + [{"label": "Org", "pattern": name} for name in ("Acme", "Initech")]
    )
    nlp.add_pipe("window_rel")
    examples = [Example(nlp.make_doc(doc.text), doc) for doc in DocBin().from_disk(gold_dev).get_docs(nlp.vocab)]
    nlp.initialize(lambda: examples)
    path = tmp_path / "rel_model"
    nlp.to_disk(path)
    return path


def usage_error(*args: object) -> str:
    result = runner.invoke(app, [str(arg) for arg in args])
    assert result.exit_code == 2, (result.exception, result.output)
    return " ".join(result.output.replace("│", " ").split())


def test_hostile_recall_bias_grid_is_bounded_and_announced(window_ner_path, gold_dev, tmp_path):
    out = tmp_path / "biased"
    for grid in (["--low", "-1e9", "--high", "1e9", "--step", "0.001"], ["--step", "0.0001"]):
        message = " ".join(failure("tune-ner-bias", window_ner_path, gold_dev, *grid, "--output", out).split())
        assert f"the most one tuning tries is {MAX_GRID_VALUES:,}" in message, message
    assert "holds 50,001 recall biases" in message
    assert not out.exists()
    output = cli("tune-ner-bias", window_ner_path, gold_dev, "--low", "0", "--high", "1", "--step", "0.25", "--output", out)
    assert "Trying 5 recall biases from 0 to 1" in output


@pytest.mark.parametrize("option,value", [("--high", "inf"), ("--low", "nan"), ("--low", "-inf"), ("--step", "nan")])
def test_hostile_recall_bias_grid_refuses_non_finite_numbers(window_ner_path, gold_dev, tmp_path, option, value):
    message = usage_error("tune-ner-bias", window_ner_path, gold_dev, option, value, "--output", tmp_path / "out")
    assert f"Invalid value for '{option}': must be a finite number, not {float(value)}" in message, message


def test_hostile_shrinkage_refuses_infinity(rel_model, gold_dev, tmp_path):
    message = usage_error("tune-thresholds", rel_model, gold_dev, "--shrinkage", "inf", "--output", tmp_path / "out")
    assert "Invalid value for '--shrinkage': must be a finite number, not inf" in message, message
    with pytest.raises(ValueError, match="finite number"):
        pick_thresholds(DevScores(numpy.zeros((1, 1)), numpy.zeros((1, 1)), numpy.ones(1)), shrinkage=math.inf)


def test_hostile_tuning_on_nothing_fails(rel_model, window_ner_path, gold_dev, tmp_path):
    """A dev file that is not .spacy, or one without gold relations (entities), tunes nothing:
    the command fails and writes nothing, where it said "Saved the pipeline"."""
    not_spacy = tmp_path / "dev.json"
    not_spacy.write_text("[]", encoding="utf8")
    nlp = spacy.blank("en")
    bare = nlp.make_doc("Alice works for Acme .")
    bare.ents = [Span(bare, 0, 1, label="Peop")]
    no_relations = tmp_path / "no_relations.spacy"
    DocBin(store_user_data=True, docs=[bare]).to_disk(no_relations)
    no_entities = tmp_path / "no_entities.spacy"
    DocBin(docs=[nlp.make_doc("Nothing here .")]).to_disk(no_entities)
    before = (rel_model / "window_rel" / "cfg").read_bytes()
    for dev, why in ((not_spacy, "holds no documents to tune on"), (no_relations, "has no gold relations")):
        for extra in ([], ["--cross-validate", "2"]):
            message = " ".join(failure("tune-thresholds", rel_model, dev, *extra).split())
            assert why in message and "Saved" not in message, message
    assert (rel_model / "window_rel" / "cfg").read_bytes() == before
    for dev, why in ((not_spacy, "holds no documents to tune on"), (no_entities, "has no gold entities")):
        message = " ".join(failure("tune-ner-bias", window_ner_path, dev, "--output", tmp_path / "out").split())
        assert why in message, message
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------- 5. CSV export's two files disagree


def read_csv_export(directory: Path) -> tuple:
    with (directory / "nodes.csv").open(encoding="utf8", newline="") as file_:
        nodes = {row["id"]: row["name"] for row in csv.DictReader(file_)}
    with (directory / "edges.csv").open(encoding="utf8", newline="") as file_:
        edges = [(row["source"], row["target"], row["label"]) for row in csv.DictReader(file_)]
    return nodes, edges


class Killed(BaseException):
    """Stands for a SIGKILL: nothing after it runs, not even `except Exception` handlers."""


@pytest.mark.parametrize("point", ["after the nodes", "before the swap", "the exchange", "between two renames"])
def test_hostile_csv_export_is_never_a_mixed_pair(ruler_path, tmp_path, monkeypatch, point):
    """The csv export's nodes and edges files are replaced as one directory: killed at any
    point, the directory holds the old pair or the new one, never one of each (or, killed
    between the two renames of the fallback swap, no directory and both pairs whole beside it)."""
    db, out = tmp_path / "kb.sqlite", tmp_path / "graph"
    first, second = tmp_path / "first.txt", tmp_path / "second.txt"
    first.write_text("Alice met Bob.\n", encoding="utf8")
    second.write_text("Acme hired Alice in Paris.\nBob met Acme in Boston.\n", encoding="utf8")
    kb.build_kb(str(ruler_path), [first], db, lines=True)
    kb.export_graph(db, out, "csv")
    old = read_csv_export(out)
    kb.build_kb(str(ruler_path), [second], db, lines=True)
    import spacy_window_ner.files as files

    if point == "after the nodes":
        real_open = Path.open

        def open_then_die(self, *args, **kwargs):
            if self.name == "edges.csv":
                raise Killed
            return real_open(self, *args, **kwargs)

        monkeypatch.setattr(Path, "open", open_then_die)
    elif point == "before the swap":
        monkeypatch.setattr(files, "_fsync_tree", lambda root: (_ for _ in ()).throw(Killed()))
    elif point == "the exchange":
        monkeypatch.setattr(files, "_exchange", lambda a, b: (_ for _ in ()).throw(Killed()))
    else:
        monkeypatch.setattr(files, "_exchange", lambda a, b: False)  # no renameat2: two renames
        real_replace = os.replace

        def replace_once(src, dst):
            real_replace(src, dst)
            if Path(dst).name.startswith(".graph.old-"):
                raise Killed

        monkeypatch.setattr(files.os, "replace", replace_once)
    with pytest.raises(Killed):
        kb.export_graph(db, out, "csv")
    monkeypatch.undo()
    pairs = [read_csv_export(d) for d in [out, *tmp_path.glob(".graph.*")] if (d / "edges.csv").exists()]
    assert pairs, list(tmp_path.iterdir())
    for nodes, edges in pairs:
        assert all(source in nodes and target in nodes for source, target, _ in edges), (nodes, edges)
    if point != "between two renames":
        assert read_csv_export(out) == old
    kb.export_graph(db, out, "csv")  # the next export succeeds
    nodes, edges = read_csv_export(out)
    assert len(nodes) > len(old[0]) and all(s in nodes and t in nodes for s, t, _ in edges)


def test_hostile_csv_export_never_replaces_a_directory_of_other_files(ruler_path, tmp_path):
    db, home = tmp_path / "kb.sqlite", tmp_path / "home"
    text = tmp_path / "in.txt"
    text.write_text("Alice met Bob.\n", encoding="utf8")
    kb.build_kb(str(ruler_path), [text], db, lines=True)
    home.mkdir()
    (home / "notes.txt").write_text("mine", encoding="utf8")
    message = " ".join(failure("kb", "export", db, "-f", "csv", "-o", home).split())
    assert "holding other files (notes.txt)" in message, message
    assert sorted(p.name for p in home.iterdir()) == ["notes.txt"]
    assert "is a directory" in failure("kb", "export", db, "-f", "jsonl", "-o", home)


# --------------------------------------------------- 6. cross-predict --models-dir over its inputs


def test_hostile_cross_predict_never_writes_over_its_inputs(gold_dev, tmp_path):
    """Every path cross-predict writes (the output, each fold's directory under --models-dir)
    is checked against every path it reads, before anything is written."""
    models = tmp_path / "cp"
    train = models / "fold_0" / "train.spacy"
    train.parent.mkdir(parents=True)
    train.write_bytes(gold_dev.read_bytes())
    config = Path(__file__).parent.parent / "configs" / "window_ner.cfg"
    for args, why in (
        ([train, gold_dev, "-o", tmp_path / "out.spacy", "--models-dir", models], "contains the input"),
        ([train, gold_dev, "-o", gold_dev], "is the input"),
        ([gold_dev, train, "-o", tmp_path / "out.spacy", "--models-dir", models, "--folds", "2"], "contains the input"),
    ):
        message = " ".join(failure("cross-predict", config, *args).split())
        assert why in message, message
    assert train.read_bytes() == gold_dev.read_bytes()
    assert sorted(p.name for p in (models / "fold_0").iterdir()) == ["train.spacy"]
    assert not (tmp_path / "out.spacy").exists()


# ------------------------------------------------------------ 9. invalid UTF-8 in a knowledge base


def test_hostile_invalid_utf8_in_a_knowledge_base_reads_with_replacement(ruler_path, tmp_path):
    """Text another tool wrote into the SQLite file as invalid UTF-8 is read with U+FFFD, by
    kb query and every kb export format, where it stopped them with a traceback."""
    db, text = tmp_path / "kb.sqlite", tmp_path / "in.txt"
    text.write_text("Alice met Bob in Paris.\n", encoding="utf8")
    kb.build_kb(str(ruler_path), [text], db, lines=True)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE entities SET name = CAST(X'416c6963ff' AS TEXT) WHERE name = 'Alice'")
        conn.execute("UPDATE mentions SET sentence = CAST(X'ff416c696365206d657420426f622e' AS TEXT)")
    output = cli("kb", "query", db, "alice")
    assert "Alic\ufffd" in output and "\ufffdAlice met Bob." in output, output
    for fmt in ("jsonl", "graphml", "csv"):
        cli("kb", "export", db, "-f", fmt, "-o", tmp_path / f"graph.{fmt}")
    assert "Alic\ufffd" in (tmp_path / "graph.jsonl").read_text(encoding="utf8")
    assert "Alic\ufffd" in (tmp_path / "graph.csv" / "nodes.csv").read_text(encoding="utf8")


# ------------------------------------------------------------------------------------------- low

TITLE_ESCAPE = "\x1b]0;pwned\x07"  # an OSC sequence: sets the terminal's title


def test_hostile_kb_build_refuses_a_database_that_is_an_input(ruler_path, tmp_path):
    empty, text = tmp_path / "empty.txt", tmp_path / "in.txt"
    empty.write_text("", encoding="utf8")
    text.write_text("Alice met Bob.\n", encoding="utf8")
    message = " ".join(failure("kb", "build", ruler_path, text, empty, "--db", empty).split())
    assert f"--db {empty}: The output {empty} is the input {empty}" in message, message
    assert empty.read_bytes() == b""
    with pytest.raises(kb.KBError, match="is the input"):
        kb.check_database_not_input(text, [empty, text])


def test_hostile_terminal_escapes_never_reach_the_terminal(window_ner_path):
    output = cli("explain", window_ner_path, f"John Smith works for Acme {TITLE_ESCAPE} in Boston.")
    assert "\x1b" not in output and "\x07" not in output
    assert "\\x1b]0;pwned\\x07" in output, output


def test_hostile_exports_escape_what_terminals_spreadsheets_and_line_readers_act_on(tmp_path):
    nodes = [{"id": 1, "name": f"Acme{TITLE_ESCAPE}", "label": "ORG", "mention_count": 1},
             {"id": 2, "name": "Line\u2028Separator\x85Next", "label": "PER\u2029", "mention_count": 1}]
    edges = [{"source": 2, "target": 1, "label": "Work_For", "count": 1, "max_confidence": 0.5, "mean_confidence": 0.5}]
    kb.write_graph(nodes, edges, tmp_path / "graph.csv", "csv")
    cells = (tmp_path / "graph.csv" / "nodes.csv").read_text(encoding="utf8")
    assert "\x1b" not in cells and "\x07" not in cells and "Acme\\x1b]0;pwned\\x07" in cells
    kb.write_graph(nodes, edges, tmp_path / "graph.jsonl", "jsonl")
    text = (tmp_path / "graph.jsonl").read_text(encoding="utf8")
    assert len(text.splitlines()) == 3
    assert [json.loads(line)["name"] for line in text.splitlines()[:2]] == [node["name"] for node in nodes]


def test_hostile_messages_say_what_is_wrong(ruler_path, window_ner_path, gold_dev, tmp_path):
    folder = tmp_path / "texts"
    folder.mkdir()
    output = " ".join(cli("kb", "build", ruler_path, folder, "--db", tmp_path / "kb.sqlite").split())
    assert f"{folder}: a directory, not a file" in output and "no such file" not in output, output
    binary = tmp_path / "binary.cfg"
    binary.write_bytes(bytes(range(256)) * 4)
    message = " ".join(failure("cross-predict", binary, gold_dev, gold_dev, "-o", tmp_path / "out.spacy").split())
    assert str(binary) in message, message
    assert "The text is empty" in failure("visualize", window_ner_path, "  ", "--html", tmp_path / "page.html")
    assert not (tmp_path / "page.html").exists()


def test_hostile_kb_build_strict_tells_a_partial_build(ruler_path, nul_jsonl, tmp_path):
    db = tmp_path / "kb.sqlite"
    result = runner.invoke(app, ["kb", "build", str(ruler_path), str(nul_jsonl), "--db", str(db), "--strict"])
    assert result.exit_code == 3, result.output
    assert "--strict: skipped 2 lines or documents" in " ".join(result.output.split())
    assert "added 3 " in " ".join(result.output.split())  # the rest is stored
    result = runner.invoke(app, ["kb", "build", str(ruler_path), str(nul_jsonl), "--db", str(db)])
    assert result.exit_code == 0, result.output


def test_hostile_stale_temporaries_are_removed_by_the_next_write(tmp_path):
    """A kill leaves a hidden temporary beside the target; the next write of the same target
    removes those whose process is gone (never one a live process is writing)."""
    import spacy_window_ner.files as files

    target = tmp_path / "pipeline"
    target.mkdir()
    (tmp_path / "scores.json").write_text("{}", encoding="utf8")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f".pipeline.tmp-{dead.stdout.strip()}-abc123"
    stale.mkdir()
    (stale / "model").write_bytes(b"x" * 1000)
    live = tmp_path / f".pipeline.tmp-{os.getpid()}-def456"
    live.mkdir()
    stale_file = tmp_path / f".scores.json.tmp-{dead.stdout.strip()}-ghi789"
    stale_file.write_text("{}", encoding="utf8")
    with files.atomic_directory(target) as new:
        (new / "meta.json").write_text("{}", encoding="utf8")
    with files.atomic_write(tmp_path / "scores.json") as file_:
        file_.write("{}")
    assert not stale.exists() and not stale_file.exists() and live.exists()
    assert (target / "meta.json").exists()


# ------------------------------------------------------- 4. relations of long documents capped


def test_hostile_long_document_gets_the_relations_of_its_parts(ruler_path, tmp_path):
    """A long document without sentence boundaries gets the relation candidates its parts
    would get (rel_candidates.v2 caps them per block of tokens, not per doc); where a cap still
    cuts, a warning says so once and kb build's summary counts the documents."""
    nlp = spacy.blank("en")
    nlp.add_pipe("entity_ruler").add_patterns([{"label": "PER", "pattern": "Alice"}, {"label": "ORG", "pattern": "Acme"}])
    rel = nlp.add_pipe("window_rel", config={"candidates": {"@misc": "spacy-window-ner.rel_candidates.v2", "max_candidates": 40, "block_tokens": 100, "typed": False}})
    part = "Alice joined Acme . " * 25  # 100 tokens, 50 entities
    doc = nlp.make_doc(part * 50)  # 5,000 tokens
    ents = nlp.get_pipe("entity_ruler")(doc).ents
    small = nlp.get_pipe("entity_ruler")(nlp.make_doc(part)).ents
    with pytest.warns(UserWarning, match="keep the 40 nearest entity pairs per 100 tokens"):
        whole = rel.candidates([doc], [ents])[0]
        one = rel.candidates([nlp.make_doc(part)], [small])[0]
    assert len(one) == 40 and len(whole) >= 50 * 40
    assert doc.user_data["swn_dropped_candidates"] > 0
    # kb build counts the documents a cap cut, in its summary.
    model = tmp_path / "model"
    reference = nlp.make_doc("Alice joined Acme .")
    reference.ents = [Span(reference, 0, 1, label="PER"), Span(reference, 2, 3, label="ORG")]
    set_relations(reference, [Relation(reference.ents[0], reference.ents[1], "Work_For", 1.0)])
    patterns = nlp.get_pipe("entity_ruler").patterns
    nlp.initialize(lambda: [Example(nlp.make_doc(reference.text), reference)])
    nlp.get_pipe("entity_ruler").add_patterns(patterns)  # initialize clears them
    nlp.to_disk(model)
    source = tmp_path / "long.txt"
    source.write_text(part * 50 + "\nAlice joined Acme .\n", encoding="utf8")
    with pytest.warns(UserWarning, match="nearest entity pairs"):
        output = " ".join(cli("kb", "build", model, source, "--lines", "--db", tmp_path / "kb.sqlite").split())
    assert "relation candidates capped in 1 documents" in output, output


def test_hostile_a_lost_connection_is_one_line_without_the_password():
    psycopg = pytest.importorskip("psycopg")
    url = f"postgresql://kb:{SECRET}@db.example:5432/kb"
    lost = psycopg.OperationalError(
        "consuming input failed: server closed the connection unexpectedly\n\tThis probably means the server "
        f"terminated abnormally\n\tbefore or while processing the request. ({url})\n"
    )
    line = kb.build.store_error(lost, url)
    assert "\n" not in line and SECRET not in line and line.startswith("OperationalError: consuming input failed")

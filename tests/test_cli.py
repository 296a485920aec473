"""The command line: every command's --help, the happy paths, and each bad input ending in a
clear message and a non-zero exit code without a traceback."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import List

import pytest
import spacy
from spacy.tokens import DocBin
from spacy.training import Example

from spacy_window_ner.cli import Format, app
from spacy_window_ner.readers import READERS, read_conll04, read_docbin
from spacy_window_ner.tuning import TUNINGS

from .util import CRASH, SENTINEL, WINDOW_NER_DATA as TRAIN_DATA, WINDOW_NER_TEXT as TEXT
from .util import failed, fill, invoke, make_rel_examples, make_rel_nlp, remount, runner, train_rel

ASSETS = Path(__file__).resolve().parent.parent / "assets" / "sample"
COMMANDS = [
    [], ["convert"], ["evaluate"], ["tune-thresholds"], ["tune-ner-bias"], ["copy-tuning"], ["cross-predict"],
    ["kb"], ["kb", "build"], ["kb", "resolve"], ["kb", "merge"], ["kb", "split"], ["kb", "migrate"], ["kb", "query"],
    ["kb", "remove"], ["kb", "export"], ["explain"], ["visualize"],
]
# Run as `python KILL_SCRIPT POINT MODEL DEV`: tune-thresholds, killed at POINT of saving.
KILL_SCRIPT = Path(__file__).resolve().parent / "scripts" / "kill_at.py"


@pytest.fixture
def garbage(tmp_path: Path) -> Path:
    path = tmp_path / "garbage.sqlite"
    path.write_text("not a database at all, only text " * 50, encoding="utf8")
    return path


@pytest.fixture
def gold_spacy(window_ner_nlp, tmp_path: Path) -> Path:
    docs = [Example.from_dict(window_ner_nlp.make_doc(t), {"entities": e}).reference for t, e in TRAIN_DATA]
    path = tmp_path / "gold.spacy"
    DocBin(docs=docs, store_user_data=True).to_disk(path)
    return path


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "app")
def test_cli_help(command: List[str]):
    result = invoke(*command, "--help")
    assert "Usage" in result.output


def test_cli_help_shows_every_text_whole_at_80_columns():
    """Help texts appear as written: `[ray]` and `[postgres]` are not taken for markup, and the
    PostgreSQL URL is not cut at the terminal's width."""
    helps = {}
    for command in COMMANDS:
        result = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "80"})
        assert result.exit_code == 0, result.output
        assert "…" not in result.output, result.output
        assert max(len(line) for line in result.output.splitlines()) <= 80, result.output
        helps[" ".join(command)] = " ".join(result.output.split())
    assert 'pip install "spacy-window-ner[ray]"' in helps["kb build"]
    assert 'pip install "spacy-window-ner[postgres]"' in helps["kb build"]
    assert "postgresql://USER:PASSWORD@HOST:PORT/DATABASE" in helps["kb build"]
    assert "<conll04|prodigy|spacy>" in helps["convert"]


def test_cli_python_m_help():
    result = subprocess.run([sys.executable, "-m", "spacy_window_ner", "kb", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "build" in result.stdout


def test_cli_convert_conll04(tmp_path):
    source = ASSETS / "sample_train.json"
    out = tmp_path / "out" / "train.spacy"
    result = invoke("convert", source, out, "--format", "conll04")
    docs, stats = read_conll04(source, spacy.blank("en").vocab)
    assert f"Wrote {stats.docs} docs, {stats.entities} entities, {stats.relations} relations" in result.output
    assert len(read_docbin(out, spacy.blank("en").vocab)) == stats.docs


def test_cli_convert_formats_are_the_readers(tmp_path):
    """One set of format names: the readers', which the project's --vars.format uses too. A .spacy
    file passes through, counted; any other name is refused in one line that lists the three."""
    assert [f.value for f in Format] == list(READERS) == ["conll04", "prodigy", "spacy"]
    converted = tmp_path / "train.spacy"
    invoke("convert", ASSETS / "sample_train.json", converted, "--format", "conll04")
    out = tmp_path / "copy.spacy"
    result = invoke("convert", converted, out, "--format", "spacy")
    docs, stats = read_conll04(ASSETS / "sample_train.json", spacy.blank("en").vocab)
    assert f"Wrote {stats.docs} docs, {stats.entities} entities, {stats.relations} relations" in result.output
    assert [doc.to_json() for doc in read_docbin(out, spacy.blank("en").vocab)] == [doc.to_json() for doc in docs]
    result = invoke("convert", ASSETS / "sample_train.json", out, "--format", "json", ok=False)
    assert result.exit_code == 2
    error = [line for line in result.output.splitlines() if "--format" in line and "Invalid value" in line]
    assert len(error) == 1 and "'json' is not one of 'conll04', 'prodigy', 'spacy'" in error[0], result.output
    assert "DocBin" in failed("convert", ASSETS / "sample_train.json", tmp_path / "o.spacy", "-f", "spacy")


def test_cli_convert_prodigy_split(tmp_path):
    def record(pmid: str) -> str:
        tokens = [{"text": "IL-2", "ws": True}, {"text": "binds", "ws": True}, {"text": "NF-kB", "ws": False}]
        spans = [{"token_start": 0, "token_end": 0, "label": "GGP"}, {"token_start": 2, "token_end": 2, "label": "GGP"}]
        rels = [{"head": 0, "child": 2, "label": "Binds"}]
        meta = {"source": f"BioNLP 2011 Genia Shared Task, PMID-{pmid}.txt"}
        return json.dumps({"tokens": tokens, "spans": spans, "relations": rels, "answer": "accept", "meta": meta})

    source = tmp_path / "rel.jsonl"
    source.write_text("\n".join([record("1234"), record("1233"), record("1231"), "{bad"]) + "\n", encoding="utf8")
    out = tmp_path / "dev.spacy"
    result = invoke("convert", source, out, "--format", "prodigy", "--split", "dev")
    assert "Wrote 1 docs, 2 entities, 1 relations" in result.output
    assert "1 records" in result.output and "line 4" in result.output
    assert "--split only applies" in failed("convert", ASSETS / "sample_train.json", out, "-f", "conll04", "--split", "dev")


def test_cli_convert_bad_inputs(tmp_path):
    latin = tmp_path / "latin.json"
    latin.write_bytes('[{"tokens": ["Café"]}]'.encode("latin-1"))
    assert "Can't read" in failed("convert", latin, tmp_path / "o.spacy", "-f", "conll04")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf8")
    assert "is empty" in failed("convert", empty, tmp_path / "o.spacy", "-f", "prodigy")
    assert "Invalid value" in failed("convert", tmp_path / "missing.json", tmp_path / "o.spacy", "-f", "conll04", code=2)


def test_cli_evaluate(window_ner_path, gold_spacy, tmp_path):
    out = tmp_path / "metrics" / "sample.json"
    result = invoke("evaluate", window_ner_path, gold_spacy, "--output", out)
    scores = json.loads(out.read_text(encoding="utf8"))
    assert scores["ents_f"] > 0.9 and set(scores["ents_per_type"]) == {"PER", "ORG", "LOC"}
    assert "ents_f" in result.output and "ents_per_type" in result.output and "PER" in result.output


def test_cli_evaluate_bad_inputs(window_ner_path, gold_spacy, tmp_path, garbage):
    not_pipeline = tmp_path / "not_pipeline"
    not_pipeline.mkdir()
    assert "is not a spaCy pipeline" in failed("evaluate", not_pipeline, gold_spacy)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.cfg").write_text("[nlp]\nlang = \n", encoding="utf8")
    assert "Can't load the spaCy pipeline" in failed("evaluate", broken, gold_spacy)
    blank = tmp_path / "blank"
    spacy.blank("en").to_disk(blank)
    assert "no component to evaluate" in failed("evaluate", blank, gold_spacy)
    assert "no window_rel component" in failed("evaluate", window_ner_path, gold_spacy, "--gold-ents")
    assert "as a .spacy file" in failed("evaluate", window_ner_path, garbage)


def test_cli_kb_build_query_export(ruler_path, corpus, tmp_path):
    db = tmp_path / "kb" / "kb.sqlite"
    result = invoke("kb", "build", ruler_path, *corpus, "--db", db, "--lines", "--batch-size", "2")
    assert "added 5 (12 mentions, 7 relations" in result.output
    assert f"Skipped 3 malformed lines ({corpus[1]}:2: invalid JSON" in " ".join(result.output.split())
    result = invoke("kb", "build", ruler_path, *corpus, "--db", db, "--lines")
    assert "added 0 " in result.output and "skipped 5 already stored" in result.output
    result = invoke("kb", "query", db, "alice")
    assert "Alice (PER): 3 mentions" in result.output and "Alice → Acme" in result.output and "Bob → Alice" in result.output
    (entity,) = json.loads(invoke("kb", "query", db, "Alice", "--label", "PER", "--json").output)
    assert entity["mention_count"] == 3 and len(entity["relations"]) == 4
    assert "No entity named 'Carol'" in failed("kb", "query", db, "Carol")
    for fmt in ("jsonl", "csv", "graphml"):
        out = tmp_path / "export" / f"graph.{fmt}"
        assert "Wrote 5 nodes and 7 edges" in invoke("kb", "export", db, "--format", fmt, "--output", out).output
        assert (out / "edges.csv").is_file() if fmt == "csv" else out.is_file()


def test_cli_kb_build_bad_inputs(ruler_path, corpus, tmp_path, garbage, window_ner_path):
    db = tmp_path / "kb.sqlite"
    latin = tmp_path / "latin.txt"
    latin.write_bytes("Alice in Paris\nCafé Boston\n".encode("latin-1"))
    message = failed("kb", "build", ruler_path, latin, corpus[0], "--db", db, "--lines")
    assert f"Skipped {latin}: not valid utf8" in message and "--encoding" in message and "Skipped 1 of 2 inputs" in message
    assert "added 3" in message  # the readable input was still processed
    assert "added 2" in invoke("kb", "build", ruler_path, latin, "--db", db, "--lines", "--encoding", "latin-1").output
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf8")
    assert "empty file" in failed("kb", "build", ruler_path, empty, "--db", db)
    assert "no such file" in failed("kb", "build", ruler_path, tmp_path / "missing.txt", "--db", db)
    assert "Unknown encoding" in failed("kb", "build", ruler_path, corpus[0], "--db", db, "--encoding", "nope")
    assert "not a SQLite database" in failed("kb", "build", ruler_path, corpus[0], "--db", garbage)
    assert "not a spaCy pipeline" in failed("kb", "build", corpus[0], corpus[0], "--db", db)
    blank = tmp_path / "blank"
    spacy.blank("en").to_disk(blank)
    assert "no component that sets doc.ents" in failed("kb", "build", blank, corpus[0], "--db", db)
    assert "not a SQLite database" in failed("kb", "query", garbage, "Alice")
    assert "not a SQLite database" in failed("kb", "export", garbage, "-f", "jsonl", "-o", tmp_path / "g.jsonl")


def test_cli_kb_build_resumes_after_crash(ruler_path, tmp_path, monkeypatch):
    source = tmp_path / "crash.txt"
    source.write_text(f"Alice met Bob.\nBob saw Acme.\n{SENTINEL} Paris.\nAcme in Paris.\n", encoding="utf8")
    db = tmp_path / "kb.sqlite"
    message = failed("kb", "build", ruler_path, source, "--db", db, "--lines", "--batch-size", "1")
    assert "The pipeline failed (RuntimeError: crashed on the sentinel)" in message and "rerun" in message
    monkeypatch.setitem(CRASH, "on", False)
    result = invoke("kb", "build", ruler_path, source, "--db", db, "--lines", "--batch-size", "1")
    assert "added 2 " in result.output and "skipped 2 already stored" in result.output


def test_cli_explain(window_ner_path, ruler_path, tmp_path):
    out = tmp_path / "html" / "explain.html"
    result = invoke("explain", window_ner_path, TEXT, "--html", out)
    assert "John Smith (PER" in result.output and "Grad × input" in result.output and "works" in result.output
    page = out.read_text(encoding="utf8")
    assert "John Smith" in page and "title=" in page
    assert "has no window_ner component" in failed("explain", ruler_path, TEXT)
    assert "text is empty" in failed("explain", window_ner_path, "  ")


def test_cli_visualize(ruler_path, window_ner_path, gold_spacy, rel_pipeline, tmp_path):
    out = tmp_path / "viz.html"
    result = invoke("visualize", ruler_path, "Alice works for Acme in Boston.", "--html", out)
    assert "Rendered 1 docs, 3 entities, 2 relations" in result.output
    page = out.read_text(encoding="utf8")
    assert 'PER <span class="num">75.0%</span>' in page and page.count('<section class="doc"') == 1
    assert '<span class="rel">NEXT →</span>' in page and ">50.0%</span></td>" in page and 'id="legend"' in page
    # A window_rel pipeline: the legend gives each relation label's threshold.
    invoke("visualize", rel_pipeline[0], "Alice works for Acme in Paris .", "--html", out)
    assert '<span class="rel">Work_For</span> (threshold <span class="num">50.0%</span>)' in out.read_text(encoding="utf8")
    result = invoke("visualize", window_ner_path, gold_spacy, "--html", out, "--limit", "2")
    assert "Rendered 2 docs" in result.output and "PER" in out.read_text(encoding="utf8")
    lines = tmp_path / "lines.txt"
    lines.write_text("Bob lives in Paris.\n\nAlice visited Acme.\n", encoding="utf8")
    assert "Rendered 2 docs, 4 entities" in invoke("visualize", ruler_path, lines, "--html", out).output
    assert "Can't find the file" in failed("visualize", ruler_path, tmp_path / "missing.txt", "--html", out)


# ------------------------------------------------------------- outputs: atomic, never an input


@pytest.fixture(scope="module")
def rel_nlp():
    """An entity_ruler + window_rel pipeline with no tuned thresholds (2 updates), and its
    examples; trained once per module. Tests must not change it: they get it saved (rel_pipeline)."""
    nlp = make_rel_nlp()
    examples = make_rel_examples(nlp)
    train_rel(nlp, examples, n_iter=2)
    nlp.get_pipe("window_rel").cfg["thresholds"] = {}
    return nlp, examples


@pytest.fixture
def rel_pipeline(rel_nlp, tmp_path):
    """rel_nlp saved, and its dev data (the references of its examples)."""
    nlp, examples = rel_nlp
    path = tmp_path / "rel_pipeline"
    nlp.to_disk(path)
    dev = tmp_path / "dev.spacy"
    DocBin(store_user_data=True, docs=[eg.reference for eg in examples]).to_disk(dev)
    return path, dev


def thresholds(path: Path) -> dict:
    return spacy.load(path).get_pipe("window_rel").cfg["thresholds"]


@pytest.fixture
def kb_db(ruler_path, corpus, tmp_path) -> Path:
    db = tmp_path / "kb.sqlite"
    invoke("kb", "build", ruler_path, *corpus, "--db", db, "--lines")
    return db


def test_cli_tune_thresholds_in_place_and_output(rel_pipeline, tmp_path):
    model, dev = rel_pipeline
    result = invoke("tune-thresholds", model, dev)
    assert f"Saved the pipeline to {model}" in result.output
    tuned = thresholds(model)
    assert set(tuned) == {"Work_For", "Based_In", "Live_In"}
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    other = tmp_path / "tuned"
    invoke("tune-thresholds", model, dev, "--output", other)
    assert thresholds(other) == tuned
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me", encoding="utf8")
    assert "not a spaCy pipeline, and saving would replace it whole" in failed("tune-thresholds", model, dev, "--output", folder)
    assert (folder / "notes.txt").is_file()


def test_cli_tune_ner_bias(window_ner_path, gold_spacy, tmp_path):
    out = tmp_path / "biased"
    result = invoke("tune-ner-bias", window_ner_path, gold_spacy, "--low", "-2", "--high", "2", "--step", "1", "--output", out)
    assert "Saved the pipeline with recall_bias" in result.output
    rows = [line.split() for line in result.output.splitlines() if line.split() and line.split()[0] in {"-2", "-1", "0", "1", "2"}]
    assert [row[0] for row in rows] == ["-2", "-1", "0", "1", "2"]
    chosen = spacy.load(out).get_pipe("window_ner").cfg["recall_bias"]
    assert chosen in {-2.0, -1.0, 0.0, 1.0, 2.0}
    # The starred row is the chosen bias, and has the best F.
    starred = [row for row in rows if row[1] == "*"]
    assert len(starred) == 1 and float(starred[0][0]) == chosen
    assert float(starred[0][-3]) == max(float(row[-3]) for row in rows)
    assert spacy.load(window_ner_path).get_pipe("window_ner").cfg["recall_bias"] == 0.0
    assert "must not be above --high" in failed("tune-ner-bias", window_ner_path, gold_spacy, "--low", "3", "--high", "1", "--output", out)
    assert "has no component 'ner'" in failed("tune-ner-bias", window_ner_path, gold_spacy, "-c", "ner", "--output", out)
    assert "--step" in failed("tune-ner-bias", window_ner_path, gold_spacy, "--step", "0", code=2)


def test_cli_tune_thresholds_min_support_and_shrinkage(rel_pipeline, tmp_path):
    """--min-support above every label's dev support gives every label the shared threshold;
    --shrinkage moves each label's threshold toward it."""
    model, dev = rel_pipeline
    invoke("tune-thresholds", model, dev, "--shared", "--output", tmp_path / "shared")
    shared = spacy.load(tmp_path / "shared").get_pipe("window_rel").cfg["threshold"]
    invoke("tune-thresholds", model, dev, "--output", tmp_path / "own")
    own = thresholds(tmp_path / "own")
    invoke("tune-thresholds", model, dev, "--min-support", "1000", "--output", tmp_path / "support")
    assert thresholds(tmp_path / "support") == {label: shared for label in own}
    invoke("tune-thresholds", model, dev, "--shrinkage", "5", "--output", tmp_path / "shrunk")
    shrunk = thresholds(tmp_path / "shrunk")
    assert set(shrunk) == set(own)
    assert all(abs(shrunk[label] - shared) <= abs(own[label] - shared) + 1e-9 for label in own)
    assert "--min-support" in failed("tune-thresholds", model, dev, "--min-support", "-1", code=2)


def test_cli_tune_thresholds_min_threshold(rel_pipeline, tmp_path):
    """--min-threshold bounds every tuned threshold from below; a label with no correct dev
    relation at or above it keeps the threshold it had."""
    model, dev = rel_pipeline
    before = spacy.load(model).get_pipe("window_rel").thresholds  # each label's, tuned or not
    invoke("tune-thresholds", model, dev, "--min-threshold", "0", "--output", tmp_path / "none")
    invoke("tune-thresholds", model, dev, "--min-threshold", "0.9", "--output", tmp_path / "high")
    low, high = thresholds(tmp_path / "none"), thresholds(tmp_path / "high")
    assert min(low.values()) < 0.9
    assert all(value >= 0.9 or value == before[label] for label, value in high.items())
    assert high != low
    assert "--min-threshold" in failed("tune-thresholds", model, dev, "--min-threshold", "1.5", code=2)


def test_cli_tune_thresholds_cross_validate(rel_pipeline, tmp_path):
    """--cross-validate ranks every way of tuning by CV F, and the thresholds it saves are those
    of the first way, tuned on all of dev."""
    model, dev = rel_pipeline
    result = invoke("tune-thresholds", model, dev, "--cross-validate", "2", "--output", tmp_path / "cv")
    ranked = [line.rsplit(None, 1) for line in result.output.splitlines()
              if line.startswith(("shared", "per label", "min_support", "shrinkage"))]
    assert len(ranked) == len(TUNINGS)
    assert {name for name, _ in ranked} == {tuning.name for tuning in TUNINGS}
    scores = [float(f) for _, f in ranked]
    assert scores == sorted(scores, reverse=True)
    chosen = next(t for t in TUNINGS if t.name == ranked[0][0])
    assert f"Chose: {chosen.name}" in result.output
    options = ["--shared"] if chosen.shared else ["--min-support", str(chosen.min_support), "--shrinkage", str(chosen.shrinkage)]
    invoke("tune-thresholds", model, dev, *options, "--output", tmp_path / "direct")
    cv_pipe = spacy.load(tmp_path / "cv").get_pipe("window_rel")
    assert cv_pipe.thresholds == spacy.load(tmp_path / "direct").get_pipe("window_rel").thresholds
    assert "leave them out" in failed("tune-thresholds", model, dev, "--cross-validate", "2", "--shared", "--output", tmp_path / "x")
    assert "folds" in failed("tune-thresholds", model, dev, "--cross-validate", "50", "--output", tmp_path / "x")


def test_cli_copy_tuning(rel_pipeline, window_ner_path, tmp_path):
    """copy-tuning gives a pipeline the thresholds tuned for another, shared or per label, and
    refuses a pipeline that lacks the tuned component, or has nothing to tune."""
    model, dev = rel_pipeline
    for options, name in ((["--shared"], "shared"), (["--shrinkage", "5"], "own")):
        tuned = tmp_path / name
        invoke("tune-thresholds", model, dev, *options, "--output", tuned)
        final = tmp_path / f"final_{name}"
        result = invoke("copy-tuning", tuned, model, "--output", final)
        assert f"Saved the pipeline with the settings of {tuned} to {final}" in result.output
        want, got = (spacy.load(path).get_pipe("window_rel") for path in (tuned, final))
        assert got.thresholds == want.thresholds != spacy.load(model).get_pipe("window_rel").thresholds
        assert (got.cfg["threshold"], got.cfg["thresholds"]) == (want.cfg["threshold"], want.cfg["thresholds"])
    assert thresholds(model) == {}
    assert "Can't find the component 'window_rel'" in failed("copy-tuning", window_ner_path, model, "--output", tmp_path / "x")
    blank = tmp_path / "blank"
    spacy.blank("en").to_disk(blank)
    assert "no window_ner or window_rel component" in failed("copy-tuning", tmp_path / "shared", blank, "--output", tmp_path / "x")
    assert "is the input" in failed("copy-tuning", tmp_path / "shared", model, "--output", tmp_path / "shared")
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("point", ["first write", "before the swap", "after the swap", "between two renames"])
def test_cli_tune_thresholds_killed(rel_pipeline, point):
    """tune-thresholds over its pipeline, killed with SIGKILL at each step of saving: the
    pipeline at the target path still loads (old or new), or, killed between the two renames
    of the fallback swap, both are complete beside it."""
    model, dev = rel_pipeline
    result = subprocess.run([sys.executable, str(KILL_SCRIPT), point, str(model), str(dev)], capture_output=True, text=True)
    assert result.returncode == -9, result.stderr
    if point == "between two renames":
        assert not model.exists()
        (old,) = model.parent.glob(f".{model.name}.old-*")
        (new,) = model.parent.glob(f".{model.name}.tmp-*")
        assert thresholds(old) == {} and thresholds(new)
    elif point == "after the swap":
        assert thresholds(model)
    else:
        assert thresholds(model) == {}


def test_cli_refuses_output_that_is_an_input(kb_db, window_ner_path, gold_spacy, ruler_path, tmp_path):
    before = kb_db.read_bytes()
    assert "is the input" in failed("kb", "export", kb_db, "-f", "jsonl", "-o", kb_db)
    link = tmp_path / "link.sqlite"
    link.symlink_to(kb_db)
    assert "is the input" in failed("kb", "export", kb_db, "-f", "graphml", "-o", link)
    hard = tmp_path / "hard"
    os.link(kb_db, hard)
    assert "is the input" in failed("kb", "export", kb_db, "-f", "csv", "-o", hard)
    in_directory = tmp_path / "graph" / "edges.csv"  # csv writes the directory graph, replacing it whole
    in_directory.parent.mkdir()
    shutil.copy(kb_db, in_directory)
    assert "contains the input" in failed("kb", "export", in_directory, "-f", "csv", "-o", in_directory.parent)
    assert kb_db.read_bytes() == before and in_directory.read_bytes() == before
    source = tmp_path / "in.json"
    shutil.copy(ASSETS / "sample_train.json", source)
    assert "is the input" in failed("convert", source, source, "-f", "conll04")
    assert source.read_bytes() == (ASSETS / "sample_train.json").read_bytes()
    gold = gold_spacy.read_bytes()
    assert "is the input" in failed("evaluate", window_ner_path, gold_spacy, "--output", gold_spacy)
    assert gold_spacy.read_bytes() == gold
    config = (window_ner_path / "config.cfg").read_bytes()
    assert "inside the input" in failed("explain", window_ner_path, TEXT, "--html", window_ner_path / "config.cfg")
    assert "inside the input" in failed("visualize", ruler_path, "Alice met Bob.", "--html", ruler_path / "config.cfg")
    assert (window_ner_path / "config.cfg").read_bytes() == config
    lines = tmp_path / "lines.txt"
    lines.write_text("Alice met Bob.\n", encoding="utf8")
    assert "is the input" in failed("visualize", ruler_path, lines, "--html", lines)
    assert lines.read_text(encoding="utf8") == "Alice met Bob.\n"


def output_commands(out: Path, window_ner_path, gold_spacy, ruler_path, kb_db, rel_pipeline) -> dict:
    """Each command that writes, with its output at or below OUT."""
    model, dev = rel_pipeline
    return {
        "convert": ["convert", ASSETS / "sample_train.json", out / "train.spacy", "-f", "conll04"],
        "evaluate": ["evaluate", window_ner_path, gold_spacy, "--output", out / "scores.json"],
        "tune-thresholds": ["tune-thresholds", model, dev, "--output", out / "tuned"],
        "tune-ner-bias": ["tune-ner-bias", window_ner_path, gold_spacy, "--output", out / "biased"],
        "kb export": ["kb", "export", kb_db, "-f", "csv", "-o", out / "graph.csv"],
        "explain": ["explain", window_ner_path, TEXT, "--html", out / "explain.html"],
        "visualize": ["visualize", ruler_path, "Alice met Bob.", "--html", out / "viz.html"],
    }


def test_cli_output_below_a_file(window_ner_path, gold_spacy, ruler_path, kb_db, rel_pipeline, tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("a file, not a folder", encoding="utf8")
    for name, args in output_commands(blocker / "sub", window_ner_path, gold_spacy, ruler_path, kb_db, rel_pipeline).items():
        message = failed(*args)
        assert f"{blocker} is a file, not a directory" in message, name


def test_cli_output_read_only(window_ner_path, gold_spacy, ruler_path, kb_db, rel_pipeline, mount_tmpfs):
    point = mount_tmpfs("size=16m")
    model, dev = rel_pipeline
    in_place = point / "pipeline"
    shutil.copytree(model, in_place)
    remount(point, "ro")
    commands = output_commands(point / "out", window_ner_path, gold_spacy, ruler_path, kb_db, rel_pipeline)
    commands["tune-thresholds in place"] = ["tune-thresholds", in_place, dev]
    for name, args in commands.items():
        assert "Read-only file system" in failed(*args), name
    assert thresholds(in_place) == {}


def test_cli_output_full_disk(kb_db, rel_pipeline, mount_tmpfs):
    point = mount_tmpfs("size=16m")
    model, dev = rel_pipeline
    in_place = point / "pipeline"
    shutil.copytree(model, in_place)
    graph = point / "graph.jsonl"
    graph.write_text("old\n", encoding="utf8")
    fill(point)
    assert "No space left on device" in failed("tune-thresholds", in_place, dev)
    assert thresholds(in_place) == {}
    assert "No space left on device" in failed("convert", ASSETS / "sample_train.json", point / "train.spacy", "-f", "conll04")
    assert not (point / "train.spacy").exists()
    assert "No space left on device" in failed("kb", "export", kb_db, "-f", "jsonl", "-o", graph)
    assert graph.read_text(encoding="utf8") == "old\n"
    assert not [p.name for p in point.iterdir() if p.name.startswith(".")]


def test_cli_convert_nothing_to_write(tmp_path):
    rejected = tmp_path / "rejected.jsonl"
    record = {"tokens": [{"text": "IL-2", "ws": False}], "spans": [], "relations": [], "answer": "reject"}
    rejected.write_text("\n".join(json.dumps(record) for _ in range(3)) + "\n", encoding="utf8")
    out = tmp_path / "out.spacy"
    message = failed("convert", rejected, out, "-f", "prodigy")
    assert "No document to write" in message and "3 rejected records" in message and "Nothing was written" in message
    empty = tmp_path / "empty.json"
    empty.write_text("[]", encoding="utf8")
    assert "No document to write" in failed("convert", empty, out, "-f", "conll04")
    assert not out.exists()

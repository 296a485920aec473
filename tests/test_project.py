"""The spaCy project workflow, run the way a user runs it, in a copy of the project."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import spacy
from spacy.tokens import DocBin
from spacy.training import Example

from .mirrors import mirror_source

REPO = Path(__file__).parent.parent
PROJECT_FILES = ["project.yml", "configs", "scripts", "assets/sample"]
CONLL04 = ["conll04_train.json", "conll04_dev.json", "conll04_test.json"]
# What the sample-trained pipeline must beat on the sample test split. A pipeline that predicts
# nothing, or noise, scores far below these (measured: ents_f 0.78, rel_micro_f 0.56).
FLOOR_ENTS_F = 0.6
FLOOR_REL_F = 0.3


def spacy_project(project: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "spacy", "project", *args],
        cwd=project, capture_output=True, text=True,
    )


def copy_project(target: Path) -> Path:
    for name in PROJECT_FILES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, target / name)
        else:
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, target / name)
    return target


@pytest.fixture(scope="module")
def trained_project(tmp_path_factory):
    project = copy_project(tmp_path_factory.mktemp("project"))
    result = spacy_project(project, "run", "train")
    assert result.returncode == 0, result.stdout + result.stderr
    return project


@pytest.mark.slow
def test_project_train_workflow_gives_a_working_pipeline(trained_project):
    nlp = spacy.load(trained_project / "training" / "sample" / "pipeline")
    assert nlp.pipe_names == ["window_ner", "window_rel"]
    docs = DocBin().from_disk(trained_project / "corpus" / "sample" / "test.spacy").get_docs(nlp.vocab)
    examples = [Example(nlp.make_doc(doc.text), doc) for doc in docs]
    scores = nlp.evaluate(examples)
    assert scores["ents_f"] >= FLOOR_ENTS_F, scores
    assert scores["rel_micro_f"] >= FLOOR_REL_F, scores
    doc = nlp("Samuel Quinn was arrested in the Hilton Hotel in Paris in April 1989.")
    assert len(doc.ents) and len(doc.spans["window_ner"].attrs["scores"]) == len(doc.spans["window_ner"])
    # The final models trained on train + dev, with the thresholds tuned for those trained on train.
    corpus = trained_project / "corpus" / "sample"
    assert sorted(path.name for path in (corpus / "train_dev").iterdir()) == ["dev.spacy", "train.spacy"]
    for split in ("train", "dev"):
        assert (corpus / "train_dev" / f"{split}.spacy").read_bytes() == (corpus / f"{split}.spacy").read_bytes()
    tuned = spacy.load(trained_project / "training" / "sample" / "tuned").get_pipe("window_rel")
    assert nlp.get_pipe("window_rel").thresholds == tuned.thresholds
    assert nlp.get_pipe("window_rel").cfg["threshold"] == tuned.cfg["threshold"]


@pytest.mark.slow
def test_project_evaluate_writes_metrics(trained_project):
    result = spacy_project(trained_project, "run", "evaluate")
    assert result.returncode == 0, result.stdout + result.stderr
    metrics = json.loads((trained_project / "metrics" / "sample.json").read_text())
    for key in ("ents_p", "ents_r", "ents_f", "ents_per_type", "rel_micro_p", "rel_micro_r", "rel_micro_f", "rel_per_type"):
        assert key in metrics
    assert set(metrics["rel_per_type"]) <= {"Work_For", "Live_In", "Located_In", "OrgBased_In", "Kill"}
    assert "rel_micro_f" in result.stdout


@pytest.mark.slow
def test_project_package_builds_both_wheels_that_install_alone(trained_project, tmp_path):
    """`package` puts the pipeline's wheel, named after the dataset, beside the wheel of
    spacy-window-ner that it requires. Installed alone (pip --no-index --no-deps --target) and
    imported without this environment's site-packages processing (python -S, so the editable
    install of the repo is invisible; spaCy and its dependencies come from PYTHONPATH), the two
    wheels load and run the pipeline."""
    from packaging.requirements import Requirement
    from packaging.utils import parse_wheel_filename

    result = spacy_project(trained_project, "run", "package", ".", "--vars.plugin_dir", str(REPO))
    assert result.returncode == 0, result.stdout + result.stderr
    # With `build` installed (the `project` extra), spaCy doesn't warn that packaging without it
    # is deprecated, and the quiet builds print no setuptools warning either.
    assert "deprecated" not in result.stdout + result.stderr
    assert "warning" not in (result.stdout + result.stderr).lower(), result.stdout + result.stderr
    dist = trained_project / "packages" / "dist"
    pipeline_wheels = list(dist.glob("en_window_ner_sample-0.1.0-*.whl"))
    plugin_wheels = list(dist.glob("spacy_window_ner-*.whl"))
    assert len(pipeline_wheels) == 1 and len(plugin_wheels) == 1, list(dist.iterdir())
    meta = json.loads((trained_project / "packages" / "en_window_ner_sample-0.1.0" / "meta.json").read_text())
    requirement = next(Requirement(req) for req in meta["requirements"] if req.startswith("spacy-window-ner"))
    assert requirement.specifier.contains(parse_wheel_filename(plugin_wheels[0].name)[1])
    target = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-index", "--no-deps", "--target", str(target),
         str(pipeline_wheels[0]), str(plugin_wheels[0])],
        capture_output=True, text=True,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    site_packages = Path(spacy.__file__).parent.parent
    code = (
        "import spacy, spacy_window_ner; nlp = spacy.load('en_window_ner_sample'); "
        "doc = nlp('Samuel Quinn was arrested in the Hilton Hotel in Paris in April 1989.'); "
        "print(spacy_window_ner.__file__); print(nlp.pipe_names)"
    )
    run = subprocess.run(
        [sys.executable, "-S", "-c", code], capture_output=True, text=True, cwd=tmp_path,
        env={"PYTHONPATH": f"{target}{os.pathsep}{site_packages}", "PATH": os.environ.get("PATH", "")},
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.splitlines()[0].startswith(str(target))
    assert run.stdout.splitlines()[1] == "['window_ner', 'window_rel']"


@pytest.mark.slow
def test_project_rerun_skips_finished_steps(trained_project):
    result = spacy_project(trained_project, "run", "train")
    assert result.returncode == 0
    assert result.stdout.count("Skipping") >= 3, result.stdout


# Since issue 28, lever 1: window_ner stacked on en_core_web_md's ner, assembled by joint_stacked.cfg.
STRONG_ROUTE = ["--vars.ner_config", "window_ner_md_stacked", "--vars.joint_config", "joint_stacked",
                "--vars.rel_config", "window_rel_sm"]


def train_command(stdout: str, config: str, final: bool = False) -> str:
    """The `spacy train` line of a dry run's output that trains `config`: the run that chooses
    on dev, or the final run on train + dev."""
    lines = [line for line in stdout.splitlines() if f"spacy train {config} " in line]
    assert len(lines) == 2, lines
    return lines[final]


def test_project_strong_route_passes_the_sources(tmp_path):
    """The strong route is vars only: window_ner_md_stacked.cfg from en_core_web_md and window_rel_sm.cfg
    from en_core_web_sm by their official names, which --vars.source and --vars.rel_source
    replace (by the mirrors, here); the default route passes the source to its scratch configs,
    which ignore it (their [paths] source is null)."""
    project = copy_project(tmp_path / "project")
    result = spacy_project(project, "run", "all", ".", "--dry", "--vars.dataset", "conll04", *STRONG_ROUTE)
    assert result.returncode == 0, result.stdout + result.stderr
    ner = train_command(result.stdout, "configs/window_ner_md_stacked.cfg")
    assert "--paths.source en_core_web_md " in ner and "training/conll04/ner" in ner
    assert "--paths.source en_core_web_sm " in train_command(result.stdout, "configs/window_rel_sm.cfg")
    for config, source in (("window_ner_md_stacked", "en_core_web_md"), ("window_rel_sm", "en_core_web_sm")):
        final = train_command(result.stdout, f"configs/{config}.cfg", final=True)
        assert f"--paths.source {source} " in final and "--paths.train corpus/conll04/train_dev " in final
        assert "--training.patience 0 " in final
    assert "spacy assemble configs/joint_stacked.cfg training/conll04/untuned" in result.stdout
    assert "--paths.vectors" not in result.stdout  # joint_stacked.cfg copies the NER's vectors
    md, sm = mirror_source("en_core_web_md"), mirror_source("en_core_web_sm")
    result = spacy_project(project, "run", "train", ".", "--dry", *STRONG_ROUTE, "--vars.source", md, "--vars.rel_source", sm)
    assert f"--paths.source {md} " in train_command(result.stdout, "configs/window_ner_md_stacked.cfg")
    assert f"--paths.source {sm} " in train_command(result.stdout, "configs/window_rel_sm.cfg")
    result = spacy_project(project, "run", "train", ".", "--dry")
    assert "--paths.source en_core_web_md " in train_command(result.stdout, "configs/window_ner.cfg")
    for config in ("window_ner", "window_rel"):
        assert spacy.util.load_config(project / "configs" / f"{config}.cfg")["paths"]["source"] is None


@pytest.mark.slow
def test_project_strong_route_carries_the_vectors(tmp_path):
    """The strong route, a few steps on the sample, with the mirrors passed as vars: the assembled
    pipeline has the NER's static vectors (en_core_web_md's), and its ner, whose entities its
    window_ner reads; it predicts the entities of the NER pipeline it was assembled from, with
    window_ner's labels only, and scores relations."""
    md, sm = mirror_source("en_core_web_md"), mirror_source("en_core_web_sm")
    pytest.importorskip(md)
    pytest.importorskip(sm)
    project = copy_project(tmp_path / "project")
    result = spacy_project(project, "run", "train", ".", *STRONG_ROUTE, "--vars.source", md, "--vars.rel_source", sm,
                           "--vars.max_steps", "100")
    assert result.returncode == 0, result.stdout + result.stderr
    training = project / "training" / "sample"
    nlp = spacy.load(training / "pipeline")
    ner = spacy.load(training / "final_ner" / "model-last")
    assert nlp.pipe_names == ["ner", "window_ner", "window_rel"]
    assert ner.vocab.vectors.shape == (20000, 300)  # en_core_web_md 3.7.1's
    assert nlp.vocab.vectors.shape == ner.vocab.vectors.shape
    assert nlp.vocab.vectors.to_bytes(exclude=["strings"]) == ner.vocab.vectors.to_bytes(exclude=["strings"])
    docs = list(DocBin().from_disk(project / "corpus" / "sample" / "dev.spacy").get_docs(nlp.vocab))
    scores = nlp.evaluate([Example(nlp.make_doc(doc.text), doc) for doc in docs])
    ner_scores = ner.evaluate([Example(ner.make_doc(doc.text), doc) for doc in docs])
    assert scores["ents_f"] == ner_scores["ents_f"] > 0, (scores, ner_scores)
    predicted = list(nlp.pipe(doc.text for doc in docs))
    assert [[(e.start, e.end, e.label_) for e in doc.ents] for doc in predicted] == [
        [(e.start, e.end, e.label_) for e in doc.ents] for doc in ner.pipe(doc.text for doc in docs)
    ]
    assert {e.label_ for doc in predicted for e in doc.ents} <= set(nlp.get_pipe("window_ner").labels)
    assert scores["rel_micro_f"] is not None
    rel = nlp.get_pipe("window_rel")
    assert sum(len(doc_scores) for doc_scores in rel.predict(predicted).scores) > 0


@pytest.fixture
def mirror(tmp_path, data_dir):
    source = data_dir / "conll04"
    if not all((source / name).exists() for name in CONLL04):
        pytest.skip(f"CoNLL04 is not in {source} (set SPACY_WINDOW_NER_DATA)")
    target = tmp_path / "mirror"
    target.mkdir()
    for name in CONLL04:
        shutil.copy(source / name, target / name)
    return target


@pytest.mark.slow
def test_project_assets_from_local_mirror_are_checked(tmp_path, mirror):
    project = copy_project(tmp_path / "project")
    result = spacy_project(project, "assets", ".", "--vars.conll04_base", str(mirror))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Checksum doesn't match" not in result.stdout
    for name in CONLL04:
        assert (project / "assets" / "conll04" / name).read_bytes() == (mirror / name).read_bytes()
    result = spacy_project(project, "run", "convert", ".", "--vars.dataset", "conll04")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "train: 922 docs" in result.stdout
    # The whole workflow on CoNLL04, cut short: it trains, evaluates and packages.
    result = spacy_project(
        project, "run", "all", ".", "--vars.dataset", "conll04", "--vars.max_steps", "20", "--vars.plugin_dir", str(REPO)
    )
    assert result.returncode == 0, result.stdout + result.stderr
    metrics = json.loads((project / "metrics" / "conll04.json").read_text())
    assert "ents_f" in metrics and "rel_micro_f" in metrics


def test_project_refuses_a_corrupted_asset(tmp_path, mirror):
    project = copy_project(tmp_path / "project")
    with (mirror / "conll04_dev.json").open("a") as f:
        f.write(" ")
    result = spacy_project(project, "assets", ".", "--vars.conll04_base", str(mirror))
    assert "Checksum doesn't match" in result.stdout
    result = spacy_project(project, "run", "convert", ".", "--vars.dataset", "conll04")
    assert result.returncode != 0
    assert "Refusing assets/conll04/conll04_dev.json" in result.stderr
    assert not (project / "corpus" / "conll04" / "dev.spacy").exists()


def test_project_missing_asset_names_the_command_that_fetches_it(tmp_path):
    project = copy_project(tmp_path / "project")
    result = spacy_project(project, "run", "convert", ".", "--vars.dataset", "conll04")
    assert result.returncode != 0
    assert "assets" in result.stdout + result.stderr
    result = subprocess.run(
        [sys.executable, "scripts/convert.py", "conll04", "corpus/conll04"],
        cwd=project, capture_output=True, text=True,
    )
    assert result.returncode == 1
    assert "spacy project assets" in result.stderr and "Traceback" not in result.stderr


def test_project_refuses_an_empty_split(tmp_path):
    project = copy_project(tmp_path / "project")
    (project / "assets" / "empty").mkdir()
    for split in ("train", "dev", "test"):
        (project / "assets" / "empty" / f"empty_{split}.json").write_text("[]\n")
    result = spacy_project(project, "run", "train", ".", "--vars.dataset", "empty")
    assert result.returncode != 0
    assert "holds no usable documents" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_project_converts_prodigy_jsonl_and_spacy_inputs(tmp_path):
    """`--vars.format prodigy` reads assets/NAME/NAME_{split}.jsonl (Prodigy), `--vars.format spacy`
    takes .spacy files as they are (from `spacy convert`); datasets without a checksum in
    project.yml are not checked. The format names are those of `spacy-window-ner convert`."""
    project = copy_project(tmp_path / "project")
    record = {"text": "Alice works for Acme.", "answer": "accept",
              "tokens": [{"text": t, "ws": ws} for t, ws in [("Alice", True), ("works", True), ("for", True), ("Acme", False), (".", False)]],
              "spans": [{"token_start": 0, "token_end": 0, "label": "Peop"}, {"token_start": 3, "token_end": 3, "label": "Org"}],
              "relations": [{"head": 0, "child": 3, "label": "Work_For"}]}
    iob = tmp_path / "mine.iob"
    iob.write_text("Alice|B-Peop works|O for|O Acme|B-Org in|O Paris|B-Loc .|O\n")
    convert = subprocess.run([sys.executable, "-m", "spacy", "convert", str(iob), str(tmp_path), "--converter", "iob"],
                             capture_output=True, text=True)
    assert convert.returncode == 0, convert.stdout + convert.stderr
    for name, file_format, ext in (("pj", "prodigy", "jsonl"), ("sp", "spacy", "spacy")):
        (project / "assets" / name).mkdir()
        for split in ("train", "dev", "test"):
            target = project / "assets" / name / f"{name}_{split}.{ext}"
            if ext == "jsonl":
                target.write_text(json.dumps(record) + "\n")
            else:
                shutil.copy(tmp_path / "mine.spacy", target)
        result = spacy_project(project, "run", "convert", ".", "--vars.dataset", name, "--vars.format", file_format)
        assert result.returncode == 0, result.stdout + result.stderr
        docs = list(DocBin().from_disk(project / "corpus" / name / "dev.spacy").get_docs(spacy.blank("en").vocab))
        assert [(e.text, e.label_) for e in docs[0].ents][:2] == [("Alice", "Peop"), ("Acme", "Org")]
    assert "train: 1 docs, 2 entities, 1 relations" in spacy_project(
        project, "run", "convert", ".", "--vars.dataset", "pj", "--vars.format", "prodigy", "--force").stdout
    # The old names (file extensions) are refused, with the three names in one line.
    result = spacy_project(project, "run", "convert", ".", "--vars.dataset", "pj", "--vars.format", "jsonl", "--force")
    assert result.returncode != 0
    assert "Unknown --format 'jsonl': use one of conll04, prodigy, spacy." in result.stderr, result.stderr
    # A dataset of one's own whose files are missing: where to put them, not a fetch command.
    (project / "assets" / "mine").mkdir()
    result = spacy_project(project, "run", "convert", ".", "--vars.dataset", "mine", "--vars.format", "prodigy")
    assert result.returncode != 0
    assert "Missing assets/mine/mine_train.jsonl. Put the dataset's splits at assets/mine/mine_{train,dev,test}.EXT" in result.stderr
    assert "jsonl for prodigy" in result.stderr and "Traceback" not in result.stderr

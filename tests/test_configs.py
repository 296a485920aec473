"""Every shipped config is complete: `spacy debug config` and `spacy debug data` pass on the
embedded sample corpus (spaCy's own functions, in-process)."""
import re
from pathlib import Path

import pytest
import spacy
import srsly
from spacy.cli.debug_config import debug_config
from spacy.cli.debug_data import debug_data
from spacy.training import Corpus

from benchmarks import MIRRORS, source_overrides
from spacy_window_ner.corpus import create_gold_ents_reader
from spacy_window_ner.readers import read_conll04, write_docbin

REPO = Path(__file__).parent.parent
CONFIGS = sorted((REPO / "configs").glob("*.cfg"))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """The sample's train and dev splits as .spacy (as scripts/convert.py writes them), and an
    initialized window_ner and window_rel pipeline for joint.cfg to source."""
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
    return path


def overrides(config: Path, corpus: Path):
    values = {"paths.train": str(corpus / "train.spacy"), "paths.dev": str(corpus / "dev.spacy")}
    text = config.read_text()
    source = source_overrides(config)
    if source:
        pytest.importorskip(source[1])
        values["paths.source"] = source[1]
    if "paths.ner_model" in text:
        values.update({"paths.ner_model": str(corpus / "window_ner"), "paths.rel_model": str(corpus / "window_rel")})
    return values


def test_configs_are_all_checked():
    assert {"window_ner", "window_rel", "joint", "sm_beside_ner", "sm_instead_of_ner", "sm_listening"} <= {
        config.stem for config in CONFIGS
    }


# en_core_web_md's mirror is version 3.7.1: spaCy 3.8 loads it with W095 (README.md, Install).
@pytest.mark.filterwarnings(r"ignore:\[W095\]:UserWarning")
@pytest.mark.parametrize("config", CONFIGS, ids=[config.stem for config in CONFIGS])
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
    use come in as overrides (benchmarks.mirror_source), never as a default."""
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

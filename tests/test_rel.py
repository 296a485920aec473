import json
import os
import subprocess
import sys
import tracemalloc
import warnings
from collections import Counter

import numpy
import pytest
import spacy
import srsly
from spacy.lang.en import English
from spacy.tokens import Doc, DocBin, Span
from spacy.training import Corpus, Example
from spacy.util import registry
from thinc.api import Config, fix_random_seed

from spacy_window_ner.candidates import DROPPED_KEY, Candidates, NearbyPairs, ScoredCandidates
from spacy_window_ner.evaluation import gold_entities
from spacy_window_ner.layers.pair_features import CandidateColumn
from spacy_window_ner.legacy.candidates import make_rel_candidates_v1 as make_rel_candidates
from spacy_window_ner.rel import WindowRel
from spacy_window_ner.relations import Relation, get_relations, relation_tuples, set_relations
from spacy_window_ner.scorers import score_relations
from spacy_window_ner.tuning import dev_scores, relation_f, relation_prf, tune_pipeline_thresholds, tune_thresholds

from .util import REL_PATTERNS as PATTERNS, REL_SMALL_MODEL as SMALL_MODEL, REL_TRAIN_DATA as TRAIN_DATA
from .util import make_rel_examples as make_examples, make_rel_nlp as make_nlp, make_rel_reference as make_reference
from .util import rel_expected_tuples as expected_tuples, train_rel as train

# entity_ruler.initialize drops its patterns; tests that need them add them afterwards.
pytestmark = pytest.mark.filterwarnings("ignore:\\[W036\\]")

def predictions(nlp, texts):
    return [sorted(relation_tuples(doc)) for doc in nlp.pipe(texts)]


def targets(rel, examples):
    return rel.get_targets(examples, rel.training_candidates(examples))


def pairs_of(rel, doc):
    return rel.make_candidates([doc]).pairs[0]


def test_rel_overfitting_IO(tmp_path):
    nlp = make_nlp()
    examples = make_examples(nlp)
    losses = train(nlp, examples)
    assert losses["window_rel"] < 0.05
    texts = [text for text, _, _ in TRAIN_DATA]
    expected = expected_tuples(nlp)
    assert predictions(nlp, texts) == expected
    docs = list(nlp.pipe(texts))
    scores = [[round(r.score, 6) for r in get_relations(doc)] for doc in docs]
    assert all(0.5 <= s <= 1.0 for doc_scores in scores for s in doc_scores)
    # Disk roundtrip.
    nlp.to_disk(tmp_path / "model")
    nlp2 = spacy.load(tmp_path / "model")
    assert predictions(nlp2, texts) == expected
    assert [[round(r.score, 6) for r in get_relations(doc)] for doc in nlp2.pipe(texts)] == scores
    # Bytes roundtrip.
    nlp3 = make_nlp()
    nlp3.from_bytes(nlp.to_bytes())
    assert predictions(nlp3, texts) == expected
    assert nlp3.get_pipe("window_rel").cfg == nlp.get_pipe("window_rel").cfg
    # A fresh process that finds the component through the entry points only.
    script = (
        "import json, spacy, sys; nlp = spacy.load(sys.argv[1]); "
        "from spacy_window_ner.relations import relation_tuples; "
        "print(json.dumps([sorted(relation_tuples(d)) for d in nlp.pipe(json.loads(sys.argv[2]))]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "model"), json.dumps(texts)],
        capture_output=True, text=True, check=True,
    )
    assert [[tuple(key) for key in doc] for doc in json.loads(out.stdout)] == expected
    # Evaluation with the gold entities on the predicted docs.
    scores = nlp.evaluate(make_examples(nlp, gold_ents_on_predicted=True))
    assert scores["rel_micro_f"] == 1.0
    assert set(scores["rel_per_type"]) == {"Work_For", "Based_In", "Live_In"}


def test_rel_trains_on_predicted_ents_like_gold():
    """Gold entities copied onto the predicted docs and gold entities aligned from the
    reference give the same targets."""
    nlp = make_nlp()
    nlp.initialize(lambda: make_examples(nlp))
    rel = nlp.get_pipe("window_rel")
    aligned, _ = targets(rel, make_examples(nlp))
    copied, known = targets(rel, make_examples(nlp, gold_ents_on_predicted=True))
    assert known.all()
    numpy.testing.assert_array_equal(aligned, copied)
    # 3 * 2 + 3 * 2 + 2 * 1 candidates, 4 gold relations.
    assert aligned.shape == (14, 3)
    assert aligned.sum() == 4


def test_rel_targets_are_strict_about_entity_labels():
    """A candidate whose spans match a gold relation but whose entity has another type is a
    negative, as the scorer counts it."""
    nlp = make_nlp()
    nlp.initialize(lambda: make_examples(nlp))
    rel = nlp.get_pipe("window_rel")
    examples = make_examples(nlp, gold_ents_on_predicted=True)
    predicted = examples[0].predicted
    # Acme predicted as a LOC: "Alice Work_For Acme" and "Acme Based_In Paris" are lost.
    predicted.ents = [Span(predicted, e.start, e.end, label="LOC" if e.text == "Acme" else e.label_) for e in predicted.ents]
    gold, known = targets(rel, examples)
    assert known.all()
    assert gold[:6].sum() == 0
    assert gold.sum() == 2


def test_rel_add_pipe_without_config():
    nlp = English()
    rel = nlp.add_pipe("window_rel")
    assert isinstance(rel, WindowRel)
    assert rel.cfg["threshold"] is None and rel.cfg["spans_key"] is None
    assert rel.candidates.max_distance == 100 and rel.candidates.max_candidates_per_doc == 2000
    assert "max_distance" not in rel.cfg
    assert rel.model.name == "window_rel"


def test_rel_explicit_labels():
    nlp = make_nlp()
    labels = {"relations": ["Work_For", "Based_In", "Live_In", "Kill"], "entities": ["PER", "ORG", "LOC"]}
    rel = nlp.get_pipe("window_rel")
    rel.initialize(lambda: make_examples(nlp), nlp=nlp, labels=labels)
    assert rel.labels == ("Work_For", "Based_In", "Live_In", "Kill")
    assert rel.label_data == labels
    assert rel.model.get_ref("scorer").get_dim("nO") == 4


def test_rel_initialize_from_one_corpus_generator_says_it_is_used_up(tmp_path):
    """The recipe for adding both components to a pipeline, with `examples` read as
    Corpus(path)(nlp): a generator, used up by the first call of get_examples(). The error names
    the cause and the fix (a list), and the fix initializes both."""
    nlp = English()
    path = tmp_path / "train.spacy"
    DocBin(docs=[example.reference for example in make_examples(nlp)], store_user_data=True).to_disk(path)
    nlp.add_pipe("window_ner")
    nlp.add_pipe("window_rel", config={"model": SMALL_MODEL})
    examples = Corpus(path)(nlp)
    for name in ("window_ner", "window_rel"):
        with pytest.raises(ValueError) as err:
            nlp.get_pipe(name).initialize(lambda: examples, nlp=nlp)
        message = str(err.value)
        assert message.startswith(f"{name}.initialize got no examples: get_examples() returned an empty iterable."), message
        assert "Corpus(path)(nlp)" in message and "examples = list(Corpus(path)(nlp))" in message
        assert "found no relation labels" not in message
    examples = list(Corpus(path)(nlp))
    for name in ("window_ner", "window_rel"):
        nlp.get_pipe(name).initialize(lambda: examples, nlp=nlp)
    assert set(nlp.get_pipe("window_ner").labels) == {"PER", "ORG", "LOC"}
    assert set(nlp.get_pipe("window_rel").labels) == {"Work_For", "Based_In", "Live_In"}


def test_rel_no_labels_raises():
    nlp = make_nlp()
    examples = make_examples(nlp, [(TRAIN_DATA[2][0], TRAIN_DATA[2][1], [])])
    with pytest.raises(ValueError, match="no relation labels"):
        nlp.initialize(lambda: examples)


def test_rel_no_entities_raises():
    nlp = English()
    nlp.add_pipe("window_rel", config={"model": SMALL_MODEL})
    examples = [Example(nlp.make_doc("No entities here ."), nlp.make_doc("No entities here ."))]
    with pytest.raises(ValueError, match="no entities"):
        nlp.get_pipe("window_rel").initialize(lambda: examples, labels=["Work_For"])


def test_rel_unknown_label_at_update_raises():
    nlp = make_nlp()
    nlp.get_pipe("window_rel").initialize(lambda: make_examples(nlp), labels=["Work_For"])
    with pytest.raises(ValueError, match="does not know"):
        nlp.update(make_examples(nlp))


def test_rel_docs_without_relation_annotation_are_missing():
    nlp = make_nlp()
    nlp.initialize(lambda: make_examples(nlp))
    rel = nlp.get_pipe("window_rel")
    example = make_examples(nlp)[0]
    example.reference._.swn_relations = None  # no relation annotation
    _, known = targets(rel, [example])
    assert not known.any()


@pytest.mark.parametrize("n_ents", [0, 1])
def test_rel_docs_with_few_entities(n_ents):
    nlp = make_nlp()
    nlp.initialize(lambda: make_examples(nlp))
    rel = nlp.get_pipe("window_rel")
    doc = nlp.make_doc("Alice sleeps .")
    doc.ents = [Span(doc, 0, 1, label="PER")][:n_ents]
    assert pairs_of(rel, doc).shape == (0, 2)
    scored = rel.predict([doc])
    assert scored.scores[0].shape == (0, 3)
    rel.set_annotations([doc], scored)
    assert get_relations(doc) == []
    assert nlp("").ents == () and get_relations(nlp("")) == []
    losses = nlp.update([Example(doc, doc)])
    assert losses["window_rel"] == 0.0


def test_rel_many_entities_stay_bounded():
    nlp = make_nlp(candidates={"@misc": "spacy-window-ner.rel_candidates.v1", "max_candidates_per_doc": 500})
    nlp.initialize(lambda: make_examples(nlp))
    rel = nlp.get_pipe("window_rel")
    doc = nlp.make_doc(" ".join(["Alice and"] * 300))
    doc.ents = [Span(doc, 2 * i, 2 * i + 1, label="PER") for i in range(300)]
    with pytest.warns(UserWarning, match="keep the 500 nearest entity pairs per doc"):  # the cap cuts
        pairs = pairs_of(rel, doc)
        scored = rel.predict([doc])
        rel.set_annotations([doc], scored)
        n_relations = len(get_relations(doc))
        losses = nlp.update([Example(doc, doc)])
    assert len(pairs) == 500
    gaps = numpy.abs(pairs[:, 0] - pairs[:, 1])
    # The nearest pairs are kept: all 598 neighbour pairs can't fit, so every kept pair is one.
    assert (gaps == 1).all()
    assert scored.scores[0].shape == (500, 3)
    assert n_relations <= 500 * 3
    assert numpy.isfinite(losses["window_rel"])


def test_rel_targets_of_many_entities_need_no_square_table():
    """The targets of a training doc with 5,000 entities are looked up among its candidates
    (2,000 per block of 1,000 tokens), without an entities x entities table (200 MB here)."""
    nlp = make_nlp()
    nlp.initialize(lambda: make_examples(nlp))
    rel = nlp.get_pipe("window_rel")
    n = 5000
    reference = nlp.make_doc(" ".join(["Alice Acme"] * n))
    spans = [Span(reference, 2 * i, 2 * i + 1, label="PER") for i in range(n)]
    reference.ents = spans
    set_relations(reference, [Relation(spans[0], spans[1], "Work_For", 1.0)])
    example = Example(nlp.make_doc(reference.text), reference)
    tracemalloc.start()
    try:
        with pytest.warns(UserWarning, match="keep the 2000 nearest entity pairs per 1000 tokens"):
            gold, known = targets(rel, [example])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert gold.shape == (10 * 2000, 3) and known.all()
    assert gold.sum() == 1.0 and gold[0, rel.labels.index("Work_For")] == 1.0
    assert peak < 2000 * n  # bytes: spans, dicts and the candidates, nothing of n * n


def test_rel_candidates_use_sentences():
    nlp = make_nlp()
    nlp.initialize(lambda: make_examples(nlp))
    rel = nlp.get_pipe("window_rel")
    doc = Doc(nlp.vocab, words=["Alice", "works", ".", "Acme", "in", "Paris"],
              sent_starts=[True, False, False, True, False, False])
    doc.ents = [Span(doc, 0, 1, label="PER"), Span(doc, 3, 4, label="ORG"), Span(doc, 5, 6, label="LOC")]
    assert pairs_of(rel, doc).tolist() == [[1, 2], [2, 1]]


def test_rel_tune_thresholds():
    nlp = make_nlp()
    examples = make_examples(nlp)
    train(nlp, examples, n_iter=30)
    rel = nlp.get_pipe("window_rel")
    thresholds = tune_thresholds(rel, make_examples(nlp))
    assert set(thresholds) == set(rel.labels)
    assert rel.cfg["thresholds"] == thresholds
    assert all(0.01 <= t <= 0.99 for t in thresholds.values())
    scores = nlp.evaluate(make_examples(nlp, gold_ents_on_predicted=True))
    assert scores["rel_micro_f"] == 1.0


def test_rel_tune_shared_threshold(tmp_path):
    """shared=True picks one threshold for all labels, the one with the best micro F1."""
    nlp = make_nlp()
    examples = make_examples(nlp)
    train(nlp, examples, n_iter=3)
    rel = nlp.get_pipe("window_rel")
    dev = make_examples(nlp, gold_ents_on_predicted=True)
    thresholds = tune_thresholds(rel, dev, shared=True)
    assert set(thresholds) == set(rel.labels) and len(set(thresholds.values())) == 1

    assert rel.cfg["threshold"] == thresholds[rel.labels[0]]

    def micro_f(threshold):
        rel.cfg["threshold"] = threshold
        return nlp.evaluate(make_examples(nlp, gold_ents_on_predicted=True))["rel_micro_f"]

    best = micro_f(thresholds[rel.labels[0]])
    assert best > 0
    assert all(best >= micro_f(t) - 1e-9 for t in numpy.linspace(0.01, 0.99, 25))
    DocBin(store_user_data=True, docs=[eg.reference for eg in examples]).to_disk(tmp_path / "dev.spacy")
    rel.cfg["threshold"] = None
    registry.misc.get("spacy-window-ner.tune_rel_thresholds.v1")(tmp_path / "dev.spacy", shared=True)(nlp)
    assert rel.thresholds == thresholds


def test_rel_dev_scores_count_as_the_scorer():
    """relation_f on dev_scores gives the scorer's strict micro and macro F, gold relations
    that no candidate covers included."""
    nlp = make_nlp()
    train(nlp, make_examples(nlp), n_iter=3)
    rel = nlp.get_pipe("window_rel")
    examples = make_examples(nlp, gold_ents_on_predicted=True)
    # A wrong entity: Acme as a LOC, so its relations can't be right.
    predicted = examples[0].predicted
    predicted.ents = [predicted.ents[0], Span(predicted, 3, 4, label="LOC"), predicted.ents[2]]
    scores = dev_scores(rel, examples)
    assert scores.n_gold.sum() == 4 and scores.gold.sum() == 2
    for thresholds in ([0.5] * 3, [0.2, 0.6, 0.9], [0.01] * 3):
        rel.cfg["thresholds"] = dict(zip(rel.labels, thresholds))
        docs = [eg.predicted for eg in examples]
        rel.set_annotations(docs, rel.predict(docs))
        official = score_relations(examples)
        assert relation_f(scores, thresholds) == pytest.approx((official["rel_micro_f"], official["rel_macro_f"]))
    # With typed labels, the zeros they give are never predicted, by the counts or the pipe.
    rel.typed_labels = True
    scores = dev_scores(rel, examples)
    assert (scores.probs == 0).any()
    for thresholds in ([0.5] * 3, [0.01] * 3, [0.0] * 3):
        rel.cfg["thresholds"] = dict(zip(rel.labels, thresholds))
        docs = [eg.predicted for eg in examples]
        rel.set_annotations(docs, rel.predict(docs))
        official = score_relations(examples)
        assert relation_prf(scores, thresholds) == pytest.approx(
            (official["rel_micro_p"], official["rel_micro_r"], official["rel_micro_f"], official["rel_macro_f"])
        )


def test_rel_tune_thresholds_callback(tmp_path):
    nlp = make_nlp()
    examples = make_examples(nlp)
    train(nlp, examples, n_iter=10)
    DocBin(store_user_data=True, docs=[eg.reference for eg in examples]).to_disk(tmp_path / "dev.spacy")
    callback = registry.misc.get("spacy-window-ner.tune_rel_thresholds.v1")(tmp_path / "dev.spacy")
    assert callback(nlp) is nlp
    assert set(nlp.get_pipe("window_rel").cfg["thresholds"]) <= {"Work_For", "Based_In", "Live_In"}
    assert nlp.get_pipe("window_rel").cfg["thresholds"]
    with pytest.raises(ValueError, match="Can't find the component 'rel'"):
        registry.misc.get("spacy-window-ner.tune_rel_thresholds.v1")(tmp_path / "dev.spacy", "rel")(nlp)
    # The floor: every tuned threshold is at least min_threshold.
    rel = nlp.get_pipe("window_rel")
    rel.cfg["thresholds"] = {}
    registry.misc.get("spacy-window-ner.tune_rel_thresholds.v1")(tmp_path / "dev.spacy", min_threshold=0.9)(nlp)
    assert rel.cfg["thresholds"] and min(rel.cfg["thresholds"].values()) >= 0.9


def test_rel_tune_thresholds_on_predicted_entities(tmp_path):
    nlp = make_nlp()
    examples = make_examples(nlp)
    train(nlp, examples, n_iter=10)
    dev = tmp_path / "dev.spacy"
    DocBin(store_user_data=True, docs=[eg.reference for eg in examples]).to_disk(dev)
    rel = nlp.get_pipe("window_rel")
    rel.cfg["thresholds"] = {}
    thresholds = tune_pipeline_thresholds(nlp, dev, gold_ents=False)
    assert thresholds == rel.thresholds and rel.cfg["thresholds"]
    with nlp.select_pipes(disable=["entity_ruler"]):
        with pytest.raises(ValueError, match="only be tuned on gold entities"):
            tune_pipeline_thresholds(nlp, dev, gold_ents=False)
        assert tune_pipeline_thresholds(nlp, dev, gold_ents=True) == rel.thresholds


def test_rel_scorer_strict_and_by_characters():
    nlp = English()
    reference = make_reference(nlp, *TRAIN_DATA[0])
    # The predicted doc splits "Paris" differently: "Pa" + "ris", so token offsets differ.
    predicted = Doc(nlp.vocab, words=["Alice", "works", "for", "Acme", "in", "Pa", "ris", "."],
                    spaces=[True, True, True, True, True, False, True, False])
    assert predicted.text == reference.text
    alice, acme = Span(predicted, 0, 1, label="PER"), Span(predicted, 3, 4, label="ORG")
    paris_ok, paris_bad = Span(predicted, 5, 7, label="LOC"), Span(predicted, 5, 7, label="ORG")
    set_relations(predicted, [Relation(alice, acme, "Work_For", 0.9),
                              Relation(acme, paris_ok, "Based_In", 0.9)])
    scores = score_relations([Example(predicted, reference)])
    assert scores["rel_micro_f"] == 1.0
    # A wrong entity label makes the relation a miss (and a false alarm).
    set_relations(predicted, [Relation(alice, acme, "Work_For", 0.9),
                              Relation(acme, paris_bad, "Based_In", 0.9)])
    scores = score_relations([Example(predicted, reference)])
    assert scores["rel_micro_p"] == pytest.approx(0.5)
    assert scores["rel_micro_r"] == pytest.approx(0.5)
    assert scores["rel_per_type"]["Work_For"]["f"] == 1.0
    assert scores["rel_per_type"]["Based_In"]["f"] == 0.0
    assert scores["rel_macro_f"] == pytest.approx(0.5)
    assert scores["rel_macro_p"] == pytest.approx(0.5)


def test_rel_scorer_without_relations():
    nlp = English()
    doc = nlp.make_doc("Nothing here .")
    scores = score_relations([Example(doc, doc)])
    assert scores == {"rel_micro_p": 0.0, "rel_micro_r": 0.0, "rel_micro_f": 0.0, "rel_macro_p": 0.0,
                      "rel_macro_r": 0.0, "rel_macro_f": 0.0, "rel_per_type": {}}
    assert score_relations([]) == scores


def test_rel_end_to_end_evaluate_with_window_ner():
    nlp = English()
    nlp.add_pipe("window_ner", config={"model": {"window_size": 1, "hidden_width": 32}})
    nlp.add_pipe("window_rel", config={"model": SMALL_MODEL})
    examples = make_examples(nlp)
    losses = train(nlp, examples, n_iter=40)
    assert set(losses) == {"window_ner", "window_rel"}
    scores = nlp.evaluate(make_examples(nlp))
    assert {"ents_f", "ents_per_type", "rel_micro_p", "rel_micro_r", "rel_micro_f", "rel_per_type"} <= set(scores)
    # Relations on the predicted entities match the gold ones by character offsets.
    assert scores["ents_f"] == 1.0
    assert scores["rel_micro_f"] == 1.0


def test_rel_config_file_trains(tmp_path):
    config = Config().from_disk("configs/window_rel.cfg")
    assert config["components"]["window_rel"]["factory"] == "window_rel"
    assert config["corpora"]["train"]["@readers"] == "spacy-window-ner.GoldEntsCorpus.v1"
    nlp = spacy.util.load_model_from_config(config, auto_fill=True, validate=True)
    assert nlp.pipe_names == ["window_rel"]


def test_rel_gold_ents_corpus(tmp_path):
    nlp = English()
    docs = [make_reference(nlp, *item) for item in TRAIN_DATA]
    DocBin(store_user_data=True, docs=docs).to_disk(tmp_path / "train.spacy")
    corpus = registry.readers.get("spacy-window-ner.GoldEntsCorpus.v1")(tmp_path / "train.spacy")
    examples = list(corpus(nlp))
    assert [[(e.start_char, e.end_char, e.label_) for e in eg.predicted.ents] for eg in examples] == [
        [(e.start_char, e.end_char, e.label_) for e in doc.ents] for doc in docs
    ]
    assert [relation_tuples(eg.reference) for eg in examples] == [relation_tuples(d) for d in docs]
    with pytest.raises(ValueError, match="path"):
        registry.readers.get("spacy-window-ner.GoldEntsCorpus.v1")(None)



def test_rel_predicted_ents_corpus(tmp_path):
    """PredictedEntsCorpus.v1 gives each doc with its gold entities, then with the entities in
    doc.spans["cross_predicted"]; the reference keeps the gold ones, so a relation whose
    predicted span is off by a token is a negative and one on exact spans stays positive."""
    nlp = make_nlp()
    docs = [make_reference(nlp, *item) for item in TRAIN_DATA]
    # Doc 0: "Acme in" is one token too long, "Paris" is right. Doc 1: nothing predicted.
    docs[0].spans["cross_predicted"] = [Span(docs[0], 0, 1, "PER"), Span(docs[0], 3, 5, "ORG"), Span(docs[0], 5, 6, "LOC")]
    docs[1].spans["cross_predicted"] = []
    docs[2].spans["cross_predicted"] = [Span(docs[2], 0, 1, "PER"), Span(docs[2], 2, 4, "PER")]
    DocBin(store_user_data=True, docs=docs).to_disk(tmp_path / "train.spacy")
    reader = registry.readers.get("spacy-window-ner.PredictedEntsCorpus.v1")
    examples = list(reader(tmp_path / "train.spacy")(nlp))
    ents = [[(e.start, e.end, e.label_) for e in eg.predicted.ents] for eg in examples]
    assert ents == [
        [(0, 1, "PER"), (3, 4, "ORG"), (5, 6, "LOC")],
        [(0, 1, "PER"), (3, 5, "ORG"), (5, 6, "LOC")],
        [(0, 1, "PER"), (3, 4, "LOC"), (7, 8, "ORG")],
        [(0, 1, "PER"), (2, 4, "PER")],
        [(0, 1, "PER"), (2, 4, "PER")],
    ]
    assert [eg.reference.text for eg in examples] == [docs[i].text for i in (0, 0, 1, 2, 2)]
    assert all(relation_tuples(eg.reference) == relation_tuples(docs[i]) for eg, i in zip(examples, (0, 0, 1, 2, 2)))
    rel = nlp.get_pipe("window_rel")
    nlp.initialize(lambda: examples)
    gold, known = rel.get_targets(examples[:2], rel.training_candidates(examples[:2]))
    assert known.all()
    work_for, based_in = rel.labels.index("Work_For"), rel.labels.index("Based_In")
    # Gold entities: both relations; predicted: "Acme in" is not Acme, so neither is there.
    assert gold[:, work_for].sum() == 1 and gold[:, based_in].sum() == 1
    assert gold[6:].sum() == 0 and len(gold) == 12
    only_predicted = list(reader(tmp_path / "train.spacy", gold=False)(nlp))
    assert [[(e.start, e.end, e.label_) for e in eg.predicted.ents] for eg in only_predicted] == [ents[1], ents[3]]
    # A file without the span group: say how to write one.
    DocBin(store_user_data=True, docs=[make_reference(nlp, *TRAIN_DATA[0])]).to_disk(tmp_path / "plain.spacy")
    with pytest.raises(ValueError, match="cross-predict"):
        list(reader(tmp_path / "plain.spacy")(nlp))
    with pytest.raises(ValueError, match="cross-predict"):
        reader(None)


def test_rel_relations_survive_merge_entities_and_processes():
    """A trained window_rel followed by merge_entities (the issue's recipe): the relations keep
    their text; and nlp.pipe(n_process=2) carries them."""
    nlp = make_nlp()
    train(nlp, make_examples(nlp))
    texts = ["Bob Smith lives in Berlin and works at Initech .", "Alice works for Acme in Paris ."]
    nlp.get_pipe("entity_ruler").add_patterns([{"label": "PER", "pattern": "Bob Smith"}])

    def as_text(docs):
        return [[(r.head.text, r.label, r.tail.text) for r in get_relations(doc)] for doc in docs]

    expected = as_text(nlp.pipe(texts))
    assert expected[0] == [("Bob Smith", "Live_In", "Berlin"), ("Bob Smith", "Work_For", "Initech")]
    assert as_text(nlp.pipe(texts, n_process=2)) == expected
    nlp.add_pipe("merge_entities")
    docs = list(nlp.pipe(texts))
    assert docs[0][0].text == "Bob Smith"
    assert as_text(docs) == expected


def make_spans_nlp(key="found"):
    """doc.ents holds other entities (a ruler with other labels, as en_core_web_sm's ner);
    the entities to relate are in doc.spans[key] (a span_ruler, as a window_ner with spans_key)."""
    nlp = English()
    nlp.add_pipe("entity_ruler", config={"overwrite_ents": True})
    nlp.add_pipe("span_ruler", config={"spans_key": key})
    nlp.add_pipe("window_rel", config={"model": SMALL_MODEL, "spans_key": key})
    return nlp


def add_spans_patterns(nlp):
    nlp.get_pipe("entity_ruler").add_patterns([{"label": "GPE", "pattern": "Paris"}, {"label": "PERSON", "pattern": "Bob"}])
    nlp.get_pipe("span_ruler").add_patterns(PATTERNS)


def test_rel_spans_key_reads_the_span_group():
    nlp = make_spans_nlp()
    examples = make_examples(nlp)
    fix_random_seed(0)
    optimizer = nlp.initialize(lambda: examples)
    add_spans_patterns(nlp)
    rel = nlp.get_pipe("window_rel")
    assert rel.cfg["spans_key"] == "found"
    assert set(rel.entity_labels) == {"PER", "ORG", "LOC"}  # not doc.ents' GPE, PERSON
    for _ in range(60):
        nlp.update(examples, sgd=optimizer, exclude=["entity_ruler", "span_ruler"], annotates=["span_ruler"])
    texts = [eg.reference.text for eg in examples]
    assert predictions(nlp, texts) == expected_tuples(nlp)
    doc = nlp(texts[0])
    assert [(e.text, e.label_) for e in doc.ents] == [("Paris", "GPE")]  # left alone
    # The targets, tuning and scoring all use the span group.
    assert tune_thresholds(rel, make_examples(nlp)) == rel.thresholds
    dev = [Example(nlp(eg.reference.text), eg.reference) for eg in make_examples(nlp)]
    assert rel.score(dev)["rel_micro_f"] == 1.0


def test_rel_spans_key_missing_group_and_bad_values():
    nlp = make_spans_nlp()
    examples = make_examples(nlp)
    nlp.initialize(lambda: examples)
    rel = nlp.get_pipe("window_rel")
    with pytest.raises(ValueError, match=r"doc.spans\['found'\].*window_ner with spans_key='found'"):
        rel(nlp.make_doc("Alice works for Acme ."))
    # Training falls back on the reference entities where the predicted doc lacks the group.
    assert len(rel._training_ents(examples[0])) == 3
    with pytest.raises(ValueError, match="spans_key must be a non-empty string"):
        English().add_pipe("window_rel", config={"spans_key": ""})
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match=r"threshold must be a number in \[0, 1\]"):
            English().add_pipe("window_rel", config={"threshold": bad})


def test_rel_threshold_overrides_tuned_ones_and_tuning_clears_it():
    nlp = make_nlp()
    examples = make_examples(nlp)
    train(nlp, examples, n_iter=10)
    rel = nlp.get_pipe("window_rel")
    tuned = tune_thresholds(rel, make_examples(nlp, gold_ents_on_predicted=True))
    assert rel.cfg["threshold"] is None and rel.thresholds == tuned
    rel.cfg["threshold"] = 0.0  # every candidate, every label
    doc = nlp(examples[0].reference.text)
    assert len(get_relations(doc)) == len(pairs_of(rel, doc)) * len(rel.labels)
    rel.cfg["threshold"] = 1.0
    assert get_relations(nlp(examples[0].reference.text)) == []
    tune_thresholds(rel, make_examples(nlp, gold_ents_on_predicted=True))
    assert rel.cfg["threshold"] is None and rel.thresholds == tuned


def test_rel_spacy_find_threshold(tmp_path):
    """spaCy's find-threshold reloads the pipeline with [components.window_rel] threshold = t
    for t in 0, 1/(n-1), ..., 1 and sets pipe.cfg["threshold"]; every t must be accepted and
    change the predictions, also for a pipeline whose labels have tuned thresholds."""
    from spacy.cli.find_threshold import find_threshold

    nlp = make_nlp()
    examples = make_examples(nlp)
    train(nlp, examples, n_iter=30)
    rel = nlp.get_pipe("window_rel")
    tune_thresholds(rel, make_examples(nlp, gold_ents_on_predicted=True))
    nlp.to_disk(tmp_path / "model")
    DocBin(store_user_data=True, docs=[eg.reference for eg in examples]).to_disk(tmp_path / "dev.spacy")
    best, best_score, scores = find_threshold(
        tmp_path / "model", tmp_path / "dev.spacy", "window_rel", "threshold", "rel_micro_f", n_trials=5, silent=True
    )
    assert len(scores) == 5 and 0.0 < best < 1.0
    assert scores[0.0] < best_score == 1.0  # at 0 every candidate is a relation
    assert scores[1.0] == 0.0  # at 1 none is
    rel.cfg["threshold"] = best
    assert nlp.evaluate(make_examples(nlp))["rel_micro_f"] == best_score


def test_rel_loads_version_0_1_thresholds(tmp_path):
    """A pipeline saved by version 0.1 has no cfg["spans_key"], and its cfg["threshold"] was the
    threshold of the labels without a tuned one: loading it keeps its predictions, from disk and
    from bytes, where reading threshold as one for all labels would override the tuned ones."""
    nlp = make_nlp()
    train(nlp, make_examples(nlp), n_iter=10)
    rel = nlp.get_pipe("window_rel")
    tuned = {rel.labels[0]: 0.2}
    old_cfg = {key: value for key, value in rel.cfg.items() if key != "spans_key"}
    old_cfg.update(threshold=0.7, thresholds=tuned)
    expected = {label: tuned.get(label, 0.7) for label in rel.labels}
    nlp.to_disk(tmp_path / "model")
    srsly.write_json(tmp_path / "model" / "window_rel" / "cfg", old_cfg)
    loaded = spacy.load(tmp_path / "model").get_pipe("window_rel")
    assert loaded.cfg["threshold"] is None and loaded.thresholds == pytest.approx(expected)
    assert loaded.cfg["spans_key"] is None
    rel.cfg = dict(old_cfg)
    data = rel.to_bytes()
    fresh = make_nlp().get_pipe("window_rel")
    fresh.from_bytes(data)
    assert fresh.cfg["threshold"] is None and fresh.thresholds == pytest.approx(expected)
    # A pipeline saved now keeps its shared threshold.
    rel.cfg = {**old_cfg, "spans_key": None, "threshold": 0.7}
    fresh = make_nlp().get_pipe("window_rel")
    fresh.from_bytes(rel.to_bytes())
    assert fresh.cfg["threshold"] == pytest.approx(0.7)


# Calls of the candidate generator "test.counting_rel_candidates.v1", by batch size.
GENERATOR_CALLS = Counter()


@registry.misc("test.counting_rel_candidates.v1")
def make_counting_candidates(max_distance: int = 100, max_candidates_per_doc: int = 2000):
    generate = make_rel_candidates(max_distance=max_distance, max_candidates_per_doc=max_candidates_per_doc)

    def counting_candidates(docs, ents):
        GENERATOR_CALLS[len(docs)] += 1
        return generate(docs, ents)

    return counting_candidates


def test_rel_candidates_block_resolves_into_the_pipe():
    nlp = make_nlp(candidates={"@misc": "spacy-window-ner.rel_candidates.v1", "max_distance": 5})
    rel = nlp.get_pipe("window_rel")
    assert isinstance(rel.candidates, NearbyPairs)
    assert (rel.candidates.max_distance, rel.candidates.max_candidates_per_doc) == (5, 2000)
    block = nlp.config["components"]["window_rel"]["candidates"]
    assert block == {
        "@misc": "spacy-window-ner.rel_candidates.v1", "max_distance": 5, "max_candidates_per_doc": 2000, "typed": False,
    }
    with pytest.raises(ValueError, match="max_candidates_per_doc must be a positive integer"):
        make_nlp(candidates={"@misc": "spacy-window-ner.rel_candidates.v1", "max_candidates_per_doc": 0})


def test_rel_typed_candidates_learnt_at_initialize_and_saved(tmp_path):
    """typed=True keeps the (head label, tail label) pairs of the training relations: PER-ORG,
    PER-LOC and ORG-LOC, in that direction; initialize learns them into cfg, and a saved
    pipeline proposes the same candidates."""
    nlp = make_nlp(candidates={"@misc": "spacy-window-ner.rel_candidates.v1", "typed": True})
    rel = nlp.get_pipe("window_rel")
    doc = nlp.get_pipe("entity_ruler")(nlp.make_doc("Carol met Dave Smith ."))
    with pytest.raises(ValueError, match="need the entity label pairs of the training data"):
        pairs_of(rel, doc)
    train(nlp, make_examples(nlp), n_iter=3)
    assert rel.cfg["licensed_pairs"] == [["ORG", "LOC"], ["PER", "LOC"], ["PER", "ORG"]]
    texts = [text for text, _, _ in TRAIN_DATA]
    # Alice/PER Acme/ORG Paris/LOC; Bob/PER Berlin/LOC Initech/ORG; Carol/PER Dave Smith/PER.
    expected = [[[0, 1], [0, 2], [1, 2]], [[0, 1], [0, 2], [2, 1]], []]
    assert [pairs_of(rel, doc).tolist() for doc in nlp.pipe(texts)] == expected
    nlp.to_disk(tmp_path / "typed")
    loaded = spacy.load(tmp_path / "typed")
    loaded_rel = loaded.get_pipe("window_rel")
    assert loaded_rel.candidates.typed and loaded_rel.cfg["licensed_pairs"] == rel.cfg["licensed_pairs"]
    assert [pairs_of(loaded_rel, doc).tolist() for doc in loaded.pipe(texts)] == expected
    assert predictions(loaded, texts) == predictions(nlp, texts)
    from_bytes = make_nlp(candidates={"@misc": "spacy-window-ner.rel_candidates.v1", "typed": True})
    from_bytes.get_pipe("window_rel").from_bytes(rel.to_bytes())
    assert from_bytes.get_pipe("window_rel").candidates.licensed_pairs == rel.candidates.licensed_pairs
    # Untyped candidates learn the pairs too, and propose every pair; license_pairs turns
    # typed candidates on for such a pipeline.
    untyped = make_nlp()
    train(untyped, make_examples(untyped), n_iter=3)
    untyped_rel = untyped.get_pipe("window_rel")
    assert untyped_rel.cfg["licensed_pairs"] == rel.cfg["licensed_pairs"]
    assert len(pairs_of(untyped_rel, untyped.get_pipe("entity_ruler")(nlp.make_doc(texts[2])))) == 2
    untyped_rel.candidates = make_rel_candidates(typed=True)
    untyped_rel.license_pairs([("PER", "PER")])
    assert [len(pairs_of(untyped_rel, doc)) for doc in untyped.pipe(texts)] == [0, 0, 2]


def test_rel_predict_returns_the_candidates_with_their_scores():
    nlp = make_nlp()
    train(nlp, make_examples(nlp), n_iter=3)
    rel = nlp.get_pipe("window_rel")
    docs = [nlp.get_pipe("entity_ruler")(nlp.make_doc(text)) for text, _, _ in TRAIN_DATA]
    scored = rel.predict(docs)
    assert isinstance(scored, ScoredCandidates) and isinstance(scored.candidates, Candidates)
    candidates = scored.candidates
    assert candidates.ents == [list(doc.ents) for doc in docs]
    assert [p.tolist() for p in candidates.pairs] == [[[0, 1], [0, 2], [1, 0], [1, 2], [2, 0], [2, 1]]] * 2 + [[[0, 1], [1, 0]]]
    assert [s.shape for s in scored.scores] == [(6, 3), (6, 3), (2, 3)]
    # The rows the model scored, read by column name.
    ents, pairs, rows = candidates.ents[0], candidates.pairs[0], candidates.rows[0]
    assert rows.shape == (6, len(CandidateColumn))
    head, tail = ents[pairs[3, 0]], ents[pairs[3, 1]]
    assert rows[3, CandidateColumn.HEAD_START] == head.start and rows[3, CandidateColumn.TAIL_END] == tail.end
    assert rows[3, CandidateColumn.HEAD_LABEL] == rel.entity_labels.index(head.label_) + 1
    rel.set_annotations(docs, scored)
    assert all(get_relations(doc) is not None for doc in docs)


def test_rel_candidates_are_made_once_per_batch(tmp_path):
    """predict -> set_annotations, update -> get_loss and tuning each call the generator once."""
    nlp = make_nlp(candidates={"@misc": "test.counting_rel_candidates.v1"})
    examples = make_examples(nlp)
    nlp.initialize(lambda: examples)
    nlp.get_pipe("entity_ruler").add_patterns(PATTERNS)
    rel = nlp.get_pipe("window_rel")
    GENERATOR_CALLS.clear()
    nlp.update(examples)
    assert GENERATOR_CALLS == {3: 1}
    GENERATOR_CALLS.clear()
    list(nlp.pipe([eg.reference.text for eg in examples], batch_size=3))
    assert GENERATOR_CALLS == {3: 1}
    GENERATOR_CALLS.clear()
    tune_thresholds(rel, make_examples(nlp, gold_ents_on_predicted=True))
    assert GENERATOR_CALLS == {3: 1}
    DocBin(store_user_data=True, docs=[eg.reference for eg in examples]).to_disk(tmp_path / "dev.spacy")
    GENERATOR_CALLS.clear()
    tune_pipeline_thresholds(nlp, tmp_path / "dev.spacy", gold_ents=False)
    assert GENERATOR_CALLS == {3: 1}


def old_pipeline(path, nlp, **options):
    """Rewrite the pipeline saved at path as a version before the candidates block saved it:
    the candidate options in [components.window_rel] and in its cfg."""
    config = Config().from_disk(path / "config.cfg")
    del config["components"]["window_rel"]["candidates"]
    config["components"]["window_rel"].update(options)
    config.to_disk(path / "config.cfg")
    cfg = srsly.read_json(path / "window_rel" / "cfg")
    srsly.write_json(path / "window_rel" / "cfg", {**cfg, **options})


def test_rel_loads_pipelines_saved_before_the_candidates_block(tmp_path):
    nlp = make_nlp()
    train(nlp, make_examples(nlp), n_iter=30)
    texts = [text for text, _, _ in TRAIN_DATA]
    expected = [[(r.head.start, r.tail.start, r.label, round(r.score, 6)) for r in get_relations(doc)] for doc in nlp.pipe(texts)]
    nlp.to_disk(tmp_path / "old")
    old_pipeline(tmp_path / "old", nlp, max_distance=100, max_candidates_per_doc=2000)
    loaded = spacy.load(tmp_path / "old")
    rel = loaded.get_pipe("window_rel")
    assert "max_distance" not in rel.cfg and "max_candidates_per_doc" not in rel.cfg
    assert (rel.candidates.max_distance, rel.candidates.max_candidates_per_doc) == (100, 2000)
    got = [[(r.head.start, r.tail.start, r.label, round(r.score, 6)) for r in get_relations(doc)] for doc in loaded.pipe(texts)]
    assert got == expected
    # Options other than the defaults are kept, from the config and from the cfg bytes alone.
    nlp.to_disk(tmp_path / "capped")
    old_pipeline(tmp_path / "capped", nlp, max_distance=3, max_candidates_per_doc=1)
    rel = spacy.load(tmp_path / "capped").get_pipe("window_rel")
    assert (rel.candidates.max_distance, rel.candidates.max_candidates_per_doc) == (3, 1)
    # A pipeline saved now keeps the options in its config only, as spancat its suggester's.
    fresh = make_nlp().get_pipe("window_rel")
    fresh.from_bytes(rel.to_bytes())
    assert (fresh.candidates.max_distance, fresh.candidates.max_candidates_per_doc) == (100, 2000)
    fresh.from_disk(tmp_path / "capped" / "window_rel", exclude=["vocab"])
    assert (fresh.candidates.max_distance, fresh.candidates.max_candidates_per_doc) == (3, 1)
    # The old keys with another generator can't be honoured.
    with pytest.raises(ValueError, match=r"set them in \[components.window_rel.candidates\]"):
        make_nlp(candidates={"@misc": "test.counting_rel_candidates.v1"}, max_distance=3)


def test_rel_gold_entities_disables_what_writes_them():
    """gold_entities runs the pipeline without the components that write doc.ents, so
    window_rel relates the gold entities on the docs: the ruler would find only "Alice"."""
    nlp = make_nlp()
    train(nlp, make_examples(nlp), n_iter=30)
    nlp.get_pipe("entity_ruler").clear()
    nlp.get_pipe("entity_ruler").add_patterns([{"label": "PER", "pattern": "Alice"}])
    with gold_entities(nlp) as disabled:
        assert disabled == ["entity_ruler"] and nlp.pipe_names == ["window_rel"]
        scores = nlp.evaluate(make_examples(nlp, gold_ents_on_predicted=True))
    assert nlp.pipe_names == ["entity_ruler", "window_rel"]
    assert scores["rel_micro_f"] == 1.0
    assert nlp.evaluate(make_examples(nlp))["rel_micro_f"] == 0.0


# ------------------------------------------------------------------ typed labels (issue 28)

TYPED = {"typed_labels": True}
# Each (relation, head label, tail label) of REL_TRAIN_DATA.
TRIPLES = [["Based_In", "ORG", "LOC"], ["Live_In", "PER", "LOC"], ["Work_For", "PER", "ORG"]]


def relation_triples(doc):
    return sorted((r.label, r.head.text, r.tail.text) for r in get_relations(doc))


class HighScores:
    """Stands in for window_rel's model at prediction: every label of every candidate gets
    the logit 10 (probability 0.99995)."""

    def __init__(self, model, n_labels):
        self.ops = model.ops
        self.n_labels = n_labels

    def predict(self, X):
        return self.ops.alloc2f(sum(len(rows) for rows in X[1]), self.n_labels) + 10.0


def high_scores(monkeypatch, rel):
    monkeypatch.setattr(rel, "model", HighScores(rel.model, len(rel.labels)))


def test_rel_typed_labels_are_the_default():
    rel = English().add_pipe("window_rel")
    assert rel.typed_labels is True and rel.candidates.typed is True and rel.cfg["licensed_triples"] is None
    config = English().add_pipe("window_rel").cfg
    assert "licensed_triples" in config
    assert English().add_pipe("window_rel", config={"typed_labels": False}).typed_labels is False
    for bad in ("yes", 1, None):
        with pytest.raises(ValueError, match="typed_labels must be true"):
            WindowRel(rel.vocab, rel.model, typed_labels=bad)
    with pytest.raises(ValueError, match="typed_labels"):  # spaCy checks the config's type first
        English().add_pipe("window_rel", config={"typed_labels": "yes"})


def test_rel_unlicensed_triple_is_not_predicted_even_with_a_high_score(monkeypatch):
    """Every label of every pair scores 0.9999; typed labels keep only the triples of the
    training relations, even at threshold 0; switched off, every label of every pair comes."""
    nlp = make_nlp(**TYPED)  # untyped candidates: PER-PER and the reversed pairs are scored too
    train(nlp, make_examples(nlp), n_iter=3)
    rel = nlp.get_pipe("window_rel")
    assert rel.cfg["licensed_triples"] == TRIPLES
    assert rel.cfg["licensed_pairs"] == [[head, tail] for _, head, tail in sorted(TRIPLES, key=lambda t: t[1:])]
    high_scores(monkeypatch, rel)
    texts = [text for text, _, _ in TRAIN_DATA]
    expected = [
        [("Based_In", "Acme", "Paris"), ("Live_In", "Alice", "Paris"), ("Work_For", "Alice", "Acme")],
        [("Based_In", "Initech", "Berlin"), ("Live_In", "Bob", "Berlin"), ("Work_For", "Bob", "Initech")],
        [],
    ]
    for threshold in (0.5, 0.0):
        rel.cfg["threshold"] = threshold
        docs = list(nlp.pipe(texts))
        assert [relation_triples(doc) for doc in docs] == expected
        # The probabilities say so too, as threshold tuning reads them.
        scored = rel.predict(docs)
        assert [int((p > 0).sum()) for p in scored.scores] == [3, 3, 0]
    rel.typed_labels = False
    assert [len(get_relations(doc)) for doc in nlp.pipe(texts)] == [6 * 3, 6 * 3, 2 * 3]


def test_rel_licensed_labels_match_each_pairs_licence_keys():
    """The mask typed labels give each pair is, row by row, the labels of the triples whose
    (head label, tail label) is one of the pair's licence_keys; it follows the cfg when the
    triples change; set_annotations applies it when predict's output does not carry it."""
    nlp = make_nlp(**TYPED)
    rel = nlp.get_pipe("window_rel")
    rel.cfg["labels"] = ["Based_In", "Live_In", "Work_For"]
    triples = TRIPLES + [["Live_In", "", "LOC"], ["Based_In", "ORG", ""]]
    rel.license_relations([tuple(triple) for triple in triples])
    doc = Doc(nlp.vocab, words=["a", "b", "c", "d", "e"])
    doc.ents = [Span(doc, i, i + 1, label) for i, label in enumerate(["PER", "ORG", "LOC", "MISC", "ORG"])]
    ents = list(doc.ents)
    pairs = numpy.asarray([(a, b) for a in range(5) for b in range(5) if a != b], dtype="int32")

    def expected(triples):
        keys = lambda h, t: {(h, t), ("", t), (h, ""), ("", "")}  # noqa: E731
        return numpy.asarray([
            [any(l == label and (h, t) in keys(ents[a].label_, ents[b].label_) for l, h, t in triples) for label in rel.labels]
            for a, b in pairs
        ])

    def licensed(pairs):
        return rel.licensed_masks(Candidates([ents, ents], [pairs, pairs[:0]], []))

    mask, empty = licensed(pairs)
    assert mask.shape == (20, 3) and mask.dtype == bool
    assert (mask == expected(triples)).all()
    assert mask[list(map(tuple, pairs)).index((3, 2))].tolist() == [False, True, False]  # MISC -> LOC: ("", LOC)
    assert empty.shape == (0, 3)
    rel.license_relations([tuple(triple) for triple in TRIPLES])
    assert (licensed(pairs)[0] == expected(TRIPLES)).all()
    assert not (expected(TRIPLES) == expected(triples)).all()
    rel.typed_labels = False
    assert licensed(pairs) == [None, None]
    rel.typed_labels = True
    # predict's masks, or none given (a ScoredCandidates of two fields): the same relations
    candidates = Candidates([ents], [pairs], [numpy.zeros((len(pairs), 1), dtype="int32")])
    ones = [rel.model.ops.asarray2f(numpy.ones((len(pairs), 3), dtype="float32"))]
    rel.cfg["threshold"] = 0.0
    found = []
    for scored in (ScoredCandidates(candidates, ones), ScoredCandidates(candidates, ones, rel.licensed_masks(candidates))):
        rel.set_annotations([doc], scored)
        found.append(sorted((r.label, r.head.start, r.tail.start) for r in get_relations(doc)))
    assert found[0] == found[1] and len(found[0]) == int(expected(TRIPLES).sum())


def test_rel_licensed_triples_saved_and_loaded(tmp_path):
    nlp = make_nlp(candidates={"@misc": "spacy-window-ner.rel_candidates.v2", "typed": True}, **TYPED)
    train(nlp, make_examples(nlp), n_iter=3)
    rel = nlp.get_pipe("window_rel")
    texts = [text for text, _, _ in TRAIN_DATA]
    rel.cfg["threshold"] = 0.0  # every licensed triple of a candidate is predicted
    nlp.to_disk(tmp_path / "typed")
    loaded = spacy.load(tmp_path / "typed")
    loaded_rel = loaded.get_pipe("window_rel")
    assert loaded_rel.typed_labels and loaded_rel.cfg["licensed_triples"] == TRIPLES
    assert predictions(loaded, texts) == predictions(nlp, texts)
    assert [relation_triples(doc) for doc in loaded.pipe(texts)] == [relation_triples(doc) for doc in nlp.pipe(texts)]
    from_bytes = make_nlp(**TYPED)
    from_bytes.get_pipe("window_rel").from_bytes(rel.to_bytes())
    assert from_bytes.get_pipe("window_rel").cfg["licensed_triples"] == TRIPLES
    # The switch is a setting of the config: off at load, every label of a candidate again.
    untyped = spacy.load(tmp_path / "typed", config={"components": {"window_rel": {"typed_labels": False}}})
    assert untyped.get_pipe("window_rel").typed_labels is False
    counts = [len(get_relations(doc)) for doc in untyped.pipe(texts)]
    assert counts == [3 * 3, 3 * 3, 0] and counts != [len(get_relations(doc)) for doc in loaded.pipe(texts)]


def test_rel_cfg_without_triples_predicts_every_label(tmp_path):
    """A cfg saved before the triples (no "licensed_triples") keeps every label for every pair,
    as it did; license_relations turns typed labels on for it."""
    nlp = make_nlp(**TYPED)
    train(nlp, make_examples(nlp), n_iter=3)
    rel = nlp.get_pipe("window_rel")
    rel.cfg["threshold"] = 0.0
    del rel.cfg["licensed_triples"]
    nlp.to_disk(tmp_path / "old")
    assert "licensed_triples" not in srsly.read_json(tmp_path / "old" / "window_rel" / "cfg")
    old = spacy.load(tmp_path / "old")
    old_rel = old.get_pipe("window_rel")
    assert old_rel.typed_labels and old_rel.cfg["licensed_triples"] is None
    texts = [text for text, _, _ in TRAIN_DATA]
    assert [len(get_relations(doc)) for doc in old.pipe(texts)] == [6 * 3, 6 * 3, 2 * 3]
    old_rel.license_relations([tuple(triple) for triple in TRIPLES])
    assert [len(get_relations(doc)) for doc in old.pipe(texts)] == [3, 3, 0]


def test_rel_typed_labels_degrade_cleanly_on_untyped_data(monkeypatch):
    """Entities of one label (untyped data) license every label seen for every pair: the same
    relations as without typed labels. A training relation with an unlabelled entity licenses
    its label for any entity label there, for the labels and the typed candidates alike."""
    data = [(words, [(s, e, "ENT") for s, e, _ in ents], rels) for words, ents, rels in TRAIN_DATA]
    nlp = English()
    nlp.add_pipe("entity_ruler").add_patterns([{**p, "label": "ENT"} for p in PATTERNS])
    nlp.add_pipe("window_rel", config={"model": SMALL_MODEL})  # the defaults: typed candidates and labels
    examples = make_examples(nlp, data)
    fix_random_seed(0)
    nlp.initialize(lambda: examples)
    nlp.get_pipe("entity_ruler").add_patterns([{**p, "label": "ENT"} for p in PATTERNS])
    rel = nlp.get_pipe("window_rel")
    assert rel.cfg["licensed_triples"] == [[label, "ENT", "ENT"] for label in ("Based_In", "Live_In", "Work_For")]
    high_scores(monkeypatch, rel)
    texts = [text for text, _, _ in TRAIN_DATA]
    typed = [relation_triples(doc) for doc in nlp.pipe(texts)]
    rel.typed_labels = False
    assert typed == [relation_triples(doc) for doc in nlp.pipe(texts)] and len(typed[2]) == 2 * 3
    # Unlabelled entities in the training relations: "" matches any label.
    rel.typed_labels = True
    rel.license_relations([("Work_For", "", "ENT"), ("Live_In", "ENT", "")])
    assert rel.candidates.licensed_pairs == {("", "ENT"), ("ENT", "")}
    docs = list(nlp.pipe(texts))
    assert {label for doc in docs for label, _, _ in relation_triples(doc)} == {"Work_For", "Live_In"}
    assert len(relation_triples(docs[2])) == 2 * 2
    rel.license_relations([("Work_For", "", "")])
    assert [len(get_relations(doc)) for doc in nlp.pipe(texts)] == [6, 6, 2]
    rel.license_relations([("Work_For", "PER", "ORG")])  # no such entity labels here
    assert [len(get_relations(doc)) for doc in nlp.pipe(texts)] == [0, 0, 0]


LABEL_ORDER_SCRIPT = """
from spacy.lang.en import English
from spacy.tokens import Doc, Span
from spacy.training import Example
from spacy_window_ner.relations import Relation, set_relations

nlp = English()
rel = nlp.add_pipe("window_rel")
examples = []
for words, ents, rels in [
    ("Alice works for Acme in Paris".split(), [(0, 1, "PER"), (3, 4, "ORG"), (5, 6, "LOC")],
     [(0, 1, "Work_For"), (1, 2, "Based_In"), (0, 2, "Live_In"), (2, 1, "Has"), (1, 0, "Employs")]),
]:
    doc = Doc(nlp.vocab, words=words)
    doc.ents = [Span(doc, s, e, label) for s, e, label in ents]
    set_relations(doc, [Relation(doc.ents[h], doc.ents[t], label, 1.0) for h, t, label in rels])
    examples.append(Example(nlp.make_doc(doc.text), doc))
rel.initialize(lambda: examples, nlp=nlp)
print(" ".join(rel.labels))
"""


def test_rel_label_order_does_not_depend_on_the_hash_seed():
    """initialize adds the relation labels in the order of their first relation in the docs,
    whatever PYTHONHASHSEED is: the labels are the model's output columns, so another order
    trains another model (the sample's relation F moved by 1.6 with the seed)."""
    orders = set()
    for seed in ("0", "1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        result = subprocess.run([sys.executable, "-c", LABEL_ORDER_SCRIPT], capture_output=True, text=True, env=env)
        assert result.returncode == 0, result.stderr
        orders.add(result.stdout.strip())
    assert orders == {"Work_For Live_In Employs Based_In Has"}


@pytest.mark.parametrize("batch", [list, iter], ids=["list", "generator"])
def test_rel_update_reads_its_examples_once(batch):
    """update takes any iterable of examples: from a generator it learns what it learns from
    the list (validate_examples iterates them, so they are listed first)."""
    nlp = make_nlp()
    examples = make_examples(nlp)
    fix_random_seed(0)
    nlp.initialize(lambda: examples)
    rel = nlp.get_pipe("window_rel")
    fix_random_seed(0)
    loss = rel.update(batch(examples))["window_rel"]
    nlp = make_nlp()
    fix_random_seed(0)
    nlp.initialize(lambda: make_examples(nlp))
    fix_random_seed(0)
    assert loss > 0 and loss == pytest.approx(nlp.get_pipe("window_rel").update(make_examples(nlp))["window_rel"])


def test_rel_tuning_refuses_a_dev_label_it_does_not_know():
    """A dev relation with a label the component was not trained on is refused with the error
    training gives, also where no candidate covers it (typed candidates: PER-PER is no pair
    of the training relations)."""
    nlp = make_nlp(candidates={"@misc": "spacy-window-ner.rel_candidates.v2", "typed": True})
    train(nlp, make_examples(nlp), n_iter=1)
    rel = nlp.get_pipe("window_rel")
    dev = make_examples(nlp, gold_ents_on_predicted=True)
    reference = dev[2].reference  # "Carol met Dave Smith .": two PER, no relation
    set_relations(reference, [Relation(reference.ents[0], reference.ents[1], "Knows", 1.0)])
    assert len(rel.training_candidates(dev[2:]).pairs[0]) == 0
    with pytest.raises(ValueError, match=r"labels \['Knows'\], which it does not know"):
        tune_thresholds(rel, dev)


def test_rel_tuning_per_label_keeps_the_shared_threshold_of_untuned_labels():
    """Per-label tuning replaces a shared threshold (cfg["threshold"]) with one per label; a
    label without a correct prediction on dev keeps the threshold it had, the shared one."""
    nlp = make_nlp()
    train(nlp, make_examples(nlp), n_iter=20)
    rel = nlp.get_pipe("window_rel")
    dev = make_examples(nlp, gold_ents_on_predicted=True)
    for example in dev:  # no Based_In on dev: it has no correct prediction there
        set_relations(example.reference, [r for r in get_relations(example.reference) if r.label != "Based_In"])
    rel.cfg["threshold"] = 0.3
    thresholds = tune_thresholds(rel, dev)
    assert rel.cfg["threshold"] is None
    assert thresholds["Based_In"] == 0.3 and rel.thresholds == thresholds
    assert thresholds["Work_For"] != 0.3


def test_rel_cap_warning_is_said_once():
    """The warning that the cap drops pairs has the same text for every doc, so Python's
    warning filter says it once; each doc keeps its own count."""
    nlp = make_nlp()
    generate = NearbyPairs(max_distance=100, max_candidates=2, block_tokens=None)
    docs = [nlp.make_doc(" ".join(["Alice and"] * n)) for n in (4, 6)]
    ents = [[Span(doc, 2 * i, 2 * i + 1, label="PER") for i in range(len(doc) // 2)] for doc in docs]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        pairs = generate(docs, ents)
    assert [len(p) for p in pairs] == [2, 2]
    assert [doc.user_data[DROPPED_KEY] for doc in docs] == [4 * 3 - 2, 6 * 5 - 2]
    assert [str(w.message) for w in caught if "nearest entity pairs" in str(w.message)] == [
        "window_rel's candidates keep the 2 nearest entity pairs per doc: the farther pairs get no "
        f"relation (this is said once; each such doc counts its dropped pairs in doc.user_data['{DROPPED_KEY}'], "
        "and `kb build` counts the docs). Raise max_candidates in the candidates block of the "
        "component's config to keep more."
    ]

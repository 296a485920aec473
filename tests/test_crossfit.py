import numpy
import pytest
from spacy.lang.en import English
from typer.testing import CliRunner

from spacy_window_ner.cli import app
from spacy_window_ner.confidences import get_confidences
from spacy_window_ner.crossfit import cross_predict, predict_into, split_folds
from spacy_window_ner.readers import read_docbin, write_docbin
from spacy_window_ner.relations import relation_tuples

from .util import REL_PATTERNS as PATTERNS, REL_TRAIN_DATA as TRAIN_DATA, make_rel_reference as make_reference

# Each sentence of util.REL_TRAIN_DATA twice, with other names, so that both folds hold every label.
DATA = TRAIN_DATA + [
    ("Erin works for Globex in Rome .", *TRAIN_DATA[0][1:]),
    ("Frank lives in Oslo and works at Hooli .", *TRAIN_DATA[1][1:]),
    ("Grace met Heidi Jones .", *TRAIN_DATA[2][1:]),
]
FAST = {"training.max_steps": 4, "training.eval_frequency": 2}


@pytest.fixture
def train_dev(tmp_path):
    nlp = English()
    docs = [make_reference(nlp, *item) for item in DATA]
    write_docbin(docs, tmp_path / "train.spacy")
    write_docbin(docs[:3], tmp_path / "dev.spacy")
    return tmp_path / "train.spacy", tmp_path / "dev.spacy"


def test_split_folds():
    folds = split_folds(10, 3, seed=1)
    assert [len(fold) for fold in folds] == [4, 3, 3]
    assert sorted(numpy.concatenate(folds).tolist()) == list(range(10))
    assert all((fold == numpy.sort(fold)).all() for fold in folds)
    assert all((a == b).all() for a, b in zip(folds, split_folds(10, 3, seed=1)))
    assert any((a != b).any() for a, b in zip(folds, split_folds(10, 3, seed=2)))
    for n_docs, n_folds in [(10, 1), (3, 4)]:
        with pytest.raises(ValueError, match="folds"):
            split_folds(n_docs, n_folds)


def test_predict_into_scores_and_stores_the_entities():
    """A pipeline that predicts the gold entities but one, and one too long: both are stored,
    and scored strictly; the gold entities and relations are untouched."""
    nlp = English()
    docs = [make_reference(nlp, *item) for item in TRAIN_DATA]
    gold = [relation_tuples(doc) for doc in docs]
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns([p for p in PATTERNS if p["pattern"][0]["ORTH"] != "Carol"])
    ruler.add_patterns([{"label": "ORG", "pattern": [{"ORTH": "Acme"}, {"ORTH": "in"}]}])
    scores = predict_into(nlp, docs, "predicted", fold=1)
    assert [[(s.start, s.end, s.label_) for s in doc.spans["predicted"]] for doc in docs] == [
        [(0, 1, "PER"), (3, 5, "ORG"), (5, 6, "LOC")],
        [(0, 1, "PER"), (3, 4, "LOC"), (7, 8, "ORG")],
        [(2, 4, "PER")],
    ]
    assert (scores.fold, scores.n_docs, scores.n_gold, scores.n_predicted, scores.n_correct) == (1, 3, 8, 7, 6)
    assert scores.p == pytest.approx(6 / 7) and scores.r == pytest.approx(6 / 8)
    assert [relation_tuples(doc) for doc in docs] == gold
    assert [len(doc.ents) for doc in docs] == [3, 3, 2]
    # entity_ruler stores no confidences, so none are invented.
    assert all(get_confidences(doc) == {} for doc in docs)


def test_cross_predict_trains_every_fold_on_the_others(train_dev, tmp_path):
    train, dev = train_dev
    seen = []
    results = cross_predict(
        "configs/window_ner.cfg", train, dev, tmp_path / "out.spacy", n_folds=2, overrides=FAST,
        models_dir=tmp_path / "models", on_fold=seen.append,
    )
    assert seen == results and [r.fold for r in results] == [0, 1]
    assert sum(r.n_docs for r in results) == len(DATA)
    assert sum(r.n_gold for r in results) == sum(len(ents) for _, ents, _ in DATA)
    # Each fold's model trained on the other fold only.
    folds = split_folds(len(DATA), 2)
    for k in (0, 1):
        assert (tmp_path / "models" / f"fold_{k}" / "model-best" / "config.cfg").is_file()
        held_in = read_docbin(tmp_path / "models" / f"fold_{k}" / "train.spacy", English().vocab)
        assert [doc.text for doc in held_in] == [DATA[i][0] for i in folds[1 - k]]
    before = read_docbin(train, English().vocab)
    after = read_docbin(tmp_path / "out.spacy", English().vocab)
    assert [doc.text for doc in after] == [doc.text for doc in before]
    assert [relation_tuples(doc) for doc in after] == [relation_tuples(doc) for doc in before]
    assert [[(e.start, e.end, e.label_) for e in doc.ents] for doc in after] == [
        [(e.start, e.end, e.label_) for e in doc.ents] for doc in before
    ]
    assert all("cross_predicted" in doc.spans for doc in after)
    n_predicted = sum(len(doc.spans["cross_predicted"]) for doc in after)
    assert n_predicted > 0
    assert n_predicted == sum(r.n_predicted for r in results)
    # window_ner's confidences travel with the predicted entities.
    for doc in after:
        confidences = get_confidences(doc)
        assert {(s.start_char, s.end_char, s.label_) for s in doc.spans["cross_predicted"]} == set(confidences)


def test_cli_cross_predict(train_dev, tmp_path):
    train, dev = train_dev
    runner = CliRunner()
    out = tmp_path / "cross.spacy"
    result = runner.invoke(app, ["cross-predict", "configs/window_ner.cfg", str(train), str(dev), "--output", str(out),
                                 "--key", "mine", "--training.max_steps", "4", "--training.eval_frequency", "2"])
    assert result.exit_code == 0, result.output
    assert "Fold 1/2" in result.output and "Fold 2/2" in result.output
    assert all("mine" in doc.spans for doc in read_docbin(out, English().vocab))
    result = runner.invoke(app, ["cross-predict", "configs/window_ner.cfg", str(train), str(dev), "--output", str(train)])
    assert result.exit_code == 1 and "input" in result.output
    result = runner.invoke(app, ["cross-predict", "configs/window_ner.cfg", str(dev), str(dev), "--output", str(out), "--folds", "4"])
    assert result.exit_code == 1 and "folds" in result.output

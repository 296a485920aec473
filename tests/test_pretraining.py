"""The window ranking pretraining objective: WindowRanker's scores and hand-written backprop,
the hinge and its gradient, the replacement sampler, and `spacy pretrain` -> init_tok2vec."""
import configparser
import importlib
import os
import subprocess
import sys
from pathlib import Path

import numpy
import pytest
import spacy
import srsly
from numpy.testing import assert_allclose
from spacy.training.initialize import init_nlp
from spacy.util import load_config, registry
from thinc.api import Adam, Model, fix_random_seed, use_ops

from spacy_window_ner.gradcheck import check_gradients
from spacy_window_ner.layers.window_ranker import WindowRanker
from spacy_window_ner.pretraining import (
    build_window_ranking_model,
    create_window_ranking_objective,
    get_window_ranking_loss,
    sample_replacements,
)
from spacy_window_ner.readers import read_conll04, write_docbin

REPO = Path(__file__).parent.parent
N_I = 3
TEXTS = [
    "John Smith works for Acme Corp in Boston .",
    "The president of France visited Berlin on Monday .",
    "Mary Jones lives in Paris and works for the United Nations .",
    "Shares of General Motors fell in New York .",
]


def make_ranker(*, window_size=2, seed=0):
    fix_random_seed(seed)
    with use_ops("numpy", use_blis=False):
        model = WindowRanker(nI=N_I, window_size=window_size, hidden_width=4)
    model.initialize()
    scorer = model.get_ref("scorer")
    rng = numpy.random.RandomState(seed)
    # The hidden layer h = f(W x + b) is the scorer's child (WindowScorer.v2), U and c its own.
    for node, name in ((scorer.layers[0], "b"), (scorer, "c")):
        node.set_param(name, rng.uniform(-0.5, 0.5, node.get_param(name).shape).astype("f"))
    return model


def make_inputs(lengths, seed=0):
    rng = numpy.random.RandomState(seed)
    Xs = [rng.uniform(-1, 1, (n, N_I)).astype("float32") for n in lengths]
    numpy.random.seed(seed)
    return Xs, sample_replacements(sum(lengths))


@pytest.mark.parametrize("window_size,lengths", [(1, [5, 1, 0, 3]), (2, [7, 2, 4]), (0, [3, 2])])
def test_window_ranker_gradient_check(window_size, lengths):
    model = make_ranker(window_size=window_size)
    errors = check_gradients(model, make_inputs(lengths))
    assert set(errors) == {"hidden.W", "hidden.b", "window_scorer.U", "window_scorer.c", "window_scorer.pad", "input"}
    assert max(errors.values()) < 1e-5, errors


def test_window_ranker_scores_true_and_centre_replaced_windows():
    """s is the scorer on the true docs; s_c of token i is the scorer's score at i on its doc
    with only token i's vector replaced by row replacements[i] of the batch."""
    model = make_ranker(window_size=2)
    lengths = [6, 1, 3]
    Xs, replacements = make_inputs(lengths)
    S = model.predict((Xs, replacements))
    scorer = model.get_ref("scorer")
    assert_allclose(S[:, 0], numpy.concatenate(scorer.predict(Xs))[:, 0], rtol=1e-5)
    X = numpy.concatenate(Xs)
    starts = numpy.cumsum(lengths) - lengths
    for i in range(len(X)):
        d = int(numpy.searchsorted(starts, i, side="right") - 1)
        corrupted = Xs[d].copy()
        corrupted[i - starts[d]] = X[replacements[i]]
        expected = scorer.predict([corrupted])[0][i - starts[d], 0]
        assert_allclose(S[i, 1], expected, rtol=1e-5)


def test_window_ranker_empty_batch():
    model = make_ranker()
    S, backprop = model(([numpy.zeros((0, N_I), dtype="f")], numpy.zeros((0,), dtype="i")), is_train=True)
    assert S.shape == (0, 2)
    dXs, _ = backprop(S)
    assert dXs[0].shape == (0, N_I)


def test_window_ranker_rejects_bad_replacements():
    model = make_ranker()
    Xs, _ = make_inputs([3, 2])
    with pytest.raises(ValueError, match="one replacement row"):
        model.predict((Xs, numpy.asarray([0, 1, 2, 3, 5], dtype="i")))
    with pytest.raises(ValueError, match="one replacement row"):
        model.predict((Xs, numpy.asarray([0, 1], dtype="i")))


def test_window_ranking_loss_values():
    ops = make_ranker().ops
    scores = numpy.asarray([[2.0, 0.0], [0.0, 0.0], [0.5, 1.0]], dtype="f")
    loss, d_scores = get_window_ranking_loss(ops, [], scores)
    # margins 1 - s + s_c: -1 (inactive), 1, 1.5
    assert loss == pytest.approx(2.5 / 3)
    assert_allclose(d_scores, [[0, 0], [-1 / 3, 1 / 3], [-1 / 3, 1 / 3]], rtol=1e-6)
    loss, d_scores = get_window_ranking_loss(ops, [], numpy.zeros((0, 2), dtype="f"))
    assert loss == 0.0 and d_scores.shape == (0, 2)


def test_window_ranking_loss_gradient_check():
    """J = mean max(0, 1 - s + s_c) through WindowRanker, by central differences, with
    both active and inactive margins in the batch."""
    ranker = make_ranker(window_size=1)
    scorer = ranker.get_ref("scorer")
    scorer.set_param("U", scorer.get_param("U") * 20)
    inputs = make_inputs([6, 5])

    def forward(model, inputs, is_train):
        S, backprop_ranker = model.layers[0](inputs, is_train)
        loss, d_S = get_window_ranking_loss(model.ops, [], S)
        margin = 1 - S[:, 0] + S[:, 1]
        model.attrs["n_active"] = int((margin > 0).sum())

        def backprop(d_loss):
            return backprop_ranker(d_S * d_loss[0, 0])

        return model.ops.asarray2f([[loss]], dtype=S.dtype), backprop

    model = Model("hinge", forward, layers=[ranker], attrs={"n_active": 0})
    errors = check_gradients(model, inputs)
    assert 0 < model.attrs["n_active"] < 11, "the batch must have active and inactive margins"
    assert max(errors.values()) < 1e-5, errors


def test_sample_replacements_are_other_tokens_of_the_batch():
    numpy.random.seed(0)
    token = numpy.arange(7)
    drawn = numpy.stack([sample_replacements(7) for _ in range(300)])
    assert drawn.dtype == numpy.int32 and drawn.shape == (300, 7)
    assert (drawn != token).all()
    assert drawn.min() == 0 and drawn.max() == 6
    assert set(numpy.unique(drawn[:, 0])) == set(range(1, 7))
    assert sample_replacements(1).tolist() == [0]
    assert sample_replacements(0).shape == (0,)


def make_tok2vec():
    return registry.resolve(
        {"t": {"@architectures": "spacy.MultiHashEmbed.v2", "width": 16, "attrs": ["NORM", "SHAPE"],
               "rows": [500, 50], "include_static_vectors": False}}
    )["t"]


def test_window_ranking_objective_is_registered_and_learns():
    create = registry.architectures.get("spacy-window-ner.WindowRanking.v1")
    assert create is create_window_ranking_objective
    nlp = spacy.blank("en")
    docs = [nlp.make_doc(text) for text in TEXTS]
    fix_random_seed(0)
    tok2vec = make_tok2vec()
    tok2vec.initialize(X=docs)
    model = create(window_size=1, hidden_width=16)(nlp.vocab, tok2vec)
    model.initialize(X=docs)
    assert model.get_ref("tok2vec") is tok2vec
    objective = model.attrs["loss"]
    optimizer = Adam(0.01)
    losses = []
    for _ in range(60):
        scores, backprop = model.begin_update(docs)
        loss, d_scores = objective(model.ops, docs, scores)
        backprop(d_scores)
        model.finish_update(optimizer)
        losses.append(loss)
    assert losses[0] > 0.8
    assert sum(losses[-10:]) / 10 < 0.3, losses


def test_build_window_ranking_model_infers_width_from_tok2vec():
    tok2vec = make_tok2vec()
    model = build_window_ranking_model(tok2vec, window_size=1, hidden_width=8)
    nlp = spacy.blank("en")
    model.initialize(X=[nlp.make_doc(TEXTS[0])])
    assert model.get_ref("ranker").get_dim("nI") == 16
    assert model.predict([nlp.make_doc(text) for text in TEXTS]).shape == (sum(len(t.split()) for t in TEXTS), 2)


def test_setup_cfg_registers_the_pretraining_entry_points():
    """The new entry points by name (the installed package may predate them)."""
    setup = configparser.ConfigParser()
    setup.read(REPO / "setup.cfg")
    groups = setup["options.entry_points"]
    expected = {
        "spacy_architectures": ("spacy-window-ner.WindowRanking.v1", registry.architectures),
        "thinc_layers": ("spacy-window-ner.WindowRanker.v1", registry.layers),
    }
    for group, (name, reg) in expected.items():
        entries = dict(line.split(" = ") for line in groups[group].strip().splitlines())
        module, attr = entries[name].split(":")
        assert getattr(importlib.import_module(module), attr) is reg.get(name)


def test_spacy_pretrain_weights_load_through_init_tok2vec(tmp_path):
    """`spacy pretrain` runs configs/window_ner.cfg's [pretraining] block for a few steps, and
    `[initialize] init_tok2vec` puts exactly those weights into window_ner's tok2vec."""
    docs, _ = read_conll04(REPO / "assets" / "sample" / "sample_train.json", spacy.blank("en").vocab)
    docs = docs[:60]
    srsly.write_jsonl(tmp_path / "text.jsonl", [{"text": doc.text} for doc in docs])
    write_docbin(docs, tmp_path / "train.spacy")
    config = REPO / "configs" / "window_ner.cfg"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run(
        [sys.executable, "-m", "spacy", "pretrain", str(config), str(tmp_path / "out"),
         "--paths.raw_text", str(tmp_path / "text.jsonl"), "--pretraining.max_epochs", "2",
         "--pretraining.batcher.size", "500"],
        capture_output=True, text=True, env=env, cwd=REPO,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    weights = (tmp_path / "out" / "model-last.bin").read_bytes()
    assert (tmp_path / "out" / "model0.bin").read_bytes() != weights, "pretraining changed nothing"

    def tok2vec_after_init(**overrides):
        values = {"paths.train": str(tmp_path / "train.spacy"), "paths.dev": str(tmp_path / "train.spacy")}
        nlp = init_nlp(load_config(config, overrides={**values, **overrides}, interpolate=False))
        return nlp.get_pipe("window_ner").model.get_ref("tok2vec")

    fresh = tok2vec_after_init()
    loaded = tok2vec_after_init(**{"paths.init_tok2vec": str(tmp_path / "out" / "model-last.bin")})
    assert fresh.to_bytes() != weights
    assert loaded.to_bytes() == weights
    pretrained = fresh.from_bytes(weights)
    n_params = 0
    for a, b in zip(pretrained.walk(), loaded.walk()):
        for name in a.param_names:
            if a.has_param(name):
                assert numpy.array_equal(a.get_param(name), b.get_param(name)), (a.name, name)
                n_params += 1
    assert n_params > 0


def test_benchmarks_pretrain_help():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.pretrain", "--help"], capture_output=True, text=True, env=env, cwd=REPO
    )
    assert result.returncode == 0, result.stderr
    assert "--pretrain-epochs" in result.stdout and "--max-steps" in result.stdout

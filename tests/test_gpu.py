"""The layers and components under thinc's CupyOps, compared with NumpyOps. Skipped where cupy or
an NVIDIA GPU is missing; `bash benchmarks/gpu_check.sh` runs them on a GPU machine."""
import numpy
import pytest
import spacy
from numpy.testing import assert_allclose
from thinc.api import CupyOps, chain, fix_random_seed, ragged2list, use_ops
from thinc.util import has_cupy_gpu

from spacy_window_ner.gradcheck import check_gradients
from spacy_window_ner.layers.crf import LinearChainCRF
from spacy_window_ner.layers.hidden import Hidden
from spacy_window_ner.layers.output import Output
from spacy_window_ner.layers.pair_features import CandidateColumn, PairFeatures
from spacy_window_ner.layers.pair_scorer import PairScorer
from spacy_window_ner.layers.window_scorer import WindowScorer
from spacy_window_ner.layers.windows import Windows
from spacy_window_ner.legacy.layers import PairScorer_v1, PairScorer_v2, WindowScorer_v1, WindowScorer_v2

from .util import NER_TEST_TEXTS, make_rel_examples, make_rel_nlp, ner_predictions, train_ner_pipeline, train_rel

pytestmark = pytest.mark.skipif(not has_cupy_gpu, reason="needs cupy and an NVIDIA GPU")
# Candidate rows (CandidateColumn: head_start, head_end, tail_start, tail_end, head_label,
# tail_label) of three docs of 6, 3 and 2 tokens: a gap, reversed, adjacent; none; both paddings.
PAIR_CANDIDATES = [
    [[0, 1, 2, 4, 1, 2], [2, 4, 0, 1, 2, 1], [2, 4, 4, 5, 0, 0]],
    [],
    [[0, 1, 1, 2, 1, 1], [1, 2, 0, 1, 1, 1]],
]


def on_gpu(make_model):
    """Build a model under CupyOps."""
    with use_ops("cupy"):
        return make_model()


def copy_params(source, target):
    for src, dst in zip(source.walk(), target.walk()):
        for name in src.param_names:
            if src.has_param(name):
                dst.set_param(name, dst.ops.asarray(src.get_param(name)))


def token_vectors(lengths, nI=3, seed=0):
    """Random inputs in [-1, 1) for docs of these lengths."""
    rng = numpy.random.RandomState(seed)
    return [rng.uniform(-1, 1, (n, nI)).astype("float32") for n in lengths]


def one_hot(tags, n_tags=9):
    """The CRF's gold mask of known tags: a one-hot row per token."""
    mask = numpy.zeros((len(tags), n_tags), dtype="int32")
    mask[numpy.arange(len(tags)), tags] = 1
    return mask


def pair_inputs():
    cands = [numpy.asarray(c, dtype="int32").reshape((-1, len(CandidateColumn))) for c in PAIR_CANDIDATES]
    return token_vectors([6, 3, 2]), cands


def layers():
    """(name, builder(ops_name), input maker) for each hand-written layer."""
    return [
        (
            "hidden",
            lambda: Hidden(4, 3),
            lambda: numpy.random.RandomState(0).uniform(-1, 1, (5, 3)).astype("f"),
        ),
        (
            "output",
            lambda: Output(2, 3),
            lambda: numpy.random.RandomState(0).uniform(-1, 1, (5, 3)).astype("f"),
        ),
        (
            "windows",  # as the window scorer uses it: its Ragged output back to a list per doc
            lambda: chain(Windows(3, window_size=2), ragged2list()),
            lambda: token_vectors([5, 0, 1, 3]),
        ),
        (
            "window_scorer",
            lambda: WindowScorer(nO=2, nI=3, window_size=2, hidden_width=4),
            lambda: token_vectors([5, 0, 1, 3]),
        ),
        (
            "window_scorer_v2",
            lambda: WindowScorer_v2(nO=2, nI=3, window_size=2, hidden_width=4),
            lambda: token_vectors([5, 0, 1, 3]),
        ),
        (
            "window_scorer_v1",
            lambda: WindowScorer_v1(nO=2, nI=3, window_size=2, hidden_width=4),
            lambda: token_vectors([5, 0, 1, 3]),
        ),
        (
            "crf",
            lambda: LinearChainCRF(9),
            lambda: (
                [numpy.random.RandomState(1).normal(size=(n, 9)).astype("f") for n in (3, 1, 0)],
                [one_hot(g) for g in ([1, 3, 0], [4], [])],
            ),
        ),
        (
            "pair_scorer",
            lambda: PairScorer(nO=2, nI=3, window_size=1, hidden_width=4, n_entity_labels=3,
                               label_width=2, n_distance_buckets=4),
            pair_inputs,
        ),
        (
            "pair_features",
            lambda: PairFeatures(3, window_size=1, n_entity_labels=3, label_width=2, n_distance_buckets=4),
            pair_inputs,
        ),
        (
            "pair_scorer_v2",
            lambda: PairScorer_v2(nO=2, nI=3, window_size=1, hidden_width=4, n_entity_labels=3,
                                  label_width=2, n_distance_buckets=4),
            pair_inputs,
        ),
        (
            "pair_scorer_v1",
            lambda: PairScorer_v1(nO=2, nI=3, window_size=1, hidden_width=4, n_entity_labels=3,
                                  label_width=2, n_distance_buckets=4),
            pair_inputs,
        ),
    ]


def to_device(ops, X):
    if isinstance(X, numpy.ndarray):
        return ops.asarray(X)
    if isinstance(X, (list, tuple)):
        return type(X)(to_device(ops, x) for x in X)
    return X


@pytest.mark.parametrize("name,build,make_input", layers(), ids=lambda x: x if isinstance(x, str) else "")
def test_gpu_gradients(name, build, make_input):
    fix_random_seed(0)
    model = on_gpu(build)
    model.initialize()
    errors = check_gradients(model, to_device(model.ops, make_input()))
    assert max(errors.values()) < 1e-5, errors


@pytest.mark.parametrize("name,build,make_input", layers(), ids=lambda x: x if isinstance(x, str) else "")
def test_gpu_matches_cpu(name, build, make_input):
    fix_random_seed(0)
    with use_ops("numpy"):
        cpu = build()
    cpu.initialize()
    gpu = on_gpu(build)
    gpu.initialize()
    copy_params(cpu, gpu)
    X = make_input()
    Y_cpu, backprop_cpu = cpu.begin_update(X)
    Y_gpu, backprop_gpu = gpu.begin_update(to_device(gpu.ops, X))
    flat_cpu = [numpy.asarray(y) for y in (Y_cpu if isinstance(Y_cpu, list) else [Y_cpu])]
    flat_gpu = [gpu.ops.to_numpy(y) for y in (Y_gpu if isinstance(Y_gpu, list) else [Y_gpu])]
    for a, b in zip(flat_cpu, flat_gpu):
        assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    dY = [numpy.ones_like(y) for y in flat_cpu]
    dX_cpu = backprop_cpu(dY if isinstance(Y_cpu, list) else dY[0])
    dX_gpu = backprop_gpu(to_device(gpu.ops, dY) if isinstance(Y_gpu, list) else gpu.ops.asarray(dY[0]))
    first_cpu = dX_cpu[0] if isinstance(dX_cpu, tuple) else dX_cpu
    first_gpu = dX_gpu[0] if isinstance(dX_gpu, tuple) else dX_gpu
    for a, b in zip(first_cpu, first_gpu):
        assert_allclose(numpy.asarray(a), gpu.ops.to_numpy(b), rtol=1e-4, atol=1e-5)
    for node_cpu, node_gpu in zip(cpu.walk(), gpu.walk()):
        for param in node_cpu.param_names:
            if node_cpu.has_grad(param):
                assert_allclose(node_cpu.get_grad(param), gpu.ops.to_numpy(node_gpu.get_grad(param)),
                                rtol=1e-4, atol=1e-5)


@pytest.fixture
def gpu():
    spacy.require_gpu(0)
    yield
    spacy.require_cpu()


def test_gpu_window_ner_updates(gpu):
    nlp, ner, losses = train_ner_pipeline(n_iter=30)
    assert isinstance(ner.model.ops, CupyOps)
    assert losses[-1] < losses[0]
    doc = nlp("Shaka Khan lives in London.")
    assert [(e.text, e.label_) for e in doc.ents] == [("Shaka Khan", "PERSON"), ("London", "LOC")]


def test_gpu_window_rel_updates(gpu):
    nlp = make_rel_nlp()
    losses = train_rel(nlp, make_rel_examples(nlp), n_iter=30)
    assert isinstance(nlp.get_pipe("window_rel").model.ops, CupyOps)
    assert losses["window_rel"] < 1.0


def test_gpu_runs_a_cpu_trained_pipeline_the_same(tmp_path):
    spacy.require_cpu()
    nlp, _, _ = train_ner_pipeline()
    nlp.to_disk(tmp_path / "model")
    expected = ner_predictions(nlp, NER_TEST_TEXTS)
    spacy.require_gpu(0)
    try:
        on_gpu_nlp = spacy.load(tmp_path / "model")
        assert isinstance(on_gpu_nlp.get_pipe("window_ner").model.ops, CupyOps)
        for (ents, scores), (want_ents, want_scores) in zip(ner_predictions(on_gpu_nlp, NER_TEST_TEXTS), expected):
            assert ents == want_ents
            assert_allclose(scores, want_scores, rtol=1e-4)
    finally:
        spacy.require_cpu()

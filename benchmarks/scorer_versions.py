"""Inference speed of window_ner with WindowNER.v3 (the composed WindowScorer.v3) against the
published WindowNER.v2 with the same weights, and against spaCy's own `ner` (its efficiency
config), in one process with interleaved repeats in a new order each round: the regression check of a new
scorer version, without training.

Each pipeline is built from its config (configs/window_ner.cfg for window_ner) and initialized
on the first CoNLL04 training sentences. Inference does the same work whatever the weights'
values, so nothing is trained: v2 gets v3's weights, and the output weights (zero at
initialization) are drawn at random, so that the pipelines find entities. v2 and v3 must
predict the same entities; the script checks it before timing.

    python -m benchmarks.scorer_versions [--repeats 5] [--words 20000]
"""
import random
import time
from typing import Dict

import numpy
import spacy
import typer
from spacy.cli.init_config import init_config
from spacy.language import Language
from spacy.training import Example
from spacy.util import load_model_from_config

from spacy_window_ner.readers import read_conll04
from tests.data import data_dir

from .ner_vs_spacy import CONFIGS


def window_ner(version: str, examples) -> Language:
    """window_ner from configs/window_ner.cfg with WindowNER.`version`, initialized on examples."""
    config = spacy.util.load_config(CONFIGS / "window_ner.cfg")
    config["components"]["window_ner"]["model"]["@architectures"] = f"spacy-window-ner.WindowNER.{version}"
    nlp = load_model_from_config(config, auto_fill=True)
    nlp.initialize(lambda: examples)
    return nlp


def copy_weights(source: Language, target: Language) -> None:
    """Give target's window_ner the weights of source's, param by param name (the scorers keep
    them in different nodes by version)."""
    src, dst = source.get_pipe("window_ner").model, target.get_pipe("window_ner").model
    for ref in ("tok2vec", "crf"):
        dst.get_ref(ref).from_bytes(src.get_ref(ref).to_bytes())
    src_scorer, dst_scorer = src.get_ref("scorer"), dst.get_ref("scorer")
    for name in ("W", "b", "U", "c", "pad"):
        value = next(node for node in src_scorer.walk() if name in node.param_names).get_param(name)
        next(node for node in dst_scorer.walk() if name in node.param_names).set_param(name, value.copy())


def main(
    repeats: int = typer.Option(5, help="Interleaved timing rounds"),
    words: int = typer.Option(20000, help="Words to run through each pipeline per round"),
) -> None:
    blank = spacy.blank("en")
    train, _ = read_conll04(data_dir() / "conll04" / "conll04_train.json", blank.vocab)
    test, _ = read_conll04(data_dir() / "conll04" / "conll04_test.json", blank.vocab)
    examples = [Example(blank.make_doc(doc.text), doc) for doc in train[:200]]
    spacy.util.fix_random_seed(0)
    v3 = window_ner("v3", examples)
    output = v3.get_pipe("window_ner").model.get_ref("scorer").get_ref("output")
    U = output.get_param("U")
    output.set_param("U", numpy.random.RandomState(0).normal(0, 0.5, U.shape).astype(U.dtype))
    v2 = window_ner("v2", examples)
    copy_weights(v3, v2)
    ner = load_model_from_config(init_config(lang="en", pipeline=["ner"], optimize="efficiency"), auto_fill=True)
    ner.initialize(lambda: examples)
    texts = [doc.text for doc in test]
    n_words = sum(len(doc) for doc in test)
    texts = texts * -(-words // n_words)
    n_words *= len(texts) // len(test)
    got = {name: [[(e.start, e.end, e.label_) for e in doc.ents] for doc in nlp.pipe(texts[: len(test)])]
           for name, nlp in (("v2", v2), ("v3", v3))}
    if got["v2"] != got["v3"]:
        raise SystemExit("WindowNER.v2 and .v3 predict different entities with the same weights.")
    pipelines: Dict[str, Language] = {"window_ner (v3)": v3, "window_ner (v2)": v2, "spacy ner": ner}
    best = {name: float("inf") for name in pipelines}
    order = list(pipelines.items())
    shuffle = random.Random(0).shuffle
    for _ in range(repeats):
        # A new order each round, so that no pipeline always runs right after another.
        shuffle(order)
        for name, nlp in order:
            start = time.perf_counter()
            for _doc in nlp.pipe(texts, batch_size=256):
                pass
            best[name] = min(best[name], time.perf_counter() - start)
    n_ents = sum(len(ents) for ents in got["v3"])
    print(f"CoNLL04 test texts, {n_words:,} words per round, batch 256, best of {repeats} interleaved "
          f"rounds; v2 and v3 predict the same {n_ents} entities on the {len(test)} test sentences\n")
    print(f"{'pipeline':16s} {'words/s':>9s} {'x spacy ner':>12s}")
    for name, seconds in best.items():
        print(f"{name:16s} {n_words / seconds:9,.0f} {best['spacy ner'] / seconds:12.3f}")
    print(f"\nwindow_ner time, v3 relative to v2: {best['window_ner (v3)'] / best['window_ner (v2)']:.3f}x")


if __name__ == "__main__":
    typer.run(main)

"""Relation extraction benchmark, all numbers measured in one run:

1. CoNLL04 test with gold entities: window_rel micro P/R/F (spaCy tutorial model: 51.2).
2. CoNLL04 test end to end: window_ner + window_rel assembled with configs/joint.cfg and
   scored by `spacy evaluate` (entity F1 and relation micro F1).
3. The rel_component tutorial's Prodigy data, its own split, gold entities (tutorial
   model: 28.1 test / 48.7 dev).
4. Inference speed of the joint pipeline.

    python -m benchmarks.rel [--out benchmarks/runs/rel] [--seconds 240] [--ner-model PATH]

With --ner-model, the end-to-end rows use that trained window_ner pipeline (for example the best
one of `python -m benchmarks.ner_vs_spacy`) instead of training one within the time budget.

The data is read from readers.data_dir() ($SPACY_WINDOW_NER_DATA, default ../shared/data).
Models, corpora and metrics go under --out.
"""
import json
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Tuple

import spacy
import typer
from spacy.language import Language
from spacy.tokens import Doc
from spacy.training import Example
from spacy.util import minibatch
from thinc.api import fix_random_seed

from spacy_window_ner.corpus import copy_gold_ents
from spacy_window_ner.readers import data_dir, prodigy_split, read_conll04, read_prodigy, write_docbin

REPO = Path(__file__).resolve().parent.parent
TUTORIAL_LABELS = {"Pos-Reg": "Regulates", "Neg-Reg": "Regulates", "Reg": "Regulates", "No-rel": "Regulates"}


def examples(nlp: Language, docs: List[Doc], gold_ents: bool) -> List[Example]:
    """Examples with fresh predicted docs, carrying the gold entities if gold_ents."""
    output = []
    for doc in docs:
        predicted = nlp.make_doc(doc.text)
        if gold_ents:
            copy_gold_ents(doc, predicted)
        output.append(Example(predicted, doc))
    return output


def train(
    nlp: Language, train_egs: List[Example], dev_egs: List[Example], *, key: str, epochs: int,
    seconds: float, drop: float = 0.2, batch_size: int = 16, name: str = "",
) -> Tuple[float, int]:
    """Train for up to `epochs` epochs or `seconds`, keep the epoch with the best dev `key`
    (with averaged parameters) and return (that score, its epoch)."""
    fix_random_seed(0)
    optimizer = nlp.initialize(lambda: train_egs)
    rng = random.Random(0)
    best, best_epoch, best_bytes = -1.0, -1, b""
    start = time.perf_counter()
    for epoch in range(epochs):
        order = list(train_egs)
        rng.shuffle(order)
        losses: Dict[str, float] = {}
        for batch in minibatch(order, batch_size):
            nlp.update(batch, sgd=optimizer, losses=losses, drop=drop)
        with nlp.use_params(optimizer.averages):
            score = nlp.evaluate(dev_egs)[key]
            if score > best:
                best, best_epoch, best_bytes = score, epoch, nlp.to_bytes()
        elapsed = time.perf_counter() - start
        loss = ", ".join(f"{k} {v:.2f}" for k, v in losses.items())
        print(f"  [{name}] epoch {epoch:2d}  loss {loss}  dev {key} {score * 100:.1f}  {elapsed:.0f}s", flush=True)
        if elapsed > seconds:
            print(f"  [{name}] stopping: time budget of {seconds:.0f}s used", flush=True)
            break
    nlp.from_bytes(best_bytes)
    return best, best_epoch


def rel_scores(nlp: Language, egs: List[Example]) -> Dict[str, float]:
    scores = nlp.evaluate(egs)
    return {k: scores[k] for k in ("rel_micro_p", "rel_micro_r", "rel_micro_f")}


def main(
    out: Path = typer.Option(REPO / "benchmarks" / "runs" / "rel", help="Folder for models, corpora, metrics"),
    seconds: float = typer.Option(240.0, help="Time budget of each training"),
    ner_model: Path = typer.Option(None, exists=True, help="A trained window_ner pipeline for the end-to-end rows"),
) -> None:
    data = data_dir()
    print(f"data: {data}")
    rows: List[Tuple[str, str, str]] = []
    nlp = spacy.blank("en")
    conll = {
        split: read_conll04(data / "conll04" / f"conll04_{split}.json", nlp.vocab)[0]
        for split in ("train", "dev", "test")
    }
    for split, docs in conll.items():
        write_docbin(docs, out / "corpus" / f"{split}.spacy")
    print("CoNLL04: " + ", ".join(f"{split} {len(docs)} docs" for split, docs in conll.items()))

    # 1. CoNLL04, gold entities.
    rel_nlp = spacy.blank("en")
    rel = rel_nlp.add_pipe("window_rel")
    train_egs = examples(rel_nlp, conll["train"], gold_ents=True)
    dev_egs = examples(rel_nlp, conll["dev"], gold_ents=True)
    test_egs = examples(rel_nlp, conll["test"], gold_ents=True)
    print("training window_rel on CoNLL04 train, gold entities")
    _, epoch = train(rel_nlp, train_egs, dev_egs, key="rel_micro_f", epochs=12, seconds=seconds, name="rel")
    dev_before = rel_scores(rel_nlp, dev_egs)["rel_micro_f"]
    thresholds = rel.tune_thresholds(dev_egs)
    dev_after = rel_scores(rel_nlp, dev_egs)["rel_micro_f"]
    print(f"  best epoch {epoch}; thresholds tuned on dev: "
          + ", ".join(f"{k} {v:.2f}" for k, v in thresholds.items())
          + f" (dev F {dev_before * 100:.1f} -> {dev_after * 100:.1f})")
    gold = rel_scores(rel_nlp, test_egs)
    rows.append(("CoNLL04 test, gold entities", "rel micro P / R / F",
                 " / ".join(f"{gold[k] * 100:.1f}" for k in ("rel_micro_p", "rel_micro_r", "rel_micro_f"))))
    rel_nlp.to_disk(out / "rel_model")

    # 2. CoNLL04 end to end: window_ner (trained here, or --ner-model) + window_rel, spacy evaluate.
    joint = out / "joint"
    metrics = out / "joint_test.json"
    if ner_model is None:
        ner_nlp = spacy.blank("en")
        ner_nlp.add_pipe("window_ner")
        print("training window_ner on CoNLL04 train")
        train(ner_nlp, examples(ner_nlp, conll["train"], gold_ents=False),
              examples(ner_nlp, conll["dev"], gold_ents=False), key="ents_f", epochs=30,
              seconds=seconds, drop=0.1, batch_size=8, name="ner")
        ner_nlp.to_disk(out / "ner_model")
        assemble = [sys.executable, "-m", "spacy", "assemble", str(REPO / "configs" / "joint.cfg"),
                    str(joint), "--paths.ner_model", str(out / "ner_model"),
                    "--paths.rel_model", str(out / "rel_model")]
        print("  $ " + " ".join(assemble[1:]), flush=True)
        subprocess.run(assemble, check=True, capture_output=True, text=True)
    else:
        # The NER may listen to a tok2vec of its own pipeline, so window_rel joins that pipeline.
        print(f"end to end with the NER of {ner_model}")
        ner_nlp = spacy.load(ner_model)
        ner_nlp.add_pipe("window_rel", source=spacy.load(out / "rel_model"))
        ner_nlp.to_disk(joint)
    evaluate = [sys.executable, "-m", "spacy", "evaluate", str(joint), str(out / "corpus" / "test.spacy"),
                "--output", str(metrics)]
    print("  $ " + " ".join(evaluate[1:]), flush=True)
    subprocess.run(evaluate, check=True, capture_output=True, text=True)
    scores = json.loads(metrics.read_text())
    rows.append(("CoNLL04 test, end to end", "entity F (window_ner)", f"{scores['ents_f'] * 100:.1f}"))
    rows.append(("CoNLL04 test, end to end", "rel micro P / R / F",
                 " / ".join(f"{scores[k] * 100:.1f}" for k in ("rel_micro_p", "rel_micro_r", "rel_micro_f"))))

    # 3. The tutorial's Prodigy data, its own split, gold entities.
    tut_nlp = spacy.blank("en")
    docs, _ = read_prodigy(data / "rel_component" / "annotations.jsonl", tut_nlp.vocab, label_map=TUTORIAL_LABELS)
    splits: Dict[str, List[Doc]] = {"train": [], "dev": [], "test": []}
    for doc in docs:
        splits[prodigy_split(doc)].append(doc)
    print("tutorial data: " + ", ".join(f"{k} {len(v)} docs" for k, v in splits.items()))
    tut_rel = tut_nlp.add_pipe("window_rel")
    tut = {k: examples(tut_nlp, v, gold_ents=True) for k, v in splits.items()}
    train(tut_nlp, tut["train"], tut["dev"], key="rel_micro_f", epochs=40, seconds=seconds,
          batch_size=8, name="tutorial")
    tut_rel.tune_thresholds(tut["dev"])
    rows.append(("Tutorial data, gold entities", "rel micro F dev / test",
                 f"{rel_scores(tut_nlp, tut['dev'])['rel_micro_f'] * 100:.1f} / "
                 f"{rel_scores(tut_nlp, tut['test'])['rel_micro_f'] * 100:.1f}"))

    # 4. Speed of the joint pipeline on raw test texts (tokenizer included).
    pipeline = spacy.load(joint)
    texts = [doc.text for doc in conll["test"]]
    n_words = sum(len(doc) for doc in conll["test"])
    list(pipeline.pipe(texts[:32]))  # warm up
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        list(pipeline.pipe(texts, batch_size=256))
        best = min(best, time.perf_counter() - start)
    rows.append(("Joint pipeline speed", "docs/s, words/s (best of 3)",
                 f"{len(texts) / best:,.0f} docs/s, {n_words / best:,.0f} words/s"))

    width = max(len(a) for a, _, _ in rows), max(len(b) for _, b, _ in rows)
    print(f"\n{'benchmark':{width[0]}}  {'metric':{width[1]}}  value")
    for a, b, c in rows:
        print(f"{a:{width[0]}}  {b:{width[1]}}  {c}")


if __name__ == "__main__":
    typer.run(main)

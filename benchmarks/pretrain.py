"""The window ranking pretraining objective on CoNLL04, from scratch (no pretrained pipeline).

1. Unlabelled text: the CoNLL04 train/dev/test sentences and the rel_component tutorial's
   sentences with their labels dropped, plus spaCy's own English example sentences
   (`spacy.lang.en.examples`, the only English text an installed package ships here).
2. `spacy pretrain configs/window_ner.cfg` on it ([pretraining] block: WindowRanking.v1).
3. `spacy train configs/window_ner.cfg` twice, with and without `--paths.init_tok2vec`, the
   same seed and exactly the same number of steps (patience off), selected on dev (model-best).
4. Strict entity micro P/R/F on CoNLL04 test for both.

    python -m benchmarks.pretrain                       # about 20 minutes on 2 busy cores
    python -m benchmarks.pretrain --pretrain-epochs 5 --max-steps 500 --no-test-text

The test sentences are in the pretraining text by default (transductive: their words get
pretrained vectors, never their labels); `--no-test-text` leaves them out.
"""
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List

import spacy
import srsly
import typer
from spacy.lang.en.examples import sentences as SPACY_EXAMPLES
from spacy.tokens import DocBin
from spacy.training import Example

from spacy_window_ner.readers import read_conll04, read_prodigy, write_docbin
from tests.data import data_dir

REPO = Path(__file__).parent.parent
CONFIG = REPO / "configs" / "window_ner.cfg"


def run(cmd: List[str], log: Path) -> float:
    start = time.perf_counter()
    with log.open("w") as f:
        subprocess.run(cmd, check=True, stdout=f, stderr=subprocess.STDOUT)
    return time.perf_counter() - start


def main(
    output: Path = typer.Option(REPO / "benchmarks" / "runs" / "pretrain", help="Where text, weights, models and logs go"),
    pretrain_epochs: int = typer.Option(30, help="Epochs of `spacy pretrain` over the unlabelled text"),
    max_steps: int = typer.Option(2000, help="Training steps of both runs (patience off, so both run all of them)"),
    seed: int = typer.Option(0, help="[system] seed of pretraining and of both training runs"),
    test_text: bool = typer.Option(True, help="Include the CoNLL04 test sentences (labels dropped) in the text"),
) -> None:
    output.mkdir(parents=True, exist_ok=True)
    nlp = spacy.blank("en")
    corpus: Dict[str, Path] = {}
    texts: Dict[str, List[str]] = {}
    for split in ("train", "dev", "test"):
        docs, _ = read_conll04(data_dir() / "conll04" / f"conll04_{split}.json", nlp.vocab)
        corpus[split] = output / f"{split}.spacy"
        write_docbin(docs, corpus[split])
        texts[f"conll04 {split}"] = [doc.text for doc in docs]
    if not test_text:
        del texts["conll04 test"]
    tutorial, _ = read_prodigy(data_dir() / "rel_component" / "annotations.jsonl", nlp.vocab)
    texts["rel_component tutorial"] = [doc.text for doc in tutorial]
    texts["spacy.lang.en.examples"] = list(SPACY_EXAMPLES)
    raw_text = output / "raw_text.jsonl"
    srsly.write_jsonl(raw_text, [{"text": t} for source in texts.values() for t in source])
    print("unlabelled text:")
    for source, lines in texts.items():
        print(f"  {source:24s} {len(lines):5d} sentences {sum(len(nlp.make_doc(t)) for t in lines):7,d} tokens")
    print(f"spacy pretrain: {pretrain_epochs} epochs; spacy train: {max_steps} steps each, patience off, seed {seed}",
          flush=True)
    system = ["--system.seed", str(seed)]
    weights = output / "pretrained" / f"model{pretrain_epochs - 1}.bin"
    if not weights.exists():
        seconds = run(
            [sys.executable, "-m", "spacy", "pretrain", str(CONFIG), str(output / "pretrained"),
             "--paths.raw_text", str(raw_text), "--pretraining.max_epochs", str(pretrain_epochs), *system],
            log=output / "pretrain.log",
        )
        print(f"  pretrained in {seconds:.0f} s", flush=True)
    log = [srsly.json_loads(line) for line in (output / "pretrained" / "log.jsonl").read_text().splitlines()]
    per_epoch = [entry["epoch_loss"] for entry in log if entry["epoch_loss"]]
    print(f"  pretraining loss per epoch (sum over batches): first {per_epoch[0]:.2f}, last {per_epoch[-1]:.2f}")
    runs = {"from scratch": [], "init_tok2vec": ["--paths.init_tok2vec", str(weights)]}
    results = {}
    test_docs = list(DocBin().from_disk(corpus["test"]).get_docs(nlp.vocab))
    for name, extra in runs.items():
        model_dir = output / name.replace(" ", "_")
        seconds = run(
            [sys.executable, "-m", "spacy", "train", str(CONFIG), "-o", str(model_dir),
             "--paths.train", str(corpus["train"]), "--paths.dev", str(corpus["dev"]),
             "--training.max_steps", str(max_steps), "--training.patience", "0", *system, *extra],
            log=output / f"{model_dir.name}.log",
        )
        pipeline = spacy.load(model_dir / "model-best")
        dev = srsly.read_json(model_dir / "model-best" / "meta.json")["performance"]["ents_f"]
        scores = pipeline.evaluate([Example(pipeline.make_doc(doc.text), doc) for doc in test_docs])
        results[name] = (dev, scores)
        print(f"  trained {name} in {seconds:.0f} s", flush=True)
    print(f"\nCoNLL04 test ({len(test_docs)} sentences), window_ner.cfg, strict entity micro P/R/F "
          f"(model-best on dev)\n")
    print(f"{'run':14s} {'dev F':>6s} {'P':>6s} {'R':>6s} {'F':>6s}")
    for name, (dev, scores) in results.items():
        print(f"{name:14s} {100 * dev:6.2f} {100 * scores['ents_p']:6.2f} {100 * scores['ents_r']:6.2f} "
              f"{100 * scores['ents_f']:6.2f}")
    gain = results["init_tok2vec"][1]["ents_f"] - results["from scratch"][1]["ents_f"]
    print(f"\ninit_tok2vec - from scratch: {100 * gain:+.2f} F on test")


if __name__ == "__main__":
    typer.run(main)

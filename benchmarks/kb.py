"""Throughput of `kb build`: docs/s and words/s with 1 and 2 processes, and the share of the
time spent in SQLite against the pipeline (the pipeline alone is timed on the same texts).

    python -m benchmarks.kb [--model PATH] [--n-docs 3000] [--sentences-per-doc 4]

Without --model, a window_ner pipeline is trained for a couple of epochs on the embedded
sample (assets/sample/sample_train.json). The documents join CoNLL04 sentences (from
benchmarks.data_dir()/conll04, else the embedded sample) into texts, repeated with a numbered
prefix so that every text is distinct. Scratch files go to --work-dir.
"""
import json
import random
import time
from pathlib import Path
from typing import List, Optional

import spacy
import typer
from spacy.language import Language
from spacy.training import Example
from thinc.api import fix_random_seed

from benchmarks import data_dir
from spacy_window_ner.kb import build_kb
from spacy_window_ner.readers import read_conll04

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "assets" / "sample"


def train_pipeline(epochs: int) -> Language:
    """A window_ner pipeline (default model) trained for a few epochs on the embedded sample."""
    fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe("window_ner")
    docs, _ = read_conll04(SAMPLE / "sample_train.json", nlp.vocab)
    examples = [Example(nlp.make_doc(doc.text), doc) for doc in docs]
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(epochs):
        random.shuffle(examples)
        for start in range(0, len(examples), 32):
            nlp.update(examples[start : start + 32], sgd=optimizer)
    return nlp


def make_texts(n_docs: int, per_doc: int) -> List[str]:
    """n_docs distinct texts of per_doc CoNLL04 sentences each."""
    source = data_dir() / "conll04" / "conll04_train.json"
    if not source.is_file():
        source = SAMPLE / "sample_train.json"
    sentences = [" ".join(record["tokens"]) for record in json.loads(source.read_text(encoding="utf8"))]
    texts = []
    for i in range(n_docs):
        start = (i * per_doc) % len(sentences)
        chunk = [sentences[(start + j) % len(sentences)] for j in range(per_doc)]
        texts.append(f"Report {i}. " + " ".join(chunk))
    return texts


def main(
    model: Optional[Path] = typer.Option(None, help="Pipeline directory; trained on the sample if omitted."),
    n_docs: int = typer.Option(3000, help="Documents in the corpus."),
    sentences_per_doc: int = typer.Option(4, help="CoNLL04 sentences joined into one document."),
    batch_size: int = typer.Option(64, help="nlp.pipe batch size and documents per transaction."),
    epochs: int = typer.Option(2, help="Training epochs when no --model is given."),
    processes: str = typer.Option("1,2", help="Comma-separated --n-process values to time."),
    work_dir: Path = typer.Option(Path("/work/scratch/kb/bench"), help="Scratch directory for the corpus and databases."),
) -> None:
    work_dir.mkdir(parents=True, exist_ok=True)
    if model is None:
        start = time.perf_counter()
        nlp = train_pipeline(epochs)
        model = work_dir / "window_ner"
        nlp.to_disk(model)
        print(f"trained window_ner for {epochs} epochs on the sample in {time.perf_counter() - start:.1f}s")
    nlp = spacy.load(model)
    texts = make_texts(n_docs, sentences_per_doc)
    corpus = work_dir / "corpus.jsonl"
    corpus.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), encoding="utf8")
    n_words = sum(len(nlp.make_doc(t)) for t in texts)
    print(f"corpus: {n_docs} docs, {n_words} words ({n_words / n_docs:.0f} words/doc), batch size {batch_size}, "
          f"pipeline {nlp.pipe_names}")
    print(f"{'n_process':>9} {'pipeline docs/s':>16} {'build docs/s':>13} {'build words/s':>14} "
          f"{'SQLite share':>13} {'overhead':>9} {'rerun docs/s':>13}")
    for n_process in (int(n) for n in processes.split(",")):
        start = time.perf_counter()
        for _ in nlp.pipe(texts, batch_size=batch_size, n_process=n_process):
            pass
        pipeline_s = time.perf_counter() - start
        db = work_dir / f"kb_{n_process}.sqlite"
        for path in db.parent.glob(db.name + "*"):
            path.unlink()
        stats = build_kb(nlp, [corpus], db, batch_size=batch_size, n_process=n_process)
        assert stats.docs_added == n_docs, stats
        rerun = build_kb(nlp, [corpus], db, batch_size=batch_size, n_process=n_process)
        assert rerun.docs_added == 0, rerun
        print(
            f"{n_process:>9} {n_docs / pipeline_s:>16,.0f} {n_docs / stats.seconds:>13,.0f} "
            f"{stats.words / stats.seconds:>14,.0f} {stats.seconds_sqlite / stats.seconds:>12.1%} "
            f"{stats.seconds / pipeline_s - 1:>8.1%} {n_docs / rerun.seconds:>13,.0f}"
        )
    print("SQLite share: time in SQLite (identity look-ups + batch writes) / build wall time, in the main process.\n"
          "overhead: build wall time / pipeline-alone wall time - 1. rerun: every document skipped (same identity and hash).")


if __name__ == "__main__":
    typer.run(main)

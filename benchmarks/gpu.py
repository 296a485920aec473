"""Training and inference words/second of window_ner on the GPU against the CPU, and the layer
benchmark's tokens/second on the GPU. Needs cupy and an NVIDIA GPU.

    python -m benchmarks.gpu [--epochs 2] [--batch-words 4000]
"""
import random
import time
from itertools import islice

import spacy
import typer
from spacy.training import Example
from spacy.util import minibatch
from thinc.api import fix_random_seed

from benchmarks import layer
from spacy_window_ner.readers import read_conll04
from tests.data import data_dir


def measure(device: str, epochs: int, batch_docs: int) -> tuple:
    if device == "gpu":
        spacy.require_gpu(0)
    else:
        spacy.require_cpu()
    fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe("window_ner")
    docs, _ = read_conll04(data_dir() / "conll04" / "conll04_train.json", nlp.vocab)
    examples = [Example(nlp.make_doc(doc.text), doc) for doc in docs]
    optimizer = nlp.initialize(lambda: examples)
    words = sum(len(doc) for doc in docs)
    texts = [doc.text for doc in docs] * 3
    # Warm up: the first calls on a GPU compile kernels and fill the memory pool.
    for batch in islice(minibatch(examples, batch_docs), 2):
        nlp.update(batch, sgd=optimizer)
    list(nlp.pipe(texts[:batch_docs], batch_size=1024))
    start = time.perf_counter()
    for _ in range(epochs):
        random.shuffle(examples)
        for batch in minibatch(examples, batch_docs):
            nlp.update(batch, sgd=optimizer)
    train_wps = epochs * words / (time.perf_counter() - start)
    start = time.perf_counter()
    for _doc in nlp.pipe(texts, batch_size=1024):
        pass
    infer_wps = 3 * words / (time.perf_counter() - start)
    return train_wps, infer_wps


def main(epochs: int = typer.Option(2, help="Training epochs over CoNLL04 train"),
         batch_docs: int = typer.Option(256, help="Docs per training batch (large batches keep the GPU busy)")) -> None:
    print(f"window_ner (configs default), CoNLL04 train, {epochs} epochs, {batch_docs} docs per batch")
    for device in ("cpu", "gpu"):
        train_wps, infer_wps = measure(device, epochs, batch_docs)
        print(f"  {device}: training {train_wps:10,.0f} words/s   inference {infer_wps:10,.0f} words/s")
    spacy.require_gpu(0)
    print("\nlayer benchmark on the GPU:")
    layer.main(repeats=30, tokens=2000)


if __name__ == "__main__":
    typer.run(main)

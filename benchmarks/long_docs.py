"""Time and memory on long documents: the joint pipeline (window_ner + window_rel) on one doc
of 10k, 50k and 100k tokens, window_rel's candidate generation alone, and `explain` on 1k to
16k tokens.

    python -m benchmarks.long_docs [--model PATH] [--sizes 10000,50000,100000]
        [--explain-sizes 1000,2000,4000,8000,16000] [--modes none,sentencizer]

Without --model, window_ner and window_rel are trained for a couple of epochs on the embedded
sample (assets/sample/sample_train.json). A long doc joins CoNLL04 sentences (as
benchmarks/kb.py builds its texts) and is cut to the size. window_rel pairs the entities of one
sentence when the doc has sentence boundaries, else those at most max_distance tokens apart:
mode "none" runs the pipeline as it is (a blank pipeline sets no sentences), "sentencizer"
puts spaCy's sentencizer first. Every measurement runs in a fresh process, so that its peak
RSS (ru_maxrss) is its own; "base" is the RSS after loading the pipeline and building the
text, before the run. The candidates' peak is what tracemalloc sees during
the candidate generator alone (WindowRel.candidates). A run longer than --timeout is stopped and shown as "> T".
"""
import multiprocessing
import resource
import time
import tracemalloc
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import spacy
import typer
from spacy.language import Language
from spacy.training import Example
from thinc.api import fix_random_seed

import spacy_window_ner
from benchmarks.kb import SAMPLE, make_texts
from spacy_window_ner.explain import explain
from spacy_window_ner.readers import read_conll04
from spacy_window_ner.rel import WindowRel

MODES = ("none", "sentencizer")


def train_pipeline(epochs: int) -> Language:
    """window_ner and window_rel (default models) trained for a few epochs on the embedded sample."""
    fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe("window_ner")
    nlp.add_pipe("window_rel")
    docs, _ = read_conll04(SAMPLE / "sample_train.json", nlp.vocab)
    examples = [Example(nlp.make_doc(doc.text), doc) for doc in docs]
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(epochs):
        for start in range(0, len(examples), 32):
            nlp.update(examples[start : start + 32], sgd=optimizer)
    return nlp


def long_text(nlp: Language, n_tokens: int) -> str:
    """A text of n_tokens tokens: CoNLL04 sentences joined, cut after the n_tokens-th token.
    nlp.max_length is raised to fit it."""
    n_texts = n_tokens // 100 + 1
    while True:
        doc = nlp.tokenizer(" ".join(make_texts(n_texts, 4)))
        if len(doc) >= n_tokens:
            break
        n_texts *= 2
    text = doc[:n_tokens].text
    nlp.max_length = max(nlp.max_length, len(text) + 1)
    return text


def load(model: Path, mode: str) -> Language:
    nlp = spacy.load(model)
    if mode == "sentencizer":
        nlp.add_pipe("sentencizer", first=True)
    return nlp


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def measure_pipeline(model: Path, n_tokens: int, mode: str) -> Dict[str, Any]:
    """The pipeline on one doc of n_tokens tokens, then window_rel's candidates alone."""
    nlp = load(model, mode)
    text = long_text(nlp, n_tokens)
    base = max_rss_mb()
    start = time.perf_counter()
    doc = nlp(text)
    seconds = time.perf_counter() - start
    peak = max_rss_mb()
    rel = next(pipe for _, pipe in nlp.pipeline if isinstance(pipe, WindowRel))
    tracemalloc.start()
    start = time.perf_counter()
    (pairs,) = rel.candidates([doc], [rel.entities(doc)])
    cand_seconds = time.perf_counter() - start
    cand_peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return {
        "tokens": len(doc), "sents": len(list(doc.sents)) if doc.has_annotation("SENT_START") else 0,
        "ents": len(doc.ents), "pairs": len(pairs),
        "seconds": seconds, "base_mb": base, "peak_mb": peak,
        "cand_seconds": cand_seconds, "cand_peak_mb": cand_peak,
    }


def measure_explain(model: Path, n_tokens: int) -> Dict[str, Any]:
    """explain (the whole pipeline, then the attributions) on one text of n_tokens tokens."""
    nlp = load(model, "none")
    text = long_text(nlp, n_tokens)
    start = time.perf_counter()
    explanations = explain(nlp, text)
    return {"seconds": time.perf_counter() - start, "ents": len(explanations), "peak_mb": max_rss_mb()}


def _child(conn: Any, function: Callable[..., Dict[str, Any]], args: tuple) -> None:
    conn.send(function(*args))
    conn.close()


def in_fresh_process(function: Callable[..., Dict[str, Any]], *args: Any, timeout: float) -> Optional[Dict[str, Any]]:
    """function(*args) in a new interpreter; None if it ran past timeout seconds (it is stopped)."""
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(send, function, args))
    process.start()
    send.close()
    result = receive.recv() if receive.poll(timeout) else None
    if result is None:
        process.terminate()
    process.join()
    if result is None and process.exitcode not in (0, -15):
        raise RuntimeError(f"The measurement {function.__name__}{args} failed (exit code {process.exitcode}).")
    return result


def main(
    model: Optional[Path] = typer.Option(None, help="Pipeline with window_ner and window_rel; trained on the sample if omitted."),
    sizes: str = typer.Option("10000,50000,100000", help="Comma-separated doc lengths (tokens) for the pipeline."),
    explain_sizes: str = typer.Option("1000,2000,4000,8000,16000", help="Comma-separated text lengths (tokens) for explain; empty to skip."),
    modes: str = typer.Option(",".join(MODES), help="Comma-separated sentence modes: none (max_distance applies), sentencizer."),
    epochs: int = typer.Option(2, help="Training epochs when no --model is given."),
    timeout: float = typer.Option(900.0, help="Seconds before one measurement is stopped."),
    work_dir: Path = typer.Option(Path("/work/scratch/long_docs"), help="Scratch directory for the trained pipeline."),
) -> None:
    if model is None:
        work_dir.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        model = work_dir / "joint"
        train_pipeline(epochs).to_disk(model)
        print(f"trained window_ner + window_rel for {epochs} epochs on the sample in {time.perf_counter() - start:.1f}s")
    nlp = spacy.load(model)
    rel = next((pipe for _, pipe in nlp.pipeline if isinstance(pipe, WindowRel)), None)
    if rel is None:
        raise typer.BadParameter(f"The pipeline {nlp.pipe_names} has no window_rel component.", param_hint="--model")
    print(f"spacy_window_ner from {Path(spacy_window_ner.__file__).parent}; pipeline {nlp.pipe_names}, max_distance {getattr(rel.candidates, 'max_distance', None)}, "
          f"max_candidates_per_doc {getattr(rel.candidates, 'max_candidates_per_doc', None)}")
    print(f"{'mode':>11} {'tokens':>7} {'sents':>6} {'ents':>6} {'pairs':>6} {'pipeline s':>11} "
          f"{'base MB':>8} {'peak MB':>8} {'cands s':>8} {'cands MB':>9}")
    for mode in modes.split(","):
        for n_tokens in (int(size) for size in sizes.split(",") if size):
            r = in_fresh_process(measure_pipeline, model, n_tokens, mode, timeout=timeout)
            if r is None:
                print(f"{mode:>11} {n_tokens:>7} {'':>6} {'':>6} {'':>6} {'> ' + str(int(timeout)):>11}", flush=True)
                continue
            print(f"{mode:>11} {r['tokens']:>7} {r['sents']:>6} {r['ents']:>6} {r['pairs']:>6} {r['seconds']:>11.1f} "
                  f"{r['base_mb']:>8.0f} {r['peak_mb']:>8.0f} {r['cand_seconds']:>8.2f} {r['cand_peak_mb']:>9.1f}",
                  flush=True)
    if explain_sizes:
        print(f"\n{'explain tokens':>14} {'ents':>6} {'seconds':>8} {'peak MB':>8}")
        for n_tokens in (int(size) for size in explain_sizes.split(",") if size):
            r = in_fresh_process(measure_explain, model, n_tokens, timeout=timeout)
            if r is None:
                print(f"{n_tokens:>14} {'':>6} {'> ' + str(int(timeout)):>8}", flush=True)
                continue
            print(f"{n_tokens:>14} {r['ents']:>6} {r['seconds']:>8.1f} {r['peak_mb']:>8.0f}", flush=True)
    print("pairs: window_rel's candidates (at most max_candidates_per_doc). peak MB: the process's peak RSS; "
          "cands s / MB: the candidate generator alone (WindowRel.candidates), its time and tracemalloc peak.")


if __name__ == "__main__":
    typer.run(main)

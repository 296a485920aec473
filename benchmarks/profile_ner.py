"""Where a trained NER pipeline spends its inference time: `nlp.pipe` over the CoNLL04 test texts
repeated to about --words words, batch --batch-size, under cProfile (the functions with the
most cumulative time, as a share of the run), and, for window_ner, the same work timed stage by
stage without the profiler, each stage's best of --repeats rounds: tokenizer, tok2vec, window
scorer, decoding (Viterbi, and the span confidences when the component computes them), and
writing the annotations.

    python -m benchmarks.profile_ner PIPELINE [--words 30000] [--batch-size 256] [--top 25] [--repeats 3]

PIPELINE is a trained pipeline's folder, e.g. benchmarks/runs/ner/window_ner/model-best as
`python -m benchmarks.ner_vs_spacy` leaves it. The stage table needs a window_ner component
(WindowNER) and times the pipeline's other components, if any, as "other components".
"""
import cProfile
import pstats
import time
from pathlib import Path
from typing import Dict, List, Tuple

import spacy
import typer
from spacy.language import Language
from spacy.util import minibatch

from spacy_window_ner.ner import WindowNER
from spacy_window_ner.readers import read_conll04
from tests.data import data_dir


def test_texts(nlp: Language, words: int) -> Tuple[List[str], int]:
    """The CoNLL04 test texts, repeated to at least `words` words (as the pipeline tokenizes them).

    nlp (Language): The pipeline, whose vocab and tokenizer count the words.
    words (int): The least number of words.
    RETURNS (Tuple[List[str], int]): The texts and their number of words.
    """
    docs, _ = read_conll04(data_dir() / "conll04" / "conll04_test.json", nlp.vocab)
    texts = [doc.text for doc in docs]
    n_words = sum(len(nlp.make_doc(text)) for text in texts)
    repeats = -(-words // n_words)
    return texts * repeats, n_words * repeats


def profile_table(profile: cProfile.Profile, total: float, top: int) -> List[str]:
    """The `top` functions by cumulative time, with their share of `total` seconds."""
    stats = pstats.Stats(profile)
    rows = []
    # pstats keeps (file, line, name) -> (primitive calls, calls, own time, cumulative time, callers)
    for (file, line, name), (_, calls, own, cumulative, _) in stats.stats.items():  # type: ignore[attr-defined]
        where = f"{Path(file).name}:{line}({name})" if line else name
        rows.append((cumulative, own, calls, where))
    rows.sort(reverse=True)
    lines = [f"{'cum s':>7s} {'cum %':>6s} {'own s':>7s} {'own %':>6s} {'calls':>8s}  function"]
    for cumulative, own, calls, where in rows[:top]:
        lines.append(
            f"{cumulative:7.3f} {100 * cumulative / total:6.1f} {own:7.3f} {100 * own / total:6.1f} {calls:8d}  {where}"
        )
    return lines


def stage_times(nlp: Language, texts: List[str], batch_size: int) -> Dict[str, float]:
    """The seconds each stage of window_ner's inference takes over texts, stage by stage as
    nlp.pipe runs them (same batches), without a profiler. set_annotations decodes (Viterbi and
    the confidences) and writes the entities; "(decode)" times the decoding alone, once more,
    and is not part of the total."""
    name, pipe = next((name, pipe) for name, pipe in nlp.pipeline if isinstance(pipe, WindowNER))
    model = pipe.model
    tok2vec, scorer = model.get_ref("tok2vec"), model.get_ref("scorer")
    times = dict.fromkeys(["tokenizer", "other components", "tok2vec", "window scorer", "set_annotations", "(decode)"], 0.0)
    for batch in minibatch(texts, size=batch_size):
        start = time.perf_counter()
        docs = [nlp.make_doc(text) for text in batch]
        times["tokenizer"] += time.perf_counter() - start
        for other, component in nlp.pipeline:
            if other == name:
                break
            start = time.perf_counter()
            docs = list(component.pipe(docs)) if hasattr(component, "pipe") else [component(doc) for doc in docs]
            times["other components"] += time.perf_counter() - start
        start = time.perf_counter()
        vectors = tok2vec.predict(docs)
        times["tok2vec"] += time.perf_counter() - start
        start = time.perf_counter()
        scores = scorer.predict(vectors)
        times["window scorer"] += time.perf_counter() - start
        start = time.perf_counter()
        pipe.set_annotations(docs, scores)
        times["set_annotations"] += time.perf_counter() - start
        # Decoding again, alone: the part of set_annotations that is not writing to the docs.
        start = time.perf_counter()
        pipe.decode(scores)
        times["(decode)"] += time.perf_counter() - start
    return times


def main(
    pipeline: Path = typer.Argument(..., exists=True, file_okay=False, help="A trained pipeline's folder"),
    words: int = typer.Option(30000, min=1, help="Run the test texts repeated to at least this many words"),
    batch_size: int = typer.Option(256, min=1, help="nlp.pipe's batch size"),
    top: int = typer.Option(25, min=1, help="Rows of the profile table"),
    repeats: int = typer.Option(3, min=1, help="Timing rounds without the profiler (the best of them counts)"),
) -> None:
    nlp = spacy.load(pipeline)
    texts, n_words = test_texts(nlp, words)
    # One batch first, so that lazy set-up (the first calls into BLAS, the tokenizer's caches) is
    # not profiled.
    for _ in nlp.pipe(texts[:batch_size], batch_size=batch_size):
        pass
    profile = cProfile.Profile()
    start = time.perf_counter()
    profile.enable()
    for _ in nlp.pipe(texts, batch_size=batch_size):
        pass
    profile.disable()
    total = time.perf_counter() - start
    print(f"{pipeline}: nlp.pipe over {len(texts):,} texts, {n_words:,} words, batch {batch_size}")
    print(f"under cProfile: {total:.2f} s ({n_words / total:,.0f} words/s with the profiler's overhead)\n")
    print("\n".join(profile_table(profile, total, top)))
    if not any(isinstance(pipe, WindowNER) for _, pipe in nlp.pipeline):
        return
    plain = float("inf")
    times = {}
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in nlp.pipe(texts, batch_size=batch_size):
            pass
        plain = min(plain, time.perf_counter() - start)
        for stage, seconds in stage_times(nlp, texts, batch_size).items():
            times[stage] = min(times.get(stage, float("inf")), seconds)
    staged = sum(seconds for stage, seconds in times.items() if stage != "(decode)")
    print(f"\nwithout the profiler, best of {repeats}: nlp.pipe {plain:.2f} s ({n_words / plain:,.0f} words/s); "
          f"stage by stage {staged:.2f} s:")
    for stage, seconds in times.items():
        print(f"  {stage:18s} {seconds:7.3f} s {100 * seconds / staged:6.1f} %")


if __name__ == "__main__":
    typer.run(main)

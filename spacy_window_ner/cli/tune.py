"""`spacy-window-ner tune-thresholds`, `tune-ner-bias` and `copy-tuning`: a pipeline's settings
set on dev data (see the tuning package). Each command parses its options and gives
`tune_and_save` its own step; `tune_and_save` does the rest the same way for all three: load the
pipeline, fail in one line where the step refuses, save atomically and say where."""
import os
from pathlib import Path
from typing import Callable, Optional, Tuple, cast

import typer
from spacy.language import Language
from wasabi import table

from ..escape import printable
from ..files import atomic_directory
from ..ner import WindowNER
from ..tuning import (
    DEFAULT_BIAS_GRID, DEFAULT_MIN_THRESHOLD, MAX_GRID_VALUES, bias_grid, copy_tuning, tune_pipeline_thresholds, tune_pipeline_thresholds_by_cv,
    tune_recall_bias,
)
from ._tables import pct
from ._util import above_zero, app, fail, finite, load_pipeline, one_line, refuse_input

# A tuning command's own step: it tunes the loaded pipeline, prints what it chose, and returns
# what the saved pipeline is said to carry in the last line ("" or " with ...").
TuningStep = Callable[[Language], str]


@app.command("tune-thresholds")
def tune_thresholds(
    model: Path = typer.Argument(..., exists=True, help="Pipeline directory with a window_rel component."),
    dev_path: Path = typer.Argument(..., exists=True, dir_okay=False, help="Dev .spacy file with gold entities and relations."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", file_okay=False, help="Save the tuned pipeline here instead of over MODEL."),
    component: str = typer.Option("window_rel", "--component", "-c", help="Name of the window_rel component."),
    gold_ents: bool = typer.Option(False, "--gold-ents", help="Tune on the gold entities instead of those the pipeline's NER predicts."),
    shared: bool = typer.Option(False, "--shared", help="One threshold for all labels, maximising micro F: steadier on a small dev set."),
    min_support: int = typer.Option(0, "--min-support", min=0, help="Labels with fewer gold dev relations get the shared threshold."),
    shrinkage: float = typer.Option(0.0, "--shrinkage", min=0.0, callback=finite, help="Shrink each label's threshold toward the shared one, with this weight in gold relations."),
    cross_validate: int = typer.Option(0, "--cross-validate", min=0, help="Choose the way of tuning (shared, per label, min support or shrinkage, several values each) by K-fold cross-validation over dev, then tune with it; 0: off."),
    min_threshold: float = typer.Option(DEFAULT_MIN_THRESHOLD, "--min-threshold", min=0.0, max=0.99, help="The lowest threshold a label gets: the best cut at or above it, so that a few low-scored dev relations can't pull a label's threshold toward 0; 0: no floor."),
) -> None:
    """Tune a pipeline's relation thresholds on dev data, for the entities it will see: by
    default those its own NER predicts, which suits an assembled NER + window_rel pipeline.
    The pipeline is saved into a new directory beside the target, which then replaces the
    target whole: a kill or a full disk leaves the old pipeline loadable."""
    if cross_validate and (shared or min_support or shrinkage):
        fail("--cross-validate chooses among --shared, --min-support and --shrinkage itself: leave them out.")

    def tune(nlp: Language) -> str:
        before = dict(getattr(nlp.get_pipe(component), "thresholds", {}))
        if cross_validate:
            ranked, thresholds = tune_pipeline_thresholds_by_cv(
                nlp, dev_path, component, gold_ents=gold_ents, n_folds=cross_validate, min_threshold=min_threshold
            )
            typer.echo(f"Ways of tuning, by {cross_validate}-fold cross-validated micro F on {dev_path}:")
            typer.echo(table([(tuning.name, pct(f)) for tuning, f in ranked], header=("Tuning", "CV F"), aligns=("l", "r")))
            typer.echo(f"✔ Chose: {ranked[0][0].name}")
        else:
            thresholds = tune_pipeline_thresholds(
                nlp, dev_path, component, gold_ents=gold_ents, shared=shared,
                min_support=min_support, shrinkage=shrinkage, min_threshold=min_threshold,
            )
        typer.echo(f"Thresholds of {component}, tuned on {dev_path} ({'gold' if gold_ents else 'predicted'} entities):")
        typer.echo(table([(printable(label), f"{before[label]:.3f}", f"{value:.3f}") for label, value in thresholds.items()],
                         header=("Label", "before", "after"), aligns=("l", "r", "r")))
        return ""

    tune_and_save(model, dev_path, output, component, tune)


@app.command("tune-ner-bias")
def tune_ner_bias(
    model: Path = typer.Argument(..., exists=True, help="Pipeline directory with a window_ner component."),
    dev_path: Path = typer.Argument(..., exists=True, dir_okay=False, help="Dev .spacy file with gold entities."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", file_okay=False, help="Save the tuned pipeline here instead of over MODEL."),
    component: str = typer.Option("window_ner", "--component", "-c", help="Name of the window_ner component."),
    low: float = typer.Option(DEFAULT_BIAS_GRID[0], "--low", callback=finite, help="The smallest recall bias to try."),
    high: float = typer.Option(DEFAULT_BIAS_GRID[-1], "--high", callback=finite, help="The largest recall bias to try."),
    step: float = typer.Option(DEFAULT_BIAS_GRID[1] - DEFAULT_BIAS_GRID[0], "--step", callback=above_zero, help=f"The spacing of the biases tried (at most {MAX_GRID_VALUES:,} of them)."),
) -> None:
    """Tune the recall bias of a pipeline's window_ner on dev data: the value added to the
    scores of the B- and U- tags (once per entity) before decoding that maximises dev entity F,
    among --low, --low + --step, ... --high. Above 0 it predicts more entities, trading
    precision for recall. The pipeline is saved as tune-thresholds saves it: a kill or a full
    disk leaves the old pipeline loadable."""
    if not low <= high:
        fail(f"--low ({low}) must not be above --high ({high}).")
    try:
        grid = bias_grid(low, high, step)
    except ValueError as err:
        fail(f"--low {low:g} to --high {high:g} by --step {step:g}: {one_line(err)}")

    def tune(nlp: Language) -> str:
        before = getattr(nlp.get_pipe(component), "cfg", {}).get("recall_bias", 0.0)
        typer.echo(f"Trying {len(grid):,} recall biases from {grid[0]:g} to {grid[-1]:g}: one decoding of {dev_path} each.")
        results = tune_recall_bias(nlp, dev_path, component, grid=grid)
        chosen = cast(WindowNER, nlp.get_pipe(component)).recall_bias  # tune_recall_bias checked it
        typer.echo(f"Entity scores of {component} on {dev_path} by recall bias (was {before:g}):")
        typer.echo(table(
            [(f"{r.bias:g}" + (" *" if r.bias == chosen else ""), pct(r.p), pct(r.r), pct(r.f), r.n_ents, r.n_tokens)
             for r in results],
            header=("Bias", "P", "R", "F", "Entities", "Tokens"), aligns=("r", "r", "r", "r", "r", "r"),
        ))
        return f" with recall_bias {chosen:g}"

    tune_and_save(model, dev_path, output, component, tune)


@app.command("copy-tuning")
def copy_tuning_command(
    tuned: Path = typer.Argument(..., exists=True, file_okay=False, help="The pipeline whose components were tuned on dev (tune-thresholds, tune-ner-bias)."),
    model: Path = typer.Argument(..., exists=True, file_okay=False, help="The pipeline to give their settings, e.g. retrained on train + dev."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", file_okay=False, help="Save the pipeline here instead of over MODEL."),
) -> None:
    """Give MODEL's window_rel and window_ner components the settings tuned on dev for the
    components of the same name in TUNED: the relation thresholds and the recall bias. For the
    final pipeline retrained on train + dev, which has no held-out data left to tune them on:
    TUNED is its predecessor trained on train alone. The pipeline is saved as tune-thresholds
    saves it: a kill or a full disk leaves the old pipeline loadable."""

    def tune(nlp: Language) -> str:
        for name, settings in copy_tuning(load_pipeline(tuned), nlp).items():
            typer.echo(f"{name}: {settings}")
        return f" with the settings of {tuned}"

    tune_and_save(model, tuned, output, None, tune)


def tune_and_save(model: Path, source: Path, output: Optional[Path], component: Optional[str], tune: TuningStep) -> None:
    """What every tuning command does around its own step: load MODEL (load_for_tuning), run the
    step on it, fail in one line where the step refuses (a TypeError or ValueError: a component
    of another kind, dev data with nothing to tune on, ...), then save the pipeline into a new
    directory that replaces the target whole (files.atomic_directory) and say where.

    model (Path): The pipeline to tune.
    source (Path): The dev data or the pipeline the step tunes from; never overwritten.
    output (Optional[Path]): Where to save the tuned pipeline; over MODEL if None.
    component (Optional[str]): The component the step tunes, checked to exist; None if none.
    tune (TuningStep): The step.
    """
    output, nlp = load_for_tuning(model, source, output, component)
    try:
        carries = tune(nlp)
    except (TypeError, ValueError) as err:
        fail(one_line(err))
    with atomic_directory(output) as new_dir:
        nlp.to_disk(new_dir)
    typer.echo(f"✔ Saved the pipeline{carries} to {output}")


def load_for_tuning(model: Path, source: Path, output: Optional[Path], component: Optional[str]) -> Tuple[Path, Language]:
    """Check where a tuning command will save MODEL (OUTPUT, else over MODEL: never over an input,
    MODEL or the data or pipeline SOURCE it tunes from, nor a directory that isn't a pipeline)
    and load it, with its component COMPONENT if one is named.

    RETURNS (Tuple[Path, Language]): Where to save the tuned pipeline, and the pipeline.
    """
    output = model if output is None else output
    in_place = os.path.realpath(output) == os.path.realpath(model)
    refuse_input(output, source, None if in_place else model)
    if output.exists() and not (output / "config.cfg").is_file() and any(output.iterdir()):
        fail(
            f"{output} is not a spaCy pipeline, and saving would replace it whole. "
            "Give --output a new or empty directory, or a pipeline to overwrite."
        )
    nlp = load_pipeline(model)
    if component is not None and component not in nlp.pipe_names:
        fail(f"{model} has no component {component!r}; its components are {nlp.pipe_names}. Pass --component.")
    return output, nlp

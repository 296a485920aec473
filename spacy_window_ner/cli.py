"""The `spacy-window-ner` command line: convert, evaluate, tune-thresholds, tune-ner-bias,
copy-tuning, cross-predict, kb build/query/export, explain and visualize. Also runs as `python -m spacy_window_ner`. The commands parse, call and
print: the HTML pages of explain and visualize are built in render.py.

Every expected failure (unreadable input, a path that is not a pipeline or not a knowledge
base, an output that can't be written, ...) ends with a one-line message on stderr and exit
code 1, without a traceback. Every output is written atomically (see files.py), and an output
path that is one of the command's inputs is refused.
"""
import json
import math
import os
import re
import shutil
import sys
import time
import warnings
from enum import Enum
from pathlib import Path
from typing import Any, Dict, List, NoReturn, Optional, Tuple, Union, cast

import typer
from spacy.cli._util import parse_config_overrides
from spacy.language import Language
from spacy.vocab import Vocab
from typer.core import TyperGroup
from wasabi import table

from . import kb as kb_module
from . import loading
from .confidences import entity_setters
from .corpus import PREDICTED_KEY
from .crossfit import FoldScores, cross_predict
from .escape import json_line, printable
from .evaluation import evaluate_pipeline
from .explain import explain as explain_entities
from .files import OutputError, atomic_directory, atomic_write, check_not_input
from .inputs import InputError, InputStats, check_inputs, location, read_source
from .ner import WindowNER
from .problems import Problems
from .readers import READERS, prodigy_split, read_docbin, write_docbin
from .relations import get_relations
from .render import explain_html, visualize_html
from .tuning import (
    DEFAULT_BIAS_GRID, MAX_GRID_VALUES, bias_grid, copy_tuning, tune_pipeline_thresholds, tune_pipeline_thresholds_by_cv,
    tune_recall_bias,
)


class _Commands(TyperGroup):
    """The app's command group: runs a command and turns an OSError on a path the user gave (a
    read-only location, a file where a directory should be, permission denied, a full disk)
    into one line on stderr and exit code 1, for every command at once."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except OutputError as err:
            fail(f"{err.strerror}. Check that the location exists, is writable and has free space, or choose another path.")
        except OSError as err:
            where = f" ({err.filename})" if err.filename is not None else ""
            fail(f"{err.strerror or _one_line(err)}{where}.")


app = typer.Typer(
    cls=_Commands,
    name="spacy-window-ner",
    help="Window-classifier NER and relation extraction for spaCy: data, evaluation, knowledge base, explanations.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    # Plain click help and usage errors: help texts are shown as written (rich markup would eat
    # `[ray]` in `pip install "spacy-window-ner[ray]"`), wrapped at spaces rather than cut.
    rich_markup_mode=None,
)
kb_app = typer.Typer(
    help="Build, query and export a knowledge base (SQLite, or PostgreSQL) of predicted entities and relations.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(kb_app, name="kb")

MAX_VISUALIZED = 100  # default --limit of visualize


class Format(str, Enum):
    """The input formats of convert: readers.READERS' names."""

    conll04 = "conll04"
    prodigy = "prodigy"
    spacy = "spacy"


class Split(str, Enum):
    train = "train"
    dev = "dev"
    test = "test"
    all = "all"


class Engine(str, Enum):
    local = "local"
    ray = "ray"


class ExportFormat(str, Enum):
    jsonl = "jsonl"
    csv = "csv"
    graphml = "graphml"


def _finite(value: float) -> float:
    """An option's callback: refuse inf and nan, which typer's FLOAT accepts."""
    if not math.isfinite(value):
        raise typer.BadParameter(f"must be a finite number, not {value}.")
    return value


def _above_zero(value: float) -> float:
    """An option's callback: a finite number above 0."""
    if not _finite(value) > 0:
        raise typer.BadParameter(f"must be above 0, not {value}.")
    return value


PARTIAL = 3  # the exit code of `kb build --strict` when it skipped documents


def fail(message: str, code: int = 1) -> NoReturn:
    """Print a one-line error on stderr and exit, with code 1 unless told otherwise.

    message (str): What went wrong and what to do.
    code (int): The exit code.
    """
    typer.secho(f"✘ {message}", err=True, fg=typer.colors.RED)
    raise typer.Exit(code)


def refuse_input(output: Path, *inputs: Optional[Path]) -> None:
    """Fail if an output path is, holds or lies inside one of the inputs (see
    files.check_not_input).

    output (Path): The path the command will write.
    *inputs (Optional[Path]): The paths it reads; None is ignored.
    """
    try:
        check_not_input(output, inputs)
    except ValueError as err:
        fail(str(err))


def load_pipeline(name: Union[str, Path]) -> Language:
    """Load a saved spaCy pipeline (see loading.load_pipeline), or fail with a message saying
    why it can't be.

    name (Union[str, Path]): The pipeline directory, or an installed package name.
    RETURNS (Language): The pipeline.
    """
    try:
        return loading.load_pipeline(name)
    except loading.PipelineError as err:
        fail(str(err))


# ---------------------------------------------------------------------------------------- convert


@app.command()
def convert(
    input_path: Path = typer.Argument(..., exists=True, dir_okay=False, help="Annotated corpus to convert."),
    output_path: Path = typer.Argument(..., dir_okay=False, help="The .spacy file to write."),
    file_format: Format = typer.Option(..., "--format", "-f", help="Input format: conll04 (CoNLL04 in SpERT JSON, *.json), prodigy (Prodigy relations JSONL, *.jsonl) or spacy (a .spacy file, written through as it is)."),
    split: Split = typer.Option(Split.all, "--split", "-s", help="Prodigy only: keep the train, dev or test split (by PMID/PMCID), or all."),
) -> None:
    """Convert an annotated corpus (entities and relations) to a .spacy file, and count what it
    holds and what was skipped."""
    if split != Split.all and file_format != Format.prodigy:
        fail("--split only applies to --format prodigy; CoNLL04 ships its splits as separate files.")
    refuse_input(output_path, input_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the stats below report every skip
        try:
            docs, stats = READERS[file_format.value](input_path, Vocab())
        except ValueError as err:
            fail(_one_line(err))
    if split != Split.all:
        try:
            docs = [doc for doc in docs if prodigy_split(doc) == split.value]
        except ValueError as err:
            fail(_one_line(err))
    skipped = {
        "records": stats.skipped_records, "entities": stats.skipped_entities,
        "relations": stats.skipped_relations, "rejected records": stats.rejected_records,
        "ignored relations": stats.ignored_relations, "merged duplicate relations": stats.merged_relations,
    }
    report = ["Skipped: " + (", ".join(f"{n} {what}" for what, n in skipped.items() if n) or "nothing")]
    report += [f"  {problem}" for problem in stats.problems.first]
    if not docs:
        typer.echo("\n".join(report), err=True)
        where = f" in the {split.value} split" if split != Split.all else ""
        fail(f"No document to write{where}: every record of {input_path} was skipped or rejected (see above). Nothing was written to {output_path}.")
    n_docs = write_docbin(docs, output_path)
    n_ents = sum(len(doc.ents) for doc in docs)
    n_rels = sum(len(get_relations(doc)) for doc in docs)
    typer.echo(f"✔ Wrote {n_docs} docs, {n_ents} entities, {n_rels} relations to {output_path}")
    typer.echo("\n".join(report))


# --------------------------------------------------------------------------------------- evaluate


@app.command()
def evaluate(
    model: Path = typer.Argument(..., exists=True, help="Pipeline directory."),
    data_path: Path = typer.Argument(..., exists=True, dir_okay=False, help="Gold .spacy file."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", dir_okay=False, help="Write the scores as JSON here."),
    gold_ents: bool = typer.Option(False, "--gold-ents", help="Give the gold entities to the pipeline and evaluate only the components after NER."),
    batch_size: int = typer.Option(64, "--batch-size", min=1, help="Documents per nlp.pipe batch."),
) -> None:
    """Score a pipeline on gold data: entity P/R/F overall and per type, and rel_* scores."""
    if output is not None:
        refuse_input(output, model, data_path)
    nlp = load_pipeline(model)
    ner_names = entity_setters(nlp)
    rel_names = [name for name in nlp.pipe_names if nlp.get_pipe_meta(name).factory == "window_rel"]
    if not ner_names and not rel_names:
        fail(f"{model} has no component to evaluate: it needs one that sets doc.ents (window_ner, ner) or window_rel.")
    if gold_ents and not rel_names:
        fail(f"--gold-ents evaluates the components after NER, but {model} has no window_rel component.")
    try:
        references = read_docbin(data_path, nlp.vocab)
    except Exception as err:  # a file that is not a DocBin fails inside msgpack/zlib
        fail(f"Can't read {data_path} as a .spacy file: {_one_line(err)}")
    if not references:
        fail(f"{data_path} holds no documents.")
    scores = evaluate_pipeline(nlp, references, gold_ents=gold_ents, batch_size=batch_size)
    typer.echo(format_scores(scores))
    if output is not None:
        with atomic_write(output) as file_:
            file_.write(json.dumps(scores, indent=2, sort_keys=True) + "\n")
        typer.echo(f"✔ Saved scores to {output}")


@app.command("tune-thresholds")
def tune_thresholds(
    model: Path = typer.Argument(..., exists=True, help="Pipeline directory with a window_rel component."),
    dev_path: Path = typer.Argument(..., exists=True, dir_okay=False, help="Dev .spacy file with gold entities and relations."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", file_okay=False, help="Save the tuned pipeline here instead of over MODEL."),
    component: str = typer.Option("window_rel", "--component", "-c", help="Name of the window_rel component."),
    gold_ents: bool = typer.Option(False, "--gold-ents", help="Tune on the gold entities instead of those the pipeline's NER predicts."),
    shared: bool = typer.Option(False, "--shared", help="One threshold for all labels, maximising micro F: steadier on a small dev set."),
    min_support: int = typer.Option(0, "--min-support", min=0, help="Labels with fewer gold dev relations get the shared threshold."),
    shrinkage: float = typer.Option(0.0, "--shrinkage", min=0.0, callback=_finite, help="Shrink each label's threshold toward the shared one, with this weight in gold relations."),
    cross_validate: int = typer.Option(0, "--cross-validate", min=0, help="Choose the way of tuning (shared, per label, min support or shrinkage, several values each) by K-fold cross-validation over dev, then tune with it; 0: off."),
) -> None:
    """Tune a pipeline's relation thresholds on dev data, for the entities it will see: by
    default those its own NER predicts, which suits an assembled NER + window_rel pipeline.
    The pipeline is saved into a new directory beside the target, which then replaces the
    target whole: a kill or a full disk leaves the old pipeline loadable."""
    if cross_validate and (shared or min_support or shrinkage):
        fail("--cross-validate chooses among --shared, --min-support and --shrinkage itself: leave them out.")
    output, nlp = load_for_tuning(model, dev_path, output, component)
    rel = nlp.get_pipe(component)
    before = dict(getattr(rel, "thresholds", {}))
    try:
        if cross_validate:
            ranked, thresholds = tune_pipeline_thresholds_by_cv(nlp, dev_path, component, gold_ents=gold_ents, n_folds=cross_validate)
            typer.echo(f"Ways of tuning, by {cross_validate}-fold cross-validated micro F on {dev_path}:")
            typer.echo(table([(tuning.name, _pct(f)) for tuning, f in ranked], header=("Tuning", "CV F"), aligns=("l", "r")))
            typer.echo(f"✔ Chose: {ranked[0][0].name}")
        else:
            thresholds = tune_pipeline_thresholds(
                nlp, dev_path, component, gold_ents=gold_ents, shared=shared,
                min_support=min_support, shrinkage=shrinkage,
            )
    except (TypeError, ValueError) as err:
        fail(_one_line(err))
    typer.echo(f"Thresholds of {component}, tuned on {dev_path} ({'gold' if gold_ents else 'predicted'} entities):")
    typer.echo(table([(printable(label), f"{before[label]:.3f}", f"{value:.3f}") for label, value in thresholds.items()],
                     header=("Label", "before", "after"), aligns=("l", "r", "r")))
    with atomic_directory(output) as new_dir:
        nlp.to_disk(new_dir)
    typer.echo(f"✔ Saved the pipeline to {output}")


@app.command("tune-ner-bias")
def tune_ner_bias(
    model: Path = typer.Argument(..., exists=True, help="Pipeline directory with a window_ner component."),
    dev_path: Path = typer.Argument(..., exists=True, dir_okay=False, help="Dev .spacy file with gold entities."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", file_okay=False, help="Save the tuned pipeline here instead of over MODEL."),
    component: str = typer.Option("window_ner", "--component", "-c", help="Name of the window_ner component."),
    low: float = typer.Option(DEFAULT_BIAS_GRID[0], "--low", callback=_finite, help="The smallest recall bias to try."),
    high: float = typer.Option(DEFAULT_BIAS_GRID[-1], "--high", callback=_finite, help="The largest recall bias to try."),
    step: float = typer.Option(DEFAULT_BIAS_GRID[1] - DEFAULT_BIAS_GRID[0], "--step", callback=_above_zero, help=f"The spacing of the biases tried (at most {MAX_GRID_VALUES:,} of them)."),
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
        fail(f"--low {low:g} to --high {high:g} by --step {step:g}: {_one_line(err)}")
    output, nlp = load_for_tuning(model, dev_path, output, component)
    before = getattr(nlp.get_pipe(component), "cfg", {}).get("recall_bias", 0.0)
    typer.echo(f"Trying {len(grid):,} recall biases from {grid[0]:g} to {grid[-1]:g}: one decoding of {dev_path} each.")
    try:
        results = tune_recall_bias(nlp, dev_path, component, grid=grid)
    except (TypeError, ValueError) as err:
        fail(_one_line(err))
    chosen = cast(WindowNER, nlp.get_pipe(component)).recall_bias  # tune_recall_bias checked it
    typer.echo(f"Entity scores of {component} on {dev_path} by recall bias (was {before:g}):")
    typer.echo(table(
        [(f"{r.bias:g}" + (" *" if r.bias == chosen else ""), _pct(r.p), _pct(r.r), _pct(r.f), r.n_ents, r.n_tokens)
         for r in results],
        header=("Bias", "P", "R", "F", "Entities", "Tokens"), aligns=("r", "r", "r", "r", "r", "r"),
    ))
    with atomic_directory(output) as new_dir:
        nlp.to_disk(new_dir)
    typer.echo(f"✔ Saved the pipeline with recall_bias {chosen:g} to {output}")


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
    output, nlp = load_for_tuning(model, tuned, output, component=None)
    try:
        copied = copy_tuning(load_pipeline(tuned), nlp)
    except (TypeError, ValueError) as err:
        fail(_one_line(err))
    for name, settings in copied.items():
        typer.echo(f"{name}: {settings}")
    with atomic_directory(output) as new_dir:
        nlp.to_disk(new_dir)
    typer.echo(f"✔ Saved the pipeline with the settings of {tuned} to {output}")


@app.command("cross-predict", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def cross_predict_command(
    ctx: typer.Context,
    config_path: Path = typer.Argument(..., exists=True, dir_okay=False, help="The NER training config (spacy train's)."),
    train_path: Path = typer.Argument(..., exists=True, dir_okay=False, help="Training .spacy file with gold entities and relations."),
    dev_path: Path = typer.Argument(..., exists=True, dir_okay=False, help="Dev .spacy file each fold's training selects on."),
    output: Path = typer.Option(..., "--output", "-o", dir_okay=False, help="The .spacy file to write: the training docs with the predicted entities."),
    folds: int = typer.Option(2, "--folds", min=2, help="Folds: each model trains on all of them but the one it predicts."),
    key: str = typer.Option(PREDICTED_KEY, "--key", help="The span group the predicted entities are written to."),
    models_dir: Optional[Path] = typer.Option(None, "--models-dir", file_okay=False, help="Keep each fold's model in DIR/fold_K (deleted by default)."),
    gpu_id: int = typer.Option(-1, "--gpu-id", help="GPU id for training, or -1 for the CPU."),
    seed: int = typer.Option(0, "--seed", help="The seed that assigns the docs to folds."),
) -> None:
    """Cross-fit an NER on the training docs: train CONFIG_PATH on all folds but one and predict
    the entities of the held-out fold, for every fold, so that each training doc gets the
    entities of a model that did not train on it. Writes the training docs with those entities
    in doc.spans[KEY], which the reader spacy-window-ner.PredictedEntsCorpus.v1 gives a
    relation component to train on beside the gold ones. Extra options are config overrides
    for every fold's training, as spacy train takes them (e.g. --paths.source, --training.max_steps)."""
    overrides = parse_config_overrides(ctx.args)

    def report(scores: FoldScores) -> None:
        typer.echo(
            f"✔ Fold {scores.fold + 1}/{folds}: predicted {scores.n_predicted} entities for its "
            f"{scores.n_docs} held-out docs (gold {scores.n_gold}): P {_pct(scores.p)}, R {_pct(scores.r)}, F {_pct(scores.f)}"
        )

    try:
        cross_predict(
            config_path, train_path, dev_path, output, n_folds=folds, key=key, overrides=overrides,
            models_dir=models_dir, use_gpu=gpu_id, seed=seed, on_fold=report,
        )
    except ValueError as err:
        fail(_one_line(err))
    typer.echo(f"✔ Saved the training docs with the cross-predicted entities in doc.spans[{key!r}] to {output}")


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


def format_scores(scores: Dict[str, Any]) -> str:
    """Readable tables of entity and relation scores.

    scores (Dict[str, Any]): The output of nlp.evaluate.
    RETURNS (str): The tables.
    """
    parts = []
    overall = [(key, _pct(scores[key])) for key in ("ents_p", "ents_r", "ents_f") if key in scores]
    rel_overall = [(k, _pct(v)) for k, v in sorted(scores.items()) if k.startswith("rel_") and _is_number(v)]
    if overall or rel_overall:
        parts.append(table(overall + rel_overall, header=("Score", "%"), divider=True, aligns=("l", "r")))
    per_label = [("ents_per_type", scores.get("ents_per_type"))]
    per_label += [(k, v) for k, v in sorted(scores.items()) if k.startswith("rel_") and isinstance(v, dict)]
    for key, by_label in per_label:
        if not by_label:
            continue
        rows = [
            (printable(label), _pct(prf.get("p")), _pct(prf.get("r")), _pct(prf.get("f")))
            for label, prf in sorted(by_label.items())
            if isinstance(prf, dict)
        ]
        parts.append(f"{key}\n" + table(rows, header=("Label", "P", "R", "F"), divider=True, aligns=("l", "r", "r", "r")))
    if _is_number(scores.get("speed")):
        parts.append(f"Speed: {scores['speed']:.0f} words/s")
    return "\n".join(parts) or "No entity or relation scores."


# --------------------------------------------------------------------------------------------- kb


@kb_app.command("build")
def kb_build(
    model: str = typer.Argument(..., help="Pipeline directory or installed package name: any pipeline that sets doc.ents. With --engine ray, it must be there on every node."),
    inputs: List[Path] = typer.Argument(..., help=".txt files (one document each, or one per line with --lines) and .jsonl files with a \"text\" field (and optionally an \"id\")."),
    db: str = typer.Option(..., "--db", help="The SQLite database file, created if missing, or the URL of an existing PostgreSQL database (see above)."),
    lines: bool = typer.Option(False, "--lines", help="Read .txt files as one document per non-blank line."),
    encoding: str = typer.Option("utf8", "--encoding", help="Text encoding of the inputs."),
    batch_size: int = typer.Option(64, "--batch-size", min=1, help="Documents per nlp.pipe batch and per database transaction."),
    n_process: int = typer.Option(1, "--n-process", min=1, help="Processes for nlp.pipe."),
    max_length: Optional[int] = typer.Option(None, "--max-length", min=1, help="Raise the pipeline's max_length (characters per document; longer ones are skipped). spaCy's parser and NER need about 1 GB of memory per 100,000 characters."),
    engine: Engine = typer.Option(Engine.local, "--engine", help="local: nlp.pipe in this process. ray: a pool of Ray Data actors, each loading the pipeline once (the ray extra, see above)."),
    address: Optional[str] = typer.Option(None, "--address", help="--engine ray: the Ray cluster (auto, HOST:PORT or ray://HOST:10001); unset starts a local one."),
    workers: Optional[int] = typer.Option(None, "--workers", min=1, help="--engine ray: actors, each running the pipeline (default: one per CPU of the cluster)."),
    strict: bool = typer.Option(False, "--strict", help=f"Exit with code {PARTIAL} when any line or document was skipped (a partial build), so that a batch job can tell."),
) -> None:
    """Stream documents through a pipeline into a knowledge base (SQLite or PostgreSQL). A document is known by
    its JSONL "id", else by its file and line: one stored with the same text is skipped, so a
    rerun resumes an interrupted build and adds nothing twice; one stored with another text is
    replaced. Malformed lines and documents that can't be processed or stored (too long, not
    encodable, a NUL character) are reported and skipped, on every back end alike. Missing,
    empty and undecodable inputs are reported and skipped; the command then exits 1, as it does
    when no document could be used. With --engine ray, a pool of Ray actors (on this machine,
    or the cluster at --address) runs the pipeline; this process writes each batch into
    SQLite, and each actor writes its own into PostgreSQL.

    \b
    A PostgreSQL database and the Ray engine need extras:
      --db postgresql://USER:PASSWORD@HOST:PORT/DATABASE
                      pip install "spacy-window-ner[postgres]"
      --engine ray    pip install "spacy-window-ner[ray]"
    """
    try:
        kb_module.check_database_not_input(db, inputs)
        good, skipped_files, total_bytes = check_inputs(inputs, encoding)
    except (InputError, kb_module.KBError) as err:
        fail(str(err))
    for message in skipped_files:
        typer.secho(f"✘ Skipped {message}", err=True, fg=typer.colors.RED)
    if not good:
        fail("No readable input: nothing to build.")
    progress, close = _progress_bar(total_bytes)
    try:
        # By name: build_kb loads it (for the Ray engine, its actors load it again).
        stats = kb_module.build_kb(
            model, good, db, lines=lines, encoding=encoding, batch_size=batch_size,
            n_process=n_process, progress=progress, max_length=max_length,
            engine=engine.value, address=address, workers=workers,
        )
    except kb_module.KBError as err:  # also a database that can't be written (full disk)
        close()
        fail(str(err))
    except OSError:  # an input that went away, say: the command group reports it in one line
        close()
        raise
    except Exception as err:  # a component that crashed: committed batches are kept
        close()
        fail(
            f"The pipeline failed ({type(err).__name__}: {kb_module.hide_password(_one_line(err), db)}). Every batch written "
            "before the failure is kept; rerun the same command to resume."
        )
    close()
    rate = stats.docs_added / stats.seconds if stats.seconds else 0.0
    typer.echo(
        f"✔ {kb_module.describe(db)}: read {stats.docs_read} documents from {stats.files} files; added "
        f"{stats.docs_added} ({stats.mentions} mentions, {stats.relations} relations, {rate:.1f} docs/s)"
        + (f", of which {stats.docs_replaced} replaced a changed version" if stats.docs_replaced else "")
        + (f", on {len(stats.worker_pids)} Ray actor{'s' if len(stats.worker_pids) > 1 else ''} ({stats.seconds_workers_cpu:.1f} CPU s)" if stats.worker_pids else "")
        + f"; skipped {stats.docs_existing} already stored"
        + (f", {stats.docs_raced} stored meanwhile by another build" if stats.docs_raced else "")
        + (f"; relation candidates capped in {stats.docs_capped} documents (window_rel's max_candidates: the farthest entity pairs got no relation)" if stats.docs_capped else "")
    )
    _warn_malformed(stats.malformed)
    if skipped_files:
        fail(f"Skipped {len(skipped_files)} of {len(inputs)} inputs (see above).")
    if not stats.docs_read:
        fail("No usable document in the inputs (see above): nothing was stored.")
    if strict and stats.malformed.count:
        fail(f"--strict: skipped {stats.malformed.count} lines or documents (see above); the rest is stored.", code=PARTIAL)


@kb_app.command("query")
def kb_query(
    db: str = typer.Argument(..., help="The knowledge base: a SQLite file or a postgresql:// URL."),
    name: str = typer.Argument(..., help="Entity name (case and spacing are ignored)."),
    label: Optional[str] = typer.Option(None, "--label", "-l", help="Only the entity with this label."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
) -> None:
    """Show an entity: its mentions (document and sentence) and its relations in both directions.
    Control characters in the stored text are shown escaped (\\x1b), never sent to the terminal."""
    try:
        found = kb_module.query_entity(db, name, label=label)
    except kb_module.KBError as err:
        fail(str(err))
    if as_json:
        typer.echo(json_line(found, indent=2))
    if not found:
        fail(f"No entity named {name!r}" + (f" with label {label!r}" if label else "") + f" in {printable(kb_module.describe(db))}.")
    if as_json:
        return
    columns = shutil.get_terminal_size((80, 24)).columns
    for entity in found:
        name_ = printable(entity["name"])
        typer.secho(f"\n{name_} ({printable(entity['label'])}): {entity['mention_count']} mentions", bold=True)
        mentions = entity["mentions"]
        documents = [_document(m) for m in mentions]
        doc_w = _column_width(documents, "Document", max(MAX_DOCUMENT_WIDTH, columns // 3))
        sent_w = max(MIN_SENTENCE_WIDTH, columns - doc_w - CONF_WIDTH - 2 * TABLE_SPACING)
        rows: List[Tuple[str, ...]] = [
            (_fit(document, doc_w, keep_end=True), _conf(m["confidence"]),
             _sentence_window(m["sentence"], m["start_in_sentence"], m["end_in_sentence"], sent_w))
            for document, m in zip(documents, mentions)
        ]
        widths: List[int] = [doc_w, CONF_WIDTH, max([len("Sentence"), *(len(row[2]) for row in rows)])]
        typer.echo(table(rows, header=("Document", "Conf.", "Sentence"), divider=True, widths=widths, spacing=TABLE_SPACING))
        if not entity["relations"]:
            typer.echo("No relations.")
            continue
        relations = entity["relations"]
        documents = [_document(r) for r in relations]
        labels = [printable(r["label"]) for r in relations]
        doc_w = _column_width(documents, "Document", max(MAX_DOCUMENT_WIDTH, columns // 4))
        label_w = _column_width(labels, "Label", MAX_LABEL_WIDTH)
        rel_w = max(MIN_RELATION_WIDTH, columns - label_w - CONF_WIDTH - doc_w - 3 * TABLE_SPACING)
        rows = [
            (_relation_cell(name_, printable(r["other"]), r["direction"], rel_w), _fit(label, label_w),
             _conf(r["confidence"]), _fit(document, doc_w, keep_end=True))
            for r, label, document in zip(relations, labels, documents)
        ]
        widths = [max([len("Relation"), *(len(row[0]) for row in rows)]), label_w, CONF_WIDTH, doc_w]
        typer.echo(table(rows, header=("Relation", "Label", "Conf.", "Document"), divider=True, widths=widths, spacing=TABLE_SPACING))


# The tables of kb query: columns fit the terminal's width (80 if unknown), cells are cut to them
TABLE_SPACING = 3
CONF_WIDTH = 5  # "0.973"
MAX_DOCUMENT_WIDTH = 24  # or a third of the terminal (a quarter beside relations), if wider
MAX_LABEL_WIDTH = 16
MIN_SENTENCE_WIDTH = 40
MIN_RELATION_WIDTH = 24
MAX_CUT_WORD = 12  # the sentence window leaves out a word it cuts in two, up to this length
WHITESPACE = re.compile(r"\s+")


def _document(row: Dict[str, Any]) -> str:
    """Where a mention or relation was found: its document's JSONL id, else file:line."""
    return printable(row["doc_id"] if row["doc_id"] is not None else location(row["source"], row["line"]))


def _column_width(cells: List[str], header: str, most: int) -> int:
    """The width of a column: its longest cell or header, at most `most`."""
    return min(most, max(len(header), *(len(cell) for cell in cells)))


def _fit(text: str, width: int, *, keep_end: bool = False) -> str:
    """Text cut to `width` characters, "…" where it was cut: at the end, or at the start with
    `keep_end` (for paths, whose file name and line matter most)."""
    if len(text) <= width:
        return text
    return "…" + text[len(text) - width + 1 :] if keep_end else text[: width - 1] + "…"


def _relation_cell(name: str, other: str, direction: str, width: int) -> str:
    """"HEAD → TAIL" in at most `width` characters: a long name is cut, the arrow always shows."""
    room = width - 3
    if len(name) + len(other) > room:
        # Each name gets half the room, or what the other leaves.
        name_w = max(room // 2, room - len(other))
        name = _fit(name, name_w)
        other = _fit(other, room - len(name))
    return f"{name} → {other}" if direction == "out" else f"{other} → {name}"


def _sentence_window(sentence: str, start: Optional[int], end: Optional[int], width: int) -> str:
    """A stored sentence on one line, printable, and cut to `width` characters around the mention
    at characters [start, end) of it: the mention stays whole (even if longer than `width`), the
    context on each side shares the rest, and "…" marks a side that was cut.

    sentence (str): The sentence as stored.
    start (Optional[int]): The mention's first character in it (None: cut at the end).
    end (Optional[int]): The character after the mention.
    width (int): The most characters to show.
    RETURNS (str): The window.
    """
    if start is None or end is None:
        start = end = 0
    start = max(0, min(start, len(sentence)))
    end = max(start, min(end, len(sentence)))

    def clean(part: str) -> str:
        return printable(WHITESPACE.sub(" ", part))

    before, mention, after = clean(sentence[:start]).lstrip(), clean(sentence[start:end]), clean(sentence[end:]).rstrip()
    text = before + mention + after
    if len(text) <= width:
        return text
    if len(mention) >= width - 2:
        return ("…" if before else "") + mention + ("…" if after else "")
    # Context for both sides, half each; a side too short to use its half leaves it to the other.
    room = width - len(mention)
    n_before = min(len(before), room // 2)
    n_after = min(len(after), room - n_before)
    n_before = min(len(before), room - n_after)
    # An ellipsis takes the place of one character of the side it cuts; a word cut in two is
    # left out, if it is not too long.
    left, right = before, after
    if n_before < len(before):
        left = before[len(before) - n_before + 1 :]
        if not before[len(before) - n_before].isspace() and 0 <= left.find(" ") < MAX_CUT_WORD:
            left = left[left.find(" ") + 1 :]
        left = "…" + left
    if n_after < len(after):
        right = after[: n_after - 1]
        if not after[n_after - 1].isspace() and len(right) - MAX_CUT_WORD < right.rfind(" "):
            right = right[: right.rfind(" ")]
        right = right + "…"
    return left + mention + right


def _warn_malformed(malformed: Problems) -> None:
    """Print the malformed input lines skipped, if any: how many, and the first few."""
    if malformed.count:
        typer.secho(f"⚠ Skipped {malformed.count} malformed lines ({malformed.summary(printable)})", err=True, fg=typer.colors.YELLOW)


MAX_LISTED = 20  # removed documents listed by kb remove


@kb_app.command("remove")
def kb_remove(
    db: str = typer.Argument(..., help="The knowledge base: a SQLite file or a postgresql:// URL."),
    sources: List[Path] = typer.Option([], "--source", "-s", help="Remove every document read from this input (the path as given to kb build). Repeatable."),
    ids: List[str] = typer.Option([], "--id", help="Remove the document with this JSONL id. Repeatable."),
) -> None:
    """Remove documents that are gone from the inputs, with their mentions and relations, in one
    transaction: entity mention counts are decreased, and entities left with no mention deleted.
    Exits 1 if nothing matched."""
    if not sources and not ids:
        fail("Say what to remove: --source PATH and/or --id ID (both can be repeated).")
    try:
        stats = kb_module.remove_documents(db, sources=sources, ids=ids)
    except kb_module.KBError as err:
        fail(str(err))
    for selector in stats.unmatched:
        typer.secho(f"⚠ No document with {printable(selector)} in {kb_module.describe(db)}", err=True, fg=typer.colors.YELLOW)
    if not stats.documents:
        fail("Nothing matched: no document was removed.")
    typer.echo(
        f"✔ Removed {len(stats.documents)} documents from {kb_module.describe(db)} with {stats.mentions} mentions and "
        f"{stats.relations} relations; entities left with no mention, deleted: {stats.entities}"
    )
    for source, line, doc_id in stats.documents[:MAX_LISTED]:
        typer.echo(f"  {printable(location(source, line))}" + (f" (id {printable(doc_id)!s})" if doc_id is not None else ""))
    if len(stats.documents) > MAX_LISTED:
        typer.echo(f"  and {len(stats.documents) - MAX_LISTED} more")


@kb_app.command("export")
def kb_export(
    db: str = typer.Argument(..., help="The knowledge base: a SQLite file or a postgresql:// URL."),
    export_format: ExportFormat = typer.Option(..., "--format", "-f", help="jsonl (nodes and edges), csv (a directory of nodes.csv and edges.csv) or graphml."),
    output: Path = typer.Option(..., "--output", "-o", help="The file to write; for csv, the directory."),
) -> None:
    """Export the entity graph: entities as nodes, relations merged into edges with counts and
    confidences. The output is replaced whole or not at all (csv: its directory, so its two
    files always come from one export). Text cells of the csv format that start with =, +, -,
    @, tab or carriage return get a leading ' (no spreadsheet formulas); see kb.write_graph for
    what each format keeps."""
    refuse_input(output, *kb_module.database_files(db))
    if export_format != ExportFormat.csv and output.is_dir():
        fail(f"{output} is a directory: the {export_format.value} export writes one file.")
    try:
        n_nodes, n_edges = kb_module.export_graph(db, output, export_format.value)
    except kb_module.KBError as err:
        fail(str(err))
    written = f"{output}/{{{','.join(kb_module.CSV_FILES.values())}}}" if export_format == ExportFormat.csv else str(output)
    typer.echo(f"✔ Wrote {n_nodes} nodes and {n_edges} edges to {written}")


# ---------------------------------------------------------------------------------------- explain


@app.command()
def explain(
    model: Path = typer.Argument(..., exists=True, help="Pipeline directory with a window_ner component."),
    text: str = typer.Argument(..., help="The text to explain."),
    html_path: Optional[Path] = typer.Option(None, "--html", dir_okay=False, help="Also write an HTML view here."),
    pipe_name: Optional[str] = typer.Option(None, "--pipe", help="The window_ner component to explain (default: the first)."),
) -> None:
    """For each predicted entity, how much each word of its window (± the window size) contributed
    to the winning tags' score: gradient × input through the window scorer's backprop."""
    if html_path is not None:
        refuse_input(html_path, model)
    nlp = load_pipeline(model)
    if not text.strip():
        fail("The text is empty.")
    try:
        explanations = explain_entities(nlp, text, pipe_name=pipe_name)
    except ValueError as err:
        fail(_one_line(err))
    if not explanations:
        typer.echo("No entities predicted.")
    for ent in explanations:
        typer.secho(
            f"\n{printable(ent.text)} ({printable(ent.label)}, confidence {ent.confidence:.3f}; score {ent.score:.3f}, "
            f"sum of attributions {ent.total:.3f})", bold=True,
        )
        peak = max((abs(w.attribution) for w in ent.words), default=0.0) or 1.0
        rows = [
            (printable(w.text), f"{w.position:+d}" if w.position else "entity", f"{w.attribution:+.4f}", _bar(w.attribution / peak))
            for w in ent.words
        ]
        typer.echo(table(rows, header=("Word", "Position", "Grad × input", ""), divider=True, aligns=("l", "r", "r", "l")))
    if html_path is not None:
        with atomic_write(html_path) as file_:
            file_.write(explain_html(text, explanations))
        typer.echo(f"✔ Saved HTML to {html_path}")


# -------------------------------------------------------------------------------------- visualize


@app.command()
def visualize(
    model: Path = typer.Argument(..., exists=True, help="Pipeline directory."),
    source: str = typer.Argument(..., help="A text, or a .txt (one document per line), .jsonl or .spacy file."),
    html_path: Path = typer.Option(..., "--html", dir_okay=False, help="The HTML page to write."),
    limit: int = typer.Option(MAX_VISUALIZED, "--limit", min=1, help="Show at most this many documents."),
    encoding: str = typer.Option("utf8", "--encoding", help="Text encoding of a .txt or .jsonl file."),
) -> None:
    """Render the predicted entities with their confidences, and the relations with their scores, on one
    HTML page: a legend, then each document once, its entities marked in the text and its relations below."""
    refuse_input(html_path, model, Path(source) if os.path.exists(source) else None)
    nlp = load_pipeline(model)
    stats = InputStats()
    try:
        inputs = read_source(source, nlp, limit=limit, encoding=encoding, stats=stats)
    except InputError as err:
        fail(str(err))
    _warn_malformed(stats.malformed)
    if not inputs:
        fail(f"{source} holds no documents.")
    docs = list(nlp.pipe(inputs))
    from .rel import WindowRel

    # The legend gives each relation label's threshold (the last window_rel's, if several).
    thresholds = {label: t for _, pipe in nlp.pipeline if isinstance(pipe, WindowRel) for label, t in pipe.thresholds.items()}
    with atomic_write(html_path) as file_:
        file_.write(visualize_html(docs, thresholds=thresholds or None))
    n_rels = sum(len(get_relations(doc)) for doc in docs)
    typer.echo(f"✔ Rendered {len(docs)} docs, {sum(len(d.ents) for d in docs)} entities, {n_rels} relations to {html_path}")


# ------------------------------------------------------------------------------------------ helpers




def _progress_bar(total_bytes: int):
    """A tqdm bar on stderr over the input bytes (for the ETA), with docs and docs/s."""
    from tqdm import tqdm

    bar = tqdm(total=total_bytes, unit="B", unit_scale=True, file=sys.stderr, disable=None, desc="kb build")
    start = time.perf_counter()

    def progress(offset: int, n_docs: int) -> None:
        if offset > bar.n:
            bar.update(offset - bar.n)
        elapsed = time.perf_counter() - start
        bar.set_postfix_str(f"{n_docs} docs, {n_docs / elapsed if elapsed else 0.0:.1f} docs/s", refresh=False)

    return progress, bar.close


def _bar(share: float, width: int = 20) -> str:
    n = int(round(abs(share) * width))
    return ("+" if share >= 0 else "-") * n


def _pct(value: Any) -> str:
    return f"{100 * value:.2f}" if _is_number(value) else "-"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _conf(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:.3f}"


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split())

"""`spacy-window-ner cross-predict`: the training docs with the entities of NER models that did not
train on them (see crossfit.py), for a relation component to train on."""
from pathlib import Path
from typing import Optional

import typer
from spacy.cli._util import parse_config_overrides

from ..corpus import PREDICTED_KEY
from ..crossfit import FoldScores, cross_predict
from ._tables import pct
from ._util import app, fail, one_line


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
            f"{scores.n_docs} held-out docs (gold {scores.n_gold}): P {pct(scores.p)}, R {pct(scores.r)}, F {pct(scores.f)}"
        )

    try:
        cross_predict(
            config_path, train_path, dev_path, output, n_folds=folds, key=key, overrides=overrides,
            models_dir=models_dir, use_gpu=gpu_id, seed=seed, on_fold=report,
        )
    except ValueError as err:
        fail(one_line(err))
    typer.echo(f"✔ Saved the training docs with the cross-predicted entities in doc.spans[{key!r}] to {output}")

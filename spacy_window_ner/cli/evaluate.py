"""`spacy-window-ner evaluate`: a pipeline's scores on gold data (see evaluation.py), printed as
tables and optionally saved as JSON."""
import json
from pathlib import Path
from typing import Any, Dict, Optional

import typer
from wasabi import table

from ..confidences import entity_setters
from ..escape import printable
from ..evaluation import evaluate_pipeline
from ..files import atomic_write
from ..readers import read_docbin
from ._tables import is_number, pct
from ._util import app, fail, load_pipeline, one_line, refuse_input


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
        fail(f"Can't read {data_path} as a .spacy file: {one_line(err)}")
    if not references:
        fail(f"{data_path} holds no documents.")
    scores = evaluate_pipeline(nlp, references, gold_ents=gold_ents, batch_size=batch_size)
    typer.echo(format_scores(scores))
    if output is not None:
        with atomic_write(output) as file_:
            file_.write(json.dumps(scores, indent=2, sort_keys=True) + "\n")
        typer.echo(f"✔ Saved scores to {output}")


def format_scores(scores: Dict[str, Any]) -> str:
    """Readable tables of entity and relation scores.

    scores (Dict[str, Any]): The output of nlp.evaluate.
    RETURNS (str): The tables.
    """
    parts = []
    overall = [(key, pct(scores[key])) for key in ("ents_p", "ents_r", "ents_f") if key in scores]
    rel_overall = [(k, pct(v)) for k, v in sorted(scores.items()) if k.startswith("rel_") and is_number(v)]
    if overall or rel_overall:
        parts.append(table(overall + rel_overall, header=("Score", "%"), divider=True, aligns=("l", "r")))
    per_label = [("ents_per_type", scores.get("ents_per_type"))]
    per_label += [(k, v) for k, v in sorted(scores.items()) if k.startswith("rel_") and isinstance(v, dict)]
    for key, by_label in per_label:
        if not by_label:
            continue
        rows = [
            (printable(label), pct(prf.get("p")), pct(prf.get("r")), pct(prf.get("f")))
            for label, prf in sorted(by_label.items())
            if isinstance(prf, dict)
        ]
        parts.append(f"{key}\n" + table(rows, header=("Label", "P", "R", "F"), divider=True, aligns=("l", "r", "r", "r")))
    if is_number(scores.get("speed")):
        parts.append(f"Speed: {scores['speed']:.0f} words/s")
    return "\n".join(parts) or "No entity or relation scores."

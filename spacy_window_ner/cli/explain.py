"""`spacy-window-ner explain` and `visualize`: why window_ner predicted each entity, in the terminal
and optionally as HTML, and the predicted entities and relations of documents on one HTML page
(both pages are built in render.py)."""
import os
from pathlib import Path
from typing import Optional

import typer
from wasabi import table

from ..escape import printable
from ..explain import explain as explain_entities
from ..files import atomic_write
from ..inputs import InputError, InputStats, read_source
from ..rel import WindowRel
from ..relations import get_relations
from ..render import explain_html, visualize_html
from ._tables import bar
from ._util import app, fail, load_pipeline, one_line, refuse_input, warn_malformed


MAX_VISUALIZED = 100  # default --limit of visualize


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
        fail(one_line(err))
    if not explanations:
        typer.echo("No entities predicted.")
    for ent in explanations:
        typer.secho(
            f"\n{printable(ent.text)} ({printable(ent.label)}, confidence {ent.confidence:.3f}; score {ent.score:.3f}, "
            f"sum of attributions {ent.total:.3f})", bold=True,
        )
        peak = max((abs(w.attribution) for w in ent.words), default=0.0) or 1.0
        rows = [
            (printable(w.text), f"{w.position:+d}" if w.position else "entity", f"{w.attribution:+.4f}", bar(w.attribution / peak))
            for w in ent.words
        ]
        typer.echo(table(rows, header=("Word", "Position", "Grad × input", ""), divider=True, aligns=("l", "r", "r", "l")))
    if html_path is not None:
        with atomic_write(html_path) as file_:
            file_.write(explain_html(text, explanations))
        typer.echo(f"✔ Saved HTML to {html_path}")


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
    warn_malformed(stats.malformed)
    if not inputs:
        fail(f"{source} holds no documents.")
    docs = list(nlp.pipe(inputs))
    # The legend gives each relation label's threshold (the last window_rel's, if several).
    thresholds = {label: t for _, pipe in nlp.pipeline if isinstance(pipe, WindowRel) for label, t in pipe.thresholds.items()}
    with atomic_write(html_path) as file_:
        file_.write(visualize_html(docs, thresholds=thresholds or None))
    n_rels = sum(len(get_relations(doc)) for doc in docs)
    typer.echo(f"✔ Rendered {len(docs)} docs, {sum(len(d.ents) for d in docs)} entities, {n_rels} relations to {html_path}")

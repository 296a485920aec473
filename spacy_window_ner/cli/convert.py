"""`spacy-window-ner convert`: an annotated corpus (CoNLL04, Prodigy, .spacy) to a .spacy file,
with the counts of what it holds and of what was skipped."""
import warnings
from enum import Enum
from pathlib import Path

import typer
from spacy.vocab import Vocab

from ..readers import READERS, prodigy_split, write_docbin
from ..relations import get_relations
from ._util import app, fail, one_line, refuse_input


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
            fail(one_line(err))
    if split != Split.all:
        try:
            docs = [doc for doc in docs if prodigy_split(doc) == split.value]
        except ValueError as err:
            fail(one_line(err))
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

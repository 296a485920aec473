"""Convert a dataset's train/dev/test JSON (CoNLL04 SpERT format) to .spacy files, after checking
that each input is there and matches the md5 checksum that project.yml lists for it."""
import hashlib
from pathlib import Path
from typing import Dict

import spacy
import typer
from weasel.util import load_project_config

from spacy_window_ner.readers import read_conll04, write_docbin

SPLITS = ("train", "dev", "test")


def expected_checksums(project_dir: Path) -> Dict[str, str]:
    """dest -> md5 for every asset in project.yml that has a checksum."""
    assets = load_project_config(project_dir).get("assets", [])
    return {asset["dest"]: asset["checksum"] for asset in assets if "checksum" in asset}


def main(
    dataset: str = typer.Argument(..., help="Dataset name: assets/DATASET/DATASET_{train,dev,test}.json"),
    output_dir: Path = typer.Argument(..., help="Where DATASET's train/dev/test .spacy files go"),
    project_dir: Path = typer.Option(Path("."), exists=True, help="Folder of the project.yml with the checksums"),
) -> None:
    checksums = expected_checksums(project_dir)
    nlp = spacy.blank("en")
    for split in SPLITS:
        dest = f"assets/{dataset}/{dataset}_{split}.json"
        path = Path(dest)
        if not path.exists():
            typer.echo(
                f"Missing asset {dest}. Fetch it with `spacy project assets` (offline, copy it from "
                "a local mirror: `spacy project assets . --vars.conll04_base ../shared/data/conll04`).",
                err=True,
            )
            raise typer.Exit(1)
        md5 = hashlib.md5(path.read_bytes()).hexdigest()
        if dest in checksums and md5 != checksums[dest]:
            typer.echo(
                f"Refusing {dest}: its md5 is {md5}, but project.yml expects {checksums[dest]}. "
                "The file is corrupted or a different version; delete it and run "
                "`spacy project assets` again.",
                err=True,
            )
            raise typer.Exit(1)
        docs, stats = read_conll04(path, nlp.vocab)
        if not docs:
            typer.echo(f"{dest} holds no usable documents: nothing to train or evaluate on.", err=True)
            raise typer.Exit(1)
        n = write_docbin(docs, output_dir / f"{split}.spacy")
        typer.echo(
            f"{split}: {n} docs, {stats.entities} entities, {stats.relations} relations "
            f"-> {output_dir / f'{split}.spacy'}"
            + (f" ({stats.skipped_entities} entities and {stats.skipped_relations} relations skipped)"
               if stats.skipped_entities or stats.skipped_relations else "")
        )


if __name__ == "__main__":
    typer.run(main)

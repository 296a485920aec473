"""Convert a dataset's train/dev/test files to .spacy files, after checking that each input is
there and matches the md5 checksum that project.yml lists for it (if it lists one). The inputs
are assets/DATASET/DATASET_{train,dev,test}.EXT in one of the formats of `spacy-window-ner
convert`: conll04 (CoNLL04 in SpERT JSON, .json), prodigy (Prodigy relations JSONL, .jsonl) or
spacy (.spacy files, such as `spacy convert` writes, taken as they are). The train and dev files
are also copied together into OUTPUT_DIR/train_dev, the corpus of the final models (a directory
of .spacy files reads as one corpus)."""
import hashlib
import shutil
from pathlib import Path
from typing import Dict

import spacy
import typer
from weasel.util import load_project_config

from spacy_window_ner.readers import EXTENSIONS, READERS, write_docbin

SPLITS = ("train", "dev", "test")
# The splits the final models train on, once dev has chosen their settings
FINAL_SPLITS = ("train", "dev")
FINAL_CORPUS = "train_dev"


def expected_checksums(project_dir: Path) -> Dict[str, str]:
    """dest -> md5 for every asset in project.yml that has a checksum."""
    assets = load_project_config(project_dir).get("assets", [])
    return {asset["dest"]: asset["checksum"] for asset in assets if "checksum" in asset}


def main(
    dataset: str = typer.Argument(..., help="Dataset name: assets/DATASET/DATASET_{train,dev,test}.EXT, EXT the --format's extension"),
    output_dir: Path = typer.Argument(..., help="Where DATASET's train/dev/test .spacy files go"),
    file_format: str = typer.Option("conll04", "--format", help="conll04 (CoNLL04 JSON, .json), prodigy (Prodigy JSONL, .jsonl) or spacy (.spacy)"),
    project_dir: Path = typer.Option(Path("."), exists=True, help="Folder of the project.yml with the checksums"),
) -> None:
    if file_format not in READERS:
        typer.echo(f"Unknown --format {file_format!r}: use one of {', '.join(READERS)}.", err=True)
        raise typer.Exit(1)
    checksums = expected_checksums(project_dir)
    nlp = spacy.blank("en")
    for split in SPLITS:
        dest = f"assets/{dataset}/{dataset}_{split}.{EXTENSIONS[file_format]}"
        path = Path(dest)
        if not path.exists() and dest in checksums:
            typer.echo(
                f"Missing asset {dest}. Fetch it with `spacy project assets` (offline, copy it from "
                "a local mirror: `spacy project assets . --vars.conll04_base /path/to/conll04`).",
                err=True,
            )
            raise typer.Exit(1)
        if not path.exists():
            formats = ", ".join(f"{ext} for {name}" for name, ext in EXTENSIONS.items())
            typer.echo(
                f"Missing {dest}. Put the dataset's splits at assets/{dataset}/{dataset}_"
                f"{{train,dev,test}}.EXT, the extension of its --format ({formats}).",
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
        try:
            docs, stats = READERS[file_format](path, nlp.vocab)
        except ValueError as err:
            typer.echo(f"Can't read {dest}: {err}", err=True)
            raise typer.Exit(1)
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
    train_dev = output_dir / FINAL_CORPUS
    train_dev.mkdir(exist_ok=True)
    for split in FINAL_SPLITS:
        shutil.copy(output_dir / f"{split}.spacy", train_dev / f"{split}.spacy")
    typer.echo(f"train + dev -> {train_dev}")


if __name__ == "__main__":
    typer.run(main)

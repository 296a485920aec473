"""Convert a dataset's train/dev/test files to .spacy files, after checking that each input is
there and matches the md5 checksum that project.yml lists for it (if it lists one). The inputs
are assets/DATASET/DATASET_{train,dev,test}.FORMAT: CoNLL04 JSON (json), Prodigy relations JSONL
(jsonl) or .spacy files (spacy), such as `spacy convert` or `spacy-window-ner convert` write.
The train and dev files are also copied together into OUTPUT_DIR/train_dev, the corpus of the
final models (a directory of .spacy files reads as one corpus)."""
import hashlib
import shutil
from pathlib import Path
from typing import Callable, Dict, List, Tuple

import spacy
import typer
from weasel.util import load_project_config

from spacy.tokens import Doc
from spacy.vocab import Vocab

from spacy_window_ner.readers import ConversionStats, read_conll04, read_docbin, read_prodigy, write_docbin
from spacy_window_ner.relations import relation_tuples

SPLITS = ("train", "dev", "test")
# The splits the final models train on, once dev has chosen their settings
FINAL_SPLITS = ("train", "dev")
FINAL_CORPUS = "train_dev"


def read_spacy(path: Path, vocab: Vocab) -> Tuple[List[Doc], ConversionStats]:
    """Read a .spacy file as it is, counting its docs, entities and relations."""
    docs = read_docbin(path, vocab)
    stats = ConversionStats(
        path=str(path), docs=len(docs), entities=sum(len(doc.ents) for doc in docs),
        relations=sum(len(relation_tuples(doc)) for doc in docs),
    )
    return docs, stats


READERS: Dict[str, Callable[[Path, Vocab], Tuple[List[Doc], ConversionStats]]] = {
    "json": read_conll04, "jsonl": read_prodigy, "spacy": read_spacy,
}


def expected_checksums(project_dir: Path) -> Dict[str, str]:
    """dest -> md5 for every asset in project.yml that has a checksum."""
    assets = load_project_config(project_dir).get("assets", [])
    return {asset["dest"]: asset["checksum"] for asset in assets if "checksum" in asset}


def main(
    dataset: str = typer.Argument(..., help="Dataset name: assets/DATASET/DATASET_{train,dev,test}.FORMAT"),
    output_dir: Path = typer.Argument(..., help="Where DATASET's train/dev/test .spacy files go"),
    file_format: str = typer.Option("json", "--format", help="json (CoNLL04), jsonl (Prodigy) or spacy"),
    project_dir: Path = typer.Option(Path("."), exists=True, help="Folder of the project.yml with the checksums"),
) -> None:
    if file_format not in READERS:
        typer.echo(f"Unknown --format {file_format!r}: use one of {', '.join(READERS)}.", err=True)
        raise typer.Exit(1)
    checksums = expected_checksums(project_dir)
    nlp = spacy.blank("en")
    for split in SPLITS:
        dest = f"assets/{dataset}/{dataset}_{split}.{file_format}"
        path = Path(dest)
        if not path.exists():
            typer.echo(
                f"Missing asset {dest}. Fetch it with `spacy project assets` (offline, copy it from "
                "a local mirror: `spacy project assets . --vars.conll04_base /path/to/conll04`).",
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

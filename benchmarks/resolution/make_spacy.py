"""CoNLL04 train, dev and test as .spacy files with their gold entities and relations, for the
annotated route of the resolution benchmark (`kb build --annotated OUT/train.spacy OUT/dev.spacy
--db DB`, then `kb resolve`, `kb export --format mentions`, and `python -m
benchmarks.resolution.score --mentions EXPORT`).

    python -m benchmarks.resolution.make_spacy OUT_DIR

Each sentence is one doc, read by the package's CoNLL04 reader (readers.read_conll04: text = the
tokens joined by single spaces, entities and relations as annotated). Each doc carries its orig_id
as its id, doc.user_data["id"] = str(orig_id), which `kb build --annotated` stores as the
document's identity; score.read_mentions_export maps an export's lines back to gold mentions by
that id and the character offsets. OUT_DIR must lie outside the repository: the CoNLL04 data is
never copied into it.
"""
from pathlib import Path
from typing import Dict

import spacy
import typer

from spacy_window_ner.readers import ORIG_ID_KEY, read_conll04, write_docbin
from tests.data import DATA_ENV_VAR, data_dir

REPO = Path(__file__).resolve().parent.parent.parent
ID_KEY = "id"  # doc.user_data[ID_KEY]: a doc's id, as `kb build --annotated` reads it (issue 24)
SPLITS = ("train", "dev", "test")


def make_spacy(out_dir: Path, source: Path) -> Dict[str, int]:
    """Write source/conll04/conll04_{train,dev,test}.json as out_dir/{train,dev,test}.spacy.

    out_dir (Path): The output directory, outside the repository.
    source (Path): The shared data directory.
    RETURNS (Dict[str, int]): Docs written per split.
    """
    if out_dir.resolve().is_relative_to(REPO):
        raise ValueError(f"{out_dir} is inside the repository; write the CoNLL04 .spacy files outside it.")
    vocab = spacy.blank("en").vocab
    written = {}
    for split in SPLITS:
        path = source / "conll04" / f"conll04_{split}.json"
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found: set {DATA_ENV_VAR} to the shared data directory.")
        docs, _ = read_conll04(path, vocab)
        for doc in docs:
            doc.user_data[ID_KEY] = str(doc.user_data[ORIG_ID_KEY])  # type: ignore[index]
        written[split] = write_docbin(docs, out_dir / f"{split}.spacy")
    return written


def main(out_dir: Path = typer.Argument(..., help="Directory for train.spacy, dev.spacy, test.spacy (outside the repository).")) -> None:
    """Write CoNLL04 as .spacy files with gold entities, relations and doc ids = orig_id."""
    try:
        written = make_spacy(out_dir, data_dir())
    except (FileNotFoundError, ValueError) as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(1)
    for split, n in written.items():
        print(f"{out_dir / (split + '.spacy')}: {n} docs")


if __name__ == "__main__":
    typer.run(main)

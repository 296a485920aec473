"""Entity resolution end to end, the way a user runs it, scored against the CoNLL04 gold alias set
(gold.py, RULES.md): the knowledge base's own commands, run as a user runs them, then the
mentions export scored by score.py.

    python -m benchmarks.resolution.end_to_end [--pipeline PIPELINE] [--work-dir DIR]

Two inputs:
- gold mentions: CoNLL04 train and dev as .spacy files (make_spacy.py) ->
  `kb build --annotated train.spacy dev.spacy` (which resolves at its end) ->
  `kb export --format mentions`; scored on all, train and dev.
- predicted mentions (with --pipeline: a pipeline trained on CoNLL04 train only): the dev
  sentences as JSONL (id = orig_id, text = the tokens joined by spaces) -> `kb build PIPELINE` ->
  `kb export --format mentions`; scored on dev. A gold mention the pipeline missed, or found with
  other offsets, counts as an entity of its own.
Beside each export: the same mentions grouped by exact string (label + normalised text), as the
knowledge base did before resolution. Each build prints its wall time and peak RSS.
"""
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import List, Optional

import typer

from tests.data import data_dir

from .gold import load_gold, pair_count
from .make_spacy import make_spacy
from .score import read_mentions_export, score_row

HEADER = f"{'method':<28}{'entities':>9}{'pair P':>7}{'pair R':>7}{'pair F':>7}{'B3 P':>7}{'B3 R':>7}{'B3 F':>7}"


def kb(*args: str) -> float:
    """Run `spacy-window-ner kb ARGS` as a user would; its wall time in seconds."""
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "spacy_window_ner", "kb", *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"kb {' '.join(args)} failed ({result.returncode}):\n{result.stdout}{result.stderr}")
    return time.perf_counter() - start


def peak_mb() -> float:
    """The largest peak RSS of the commands run so far (ru_maxrss of the children), in MB."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def build_and_export(build_args: List[str], work: Path, name: str) -> Path:
    """Build a knowledge base, export its mentions; print the build's time and peak RSS."""
    db, export = work / f"{name}.sqlite", work / f"{name}_mentions.jsonl"
    seconds = kb("build", *build_args, "--db", str(db))
    kb("export", str(db), "--format", "mentions", "--output", str(export))
    print(f"{name}: kb build (and its resolution pass) {seconds:.1f} s; peak RSS so far {peak_mb():.0f} MB")
    return export


def main(
    pipeline: Optional[Path] = typer.Option(None, help="A pipeline trained on CoNLL04 train: also score its own mentions of dev."),
    work_dir: Optional[Path] = typer.Option(None, help="Where the .spacy files, databases and exports go (a temporary directory if unset)."),
) -> None:
    """Score entity resolution end to end, through kb build, kb export and the gold alias set."""
    gold = load_gold()
    with tempfile.TemporaryDirectory() as tmp:
        work = work_dir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        make_spacy(work, data_dir())
        export = build_and_export(["--annotated", str(work / "train.spacy"), str(work / "dev.spacy")], work, "gold")
        for split in ("all", "train", "dev"):
            partition = gold.partition(split)
            print(f"\ngold mentions, {split}: {len(partition)} mentions, {pair_count(partition)} same-entity pairs")
            print(HEADER)
            print(score_row("kb (resolved)", read_mentions_export(export, gold)[0], partition))
            print(score_row("kb mentions, exact string", read_mentions_export(export, gold, by="exact")[0], partition))
        if pipeline is None:
            return
        texts = work / "dev.jsonl"
        with texts.open("w", encoding="utf8") as file_:
            for sentence in sorted(gold.sentences.values(), key=lambda s: s.orig_id):
                if sentence.split == "dev":
                    file_.write(json.dumps({"id": str(sentence.orig_id), "text": sentence.text}) + "\n")
        export = build_and_export([str(pipeline), str(texts)], work, "predicted")
        partition = gold.partition("dev")
        resolved, counts = read_mentions_export(export, gold)
        print(f"\n{pipeline}'s mentions of dev: {counts['matched']} of {len(partition)} gold mentions found "
              f"({counts['label differs']} with another label), {counts['unmatched']} other mentions (not scored)")
        print(HEADER)
        print(score_row("kb (resolved)", resolved, partition))
        print(score_row("kb mentions, exact string", read_mentions_export(export, gold, by="exact")[0], partition))


if __name__ == "__main__":
    typer.run(main)

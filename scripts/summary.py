"""The last step of the `all` workflow: the headline scores on the test split, where the outputs
are, and where to go next."""
import json
from pathlib import Path

import typer


def pct(value: object) -> str:
    return f"{100 * value:.1f}" if isinstance(value, (int, float)) else "n/a"


def main(
    dataset: str = typer.Argument(..., help="The dataset the workflow trained on"),
    metrics: Path = typer.Argument(..., exists=True, dir_okay=False, help="The scores `evaluate` wrote"),
) -> None:
    scores = json.loads(metrics.read_text(encoding="utf8"))
    typer.echo(
        f"\nTest split of {dataset!r}, end to end (strict):\n"
        f"  entities   P {pct(scores.get('ents_p'))}  R {pct(scores.get('ents_r'))}  F {pct(scores.get('ents_f'))}\n"
        f"  relations  micro F {pct(scores.get('rel_micro_f'))}  macro F {pct(scores.get('rel_macro_f'))}\n"
        f"\n"
        f"  all scores:  {metrics}\n"
        f"  pipeline:    training/{dataset}/pipeline      (spacy.load(\"training/{dataset}/pipeline\"))\n"
        f"  wheels:      packages/dist\n"
        f"\n"
        f"More accurate: the strong route (en_core_web_md's tok2vec and vectors), docs/training.md#the-strong-route.\n"
        f"Longer or shorter training: --vars.max_epochs and --vars.max_steps, docs/training.md#training-time."
    )


if __name__ == "__main__":
    typer.run(main)

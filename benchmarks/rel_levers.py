"""The relation levers of a joint NER + window_rel pipeline on CoNLL04, end to end: every way
of tuning the thresholds, with and without typed candidates, chosen on dev, reported on test.

For each lever, the thresholds are tuned on the dev entities that the pipeline's own NER
predicts (as `spacy-window-ner tune-thresholds` does), and counted on test with the test
entities it predicts, strictly (the figures of `spacy_window_ner evaluate`; two rows are
checked against its scorer). Tuning on dev and counting on dev favours the lever with the
most free thresholds, so the choice among them is k-fold cross-validation over dev
(`tuning.cross_validated_f`): the "dev CV" column. The rows marked `*` are the ones
chosen that way, per family (min support, shrinkage) and overall; every other row is
shown too, losers included, with its test figures for reference only.

Levers:
- thresholds: as saved (tuned per label on gold dev entities when window_rel was trained);
  one shared threshold; per label; per label with a min_support (labels with fewer gold dev
  relations take the shared one); per label shrunk toward the shared one (`shrinkage`).
- candidates: all pairs of a sentence, or typed (the generator with typed=True: only
  the (head label, tail label) pairs of the training relations). Typed candidates are turned
  on at inference here (`WindowRel.license_pairs`), on a window_rel trained with all pairs.
- entity confidence floor (a joint score of the entity pair and the relation, with the
  candidates as saved): a relation is kept only if both of its entities have an NER confidence
  (the span marginal that window_ner stores) of at least the floor; the floor and the way of
  tuning the thresholds are chosen together by dev CV.
- relations a user can trust (issue 28), with the candidates as saved: typed labels off and on
  (`typed_labels`: a label only between the entity labels its training relations join; the
  triples are learnt from train here, as initialize learns them), crossed with the floor on the
  tuned thresholds (`min_threshold`); for each, thresholds tuned per label and by the dev CV
  pick among TUNINGS (as `tune_rel` does), on the entities the NER predicts and on the gold
  ones. Micro P / R / F and macro F on dev (tuned and counted there: for reference) and on
  test (never used to choose); dev CV micro F is the choice. `--trust-only` prints only these.

    python -m benchmarks.rel_levers [--pipeline benchmarks/runs/rel/joint]
        [--out benchmarks/runs/rel_levers] [--ner-config window_ner_md] [--folds 5] [--trust-only]

Without --pipeline, it trains one as benchmarks.rel does (window_rel on gold entities,
window_ner, assembled with configs/joint.cfg) under --out, from the configs' sources' mirrors
(tests/mirrors.py: MIRRORS) or --ner-source; --ner-steps and --rel-steps shorten the training
([training.max_steps]).
"""
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy
import spacy
import typer
from spacy.training import Corpus, Example

from benchmarks.rel import assemble_joint, train_rel, write_conll04
from spacy_window_ner.candidates import NearbyPairs
from spacy_window_ner.confidences import get_confidences
from spacy_window_ner.rel import WindowRel
from spacy_window_ner.relations import relation_tuples
from spacy_window_ner.scorers import score_relations
from spacy_window_ner.tuning import (
    TUNINGS, DevScores, Tuning, cross_validated_f, dev_scores, examples_before, merge_scores, relation_f, relation_prf,
    tuned_component, tuned_vector,
)

REPO = Path(__file__).resolve().parent.parent


def family(tuning: Tuning) -> str:
    """The family of a way of tuning, whose values dev CV chooses among."""
    if tuning.min_support:
        return "min support"
    return "shrinkage" if tuning.shrinkage else tuning.name


FLOORS = (0.0, 0.3, 0.5, 0.6, 0.7, 0.8, 0.9)


def entity_floor(pipe: WindowRel, examples: Sequence[Example]) -> numpy.ndarray:
    """Per candidate scored by dev_scores (in its order), the lower NER confidence of its two
    entities (get_confidences; 1.0 for an entity without one)."""
    candidates = pipe.training_candidates(examples)
    floors = [numpy.zeros(0)]
    for example, ents, pairs in zip(examples, candidates.ents, candidates.pairs):
        stored = get_confidences(example.predicted)
        confidence = numpy.asarray([stored.get((e.start_char, e.end_char, e.label_), 1.0) for e in ents] + [1.0])
        pairs = numpy.asarray(pairs, dtype="int64").reshape((-1, 2))
        floors.append(numpy.minimum(confidence[pairs[:, 0]], confidence[pairs[:, 1]]))
    _, known = pipe.get_targets(examples, candidates)
    return numpy.concatenate(floors)[known]


def with_floor(scores: DevScores, floor: numpy.ndarray, tau: float) -> DevScores:
    """The scores with the candidates below the entity confidence floor tau never predicted."""
    return DevScores(scores.probs * (floor >= tau)[:, None], scores.gold, scores.n_gold)


def floor_rows(pipe: WindowRel, dev: Sequence[Example], test: Sequence[Example], folds: int) -> List[Tuple[str, str, str, str, str]]:
    """The entity confidence floor lever: per floor, the way of tuning dev CV picks with it,
    its dev CV F and its test micro and macro F; the floor with the best dev CV is starred."""
    dev_all, test_all = dev_scores(pipe, dev), dev_scores(pipe, test)
    dev_floor, test_floor = entity_floor(pipe, dev), entity_floor(pipe, test)
    parts = [dev[k::folds] for k in range(folds)]
    fold_scores = [(dev_scores(pipe, part), entity_floor(pipe, part)) for part in parts]
    rows, best = [], (-1.0, 0)
    for tau in FLOORS:
        floored = [with_floor(scores, floor, tau) for scores, floor in fold_scores]
        cv, tuning = max(((cross_validated_f(floored, **t._asdict()), t) for t in TUNINGS), key=lambda item: item[0])
        thresholds = tuned_vector(with_floor(dev_all, dev_floor, tau), **tuning._asdict())
        micro, macro = relation_f(with_floor(test_all, test_floor, tau), thresholds)
        best = max(best, (cv, -len(rows)))
        rows.append((f"{tau:g}", tuning.name, f"{cv * 100:.1f}", f"{micro * 100:.1f}", f"{macro * 100:.1f}"))
    return [(*row, "* best dev CV" if i == -best[1] else "") for i, row in enumerate(rows)]


MIN_THRESHOLDS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5)


def pct(value: float) -> str:
    return f"{value * 100:.1f}"


def trust_rows(
    pipe: WindowRel, splits: Dict[str, Sequence[Example]], triples: Sequence[Tuple[str, str, str]], folds: int,
) -> List[Tuple[str, ...]]:
    """Typed labels off and on, crossed with the floor on the tuned thresholds: per setting and
    way of tuning (per label, and dev CV's pick among TUNINGS), the dev CV micro F, the tuned
    thresholds' micro P / R / F and macro F on dev and test, the lowest tuned threshold with
    its label, and the lowest that the tuning on any CV fold's training part picks. The typed labels' triples are set on pipe (license_relations)."""
    pipe.license_relations(triples)
    saved_switch = pipe.typed_labels
    rows: List[Tuple[str, ...]] = []
    for typed in (False, True):
        pipe.typed_labels = typed
        dev_all, test_all = dev_scores(pipe, splits["dev"]), dev_scores(pipe, splits["test"])
        dev_folds = [dev_scores(pipe, splits["dev"][k::folds]) for k in range(folds)]
        for floor in MIN_THRESHOLDS:
            picks = {"per label": Tuning()}
            picks["dev CV pick"] = max(
                TUNINGS, key=lambda t: (cross_validated_f(dev_folds, min_threshold=floor, **t._asdict()), -TUNINGS.index(t))
            )
            for way, tuning in picks.items():
                options = tuning._asdict()
                cv = cross_validated_f(dev_folds, min_threshold=floor, **options)
                thresholds = tuned_vector(dev_all, min_threshold=floor, **options)
                low = int(numpy.argmin(thresholds))
                # The lowest threshold that any fold's tuning (on the other folds) picks: where a
                # few dev relations can drag a threshold.
                fold_low = min(
                    float(tuned_vector(merge_scores([f for j, f in enumerate(dev_folds) if j != k]), min_threshold=floor, **options).min())
                    for k in range(folds)
                )
                dev_prf, test_prf = relation_prf(dev_all, thresholds), relation_prf(test_all, thresholds)
                rows.append((
                    "on" if typed else "off", f"{floor:g}", way if way == "per label" else f"CV: {tuning.name}", pct(cv),
                    " / ".join(pct(v) for v in dev_prf[:3]), pct(dev_prf[3]),
                    " / ".join(pct(v) for v in test_prf[:3]), pct(test_prf[3]),
                    f"{pipe.labels[low]} {thresholds[low]:.3f}", f"{fold_low:.3f}",
                ))
    pipe.typed_labels = saved_switch
    return rows


def official_f(pipe: WindowRel, examples: Sequence[Example], thresholds: numpy.ndarray) -> Tuple[float, float]:
    """Micro and macro F of score_relations, with the given thresholds set on the component."""
    saved = (pipe.cfg["threshold"], dict(pipe.cfg["thresholds"]))
    pipe.cfg["threshold"] = None
    pipe.cfg["thresholds"] = dict(zip(pipe.labels, map(float, thresholds)))
    docs = [eg.predicted for eg in examples]
    pipe.set_annotations(docs, pipe.predict(docs))
    pipe.cfg["threshold"], pipe.cfg["thresholds"] = saved
    scores = score_relations(examples)
    return scores["rel_micro_f"], scores["rel_macro_f"]


def main(
    pipeline: Optional[Path] = typer.Option(None, exists=True, help="A trained joint NER + window_rel pipeline; trained under --out if not given"),
    out: Path = typer.Option(REPO / "benchmarks" / "runs" / "rel_levers", help="Folder for the corpus (and models, if trained)"),
    component: str = typer.Option("window_rel", help="Name of the window_rel component"),
    folds: int = typer.Option(5, min=2, help="Folds of the cross-validation over dev"),
    ner_config: str = typer.Option("window_ner_sm", help="configs/NAME.cfg that trains the NER, without --pipeline"),
    rel_config: str = typer.Option("window_rel_sm", help="configs/NAME.cfg that trains window_rel, without --pipeline"),
    ner_source: Optional[str] = typer.Option(None, help="Pipeline whose tok2vec and vectors the NER starts from, without --pipeline"),
    ner_steps: Optional[int] = typer.Option(None, help="[training.max_steps] of the NER, without --pipeline"),
    rel_steps: Optional[int] = typer.Option(None, help="[training.max_steps] of window_rel, without --pipeline"),
    trust_only: bool = typer.Option(False, "--trust-only", help="Print only the typed labels x threshold floor tables (issue 28)"),
) -> None:
    conll = write_conll04(out / "corpus", spacy.blank("en").vocab)
    if pipeline is None:
        rel_model = train_rel(out, conll, rel_config, *(["--training.max_steps", rel_steps] if rel_steps else []))
        pipeline = assemble_joint(
            out, conll, rel_model, ner_config=ner_config, ner_source=ner_source,
            ner_overrides=["--training.max_steps", ner_steps] if ner_steps else [],
        )
    nlp = spacy.load(pipeline)
    pipe = tuned_component(nlp, component, WindowRel)
    if not isinstance(pipe.candidates, NearbyPairs):
        raise typer.BadParameter(f"{component} has a custom candidate generator: the typed lever needs rel_candidates.v1 or .v2.")
    saved_thresholds = numpy.asarray([pipe.thresholds[label] for label in pipe.labels])
    triples = sorted({(label, hl, tl) for eg in Corpus(conll / "train.spacy")(nlp) for _, _, hl, _, _, tl, label in relation_tuples(eg.reference)})
    label_pairs = sorted({(hl, tl) for _, hl, tl in triples})
    print(f"\n{component} as saved: typed candidates {pipe.candidates.typed}; typed labels {pipe.typed_labels} "
          f"with triples {pipe.cfg.get('licensed_triples') is not None}; thresholds {pipe.thresholds}")
    print(f"licensed (head, tail) entity label pairs from train: {label_pairs}")
    print(f"licensed (relation, head, tail) triples from train: {triples}")
    dev = examples_before(nlp, conll / "dev.spacy", component, gold_ents=False)
    test = examples_before(nlp, conll / "test.spacy", component, gold_ents=False)
    trust_header = ("typed labels", "min_threshold", "thresholds", "dev CV micro F", "dev micro P / R / F", "dev macro F",
                    "test micro P / R / F", "test macro F", "lowest threshold", "lowest in a CV fold")
    original = pipe.candidates
    for ents, splits in (("predicted", {"dev": dev, "test": test}), ("gold", {
        split: examples_before(nlp, conll / f"{split}.spacy", component, gold_ents=True) for split in ("dev", "test")
    })):
        # The candidates as saved, and all pairs where those are typed (a mismatch typed labels guard against).
        for typed_candidates in sorted({original.typed, False}, reverse=True):
            pipe.candidates = NearbyPairs(
                max_distance=original.max_distance, max_candidates=original.max_candidates,
                block_tokens=original.block_tokens, typed=typed_candidates,
            )
            trust = trust_rows(pipe, splits, triples, folds)
            widths = [max(len(row[i]) for row in [trust_header, *trust]) for i in range(len(trust_header))]
            saved = "as saved" if typed_candidates == original.typed else "not as saved"
            print(f"\nrelations a user can trust, {ents} entities, {'typed' if typed_candidates else 'all-pairs'} "
                  f"candidates ({saved}), {folds}-fold CV over dev")
            for row in [trust_header, *trust]:
                print("  ".join(f"{cell:{width}}" for cell, width in zip(row, widths)))
    pipe.candidates = original
    if trust_only:
        return
    # The tables below score every label of every pair, as the pipelines they were first run on did.
    pipe.cfg["licensed_triples"] = None
    header = ("candidates", "thresholds", "dev CV micro F", "test micro F", "test macro F", "")
    rows: List[Tuple[str, str, str, str, str, str]] = []
    results: List[Tuple[float, int]] = []  # (dev CV F, -row)
    checks = []
    for typed in (False, True):
        # The pipeline's own generator (rel_candidates.v1 or .v2), typed or not.
        pipe.candidates = NearbyPairs(
            max_distance=original.max_distance, max_candidates=original.max_candidates,
            block_tokens=original.block_tokens, typed=typed,
        )
        pipe.license_pairs(label_pairs)
        candidates = "typed" if typed else "all pairs"
        dev_all = dev_scores(pipe, dev)
        dev_folds: List[DevScores] = [dev_scores(pipe, dev[k::folds]) for k in range(folds)]
        test_all = dev_scores(pipe, test)
        for name, scores in (("dev", dev_all), ("test", test_all)):
            print(f"{candidates}: {name} candidates {len(scores.probs)}, gold relations covered "
                  f"{int(scores.gold.sum())} of {int(scores.n_gold.sum())}, per label {dict(zip(pipe.labels, scores.n_gold.astype(int).tolist()))}")
        micro, macro = relation_f(test_all, saved_thresholds)
        rows.append((candidates, "as saved (gold dev entities)", "n/a", f"{micro * 100:.1f}", f"{macro * 100:.1f}", ""))
        best_of_family: Dict[str, Tuple[float, int]] = {}
        for tuning in TUNINGS:
            name, options = tuning.name, tuning._asdict()
            cv = cross_validated_f(dev_folds, **options)
            thresholds = tuned_vector(dev_all, **options)
            micro, macro = relation_f(test_all, thresholds)
            if name in ("shared", "per label"):
                checks.append((f"{candidates}, {name}", (micro, macro), official_f(pipe, test, thresholds)))
            # On a tie, the first (the simpler) way wins.
            results.append((cv, -len(rows)))
            best_of_family[family(tuning)] = max(best_of_family.get(family(tuning), (-1.0, 1)), (cv, -len(rows)))
            rows.append((candidates, name, f"{cv * 100:.1f}", f"{micro * 100:.1f}", f"{macro * 100:.1f}", ""))
        for group in ("min support", "shrinkage"):
            chosen = -best_of_family[group][1]
            rows[chosen] = (*rows[chosen][:5], f"* {group}, chosen by dev CV")
    best = -max(results)[1]
    rows[best] = (*rows[best][:5], (rows[best][5] + "; " if rows[best][5] else "* ") + "best dev CV overall")
    pipe.candidates = original
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    print(f"\nCoNLL04, end to end ({pipeline}), {folds}-fold CV over dev")
    for row in [header, *rows]:
        print("  ".join(f"{cell:{width}}" for cell, width in zip(row, widths)))
    print(f"\nentity confidence floor (candidates as saved: typed {original.typed}), {folds}-fold CV over dev")
    floor_header = ("floor", "thresholds (dev CV pick)", "dev CV micro F", "test micro F", "test macro F", "")
    floors = floor_rows(pipe, dev, test, folds)
    widths = [max(len(row[i]) for row in [floor_header, *floors]) for i in range(len(floor_header))]
    for row in [floor_header, *floors]:
        print("  ".join(f"{cell:{width}}" for cell, width in zip(row, widths)))
    print("\nthe counts above against score_relations (micro, macro):")
    for name, ours, official in checks:
        print(f"  {name}: {ours[0] * 100:.2f} / {ours[1] * 100:.2f} vs {official[0] * 100:.2f} / {official[1] * 100:.2f}")


if __name__ == "__main__":
    typer.run(main)

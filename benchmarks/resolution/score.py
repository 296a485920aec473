"""Entity resolution scored against the CoNLL04 gold alias set (gold.py, RULES.md): pairwise
precision/recall/F1 over same-entity mention pairs, and B-cubed, for each method on the gold
mentions of train, dev or both.

    python -m benchmarks.resolution.score [--split all|train|dev] [--method exact --method rapidfuzz
        --method splink --method resolve] [--cutoff 90] [--fuzz-scorer wratio|token_set_ratio] [--threshold T]
        [--no-context] [--mentions EXPORT.jsonl]

Methods (each partitions the same gold mentions; only the gold decides what is right):
- exact: today's knowledge base, one entity per (kb.store.normalize(text), label).
- rapidfuzz: a library baseline. Within a label, two distinct normalised names join when
  `rapidfuzz.fuzz.WRatio` (or `token_set_ratio`, --fuzz-scorer) with rapidfuzz's default processor
  (`rapidfuzz.utils.default_process`: lower case, non-alphanumerics to spaces, trimmed) scores them
  >= --cutoff (default 90, on rapidfuzz's 0-100 scale); entities are the connected components of
  that link (union-find), so it may chain.
- splink: Splink 5's Fellegi-Sunter model on DuckDB with its documented defaults (splink_baseline.py);
  needs `pip install "splink>=5,<6"`.
- resolve: `spacy_window_ner.kb.resolve.resolve` (issue 24), one MentionRecord per CoNLL04 entity
  of the split's sentences (all four labels, as a knowledge base built from them holds them; only
  the Peop/Org/Loc ones are scored): document = the sentence (its orig_id), neighbours =
  normalize(text) of the sentence's other entities, relations = (label, normalize(other end's
  text)) of the sentence's relations the mention is head or tail of; no vectors. --threshold and
  --no-context set its ResolveSettings.
- --mentions FILE: a `kb export --format mentions` JSONL file (see read_mentions_export), scored
  as the method "export".

The scores are over the gold mentions of the split: a method's entity ids only matter by which
mentions share them; a gold mention a method leaves out counts as an entity of its own.
"""
import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Tuple

import typer

from spacy_window_ner.kb.store import normalize

from .gold import GoldMention, GoldSet, Partition, Sentence, check_split, load_gold, pair_count

METHODS = ("exact", "rapidfuzz", "splink", "resolve")
FUZZ_SCORERS = ("wratio", "token_set_ratio")
DEFAULT_CUTOFF = 90.0


@dataclass(frozen=True)
class PRF:
    """Precision, recall and F1 (fractions in [0, 1])."""

    precision: float
    recall: float
    f1: float


def prf(precision: float, recall: float) -> PRF:
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return PRF(precision, recall, f1)


def _aligned(pred: Partition, gold: Partition) -> Dict[str, Tuple[str, str]]:
    """pred restricted to gold's mentions; a gold mention pred lacks is an entity of its own."""
    return {m: ("pred", pred[m]) if m in pred else ("missing", m) for m in gold}


def pairwise(pred: Partition, gold: Partition) -> PRF:
    """Pairwise precision/recall/F1: of the mention pairs pred puts in one entity, the share gold
    puts in one entity too (precision), and of gold's same-entity pairs, the share pred finds
    (recall). Over gold's mentions (see _aligned). Without pairs on a side, that side's score is 1.

    pred (Dict[str, str]): {mention id: predicted entity id}.
    gold (Dict[str, str]): {mention id: gold entity id}.
    RETURNS (PRF): The scores.
    """
    aligned = _aligned(pred, gold)
    both = Counter((aligned[m], gold[m]) for m in gold)
    true_pairs = sum(n * (n - 1) // 2 for n in both.values())
    pred_pairs, gold_pairs = pair_count(aligned), pair_count(gold)
    return prf(true_pairs / pred_pairs if pred_pairs else 1.0, true_pairs / gold_pairs if gold_pairs else 1.0)


def bcubed(pred: Partition, gold: Partition) -> PRF:
    """B-cubed precision/recall/F1 (Bagga and Baldwin 1998): per mention, the share of its
    predicted entity that is in its gold entity (precision) and the share of its gold entity that
    is in its predicted entity (recall), each averaged over gold's mentions (see _aligned).

    pred (Dict[str, str]): {mention id: predicted entity id}.
    gold (Dict[str, str]): {mention id: gold entity id}.
    RETURNS (PRF): The scores.
    """
    if not gold:
        return prf(1.0, 1.0)
    aligned = _aligned(pred, gold)
    both = Counter((aligned[m], gold[m]) for m in gold)
    pred_sizes, gold_sizes = Counter(aligned.values()), Counter(gold.values())
    precision = sum(n * n / pred_sizes[p] for (p, _), n in both.items()) / len(gold)
    recall = sum(n * n / gold_sizes[g] for (_, g), n in both.items()) / len(gold)
    return prf(precision, recall)


# ------------------------------------------------------------------ the methods


def exact(mentions: Iterable[GoldMention]) -> Partition:
    """Today's knowledge base: one entity per (normalize(text), label)."""
    return {m.id: f"{m.label}\t{normalize(m.text)}" for m in mentions}


def rapidfuzz_baseline(
    mentions: Iterable[GoldMention], *, cutoff: float = DEFAULT_CUTOFF, scorer: str = "wratio"
) -> Partition:
    """The rapidfuzz baseline (see the module docstring): within a label, distinct normalised
    names scoring >= cutoff are linked; entities are the connected components.

    mentions (Iterable[GoldMention]): The mentions.
    cutoff (float): The score, 0-100, that links two names.
    scorer (str): "wratio" (rapidfuzz.fuzz.WRatio) or "token_set_ratio".
    RETURNS (Dict[str, str]): {mention id: entity id}.
    """
    from rapidfuzz import fuzz, process, utils

    if scorer not in FUZZ_SCORERS:
        raise ValueError(f"Unknown rapidfuzz scorer {scorer!r}: use one of {', '.join(FUZZ_SCORERS)}.")
    score = fuzz.WRatio if scorer == "wratio" else fuzz.token_set_ratio
    mentions = list(mentions)
    parent: Dict[Tuple[str, str], Tuple[str, str]] = {}

    def find(x: Tuple[str, str]) -> Tuple[str, str]:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    names_by_label: Dict[str, List[str]] = defaultdict(list)
    for key in sorted({(m.label, normalize(m.text)) for m in mentions}):
        parent[key] = key
        names_by_label[key[0]].append(key[1])
    for label, names in names_by_label.items():
        matrix = process.cdist(names, names, scorer=score, processor=utils.default_process, score_cutoff=cutoff)
        for i, j in zip(*matrix.nonzero()):
            if i < j:
                a, b = find((label, names[i])), find((label, names[j]))
                if a != b:
                    parent[max(a, b)] = min(a, b)
    return {m.id: "\t".join(find((m.label, normalize(m.text)))) for m in mentions}


def resolve_records(sentences: Iterable[Sentence]) -> Tuple[list, Dict[int, str]]:
    """The MentionRecords `resolve` gets for sentences (see the module docstring), and
    {record id: mention id "ORIG_ID:INDEX"}.

    sentences (Iterable[Sentence]): The sentences.
    RETURNS (Tuple[List[MentionRecord], Dict[int, str]]): The records and their mention ids.
    """
    from spacy_window_ner.kb.resolve import MentionRecord

    records: List[Any] = []
    ids: Dict[int, str] = {}
    for sentence in sorted(sentences, key=lambda s: s.orig_id):
        texts = [" ".join(sentence.tokens[start:end]) for _, start, end in sentence.entities]
        norms = [normalize(text) for text in texts]
        for index, (label, _, _) in enumerate(sentence.entities):
            start_char, end_char = sentence.char_span(index)
            relations = tuple(
                (rel, norms[tail if head == index else head])
                for rel, head, tail in sentence.relations
                if index in (head, tail) and head != tail
            )
            record_id = len(records)
            records.append(MentionRecord(
                id=record_id, document=sentence.orig_id, text=texts[index], label=label, sentence=sentence.text,
                start=start_char, end=end_char,
                neighbours=tuple(norm for j, norm in enumerate(norms) if j != index), relations=relations,
            ))
            ids[record_id] = f"{sentence.orig_id}:{index}"
    return records, ids


def resolve_method(
    gold: GoldSet, split: str, *, threshold: Optional[float] = None, context: bool = True
) -> Partition:
    """`spacy_window_ner.kb.resolve.resolve` on the entities of the split's sentences.

    gold (GoldSet): The gold set (its sentences).
    split (str): "train", "dev" or "all".
    threshold (Optional[float]): ResolveSettings.threshold; its default if None.
    context (bool): ResolveSettings.context.
    RETURNS (Dict[str, str]): {mention id: entity id}.
    """
    from spacy_window_ner.kb.resolve import ResolveSettings, resolve

    settings = ResolveSettings(context=context) if threshold is None else ResolveSettings(threshold, context)
    sentences = [s for s in gold.sentences.values() if split == "all" or s.split == split]
    records, ids = resolve_records(sentences)
    resolution = resolve(records, settings=settings)
    return {ids[record]: f"e{n}" for n, entity in enumerate(resolution.entities) for record in entity.mentions}


def resolve_available() -> Optional[str]:
    """None if `spacy_window_ner.kb.resolve` imports, else why not."""
    try:
        from spacy_window_ner.kb.resolve import MentionRecord, ResolveSettings, resolve  # noqa: F401
    except ImportError as err:
        return (
            f"the resolve method needs spacy_window_ner.kb.resolve (issue 24, branch i24/resolve), which "
            f"doesn't import here ({err}); install a checkout that has it, or put one first on PYTHONPATH."
        )
    return None


# ------------------------------------------------------------------ a knowledge base's export


def document_orig_id(document: str) -> Optional[int]:
    """The CoNLL04 orig_id a `kb export --format mentions` "document" names: the doc's id, as
    make_spacy.py sets it (doc.user_data["id"] = str(orig_id)); written either bare ("3255") or
    as an identity "id:3255". None for an identity without an id (PATH:LINE, PATH:INDEX)."""
    value = document[3:] if document.startswith("id:") else document
    return int(value) if value.isdigit() else None


def read_mentions_export(path: Path, gold: GoldSet, *, by: str = "entity") -> Tuple[Partition, Counter]:
    """The partition a `kb export --format mentions` JSONL file makes of the gold mentions.

    Each line is {"document", "start_char", "end_char", "text", "label", "entity_id",
    "canonical"}. A line names a gold mention when its document's orig_id (document_orig_id) and
    its character offsets are that mention's (in the sentence text " ".join(tokens), the text of
    the .spacy docs make_spacy.py writes). Lines of other mentions (another label, other
    offsets: a pipeline's own mentions) are counted, not scored; a mention with entity_id null
    is an entity of its own.

    path (Path): The export.
    gold (GoldSet): The gold set.
    by (str): "entity": group the mentions by their entity_id (the knowledge base's resolution);
        "exact": by label and normalised text, as a knowledge base without resolution would, over
        the same mentions (the exact-string baseline of a pipeline's own mentions).
    RETURNS (Tuple[Dict[str, str], Counter]): {gold mention id: "e" + entity_id}, and counts of
        "matched", "unmatched" (no gold mention at those offsets) and "label differs" lines.
    """
    by_span = {(m.orig_id, m.start_char, m.end_char): m for m in gold.mentions.values()}
    partition: Partition = {}
    counts: Counter = Counter()
    for number, line in enumerate(path.read_text(encoding="utf8").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            row = json.loads(line)
            document, start, end = row["document"], int(row["start_char"]), int(row["end_char"])
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
            raise ValueError(
                f'{where}: not a `kb export --format mentions` line ({err!r}); expected "document", '
                f'"start_char", "end_char", "label", "entity_id".'
            ) from None
        orig_id = document_orig_id(str(document))
        if orig_id is None:
            raise ValueError(
                f"{where}: document {document!r} carries no CoNLL04 orig_id: build the knowledge base "
                f"from the .spacy files of `python -m benchmarks.resolution.make_spacy`, whose docs carry it."
            )
        mention = by_span.get((orig_id, start, end))
        if mention is None:
            counts["unmatched"] += 1
            continue
        if row.get("label") != mention.label:
            counts["label differs"] += 1
        counts["matched"] += 1
        if by == "exact":
            partition[mention.id] = f"{row.get('label')}\t{normalize(str(row.get('text')))}"
            continue
        entity = row.get("entity_id")
        partition[mention.id] = f"e{entity}" if entity is not None else f"m{number}"
    return partition, counts


# ------------------------------------------------------------------ the table


def score_row(name: str, pred: Partition, gold: Partition) -> str:
    pair, b3 = pairwise(pred, gold), bcubed(pred, gold)
    entities = len({pred.get(m, ("missing", m)) for m in gold})
    cells = [f"{100 * x:6.1f}" for x in (pair.precision, pair.recall, pair.f1, b3.precision, b3.recall, b3.f1)]
    return f"{name:<28}{entities:>9}" + "".join(cells)


def main(
    split: str = typer.Option("all", help="Gold mentions of train, dev or all (both)."),
    method: List[str] = typer.Option(list(METHODS), help="exact, rapidfuzz, splink, resolve; repeat for several."),
    cutoff: float = typer.Option(DEFAULT_CUTOFF, help="rapidfuzz: the score (0-100) that links two names."),
    fuzz_scorer: str = typer.Option("wratio", help="rapidfuzz: wratio (fuzz.WRatio) or token_set_ratio."),
    threshold: Optional[float] = typer.Option(None, help="resolve: ResolveSettings.threshold (its default if omitted)."),
    context: bool = typer.Option(True, help="resolve: ResolveSettings.context."),
    mentions: Optional[Path] = typer.Option(None, help="A `kb export --format mentions` JSONL file to score too."),
) -> None:
    """Score entity resolution methods against the CoNLL04 gold alias set."""
    check_split(split)
    for name in method:
        if name not in METHODS:
            raise typer.BadParameter(f"unknown method {name!r}: use {', '.join(METHODS)}", param_hint="--method")
    try:
        gold = load_gold()
    except (FileNotFoundError, ValueError) as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(1)
    partition = gold.partition(split)
    selected = [gold.mentions[m] for m in partition]
    print(f"gold ({split}): {len(partition)} Peop/Org/Loc mentions, {len(set(partition.values()))} entities, "
          f"{pair_count(partition)} same-entity pairs")
    print(f"{'method':<28}{'entities':>9}{'pair P':>7}{'pair R':>7}{'pair F':>7}{'B3 P':>7}{'B3 R':>7}{'B3 F':>7}")
    for name in method:
        if name == "exact":
            print(score_row("exact", exact(selected), partition))
        elif name == "rapidfuzz":
            try:
                import rapidfuzz  # noqa: F401
            except ImportError:
                print(f"{'rapidfuzz':<28} skipped: rapidfuzz is not installed (pip install \"spacy-window-ner[benchmarks]\")")
                continue
            label = f"rapidfuzz {fuzz_scorer}>={cutoff:g}"
            print(score_row(label, rapidfuzz_baseline(selected, cutoff=cutoff, scorer=fuzz_scorer), partition))
        elif name == "splink":
            try:
                from .splink_baseline import splink_baseline
                import splink  # noqa: F401
            except ImportError:
                print(f"{'splink':<28} skipped: Splink is not installed (pip install \"splink>=5,<6\")")
                continue
            print(score_row("splink p>=0.95", splink_baseline(selected), partition))
        else:
            why = resolve_available()
            if why is not None:
                print(f"{'resolve':<28} skipped: {why}")
                continue
            label = "resolve" + ("" if threshold is None else f" t={threshold:g}") + ("" if context else " no-context")
            print(score_row(label, resolve_method(gold, split, threshold=threshold, context=context), partition))
    if mentions is not None:
        try:
            exported, counts = read_mentions_export(mentions, gold)
        except (OSError, ValueError) as err:
            typer.echo(f"error: {err}", err=True)
            raise typer.Exit(1)
        print(score_row(f"export {mentions.name}", exported, partition))
        print(score_row("  its mentions, exact", read_mentions_export(mentions, gold, by="exact")[0], partition))
        print(f"  export lines: {counts['matched']} gold mentions ({counts['label differs']} with another label), "
              f"{counts['unmatched']} other mentions (not scored)")


if __name__ == "__main__":
    typer.run(main)

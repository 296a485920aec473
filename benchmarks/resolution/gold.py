"""The gold alias set of CoNLL04 train and dev: which Peop/Org/Loc mentions refer to one real-world
entity across sentences (issue 24). The decisions are in gold_clusters.jsonl beside this module,
the rules they follow in RULES.md. This module rebuilds the set from the shared data (tests/data.py:
data_dir(), never copied into the repository) and checks every decision against it.

    python -m benchmarks.resolution.gold [--split train|dev|all]

prints the set's statistics.

gold_clusters.jsonl holds one JSON object per line, one per entity with two or more mentions:
{"mentions": ["ORIG_ID:INDEX", ...], "label": "Peop"|"Org"|"Loc", "name": "..."} ("label" and
"name" are optional; "name" is only for the reader). A mention id is the sentence's CoNLL04
`orig_id` and the entity's index in that sentence's `entities` list. Every other Peop/Org/Loc
mention of train and dev is an entity of its own.
"""
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Hashable, List, Mapping, Optional, Sequence, Tuple

import typer

from tests.data import DATA_ENV_VAR, data_dir

GOLD_PATH = Path(__file__).resolve().parent / "gold_clusters.jsonl"
LABELS = ("Peop", "Org", "Loc")
SPLITS = ("train", "dev")

# {mention id: entity id}: a partition of mentions, gold or predicted.
Partition = Dict[str, str]


@dataclass(frozen=True)
class GoldMention:
    """One Peop/Org/Loc mention of CoNLL04 train or dev.

    id (str): "ORIG_ID:INDEX".
    orig_id (int): Its sentence's CoNLL04 orig_id (the document id of the annotated .spacy route).
    index (int): Its index in the sentence's `entities` list.
    split (str): "train" or "dev".
    text (str): The mention, its tokens joined by single spaces.
    label (str): "Peop", "Org" or "Loc".
    sentence (str): The sentence, its tokens joined by single spaces (a CoNLL04 doc's text).
    start_char (int): The mention's character offsets in `sentence`.
    end_char (int):
    cluster (str): Its gold entity: "line N" of gold_clusters.jsonl, or its own id.
    """

    id: str
    orig_id: int
    index: int
    split: str
    text: str
    label: str
    sentence: str
    start_char: int
    end_char: int
    cluster: str


@dataclass
class Sentence:
    """A CoNLL04 sentence as the resolution benchmark needs it.

    orig_id (int): Its orig_id.
    split (str): "train", "dev" or "test".
    tokens (List[str]): Its tokens.
    entities (List[Tuple[str, int, int]]): (label, start token, end token exclusive) per entity.
    relations (List[Tuple[str, int, int]]): (label, head entity index, tail entity index).
    """

    orig_id: int
    split: str
    tokens: List[str]
    entities: List[Tuple[str, int, int]]
    relations: List[Tuple[str, int, int]] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(self.tokens)

    def char_span(self, index: int) -> Tuple[int, int]:
        """The character offsets in `text` of entity `index`."""
        _, start, end = self.entities[index]
        start_char = sum(len(token) + 1 for token in self.tokens[:start])
        return start_char, start_char + len(" ".join(self.tokens[start:end]))


@dataclass
class GoldSet:
    """The gold mentions and the partition the decisions make of them.

    mentions (Dict[str, GoldMention]): By mention id.
    sentences (Dict[int, Sentence]): The sentences of the splits read, by orig_id.
    """

    mentions: Dict[str, GoldMention]
    sentences: Dict[int, Sentence]

    def partition(self, split: str = "all") -> Partition:
        """The gold partition of the mentions of one split ("train", "dev") or of both ("all").

        split (str): Which mentions.
        RETURNS (Dict[str, str]): {mention id: gold entity id}.
        """
        check_split(split)
        return {m.id: m.cluster for m in self.mentions.values() if split == "all" or m.split == split}


def check_split(split: str) -> None:
    if split not in SPLITS + ("all",):
        raise ValueError(f"Unknown split {split!r}: use one of {', '.join(SPLITS + ('all',))}.")


def read_sentences(directory: Optional[Path] = None, splits: Sequence[str] = SPLITS) -> Dict[int, Sentence]:
    """The sentences of CoNLL04 splits, from conll04/conll04_{split}.json in the shared data.

    directory (Optional[Path]): The shared data directory; tests/data.py: data_dir() if None.
    splits (Sequence[str]): Which of "train", "dev", "test".
    RETURNS (Dict[int, Sentence]): By orig_id.
    """
    directory = data_dir() if directory is None else directory
    sentences: Dict[int, Sentence] = {}
    for split in splits:
        path = directory / "conll04" / f"conll04_{split}.json"
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} not found: set {DATA_ENV_VAR} to the shared data directory that holds conll04/."
            )
        for record in json.loads(path.read_text(encoding="utf8")):
            entities = [(ent["type"], ent["start"], ent["end"]) for ent in record["entities"]]
            relations = [(rel["type"], rel["head"], rel["tail"]) for rel in record["relations"]]
            sentences[record["orig_id"]] = Sentence(record["orig_id"], split, record["tokens"], entities, relations)
    return sentences


def read_decisions(path: Path = GOLD_PATH) -> List[Dict[str, Any]]:
    """The decisions of a gold cluster file, checked for form (not yet against the data).

    path (Path): A JSONL file as gold_clusters.jsonl.
    RETURNS (List[Dict[str, Any]]): One {"line", "mentions", "label"} per cluster.
    """
    clusters = []
    seen: Dict[str, int] = {}
    for number, line in enumerate(path.read_text(encoding="utf8").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as err:
            raise ValueError(f"{where}: not valid JSON ({err}); each line is one cluster object.") from None
        mentions = entry.get("mentions") if isinstance(entry, dict) else None
        if not isinstance(mentions, list) or len(mentions) < 2 or not all(isinstance(m, str) for m in mentions):
            raise ValueError(f'{where}: "mentions" must be a list of two or more "ORIG_ID:INDEX" strings.')
        for mention in mentions:
            parse_mention_id(mention, where)
            if mention in seen:
                raise ValueError(f"{where}: mention {mention} is already in the cluster of line {seen[mention]}.")
            seen[mention] = number
        label = entry.get("label")
        if label is not None and label not in LABELS:
            raise ValueError(f"{where}: label {label!r} is not one of {', '.join(LABELS)}.")
        clusters.append({"line": number, "mentions": mentions, "label": label})
    return clusters


def parse_mention_id(mention: str, where: str = "") -> Tuple[int, int]:
    """(orig_id, entity index) of a mention id "ORIG_ID:INDEX"."""
    parts = mention.split(":")
    if len(parts) != 2 or not all(part.isdigit() for part in parts):
        raise ValueError(f'{where}: {mention!r} is not a mention id "ORIG_ID:INDEX" (two integers).')
    return int(parts[0]), int(parts[1])


def load_gold(
    directory: Optional[Path] = None, path: Path = GOLD_PATH, splits: Sequence[str] = SPLITS
) -> GoldSet:
    """Rebuild the gold set: every Peop/Org/Loc mention of the splits, with its gold entity.

    directory (Optional[Path]): The shared data directory; tests/data.py: data_dir() if None.
    path (Path): The decisions (gold_clusters.jsonl).
    splits (Sequence[str]): The splits the decisions cover.
    RETURNS (GoldSet): The mentions and their sentences.
    """
    decisions = read_decisions(path)
    sentences = read_sentences(directory, splits)
    cluster_of: Dict[str, str] = {}
    for entry in decisions:
        where = f"{path}:{entry['line']}"
        labels = set()
        for mention in entry["mentions"]:
            orig_id, index = parse_mention_id(mention, where)
            sentence = sentences.get(orig_id)
            if sentence is None:
                raise ValueError(f"{where}: mention {mention}: no sentence with orig_id {orig_id} in {', '.join(splits)}.")
            if index >= len(sentence.entities):
                raise ValueError(f"{where}: mention {mention}: sentence {orig_id} has {len(sentence.entities)} entities.")
            label = sentence.entities[index][0]
            if label not in LABELS:
                raise ValueError(f"{where}: mention {mention} is labelled {label}, not {', '.join(LABELS)}.")
            labels.add(label)
            cluster_of[mention] = f"line {entry['line']}"
        if len(labels) > 1 or (entry["label"] is not None and labels != {entry["label"]}):
            raise ValueError(f"{where}: a cluster has one label; its mentions are {', '.join(sorted(labels))}.")
    mentions = {}
    for sentence in sentences.values():
        for index, (label, start, end) in enumerate(sentence.entities):
            if label not in LABELS:
                continue
            mention = f"{sentence.orig_id}:{index}"
            start_char, end_char = sentence.char_span(index)
            mentions[mention] = GoldMention(
                mention, sentence.orig_id, index, sentence.split, " ".join(sentence.tokens[start:end]), label,
                sentence.text, start_char, end_char, cluster_of.get(mention, mention),
            )
    return GoldSet(mentions, sentences)


def pair_count(partition: Mapping[str, Hashable]) -> int:
    """The number of same-entity mention pairs in a partition."""
    return sum(n * (n - 1) // 2 for n in Counter(partition.values()).values())


def main(split: str = typer.Option("all", help="train, dev or all")) -> None:
    """Print the gold set's statistics."""
    check_split(split)
    gold = load_gold()
    partition = gold.partition(split)
    sizes = Counter(partition.values())
    multi = sum(1 for n in sizes.values() if n > 1)
    print(f"gold ({split}): {len(partition)} mentions, {len(sizes)} entities, {multi} with 2+ mentions, "
          f"{pair_count(partition)} same-entity pairs")


if __name__ == "__main__":
    typer.run(main)

"""Entity resolution at scale (issue 24), on synthetic names, through the knowledge base's own
code path (`Store.write_batch` into SQLite, then `kb.manage.resolve_database`, what `kb resolve`
runs):

    python -m benchmarks.resolution.scale [--mentions 1000000] [--base-docs 10000 --base-docs 100000] [--new-docs 1000]
        [--work-dir /work/scratch/kb/scale]

1. Resolving many mentions in bounded memory: --mentions mentions (and a quarter of them) are
   stored without resolving, then resolved by a pass from scratch (`kb resolve --from-scratch`).
   The pass works a page of components at a time (kb/resolution.py), so its peak RSS follows
   the largest component, not the input: the table prints both, with the largest component
   (its names and mentions, from the stored blocking keys) beside them.
2. Adding documents in time proportional to them: bases of each --base-docs size (10,000 and
   100,000 documents unless given) are stored and resolved; then --new-docs new documents (1,000
   unless given; repeat for more counts, each added to a copy of the base), which mention the
   base's people, organisations and places, are stored and resolved incrementally (what `kb
   build` does at its end). Each base is built twice: from a population that grows with it (one
   person per two documents), and from the smallest base's population. The second holds the
   names fixed, so it shows what the base's size alone costs; in the first, a surname is shared
   by more people the bigger the base, and each new mention of it has more namesakes (names
   sharing a blocking key) to be told apart from. The table gives each add phase's time over the
   smallest base's with as many new documents.

Every phase runs in a process of its own (multiprocessing "spawn"), so its peak RSS
(getrusage ru_maxrss) is its own; "baseline" is the peak of such a process that only imports the
package, the floor of every other row.

The names are generated here from random syllables, with a fixed seed: given names and
surnames drawn with Zipf-like frequencies (a few very common surnames shared by many people, a
long tail of rare ones), middle initials, titles (from kb/resolve/tables.py), organisations of
one to three words with a corporate designator and their acronyms, and places (invented, some
with a state or country of tables.PLACES as qualifier). A document names about five entities,
each by a full name first and then by shorter forms (a bare surname, a title and surname,
initials, an acronym), in sentences of their own. The people, organisations and places are a
population sized by the number of documents, drawn from by popularity, so that a name recurs
across documents as in news.
"""
import bisect
import hashlib
import itertools
import multiprocessing
import os
import random
import resource
import shutil
import sqlite3
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import typer

from spacy_window_ner.inputs import Record
from spacy_window_ner.kb import DocRows, open_store
from spacy_window_ner.kb.backends import database_files
from spacy_window_ner.kb.manage import resolve_database
from spacy_window_ner.kb.resolve.tables import CORPORATE_DESIGNATORS, PLACES, TITLES

SEED = 24
BATCH = 500  # documents per write_batch transaction, as `kb build` writes them
MENTIONS_PER_DOC = 10.0  # about, on average (see SyntheticCorpus.doc)
CONSONANTS = "b c d f g h j k l m n p r s t v z br ch dr gr kr sh st th tr".split()
VOWELS = "a e i o u ai ea ou y".split()
CODAS = ["", "", "", "n", "r", "l", "s", "m", "k", "nd", "rt", "st"]
VERBS = "met visited called praised thanked joined followed criticised replaced advised".split()
FILLERS = "on Monday|last week|in a statement|after the meeting|on Friday|during the talks|this year".split("|")
PERSON_TITLES = sorted(t for t in TITLES if len(t) > 2 and t.isalpha())[:40]
DESIGNATORS = ["Inc.", "Corp.", "Co.", "Ltd.", "Group", "Holdings", "LLC"]
assert all(d.casefold().rstrip(".") in CORPORATE_DESIGNATORS for d in DESIGNATORS)
ORG_HEADS = "Bank Mining Energy Airlines Motors Foods Press Systems Partners Insurance Steel Media".split()


def syllable_word(rng: random.Random, syllables: int) -> str:
    """A capitalised word of random syllables ("Brakel", "Tovinda")."""
    return "".join(rng.choice(CONSONANTS) + rng.choice(VOWELS) + rng.choice(CODAS) for _ in range(syllables)).capitalize()


def word_pool(rng: random.Random, size: int, syllables: Sequence[int]) -> List[str]:
    """size distinct syllable words."""
    words: Dict[str, None] = {}
    while len(words) < size:
        words.setdefault(syllable_word(rng, rng.choice(syllables)))
    return list(words)


def zipf_weights(size: int, offset: float) -> List[float]:
    """Cumulative weights 1 / (rank + offset): the first ranks common, a long tail of rare ones."""
    return list(itertools.accumulate(1.0 / (rank + offset) for rank in range(1, size + 1)))


@dataclass(frozen=True)
class Entity:
    """One synthetic real-world entity: its label and the forms it is mentioned by (the first is
    its full name, used first in a document)."""

    label: str
    forms: Tuple[str, ...]


class SyntheticCorpus:
    """A population of people, organisations and places, and the documents that mention them:
    document i depends only on (seed, population size, i), so any range of documents can be
    generated alone, in any process.

    people (int): Persons in the population (organisations and places are a fifth of that each).
    seed (int): The random seed.
    """

    def __init__(self, people: int, seed: int = SEED) -> None:
        self.seed = seed
        rng = random.Random(seed)
        given = word_pool(rng, 4000, (2, 2, 3))
        surnames = word_pool(rng, max(2000, people // 4), (2, 2, 3, 3))
        given_w, surname_w = zipf_weights(len(given), 5.0), zipf_weights(len(surnames), 20.0)
        self.entities: List[Entity] = []
        for _ in range(people):
            first = rng.choices(given, cum_weights=given_w)[0]
            last = rng.choices(surnames, cum_weights=surname_w)[0]
            middle = f" {rng.choice('ABCDEFGHJKLMNPRSTW')}." if rng.random() < 0.3 else ""
            title = rng.choice(PERSON_TITLES).capitalize() if rng.random() < 0.3 else ""
            full = f"{first}{middle} {last}"
            forms = [f"{title} {full}" if title else full, full, last, f"{first[0]}. {last}"]
            if title:
                forms.append(f"{title} {last}")
            self.entities.append(Entity("PER", tuple(forms)))
        for _ in range(max(1, people // 5)):
            words = [syllable_word(rng, rng.choice((2, 3))) for _ in range(rng.choice((1, 1, 2)))]
            if rng.random() < 0.4:
                words.append(rng.choice(ORG_HEADS))
            name = " ".join(words)
            forms = [f"{name} {rng.choice(DESIGNATORS)}", name]
            if len(words) >= 2:
                forms.append("".join(w[0] for w in words).upper())
            self.entities.append(Entity("ORG", tuple(forms)))
        qualifiers = [place[0].title() for place in PLACES]
        for _ in range(max(1, people // 5)):
            name = syllable_word(rng, rng.choice((2, 3)))
            place_forms = (f"{name}, {rng.choice(qualifiers)}", name) if rng.random() < 0.3 else (name,)
            self.entities.append(Entity("LOC", place_forms))
        # Popularity: a few entities named in many documents, most in a few.
        order = list(range(len(self.entities)))
        rng.shuffle(order)
        self._order = order
        self._weights = zipf_weights(len(order), 50.0)

    def doc(self, index: int) -> Tuple[Record, DocRows]:
        """Document `index`: three to seven entities, each named in full once and by shorter
        forms in up to two more sentences, as stored rows (store.DocRows)."""
        rng = random.Random(self.seed * 1_000_003 + index)
        picked = {self._order[i] for i in _bisect_all(self._weights, rng, rng.randint(3, 7))}
        names: List[Tuple[str, str]] = []
        for entity in (self.entities[i] for i in sorted(picked)):
            names.append((entity.forms[0], entity.label))
            for _ in range(rng.choice((0, 1, 1, 2))):
                names.append((rng.choice(entity.forms[1:] or entity.forms), entity.label))
        first, rest = names[: len(picked)], names[len(picked):]
        rng.shuffle(rest)
        names = first + rest
        text, mentions, words = "", {}, 0
        for start in range(0, len(names), 2):
            pair = names[start : start + 2]
            sentence_start = len(text)
            parts: List[Tuple[str, str, bool]] = [(pair[0][0], pair[0][1], True)]
            if len(pair) == 2:
                parts += [(rng.choice(VERBS), "", False), (pair[1][0], pair[1][1], True)]
            parts.append((rng.choice(FILLERS) + ".", "", False))
            spans = []
            for part, label, is_name in parts:
                if is_name:
                    spans.append((len(text), len(text) + len(part), words, words + len(part.split()), part, label))
                text += part + " "
                words += len(part.split())
            sentence_end = len(text) - 1
            for start_char, end_char, start_token, end_token, part, label in spans:
                mentions[(start_token, end_token, label)] = {
                    "start_char": start_char, "end_char": end_char, "text": part, "label": label, "confidence": None,
                    "sentence": text[sentence_start:sentence_end], "sent_start_char": sentence_start,
                    "sent_end_char": sentence_end,
                }
        text = text.rstrip()
        record = Record("synthetic", index, text, hashlib.sha256(text.encode("utf8")).hexdigest(), 0)
        rows = {"n_chars": len(text), "n_tokens": words, "mentions": mentions, "relations": [], "dropped_candidates": 0}
        return record, rows


def _bisect_all(cum_weights: List[float], rng: random.Random, k: int) -> List[int]:
    """k positions drawn by cumulative weights (with repeats)."""
    return [bisect.bisect_right(cum_weights, rng.random() * cum_weights[-1]) for _ in range(k)]


def people_for(docs: int) -> int:
    """The population of a corpus of `docs` documents: one person for every two documents."""
    return max(200, docs // 2)


def store_docs(db: str, people: int, start: int, count: int) -> Dict[str, Any]:
    """Store documents start..start+count of the corpus of `people` people, without resolving,
    a transaction per BATCH documents (the write path of `kb build --no-resolve`).

    RETURNS (Dict[str, Any]): "docs", "mentions", "seconds" (generating the rows included).
    """
    corpus = SyntheticCorpus(people)
    begin = time.perf_counter()
    docs = mentions = 0
    with open_store(db, create=True) as store:
        for first in range(start, start + count, BATCH):
            batch = [corpus.doc(i) for i in range(first, min(first + BATCH, start + count))]
            counts = store.write_batch(batch)
            docs += counts.added
            mentions += counts.mentions
    return {"docs": docs, "mentions": mentions, "seconds": time.perf_counter() - begin}


def resolve_pass(db: str, from_scratch: bool) -> Dict[str, Any]:
    """A resolution pass (`kb resolve`, with or without --from-scratch).

    RETURNS (Dict[str, Any]): ResolveStats' fields.
    """
    stats = resolve_database(db, from_scratch=from_scratch)
    return asdict(stats)


def largest_component(db: str) -> Dict[str, Any]:
    """The largest component of the stored names (names linked by a shared blocking key, what a
    pass resolves together), read from the name_keys table of a SQLite knowledge base.

    RETURNS (Dict[str, Any]): "names", "mentions" of the largest component, "components".
    """
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        ids: Dict[Tuple[str, str], int] = {}
        counts: List[int] = []
        for norm, label, n in conn.execute("SELECT norm, label, COUNT(*) FROM mentions GROUP BY norm, label"):
            ids[norm, label] = len(counts)
            counts.append(n)
        parent = list(range(len(counts)))

        def find(x: int) -> int:
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        first_of: Dict[str, int] = {}
        for key, norm, label in conn.execute("SELECT key, norm, label FROM name_keys"):
            node = ids.get((norm, label))
            if node is None:
                continue
            other = first_of.setdefault(key, node)
            parent[find(node)] = find(other)
    finally:
        conn.close()
    names: Counter = Counter()
    mentions: Counter = Counter()
    for node, n in enumerate(counts):
        root = find(node)
        names[root] += 1
        mentions[root] += n
    root, top = mentions.most_common(1)[0] if mentions else (0, 0)
    return {"names": names[root], "mentions": top, "components": len(mentions)}


def namesakes(db: str) -> float:
    """The mean, over the mentions not yet resolved, of the other names that share a blocking key
    with the mention's name (read from the name_keys table of a SQLite knowledge base): what
    placing a new mention compares it with.

    RETURNS (float): The mean number of namesakes of a new mention.
    """
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute(
            "WITH new AS (SELECT norm, label, COUNT(*) AS n FROM mentions WHERE entity_id IS NULL GROUP BY norm, label) "
            "SELECT COALESCE(SUM(n * (SELECT COUNT(*) FROM (SELECT DISTINCT k2.norm, k2.label FROM name_keys k1 "
            "JOIN name_keys k2 ON k2.key = k1.key WHERE k1.norm = new.norm AND k1.label = new.label "
            "AND NOT (k2.norm = new.norm AND k2.label = new.label)))) * 1.0 / SUM(n), 0) FROM new"
        ).fetchone()[0]
    finally:
        conn.close()


def imports_only() -> None:
    """Nothing: the peak RSS of a process that only imports the package (the baseline)."""


def _child(queue: Any, work: Callable[..., Any], args: Tuple[Any, ...]) -> None:
    """Run work in this process and send back its result and this process's peak RSS (MiB)."""
    result = work(*args)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    queue.put((result, peak))


def in_child(work: Callable[..., Any], *args: Any) -> Tuple[Any, float]:
    """Run work(*args) in a new process (spawned: it shares no memory with this one).

    RETURNS (Tuple[Any, float]): Its result and the child's peak RSS in MiB.
    """
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_child, args=(queue, work, args))
    process.start()
    result, peak = queue.get()
    process.join()
    if process.exitcode != 0:
        raise RuntimeError(f"A benchmark process failed (exit code {process.exitcode}).")
    return result, peak


def new_database(work_dir: Path, name: str) -> str:
    """A path for a new SQLite knowledge base (files of an earlier run removed)."""
    db = work_dir / name
    remove_database(db)
    return str(db)


def remove_database(db: Union[str, Path]) -> None:
    """Remove a SQLite knowledge base's files (the database, its WAL and shared memory), if any."""
    for path in database_files(db):
        path.unlink(missing_ok=True)


def copy_database(source: str, target: str) -> None:
    """Copy a SQLite knowledge base that no connection has open, file by file."""
    remove_database(target)
    for src, dst in zip(database_files(Path(source)), database_files(Path(target))):
        if src.exists():
            shutil.copyfile(src, dst)


def load_average() -> str:
    """The machine's load and CPU count (os.getloadavg)."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} on {os.cpu_count()} CPUs"


def main(
    mentions: int = typer.Option(1_000_000, help="Mentions resolved from scratch (and a quarter of that, to compare)."),
    base_docs: Optional[List[int]] = typer.Option(
        None, help="Documents in a base to add to; repeat for more bases (default: 10,000 and 100,000)."
    ),
    new_docs: Optional[List[int]] = typer.Option(
        None, help="Documents added to each base; repeat for more counts, each added to a copy of the base (default: 1,000)."
    ),
    work_dir: Path = typer.Option(Path("/work/scratch/kb/scale"), help="Scratch directory for the databases."),
) -> None:
    bases = sorted(set(base_docs or [10_000, 100_000]))
    counts = sorted(set(new_docs or [1_000]))
    if mentions < 8 or bases[0] < 10 or counts[0] < 1:
        raise typer.BadParameter("Give at least 8 --mentions, 10 --base-docs and 1 --new-docs.")
    work_dir.mkdir(parents=True, exist_ok=True)
    print(f"start: {load_average()}")
    _, baseline = in_child(imports_only)
    print(f"baseline (a process that imports the package): peak RSS {baseline:.0f} MiB")

    print("\n1. A pass from scratch (kb resolve --from-scratch) over mentions stored without resolving:")
    print(f"{'mentions':>9} {'docs':>7} {'store s':>8} {'resolve s':>9} {'mentions/s':>10} {'peak MiB':>8} "
          f"{'components':>10} {'entities':>8} {'largest names':>13} {'largest mentions':>16}")
    for target in (max(8, mentions // 4), mentions):
        docs = max(1, round(target / MENTIONS_PER_DOC))
        db = new_database(work_dir, f"scratch_{target}.sqlite")
        stored, _ = in_child(store_docs, db, people_for(docs), 0, docs)
        resolved, peak = in_child(resolve_pass, db, True)
        largest, _ = in_child(largest_component, db)
        print(f"{stored['mentions']:>9,} {stored['docs']:>7,} {stored['seconds']:>8.1f} {resolved['seconds']:>9.1f} "
              f"{stored['mentions'] / resolved['seconds']:>10,.0f} {peak:>8.0f} {resolved['components']:>10,} "
              f"{resolved['total_entities']:>8,} {largest['names']:>13,} {largest['mentions']:>16,}")

    print("\n2. Adding documents (store, then an incremental pass) to a resolved base:")
    # Each base from a population that grows with it, then from the smallest base's population
    # (the smallest base itself is built once).
    populations = list(dict.fromkeys(
        (size, people) for size in bases for people in (people_for(size), people_for(bases[0]))
    ))
    header = (f"{'people':>7} {'base docs':>9} {'new docs':>8} {'store s':>7} {'resolve s':>9} {'total s':>7} {'peak MiB':>8} "
              f"{'new mentions':>12} {'namesakes':>9} {'placed':>7} {'components':>10} {'resolved mentions':>17} {'x smallest':>10}")
    smallest: Dict[int, float] = {}  # new docs -> the smallest base's total
    for size, people in populations:
        base = new_database(work_dir, f"base_{size}_{people}.sqlite")
        stored, _ = in_child(store_docs, base, people, 0, size)
        resolved, _ = in_child(resolve_pass, base, True)
        print(f"\nbase: {size:,} documents of {people:,} people, {stored['mentions']:,} mentions, stored and resolved "
              f"in {stored['seconds'] + resolved['seconds']:.1f} s\n{header}")
        for count in counts:
            db = str(work_dir / "add.sqlite")
            copy_database(base, db)  # removes an earlier run's files first
            # The new documents are stored as `kb build` stores them (their rows given here, not made
            # by a pipeline), then resolved incrementally, as it does at its end: in two processes,
            # so that the peak RSS is the pass's, not that of the generator's population.
            added, _ = in_child(store_docs, db, people, size, count)
            near, _ = in_child(namesakes, db)
            incremental, peak = in_child(resolve_pass, db, False)
            total = added["seconds"] + incremental["seconds"]
            smallest.setdefault(count, total)
            print(f"{people:>7,} {size:>9,} {count:>8,} {added['seconds']:>7.2f} {incremental['seconds']:>9.2f} {total:>7.2f} "
                  f"{peak:>8.0f} {added['mentions']:>12,} {near:>9.1f} {incremental['placed']:>7,} "
                  f"{incremental['components']:>10,} {incremental['mentions']:>17,} {total / smallest[count]:>10.2f}")
            remove_database(db)
        remove_database(base)
    print(
        "\nstore s: writing the documents (Store.write_batch, a transaction per 500, generating the rows included).\n"
        "resolve s: the resolution pass (kb.manage.resolve_database). peak MiB: peak RSS of the process that ran\n"
        "the pass (a process of its own in 1. and 2.); compare it with the baseline.\n"
        "components, entities: the pass's components, and the knowledge base's entities after it.\n"
        "largest names/mentions: the largest component (names linked by shared blocking keys), which a pass\n"
        "holds in memory at once. namesakes: the mean, over the new mentions, of the other names that share a\n"
        "blocking key with the mention's name. resolved mentions: the mentions of the components the incremental\n"
        "pass resolved again (those that gained a name). placed: new mentions of known names the pass placed\n"
        "without resolving their component again. x smallest: the total time (store and resolve) over the\n"
        "smallest base's with as many new documents."
    )
    print(f"end: {load_average()}")


if __name__ == "__main__":
    typer.run(main)

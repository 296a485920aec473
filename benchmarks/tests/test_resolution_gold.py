"""The entity resolution benchmark (benchmarks/resolution), tested beside it: the scorer's maths on hand-made
partitions, the gold set's checks on a small made-up corpus, the export loader and the .spacy
writer, and the real gold set where the shared data is present. (Figures are measured by running
the benchmark, never asserted here.)"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.resolution.gold import GOLD_PATH, GoldMention, load_gold, read_decisions
from benchmarks.resolution.make_spacy import make_spacy
from benchmarks.resolution.score import bcubed, exact, pairwise, rapidfuzz_baseline, read_mentions_export
from benchmarks.resolution.splink_baseline import name_parts

from tests.data import data_dir as shared_data_dir
from tests.util import unavailable

REPO = Path(__file__).parent.parent.parent

# A made-up corpus in CoNLL04's SpERT JSON (never the real data): orig_id 1-3 train, 4 dev.
SENTENCES = {
    "train": [
        {"orig_id": 1, "tokens": ["John", "Smith", "visited", "Paris", "."],
         "entities": [{"type": "Peop", "start": 0, "end": 2}, {"type": "Loc", "start": 3, "end": 4}],
         "relations": [{"type": "Live_In", "head": 0, "tail": 1}]},
        {"orig_id": 2, "tokens": ["Smith", "left", "PARIS", "on", "Monday", "."],
         "entities": [{"type": "Peop", "start": 0, "end": 1}, {"type": "Loc", "start": 2, "end": 3},
                      {"type": "Other", "start": 4, "end": 5}],
         "relations": []},
        {"orig_id": 3, "tokens": ["Paris", "Hilton", "works", "for", "Acme", "Corp."],
         "entities": [{"type": "Peop", "start": 0, "end": 2}, {"type": "Org", "start": 4, "end": 6}],
         "relations": [{"type": "Work_For", "head": 0, "tail": 1}]},
    ],
    "dev": [
        {"orig_id": 4, "tokens": ["Acme", "hired", "Smith", "."],
         "entities": [{"type": "Org", "start": 0, "end": 1}, {"type": "Peop", "start": 2, "end": 3}],
         "relations": []},
    ],
    "test": [
        {"orig_id": 5, "tokens": ["Jane", "Doe", "."], "entities": [{"type": "Peop", "start": 0, "end": 2}],
         "relations": []},
    ],
}


@pytest.fixture
def data_dir():
    """The shared benchmark data, as tests/conftest.py's fixture of the same name gives it."""
    return shared_data_dir()


@pytest.fixture
def corpus(tmp_path):
    """A data directory holding the made-up corpus as conll04/conll04_{train,dev,test}.json."""
    folder = tmp_path / "data" / "conll04"
    folder.mkdir(parents=True)
    for split, records in SENTENCES.items():
        (folder / f"conll04_{split}.json").write_text(json.dumps(records), encoding="utf8")
    return tmp_path / "data"


def write_gold(path, *clusters):
    path.write_text("".join(json.dumps(cluster) + "\n" for cluster in clusters), encoding="utf8")
    return path


def mention(id_, text, label):
    return GoldMention(id_, int(id_.split(":")[0]), int(id_.split(":")[1]), "train", text, label, text, 0, len(text), id_)


# ------------------------------------------------------------------ the scorer's maths

GOLD = {"a": "1", "b": "1", "c": "1", "d": "2", "e": "2"}
PRED = {"a": "x", "b": "x", "c": "y", "d": "y", "e": "z"}


def test_pairwise_counts_pairs():
    # gold pairs ab ac bc de; predicted pairs ab cd; one is right.
    score = pairwise(PRED, GOLD)
    assert score.precision == pytest.approx(1 / 2)
    assert score.recall == pytest.approx(1 / 4)
    assert score.f1 == pytest.approx(1 / 3)


def test_bcubed_averages_over_mentions():
    # per mention (P, R): a (1, 2/3), b (1, 2/3), c (1/2, 1/3), d (1/2, 1/2), e (1, 1/2)
    score = bcubed(PRED, GOLD)
    assert score.precision == pytest.approx(4 / 5)
    assert score.recall == pytest.approx(8 / 15)
    assert score.f1 == pytest.approx(2 * (4 / 5) * (8 / 15) / (4 / 5 + 8 / 15))


def test_scores_of_the_extremes():
    singletons = {m: m for m in GOLD}
    one = {m: "all" for m in GOLD}
    assert pairwise(GOLD, GOLD).f1 == bcubed(GOLD, GOLD).f1 == 1.0
    assert (pairwise(singletons, GOLD).precision, pairwise(singletons, GOLD).recall) == (1.0, 0.0)
    assert pairwise(one, GOLD).precision == pytest.approx(4 / 10)
    assert pairwise(one, GOLD).recall == 1.0
    assert bcubed(singletons, GOLD).precision == 1.0
    assert bcubed(singletons, GOLD).recall == pytest.approx((1 / 3 * 3 + 1 / 2 * 2) / 5)
    assert bcubed(one, GOLD).precision == pytest.approx((3 / 5 * 3 + 2 / 5 * 2) / 5)


def test_a_mention_left_out_is_its_own_entity_and_extra_ones_are_ignored():
    pred = {"a": "x", "b": "x", "c": "x", "d": "y", "zz": "y"}  # e missing, zz not in gold
    assert pairwise(pred, GOLD).precision == 1.0
    assert pairwise(pred, GOLD).recall == pytest.approx(3 / 4)
    assert bcubed(pred, GOLD).recall == pytest.approx((1 + 1 + 1 + 1 / 2 + 1 / 2) / 5)


def test_entity_ids_only_matter_by_which_mentions_share_them():
    renamed = {m: {"x": "1", "y": "2", "z": "3"}[e] for m, e in PRED.items()}
    assert pairwise(renamed, GOLD) == pairwise(PRED, GOLD)
    assert bcubed(renamed, GOLD) == bcubed(PRED, GOLD)


def test_exact_merges_normalised_text_within_a_label():
    mentions = [mention("1:0", "Paris", "Loc"), mention("2:0", "PARIS", "Loc"), mention("3:0", "Paris", "Peop")]
    partition = exact(mentions)
    assert partition["1:0"] == partition["2:0"] != partition["3:0"]


def test_rapidfuzz_links_within_a_label_and_chains():
    try:
        import rapidfuzz  # noqa: F401
    except ImportError:
        unavailable('rapidfuzz is not installed: pip install "spacy-window-ner[test]"')
    mentions = [
        mention("1:0", "Lee Harvey Oswald", "Peop"), mention("2:0", "Lee Harvey Oswald .", "Peop"),
        mention("3:0", "Kennedy", "Peop"), mention("4:0", "John Kennedy", "Peop"),
        mention("5:0", "Robert Kennedy", "Peop"), mention("6:0", "Lee Harvey Oswald", "Loc"),
    ]
    partition = rapidfuzz_baseline(mentions, scorer="token_set_ratio")
    assert partition["1:0"] == partition["2:0"] != partition["6:0"]
    # token_set_ratio scores a subset 100: "Kennedy" links both Kennedys, and they chain.
    assert partition["3:0"] == partition["4:0"] == partition["5:0"] != partition["1:0"]
    strict = rapidfuzz_baseline(mentions, scorer="wratio", cutoff=100)
    assert strict["4:0"] != strict["5:0"]
    with pytest.raises(ValueError, match="token_set_ratio"):
        rapidfuzz_baseline(mentions, scorer="levenshtein")


# ------------------------------------------------------------------ the gold set's checks


@pytest.mark.parametrize(
    "text,parts",
    [
        ("Lee Harvey Oswald", {"name": "lee harvey oswald", "first": "lee", "last": "oswald", "acronym": "lho"}),
        ("U.N.", {"name": "u.n.", "first": "u", "last": "n", "acronym": "un"}),
        ("AP", {"name": "ap", "first": "ap", "last": "ap", "acronym": "ap"}),
        ("Associated Press", {"name": "associated press", "first": "associated", "last": "press", "acronym": "ap"}),
    ],
)
def test_splink_compares_names_by_their_parts(text, parts):
    assert name_parts(text) == parts


def test_load_gold_rebuilds_the_partition(corpus, tmp_path):
    path = write_gold(tmp_path / "gold.jsonl", {"label": "Peop", "mentions": ["1:0", "2:0", "4:1"]},
                      {"mentions": ["1:1", "2:1"]})
    gold = load_gold(corpus, path)
    assert sorted(gold.mentions) == ["1:0", "1:1", "2:0", "2:1", "3:0", "3:1", "4:0", "4:1"]  # no Other
    assert gold.mentions["2:1"].text == "PARIS"
    assert (gold.mentions["1:1"].start_char, gold.mentions["1:1"].end_char) == (19, 24)
    assert gold.mentions["1:1"].sentence[19:24] == "Paris"
    partition = gold.partition()
    assert partition["1:0"] == partition["2:0"] == partition["4:1"] != partition["1:1"]
    assert partition["3:0"] == "3:0"  # not in a cluster: its own entity
    assert sorted(gold.partition("dev")) == ["4:0", "4:1"]
    with pytest.raises(ValueError, match="Unknown split"):
        gold.partition("test")


@pytest.mark.parametrize(
    "cluster,message",
    [
        ({"mentions": ["1:0", "9:0"]}, r"gold.jsonl:1: mention 9:0: no sentence with orig_id 9"),
        ({"mentions": ["1:0", "1:5"]}, r"gold.jsonl:1: mention 1:5: sentence 1 has 2 entities"),
        ({"mentions": ["1:0", "2:2"]}, r"gold.jsonl:1: mention 2:2 is labelled Other"),
        ({"mentions": ["1:0", "1:1"]}, r"gold.jsonl:1: a cluster has one label; its mentions are Loc, Peop"),
        ({"label": "Org", "mentions": ["1:0", "2:0"]}, r"gold.jsonl:1: a cluster has one label"),
        ({"mentions": ["1:0", "1-1"]}, r"gold.jsonl:1: '1-1' is not a mention id"),
        ({"mentions": ["1:0"]}, r"gold.jsonl:1: \"mentions\" must be a list of two or more"),
        ({"label": "Person", "mentions": ["1:0", "2:0"]}, r"gold.jsonl:1: label 'Person' is not one of"),
    ],
)
def test_load_gold_says_which_decision_is_wrong(corpus, tmp_path, cluster, message):
    path = write_gold(tmp_path / "gold.jsonl", cluster)
    with pytest.raises(ValueError, match=message):
        load_gold(corpus, path)


def test_a_mention_in_two_clusters_or_a_bad_line_is_refused(tmp_path):
    path = write_gold(tmp_path / "gold.jsonl", {"mentions": ["1:0", "2:0"]}, {"mentions": ["3:0", "2:0"]})
    with pytest.raises(ValueError, match=r"gold.jsonl:2: mention 2:0 is already in the cluster of line 1"):
        read_decisions(path)
    path.write_text('{"mentions": ["1:0", "2:0"]}\n{"mentions": [\n', encoding="utf8")
    with pytest.raises(ValueError, match=r"gold.jsonl:2: not valid JSON"):
        read_decisions(path)


def test_missing_data_says_where_to_point(tmp_path):
    with pytest.raises(FileNotFoundError, match="SPACY_WINDOW_NER_DATA"):
        load_gold(tmp_path / "nowhere")


# ------------------------------------------------------------------ an export, the .spacy files


def test_read_mentions_export_maps_lines_to_gold_mentions(corpus, tmp_path):
    gold = load_gold(corpus, write_gold(tmp_path / "gold.jsonl", {"mentions": ["1:0", "2:0"]}))
    rows = [
        {"document": "id:1", "start_char": 0, "end_char": 10, "text": "John Smith", "label": "Peop", "entity_id": 7},
        {"document": "2", "start_char": 0, "end_char": 5, "text": "Smith", "label": "Peop", "entity_id": 7},
        {"document": "id:2", "start_char": 11, "end_char": 16, "text": "PARIS", "label": "Loc", "entity_id": None},
        {"document": "id:2", "start_char": 20, "end_char": 26, "text": "Monday", "label": "Other", "entity_id": 8},
        {"document": "id:3", "start_char": 0, "end_char": 5, "text": "Paris", "label": "Loc", "entity_id": 9},
    ]
    export = tmp_path / "mentions.jsonl"
    export.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf8")
    partition, counts = read_mentions_export(export, gold)
    assert partition == {"1:0": "e7", "2:0": "e7", "2:1": "m3"}
    assert (counts["matched"], counts["unmatched"]) == (3, 2)
    # The same mentions by exact string: "John Smith" and "Smith" part, whatever their entity.
    exact_partition, _ = read_mentions_export(export, gold, by="exact")
    assert exact_partition == {"1:0": "Peop\tjohn smith", "2:0": "Peop\tsmith", "2:1": "Loc\tparis"}
    export.write_text(json.dumps({**rows[0], "document": "train.spacy:0"}) + "\n", encoding="utf8")
    with pytest.raises(ValueError, match=r"mentions.jsonl:1: document 'train.spacy:0' carries no CoNLL04 orig_id"):
        read_mentions_export(export, gold)
    export.write_text('{"document": "id:1"}\n', encoding="utf8")
    with pytest.raises(ValueError, match=r"mentions.jsonl:1: not a `kb export --format mentions` line"):
        read_mentions_export(export, gold)


def test_make_spacy_writes_docs_whose_id_is_the_orig_id(corpus, tmp_path):
    import spacy
    from spacy.tokens import DocBin

    from spacy_window_ner.relations import get_relations

    written = make_spacy(tmp_path / "out", corpus)
    assert written == {"train": 3, "dev": 1, "test": 1}
    vocab = spacy.blank("en").vocab
    docs = list(DocBin().from_disk(tmp_path / "out" / "train.spacy").get_docs(vocab))
    assert [doc.user_data["id"] for doc in docs] == ["1", "2", "3"]
    assert docs[0].text == "John Smith visited Paris ."
    assert [(ent.text, ent.label_, ent.start_char) for ent in docs[0].ents] == [("John Smith", "Peop", 0), ("Paris", "Loc", 19)]
    assert [rel.label for rel in get_relations(docs[0])] == ["Live_In"]
    with pytest.raises(ValueError, match="inside the repository"):
        make_spacy(REPO / "benchmarks" / "conll04_copy", corpus)
    assert not (REPO / "benchmarks" / "conll04_copy").exists()


def test_resolve_records_give_neighbours_and_relations(corpus, tmp_path):
    pytest.importorskip("spacy_window_ner.kb.resolve")
    from benchmarks.resolution.score import resolve_records

    gold = load_gold(corpus, write_gold(tmp_path / "gold.jsonl", {"mentions": ["1:0", "2:0"]}))
    records, ids = resolve_records(gold.sentences.values())
    by_id = {ids[record.id]: record for record in records}
    assert len(records) == 9  # every entity of the sentences, Other too
    first = by_id["1:0"]
    assert (first.document, first.text, first.label, first.start, first.end) == (1, "John Smith", "Peop", 0, 10)
    assert first.neighbours == ("paris",) and first.relations == (("Live_In", "paris"),)
    assert by_id["1:1"].relations == (("Live_In", "john smith"),)
    assert by_id["2:0"].neighbours == ("paris", "monday")


# ------------------------------------------------------------------ the real gold set, the commands


def test_the_gold_set_loads_from_the_shared_data(data_dir):
    sources = [data_dir / "conll04" / f"conll04_{split}.json" for split in ("train", "dev")]
    for path in sources:
        if not path.is_file():
            pytest.skip(f"{path} not found: set SPACY_WINDOW_NER_DATA to the shared data directory")
    gold = load_gold(data_dir)
    expected = {
        f"{record['orig_id']}:{i}"
        for path in sources
        for record in json.loads(path.read_text(encoding="utf8"))
        for i, ent in enumerate(record["entities"])
        if ent["type"] in ("Peop", "Org", "Loc")
    }
    assert set(gold.mentions) == expected
    clusters = read_decisions(GOLD_PATH)
    assert sum(len(cluster["mentions"]) for cluster in clusters) == sum(
        1 for m in gold.mentions.values() if m.cluster != m.id
    )
    assert all("text" not in cluster and "sentence" not in cluster for cluster in clusters)
    assert len(set(gold.partition("train").values()) & set(gold.partition("dev").values())) > 0  # cross-split entities


@pytest.mark.parametrize(
    "module",
    ["benchmarks.resolution.score", "benchmarks.resolution.gold", "benchmarks.resolution.make_spacy", "benchmarks.resolution.end_to_end"],
)
def test_the_commands_explain_themselves(module):
    result = subprocess.run([sys.executable, "-m", module, "--help"], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "Usage" in result.stdout


def test_score_prints_a_row_per_method_or_says_why_not(corpus, tmp_path, monkeypatch):
    monkeypatch.setenv("SPACY_WINDOW_NER_DATA", str(corpus))
    args = [sys.executable, "-m", "benchmarks.resolution.score", "--split", "train", "--method", "exact", "--method", "resolve"]
    result = subprocess.run(args, cwd=REPO, capture_output=True, text=True)
    # The made-up corpus lacks the real gold's sentences: a clear error, no traceback.
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "no sentence with orig_id" in result.stderr


def test_score_on_the_real_gold(data_dir):
    if not (data_dir / "conll04" / "conll04_train.json").is_file():
        pytest.skip(f"CoNLL04 is not in {data_dir / 'conll04'}: set SPACY_WINDOW_NER_DATA to the shared data directory")
    args = [sys.executable, "-m", "benchmarks.resolution.score", "--split", "dev"]
    result = subprocess.run(args, cwd=REPO, capture_output=True, text=True, env={**os.environ, "SPACY_WINDOW_NER_DATA": str(data_dir)})
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line for line in result.stdout.splitlines()[2:]}
    assert set(rows) == {"exact", "rapidfuzz", "splink", "resolve"}
    for name in ("exact", "rapidfuzz", "splink", "resolve"):
        if name == "resolve" and "skipped: " in rows[name]:
            assert "spacy_window_ner.kb.resolve" in rows[name]  # not merged here yet: says why
            continue
        if name == "splink" and "skipped: " in rows[name]:
            assert 'pip install "splink' in rows[name]  # a benchmarks extra, not installed by [test]
            continue
        entities, *scores = rows[name].split()[-7:]
        assert 0 < int(entities) <= 775 and len(scores) == 6
        assert all(0 <= float(score) <= 100 for score in scores)


@pytest.mark.slow
def test_end_to_end_scores_the_knowledge_base_export(data_dir, tmp_path):
    if not (data_dir / "conll04" / "conll04_train.json").is_file():
        pytest.skip(f"CoNLL04 is not in {data_dir / 'conll04'}: set SPACY_WINDOW_NER_DATA to the shared data directory")
    args = [sys.executable, "-m", "benchmarks.resolution.end_to_end", "--work-dir", str(tmp_path)]
    result = subprocess.run(args, cwd=REPO, capture_output=True, text=True, env={**os.environ, "SPACY_WINDOW_NER_DATA": str(data_dir)})
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines() if line.startswith(("kb (resolved)", "kb mentions"))]
    assert len(rows) == 6  # resolved and exact string, on all, train and dev
    for row in rows:
        assert all(0 <= float(score) <= 100 for score in row[-6:])
    # Every gold mention went through kb build --annotated and came back in the export.
    assert len((tmp_path / "gold_mentions.jsonl").read_text(encoding="utf8").splitlines()) == 4270  # train + dev, 4 labels

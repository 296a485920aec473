"""The entity resolution scale benchmark (benchmarks/resolution/scale.py) starts, explains
itself and runs at a tiny size, printing its two tables; its figures are measured by running it
at the issue's sizes, never asserted here. Its synthetic documents are checked: each mention's
offsets and sentence fit the text."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.resolution.scale import SyntheticCorpus

REPO = Path(__file__).parent.parent.parent


def run(*args):
    return subprocess.run([sys.executable, "-m", "benchmarks.resolution.scale", *args], cwd=REPO, capture_output=True, text=True)


def test_benchmarks_resolution_scale_help():
    result = run("--help")
    assert result.returncode == 0, result.stderr
    assert "Usage" in result.stdout and "--mentions" in result.stdout and "--base-docs" in result.stdout


def test_benchmarks_resolution_scale_docs():
    corpus = SyntheticCorpus(300)
    labels = set()
    for index in range(50):
        record, rows = corpus.doc(index)
        assert record.line == index and rows["n_chars"] == len(record.text)
        assert rows["mentions"]
        for mention in rows["mentions"].values():
            assert record.text[mention["start_char"] : mention["end_char"]] == mention["text"]
            assert record.text[mention["sent_start_char"] : mention["sent_end_char"]] == mention["sentence"]
            labels.add(mention["label"])
    assert labels == {"PER", "ORG", "LOC"}
    assert corpus.doc(7)[0].text == SyntheticCorpus(300).doc(7)[0].text  # a document depends on its index alone


@pytest.mark.slow  # about 25 s: each phase is a process of its own
def test_benchmarks_resolution_scale_runs(tmp_path):
    result = run(
        "--mentions", "400", "--base-docs", "600", "--base-docs", "10", "--new-docs", "20", "--new-docs", "5",
        "--work-dir", str(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("start: load average") and lines[-1].startswith("end: load average")
    assert re.fullmatch(r"baseline \(a process that imports the package\): peak RSS \d+ MiB", lines[1])
    number = r"[\d,.]+"

    def rows(n):  # the table rows of n numbers, as numbers
        found = [line.split() for line in lines if re.fullmatch(rf" *{number}( +{number}){{{n - 1}}}", line)]
        return [[float(value.replace(",", "")) for value in row] for row in found]

    # 1. ten numbers a row (100 and 400 mentions); 2. thirteen: each base from a population that
    # grows with it (one person per two documents, at least 200), then from the smallest base's;
    # the smallest base once; each count of new documents added to it.
    scratch, added = rows(10), rows(13)
    assert len(scratch) == 2 and [row[1] for row in scratch] == [10, 40]  # documents: mentions / 10
    assert [tuple(row[:3]) for row in added] == [
        (200, 10, 5), (200, 10, 20), (300, 600, 5), (300, 600, 20), (200, 600, 5), (200, 600, 20)
    ]
    bases = [line for line in lines if line.startswith("base: ")]
    assert [re.match(r"base: ([\d,]+) documents of ([\d,]+) people", line).groups() for line in bases] == [
        ("10", "200"), ("600", "300"), ("600", "200")
    ]
    for mentions, _, _, _, _, _, components, entities, largest_names, largest_mentions in scratch:
        assert 0 < components <= entities and 0 < largest_names <= largest_mentions <= mentions
    for _, _, _, store, resolve, total, _, new_mentions, near, placed, components, resolved, _ in added:
        # A new mention is placed, or resolved again with its component.
        assert 0 < new_mentions and 0 <= placed <= new_mentions and new_mentions - placed <= resolved
        assert (components > 0) == (resolved > 0) and near >= 0
        assert abs(store + resolve - total) <= 0.011  # printed to two decimals
    assert [row[-1] for row in added[:2]] == [1.0, 1.0]  # the smallest base's time over its own
    # More people sharing the surnames of a base of the same size: more namesakes.
    assert added[3][8] > added[5][8]
    bad = run("--base-docs", "5", "--work-dir", str(tmp_path))
    assert bad.returncode != 0 and "at least" in bad.stderr

"""The one "count problems, keep the first N, say 'and N more'" collector."""
from spacy_window_ner.problems import Problems


def test_problems_keeps_first_and_counts_all():
    problems = Problems(2)
    assert (problems.count, problems.first, problems.summary()) == (0, [], "")
    for n in range(5):
        problems.add(f"line {n}: bad")
    assert problems.count == 5 and problems.first == ["line 0: bad", "line 1: bad"]
    assert problems.summary() == "line 0: bad; line 1: bad; and 3 more"
    assert problems.summary(str.upper) == "LINE 0: BAD; LINE 1: BAD; and 3 more"


def test_problems_no_more_when_all_kept():
    problems = Problems(3)
    problems.add("a")
    problems.add("b")
    assert problems.summary() == "a; b"

import numpy

from spacy_window_ner.layers.batching import length_groups
from spacy_window_ner.layers.crf import allowed_transitions
from spacy_window_ner.tags import biluo_tags, entity_starts


def test_tags_biluo_names():
    assert biluo_tags(["LOC", "PER"]) == [
        "O", "B-LOC", "I-LOC", "L-LOC", "U-LOC", "B-PER", "I-PER", "L-PER", "U-PER"
    ]


def test_tags_entity_starts():
    tags = biluo_tags(["LOC", "B-X"])
    assert [tag for tag, start in zip(tags, entity_starts(["LOC", "B-X"])) if start] == [
        "B-LOC", "U-LOC", "B-B-X", "U-B-X"
    ]
    assert entity_starts([]).tolist() == [False]


def test_tags_allowed_transitions():
    tags = biluo_tags(["LOC", "PER"])
    allowed, can_start, can_end = allowed_transitions(2)
    ok = {(a, b) for a in range(len(tags)) for b in range(len(tags)) if allowed[a, b]}
    name = {(tags[a], tags[b]) for a, b in ok}
    assert ("B-LOC", "I-LOC") in name and ("I-LOC", "L-LOC") in name
    assert ("B-LOC", "L-PER") not in name and ("O", "I-LOC") not in name
    assert ("U-LOC", "B-PER") in name and ("L-PER", "O") in name
    assert ("B-LOC", "O") not in name
    assert [tags[i] for i in numpy.flatnonzero(can_start)] == ["O", "B-LOC", "U-LOC", "B-PER", "U-PER"]
    assert [tags[i] for i in numpy.flatnonzero(can_end)] == ["O", "L-LOC", "U-LOC", "L-PER", "U-PER"]


def test_tags_length_groups_bound_padding():
    lengths = [50000] + [30] * 300
    groups = list(length_groups(lengths))
    assert sorted(i for g in groups for i in g) == list(range(len(lengths)))
    for group in groups:
        cells = max(lengths[i] for i in group) * len(group)
        assert cells <= max(4096, 2 * sum(lengths[i] for i in group))

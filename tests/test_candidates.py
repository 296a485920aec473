"""The candidate generator of window_rel and capped_pairs, against their definition."""
import tracemalloc

import numpy
import pytest
from hypothesis import given, settings, strategies as st

from spacy_window_ner.candidates import capped_pairs


def test_candidates_pairs_sentences_and_distance():
    starts = numpy.asarray([0, 2, 10, 30], dtype="int32")
    ends = starts + 1
    # No sentences: gaps 1, 9, 29 from span 0; max_distance 10 drops pairs with span 3.
    pairs, _ = capped_pairs(starts, ends, None, max_distance=10, max_candidates=100)
    assert pairs.tolist() == [[0, 1], [0, 2], [1, 0], [1, 2], [2, 0], [2, 1]]
    # Sentences: tokens 0-9 and 10-39.
    sent_ids = numpy.asarray([1] * 10 + [2] * 30)
    pairs, _ = capped_pairs(starts, ends, sent_ids, max_distance=0, max_candidates=100)
    assert pairs.tolist() == [[0, 1], [1, 0], [2, 3], [3, 2]]
    pairs, _ = capped_pairs(starts, ends, None, max_distance=100, max_candidates=2)
    assert pairs.tolist() == [[0, 1], [1, 0]]


def brute_force_candidate_pairs(starts, ends, sent_ids, *, max_distance, max_candidates, block_tokens=None):
    """The definition of capped_pairs, over all n * n ordered pairs: per block (the doc;
    or the sentence, else the block_tokens tokens of the earlier start), the nearest
    max_candidates pairs."""
    n = len(starts)
    by_block = {}
    for a in range(n):
        for b in range(n):
            gap = max(max(starts[a], starts[b]) - min(ends[a], ends[b]), 0)
            same = sent_ids[starts[a]] == sent_ids[starts[b]] if sent_ids is not None else gap <= max_distance
            if a != b and same:
                if block_tokens is None:
                    block = 0
                elif sent_ids is not None:
                    block = sent_ids[starts[a]]
                else:
                    block = min(starts[a], starts[b]) // block_tokens
                by_block.setdefault(block, []).append((gap, a, b))
    pairs = [pair for block in by_block.values() for pair in sorted(block)[:max_candidates]]
    return [[a, b] for _, a, b in sorted(pairs, key=lambda pair: pair[1:])]


@st.composite
def spans_and_sentences(draw):
    """Spans over a doc of up to 60 tokens, overlapping or nested at times, sorted by start
    (as in doc.ents) or not, with a sentence id per token or None."""
    n_tokens = draw(st.integers(1, 60))
    spans = draw(st.lists(
        st.tuples(st.integers(0, n_tokens - 1), st.integers(1, 6)), max_size=25,
    ))
    if draw(st.booleans()):
        spans.sort()
    starts = numpy.asarray([start for start, _ in spans], dtype="int32")
    ends = numpy.asarray([min(start + length, n_tokens) for start, length in spans], dtype="int32")
    sent_ids = None
    if draw(st.booleans()):
        sent_starts = draw(st.lists(st.booleans(), min_size=n_tokens, max_size=n_tokens))
        sent_ids = numpy.cumsum(numpy.asarray(sent_starts))
    return starts, ends, sent_ids


@settings(max_examples=500, deadline=None)
@given(spans_and_sentences(), st.integers(-1, 40), st.integers(0, 80))
def test_candidates_pairs_equal_the_definition(spans, max_distance, max_candidates):
    """Same pairs in the same order, the same truncation to the nearest pairs (ties kept in
    order of a, then b), with sentences or without, overlapping spans or not."""
    starts, ends, sent_ids = spans
    pairs, _ = capped_pairs(starts, ends, sent_ids, max_distance=max_distance, max_candidates=max_candidates)
    expected = brute_force_candidate_pairs(
        starts.tolist(), ends.tolist(), sent_ids, max_distance=max_distance, max_candidates=max_candidates
    )
    assert pairs.dtype == numpy.int32 and pairs.shape == (len(expected), 2)
    assert pairs.tolist() == expected


@settings(max_examples=500, deadline=None)
@given(spans_and_sentences(), st.integers(-1, 40), st.integers(0, 30), st.integers(1, 20))
def test_candidates_pairs_per_block_equal_the_definition(spans, max_distance, max_candidates, block_tokens):
    """rel_candidates.v2's cap: the nearest max_candidates pairs of each sentence, or without
    sentences of each block of block_tokens tokens, and the count of the pairs it dropped."""
    starts, ends, sent_ids = spans
    pairs, dropped = capped_pairs(
        starts, ends, sent_ids, max_distance=max_distance, max_candidates=max_candidates, block_tokens=block_tokens
    )
    expected = brute_force_candidate_pairs(
        starts.tolist(), ends.tolist(), sent_ids, max_distance=max_distance, max_candidates=max_candidates,
        block_tokens=block_tokens,
    )
    everything = brute_force_candidate_pairs(
        starts.tolist(), ends.tolist(), sent_ids, max_distance=max_distance, max_candidates=10**9,
    )
    assert pairs.tolist() == expected
    assert dropped == len(everything) - len(expected)


def test_candidates_long_doc_gets_what_its_parts_get():
    """Without sentences, one doc of 100 blocks gets the candidates of 100 docs of one block:
    per block, not per doc (rel_candidates.v1 kept the doc's nearest max_candidates)."""
    part = numpy.arange(0, 1000, 5, dtype="int32")  # 200 entities in 1,000 tokens
    starts = numpy.concatenate([part + 1000 * k for k in range(100)])
    one_part, _ = capped_pairs(part, part + 1, None, max_distance=20, max_candidates=500, block_tokens=1000)
    whole, dropped = capped_pairs(starts, starts + 1, None, max_distance=20, max_candidates=500, block_tokens=1000)
    assert len(one_part) == 500 and len(whole) >= 100 * 500 and dropped > 0
    v1, _ = capped_pairs(starts, starts + 1, None, max_distance=20, max_candidates=500)
    assert len(v1) == 500


@pytest.mark.parametrize("sentences", [False, True])
def test_candidates_pairs_memory_is_linear(sentences):
    """50,000 entities two tokens apart, without sentences or in one long sentence: the
    candidates are found without the 2.5 billion pairs (20 GB) of all of them."""
    n = 50_000
    starts = numpy.arange(0, 2 * n, 2, dtype="int32")
    ends = starts + 1
    sent_ids = numpy.ones(2 * n, dtype="int64") if sentences else None
    tracemalloc.start()
    try:
        pairs, _ = capped_pairs(starts, ends, sent_ids, max_distance=100, max_candidates=2000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # All gaps are 1 or more; the 2000 nearest are neighbours 1 apart, the first in order.
    assert len(pairs) == 2000 and (numpy.abs(pairs[:, 0] - pairs[:, 1]) == 1).all()
    assert pairs[:2].tolist() == [[0, 1], [1, 0]]
    assert peak < 200 * n  # bytes: a few arrays of n int64, nothing of n * n

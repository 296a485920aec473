"""Relation candidates: which ordered pairs of entities `window_rel` scores.

As spaCy's spancat has its registered suggester, window_rel has a registered candidate
generator in its config (`[components.window_rel.candidates]`). The pipe calls it once per
batch; the `Candidates` it makes from the pairs flow from `predict` to `set_annotations`, and
from `update` to `get_loss`, without being built again.
"""
import warnings
from typing import Any, Callable, Dict, FrozenSet, Iterable, List, NamedTuple, Optional, Sequence, Tuple, cast

import numpy
from spacy.tokens import Doc, Span
from spacy.util import registry
from thinc.types import Floats2d, Ints2d

from .layers.pair_features import CandidateColumn

# A candidate generator: (docs, the entities of each doc) -> per doc, (n_pairs, 2) int32
# (head, tail) indices into the doc's entities, in order of head, then tail.
CandidateGenerator = Callable[[Sequence[Doc], Sequence[Sequence[Span]]], List[Ints2d]]


class Candidates(NamedTuple):
    """The candidate pairs of a batch of docs, per doc.

    ents (List[List[Span]]): The entities of each doc that the pairs index.
    pairs (List[Ints2d]): (n_pairs, 2) int32 (head, tail) indices into the doc's entities.
    rows (List[Ints2d]): (n_pairs, len(CandidateColumn)) int32, the pair scorer's input rows.
    """

    ents: List[List[Span]]
    pairs: List[Ints2d]
    rows: List[Ints2d]


class ScoredCandidates(NamedTuple):
    """What window_rel's predict returns: the candidates of a batch and their scores.

    candidates (Candidates): The candidates.
    scores (List[Floats2d]): Per doc, the probabilities (n_pairs, n_labels) of its pairs.
    allowed (Optional[List[Optional[numpy.ndarray]]]): Per doc, the labels typed labels allow
        for each pair ((n_pairs, n_labels) bool; None where all are), as scoring found them,
        so that set_annotations need not find them again; None if not given.
    """

    candidates: Candidates
    scores: List[Floats2d]
    allowed: Optional[List[Optional[numpy.ndarray]]] = None


# doc.user_data[DROPPED_KEY]: how many candidate pairs of the doc a cap dropped (set when any
# was), for `kb build`'s summary.
DROPPED_KEY = "swn_dropped_candidates"


@registry.misc("spacy-window-ner.rel_candidates.v2")
def make_rel_candidates_v2(
    max_distance: int = 100, max_candidates: int = 2000, block_tokens: int = 1000, typed: bool = True
) -> "NearbyPairs":
    """The candidates of window_rel: every ordered pair (head, tail) of distinct entities in
    one sentence when the doc has sentence boundaries, otherwise with at most max_distance
    tokens between them; at most max_candidates per sentence, or, without sentence boundaries,
    per block of block_tokens tokens (where the earlier entity starts): the nearest pairs are
    kept. So a long doc gets the candidates its parts would get. A doc where the cap drops
    pairs is warned about (once) and counted by `kb build`.

    max_distance (int): Without sentence boundaries, the largest token gap between the two
        entities of a candidate.
    max_candidates (int): The most candidates per sentence or block; the nearest are kept.
    block_tokens (int): Without sentence boundaries, the tokens of a block.
    typed (bool): Keep only the pairs whose (head label, tail label) some relation of the
        training data has (an empty label there matches any). window_rel learns these pairs
        in initialize and keeps them in its cfg["licensed_pairs"], so a saved pipeline
        proposes the same candidates. The default since issue 28 (it was False); window_rel's
        typed labels drop the other pairs' relations at prediction anyway, and a model
        trained on typed candidates must keep them.
    RETURNS (NearbyPairs): The candidate generator.
    """
    return NearbyPairs(max_distance=max_distance, max_candidates=max_candidates, block_tokens=block_tokens, typed=typed)


class NearbyPairs:
    """The candidate generator of `spacy-window-ner.rel_candidates.v2` (see there), and of the
    published `.v1` (spacy_window_ner/legacy), whose cap is per doc (block_tokens None). With
    typed=True, `license` sets the (head label, tail label) pairs it keeps."""

    def __init__(
        self, *, max_distance: int, max_candidates: int, block_tokens: Optional[int] = None, typed: bool = False
    ) -> None:
        if not isinstance(max_distance, int) or max_distance < 0:
            raise ValueError(f"max_distance must be an integer >= 0, not {max_distance!r}.")
        if not isinstance(max_candidates, int) or max_candidates < 1:
            raise ValueError(f"max_candidates must be a positive integer, not {max_candidates!r}.")
        if block_tokens is not None and (not isinstance(block_tokens, int) or block_tokens < 1):
            raise ValueError(f"block_tokens must be a positive integer, not {block_tokens!r}.")
        self.max_distance = max_distance
        self.max_candidates = max_candidates
        self.block_tokens = block_tokens
        self.typed = typed
        self.licensed_pairs: Optional[FrozenSet[Tuple[str, str]]] = None

    @property
    def max_candidates_per_doc(self) -> int:
        """rel_candidates.v1's name of max_candidates (its cap is per doc)."""
        return self.max_candidates

    def license(self, label_pairs: Iterable[Tuple[str, str]]) -> None:
        """Set the (head label, tail label) pairs that typed candidates keep.

        label_pairs (Iterable[Tuple[str, str]]): The entity label pairs.
        """
        self.licensed_pairs = frozenset((str(head), str(tail)) for head, tail in label_pairs)

    def __call__(self, docs: Sequence[Doc], ents: Sequence[Sequence[Span]]) -> List[Ints2d]:
        """The candidate pairs of every doc.

        docs (Sequence[Doc]): The docs.
        ents (Sequence[Sequence[Span]]): The entities of each doc.
        RETURNS (List[Ints2d]): Per doc, (n_pairs, 2) int32 (head, tail) entity indices, in
            order of head, then tail.
        """
        return [self.pairs(doc, doc_ents) for doc, doc_ents in zip(docs, ents)]

    def pairs(self, doc: Doc, ents: Sequence[Span]) -> Ints2d:
        """The candidate pairs of one doc. When the cap drops some, the doc records how many
        (doc.user_data[DROPPED_KEY]) and a warning says so, once.

        doc (Doc): The doc.
        ents (Sequence[Span]): Its entities.
        RETURNS (Ints2d): (n_pairs, 2) int32 (head, tail) entity indices.
        """
        sent_ids = None
        if doc.has_annotation("SENT_START"):
            sent_ids = numpy.cumsum(doc.to_array("SENT_START") == 1)
        # capped_pairs gives a numpy int32 array: thinc's Ints2d, as the casts below say.
        pairs, dropped = capped_pairs(
            numpy.asarray([ent.start for ent in ents], dtype="int32"),
            numpy.asarray([ent.end for ent in ents], dtype="int32"),
            sent_ids,
            max_distance=self.max_distance,
            max_candidates=self.max_candidates,
            block_tokens=self.block_tokens,
        )
        if dropped:
            doc.user_data[DROPPED_KEY] = dropped
            per = "doc" if self.block_tokens is None else ("sentence" if sent_ids is not None else f"{self.block_tokens} tokens")
            # The same text for every doc, so that Python's warning filter says it once.
            warnings.warn(
                f"window_rel's candidates keep the {self.max_candidates} nearest entity pairs per {per}: "
                "the farther pairs get no relation (this is said once; each such doc counts its "
                f"dropped pairs in doc.user_data[{DROPPED_KEY!r}], and `kb build` counts the docs). "
                "Raise max_candidates in the candidates block of the component's config to keep more.",
                stacklevel=2,
            )
        if self.typed:
            if self.licensed_pairs is None:
                raise ValueError(
                    "Typed relation candidates need the entity label pairs of the training data: "
                    "initialize window_rel on training examples (nlp.initialize), or call "
                    "license(label_pairs) on the candidate generator."
                )
            if len(pairs):
                licensed = self.licensed_pairs
                keep = label_pair_grid(
                    [ent.label_ for ent in ents], cast(Ints2d, pairs), lambda head, tail: licensed_pair(head, tail, licensed)
                )
                pairs = pairs[keep]
        return cast(Ints2d, pairs)


def licence_keys(head: str, tail: str) -> Tuple[Tuple[str, str], ...]:
    """The licensed (head label, tail label) pairs that would allow a pair of entity labels:
    itself, and those with an empty label (a training relation with an unlabelled entity),
    which matches any. Typed candidates and window_rel's typed labels read them.

    head (str): The head's entity label.
    tail (str): The tail's entity label.
    RETURNS (Tuple[Tuple[str, str], ...]): The pairs.
    """
    return ((head, tail), ("", tail), (head, ""), ("", ""))


class Licence:
    """The relation labels that licensed (relation label, head label, tail label) triples allow
    between two entity labels (window_rel's typed labels): a label is allowed where some triple
    has it with one of the pair's licence_keys. Rows are built on first use and kept.

    triples (Sequence[Sequence[str]]): The licensed triples.
    labels (Sequence[str]): The relation labels, in the order of the rows' columns.
    """

    def __init__(self, triples: Sequence[Sequence[str]], labels: Sequence[str]) -> None:
        self.key = (tuple(tuple(triple) for triple in triples), tuple(labels))
        label_ids = {label: i for i, label in enumerate(labels)}
        self._none = numpy.zeros(len(label_ids), dtype=bool)
        self._allowed: Dict[Tuple[str, str], numpy.ndarray] = {}
        for label, head, tail in triples:
            if label in label_ids:
                self._allowed.setdefault((head, tail), self._none.copy())[label_ids[label]] = True
        self._rows: Dict[Tuple[str, str], numpy.ndarray] = {}

    def row(self, head: str, tail: str) -> numpy.ndarray:
        """The labels allowed from an entity labelled head to one labelled tail.

        head (str): The head's entity label.
        tail (str): The tail's entity label.
        RETURNS (numpy.ndarray): (n_labels,) bool.
        """
        row = self._rows.get((head, tail))
        if row is None:
            keys = licence_keys(head, tail)
            row = numpy.logical_or.reduce([self._allowed.get(key, self._none) for key in keys])
            self._rows[(head, tail)] = row
        return row

    def mask(self, ent_labels: Sequence[str], pairs: Ints2d) -> numpy.ndarray:
        """The labels allowed for each candidate pair of one doc.

        ent_labels (Sequence[str]): The label of each of the doc's entities.
        pairs (Ints2d): (n_pairs, 2) (head, tail) indices into ent_labels.
        RETURNS (numpy.ndarray): (n_pairs, n_labels) bool.
        """
        if not len(pairs):
            return numpy.zeros((0, len(self._none)), dtype=bool)
        return label_pair_grid(ent_labels, pairs, self.row)


def label_pair_grid(ent_labels: Sequence[str], pairs: Ints2d, cell: Callable[[str, str], Any]) -> numpy.ndarray:
    """cell(head label, tail label) for every pair of one doc, computed once per pair of the
    doc's distinct entity labels (a grid of them), not once per pair.

    ent_labels (Sequence[str]): The label of each of the doc's entities.
    pairs (Ints2d): (n_pairs, 2) (head, tail) indices into ent_labels; at least one.
    cell (Callable[[str, str], Any]): A bool, or an array of the same shape for every
        (head label, tail label).
    RETURNS (numpy.ndarray): (n_pairs, *cell's shape).
    """
    heads_tails = numpy.asarray(pairs, dtype="int64").reshape(-1, 2)
    kinds = sorted(set(ent_labels))
    kind_ids = {label: i for i, label in enumerate(kinds)}
    grid = numpy.asarray([[cell(head, tail) for tail in kinds] for head in kinds])
    ids = numpy.asarray([kind_ids[label] for label in ent_labels], dtype="int64")
    return grid[ids[heads_tails[:, 0]], ids[heads_tails[:, 1]]]


def licensed_pair(head: str, tail: str, licensed: FrozenSet[Tuple[str, str]]) -> bool:
    """Whether typed candidates keep a pair of entity labels (see licence_keys).

    head (str): The head's entity label.
    tail (str): The tail's entity label.
    licensed (FrozenSet[Tuple[str, str]]): The licensed (head label, tail label) pairs.
    RETURNS (bool): Whether the pair is kept.
    """
    return any(key in licensed for key in licence_keys(head, tail))


def make_candidates(
    generate: CandidateGenerator,
    docs: Sequence[Doc],
    ents: Sequence[Sequence[Span]],
    label_ids: Dict[str, int],
    unknown_label: int,
) -> Candidates:
    """Call a candidate generator once for a batch and build the pair scorer's rows.

    generate (CandidateGenerator): The candidate generator.
    docs (Sequence[Doc]): The docs.
    ents (Sequence[Sequence[Span]]): The entities of each doc.
    label_ids (Dict[str, int]): The id of every known entity label.
    unknown_label (int): The id of the other entity labels.
    RETURNS (Candidates): The candidates of the batch.
    """
    ent_lists = [list(doc_ents) for doc_ents in ents]
    pairs = [cast(Ints2d, numpy.asarray(p, dtype="int32").reshape((-1, 2))) for p in generate(docs, ent_lists)]
    if len(pairs) != len(docs):
        raise ValueError(
            f"The candidate generator returned pairs for {len(pairs)} docs instead of {len(docs)}: "
            "it must return one (n_pairs, 2) array per doc."
        )
    rows = [candidate_rows(doc_ents, doc_pairs, label_ids, unknown_label) for doc_ents, doc_pairs in zip(ent_lists, pairs)]
    return Candidates(ent_lists, pairs, rows)


def candidate_rows(ents: Sequence[Span], pairs: Ints2d, label_ids: Dict[str, int], unknown_label: int) -> Ints2d:
    """The pair scorer's rows (`CandidateColumn`) of the candidate pairs of one doc.

    ents (Sequence[Span]): The doc's entities.
    pairs (Ints2d): (n_pairs, 2) (head, tail) indices into ents.
    label_ids (Dict[str, int]): The id of every known entity label.
    unknown_label (int): The id of the other entity labels.
    RETURNS (Ints2d): (n_pairs, len(CandidateColumn)) int32.
    """
    rows = numpy.zeros((len(pairs), len(CandidateColumn)), dtype="int32")
    if not len(pairs):
        return cast(Ints2d, rows)  # a numpy int32 array: thinc's Ints2d
    starts = numpy.asarray([ent.start for ent in ents], dtype="int32")
    ends = numpy.asarray([ent.end for ent in ents], dtype="int32")
    labels = numpy.asarray([label_ids.get(ent.label_, unknown_label) for ent in ents], dtype="int32")
    head, tail = pairs[:, 0], pairs[:, 1]
    rows[:, CandidateColumn.HEAD_START] = starts[head]
    rows[:, CandidateColumn.HEAD_END] = ends[head]
    rows[:, CandidateColumn.TAIL_START] = starts[tail]
    rows[:, CandidateColumn.TAIL_END] = ends[tail]
    rows[:, CandidateColumn.HEAD_LABEL] = labels[head]
    rows[:, CandidateColumn.TAIL_LABEL] = labels[tail]
    return cast(Ints2d, rows)


def capped_pairs(
    starts: numpy.ndarray,
    ends: numpy.ndarray,
    sent_ids: Optional[numpy.ndarray],
    *,
    max_distance: int,
    max_candidates: int,
    block_tokens: Optional[int] = None,
) -> Tuple[numpy.ndarray, int]:
    """Ordered pairs (a, b), a != b, of spans in one sentence (when sent_ids is given) or
    with at most max_distance tokens between them (when it is None), at most max_candidates
    of them per block: the pairs with the smallest gap are kept (the first in order of a, then
    b among equal gaps). The gap of two spans is max(0, later start - earlier end).

    A block is the whole doc when block_tokens is None (rel_candidates.v1). Otherwise it is a
    sentence, or, without sentences, the block_tokens tokens the earlier span of a pair starts
    in (rel_candidates.v2): a long doc then gets the candidates its parts would get, however
    long it is.

    Only pairs that can be kept are built: time and memory grow with the number of spans
    times the spans within reach of one, not with its square. Pairs are enumerated in
    (sentence, start) order, where the partners of a span that start at or after it form
    one slice, bounded by a gap g per block: the smallest g with at least max_candidates pairs
    if the block has more, else max_distance (or the sentence).

    starts (numpy.ndarray): The start token of every span.
    ends (numpy.ndarray): The end token (exclusive, >= start) of every span.
    sent_ids (Optional[numpy.ndarray]): The sentence id of every token of the doc, or None.
    max_distance (int): The largest gap without sentences.
    max_candidates (int): The most pairs per block.
    block_tokens (Optional[int]): Without sentences, the tokens of a block; None: one block.
    RETURNS (Tuple[numpy.ndarray, int]): (n_pairs, 2) int32 span indices, sorted by a, then b;
        and how many pairs within reach the cap dropped.
    """
    n = len(starts)
    no_pairs = numpy.zeros((0, 2), dtype="int32")
    if n < 2 or (sent_ids is None and max_distance < 0):
        return no_pairs, 0
    starts = numpy.asarray(starts)
    ends = numpy.asarray(ends)
    # Every span's group (its sentence, or one group), as dense ranks.
    groups = numpy.zeros(n, dtype="int64")
    if sent_ids is not None:
        groups = numpy.unique(numpy.asarray(sent_ids)[starts], return_inverse=True)[1].reshape(-1)
    # In (group, start) order, the partners q > p of span p that lie within gap g are the slice
    # p+1 .. hi_p(g)-1, hi_p(g) the first q with key[q] > key of (group p, end p + g).
    order = numpy.lexsort((starts, groups))
    s = starts[order].astype("int64") - int(starts.min())
    e = ends[order].astype("int64") - int(starts.min())
    g_max = max(int(s.max() - e.min()), 0)  # no gap is larger
    g_limit = g_max if sent_ids is not None else min(max_distance, g_max)
    scale = int(e.max()) + g_max + 1  # > every e + g: a key never reaches the next group
    key = groups[order] * scale + s
    positions = numpy.arange(n)
    # The block of each span, in this order: the pairs (p, q > p) count against p's block.
    if block_tokens is None:
        blocks = numpy.zeros(n, dtype="int64")
    elif sent_ids is not None:
        blocks = groups[order]
    else:
        blocks = starts[order].astype("int64") // block_tokens
    blocks = numpy.unique(blocks, return_inverse=True)[1].reshape(-1)
    n_blocks = int(blocks.max()) + 1

    def counts_at(g: numpy.ndarray) -> numpy.ndarray:
        """Per span p, its partners q > p within the gap of its block."""
        return numpy.searchsorted(key, key - s + e + g[blocks], side="right") - positions - 1

    def pairs_per_block(g: numpy.ndarray) -> numpy.ndarray:
        return 2 * numpy.bincount(blocks, weights=counts_at(g), minlength=n_blocks).astype("int64")

    gaps = numpy.full(n_blocks, g_limit, dtype="int64")
    reachable = pairs_per_block(gaps)
    over = reachable > max_candidates
    if over.any():
        # Bisect, in every block at once, the smallest g with at least max_candidates pairs:
        # the nearest pairs all have a gap <= g, so the truncation below keeps the same ones.
        low, high = numpy.zeros(n_blocks, dtype="int64"), gaps.copy()
        low[~over] = high[~over]
        while (low < high).any():
            mid = (low + high) // 2
            enough = pairs_per_block(mid) >= max_candidates
            high = numpy.where(enough & (low < high), mid, high)
            low = numpy.where(~enough & (low < high), mid + 1, low)
        gaps = low
    counts = counts_at(gaps)
    first = numpy.repeat(positions, counts)
    offsets = numpy.arange(len(first)) - numpy.repeat(numpy.cumsum(counts) - counts, counts)
    p, q = order[first], order[first + 1 + offsets]
    a, b = numpy.concatenate([p, q]), numpy.concatenate([q, p])
    if not len(a):
        return no_pairs, int(reachable.sum())
    by_a_b = numpy.lexsort((b, a))
    a, b = a[by_a_b], b[by_a_b]
    if len(a) > max_candidates:
        # In each block, the nearest max_candidates pairs (ties in order of a, then b).
        gap = numpy.maximum(numpy.maximum(starts[a], starts[b]) - numpy.minimum(ends[a], ends[b]), 0)
        if n_blocks == 1:
            nearest = numpy.argsort(gap, kind="stable")[:max_candidates]
        else:
            pair_blocks = numpy.concatenate([blocks[first], blocks[first]])[by_a_b]
            by_block_gap = numpy.lexsort((gap, pair_blocks))  # stable: (a, b) order among ties
            ranked = pair_blocks[by_block_gap]
            rank = numpy.arange(len(ranked)) - numpy.searchsorted(ranked, ranked)
            nearest = by_block_gap[rank < max_candidates]
        nearest.sort()
        a, b = a[nearest], b[nearest]
    return numpy.stack([a, b], axis=1).astype("int32"), int(reachable.sum() - len(a))

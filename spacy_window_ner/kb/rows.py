"""Processed docs into the rows a store writes, the same way for every engine: `doc_rows` turns
a doc into plain, picklable data (store.DocRows), `write_batch` stores a batch in one
transaction and counts it in the build's `BuildStats`. The local engine (build.py) and the Ray
engine (ray_engine.py) both use this module; neither imports the other for it.
"""
import bisect
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

from spacy.tokens import Doc, Span

from ..candidates import DROPPED_KEY
from ..confidences import get_confidences
from ..inputs import InputStats, Record
from ..relations import get_relations
from .resolution import ResolveStats
from .store import DocRows, SpanKey, Store, WriteCounts

CONTEXT_TOKENS = 15  # context each side of a mention when the pipeline sets no sentences
MAX_SENTENCE_TOKENS = 512  # a longer "sentence" (a text without sentence marks) is stored as that context


@dataclass
class BuildStats(InputStats):
    """What a build read, stored and skipped: the input counts of `InputStats` (files,
    malformed lines), and:

    docs_read (int): Documents read from the inputs.
    docs_existing (int): Documents skipped before the pipeline because the same identity and
        text were stored (or read earlier in this build).
    docs_added (int): Documents stored by this build, replaced versions included.
    docs_replaced (int): Of docs_added, documents that replaced a stored version with another text.
    docs_raced (int): Documents another build stored while this one was processing them.
    mentions (int): Mentions stored.
    relations (int): Relations stored.
    words (int): Tokens in the documents run through the pipeline.
    docs_capped (int): Documents some of whose relation candidates a cap of window_rel dropped
        (the farthest entity pairs of a long sentence, block or doc; see candidates.py).
    skipped_files (List[str]): Input files skipped whole (empty, not decodable), with why.
    seconds (float): Wall time of the build.
    seconds_store (float): Wall time this process spent in the database (identity look-ups and
        batch writes), SQLite or PostgreSQL.
    worker_pids (List[int]): Ray engine: the process ids of the actors that processed batches.
    seconds_workers_cpu (float): Ray engine: CPU seconds the actors spent on the batches
        (pipeline and rows), summed over actors.
    seconds_workers_store (float): Ray engine into PostgreSQL: wall time the actors spent
        writing their batches, summed over actors.
    pipeline_loads (int): Loads of the pipeline by the processes that ran it: 1 for the local
        engine when build_kb loaded it by name (0 for a Language object; nlp.pipe's n_process
        children get a copy); for the Ray engine, one per actor, and one more per actor that Ray
        restarted (the driver's own load, to check the pipeline, is not counted).
    resolution (Optional[ResolveStats]): What the resolution pass at the end of the build did
        (None with resolve=False).
    """

    docs_read: int = 0
    docs_existing: int = 0
    docs_added: int = 0
    docs_replaced: int = 0
    docs_raced: int = 0
    mentions: int = 0
    relations: int = 0
    words: int = 0
    docs_capped: int = 0
    skipped_files: List[str] = field(default_factory=list)
    seconds: float = 0.0
    seconds_store: float = 0.0
    worker_pids: List[int] = field(default_factory=list)
    seconds_workers_cpu: float = 0.0
    seconds_workers_store: float = 0.0
    pipeline_loads: int = 0
    resolution: Optional[ResolveStats] = None


def doc_rows(doc: Doc) -> DocRows:
    """Everything the database needs from a processed doc, as plain, picklable data (so that
    the worker that ran the pipeline can hand it to the one that writes).

    doc (Doc): A doc from the pipeline, with doc.ents (and relations, if it sets them).
    RETURNS (DocRows): The rows (see store.DocRows).
    """
    confidences = get_confidences(doc)
    # Doc.text and Span.text join their tokens' texts in Python, token by token: the doc's text
    # is built once and every span's text sliced from it (the same string: a span runs from
    # its first token's idx to its last token's end).
    text = doc.text
    has_sents = doc.has_annotation("SENT_START") or doc.has_annotation("DEP")
    # The sentences once per doc (Span.sent walks to the sentence start for every mention).
    sents = list(doc.sents) if has_sents else []
    sent_starts = [sent.start for sent in sents]
    spans: Dict[SpanKey, Dict[str, Any]] = {}

    def add(span: Span) -> SpanKey:
        label = span.label_
        key = (span.start, span.end, label)
        if key not in spans:
            context = sents[bisect.bisect_right(sent_starts, span.start) - 1] if sents else None
            if context is not None and context.end < span.end:  # a span across sentences
                context = span.sent
            if context is None or len(context) > MAX_SENTENCE_TOKENS:
                context = doc[max(0, span.start - CONTEXT_TOKENS) : span.end + CONTEXT_TOKENS]
            start_char, end_char = span.start_char, span.end_char
            sent_start_char, sent_end_char = context.start_char, context.end_char
            spans[key] = {
                "start_char": start_char, "end_char": end_char, "text": text[start_char:end_char],
                "label": label, "confidence": confidences.get((start_char, end_char, label)),
                "sentence": text[sent_start_char:sent_end_char], "sent_start_char": sent_start_char,
                "sent_end_char": sent_end_char,
            }
        return key

    for ent in doc.ents:
        add(ent)
    relations = [(add(r.head), add(r.tail), r.label, r.score) for r in get_relations(doc)]
    return {
        "n_chars": len(text), "n_tokens": len(doc), "mentions": spans, "relations": relations,
        "dropped_candidates": doc.user_data.get(DROPPED_KEY, 0),
    }


def write_batch(store: Store, batch: Sequence[Tuple[Record, DocRows]], stats: BuildStats) -> None:
    """Write a batch of documents in one transaction and count what it stored.

    store (Store): The open store.
    batch (Sequence[Tuple[Record, DocRows]]): The documents and their rows.
    stats (BuildStats): Counts what was stored, and the time spent writing.
    """
    start = time.perf_counter()
    try:
        counts = store.write_batch(batch)
    finally:
        stats.seconds_store += time.perf_counter() - start
    add_counts(stats, counts)


def add_counts(stats: BuildStats, counts: WriteCounts) -> None:
    """Add what one batch stored to the build's counts.

    stats (BuildStats): The build's counts.
    counts (WriteCounts): What the batch stored.
    """
    stats.docs_added += counts.added
    stats.docs_replaced += counts.replaced
    stats.docs_raced += counts.raced
    stats.mentions += counts.mentions
    stats.relations += counts.relations

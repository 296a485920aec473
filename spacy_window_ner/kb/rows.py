"""Processed docs into the rows a store writes, the same way for every engine: `doc_rows` turns
a doc into plain, picklable data (store.DocRows), `write_batch` stores a batch in one
transaction and counts it in the build's `BuildStats`. The local engine (build.py) and the Ray
engine (ray_engine.py) both use this module; neither imports the other for it. Both back ends
(sqlite.py, postgres.py) turn a batch's documents into mention rows with `batch_mentions`, and
keep a `NameKeys`: the name_keys rows of the names their batches mention, computed once per name.
"""
import bisect
import time
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Sequence, Set, Tuple

from spacy.tokens import Doc, Span

from ..candidates import DROPPED_KEY
from ..confidences import get_confidences
from ..inputs import InputStats, Record
from ..relations import get_relations
from .links import KeptAliases, name_key_rows
from .pass_state import ResolveStats
from .sql import Name, NameKey
from .store import DocRows, SpanKey, Store, WriteCounts, normalize

CONTEXT_TOKENS = 15  # context each side of a mention when the pipeline sets no sentences
MAX_SENTENCE_TOKENS = 512  # a longer "sentence" (a text without sentence marks) is stored as that context
MAX_KEYED_NAMES = 100_000  # names whose name_keys rows a store's NameKeys holds at most (then starts again)
# A row of the mentions table as a batch writes it (unresolved: no entity): (doc_id, norm,
# start_char, end_char, text, label, confidence, sentence, sent_start_char, sent_end_char).
MentionRow = Tuple[int, str, int, int, str, str, Optional[float], str, int, int]


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


def doc_rows(doc: Doc, text: Optional[str] = None) -> DocRows:
    """Everything the database needs from a processed doc, as plain, picklable data (so that
    the worker that ran the pipeline can hand it to the one that writes).

    doc (Doc): A doc from the pipeline, with doc.ents (and relations, if it sets them).
    text (Optional[str]): The text the doc was made from (the record's, which nlp.pipe was
        given), so that Doc.text need not be built: Doc.text joins its tokens' texts in Python,
        token by token. A text of another length than the doc's is not used; None builds Doc.text.
    RETURNS (DocRows): The rows (see store.DocRows).
    """
    ents = doc.ents
    relations = get_relations(doc)
    # The confidences of the spans stored, each looked up by its key (not all of the doc's).
    confidences = get_confidences(doc, [*ents, *(span for r in relations for span in (r.head, r.tail))])
    n_tokens = len(doc)
    # The doc's text once, and every span's text sliced from it (the same string: a span runs
    # from its first token's idx to its last token's end). spaCy's tokenizer keeps the text it
    # is given, so the record's text is the doc's, unless a component made another doc.
    n_chars = doc[-1].idx + len(doc[-1].text_with_ws) if n_tokens else 0
    if text is None or len(text) != n_chars:
        text = doc.text
    has_sents = doc.has_annotation("SENT_START")  # set by a parser too (DEP)
    # The sentences once per doc (Span.sent walks to the sentence start for every mention).
    sents = list(doc.sents) if has_sents else []
    sent_starts = [sent.start for sent in sents]
    spans: Dict[SpanKey, Dict[str, Any]] = {}

    def add(span: Span) -> SpanKey:
        label = span.label_
        start, end = span.start, span.end
        key = (start, end, label)
        if key not in spans:
            start_char, end_char = span.start_char, span.end_char
            context = sents[bisect.bisect_right(sent_starts, start) - 1] if sents else None
            if context is not None and context.end < end:  # a span across sentences
                context = span.sent
            if context is not None and len(context) <= MAX_SENTENCE_TOKENS:
                sent_start_char, sent_end_char = context.start_char, context.end_char
            else:  # CONTEXT_TOKENS each side, read from the first and last tokens
                first, last = doc[max(0, start - CONTEXT_TOKENS)], doc[min(n_tokens, end + CONTEXT_TOKENS) - 1]
                sent_start_char, sent_end_char = first.idx, last.idx + len(last)
            spans[key] = {
                "start_char": start_char, "end_char": end_char, "text": text[start_char:end_char],
                "label": label, "confidence": confidences.get((start_char, end_char, label)),
                "sentence": text[sent_start_char:sent_end_char], "sent_start_char": sent_start_char,
                "sent_end_char": sent_end_char,
            }
        return key

    for ent in ents:
        add(ent)
    relation_rows = [(add(r.head), add(r.tail), r.label, r.score) for r in relations]
    return {
        "n_chars": len(text), "n_tokens": n_tokens, "mentions": spans, "relations": relation_rows,
        "dropped_candidates": doc.user_data.get(DROPPED_KEY, 0),
    }


def batch_mentions(docs: Iterable[Tuple[int, DocRows]]) -> Tuple[List[MentionRow], Dict[Name, Dict[str, Any]]]:
    """The mention rows a back end writes for a batch's documents, and the names they mention,
    for `NameKeys.rows`: each mention's name normalised once (store.normalize).

    docs (Iterable[Tuple[int, DocRows]]): The documents written: each one's id in the documents
        table, and its rows.
    RETURNS (Tuple[List[MentionRow], Dict[Name, Dict[str, Any]]]): The rows, document by document
        in the order given, and (norm, label) -> the first of the mentions of that name.
    """
    rows: List[MentionRow] = []
    names: Dict[Name, Dict[str, Any]] = {}
    for doc_id, doc in docs:
        for m in doc["mentions"].values():
            norm = normalize(m["text"])
            names.setdefault((norm, m["label"]), m)
            rows.append((
                doc_id, norm, m["start_char"], m["end_char"], m["text"], m["label"], m["confidence"],
                m["sentence"], m["sent_start_char"], m["sent_end_char"],
            ))
    return rows, names


class NameKeys:
    """The rows of name_keys that a store's batches write (links.name_key_rows), computed
    once per name while the knowledge base's alias entries stay the same: a build mentions most
    names in many batches. A back end that can tell which names' rows it has committed and that
    nothing deleted since (SQLite: no other connection committed, and this one ran no resolution
    pass, the only statements that delete name keys) marks them with `written`, so that their
    rows are not inserted again, and calls `forget_stored` when that no longer holds. Holds at
    most MAX_KEYED_NAMES names, then starts again.
    """

    def __init__(self) -> None:
        self._aliases: Optional[KeptAliases] = None
        self._rows: Dict[Name, List[NameKey]] = {}
        self._stored: Set[Name] = set()

    def rows(self, names: Dict[Name, Dict[str, Any]], aliases: KeptAliases) -> Tuple[List[NameKey], Set[Name]]:
        """The name_keys rows of names, but for those marked stored.

        names (Dict[Name, Dict[str, Any]]): The names (store.normalize of a mention's text, and
            its label), each with one of its mentions (store.DocRows: "text", "label"), as
            `batch_mentions` gives them.
        aliases (KeptAliases): The knowledge base's alias entries (as AliasCache gives them:
            the same object while they stay the same).
        RETURNS (Tuple[List[NameKey], Set[Name]]): The rows, sorted and without repeats (as
            name_key_rows returns them), and the names they are of, for `written`.
        """
        if aliases is not self._aliases or len(self._rows) > MAX_KEYED_NAMES:
            self._aliases, self._rows, self._stored = aliases, {}, set()
        new = [m for name, m in names.items() if name not in self._rows]
        for name in names:
            self._rows.setdefault(name, [])
        for row in name_key_rows(new, aliases):
            self._rows[row[1:]].append(row)
        todo = set(names) - self._stored
        return sorted(row for name in todo for row in self._rows[name]), todo

    def written(self, names: Iterable[Name]) -> None:
        """Mark names whose rows the store has committed.

        names (Iterable[Name]): The names (norm, label).
        """
        self._stored.update(names)

    def forget_stored(self) -> None:
        """Forget which names' rows are stored (something may have deleted them): their rows
        are inserted again (ON CONFLICT DO NOTHING) the next time."""
        self._stored = set()


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

"""Convert annotated corpora to Docs with gold entities (`doc.ents`) and relations
(`set_relations`).

Readers never crash on a bad record: they skip it, count it in a `ConversionStats` and emit one
warning per file that summarises everything skipped. A file that can't be read, or is not JSON at
all, raises a ValueError. `READERS` maps the format names (conll04, prodigy, spacy) to readers,
and `EXTENSIONS` to their file extensions, for the CLI and the project's scripts/convert.py.
"""
import json
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Set, Tuple, Union

import numpy
from spacy.tokens import Doc, DocBin, Span
from spacy.vocab import Vocab

from .files import atomic_write
from .problems import Problems
from .relations import Relation, get_relations, set_relations

ORIG_ID_KEY = ("spacy_window_ner", "orig_id")
SOURCE_KEY = ("spacy_window_ner", "source")
CONLL04_FORMAT = (
    'CoNLL04 in SpERT JSON: one JSON array of {"tokens", "entities", "relations"} records'
)
PRODIGY_FORMAT = (
    'Prodigy JSONL: one JSON object per line with "tokens", "spans", "relations" and "answer"'
)
MAX_PROBLEMS = 10  # problems quoted in the warning


class _BadRecord(ValueError):
    """A record that can't be converted at all."""


class _Skip(ValueError):
    """An entity or relation that can't be converted; the rest of its record can."""


@dataclass
class ConversionStats:
    """What a reader converted and what it skipped.

    path (str): The file read.
    docs (int): Docs produced.
    entities (int): Entities set as `doc.ents`.
    relations (int): Relations stored, after identical ones were merged.
    skipped_records (int): Records that could not be converted (invalid JSON, missing keys, wrong
        types).
    skipped_entities (int): Misaligned entities: malformed, out of range, empty, overlapping an
        earlier entity, or with character offsets that don't match the tokens.
    skipped_relations (int): Relations with a bad index or label, pointing at a missing or
        skipped entity, or from an entity to itself.
    rejected_records (int): Prodigy records whose answer was not "accept" (not a problem).
    ignored_relations (int): Relations dropped on purpose by `ignore_labels` (not a problem).
    merged_relations (int): Duplicate (head, tail, label) relations merged into one.
    problems (Problems): Every skip counted, the first few kept with their record or line
        number and reason.
    """

    path: str = ""
    docs: int = 0
    entities: int = 0
    relations: int = 0
    skipped_records: int = 0
    skipped_entities: int = 0
    skipped_relations: int = 0
    rejected_records: int = 0
    ignored_relations: int = 0
    merged_relations: int = 0
    problems: Problems = field(default_factory=lambda: Problems(MAX_PROBLEMS))

    def skip(self, kind: str, where: str, why: str) -> None:
        """Count one skipped item and remember why.

        kind (str): "records", "entities" or "relations".
        where (str): Where in the file, e.g. "line 4" or "record 2, entity 1".
        why (str): The reason.
        """
        attr = f"skipped_{kind}"
        setattr(self, attr, getattr(self, attr) + 1)
        self.problems.add(f"{where}: {why}")

    def warn(self) -> None:
        """Emit one UserWarning summarising every non-zero skip count; nothing if none."""
        parts = [
            _plural(n, singular, plural)
            for n, singular, plural in (
                (self.skipped_records, "bad record", "bad records"),
                (self.skipped_entities, "misaligned entity", "misaligned entities"),
                (self.skipped_relations, "invalid relation", "invalid relations"),
            )
            if n
        ]
        if not parts:
            return
        listed = " and ".join([", ".join(parts[:-1]), parts[-1]]) if len(parts) > 1 else parts[0]
        warnings.warn(
            f"Skipped {listed} in {self.path} ({self.problems.summary()}).", stacklevel=2
        )


def read_conll04(path: Path, vocab: Vocab) -> Tuple[List[Doc], ConversionStats]:
    """Read CoNLL04 in SpERT's JSON: one array of records {"tokens": [str], "entities": [{"type",
    "start", "end"}] (token offsets, end exclusive), "relations": [{"type", "head", "tail"}]
    (indices into "entities"), "orig_id"}. Each record becomes one Doc holding one sentence,
    with `orig_id` in `doc.user_data[ORIG_ID_KEY]`.

    path (Path): The JSON file.
    vocab (Vocab): The vocab for the docs.
    RETURNS (Tuple[List[Doc], ConversionStats]): The docs and what was converted or skipped.
    """
    stats = ConversionStats(path=str(path))
    try:
        data = json.loads(_read_text(path, CONLL04_FORMAT))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON ({err}). Expected {CONLL04_FORMAT}.") from None
    if not isinstance(data, list):
        raise ValueError(
            f"{path} holds a JSON {type(data).__name__}, not an array. Expected {CONLL04_FORMAT}."
        )
    docs = []
    for i, record in enumerate(data):
        where = f"record {i}"
        try:
            docs.append(_conll04_doc(record, vocab, stats, where))
        except _BadRecord as err:
            stats.skip("records", where, str(err))
    stats.docs = len(docs)
    stats.warn()
    return docs, stats


def read_prodigy(
    path: Path,
    vocab: Vocab,
    *,
    label_map: Optional[Dict[str, str]] = None,
    ignore_labels: Optional[Set[str]] = None,
) -> Tuple[List[Doc], ConversionStats]:
    """Read Prodigy relations JSONL (as in spaCy's rel_component tutorial): "tokens" [{"text",
    "ws"}], "spans" [{"token_start", "token_end" (inclusive), "label", "start", "end"}] and
    "relations" [{"head", "child", "label"}], where head and child are the index of the LAST
    token of their span. Only records answered "accept" are kept; `meta.source` is kept in
    `doc.user_data[SOURCE_KEY]`.

    path (Path): The JSONL file.
    vocab (Vocab): The vocab for the docs.
    label_map (Optional[Dict[str, str]]): Renames relation labels; labels not in it are kept.
    ignore_labels (Optional[Set[str]]): Relations whose (mapped) label is in it are dropped.
    RETURNS (Tuple[List[Doc], ConversionStats]): The docs and what was converted or skipped.
    """
    stats = ConversionStats(path=str(path))
    text = _read_text(path, PRODIGY_FORMAT)
    lines = [(i, line) for i, line in enumerate(text.splitlines(), 1) if line.strip()]
    if not lines:
        raise ValueError(f"{path} is empty. Expected {PRODIGY_FORMAT}.")
    docs = []
    n_parsed = 0
    for lineno, line in lines:
        where = f"line {lineno}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            stats.skip("records", where, f"invalid JSON ({err})")
            continue
        n_parsed += 1
        try:
            doc = _prodigy_doc(record, vocab, stats, where, label_map or {}, ignore_labels or set())
        except _BadRecord as err:
            stats.skip("records", where, str(err))
            continue
        if doc is not None:
            docs.append(doc)
    if n_parsed == 0:
        raise ValueError(f"No line of {path} is valid JSON. Expected {PRODIGY_FORMAT}.")
    stats.docs = len(docs)
    stats.warn()
    return docs, stats


def prodigy_split(doc: Doc) -> str:
    """The rel_component tutorial's split of a doc read by `read_prodigy`, by the last digit of
    the PMID/PMCID in its source: 4 is "dev", 3 is "test", anything else "train".

    doc (Doc): A doc with `doc.user_data[SOURCE_KEY]`, e.g. "BioNLP 2011 Genia Shared Task,
        PMC-1134658-00-TIAB.txt".
    RETURNS (str): "train", "dev" or "test".
    """
    # spaCy's stub types user_data's keys as str; ours are tuples, as extensions' are.
    source = doc.user_data.get(SOURCE_KEY)  # type: ignore[call-overload]
    match = re.search(r"\b(?:PMC|PMID)-(\d+)", source) if isinstance(source, str) else None
    if match is None:
        raise ValueError(
            f"Can't find a PMID or PMCID in the doc's source {source!r}. prodigy_split needs docs "
            'read by read_prodigy from records with a "meta.source" like "...PMID-8524232.txt".'
        )
    return {"4": "dev", "3": "test"}.get(match.group(1)[-1], "train")


def write_docbin(docs: Iterable[Doc], path: Path) -> int:
    """Save docs, with their user data (relations, ids), to a .spacy file, atomically (see
    files.atomic_write): a failed or killed write leaves the old file, if any.

    docs (Iterable[Doc]): The docs.
    path (Path): The output file; missing parent directories are created.
    RETURNS (int): The number of docs written.
    RAISES (OutputError): When the file can't be written.
    """
    doc_bin = DocBin(store_user_data=True, docs=docs)
    with atomic_write(path, "wb") as file_:
        file_.write(doc_bin.to_bytes())
    return len(doc_bin)


def read_docbin(path: Path, vocab: Vocab) -> List[Doc]:
    """Load docs, with their user data, from a .spacy file.

    path (Path): The .spacy file.
    vocab (Vocab): The vocab for the docs.
    RETURNS (List[Doc]): The docs.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"Can't find {path}. Expected a .spacy file written by write_docbin.")
    return list(DocBin().from_disk(path).get_docs(vocab))


def read_spacy(path: Path, vocab: Vocab) -> Tuple[List[Doc], ConversionStats]:
    """Read a .spacy file as it is (from `spacy convert`, say), counting its docs, entities and
    relations, so that it passes through the same steps as the formats that are converted.

    path (Path): The .spacy file.
    vocab (Vocab): The vocab for the docs.
    RETURNS (Tuple[List[Doc], ConversionStats]): The docs and their counts (nothing is skipped).
    """
    docs = read_docbin(path, vocab)
    stats = ConversionStats(
        path=str(path), docs=len(docs), entities=sum(len(doc.ents) for doc in docs),
        relations=sum(len(get_relations(doc)) for doc in docs),
    )
    return docs, stats


# The input formats by name: the one set of names of `spacy-window-ner convert --format` and the
# project's --vars.format.
READERS: Dict[str, Callable[..., Tuple[List[Doc], ConversionStats]]] = {
    "conll04": read_conll04,
    "prodigy": read_prodigy,
    "spacy": read_spacy,
}
# The file extension of each format (assets/NAME/NAME_train.json is conll04).
EXTENSIONS: Dict[str, str] = {"conll04": "json", "prodigy": "jsonl", "spacy": "spacy"}


def _conll04_doc(record: Any, vocab: Vocab, stats: ConversionStats, where: str) -> Doc:
    _require(record, {"tokens": list, "entities": list, "relations": list})
    words = record["tokens"]
    spaces = [i < len(words) - 1 for i in range(len(words))]
    # A record is one sentence: mark its first token as the only sentence start.
    doc = _make_doc(vocab, words, spaces, sent_starts=[i == 0 for i in range(len(words))])
    if "orig_id" in record:
        doc.user_data[ORIG_ID_KEY] = record["orig_id"]  # type: ignore[index]  # tuple key, as above
    occupied = numpy.zeros(len(doc), dtype=bool)
    spans: List[Optional[Span]] = []
    for j, ent in enumerate(record["entities"]):
        ent = ent if isinstance(ent, dict) else {}
        span: Optional[Span]
        try:
            span = _add_span(doc, ent.get("start"), ent.get("end"), ent.get("type"), occupied)
        except _Skip as err:
            stats.skip("entities", f"{where}, entity {j}", str(err))
            span = None
        spans.append(span)
    relations = []
    for j, rel in enumerate(record["relations"]):
        rel = rel if isinstance(rel, dict) else {}
        try:
            head, tail = (_by_index(spans, rel.get(k)) for k in ("head", "tail"))
            relations.append(_make_relation(head, tail, rel.get("type")))
        except _Skip as err:
            stats.skip("relations", f"{where}, relation {j}", str(err))
    _set_gold(doc, [span for span in spans if span is not None], relations, stats)
    return doc


def _prodigy_doc(
    record: Any,
    vocab: Vocab,
    stats: ConversionStats,
    where: str,
    label_map: Dict[str, str],
    ignore_labels: Set[str],
) -> Optional[Doc]:
    _require(record, {"tokens": list, "answer": str})
    if record["answer"] != "accept":
        stats.rejected_records += 1
        return None
    spans_in, rels_in = record.get("spans", []), record.get("relations", [])
    if not isinstance(spans_in, list) or not isinstance(rels_in, list):
        raise _BadRecord('"spans" and "relations" must be lists')
    tokens = record["tokens"]
    if not all(isinstance(t, dict) and isinstance(t.get("ws"), bool) for t in tokens):
        raise _BadRecord('every token must be an object with "text" and a boolean "ws"')
    # Records may hold several sentences, so sentence boundaries stay unset.
    doc = _make_doc(vocab, [t.get("text") for t in tokens], [t["ws"] for t in tokens])
    meta = record.get("meta")
    if isinstance(meta, dict) and isinstance(meta.get("source"), str):
        doc.user_data[SOURCE_KEY] = meta["source"]  # type: ignore[index]  # tuple key, as above
    occupied = numpy.zeros(len(doc), dtype=bool)
    by_last_token: Dict[int, Span] = {}
    for j, s in enumerate(spans_in):
        s = s if isinstance(s, dict) else {}
        end: Any = s.get("token_end")  # a JSON value, checked below
        end = end + 1 if _is_int(end) else end  # Prodigy's token_end is inclusive
        try:
            span = _add_span(doc, s.get("token_start"), end, s.get("label"), occupied)
            _check_chars(span, s.get("start"), s.get("end"), occupied)
        except _Skip as err:
            stats.skip("entities", f"{where}, span {j}", str(err))
            continue
        by_last_token[span.end - 1] = span
    relations = []
    for j, rel in enumerate(rels_in):
        rel = rel if isinstance(rel, dict) else {}
        label = rel.get("label")
        label = label_map.get(label, label) if isinstance(label, str) else label
        try:
            head, tail = (_by_last_token(by_last_token, rel.get(k)) for k in ("head", "child"))
            relation = _make_relation(head, tail, label)
        except _Skip as err:
            stats.skip("relations", f"{where}, relation {j}", str(err))
            continue
        if relation.label in ignore_labels:
            stats.ignored_relations += 1
        else:
            relations.append(relation)
    _set_gold(doc, sorted(by_last_token.values()), relations, stats)
    return doc


def _read_text(path: Path, expected: str) -> str:
    try:
        return Path(path).read_text(encoding="utf8")
    except (OSError, UnicodeDecodeError) as err:
        raise ValueError(f"Can't read {path} ({err}). Expected {expected}.") from err


def _require(record: Any, types: Dict[str, type]) -> None:
    if not isinstance(record, dict):
        raise _BadRecord(f"expected a JSON object, not {type(record).__name__}")
    for key, type_ in types.items():
        if key not in record:
            raise _BadRecord(f"missing key {key!r}")
        if not isinstance(record[key], type_):
            found = type(record[key]).__name__
            raise _BadRecord(f"{key!r} must be a {type_.__name__}, not {found}")


def _make_doc(
    vocab: Vocab, words: List[Any], spaces: List[bool], sent_starts: Optional[List[Union[bool, int, None]]] = None
) -> Doc:
    if not all(isinstance(w, str) and w for w in words):
        raise _BadRecord("every token text must be a non-empty string")
    return Doc(vocab, words=words, spaces=spaces, sent_starts=sent_starts)


def _add_span(doc: Doc, start: Any, end: Any, label: Any, occupied: numpy.ndarray) -> Span:
    """Make the entity span and mark its tokens as taken; raise _Skip if it is misaligned."""
    if not (_is_int(start) and _is_int(end)):
        raise _Skip(f"token offsets {start!r}:{end!r} are not integers")
    if not isinstance(label, str) or not label:
        raise _Skip(f"label {label!r} is not a non-empty string")
    if start < 0 or end > len(doc):
        raise _Skip(f"tokens {start}:{end} are out of range for {len(doc)} tokens")
    if start >= end:
        raise _Skip(f"tokens {start}:{end} are empty")
    if occupied[start:end].any():
        raise _Skip(f"tokens {start}:{end} overlap an earlier entity")
    occupied[start:end] = True
    return Span(doc, start, end, label=label)


def _check_chars(span: Span, start_char: Any, end_char: Any, occupied: numpy.ndarray) -> None:
    """Raise _Skip (and free the span's tokens) if its character offsets don't match them."""
    if start_char is None and end_char is None:
        return
    if (start_char, end_char) != (span.start_char, span.end_char):
        occupied[span.start : span.end] = False
        raise _Skip(
            f"characters {start_char!r}:{end_char!r} don't match tokens {span.start}:{span.end} "
            f"(characters {span.start_char}:{span.end_char})"
        )


def _by_index(spans: List[Optional[Span]], index: Any) -> Span:
    if not _is_int(index) or not 0 <= index < len(spans):
        raise _Skip(f"bad entity index {index!r}")
    if spans[index] is None:
        raise _Skip(f"entity {index} was skipped")
    return spans[index]


def _by_last_token(by_last_token: Dict[int, Span], token: Any) -> Span:
    if not _is_int(token):
        raise _Skip(f"bad token index {token!r}")
    if token not in by_last_token:
        raise _Skip(f"no kept span ends at token {token}")
    return by_last_token[token]


def _make_relation(head: Span, tail: Span, label: Any) -> Relation:
    if (head.start, head.end) == (tail.start, tail.end):
        raise _Skip(f"self-relation on tokens {head.start}:{head.end}")
    if not isinstance(label, str) or not label:
        raise _Skip(f"label {label!r} is not a non-empty string")
    return Relation(head, tail, label, 1.0)


def _set_gold(
    doc: Doc, spans: List[Span], relations: List[Relation], stats: ConversionStats
) -> None:
    # Tokens outside the entities become "O", not missing: the annotation is complete.
    doc.ents = spans
    set_relations(doc, relations)
    n_stored = len(get_relations(doc))
    stats.entities += len(spans)
    stats.relations += n_stored
    stats.merged_relations += len(relations) - n_stored


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _plural(n: int, singular: str, plural: str) -> str:
    return f"{n} {singular if n == 1 else plural}"

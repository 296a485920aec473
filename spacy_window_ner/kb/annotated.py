"""Building a knowledge base from annotated documents (`kb build --annotated`): `.spacy` files
(DocBin) whose docs already carry their entities (and relations, where set with
`set_relations`), stored as given, without running a pipeline. For annotated corpora, another
NER's output, and measuring resolution on gold mentions.

A doc's identity is its id where it carries one, in `doc.user_data["id"]` (a string or an
integer, compared as a string, as a JSONL "id"), else its file and index: source PATH and line
INDEX, the N-th doc of the file counted from 0, shown as "PATH:INDEX". So a doc is the same
document on every rerun, and "PATH:INDEX" is what `kb export --format mentions` names it by.

Docs are streamed a file at a time (a DocBin is one compressed block: each file is read whole,
its docs made one by one) and go the way of the pipeline engines' docs: into rows with
rows.doc_rows, skipped when stored (build.new_records), written a batch at a time
(build.write_in_batches) and resolved at the end, in the same `build.building` as every build. The version a rerun
compares is the sha256 of the rows a doc makes (its text, tokens, entities, sentences and
relations), so a rerun on the same files adds nothing and a corrected annotation replaces the
stored version.

Bad input is reported, never stored half: a file that is not a DocBin is skipped whole (in
`BuildStats.skipped_files`); a doc whose entities were never set (a DocBin of raw text), with
no text, a bad id, a NUL character or a lone surrogate is skipped as "PATH:INDEX: why"
(`BuildStats.malformed`), as are relations that no longer fit the doc's tokens.
"""
import hashlib
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Optional, Tuple, Union

from spacy.tokens import Doc, DocBin
from spacy.vocab import Vocab

from ..inputs import Record, storage_problem, text_problem
from .build import building, new_records, write_in_batches
from .rows import BuildStats, doc_rows
from .store import DocRows, KBError

ID_KEY = "id"  # doc.user_data[ID_KEY]: a doc's id, as a JSONL line's "id"


@dataclass
class AnnotatedRecord(Record):
    """A doc of a .spacy file, with the rows it is stored as (rows.doc_rows). Its `line` is
    the doc's index in the file, counted from 0, and its `sha256` the hash of its rows.

    rows (DocRows): The rows of the doc.
    """

    rows: DocRows = field(default_factory=dict, repr=False)


def build_annotated(
    inputs: Iterable[Path],
    db: Union[str, Path],
    *,
    batch_size: int = 64,
    progress: Optional[Callable[[int, int], None]] = None,
    resolve: bool = True,
) -> BuildStats:
    """Store the docs of .spacy files with the entities and relations they carry, without a
    pipeline. A doc whose identity (see the module docstring) is stored with the same rows is
    skipped, one stored with other rows is replaced; each batch of `batch_size` docs is
    written in one transaction. Then, as build.build_kb does, the resolution pass assigns the
    new mentions their entities. If this build created the database and stored no document, it
    removes it.

    inputs (Iterable[Path]): .spacy files (DocBin), checked by `inputs.check_inputs` with no
        encoding.
    db (Union[str, Path]): The database: a SQLite file, created if missing, or a postgresql://
        URL of an existing database.
    batch_size (int): Documents per transaction.
    progress (Optional[Callable[[int, int], None]]): Called after each document with the bytes
        of input consumed so far and the documents stored so far.
    resolve (bool): Resolve the new mentions (and those a replaced document touched) at the end
        (resolution.resolve_kb), with the settings of the last pass; False leaves them
        unresolved until `kb resolve`.
    RETURNS (BuildStats): What was read, stored and skipped; files that are not DocBins are in
        `skipped_files`.
    """
    if batch_size < 1:
        raise KBError("--batch-size must be at least 1.")
    stats = BuildStats()
    with building(db, stats, resolve=resolve) as store:
        records = new_records(store, iter_annotated(inputs, stats), stats)

        def documents() -> Iterator[Tuple[Record, DocRows]]:
            for record in records:
                assert isinstance(record, AnnotatedRecord)
                stats.words += record.rows["n_tokens"]
                yield record, record.rows

        write_in_batches(store, documents(), stats, batch_size=batch_size, progress=progress)
    return stats


def iter_annotated(paths: Iterable[Path], stats: Optional[BuildStats] = None) -> Iterator[AnnotatedRecord]:
    """Stream the docs of .spacy files as records with their rows, a file at a time. Files
    that are not DocBins are listed in `stats.skipped_files`, docs that can't be stored are
    counted in `stats.malformed` (see the module docstring), and both are skipped.

    paths (Iterable[Path]): The .spacy files.
    stats (Optional[BuildStats]): Counts files, skipped files and skipped docs when given.
    YIELDS (AnnotatedRecord): The docs, in file order.
    """
    stats = stats if stats is not None else BuildStats()
    vocab = Vocab()
    consumed = 0
    for path in paths:
        path = Path(path)
        source = str(path)
        size = path.stat().st_size
        try:
            doc_bin = DocBin().from_disk(path)
        except Exception as err:  # not a DocBin: zlib, msgpack or a missing key fails inside spaCy
            stats.skipped_files.append(
                f"{source}: not a .spacy file (a DocBin, as `spacy convert` or DocBin.to_disk write it): "
                f"{type(err).__name__}: {' '.join(str(err).split()) or 'unreadable'}"
            )
            consumed += size
            continue
        stats.files += 1
        n_docs = len(doc_bin)
        docs = doc_bin.get_docs(vocab)
        for index in range(n_docs):
            offset = consumed + (size * (index + 1)) // n_docs
            try:
                doc = next(docs)
            except Exception as err:  # a DocBin whose arrays or strings don't fit its docs
                after = n_docs - index - 1
                stats.malformed_line(
                    source, index,
                    f"can't read the doc ({type(err).__name__}: {' '.join(str(err).split())}); skipped it"
                    + (f" and the {after} docs after it" if after else ""),
                )
                break
            record = _annotated_record(doc, source, index, offset, stats)
            if record is not None:
                yield record
        consumed += size


def _annotated_record(doc: Doc, source: str, index: int, offset: int, stats: BuildStats) -> Optional[AnnotatedRecord]:
    """The record of one doc, or None (counted in stats.malformed) if it can't be stored."""
    doc_id, why = _doc_id(doc)
    if not why:
        why = _text_problem(doc)
    if not why:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                rows = doc_rows(doc)
            except ValueError as err:  # relations stored by token offsets outside the doc
                why = " ".join(str(err).split())
        for warning in caught:  # relations dropped because they no longer fit the tokens
            stats.malformed_line(source, index, " ".join(str(warning.message).split()))
    if why:
        stats.malformed_line(source, index, why)
        return None
    sha256 = hashlib.sha256(_version(doc.text, rows).encode("utf8")).hexdigest()
    return AnnotatedRecord(source, index, doc.text, sha256, offset, doc_id, rows=rows)


def _doc_id(doc: Doc) -> Tuple[Optional[str], str]:
    """A doc's id from doc.user_data["id"] (None without one), or why it can't be used."""
    # spaCy's stub types user_data as Dict[str, Any]; it holds tuple keys too.
    doc_id: Any = doc.user_data.get(ID_KEY)
    if doc_id is None:
        return None, ""
    if isinstance(doc_id, bool) or not isinstance(doc_id, (str, int)):
        return None, f'doc.user_data["{ID_KEY}"] is a {type(doc_id).__name__}, not a string or an integer'
    doc_id = str(doc_id)
    if not doc_id.strip():
        return None, f'doc.user_data["{ID_KEY}"] is empty'
    why = storage_problem(doc_id) or ("holds a lone surrogate, which UTF-8 can't encode" if text_problem(doc_id) else None)
    if why:
        return None, f'doc.user_data["{ID_KEY}"] {why}'
    return doc_id, ""


def _text_problem(doc: Doc) -> str:
    """Why a doc can't be stored as annotated: no text, entities never set, or a text the
    store can't hold."""
    if not doc.text.strip():
        return "the doc has no text"
    if not doc.has_annotation("ENT_IOB"):
        return (
            "the doc carries no entity annotation (doc.ents was never set); set it (even to no "
            "entities), or build with a pipeline: kb build MODEL INPUTS... --db DB"
        )
    why = text_problem(doc.text) or storage_problem(doc.text)
    return f"text {why}" if why else ""


def _version(text: str, rows: DocRows) -> str:
    """What the version hash of an annotated doc covers: its text and its rows, serialized the
    same way every time (mentions by their token offsets)."""
    mentions = sorted(([*key, value] for key, value in rows["mentions"].items()), key=lambda row: row[:3])
    relations = [[*head, *tail, label, score] for head, tail, label, score in rows["relations"]]
    rest = {key: value for key, value in rows.items() if key not in ("mentions", "relations")}
    return json.dumps(["annotated", text, mentions, relations, rest], sort_keys=True)

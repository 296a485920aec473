"""Streaming input documents from files, before any pipeline runs: `kb build` and `visualize`
read their inputs here.

`check_inputs` checks files before a run (missing, empty, not decodable). `iter_records` streams
documents from .jsonl files (one JSON object with a "text" string and optionally an "id" per
line) and text files (one document per file, or per non-blank line), reading line by line and
keeping each document's source, line, text hash and byte offset (for progress). Lines and texts
that can't be used are counted in an `InputStats` and skipped, with "path:line: why".

A document's identity is the `id` field of its JSONL line where given (a string or an integer,
compared as a string, so 7 and "7" are one id), else its source and line: the source as given,
and for a whole-file .txt document the source alone. Identities by position follow the lines:
a line inserted in a file changes the identity of every line after it.

A text can't go through a pipeline when it is longer than `nlp.max_length` (spaCy's parser and
NER need about 1 GB of memory per 100,000 characters) or can't be encoded as UTF-8 (a lone
surrogate such as "\\ud800" in JSON): `text_problem` says why, without running the pipeline.
"""
import codecs
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, List, Optional, Tuple, Union

from spacy.language import Language
from spacy.tokens import Doc

from .problems import Problems
from .readers import read_docbin

MAX_PROBLEMS = 5  # malformed lines quoted in the report
CHECK_CHUNK = 1 << 20  # bytes read at a time when checking an input's encoding
SOURCE_SUFFIXES = (".txt", ".jsonl", ".spacy")  # files `read_source` reads; anything else is a text


class InputError(ValueError):
    """An input that can't be read at all; the message says what to do."""


@dataclass
class Record:
    """One input document, before the pipeline.

    source (str): The file it came from.
    line (Optional[int]): Its 1-based line, or None for a whole-file document (for a doc of a
        .spacy file, its index in the file, from 0: see kb/annotated.py).
    text (str): The text.
    sha256 (str): The hex sha256 of the UTF-8 text (of a .spacy doc: of its text and
        annotation), the version a rerun compares.
    offset (int): Bytes of all inputs consumed once this record was read (for progress).
    doc_id (Optional[str]): The JSONL "id" field as a string, or None if not given.
    identity (str): Its identity (see `document_identity`), set from the fields above.
    """

    source: str
    line: Optional[int]
    text: str
    sha256: str
    offset: int
    doc_id: Optional[str] = None
    identity: str = field(init=False)

    def __post_init__(self) -> None:
        self.identity = document_identity(self.source, self.line, self.doc_id)


@dataclass
class InputStats:
    """What streaming the inputs read and skipped.

    files (int): Input files read.
    malformed (Problems): Input lines or documents skipped: invalid JSON, no "text" string,
        empty text, a bad or repeated "id", a text longer than the pipeline's max_length, a
        text that can't be encoded as UTF-8; the first few kept as "path:line: why" ("path:
        why" for a whole-file document).
    """

    files: int = 0
    malformed: Problems = field(default_factory=lambda: Problems(MAX_PROBLEMS))

    def malformed_line(self, source: str, line: Optional[int], why: str) -> None:
        """Count one skipped input line (or whole-file document) and remember the first few.

        source (str): The file.
        line (Optional[int]): The 1-based line number, or None for a whole-file document.
        why (str): The reason.
        """
        self.malformed.add(f"{location(source, line)}: {why}")


def document_identity(source: str, line: Optional[int], doc_id: Optional[str] = None) -> str:
    """The key a document is stored under: its id where given, else its source and line.

    source (str): The file it came from.
    line (Optional[int]): Its 1-based line, or None for a whole-file document.
    doc_id (Optional[str]): Its id, or None.
    RETURNS (str): The identity, unique in the database.
    """
    if doc_id is not None:
        return f"id:{doc_id}"
    return f"at:{'' if line is None else line}:{source}"  # the line is digits: unambiguous


def text_problem(text: str, max_length: Optional[int] = None) -> Optional[str]:
    """Why a text can't go through a pipeline, checked without running it: longer than the
    pipeline's max_length (spaCy's error E088) or not encodable as UTF-8 (a lone surrogate).

    text (str): The text.
    max_length (Optional[int]): The pipeline's nlp.max_length; None checks only the encoding.
    RETURNS (Optional[str]): The reason, or None if the text is fine.
    """
    if max_length is not None and len(text) > max_length:
        return (
            f"text of {len(text):,} characters is longer than the pipeline's max_length "
            f"({max_length:,}); split it, or raise the limit knowingly (`kb build --max-length`): "
            "spaCy's parser and NER need about 1 GB of memory per 100,000 characters"
        )
    try:
        text.encode("utf8")
    except UnicodeEncodeError as err:
        return (
            f"text holds a lone surrogate {ascii(text[err.start])} at character {err.start}, "
            "which UTF-8 can't encode"
        )
    return None


def storage_problem(text: str) -> Optional[str]:
    """Why a knowledge base can't store a text: a NUL character, which PostgreSQL's text type
    can't hold. It is refused on every back end, so SQLite and PostgreSQL hold the same documents.

    text (str): The text (or a document id).
    RETURNS (Optional[str]): The reason, or None if the text can be stored.
    """
    if "\x00" in text:
        return f"holds a NUL character (\\x00) at character {text.index(chr(0))}, which PostgreSQL can't store"
    return None


def location(source: str, line: Optional[int]) -> str:
    """Where a document is, as reports print it.

    source (str): The file it came from.
    line (Optional[int]): Its 1-based line, or None for a whole-file document.
    RETURNS (str): "source:line", or "source" for a whole-file document.
    """
    return source if line is None else f"{source}:{line}"


def check_inputs(paths: Iterable[Path], encoding: Optional[str] = "utf8") -> Tuple[List[Path], List[str], int]:
    """Check that every input exists, is not empty and decodes, reading it in chunks.

    paths (Iterable[Path]): The input files.
    encoding (Optional[str]): Their text encoding; None for binary files (.spacy), which are
        not decoded.
    RETURNS (Tuple[List[Path], List[str], int]): The usable files, a message for each skipped
        file, and the total size in bytes of the usable files.
    """
    try:
        if encoding is not None:
            codecs.lookup(encoding)
    except LookupError:
        raise InputError(f"Unknown encoding {encoding!r}. Use a Python codec name, e.g. utf8 or latin-1.") from None
    good, skipped, total = [], [], 0
    for path in paths:
        path = Path(path)
        if path.is_dir():
            skipped.append(f"{path}: a directory, not a file (name the files in it, e.g. {path}/*.txt)")
            continue
        if not path.is_file():
            skipped.append(f"{path}: {'not a regular file' if path.exists() else 'no such file'}")
            continue
        size = path.stat().st_size
        why = "empty file" if size == 0 else None if encoding is None else _decode_problem(path, encoding)
        if why is None:
            good.append(path)
            total += size
        else:
            skipped.append(f"{path}: {why}")
    return good, skipped, total


def iter_records(
    paths: Iterable[Path],
    *,
    lines: bool = False,
    encoding: str = "utf8",
    stats: Optional[InputStats] = None,
    max_length: Optional[int] = None,
) -> Iterator[Record]:
    """Stream documents from .jsonl files (one JSON object with a "text" string, and
    optionally an "id" string or integer, per line) and text files (one document per file, or
    per non-blank line with `lines`). Files are read line by line, never whole, except a text
    file that is itself one document. Lines and documents that can't be used (see
    `text_problem`) are counted in `stats` and skipped.

    paths (Iterable[Path]): The inputs, checked by `check_inputs`.
    lines (bool): Read text files as one document per line.
    encoding (str): The text encoding of the inputs.
    stats (Optional[InputStats]): Counts files and malformed lines when given.
    max_length (Optional[int]): Skip texts longer than this (the pipeline's nlp.max_length).
    YIELDS (Record): The documents.
    """
    stats = stats if stats is not None else InputStats()
    consumed = 0
    text: Optional[str]
    for path in paths:
        path = Path(path)
        source = str(path)
        stats.files += 1
        jsonl = path.suffix.lower() == ".jsonl"
        if not jsonl and not lines:
            text = path.read_text(encoding=encoding)
            consumed += path.stat().st_size
            if text.strip():
                why = text_problem(text, max_length) or _stored("text", text)
                if why is None:
                    yield _record(source, None, text, consumed)
                else:
                    stats.malformed_line(source, None, why)
            continue
        with path.open("rb") as file_:
            for lineno, raw in enumerate(file_, 1):
                consumed += len(raw)
                line = raw.decode(encoding).rstrip("\r\n")
                if not line.strip():
                    continue
                doc_id = None
                if jsonl:
                    text, doc_id, why = _jsonl_record(line)
                else:
                    text, why = line, ""
                if text is not None:
                    why = text_problem(text, max_length) or _stored("text", text) or _stored('"id"', doc_id) or ""
                if text is None or why:  # no text comes with a reason why
                    stats.malformed_line(source, lineno, why)
                else:
                    yield _record(source, lineno, text, consumed, doc_id)


def _stored(what: str, text: Optional[str]) -> Optional[str]:
    why = storage_problem(text) if text is not None else None
    return f"{what} {why}" if why else None


def _decode_problem(path: Path, encoding: str) -> Optional[str]:
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    done, newlines = 0, 0
    with path.open("rb") as file_:
        while True:
            chunk = file_.read(CHECK_CHUNK)
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as err:
                line = newlines + chunk[: max(err.start, 0)].count(b"\n") + 1
                return (
                    f"not valid {encoding} (byte {done + err.start}, line {line}); "
                    "pass its encoding with --encoding"
                )
            if not chunk:
                return None
            done += len(chunk)
            newlines += chunk.count(b"\n")


def _jsonl_record(line: str) -> Tuple[Optional[str], Optional[str], str]:
    """The text and id of a JSONL line, or why it can't be used."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as err:
        return None, None, f"invalid JSON ({err.msg})"
    if not isinstance(record, dict) or "text" not in record:
        return None, None, 'no "text" field'
    text, doc_id = record["text"], record.get("id")
    if not isinstance(text, str):
        return None, None, f'"text" is a {type(text).__name__}, not a string'
    if not text.strip():
        return None, None, '"text" is empty'
    if doc_id is not None:
        if isinstance(doc_id, bool) or not isinstance(doc_id, (str, int)):
            return None, None, f'"id" is a {type(doc_id).__name__}, not a string or an integer'
        doc_id = str(doc_id)
        if not doc_id.strip():
            return None, None, '"id" is empty'
        if text_problem(doc_id) is not None:
            return None, None, '"id" holds a lone surrogate, which UTF-8 can\'t encode'
    return text, doc_id, ""


def _record(source: str, line: Optional[int], text: str, offset: int, doc_id: Optional[str] = None) -> Record:
    sha = hashlib.sha256(text.encode("utf8")).hexdigest()
    return Record(source, line, text, sha, offset, doc_id)


def read_source(
    source: str, nlp: Language, *, limit: int, encoding: str = "utf8", stats: Optional[InputStats] = None
) -> List[Union[str, Doc]]:
    """The documents to show of a text, or of a .txt (one document per line), .jsonl or .spacy
    file (as fresh docs with the gold tokenization, so no gold annotation leaks into the view).
    Malformed lines are counted in `stats` and skipped.

    source (str): A text, or the path of a .txt, .jsonl or .spacy file.
    nlp (Language): The pipeline the documents are for (its vocab and max_length).
    limit (int): Read at most this many documents.
    encoding (str): The text encoding of a .txt or .jsonl file.
    stats (Optional[InputStats]): Counts malformed lines when given.
    RETURNS (List[Union[str, Doc]]): The texts, or the docs of a .spacy file, for nlp.pipe.
    RAISES (InputError): When the text or the file can't be used.
    """
    path = Path(source)
    suffix = path.suffix.lower()
    if suffix not in SOURCE_SUFFIXES or "\n" in source:
        if not source.strip():
            raise InputError("The text is empty: give a text, or a .txt, .jsonl or .spacy file.")
        why = text_problem(source, nlp.max_length)
        if why is not None:
            raise InputError(f"Can't visualize the text: {why}.")
        return [source]
    if not path.is_file():
        raise InputError(f"Can't find the file {path}.")
    if suffix == ".spacy":
        try:
            refs = read_docbin(path, nlp.vocab)
        except Exception as err:  # a file that is not a DocBin fails inside msgpack/zlib
            raise InputError(f"Can't read {path} as a .spacy file: {' '.join(str(err).split())}") from None
        return [Doc(nlp.vocab, words=[t.text for t in ref], spaces=[bool(t.whitespace_) for t in ref]) for ref in refs[:limit]]
    good, skipped, _ = check_inputs([path], encoding)
    if skipped:
        raise InputError(f"Can't use {skipped[0]}.")
    texts: List[Union[str, Doc]] = []
    for record in iter_records(good, lines=True, encoding=encoding, stats=stats, max_length=nlp.max_length):
        if len(texts) >= limit:
            break
        texts.append(record.text)
    return texts

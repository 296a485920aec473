"""User alias files: names that mean one entity, with an optional label and external id.

Two formats, chosen by the file's suffix:
- JSONL (`.jsonl`, `.ndjson`): one object a line, `{"canonical": "United Nations", "aliases":
  ["U.N.", "UN"], "label": "Org", "id": "Q1065"}`; "aliases", "label" and "id" may be left out.
- CSV (`.csv`): a header naming the columns `canonical,aliases,label,id` (only "canonical" is
  required), aliases separated by `|`: `United Nations,U.N.|UN,Org,Q1065`.

Names in any script are accepted; they are compared by `names.name_key` (NFKC, case-folded).
Every problem is a KBError that says where (`PATH:LINE:`), what is wrong and what to do. One alias
claimed by two canonical entities is not an error: `resolve` keeps it ambiguous and reports it.
"""
import csv
import io
import json
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from ..store import KBError
from .records import AliasEntry

JSONL_SUFFIXES = (".jsonl", ".ndjson")
CSV_SUFFIXES = (".csv",)
FIELDS = ("canonical", "aliases", "label", "id")


def read_alias_file(path: Path) -> List[AliasEntry]:
    """Read a user alias file, JSONL or CSV by its suffix.

    path (Path): The file.
    RETURNS (List[AliasEntry]): Its entries, in file order.
    RAISES (KBError): The file can't be read, or a line is malformed ("PATH:LINE: ...").
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in JSONL_SUFFIXES + CSV_SUFFIXES:
        raise KBError(
            f"{path}: an alias file must be JSONL ({', '.join(JSONL_SUFFIXES)}) or CSV (.csv); "
            f"rename it to say which it is"
        )
    try:
        data = path.read_bytes()
    except OSError as err:
        raise KBError(f"{path}: can't read the alias file ({err.strerror or err}); check the path") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise KBError(f"{path}:{line}: not UTF-8 text; save the alias file as UTF-8") from None
    if suffix in JSONL_SUFFIXES:
        return _read_jsonl(path, text)
    return _read_csv(path, text)


def _read_jsonl(path: Path, text: str) -> List[AliasEntry]:
    """The entries of a JSONL alias file's text."""
    entries = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            raise KBError(f"{where}: not a JSON object ({err.msg}); write one object per line") from None
        if not isinstance(obj, dict):
            raise KBError(f"{where}: a {type(obj).__name__} where an object was expected; write one object per line")
        unknown = sorted(set(obj) - set(FIELDS))
        if unknown:
            raise KBError(f"{where}: unknown field(s) {', '.join(map(repr, unknown))}; the fields are {', '.join(FIELDS)}")
        aliases = obj.get("aliases", [])
        if not isinstance(aliases, list):
            raise KBError(f"{where}: \"aliases\" must be a list of names, e.g. [\"U.N.\", \"UN\"]")
        entries.append(_entry(where, number, obj.get("canonical"), aliases, obj.get("label"), obj.get("id")))
    return entries


def _read_csv(path: Path, text: str) -> List[AliasEntry]:
    """The entries of a CSV alias file's text."""
    rows = csv.reader(io.StringIO(text, newline=""))
    entries: List[AliasEntry] = []
    header: Optional[List[str]] = None
    try:
        for row in rows:
            number = rows.line_num
            where = f"{path}:{number}"
            if not any(cell.strip() for cell in row):
                continue
            if header is None:
                header = [cell.strip().lower() for cell in row]
                unknown = [cell for cell in header if cell not in FIELDS]
                if "canonical" not in header or unknown or len(set(header)) != len(header):
                    raise KBError(
                        f"{where}: the header must name the columns {','.join(FIELDS)} (each once; only "
                        f"canonical is required), not {','.join(row)}; add or fix the header line"
                    )
                continue
            if len(row) != len(header):
                raise KBError(
                    f"{where}: {len(row)} cells where the header has {len(header)}; separate aliases "
                    f"with | and quote cells that contain commas"
                )
            cells = dict(zip(header, row))
            aliases = cells.get("aliases", "")
            alias_list = aliases.split("|") if aliases.strip() else []
            entries.append(
                _entry(where, number, cells["canonical"], alias_list, cells.get("label") or None, cells.get("id") or None)
            )
    except csv.Error as err:
        raise KBError(f"{path}:{rows.line_num}: malformed CSV ({err}); check the quoting") from None
    return entries


def _entry(where: str, line: int, canonical: Any, aliases: Sequence[Any], label: Any, external_id: Any) -> AliasEntry:
    """One validated entry; KBError at `where` for what is wrong."""
    if not isinstance(canonical, str) or not canonical.strip():
        raise KBError(f"{where}: the canonical name is missing or empty; give every entry a canonical name")
    names: Dict[str, None] = {}
    for alias in aliases:
        if not isinstance(alias, str) or not alias.strip():
            raise KBError(f"{where}: an empty alias (or one that isn't text) for {canonical.strip()!r}; remove it")
        names.setdefault(" ".join(alias.split()), None)
    if label is not None and (not isinstance(label, str) or not label.strip()):
        raise KBError(f"{where}: the label must be a non-empty text, or left out for any label")
    if isinstance(external_id, bool) or not (external_id is None or isinstance(external_id, (str, int))):
        raise KBError(f"{where}: the id must be a text such as \"Q1065\", or left out")
    if isinstance(external_id, str) and not external_id.strip():
        external_id = None
    return AliasEntry(
        canonical=" ".join(canonical.split()),
        aliases=tuple(names),
        label=label.strip() if isinstance(label, str) else None,
        external_id=str(external_id).strip() if external_id is not None else None,
        line=line,
    )

"""Exporting the knowledge base for other tools: the entity graph as JSONL, CSV or GraphML
(nodes are resolved entities, each with its aliases), and the mentions as JSONL (`kb export
--format mentions`), with the sanitising each format needs. The spaCy knowledge base export is
spacy_kb.py."""
import csv
import re
from pathlib import Path
from typing import Any, Dict, Iterable, List, Sequence, Tuple, Union
from xml.sax.saxutils import escape as xml_escape

from ..escape import cell_text, json_line
from ..files import atomic_directory, atomic_write
from .backends import open_store
from .query import read_graph
from .store import EDGE_FIELDS, NODE_FIELDS, KBError

EXPORT_FORMATS = ("jsonl", "csv", "graphml")
# The files of the csv format, in the directory it writes (and the only ones it replaces there)
CSV_FILES = {"nodes": "nodes.csv", "edges": "edges.csv"}
# One JSON object a line per mention, in this order: its document's identity (its id, else
# "PATH:LINE", or "PATH:INDEX" for the N-th doc of a .spacy file), its place in the document's
# text, and its resolved entity (None while unresolved)
MENTIONS_FIELDS = ("document", "start_char", "end_char", "text", "label", "entity_id", "canonical")
CSV_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")  # OWASP: CSV injection
_SURROGATES = re.compile("[\ud800-\udfff]")
_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def export_graph(db: Union[str, Path], output: Path, fmt: str) -> Tuple[int, int]:
    """Write the entity graph for other tools (see write_graph).

    db (Union[str, Path]): The database: a SQLite file or a postgresql:// URL.
    output (Path): The output file; missing parent directories are created.
    fmt (str): "jsonl", "csv" or "graphml".
    RETURNS (Tuple[int, int]): The numbers of nodes and edges written.
    """
    nodes, edges = read_graph(db)
    write_graph(nodes, edges, output, fmt)
    return len(nodes), len(edges)


def write_graph(nodes: List[Dict[str, Any]], edges: List[Dict[str, Any]], output: Path, fmt: str) -> None:
    """Write nodes and edges as read_graph returns them. jsonl: one {"type": "node"|"edge", ...}
    object a line; csv: the directory OUTPUT holding nodes.csv and edges.csv (CSV_FILES);
    graphml: one GraphML file (readable by networkx, Gephi, yEd). Each output is written
    atomically: a file with files.atomic_write, the csv directory whole with
    files.atomic_directory, so a reader never sees the nodes of one export beside the edges of
    another. An existing csv directory is replaced only if it holds nothing but those two files.

    A node's "aliases" ({alias: mention_count}) is a JSON object in JSONL, and a JSON text in a
    CSV cell and a GraphML attribute; a node's "external_id" is empty (null in JSONL) where no
    alias entry gave one. Every name and label is written as stored, except that:
    - in every format, characters that no UTF-8 file can hold (lone surrogates) become U+FFFD;
    - in JSONL, DEL, the C1 controls (U+0085 among them) and U+2028/U+2029 are written as
      \\u escapes, so that line readers see one record a line;
    - in GraphML, every character XML 1.0 forbids (controls other than tab, newline and
      carriage return; U+FFFE, U+FFFF) becomes U+FFFD;
    - in CSV, control characters other than tab and line breaks are written as \\xNN (no raw
      ESC or BEL for a terminal or a spreadsheet to act on), and a text cell that starts with
      "=", "+", "-", "@", tab or carriage return gets a leading "'" so that spreadsheets don't
      run it as a formula (OWASP's advice on CSV injection).
    Ids and numbers are written as they are.

    nodes (List[Dict[str, Any]]): The nodes: "id", "name", "label", "mention_count",
        "external_id", "aliases".
    edges (List[Dict[str, Any]]): The edges: "source", "target", "label", "count",
        "max_confidence", "mean_confidence".
    output (Path): The output file; missing parent directories are created.
    fmt (str): "jsonl", "csv" or "graphml".
    RAISES (OutputError): When a file can't be written.
    """
    if fmt not in EXPORT_FORMATS:
        raise KBError(f"Unknown export format {fmt!r}. Choose one of: {', '.join(EXPORT_FORMATS)}.")
    if fmt == "jsonl":
        with atomic_write(output) as file_:
            for kind, items in (("node", nodes), ("edge", edges)):
                for item in items:
                    row = {key: _utf8_value(value) for key, value in item.items()}
                    file_.write(json_line({"type": kind, **row}) + "\n")
    elif fmt == "csv":
        check_csv_directory(output)
        with atomic_directory(output) as directory:
            for name, items, default in (("nodes", nodes, NODE_FIELDS), ("edges", edges, EDGE_FIELDS)):
                with (directory / CSV_FILES[name]).open("w", encoding="utf8", newline="") as file_:
                    writer = csv.DictWriter(file_, fieldnames=_fields(items, default))
                    writer.writeheader()
                    writer.writerows({key: _csv_cell(_flat(value)) for key, value in item.items()} for item in items)
    else:
        with atomic_write(output) as file_:
            file_.write(_graphml(nodes, edges))


def export_mentions(db: Union[str, Path], output: Path) -> int:
    """Write every mention of a knowledge base with its resolved entity (see write_mentions),
    streamed from the store in mention order.

    db (Union[str, Path]): The database: a SQLite file or a postgresql:// URL.
    output (Path): The output file; missing parent directories are created.
    RETURNS (int): The number of mentions written.
    """
    with open_store(db, readonly=True) as store:
        return write_mentions(store.mentions(), output)


def write_mentions(mentions: Iterable[Dict[str, Any]], output: Path) -> int:
    """Write mentions as JSONL, one object a line with MENTIONS_FIELDS in that order, atomically
    (files.atomic_write). Text is written as the JSONL graph export writes it: lone surrogates
    as U+FFFD; DEL, the C1 controls and U+2028/U+2029 as \\u escapes.

    mentions (Iterable[Dict[str, Any]]): The mentions, as Store.mentions gives them.
    output (Path): The output file; missing parent directories are created.
    RETURNS (int): The number of mentions written.
    RAISES (OutputError): When the file can't be written.
    """
    n_mentions = 0
    with atomic_write(output) as file_:
        for mention in mentions:
            file_.write(json_line({key: _utf8_text(mention[key]) for key in MENTIONS_FIELDS}) + "\n")
            n_mentions += 1
    return n_mentions


def check_csv_directory(output: Path) -> None:
    """Refuse a csv output that exists and is not a csv export: a file, or a directory holding
    anything but CSV_FILES (replacing it would delete the rest).

    output (Path): The directory the csv format writes.
    """
    check_export_directory(output, list(CSV_FILES.values()), "csv")


def check_export_directory(output: Path, files: Sequence[str], fmt: str) -> None:
    """Refuse an output directory that exists and is not an export of this format: a file, or
    a directory holding anything but `files` (replacing it whole would delete the rest).

    output (Path): The directory the format writes.
    files (Sequence[str]): The names of the files the format writes in it.
    fmt (str): The format, for the message.
    """
    output = Path(output)
    if output.is_dir():
        others = sorted(child.name for child in output.iterdir() if child.name not in files)
        if others:
            shown = ", ".join(others[:3]) + (f" and {len(others) - 3} more" if len(others) > 3 else "")
            raise KBError(
                f"{output} is a directory holding other files ({shown}): the {fmt} export replaces its "
                f"directory whole. Give a new directory, or one an earlier {fmt} export wrote."
            )
    elif output.exists():
        raise KBError(f"{output} is a file: the {fmt} export writes a directory ({' and '.join(files)}).")


def _fields(items: List[Dict[str, Any]], default: Sequence[str]) -> List[str]:
    return list(items[0]) if items else list(default)


def _utf8_text(value: Any) -> Any:
    """A string with its lone surrogates (which UTF-8 can't encode) replaced by U+FFFD."""
    return _SURROGATES.sub("\ufffd", value) if isinstance(value, str) else value


def _utf8_value(value: Any) -> Any:
    """_utf8_text of a value, or of the keys and values of a dict (a node's aliases)."""
    if isinstance(value, dict):
        return {_utf8_text(key): _utf8_text(item) for key, item in value.items()}
    return _utf8_text(value)


def _flat(value: Any) -> Any:
    """A value for one CSV cell or GraphML attribute: a dict (a node's aliases) as JSON text
    (escape.json_line: surrogates replaced, non-ASCII characters kept, every control character
    escaped, so that the cell's own escaping leaves it valid JSON)."""
    if isinstance(value, dict):
        return json_line(_utf8_value(value))
    return value


def _csv_cell(value: Any) -> Any:
    """A CSV cell: control characters other than tab and line breaks escaped (escape.cell_text),
    and a string that a spreadsheet would run as a formula gets a leading "'"."""
    if not isinstance(value, str):
        return value
    value = cell_text(_utf8_text(value))
    return "'" + value if value.startswith(CSV_FORMULA_PREFIXES) else value


def _xml_text(value: str) -> str:
    """A string as XML 1.0 character data or attribute value: forbidden characters replaced by
    U+FFFD, markup and quotes escaped, carriage returns kept as references (parsers would
    turn a raw one into a newline)."""
    return xml_escape(_XML_FORBIDDEN.sub("\ufffd", value), {'"': "&quot;", "'": "&apos;", "\r": "&#13;"})


def _graphml(nodes: List[Dict[str, Any]], edges: List[Dict[str, Any]]) -> str:
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<graphml xmlns="http://graphml.graphdrawing.org/xmlns">',
        '  <key id="name" for="node" attr.name="name" attr.type="string"/>',
        '  <key id="label" for="node" attr.name="label" attr.type="string"/>',
        '  <key id="mention_count" for="node" attr.name="mention_count" attr.type="int"/>',
        '  <key id="external_id" for="node" attr.name="external_id" attr.type="string"/>',
        '  <key id="aliases" for="node" attr.name="aliases" attr.type="string"/>',
        '  <key id="rel" for="edge" attr.name="label" attr.type="string"/>',
        '  <key id="count" for="edge" attr.name="count" attr.type="int"/>',
        '  <key id="max_confidence" for="edge" attr.name="max_confidence" attr.type="double"/>',
        '  <key id="mean_confidence" for="edge" attr.name="mean_confidence" attr.type="double"/>',
        '  <graph id="kb" edgedefault="directed">',
    ]
    for n in nodes:
        out.append(
            f'    <node id="n{n["id"]}"><data key="name">{_xml_text(n["name"])}</data>'
            f'<data key="label">{_xml_text(n["label"])}</data>'
            f'<data key="mention_count">{n["mention_count"]}</data>'
            + (f'<data key="external_id">{_xml_text(n["external_id"])}</data>' if n.get("external_id") is not None else "")
            + f'<data key="aliases">{_xml_text(_utf8_text(_flat(n.get("aliases", {}))))}</data></node>'
        )
    for i, e in enumerate(edges):
        out.append(
            f'    <edge id="e{i}" source="n{e["source"]}" target="n{e["target"]}">'
            f'<data key="rel">{_xml_text(e["label"])}</data><data key="count">{e["count"]}</data>'
            f'<data key="max_confidence">{e["max_confidence"]!r}</data>'
            f'<data key="mean_confidence">{e["mean_confidence"]!r}</data></edge>'
        )
    out += ["  </graph>", "</graphml>", ""]
    return "\n".join(out)

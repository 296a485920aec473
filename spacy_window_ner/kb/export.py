"""Exporting the entity graph for other tools: JSONL, CSV and GraphML serializers, with the
sanitising each format needs."""
import csv
import json
import re
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple, Union
from xml.sax.saxutils import escape as xml_escape

from ..files import atomic_write
from .query import read_graph
from .store import EDGE_FIELDS, NODE_FIELDS, KBError

EXPORT_FORMATS = ("jsonl", "csv", "graphml")
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
    object a line; csv: OUTPUT for the nodes and OUTPUT's stem + "_edges.csv" beside it for the
    edges; graphml: one GraphML file (readable by networkx, Gephi, yEd). Each file is written
    atomically (files.atomic_write); csv replaces its two files one after the other.

    Every name and label is written as stored, except that: characters that no UTF-8 file can
    hold (lone surrogates) become U+FFFD in every format; in GraphML, so does every character
    XML 1.0 forbids (controls other than tab, newline and carriage return; U+FFFE, U+FFFF);
    in CSV, a text cell that starts with "=", "+", "-", "@", tab or carriage return gets a
    leading "'" so that spreadsheets don't run it as a formula (OWASP's advice on CSV
    injection). Ids and numbers are written as they are.

    nodes (List[Dict[str, Any]]): The nodes: "id", "name", "label", "mention_count".
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
                    row = {key: _utf8_text(value) for key, value in item.items()}
                    file_.write(json.dumps({"type": kind, **row}, ensure_ascii=False) + "\n")
    elif fmt == "csv":
        with atomic_write(output, newline="") as nodes_file, atomic_write(edges_csv_path(output), newline="") as edges_file:
            for file_, items, default in ((nodes_file, nodes, NODE_FIELDS), (edges_file, edges, EDGE_FIELDS)):
                writer = csv.DictWriter(file_, fieldnames=_fields(items, default))
                writer.writeheader()
                writer.writerows({key: _csv_cell(value) for key, value in item.items()} for item in items)
    else:
        with atomic_write(output) as file_:
            file_.write(_graphml(nodes, edges))


def edges_csv_path(output: Path) -> Path:
    """Where the csv export writes the edges, beside the nodes file.

    output (Path): The nodes file.
    RETURNS (Path): OUTPUT's stem + "_edges.csv".
    """
    return Path(output).with_name(Path(output).stem + "_edges.csv")


def _fields(items: List[Dict[str, Any]], default: Sequence[str]) -> List[str]:
    return list(items[0]) if items else list(default)


def _utf8_text(value: Any) -> Any:
    """A string with its lone surrogates (which UTF-8 can't encode) replaced by U+FFFD."""
    return _SURROGATES.sub("\ufffd", value) if isinstance(value, str) else value


def _csv_cell(value: Any) -> Any:
    """A CSV cell: a string that a spreadsheet would run as a formula gets a leading "'"."""
    if not isinstance(value, str):
        return value
    value = _utf8_text(value)
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
            f'<data key="mention_count">{n["mention_count"]}</data></node>'
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

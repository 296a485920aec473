"""kb export for every possible name: each format read back by a standard parser (json, csv,
xml.etree) gives the names as stored, up to the documented replacements: U+FFFD for lone
surrogates (all formats) and for the characters XML 1.0 forbids (GraphML), \\xNN for the
control characters of CSV cells (but tab and line breaks), and a leading "'" on CSV text cells
that a spreadsheet would run as a formula."""
import csv
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Dict, List

import spacy
from hypothesis import HealthCheck, given, settings, strategies as st

from spacy_window_ner import kb

NS = {"g": "http://graphml.graphdrawing.org/xmlns"}
HOSTILE = "=+-@\t\r\n\x00\x07\x0b\x1b\x7f\"'<>&]]>\ufffe\uffff\ud800\udfff"
names = st.text(st.one_of(st.characters(blacklist_categories=()), st.sampled_from(HOSTILE)), max_size=12)


def utf8(name: str) -> str:
    return re.sub("[\ud800-\udfff]", "\ufffd", name)


def csv_cell(name: str) -> str:
    name = re.sub("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]", lambda m: f"\\x{ord(m.group()):02x}", utf8(name))
    return "'" + name if name[:1] in ("=", "+", "-", "@", "\t", "\r") else name


def xml_text(name: str) -> str:
    return re.sub("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]", "\ufffd", utf8(name))


def read_back(output: Path, fmt: str) -> Dict[str, List[Dict[str, Any]]]:
    """Nodes and edges (names, labels, aliases, ids) as a standard parser reads the export."""
    if fmt == "jsonl":
        rows = [json.loads(line) for line in output.read_text(encoding="utf8").split("\n") if line]
        return {
            "nodes": [{k: r[k] for k in ("id", "name", "label", "aliases")} for r in rows if r["type"] == "node"],
            "edges": [{k: r[k] for k in ("source", "target", "label")} for r in rows if r["type"] == "edge"],
        }
    if fmt == "csv":
        with (output / kb.CSV_FILES["nodes"]).open(encoding="utf8", newline="") as file_:
            nodes = [
                {"id": int(r["id"]), "name": r["name"], "label": r["label"], "aliases": json.loads(r["aliases"])}
                for r in csv.DictReader(file_)
            ]
        with (output / kb.CSV_FILES["edges"]).open(encoding="utf8", newline="") as file_:
            edges = [{"source": int(r["source"]), "target": int(r["target"]), "label": r["label"]} for r in csv.DictReader(file_)]
        return {"nodes": nodes, "edges": edges}
    graph = ET.parse(output).getroot().find("g:graph", NS)

    def data(element: ET.Element, key: str) -> str:
        return element.find(f"g:data[@key='{key}']", NS).text or ""

    return {
        "nodes": [
            {"id": int(n.get("id")[1:]), "name": data(n, "name"), "label": data(n, "label"), "aliases": json.loads(data(n, "aliases"))}
            for n in graph.findall("g:node", NS)
        ],
        "edges": [{"source": int(e.get("source")[1:]), "target": int(e.get("target")[1:]), "label": data(e, "rel")} for e in graph.findall("g:edge", NS)],
    }


def expected(nodes: List[Dict[str, Any]], edges: List[Dict[str, Any]], fmt: str) -> Dict[str, List[Dict[str, Any]]]:
    clean = {"jsonl": utf8, "csv": csv_cell, "graphml": xml_text}[fmt]
    # Aliases are JSON text in a CSV cell or a GraphML attribute: every control character is a
    # JSON escape there, so they read back as stored, but for surrogates (and, in GraphML, the
    # two non-characters XML forbids).
    in_json = {"jsonl": utf8, "csv": utf8, "graphml": lambda name: utf8(name).replace("\ufffe", "\ufffd").replace("\uffff", "\ufffd")}[fmt]
    return {
        "nodes": [
            {"id": n["id"], "name": clean(n["name"]), "label": clean(n["label"]),
             "aliases": {in_json(alias): count for alias, count in n["aliases"].items()}}
            for n in nodes
        ],
        "edges": [{"source": e["source"], "target": e["target"], "label": clean(e["label"])} for e in edges],
    }


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entities=st.lists(st.tuples(names, names, names), max_size=5), relation_labels=st.lists(names, max_size=4))
def test_kb_export_round_trips_any_name(tmp_path, entities, relation_labels):
    """Rows as read_graph returns them, with arbitrary names, labels and aliases (lone
    surrogates included, which a UTF-8 database can't even hold), through every format and a
    standard parser."""
    nodes = [
        {"id": i + 1, "name": name, "label": label, "mention_count": 3, "external_id": None, "aliases": {name: 1, alias: 2}}
        for i, (name, label, alias) in enumerate(entities)
    ]
    edges = [
        {"source": nodes[i % len(nodes)]["id"], "target": nodes[-1]["id"], "label": label, "count": 2,
         "max_confidence": 0.75, "mean_confidence": 0.5}
        for i, label in enumerate(relation_labels if nodes else [])
    ]
    for fmt in kb.EXPORT_FORMATS:
        output = tmp_path / f"graph.{fmt}"
        kb.write_graph(nodes, edges, output, fmt)
        assert read_back(output, fmt) == expected(nodes, edges, fmt)


class Linker:
    """A relation between every pair of consecutive entities, labelled with a hostile string."""

    label = "=HYPERLINK(\"http://x\")\x1b<rel>"

    def __call__(self, doc):
        from spacy_window_ner.relations import Relation, set_relations

        ents = list(doc.ents)
        set_relations(doc, [Relation(a, b, self.label, 0.5) for a, b in zip(ents, ents[1:])])
        return doc


@spacy.Language.factory("test_kb_export_linker")
def make_linker(nlp, name):
    return Linker()


def test_kb_export_hostile_names_from_a_pipeline(tmp_path):
    """A knowledge base built from text by an entity_ruler: names with XML-forbidden control
    characters, formula prefixes and markup, exported in each format and parsed back."""
    hostile = {"=cmd|' /C calc'!A0": "ORG", "Bell\x07 \x1b[31mRed": "PER", "@SUM(1+1)": "<b>\x00L\"'"}
    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns([{"label": label, "pattern": [{"ORTH": t.text} for t in nlp.make_doc(name)]} for name, label in hostile.items()])
    nlp.add_pipe("test_kb_export_linker")
    corpus = tmp_path / "hostile.txt"
    corpus.write_text(" and ".join(hostile) + " met.\n", encoding="utf8")
    db = tmp_path / "kb.sqlite"
    kb.build_kb(nlp, [corpus], db, lines=True)
    nodes, edges = kb.read_graph(db)
    assert sorted((n["name"], n["label"]) for n in nodes) == sorted(hostile.items())
    assert len(edges) == 2
    for fmt in kb.EXPORT_FORMATS:
        output = tmp_path / f"graph.{fmt}"
        assert kb.export_graph(db, output, fmt) == (3, 2)
        assert read_back(output, fmt) == expected(nodes, edges, fmt)
    with (tmp_path / "graph.csv" / "nodes.csv").open(encoding="utf8", newline="") as file_:
        cells = [cell for row in csv.reader(file_) for cell in row]
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in cells)

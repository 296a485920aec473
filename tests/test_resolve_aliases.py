"""User alias files (spacy_window_ner.kb.resolve.aliases): JSONL and CSV, validated."""
import json

import pytest

from spacy_window_ner.kb.resolve import AliasEntry, read_alias_file
from spacy_window_ner.kb.store import KBError


def test_read_alias_file_jsonl(tmp_path):
    path = tmp_path / "aliases.jsonl"
    lines = [
        {"canonical": "United Nations", "aliases": ["U.N.", "UN"], "label": "Org", "id": "Q1065"},
        {},
        {"canonical": "Москва", "aliases": ["Moscow", "モスクワ"]},
        {"canonical": "Cairo", "aliases": ["القاهرة"], "label": None, "id": 85},
    ]
    path.write_text("\n".join(json.dumps(x, ensure_ascii=False) if x else "" for x in lines) + "\n", encoding="utf8")
    assert read_alias_file(path) == [
        AliasEntry("United Nations", ("U.N.", "UN"), "Org", "Q1065", 1),
        AliasEntry("Москва", ("Moscow", "モスクワ"), None, None, 3),
        AliasEntry("Cairo", ("القاهرة",), None, "85", 4),
    ]


def test_read_alias_file_csv(tmp_path):
    path = tmp_path / "aliases.csv"
    path.write_text(
        "\ufeffcanonical,aliases,label,id\nUnited Nations,U.N.|UN,Org,Q1065\n\n\"Kennedy, John F.\",JFK,,\nMoscow,,Loc,\n",
        encoding="utf8",
    )
    assert read_alias_file(path) == [
        AliasEntry("United Nations", ("U.N.", "UN"), "Org", "Q1065", 2),
        AliasEntry("Kennedy, John F.", ("JFK",), None, None, 4),
        AliasEntry("Moscow", (), "Loc", None, 5),
    ]


def test_read_alias_file_csv_columns_in_any_order(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("label,canonical\nOrg,Exxon\n", encoding="utf8")
    assert read_alias_file(path) == [AliasEntry("Exxon", (), "Org", None, 2)]


@pytest.mark.parametrize(
    "name,text,message",
    [
        ("a.jsonl", '{"canonical": "A"}\n{"canonical": "B", \n', r"a\.jsonl:2: not a JSON object"),
        ("a.jsonl", '["A"]\n', r"a\.jsonl:1: a list where an object"),
        ("a.jsonl", '{"canonical": ""}\n', r"a\.jsonl:1: the canonical name is missing or empty"),
        ("a.jsonl", '{"aliases": ["x"]}\n', r"a\.jsonl:1: the canonical name is missing"),
        ("a.jsonl", '{"canonical": "A", "aliases": "B"}\n', r"a\.jsonl:1: \"aliases\" must be a list"),
        ("a.jsonl", '{"canonical": "A", "aliases": ["B", " "]}\n', r"a\.jsonl:1: an empty alias"),
        ("a.jsonl", '{"canonical": "A", "alias": ["B"]}\n', r"a\.jsonl:1: unknown field\(s\) 'alias'"),
        ("a.jsonl", '{"canonical": "A", "label": ""}\n', r"a\.jsonl:1: the label must be"),
        ("a.jsonl", '{"canonical": "A", "id": [1]}\n', r"a\.jsonl:1: the id must be"),
        ("a.csv", "name,aliases\nA,B\n", r"a\.csv:1: the header must name"),
        ("a.csv", "canonical,aliases\nA,B\nC,D,E\n", r"a\.csv:3: 3 cells where the header has 2"),
        ("a.csv", "canonical,aliases\nA,B||C\n", r"a\.csv:2: an empty alias"),
        ("a.csv", "canonical,aliases\n,B\n", r"a\.csv:2: the canonical name is missing"),
        ("a.txt", "A\n", r"a\.txt: an alias file must be JSONL"),
    ],
)
def test_read_alias_file_errors(tmp_path, name, text, message):
    path = tmp_path / name
    path.write_text(text, encoding="utf8")
    with pytest.raises(KBError, match=message):
        read_alias_file(path)


def test_read_alias_file_unreadable(tmp_path):
    with pytest.raises(KBError, match="can't read the alias file"):
        read_alias_file(tmp_path / "missing.jsonl")
    path = tmp_path / "latin1.csv"
    path.write_bytes("canonical\nMünchen\n".encode("latin-1"))
    with pytest.raises(KBError, match=r"latin1\.csv:2: not UTF-8"):
        read_alias_file(path)

"""Text from documents and models, made safe where people read it: on a terminal, in a
spreadsheet, or in a JSON-lines file that line-based tools split.

A terminal acts on control characters (ESC and CSI start escape sequences that can set the
title, move the cursor or rewrite what was printed), a spreadsheet shows them raw or chokes
on them, and `str.splitlines()` splits a JSON line at U+0085, U+2028 and U+2029 even though
JSON allows them raw. So every such text goes through one of these functions.
"""
import json
import re
from typing import Any

# C0, DEL and C1: ESC (\x1b) and CSI (\x9b) start terminal escape sequences.
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
# CONTROL but tab, newline and carriage return, which a CSV cell holds quoted.
CONTROL_IN_CELL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# What json.dumps leaves raw that a line reader or a terminal acts on: DEL, C1 (U+0085, NEL,
# among them) and the Unicode line and paragraph separators.
RAW_IN_JSON = re.compile("[\x7f-\x9f\u2028\u2029]")


def printable(text: str) -> str:
    """Text safe to print on a terminal: control characters written as \\xNN escapes.

    text (str): The text.
    RETURNS (str): E.g. "a\\x1b]0;title\\x07b" for "a", ESC, "]0;title", BEL, "b".
    """
    return CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def cell_text(text: str) -> str:
    """Text for a CSV cell: control characters other than tab, newline and carriage return
    written as \\xNN escapes.

    text (str): The text.
    RETURNS (str): The cell's text.
    """
    return CONTROL_IN_CELL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def json_line(value: Any, **kwargs: Any) -> str:
    """JSON with non-ASCII text kept readable, but DEL, C1 and the line and paragraph
    separators escaped (\\u0085, \\u2028): still valid JSON, one line for every line reader.

    value (Any): What to serialize.
    **kwargs: Passed to json.dumps (e.g. indent).
    RETURNS (str): The JSON text.
    """
    return RAW_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", json.dumps(value, ensure_ascii=False, **kwargs))

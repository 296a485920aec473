"""The commands' terminal output: number cells, and the cells of kb query's tables, cut to fit
columns as wide as the terminal (80 if unknown): a path keeps its end, a relation its arrow, a
sentence the mention it shows."""
import re
from typing import Any, List, Optional

from ..escape import printable


def pct(value: Any) -> str:
    """A score in percent with two decimals; "-" if it is not a number."""
    return f"{100 * value:.2f}" if is_number(value) else "-"


def is_number(value: Any) -> bool:
    """A number, not a bool: nlp.evaluate's scores mix numbers with dicts and None."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def conf(value: Optional[float]) -> str:
    """A confidence with three decimals; "-" for none."""
    return "-" if value is None else f"{value:.3f}"


def bar(share: float, width: int = 20) -> str:
    """A bar for a share in [-1, 1], up to `width` characters: "+" above 0, "-" below."""
    n = int(round(abs(share) * width))
    return ("+" if share >= 0 else "-") * n


# The tables of kb query: columns fit the terminal's width (80 if unknown), cells are cut to them
TABLE_SPACING = 3
CONF_WIDTH = 5  # "0.973"
MAX_DOCUMENT_WIDTH = 24  # or a third of the terminal (a quarter beside relations), if wider
MAX_LABEL_WIDTH = 16
MIN_SENTENCE_WIDTH = 40
MIN_RELATION_WIDTH = 24
MAX_CUT_WORD = 12  # the sentence window leaves out a word it cuts in two, up to this length
WHITESPACE = re.compile(r"\s+")


def column_width(cells: List[str], header: str, most: int) -> int:
    """The width of a column: its longest cell or header, at most `most`."""
    return min(most, max(len(header), *(len(cell) for cell in cells)))


def fit(text: str, width: int, *, keep_end: bool = False) -> str:
    """Text cut to `width` characters, "…" where it was cut: at the end, or at the start with
    `keep_end` (for paths, whose file name and line matter most)."""
    if len(text) <= width:
        return text
    return "…" + text[len(text) - width + 1 :] if keep_end else text[: width - 1] + "…"


def relation_cell(name: str, other: str, direction: str, width: int) -> str:
    """"HEAD → TAIL" in at most `width` characters: a long name is cut, the arrow always shows."""
    room = width - 3
    if len(name) + len(other) > room:
        # Each name gets half the room, or what the other leaves.
        name_w = max(room // 2, room - len(other))
        name = fit(name, name_w)
        other = fit(other, room - len(name))
    return f"{name} → {other}" if direction == "out" else f"{other} → {name}"


def sentence_window(sentence: str, start: Optional[int], end: Optional[int], width: int) -> str:
    """A stored sentence on one line, printable, and cut to `width` characters around the mention
    at characters [start, end) of it: the mention stays whole (even if longer than `width`), the
    context on each side shares the rest, and "…" marks a side that was cut.

    sentence (str): The sentence as stored.
    start (Optional[int]): The mention's first character in it (None: cut at the end).
    end (Optional[int]): The character after the mention.
    width (int): The most characters to show.
    RETURNS (str): The window.
    """
    if start is None or end is None:
        start = end = 0
    start = max(0, min(start, len(sentence)))
    end = max(start, min(end, len(sentence)))

    def clean(part: str) -> str:
        return printable(WHITESPACE.sub(" ", part))

    before, mention, after = clean(sentence[:start]).lstrip(), clean(sentence[start:end]), clean(sentence[end:]).rstrip()
    text = before + mention + after
    if len(text) <= width:
        return text
    if len(mention) >= width - 2:
        return ("…" if before else "") + mention + ("…" if after else "")
    # Context for both sides, half each; a side too short to use its half leaves it to the other.
    room = width - len(mention)
    n_before = min(len(before), room // 2)
    n_after = min(len(after), room - n_before)
    n_before = min(len(before), room - n_after)
    # An ellipsis takes the place of one character of the side it cuts; a word cut in two is
    # left out, if it is not too long.
    left, right = before, after
    if n_before < len(before):
        left = before[len(before) - n_before + 1 :]
        if not before[len(before) - n_before].isspace() and 0 <= left.find(" ") < MAX_CUT_WORD:
            left = left[left.find(" ") + 1 :]
        left = "…" + left
    if n_after < len(after):
        right = after[: n_after - 1]
        if not after[n_after - 1].isspace() and len(right) - MAX_CUT_WORD < right.rfind(" "):
            right = right[: right.rfind(" ")]
        right = right + "…"
    return left + mention + right

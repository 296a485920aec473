"""The structure of a name, read from its text and label: titles, given names, initials,
surname and suffix for a person ("President John F. Kennedy Jr."); a leading "the" and a
corporate designator for an organisation ("The Exxon Corp."); acronyms and initialisms for any
label ("U.N." / "United Nations", "AP" / "Associated Press").

`parse_name` reads a name once; `name_score` scores two parsed names of one label in [0, 1]
from their structure alone; `name_blocking_keys` gives the keys that put two names that may
score above zero in one block. Every name score above zero comes from a rule that also shares a
key, so blocking never hides a pair the scorer would have kept.
"""
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Dict, FrozenSet, Iterator, List, Sequence, Set, Tuple

from .tables import (
    CORPORATE_DESIGNATORS,
    FUNCTION_WORDS,
    LOC_LABELS,
    NAME_SUFFIXES,
    NICKNAMES,
    ORG_LABELS,
    PERSON_LABELS,
    PLACES,
    TITLES,
)

# The pair scores of the name rules, in [0, 1]. Equal names score 1; the others rank how sure
# each rule is: a person's given names matching in order (initials and short forms allowed),
# two names of one place (tables.PLACES), an acronym whose letters are the initials of the other
# name, a place with and without its qualifier ("Memphis, Tenn." / "Memphis"), a surname alone
# or given names after a role ("Beatle John Lennon" / "John Lennon"), an organisation's first
# words ("Ford" / "Ford Motor").
SCORE_SAME = 1.0
SCORE_GIVEN_NAMES = 0.9
SCORE_PLACE = 0.9
SCORE_ACRONYM = 0.85
SCORE_QUALIFIED = 0.85
SCORE_SURNAME = 0.8
SCORE_GIVEN_INNER = 0.8
SCORE_PREFIX = 0.7

# tables.PLACES by each of its names: name -> the place's first name.
PLACE_OF: Dict[str, str] = {name: names[0] for names in PLACES for name in names}

_DOTTED = re.compile(r"^(?:\w\.){2,}\w?$|^(?:\w\.){1,}\w$")  # "u.s.", "u.s", "j.f."
_WORD = re.compile(r"\w+")
_APOSTROPHES = str.maketrans("", "", "'’‘`")


# A pass computes the name_key of the names around each mention it places, and of each name
# it reads, many times over: cached, like parse_name (strings of a few dozen bytes each).
@lru_cache(maxsize=1 << 16)
def name_key(text: str) -> str:
    """The key two names are equal by: NFKC (full-width and compatibility forms folded),
    case-folded, whitespace collapsed. Works for names in any script.

    text (str): A name as written.
    RETURNS (str): Its key.
    """
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    return " ".join(folded.split())


@dataclass(frozen=True)
class Name:
    """A name read into its parts.

    key (str): `name_key` of the text.
    label (str): The mention label it was read for.
    words (Tuple[str, ...]): The identifying words, without title, suffix, designator or a
        leading "the", full stops and apostrophes dropped ("u.s." -> "us").
    titles (Tuple[str, ...]): For persons, the words up to the last title or role before the
        surname ("texas", "gov" of "Texas Gov. John Connally").
    suffix (Tuple[str, ...]): Trailing name suffixes, for persons ("jr").
    acronym (str): The letters when the name is one word written as an acronym ("AP", "U.N."),
        else "".
    initialisms (FrozenSet[str]): The initials of a name of two or more words, with and without
        its function words ("united nations" -> "un").
    is_person (bool): Whether its label means a person (tables.PERSON_LABELS).
    is_org (bool): Whether its label means an organisation (tables.ORG_LABELS).
    is_place (bool): Whether its label means a place (tables.LOC_LABELS).
    qualifier (Tuple[str, ...]): For a place, what follows its first comma, a place named by
        tables.PLACES read as its first name ("Memphis, Tenn." -> ("tennessee",)).
    place (str): For a place that tables.PLACES names, its first name there ("U.S." ->
        "united states"), else "".
    ident (str): The words and suffix that identify it, joined: names with one ident are one name.
    specificity (float): How much it says: 1 for each identifying word, suffix or qualifier,
        0.5 for each initial.
    surname (str): A person's surname: the last identifying word.
    given (Tuple[str, ...]): A person's given names and initials, name particles left out.
    """

    key: str
    label: str
    words: Tuple[str, ...]
    titles: Tuple[str, ...] = ()
    suffix: Tuple[str, ...] = ()
    acronym: str = ""
    initialisms: FrozenSet[str] = frozenset()
    is_person: bool = False
    is_org: bool = False
    is_place: bool = False
    qualifier: Tuple[str, ...] = ()
    place: str = ""
    ident: str = field(init=False)
    specificity: float = field(init=False)
    surname: str = field(init=False)
    given: Tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        # ident: the words and suffix that identify the name; two names with one ident are one
        # name written two ways ("President Kennedy" and "Kennedy", "Exxon Corp." and "Exxon").
        object.__setattr__(self, "ident", " ".join(self.words + self.suffix + self.qualifier))
        # specificity: how much the name says: 1 a word, 0.5 an initial ("J. F. Kennedy" says
        # less than "John F. Kennedy"), 1 a suffix or qualifier.
        specificity = sum(1.0 if len(w) > 1 else 0.5 for w in self.words) + len(self.suffix) + len(self.qualifier)
        object.__setattr__(self, "specificity", specificity)
        # A person's surname is the last identifying word, the given names and initials are the
        # words before it, name particles ("de", "van") left out.
        object.__setattr__(self, "surname", self.words[-1] if self.words else "")
        object.__setattr__(self, "given", tuple(w for w in self.words[:-1] if w not in FUNCTION_WORDS))


def _tokens(key: str, expand_initials: bool) -> List[str]:
    """Split a name key into words: apostrophes dropped, dotted initialisms joined into one word
    ("u.s." -> "us") or, with expand_initials, split into one word per letter ("j.f." -> "j", "f")."""
    words: List[str] = []
    for piece in key.translate(_APOSTROPHES).split():
        if _DOTTED.match(piece):
            letters = piece.replace(".", "")
            words.extend(letters if expand_initials else [letters])
        else:
            words.extend(_WORD.findall(piece))
    return words


def _is_acronym(text: str, words: List[str]) -> bool:
    """Whether a one-word name is written as an acronym: two to ten letters, upper case (or a
    script without case), or with full stops between the letters."""
    if len(words) != 1 or not 2 <= len(words[0]) <= 10 or not words[0].isalpha():
        return False
    written = "".join(text.split()).translate(_APOSTROPHES)
    if "." in written and _DOTTED.match(written.casefold()):
        return True
    return written.isupper() or (written.isalpha() and written.upper() == written.lower())


# A pass parses each name of a component many times; the cache holds the names of the last few
# components, at about 1 kB each, so a pass's memory doesn't grow with the base (at 1 << 17 it held
# 121 MiB at 1M synthetic mentions; at 1 << 14, 16 MiB, and the pass took no longer).
@lru_cache(maxsize=1 << 14)
def parse_name(text: str, label: str) -> Name:
    """Read a name into its parts. Titles, roles and suffixes are read for person labels only
    ("General Motors" keeps its "General"), a qualifier after a comma and the names of
    tables.PLACES for place labels, corporate designators for the other labels; a leading "the"
    for any label. Never strips a name down to nothing.

    text (str): The name as written.
    label (str): Its mention label.
    RETURNS (Name): The parts.
    """
    key = name_key(text)
    is_person = label.casefold() in PERSON_LABELS
    is_org = label.casefold() in ORG_LABELS
    is_place = label.casefold() in LOC_LABELS
    head, comma, tail = key.partition(",")
    if not (is_place and comma and _tokens(head, False) and _tokens(tail, False)):
        head, tail = key, ""
    # A person's initials written together ("J.F. Kennedy") are one given name each.
    words = _tokens(head, expand_initials=is_person) or [key]  # [key]: a name of marks only ("&")
    titles: List[str] = []
    suffix: List[str] = []
    qualifier: Tuple[str, ...] = ()
    place = ""
    if len(words) > 1 and words[0] == "the":
        words = words[1:]
    if is_person:
        while len(words) > 1 and words[-1] in NAME_SUFFIXES:
            suffix.insert(0, words.pop())
        # Everything up to the last title or role before the surname describes the person:
        # "U.S. Sen. Robert Kennedy", "Dallas Police Officer J.D. Tippit".
        last = max((i for i, w in enumerate(words[:-1]) if w in TITLES), default=-1)
        titles, words = words[: last + 1], words[last + 1:]
    elif is_place:
        raw_qualifier = " ".join(_tokens(tail, False))
        if raw_qualifier:
            qualifier = (PLACE_OF.get(raw_qualifier, raw_qualifier),)
        place = PLACE_OF.get(" ".join(words + ([raw_qualifier] if raw_qualifier else [])), "")
        if not place and not raw_qualifier:
            place = PLACE_OF.get(" ".join(words), "")
    else:
        while len(words) > 1 and words[-1] in CORPORATE_DESIGNATORS:
            words.pop()
    acronym = words[0] if _is_acronym(text, words) else ""
    initialisms: FrozenSet[str] = frozenset()
    # A person's initials ("JFK") are no key: they link every person with the same initials, and
    # so their surnames' blocks, into one component that grows with the base (1M synthetic
    # mentions: 89,620 in the largest, against 5,370 without; benchmarks/resolution/scale.py), and
    # on the CoNLL04 gold set they added no pairwise F1. An alias entry names a person's initials.
    if not is_person and len(words) >= 2:
        content = [w for w in words if w not in FUNCTION_WORDS]
        initialisms = frozenset(
            "".join(w[0] for w in chosen) for chosen in (words, content) if len(chosen) >= 2
        )
    return Name(
        key, label, tuple(words), tuple(titles), tuple(suffix), acronym, initialisms, is_person, is_org,
        is_place, qualifier, place,
    )


def _same_given(a: str, b: str) -> bool:
    """Whether two given names may be the same: equal, one is the other's initial, or they are
    forms of one name (tables.NICKNAMES: "jack" and "john")."""
    if a == b or (len(a) == 1 and b.startswith(a)) or (len(b) == 1 and a.startswith(b)):
        return True
    return bool(NICKNAMES.get(a, frozenset((a,))) & NICKNAMES.get(b, frozenset((b,))))


def _given_names_fit(short: Tuple[str, ...], long: Tuple[str, ...], initial_first: bool = True) -> bool:
    """Whether the shorter list of given names fits the longer: the first names match (by an
    initial too, if initial_first), and the rest match in order ("John Kennedy" fits "John F.
    Kennedy"; "Robert Kennedy" does not)."""
    if not short:
        return True
    if not long or not _same_given(short[0], long[0]):
        return False
    if not initial_first and min(len(short[0]), len(long[0])) == 1 and short[0] != long[0]:
        return False
    position = 1
    for name in short[1:]:
        while position < len(long) and not _same_given(name, long[position]):
            position += 1
        if position == len(long):
            return False
        position += 1
    return True


def _given_score(short: Tuple[str, ...], long: Tuple[str, ...]) -> float:
    """The score of two persons' given names with one surname: SCORE_GIVEN_NAMES when the
    shorter fits the longer, SCORE_GIVEN_INNER when it fits after words the longer has before
    them (a role the parser doesn't know: "Beatle John Lennon"), its first name spelled out
    there ("Robert Ford" does not fit "Gerald R. Ford"), else 0."""
    if _given_names_fit(short, long):
        return SCORE_GIVEN_NAMES
    if any(_given_names_fit(short, long[start:], initial_first=False) for start in range(1, len(long))):
        return SCORE_GIVEN_INNER
    return 0.0


def name_score(a: Name, b: Name) -> float:
    """How sure the names' structure alone is that they name one entity, in [0, 1]: 1 for one
    name written two ways, less for a partial name that fits a fuller one, 0 when nothing says
    they are one or something says they are not (different given names, "Jr." against "Sr.").
    Symmetric. The labels are the caller's business: it compares names read for one label.

    a (Name): One name.
    b (Name): The other.
    RETURNS (float): The score.
    """
    if a.ident == b.ident:
        return SCORE_SAME
    if a.is_place and b.is_place and a.place and a.place == b.place:
        return SCORE_PLACE
    if a.acronym and a.acronym in b.initialisms or b.acronym and b.acronym in a.initialisms:
        return SCORE_ACRONYM
    if a.is_person and b.is_person:
        if a.surname != b.surname or (a.suffix and b.suffix and a.suffix != b.suffix):
            return 0.0
        short, long = sorted((a.given, b.given), key=len)
        if not short:
            return SCORE_SURNAME
        return _given_score(short, long)
    if a.is_place and b.is_place and a.words == b.words and not (a.qualifier and b.qualifier):
        return SCORE_QUALIFIED
    if a.is_org and b.is_org:
        short_words, long_words = sorted((a.words, b.words), key=len)
        if long_words[: len(short_words)] == short_words and any(w not in FUNCTION_WORDS for w in short_words):
            return SCORE_PREFIX
    return 0.0


def name_blocking_keys(name: Name) -> FrozenSet[Tuple[str, str]]:
    """The (kind, value) keys of a name: its identifying words ("n"), its acronym or initialisms
    ("a"; every one-word name of 2 to 10 letters, as the key must not depend on case), a
    person's surname ("s"), an organisation's first word ("h"), a place's words without its
    qualifier ("q") and its tables.PLACES name ("g"). Two names that `name_score`
    scores above zero share one of these, and `candidate_pairs` finds them in the key's block.

    name (Name): The parsed name.
    RETURNS (FrozenSet[Tuple[str, str]]): Its keys.
    """
    keys = {("n", name.ident)}
    if len(name.words) == 1 and 2 <= len(name.words[0]) <= 10 and name.words[0].isalpha():
        # Whether a word is an acronym depends on how it is written ("AP", "Ap"), but the keys
        # depend on the name key alone: any short word gets the acronym key.
        keys.add(("a", name.words[0]))
    keys.update(("a", initials) for initials in name.initialisms)
    if name.is_person and name.words:
        keys.add(("s", name.surname))
    if name.is_org and name.words:
        keys.add(("h", name.words[0]))
    if name.is_place:
        keys.add(("q", " ".join(name.words)))
        if name.place:
            keys.add(("g", name.place))
    return frozenset(keys)


def candidate_pairs(kind: str, names: Sequence[Name]) -> Iterator[Tuple[int, int]]:
    """The pairs of names in one block that `name_score` may score above zero, by their
    positions; never all pairs of a large block. Names with one ident are left out (they are
    one name): in an acronym block ("a") one-word names meet longer names; in a surname block
    ("s") a surname alone meets every name, the others only names that share a given name (in
    any of its forms, tables.NICKNAMES) or whose given names an initial of theirs begins; in a
    first-word block ("h") a name meets
    the names it begins; in a place block ("g", "q") every pair meets.

    kind (str): The block's key kind, as `name_blocking_keys` gives it.
    names (Sequence[Name]): The names of the block.
    YIELDS (Tuple[int, int]): Positions (i, j), i < j.
    """
    if kind == "a":
        short = [i for i, n in enumerate(names) if len(n.words) == 1]
        long = [i for i, n in enumerate(names) if len(n.words) > 1]
        yield from ((min(i, j), max(i, j)) for i in short for j in long)
    elif kind == "s":
        # Names meet through a given name spelled out (in any of its forms: "jack" is "john"),
        # or an initial and the given names it begins; a surname alone meets every name.
        by_word: Dict[str, List[int]] = {}
        by_initial: Dict[str, List[int]] = {}
        probes: List[Tuple[int, str]] = []
        pairs: Set[Tuple[int, int]] = set()
        for i, n in enumerate(names):
            if not n.given:
                pairs.update((min(i, j), max(i, j)) for j in range(len(names)) if j != i)
            for g in n.given:
                if len(g) == 1:
                    probes.append((i, g))
                    by_initial.setdefault(g, []).append(i)
                    continue
                for form in NICKNAMES.get(g, frozenset()) | {g}:
                    by_word.setdefault(form, []).append(i)
                    by_initial.setdefault(form[0], []).append(i)
        for group in by_word.values():
            pairs.update((group[x], j) for x in range(len(group)) for j in group[x + 1:] if group[x] != j)
        for i, initial in probes:
            pairs.update((min(i, j), max(i, j)) for j in by_initial.get(initial, ()) if j != i)
        yield from sorted(pairs)
    elif kind in ("g", "q"):  # small: the names of one place
        yield from ((i, j) for i in range(len(names)) for j in range(i + 1, len(names)))
    elif kind == "h":
        by_words: Dict[Tuple[str, ...], List[int]] = {}
        for i, n in enumerate(names):
            by_words.setdefault(n.words, []).append(i)
        for i, n in enumerate(names):
            for size in range(1, len(n.words)):
                yield from ((min(i, j), max(i, j)) for j in by_words.get(n.words[:size], ()))

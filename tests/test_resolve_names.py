"""Name structure (spacy_window_ner.kb.resolve.names): parts, pair scores, blocking keys."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spacy_window_ner.kb.resolve import blocking_keys
from spacy_window_ner.kb.resolve.names import (
    SCORE_ACRONYM,
    SCORE_GIVEN_INNER,
    SCORE_GIVEN_NAMES,
    SCORE_PLACE,
    SCORE_PREFIX,
    SCORE_QUALIFIED,
    SCORE_SAME,
    SCORE_SURNAME,
    candidate_pairs,
    name_blocking_keys,
    name_key,
    name_score,
    parse_name,
)


def test_name_key_any_script():
    assert name_key("  Lee   Harvey\tOswald ") == "lee harvey oswald"
    assert name_key("ＡＢＣ") == "abc"  # full-width folded
    assert name_key("STRASSE") == name_key("straße")  # case folding, not lower()
    assert name_key("МОСКВА") == "москва"
    assert name_key("東京") == "東京"


@pytest.mark.parametrize(
    "text,label,words,titles,suffix",
    [
        ("President John F. Kennedy Jr.", "Peop", ("john", "f", "kennedy"), ("president",), ("jr",)),
        ("U.S. Sen. Robert Kennedy", "Peop", ("robert", "kennedy"), ("u", "s", "sen"), ()),
        ("J.F. Kennedy", "PERSON", ("j", "f", "kennedy"), (), ()),
        ("Mr. Oswald", "per", ("oswald",), ("mr",), ()),
        ("Mr.", "Peop", ("mr",), (), ()),  # never stripped to nothing
        ("The Exxon Corp.", "Org", ("exxon",), (), ()),
        ("General Motors", "Org", ("general", "motors"), (), ()),
        ("U.N.", "Org", ("un",), (), ()),
        ("O'Neill", "Peop", ("oneill",), (), ()),
    ],
)
def test_parse_name_parts(text, label, words, titles, suffix):
    name = parse_name(text, label)
    assert (name.words, name.titles, name.suffix) == (words, titles, suffix)


def test_parse_name_acronyms_places():
    assert parse_name("AP", "Org").acronym == "ap"
    assert parse_name("U.N.", "Org").acronym == "un"
    assert parse_name("Ap", "Org").acronym == ""
    assert parse_name("Associated Press", "Org").initialisms == {"ap"}
    assert parse_name("Union of Soviet Socialist Republics", "Loc").initialisms == {"uossr", "ussr"}
    assert parse_name("John Kennedy", "Peop").initialisms == set()
    # No person's initials: they would join every surname's block that shares them.
    assert parse_name("John Fitzgerald Kennedy", "Peop").initialisms == set()
    assert not blocking_keys("John M. Smith", "Peop") & blocking_keys("Jane M. Stone", "Peop")
    memphis = parse_name("Memphis , Tenn.", "Loc")
    assert (memphis.words, memphis.qualifier, memphis.ident) == (("memphis",), ("tennessee",), "memphis tennessee")
    assert parse_name("Calif.", "Loc").place == "california"
    assert parse_name("Calif.", "Org").place == ""


@pytest.mark.parametrize(
    "a,b,label,score",
    [
        ("President Kennedy", "Kennedy", "Peop", SCORE_SAME),
        ("John F. Kennedy", "J. F. Kennedy", "Peop", SCORE_GIVEN_NAMES),
        ("Jack Kennedy", "John F. Kennedy", "Peop", SCORE_GIVEN_NAMES),
        ("Bob Dole", "Robert Dole", "Peop", SCORE_GIVEN_NAMES),
        ("John Lennon", "Beatle John Lennon", "Peop", SCORE_GIVEN_INNER),
        ("Robert Ford", "Gerald R. Ford", "Peop", 0.0),
        ("Kennedy", "Robert F. Kennedy", "Peop", SCORE_SURNAME),
        ("Robert Kennedy", "John F. Kennedy", "Peop", 0.0),
        ("John Kennedy Jr.", "John Kennedy Sr.", "Peop", 0.0),
        ("Kennedy", "Kennedy Airport", "Loc", 0.0),
        ("AP", "Associated Press", "Org", SCORE_ACRONYM),
        ("U.S.", "America", "Loc", SCORE_PLACE),
        ("Memphis", "Memphis, Tenn.", "Loc", SCORE_QUALIFIED),
        ("Paris, Texas", "Paris, France", "Loc", 0.0),
        ("Ford", "Ford Motor", "Org", SCORE_PREFIX),
        ("Ford", "Ford Motor", "Misc", 0.0),
        ("Oswald", "Kennedy", "Peop", 0.0),
    ],
)
def test_name_score(a, b, label, score):
    assert name_score(parse_name(a, label), parse_name(b, label)) == score
    assert name_score(parse_name(b, label), parse_name(a, label)) == score


def test_candidate_pairs_cover_every_scored_pair():
    texts = [
        "Kennedy", "John F. Kennedy", "Jack Kennedy", "Robert Kennedy", "Bob Kennedy", "Beatle John Kennedy",
        "Edward M. Kennedy", "Ted Kennedy", "J. Kennedy", "Kennedy Jr.",
    ]
    names = [parse_name(t, "Peop") for t in texts]
    block = [n for n in names if ("s", "kennedy") in name_blocking_keys(n)]
    assert len(block) == len(names)
    pairs = set(candidate_pairs("s", block))
    for i in range(len(block)):
        for j in range(i + 1, len(block)):
            if name_score(block[i], block[j]) > 0:
                assert (i, j) in pairs, (texts[i], texts[j])
    assert len(pairs) < len(block) * (len(block) - 1) // 2  # not all pairs


# Names of every kind of block: persons by surname, organisations by acronym and first word,
# places by their words and tables.PLACES.
PAIR_TEXTS = [
    "Kennedy", "John F. Kennedy", "Jack Kennedy", "Robert Kennedy", "Bob Kennedy", "Beatle John Kennedy", "J. Kennedy",
    "Kennedy Jr.", "Ted Kennedy", "Edward M. Kennedy", "R. F. Kennedy", "UN", "U.N.", "United Nations", "AP", "Associated Press",
    "Ford", "Ford Motor", "Ford Motor Co.", "Memphis", "Memphis, Tenn.", "U.S.", "United States", "America",
]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(PAIR_TEXTS), min_size=2, max_size=10, unique=True), st.sampled_from(["s", "a", "h", "g", "q"]))
def test_candidate_pairs_depend_on_the_pair_alone(texts, kind):
    """Whether candidate_pairs compares two names depends on the two alone, not on the rest of
    the block: resolve.insert_names scores a new name against kept ones without their block."""
    label = "Org" if kind in ("a", "h") else "Loc" if kind in ("g", "q") else "Peop"
    names = [parse_name(t, label) for t in texts]
    pairs = set(candidate_pairs(kind, names))
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            alone = set(candidate_pairs(kind, (names[i], names[j])))
            assert ((i, j) in pairs) == ((0, 1) in alone), (texts[i], texts[j])

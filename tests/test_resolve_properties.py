"""Properties the store relies on (spacy_window_ner.kb.resolve): `resolve` does not depend on
the order of its input, and a component's entities are the same resolved alone or with others."""
import random
from collections import defaultdict
from typing import Dict, List

from hypothesis import example, given, settings
from hypothesis import strategies as st

from spacy_window_ner.kb.resolve import AliasEntry, Decision, MentionRecord, ResolveSettings, blocking_keys, resolve
from spacy_window_ner.kb.store import normalize

NAMES = [
    ("John F. Kennedy", "Peop"), ("Robert F. Kennedy", "Peop"), ("Kennedy", "Peop"), ("President Kennedy", "Peop"),
    ("J. F. Kennedy", "Peop"), ("John Kennedy", "Peop"), ("Lee Harvey Oswald", "Peop"), ("Oswald", "Peop"),
    ("Smith", "Peop"), ("Anna Smith", "Peop"), ("A. Smith", "Peop"), ("Ben Smith", "Peop"),
    ("U.N.", "Org"), ("United Nations", "Org"), ("UN", "Org"), ("AP", "Org"), ("Associated Press", "Org"),
    ("Ford", "Org"), ("Ford Motor Co.", "Org"), ("Ford Foundation", "Org"), ("U.S.", "Loc"),
    ("United States", "Loc"), ("Washington", "Loc"), ("Washington", "Peop"), ("Москва", "Loc"),
]
WORDS = ["shot", "Dallas", "senate", "brother", "elected", "car", "press", "news", "the", "of"]
ALIASES = [AliasEntry("Lee Harvey Oswald", ("Oswald", "L.H.O."), "Peop", "Q1"), AliasEntry("Big Ford", ("Ford",), None)]
DECISIONS = [Decision("different", "Peop", "kennedy", "john f. kennedy"), Decision("same", "Org", "ford", "ap")]


@st.composite
def corpora(draw) -> List[MentionRecord]:
    """Documents of a few mentions each, with the words around them, and their neighbours."""
    n_docs = draw(st.integers(1, 8))
    records: List[MentionRecord] = []
    ids = draw(st.permutations(range(1, 200)))
    for doc in range(n_docs):
        picked = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=4))
        for text, label in picked:
            before = " ".join(draw(st.lists(st.sampled_from(WORDS), max_size=3)))
            after = " ".join(draw(st.lists(st.sampled_from(WORDS), max_size=3)))
            sentence = f"{before} {text} {after}"
            start = len(before) + 1
            neighbours = tuple(normalize(t) for t, _ in picked if t != text)
            records.append(MentionRecord(ids[len(records)], doc, text, label, sentence, start, start + len(text), neighbours))
    return records


def as_tuples(resolution):
    return (
        [(e.label, e.canonical, e.mentions, sorted(e.aliases.items()), e.external_id) for e in resolution.entities],
        resolution.ambiguous,
    )


def components(records: List[MentionRecord], aliases, decisions) -> List[List[MentionRecord]]:
    """The components of the contract: names linked by a shared blocking key or a decision."""
    names = sorted({(normalize(r.text), r.label) for r in records})
    parent = {n: n for n in names}

    def find(n):
        while parent[n] != n:
            n = parent[n]
        return n

    by_key: Dict[str, tuple] = {}
    for name in names:
        for key in blocking_keys(name[0], name[1], aliases):
            other = by_key.setdefault(key, name)
            parent[find(name)] = find(other)
    for d in decisions:
        a, b = (normalize(d.a), d.label), (normalize(d.b), d.label)
        if a in parent and b in parent:
            parent[find(a)] = find(b)
    found: Dict[tuple, List[MentionRecord]] = defaultdict(list)
    for r in records:
        found[find((normalize(r.text), r.label))].append(r)
    return list(found.values())


@settings(max_examples=60, deadline=None)
@given(corpora(), st.randoms(use_true_random=False), st.booleans())
def test_resolve_order_free(records, rng, with_curation):
    aliases = ALIASES if with_curation else ()
    decisions = DECISIONS if with_curation else ()
    shuffled = list(records)
    rng.shuffle(shuffled)
    assert as_tuples(resolve(records, aliases=aliases, decisions=decisions)) == as_tuples(
        resolve(shuffled, aliases=aliases[::-1], decisions=decisions[::-1])
    )


@settings(max_examples=60, deadline=None)
@given(corpora(), st.integers(0, 10), st.booleans())
def test_resolve_local_to_components(records, seed, with_curation):
    aliases = ALIASES if with_curation else ()
    decisions = DECISIONS if with_curation else ()
    whole = resolve(records, aliases=aliases, decisions=decisions)
    parts = components(records, aliases, decisions)
    part_of = {r.id: i for i, part in enumerate(parts) for r in part}
    for entity in whole.entities:  # never across components
        assert len({part_of[m] for m in entity.mentions}) == 1
    chosen = random.Random(seed).sample(parts, k=max(1, len(parts) // 2))
    subset = [r for part in chosen for r in part]
    ids = {r.id for r in subset}
    alone = resolve(subset, aliases=aliases, decisions=decisions)
    restricted = [e for e in whole.entities if e.mentions[0] in ids]
    assert as_tuples(alone)[0] == as_tuples(type(whole)(restricted))[0]
    reported = {(alias, label, tuple(names)) for alias, label, names in whole.ambiguous}
    assert {(alias, label, tuple(names)) for alias, label, names in alone.ambiguous} <= reported


GIVEN = ["John", "J.", "Jack", "Robert", "Bob", "R.", "Edward", "Ted", "Theodore", "Mary", "M.", "F.", "Lee", "Harvey"]
SURNAMES = ["Kennedy", "Oswald", "Smith"]


@st.composite
def person_names(draw) -> str:
    given = draw(st.lists(st.sampled_from(GIVEN), max_size=3))
    title = draw(st.sampled_from(["", "President ", "Sen. ", "Mr. "]))
    suffix = draw(st.sampled_from(["", " Jr.", " Sr."]))
    return f"{title}{' '.join(given + [draw(st.sampled_from(SURNAMES))])}{suffix}"


@settings(max_examples=80, deadline=None)
@given(st.lists(person_names(), min_size=1, max_size=25), st.booleans())
@example(["Edward Kennedy", "Ted Kennedy", "Theodore Kennedy"], False)  # Ted fits both, they don't
@example(["John F. Kennedy", "J. Fitzgerald Kennedy", "Jim F. Kennedy", "Kennedy"], True)
def test_resolve_never_chains(texts, context):
    """Every name of an entity fits its canonical name, the most specific one: a shared surname
    or initial never joins two names that don't fit each other."""
    from spacy_window_ner.kb.resolve.names import name_score, parse_name

    records = [
        MentionRecord(i, i, text, "Peop", f"Said {text} today.", 5, 5 + len(text)) for i, text in enumerate(texts)
    ]
    found = resolve(records, settings=ResolveSettings(context=context))
    text_of = {r.id: r.text for r in records}
    for entity in found.entities:
        canonical = parse_name(entity.canonical, "Peop")
        for m in entity.mentions:
            assert name_score(parse_name(text_of[m], "Peop"), canonical) > 0, (text_of[m], entity.canonical)

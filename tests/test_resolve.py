"""Entity resolution (spacy_window_ner.kb.resolve.cluster): which mentions name one entity."""
from typing import Sequence

import numpy
import pytest

from spacy_window_ner.kb.resolve import (
    AliasEntry,
    AliasIndex,
    Decision,
    MentionRecord,
    ResolveSettings,
    blocking_keys,
    resolve,
)
from spacy_window_ner.kb.store import KBError, normalize


def mention(i: int, text: str, label: str = "Peop", sentence: str = "", neighbours: Sequence[str] = (), document: int = 0) -> MentionRecord:
    sentence = sentence or f"Yesterday {text} spoke."
    start = sentence.index(text)
    return MentionRecord(
        i, document or i, text, label, sentence, start, start + len(text), tuple(normalize(n) for n in neighbours)
    )


def groups(resolution):
    """The entities as sets of mention ids."""
    return sorted(sorted(e.mentions) for e in resolution.entities)


def test_resolve_surname_joins_the_one_full_name():
    found = resolve([mention(1, "Lee Harvey Oswald"), mention(2, "Oswald"), mention(3, "Mr. Oswald")])
    assert groups(found) == [[1, 2, 3]]
    entity = found.entities[0]
    assert entity.canonical == "Lee Harvey Oswald"
    assert entity.aliases == {"Lee Harvey Oswald": 1, "Oswald": 1, "Mr. Oswald": 1}
    assert entity.label == "Peop" and entity.external_id is None
    assert found.ambiguous == []


def test_resolve_bare_surname_never_chains_two_people():
    found = resolve([mention(1, "John F. Kennedy"), mention(2, "Robert F. Kennedy"), mention(3, "Kennedy")])
    assert groups(found) == [[1], [2], [3]]
    assert found.ambiguous == [("Kennedy", "Peop", ["John F. Kennedy", "Robert F. Kennedy"])]


def test_resolve_ambiguous_mention_placed_by_its_document():
    found = resolve([
        mention(1, "John F. Kennedy"),
        mention(2, "Robert F. Kennedy"),
        mention(3, "Kennedy", neighbours=["Robert F. Kennedy"]),
        mention(4, "Kennedy", neighbours=["John F. Kennedy"]),
        mention(5, "Kennedy"),
    ])
    assert groups(found) == [[1, 4], [2, 3], [5]]


def test_resolve_ambiguous_mention_placed_by_the_words_around_it():
    found = resolve([
        mention(1, "John F. Kennedy", sentence="John F. Kennedy was shot in Dallas in his motorcade."),
        mention(2, "Robert F. Kennedy", sentence="Robert F. Kennedy was attorney general under his brother."),
        mention(3, "Kennedy", sentence="The motorcade of Kennedy drove through Dallas."),
    ])
    assert groups(found) == [[1, 3], [2]]
    without_context = resolve(
        [mention(1, "John F. Kennedy"), mention(2, "Robert F. Kennedy"), mention(3, "Kennedy")],
        settings=ResolveSettings(context=False),
    )
    assert groups(without_context) == [[1], [2], [3]]


def test_resolve_vectors_place_an_ambiguous_mention():
    space = {"shot": [1.0, 0.0], "killed": [0.9, 0.1], "senate": [0.0, 1.0], "elected": [0.1, 0.9]}

    def vectors(words):
        rows = [space.get(w, [0.0, 0.0]) for w in words]
        return numpy.asarray(rows).mean(axis=0)

    found = resolve(
        [
            mention(1, "John F. Kennedy", sentence="John F. Kennedy shot"),
            mention(2, "Robert F. Kennedy", sentence="Robert F. Kennedy senate"),
            mention(3, "Kennedy", sentence="Kennedy killed"),
        ],
        vectors=vectors,
    )
    assert groups(found) == [[1, 3], [2]]


def test_resolve_titles_roles_and_short_forms():
    found = resolve([
        mention(1, "Robert F. Kennedy"), mention(2, "U.S. Sen. Robert Kennedy"), mention(3, "New York Sen. Bob Kennedy"),
        mention(4, "Beatle John Lennon"), mention(5, "John Lennon"), mention(6, "Martin Luther King Junior"),
        mention(7, "King"),
    ])
    assert groups(found) == [[1, 2, 3], [4, 5], [6, 7]]


def test_resolve_places():
    found = resolve([
        mention(1, "America", "Loc"), mention(2, "U.S.", "Loc"), mention(3, "United States", "Loc"),
        mention(4, "Calif.", "Loc"), mention(5, "California", "Loc"), mention(6, "Memphis , Tenn.", "Loc"),
        mention(7, "Memphis", "Loc"), mention(8, "Memphis, Tennessee", "Loc"), mention(9, "Paris, Texas", "Loc"),
        mention(10, "Paris, France", "Loc"), mention(11, "America", "Org"), mention(12, "Paris", "Loc"),
    ])
    assert groups(found) == [[1, 2, 3], [4, 5], [6, 7, 8], [9], [10], [11], [12]]
    assert ("Paris", "Loc", ["Paris, France", "Paris, Texas"]) in found.ambiguous


def test_resolve_given_names_must_agree():
    found = resolve([mention(1, "John F. Kennedy"), mention(2, "J. F. Kennedy"), mention(3, "John Kennedy"), mention(4, "Edward Kennedy")])
    assert groups(found) == [[1, 2, 3], [4]]


def test_resolve_suffixes_keep_relatives_apart():
    found = resolve([mention(1, "John Kennedy Jr."), mention(2, "John Kennedy Sr.")])
    assert groups(found) == [[1], [2]]


def test_resolve_acronyms_and_initialisms():
    found = resolve([
        mention(1, "U.N.", "Org"), mention(2, "United Nations", "Org"), mention(3, "AP", "Org"),
        mention(4, "The Associated Press", "Org"), mention(5, "U.S.", "Loc"), mention(6, "United States", "Loc"),
        mention(7, "USSR", "Loc"), mention(8, "Union of Soviet Socialist Republics", "Loc"),
    ])
    assert groups(found) == [[1, 2], [3, 4], [5, 6], [7, 8]]
    assert {e.canonical for e in found.entities} == {
        "United Nations", "The Associated Press", "United States", "Union of Soviet Socialist Republics",
    }


def test_resolve_lower_case_word_is_no_acronym():
    found = resolve([mention(1, "Ap", "Org"), mention(2, "Associated Press", "Org")])
    assert groups(found) == [[1], [2]]


def test_resolve_corporate_designators_and_the():
    found = resolve([mention(1, "Exxon Corp.", "Org"), mention(2, "Exxon", "Org"), mention(3, "the Exxon Corporation", "Org")])
    assert groups(found) == [[1, 2, 3]]


def test_resolve_titles_only_for_persons():
    found = resolve([mention(1, "General Motors", "Org"), mention(2, "Motors", "Org")])
    assert groups(found) == [[1], [2]]
    assert groups(resolve([mention(1, "Gov. Mario Cuomo"), mention(2, "Cuomo")])) == [[1, 2]]


def test_resolve_labels_never_merge_by_default():
    found = resolve([mention(1, "Washington", "Peop"), mention(2, "Washington", "Loc")])
    assert groups(found) == [[1], [2]]
    assert {e.label for e in found.entities} == {"Peop", "Loc"}


def test_resolve_non_latin_names():
    found = resolve([
        mention(1, "Москва", "Loc"), mention(2, "МОСКВА", "Loc"), mention(3, "東京", "Loc"), mention(4, "ＡＢＣ", "Org"),
        mention(5, "ABC", "Org"), mention(6, "القاهرة", "Loc"),
    ])
    assert groups(found) == [[1, 2], [3], [4, 5], [6]]


def test_resolve_names_of_marks_only_stay_apart():
    found = resolve([mention(1, "&", "Org"), mention(2, "—", "Org"), mention(3, "&", "Org")])
    assert groups(found) == [[1, 3], [2]]


def test_resolve_alias_entries_across_scripts():
    entries = [AliasEntry("Moscow", ("Москва", "モスクワ"), "Loc", "Q649")]
    found = resolve([mention(1, "МОСКВА", "Loc"), mention(2, "Moscow", "Loc"), mention(3, "モスクワ", "Loc")], aliases=entries)
    assert groups(found) == [[1, 2, 3]]
    assert (found.entities[0].canonical, found.entities[0].external_id) == ("Moscow", "Q649")
    assert found.entities[0].aliases == {"МОСКВА": 1, "Moscow": 1, "モスクワ": 1}


def test_resolve_alias_entries():
    entries = [AliasEntry("Lee Harvey Oswald", ("Oswald", "L.H.O."), "Peop", "Q188000"), AliasEntry("Big Apple", ("New York City",), None)]
    found = resolve(
        [mention(1, "L.H.O."), mention(2, "Oswald"), mention(3, "New York City", "Loc"), mention(4, "Big Apple", "Loc"), mention(5, "Big Apple", "Org")],
        aliases=entries,
    )
    assert groups(found) == [[1, 2], [3, 4, 5]]
    oswald, city = found.entities
    assert (oswald.canonical, oswald.external_id) == ("Lee Harvey Oswald", "Q188000")
    assert city.canonical == "Big Apple" and city.label == "Loc"


def test_resolve_alias_claimed_twice_is_ambiguous():
    entries = [AliasEntry("John F. Kennedy", ("Kennedy",), "Peop"), AliasEntry("Robert F. Kennedy", ("Kennedy",), "Peop")]
    found = resolve([mention(1, "Kennedy"), mention(2, "John F. Kennedy")], aliases=entries)
    assert groups(found) == [[1], [2]]
    assert ("Kennedy", "Peop", ["John F. Kennedy", "Robert F. Kennedy"]) in found.ambiguous
    # "Mr. Kennedy", which only one entry names, is the same name written with a title: it
    # doesn't make the ambiguous "Kennedy" that entry's.
    entries.append(AliasEntry("John F. Kennedy", ("Mr. Kennedy",), "Peop"))
    found = resolve([mention(1, "Kennedy"), mention(2, "John F. Kennedy"), mention(3, "Mr. Kennedy")], aliases=entries)
    assert groups(found) == [[1], [2, 3]]
    decided = [Decision("same", "Peop", "kennedy", "john f. kennedy")]
    assert groups(resolve([mention(1, "Kennedy"), mention(2, "John F. Kennedy")], aliases=entries, decisions=decided)) == [[1, 2]]


def test_resolve_decisions():
    records = [mention(1, "Kennedy"), mention(2, "John F. Kennedy"), mention(3, "Kathleen Kennedy")]
    assert groups(resolve(records)) == [[1], [2], [3]]
    same = [Decision("same", "Peop", "kathleen kennedy", "john f. kennedy")]
    assert groups(resolve(records, decisions=same)) == [[1, 2, 3]]
    different = [Decision("different", "Peop", "kennedy", "john f. kennedy")]
    assert groups(resolve([mention(1, "Kennedy"), mention(2, "John F. Kennedy")], decisions=different)) == [[1], [2]]
    with pytest.raises(KBError, match="unknown decision kind"):
        resolve(records, decisions=[Decision("maybe", "Peop", "a", "b")])


def test_resolve_threshold():
    records = [mention(1, "Ford Motor", "Org"), mention(2, "Ford", "Org")]
    assert groups(resolve(records, settings=ResolveSettings(threshold=0.6))) == [[1, 2]]
    assert groups(resolve(records, settings=ResolveSettings(threshold=0.95))) == [[1], [2]]
    with pytest.raises(KBError, match=r"in \[0, 1\]"):
        resolve(records, settings=ResolveSettings(threshold=1.5))


def test_resolve_bad_mentions():
    with pytest.raises(KBError, match="given twice"):
        resolve([mention(1, "Oswald"), mention(1, "Kennedy")])
    with pytest.raises(KBError, match="empty name"):
        resolve([MentionRecord(1, 1, "  ", "Peop", "  ", 0, 2)])


def test_resolve_empty_input():
    found = resolve([])
    assert found.entities == [] and found.ambiguous == []


def test_resolve_common_name_is_no_giant_cluster():
    first = ["Anna", "Ben", "Carl", "Dora", "Emil", "Fay", "Gus", "Hal"]
    records = [mention(i + 1, f"{name} Smith") for i, name in enumerate(first)]
    records += [mention(100 + i, "Smith") for i in range(20)]
    found = resolve(records)
    assert max(len(e.mentions) for e in found.entities) == 20  # the bare "Smith"s, together, alone
    assert len(found.entities) == len(first) + 1


def test_blocking_keys():
    assert blocking_keys("Kennedy", "Peop") & blocking_keys("John F. Kennedy", "Peop")
    assert not blocking_keys("Kennedy", "Peop") & blocking_keys("Kennedy", "Loc")
    assert blocking_keys("AP", "Org") & blocking_keys("Associated Press", "Org")
    assert blocking_keys("U.S.", "Loc") & blocking_keys("United States", "Loc")
    assert blocking_keys("Kennedy", "Peop") == blocking_keys("KENNEDY ", "Peop")
    entries = [AliasEntry("Big Apple", ("New York City",), "Loc")]
    assert blocking_keys("Big Apple", "Loc", entries) & blocking_keys("new york city", "Loc", entries)
    assert not blocking_keys("Big Apple", "Org", entries) & blocking_keys("new york city", "Org", entries)


def test_resolve_alias_index_reused():
    entries = [AliasEntry("Lee Harvey Oswald", ("Oswald",), "Peop", "Q1"), AliasEntry("lee harvey oswald", ("L.H.O.",), "Peop")]
    index = AliasIndex(entries)
    assert list(index) == entries and len(index) == 2 and index[1] == entries[1]
    records = [mention(1, "L.H.O."), mention(2, "Oswald")]
    assert blocking_keys("Oswald", "Peop", index) == blocking_keys("Oswald", "Peop", entries)
    for given in (index, entries, entries[::-1]):  # the entries' order doesn't matter
        found = resolve(records, aliases=given)
        assert groups(found) == [[1, 2]]
        assert (found.entities[0].canonical, found.entities[0].external_id) == ("Lee Harvey Oswald", "Q1")


def test_resolve_partial_name_must_fit_the_anchor_itself():
    # "Washington" fits "Washington, D.C." (without its qualifier), which joins "District of
    # Columbia" (one place), but "Washington" does not fit "District of Columbia" itself.
    found = resolve([mention(1, "District of Columbia", "Loc"), mention(2, "Washington, D.C.", "Loc"), mention(3, "Washington", "Loc")])
    assert groups(found) == [[1, 2], [3]]


def test_resolve_anchors_join_only_if_all_fit():
    # "J. Fitzgerald Kennedy" fits both others, which don't fit each other: it joins one of
    # them, never both, whatever the threshold.
    records = [mention(1, "John F. Kennedy"), mention(2, "Jim F. Kennedy"), mention(3, "J. Fitzgerald Kennedy")]
    for threshold in (0.0, 0.75):
        found = groups(resolve(records, settings=ResolveSettings(threshold=threshold)))
        assert [1, 2] not in found and max(len(g) for g in found) == 2
    assert groups(resolve(records + [mention(4, "Kennedy")], settings=ResolveSettings(threshold=1.0))) == [[1], [2], [3], [4]]


def test_resolve_initials_say_less_than_names():
    found = resolve([mention(1, "John F. Kennedy"), mention(2, "Jim F. Kennedy"), mention(3, "J. F. Kennedy")])
    assert groups(found) == [[1], [2], [3]]
    assert found.ambiguous == [("J. F. Kennedy", "Peop", ["Jim F. Kennedy", "John F. Kennedy"])]


def test_place_by_context_takes_a_profile_sum_as_its_mentions():
    """A candidate's first sample mentions given as their ProfileSum place mentions as those
    mentions would; a mention whose window (id + LOOKAHEAD) takes only part of a sum is refused."""
    from spacy_window_ner.kb.resolve import LOOKAHEAD, ProfileSum, context_features, place_by_context, summed_features

    senate = [mention(i, "John F. Kennedy", sentence=f"John F. Kennedy spoke in the senate about taxes {i}.") for i in (1, 2, 3)]
    court = [mention(i, "Robert F. Kennedy", sentence=f"Robert F. Kennedy argued in court about crime {i}.") for i in (4, 5)]
    bare = [
        mention(20, "Kennedy", sentence="Kennedy spoke in the senate."), mention(21, "Kennedy", sentence="Kennedy argued in court."),
        mention(22, "Kennedy", sentence="Kennedy ate lunch."),
    ]
    samples = {10: senate, 11: court}
    expected = place_by_context(bare, [10, 11], {}, samples)
    assert expected == {20: 10, 21: 11}

    def summed(records):
        return ProfileSum(records[0].id, records[-1].id, len(records), summed_features([context_features(r) for r in records]))

    for given in ({10: [summed(senate)], 11: [summed(court)]}, {10: [summed(senate[:2]), senate[2]], 11: court}):
        assert place_by_context(bare, [10, 11], {}, given) == expected
    # A sum of mentions far apart: a mention whose window reaches the first but not the last.
    far = ProfileSum(1, 3 * LOOKAHEAD, 2, context_features(senate[0]) + context_features(senate[1]))
    with pytest.raises(ValueError, match="only part of a profile sum"):
        place_by_context(bare, [10, 11], {}, {10: [far], 11: court})


def test_profile_index_takes_a_sum_whole_as_its_mentions_one_by_one():
    """A profile given a sum of contexts at once (its first addition, copied whole) scores as one
    grown a context at a time, and keeps its own copy of the features it was given."""
    from collections import Counter

    from spacy_window_ner.kb.resolve.context import ProfileIndex

    contexts = [Counter({"w:senate": 1.0, "w:taxes": 0.5}), Counter({"w:senate": 2.0, "n:boston": 1.0}), Counter({"w:court": 1.0})]
    whole, grown = ProfileIndex([7, 8]), ProfileIndex([7, 8])
    given = sum(contexts[:2], Counter())
    whole.add(7, given)
    whole.add(8, contexts[2])
    for features in contexts[:2]:
        grown.add(7, features)
    grown.add(8, contexts[2])
    given["w:senate"] = 50.0  # the caller's Counter changes later: the profile does not
    for mention in (Counter({"w:senate": 1.0}), Counter({"w:court": 1.0, "w:taxes": 1.0}), Counter({"n:boston": 2.0})):
        expected = grown.similarities(mention, None)
        found = whole.similarities(mention, None)
        assert found.keys() == expected.keys() and expected
        assert all(found[e] == pytest.approx(expected[e]) for e in expected)
    assert whole.similarities(Counter({"w:court": 1.0}), None) == {8: pytest.approx(1.0)}

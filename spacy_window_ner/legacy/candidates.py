"""window_rel's candidate generator rel_candidates.v1, as published before rel_candidates.v2
(candidates.py): its cap is per doc, so a long doc gets fewer candidates than its parts would."""
from spacy.util import registry

from ..candidates import NearbyPairs


@registry.misc("spacy-window-ner.rel_candidates.v1")
def make_rel_candidates_v1(
    max_distance: int = 100, max_candidates_per_doc: int = 2000, typed: bool = False
) -> NearbyPairs:
    """The candidates of window_rel in pipelines before rel_candidates.v2: every ordered pair
    (head, tail) of distinct entities in one sentence when the doc has sentence boundaries,
    otherwise with at most max_distance tokens between them; above max_candidates_per_doc,
    the nearest pairs of the whole doc, so a long doc gets fewer than its parts would.

    max_distance (int): Without sentence boundaries, the largest token gap between the two
        entities of a candidate.
    max_candidates_per_doc (int): The most candidates per doc; the nearest pairs are kept.
    typed (bool): Keep only the pairs whose (head label, tail label) some relation of the
        training data has. window_rel learns these pairs in initialize and keeps them in its
        cfg["licensed_pairs"], so a saved pipeline proposes the same candidates.
    RETURNS (NearbyPairs): The candidate generator.
    """
    if isinstance(max_candidates_per_doc, bool) or not isinstance(max_candidates_per_doc, int) or max_candidates_per_doc < 1:
        raise ValueError(f"max_candidates_per_doc must be a positive integer, not {max_candidates_per_doc!r}.")
    return NearbyPairs(max_distance=max_distance, max_candidates=max_candidates_per_doc, typed=typed)

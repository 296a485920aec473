"""Splink 5 (Fellegi-Sunter record linkage, on DuckDB) as a library baseline for entity
resolution: the gold mentions in, clusters out, with Splink's documented defaults wherever
there is one.

Each mention is one record: its label and normalised name, and the name's parts a
person/organisation linkage would compare (first word, last word, acronym). The model:
- blocking (candidate pairs): same label and last word, or same label and acronym;
- comparisons: Jaro-Winkler on the name (Splink's thresholds 0.92/0.88/0.7), exact first word,
  exact acronym;
- training as Splink's tutorials do it: the prior from exact-name matches (assumed recall 0.6),
  u by random sampling, m by expectation maximisation blocked on (label, last word);
- clusters: Splink's connected components of the pairs at match probability >= 0.95.
Splink clusters by connected components, so a bare "Kennedy" that matches two full names joins
them: the chaining the package's own resolver is built to avoid.

Needs `pip install "splink>=5,<6"` (DuckDB and pyarrow come with it).
"""
import logging
import re
from typing import Dict, Iterable

from spacy_window_ner.kb.store import normalize

from .gold import GoldMention, Partition

THRESHOLD = 0.95


def name_parts(text: str) -> Dict[str, str]:
    """The columns Splink compares for one name.

    text (str): The mention's text.
    RETURNS (Dict[str, str]): "name" (normalised), "first" and "last" (words), "acronym" (the
        letters of a dotted or upper-case name, else the initials of its capitalised words).
    """
    words = re.findall(r"\w+", text.casefold())
    compact = text.replace(" ", "")
    if re.fullmatch(r"(?:[A-Za-z]\.)+[A-Za-z]?\.?", compact) or compact.isupper():
        acronym = "".join(re.findall(r"[A-Za-z]", compact))
    else:
        acronym = "".join(word[0] for word in re.findall(r"[A-Z]\w*", text))
    return {
        "name": normalize(text),
        "first": words[0] if words else "",
        "last": words[-1] if words else "",
        "acronym": acronym.casefold(),
    }


def splink_baseline(mentions: Iterable[GoldMention], *, threshold: float = THRESHOLD) -> Partition:
    """Splink's clusters of the mentions (see the module docstring).

    mentions (Iterable[GoldMention]): The mentions.
    threshold (float): The match probability that links two records.
    RETURNS (Dict[str, str]): {mention id: entity id}.
    """
    import pyarrow
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    rows = [{"unique_id": m.id, "label": m.label, **name_parts(m.text)} for m in mentions]
    settings = SettingsCreator(
        link_type="dedupe_only",
        blocking_rules_to_generate_predictions=[block_on("label", "last"), block_on("label", "acronym")],
        comparisons=[cl.JaroWinklerAtThresholds("name"), cl.ExactMatch("first"), cl.ExactMatch("acronym")],
    )
    linker = Linker(DuckDBAPI().register(pyarrow.Table.from_pylist(rows)), settings, log_level=logging.ERROR)
    linker.training.estimate_probability_two_random_records_match([block_on("label", "name")], recall=0.6)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("label", "last"))
    predictions = linker.inference.predict(threshold_match_probability=threshold)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(predictions, threshold)
    return {str(row["unique_id"]): f"s{row['cluster_id']}" for row in clusters.as_record_list()}

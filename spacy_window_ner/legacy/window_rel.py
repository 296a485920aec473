"""What window_rel reads from the configs and cfgs that earlier versions saved.

- Before the candidates block (version 0.1, and until 008fcc8), `[components.window_rel]` and
  the component's cfg held the options of its candidates, `max_distance` and
  `max_candidates_per_doc`. `upgrade_candidates` makes them the options of rel_candidates.v1,
  the candidates (a cap per doc) those pipelines had, untyped, as they were.
- Version 0.1's cfg has no "spans_key", and its "threshold" was the threshold of the labels
  without a tuned one, where it now is one threshold for all labels. `upgrade_cfg` gives those
  labels that threshold as their own, and unsets it.

`max_distance` and `max_candidates_per_doc` stay arguments of the factory (null in a fresh
config): spaCy checks a component's config against its factory's arguments and refuses any other
key, and writes every argument into the config it saves. So every pipeline saved so far names
them, and a factory without them could load none of those.
"""
from typing import Any, Dict, Optional, Tuple

from ..candidates import CandidateGenerator, NearbyPairs
from .candidates import make_rel_candidates_v1

# The keys of window_rel's config and cfg before the candidates block.
LEGACY_OPTIONS = ("max_distance", "max_candidates_per_doc")


def upgrade_candidates(
    candidates: CandidateGenerator,
    name: str,
    *,
    max_distance: Optional[int] = None,
    max_candidates_per_doc: Optional[int] = None,
) -> CandidateGenerator:
    """The candidate generator of a window_rel whose config or cfg holds the options of its
    candidates, as versions before the candidates block saved them: rel_candidates.v1 with
    those options (where they are set; the generator's own where not).

    candidates (CandidateGenerator): The generator of the config.
    name (str): The component's name, for the error message.
    max_distance (Optional[int]): The saved max_distance, or None.
    max_candidates_per_doc (Optional[int]): The saved max_candidates_per_doc, or None.
    RETURNS (CandidateGenerator): candidates itself if neither option is set.
    """
    if max_distance is None and max_candidates_per_doc is None:
        return candidates
    if not isinstance(candidates, NearbyPairs):
        raise ValueError(
            f"{name} got max_distance / max_candidates_per_doc and a custom candidate generator. "
            "They are options of spacy-window-ner.rel_candidates.v1: set them in "
            f"[components.{name}.candidates], and remove them from [components.{name}]."
        )
    return make_rel_candidates_v1(
        max_distance=candidates.max_distance if max_distance is None else max_distance,
        max_candidates_per_doc=candidates.max_candidates if max_candidates_per_doc is None else max_candidates_per_doc,
        # Those pipelines had no typed candidates (and their cfg no licensed pairs), whatever
        # the default generator's typed is now.
        typed=False,
    )


def upgrade_cfg(saved: Dict[str, Any]) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """The cfg that a window_rel saved, as this version reads it, and the options of the
    candidates it held (for upgrade_candidates).

    saved (Dict[str, Any]): The cfg as it was saved (empty if none was read).
    RETURNS (Tuple[Dict[str, Any], Dict[str, Any]]): The cfg, without LEGACY_OPTIONS, and
        those of them it held.
    """
    cfg = dict(saved)
    options = {key: cfg.pop(key) for key in LEGACY_OPTIONS if key in cfg}
    if cfg and "spans_key" not in cfg and isinstance(cfg.get("threshold"), float):
        tuned = cfg.get("thresholds", {})
        cfg["thresholds"] = {label: tuned.get(label, cfg["threshold"]) for label in cfg.get("labels", [])}
        cfg["threshold"] = None
    return cfg, options

"""Every entry point in setup.cfg resolves, and its left side is the registered name."""
from importlib.metadata import entry_points

import pytest
from spacy import registry
from thinc.api import registry as thinc_registry

GROUPS = {
    "spacy_factories": None,
    "spacy_architectures": registry.architectures,
    "spacy_scorers": registry.scorers,
    "spacy_misc": registry.misc,
    "spacy_readers": registry.readers,
    "thinc_layers": thinc_registry.layers,
}


def our_entry_points():
    return [
        (group, ep)
        for group in GROUPS
        for ep in entry_points(group=group)
        if ep.value.startswith("spacy_window_ner")
    ]


def test_entry_points_exist():
    groups = {group for group, _ in our_entry_points()}
    assert "thinc_layers" in groups


@pytest.mark.parametrize("group,ep", our_entry_points(), ids=lambda x: getattr(x, "name", x))
def test_entry_points_resolve_to_registered_names(group, ep):
    func = ep.load()
    if group == "spacy_factories":
        from spacy.language import Language

        assert Language.has_factory(ep.name)
        assert Language.get_factory_meta(ep.name).factory == ep.name
    else:
        assert GROUPS[group].get(ep.name) is func


def setup_cfg_entry_points():
    """The entry points setup.cfg declares, read from the file: the installed ones are
    those of the last `pip install`, which may predate a new name."""
    import configparser
    from pathlib import Path

    config = configparser.ConfigParser()
    config.read(Path(__file__).parent.parent / "setup.cfg")
    declared = []
    for group, body in config["options.entry_points"].items():
        for line in body.strip().splitlines():
            name, value = (part.strip() for part in line.split("=", 1))
            declared.append((group, name, value))
    return declared


@pytest.mark.parametrize("group,name,value", [ep for ep in setup_cfg_entry_points() if ep[0] in GROUPS and GROUPS[ep[0]]])
def test_entry_points_in_setup_cfg_name_the_registered_function(group, name, value):
    """Each registry entry of setup.cfg points at the function registered under its name
    (so WindowScorer.v1 stays the flat v1 layer and .v2 the one with the hidden child)."""
    import importlib

    importlib.import_module("spacy_window_ner")  # registers everything with the decorators
    module, attr = value.split(":")
    func = getattr(importlib.import_module(module), attr)
    # get_all() lets what the decorators registered override the installed entry points.
    assert GROUPS[group].get_all()[name] is func


def test_entry_points_in_setup_cfg_cover_the_versions():
    names = {name for _, name, _ in setup_cfg_entry_points()}
    for name in ("WindowScorer.v1", "WindowScorer.v2", "PairScorer.v1", "PairScorer.v2", "Hidden.v1",
                 "WindowNER.v1", "WindowNER.v2", "RelationScorer.v1", "RelationScorer.v2"):
        assert f"spacy-window-ner.{name}" in names

"""Every entry point in setup.cfg resolves, and its left side is the registered name."""
import configparser
from importlib import import_module
from importlib.metadata import entry_points
from pathlib import Path

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


SETUP_CFG = Path(__file__).parent.parent / "setup.cfg"


def declared_entry_points():
    """(group, name, "module:attr") of every entry point setup.cfg declares in GROUPS."""
    parser = configparser.ConfigParser()
    parser.optionxform = str  # keep the names' case
    parser.read(SETUP_CFG)
    section = parser["options.entry_points"]
    return [
        (group, *(part.strip() for part in line.split("=", 1)))
        for group in GROUPS if group in section
        for line in section[group].strip().splitlines()
    ]


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


def check_registered(group, name, func):
    if group == "spacy_factories":
        from spacy.language import Language

        assert Language.has_factory(name)
        assert Language.get_factory_meta(name).factory == name
    else:
        assert GROUPS[group].get(name) is func


@pytest.mark.parametrize("group,ep", our_entry_points(), ids=lambda x: getattr(x, "name", x))
def test_entry_points_resolve_to_registered_names(group, ep):
    declared = {(g, name): value for g, name, value in declared_entry_points()}
    if declared.get((group, ep.name)) != ep.value:
        pytest.skip(f"installed metadata is older than setup.cfg ({ep.value}); reinstall with pip install -e .")
    check_registered(group, ep.name, ep.load())


@pytest.mark.parametrize("group,name,value", declared_entry_points(), ids=lambda x: x)
def test_entry_points_in_setup_cfg_resolve_to_registered_names(group, name, value):
    """setup.cfg itself, so that an entry point added or moved is checked before a reinstall."""
    module, attr = value.split(":")
    check_registered(group, name, getattr(import_module(module), attr))


def test_entry_points_in_setup_cfg_cover_the_versions():
    names = {name for _, name, _ in declared_entry_points()}
    for name in ("WindowScorer.v1", "WindowScorer.v2", "WindowScorer.v3", "PairScorer.v1", "PairScorer.v2",
                 "PairScorer.v3", "Windows.v1", "PairFeatures.v1", "Hidden.v1", "Output.v1",
                 "WindowNER.v1", "WindowNER.v2", "WindowNER.v3", "RelationScorer.v1", "RelationScorer.v2",
                 "RelationScorer.v3"):
        assert f"spacy-window-ner.{name}" in names

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

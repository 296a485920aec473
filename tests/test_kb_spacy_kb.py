"""kb export --format spacy-kb (kb/spacy_kb.py): the resolved entities as a spaCy
InMemoryLookupKB, with frequencies, vectors from a pipeline's static vectors and alias priors
from the mention counts; spaCy's entity_linker initialises with it and finds the right
candidates; pipelines without vectors and directories of other files are refused."""
from pathlib import Path
from typing import Any, Dict, List

import numpy
import pytest
import spacy
from spacy.language import Language
from spacy.ml.models.entity_linker import get_candidates, load_kb
from spacy.training import Example

from spacy_window_ner import kb

from .util import failed

# Word vectors of the test pipeline: 4 dimensions, chosen so that means are exact in float32.
WORDS = {
    "John": [1.0, 0.0, 0.0, 0.0],
    "F.": [0.0, 1.0, 0.0, 0.0],
    "Kennedy": [0.0, 0.0, 1.0, 0.0],
    "Robert": [0.0, 0.0, 0.0, 1.0],
    "Boston": [2.0, 2.0, 2.0, 2.0],
}
# Store.entity_table rows: two entities share the alias "Kennedy" (written "KENNEDY" for the
# second), one has no word with a vector.
ENTITIES: List[Dict[str, Any]] = [
    {"id": 1, "name": "John F. Kennedy", "label": "PER", "mention_count": 5, "external_id": "Q9696",
     "aliases": {"John F. Kennedy": 3, "Kennedy": 2}},
    {"id": 2, "name": "Robert F. Kennedy", "label": "PER", "mention_count": 2, "external_id": None,
     "aliases": {"Robert F. Kennedy": 1, "KENNEDY": 1}},
    {"id": 3, "name": "Boston", "label": "LOC", "mention_count": 4, "external_id": None, "aliases": {"Boston": 4}},
    {"id": 4, "name": "Xyzzy", "label": "ORG", "mention_count": 1, "external_id": None, "aliases": {"Xyzzy": 1}},
]


@pytest.fixture
def vectors_nlp() -> Language:
    nlp = spacy.blank("en")
    for word, vector in WORDS.items():
        nlp.vocab.set_vector(word, numpy.asarray(vector, dtype="float32"))
    return nlp


def mean(*words: str) -> numpy.ndarray:
    return numpy.mean([WORDS[word] for word in words], axis=0)


def test_kb_spacy_kb_entities_vectors_and_priors(vectors_nlp):
    spacy_kb, counts = kb.make_spacy_kb(ENTITIES, vectors_nlp)
    assert (counts.entities, counts.aliases, counts.without_vector, counts.vector_width) == (4, 6, 1, 4)
    assert sorted(spacy_kb.get_entity_strings()) == ["1", "2", "3", "4"]
    # Vectors: each name's word mean, weighted by the name's mentions.
    jfk = (3 * mean("John", "F.", "Kennedy") + 2 * mean("Kennedy")) / 5
    rfk = mean("Robert", "F.", "Kennedy")  # "KENNEDY" has no vector: vectors are by the word as written
    assert numpy.allclose(spacy_kb.get_vector("1"), jfk) and numpy.allclose(spacy_kb.get_vector("2"), rfk)
    assert numpy.allclose(spacy_kb.get_vector("3"), WORDS["Boston"])
    assert numpy.allclose(spacy_kb.get_vector("4"), 0.0)
    # Priors: mentions by the (normalised) name, over all mentions by it; both spellings alike.
    for alias in ("Kennedy", "KENNEDY"):
        found = {c.entity_: (round(c.prior_prob, 6), c.entity_freq) for c in spacy_kb.get_alias_candidates(alias)}
        assert found == {"1": (round(2 / 3, 6), 5.0), "2": (round(1 / 3, 6), 2.0)}
    assert [(c.entity_, c.prior_prob) for c in spacy_kb.get_alias_candidates("John F. Kennedy")] == [("1", 1.0)]
    assert spacy_kb.get_alias_candidates("kennedy") == []  # spaCy matches an alias as written


def test_kb_spacy_kb_every_alias_is_written(vectors_nlp):
    spacy_kb, counts = kb.make_spacy_kb(ENTITIES, vectors_nlp)
    expected = sorted(alias for entity in ENTITIES for alias in entity["aliases"])
    assert sorted(spacy_kb.get_alias_strings()) == expected and counts.aliases == len(expected) == 6


def write_kb(tmp_path: Path, vectors_nlp: Language, monkeypatch, entities=ENTITIES) -> Path:
    """export_spacy_kb on a store that holds `entities` (a stand-in for the store's entity table)."""

    class Store:
        def __enter__(self):
            return self

        def __exit__(self, *exc_info):
            pass

        def entity_table(self):
            return iter(entities)

    monkeypatch.setattr(kb.spacy_kb, "open_store", lambda db, readonly: Store())
    output = tmp_path / "spacy_kb"
    kb.export_spacy_kb(tmp_path / "kb.sqlite", output, vectors_nlp)
    return output


def test_kb_spacy_kb_entity_linker_initialises_and_finds_candidates(tmp_path, vectors_nlp, monkeypatch):
    output = write_kb(tmp_path, vectors_nlp, monkeypatch)
    assert sorted(child.name for child in output.iterdir()) == sorted(kb.SPACY_KB_FILES)
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    ruler = nlp.add_pipe("entity_ruler")
    linker = nlp.add_pipe("entity_linker", config={"incl_prior": True})
    linker.set_kb(load_kb(output))
    sample = nlp.make_doc("Kennedy spoke in Boston.")
    nlp.initialize(lambda: [Example(sample, sample)])
    assert (linker.kb.get_size_entities(), linker.kb.entity_vector_length) == (4, 4)
    ruler.add_patterns([{"label": "PER", "pattern": "Robert F. Kennedy"}, {"label": "PER", "pattern": "Kennedy"},
                        {"label": "LOC", "pattern": "Boston"}])
    doc = nlp("Robert F. Kennedy met Kennedy in Boston.")
    rfk, kennedy, boston = doc.ents
    assert [c.entity_ for c in get_candidates(linker.kb, rfk)] == ["2"]
    assert sorted(c.entity_ for c in get_candidates(linker.kb, kennedy)) == ["1", "2"]
    assert [c.entity_ for c in get_candidates(linker.kb, boston)] == ["3"]
    assert (rfk.kb_id_, boston.kb_id_) == ("2", "3")  # a single candidate is linked
    assert kennedy.kb_id_ in ("1", "2")


def test_kb_spacy_kb_pipeline_without_vectors_is_refused(tmp_path):
    with pytest.raises(kb.KBError, match="has no static vectors .* such as en_core_web_md"):
        kb.spacy_kb.vectors_pipeline(spacy.blank("en"))
    with pytest.raises(kb.KBError, match="is not a spaCy pipeline"):
        kb.spacy_kb.vectors_pipeline(tmp_path / "missing")


def test_kb_spacy_kb_replaces_its_own_directory_only(tmp_path, vectors_nlp, monkeypatch):
    output = write_kb(tmp_path, vectors_nlp, monkeypatch, ENTITIES[:1])
    write_kb(tmp_path, vectors_nlp, monkeypatch)  # an earlier export is replaced
    loaded = load_kb(output)(spacy.blank("en").vocab)
    assert loaded.get_size_entities() == 4
    (output / "notes.txt").write_text("mine", encoding="utf8")
    with pytest.raises(kb.KBError, match=r"holding other files \(notes.txt\): the spacy-kb export replaces"):
        write_kb(tmp_path, vectors_nlp, monkeypatch)
    assert (output / "notes.txt").exists() and load_kb(output)(spacy.blank("en").vocab).get_size_entities() == 4
    (output / "notes.txt").unlink()
    with pytest.raises(kb.KBError, match="no resolved entities"):
        write_kb(tmp_path, vectors_nlp, monkeypatch, [])
    assert load_kb(output)(spacy.blank("en").vocab).get_size_entities() == 4


def test_kb_spacy_kb_cli_options(tmp_path):
    db = tmp_path / "kb.sqlite"
    assert "--format spacy-kb needs --vectors PIPELINE" in failed("kb", "export", db, "-f", "spacy-kb", "-o", tmp_path / "out")
    assert "--vectors is for --format spacy-kb only" in failed("kb", "export", db, "-f", "mentions", "-o", tmp_path / "m.jsonl", "--vectors", "x")

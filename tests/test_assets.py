"""The embedded sample corpus: enough original sentences, valid annotations, the lecture's examples."""
import warnings
from pathlib import Path

import pytest
import spacy

from spacy_window_ner.readers import read_conll04
from spacy_window_ner.relations import get_relations

SAMPLE = Path(__file__).parent.parent / "assets" / "sample"
SPLITS = ("train", "dev", "test")
ARGUMENT_TYPES = {
    "Work_For": ("Peop", "Org"),
    "Live_In": ("Peop", "Loc"),
    "Located_In": ("Loc", "Loc"),
    "OrgBased_In": ("Org", "Loc"),
    "Kill": ("Peop", "Peop"),
}


@pytest.fixture(scope="module")
def corpus():
    nlp = spacy.blank("en")
    docs = {}
    for split in SPLITS:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # any skipped span or relation fails the test
            docs[split], stats = read_conll04(SAMPLE / f"sample_{split}.json", nlp.vocab)
        assert stats.skipped_records == stats.skipped_entities == stats.skipped_relations == 0
    return docs


def test_assets_sample_is_large_and_split(corpus):
    sizes = {split: len(docs) for split, docs in corpus.items()}
    assert sum(sizes.values()) >= 400
    assert sizes["dev"] >= 50 and sizes["test"] >= 50
    texts = [doc.text for docs in corpus.values() for doc in docs]
    assert len(set(texts)) == len(texts)


def test_assets_sample_uses_the_conll04_schema(corpus):
    for docs in corpus.values():
        labels = {ent.label_ for doc in docs for ent in doc.ents}
        assert labels == {"Peop", "Org", "Loc", "Other"}
        relations = [rel for doc in docs for rel in get_relations(doc)]
        assert {rel.label for rel in relations} == set(ARGUMENT_TYPES)
        for rel in relations:
            assert rel.head in rel.head.doc.ents and rel.tail in rel.tail.doc.ents
            assert (rel.head.label_, rel.tail.label_) == ARGUMENT_TYPES[rel.label]


def test_assets_sample_tokens_match_the_tokenizer(corpus):
    nlp = spacy.blank("en")
    for docs in corpus.values():
        for doc in docs:
            assert [t.text for t in nlp.make_doc(doc.text)] == [t.text for t in doc]


def test_assets_sample_has_the_lecture_examples(corpus):
    by_text = {doc.text: doc for doc in corpus["train"]}
    quinn = by_text["Samuel Quinn was arrested in the Hilton Hotel in Paris in April 1989 ."]
    assert [(e.text, e.label_) for e in quinn.ents] == [
        ("Samuel Quinn", "Peop"), ("Hilton Hotel", "Org"), ("Paris", "Loc")
    ]
    hilton = by_text["Last night , Paris Hilton wowed in a sequin gown ."]
    assert [(e.text, e.label_) for e in hilton.ents] == [("Paris Hilton", "Peop")]

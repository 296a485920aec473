"""The HTML pages of explain and visualize: everything escaped, the confidences found through
get_confidences, each doc once with its relations, a legend, numbers that say more than 1.00.
tests/test_browser.py checks the layout in a real browser."""
import re
from html.parser import HTMLParser

import spacy
from spacy.tokens import Span, SpanGroup

from spacy_window_ner.confidences import set_confidences
from spacy_window_ner.explain import EntityExplanation, WordAttribution
from spacy_window_ner.relations import Relation, set_relations
from spacy_window_ner.render import _percent, explain_html, visualize_html

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
    page = parse_page(visualize_html([doc], thresholds={"<script>alert(2)</script>": 0.5}))
    assert "img" not in page.tags and "script" not in page.tags
    text = "".join(page.text)
    assert "<script>alert(2)</script> →" in text and "90.0%" in text and EVIL in text and "&lt;" not in text
    assert "<script>alert(2)</script> (threshold 50.0%)" in text


def test_render_visualize_reads_confidences_with_get_confidences():
    nlp = ruler("PER")
    doc = nlp("Alice works for Acme.")
    alice, acme = doc.ents
    # A span group with scores, as window_ner also writes, is not where visualize looks.
    doc.spans["window_ner"] = SpanGroup(doc, name="window_ner", spans=[alice, acme], attrs={"scores": [0.125, 0.375]})
    text = "".join(parse_page(visualize_html([doc])).text)
    assert "AlicePER" in text and "12.5%" not in text and "37.5%" not in text
    set_confidences(doc, [alice], [0.625])  # any component can store its confidences so
    text = "".join(parse_page(visualize_html([doc])).text)
    assert "AlicePER 62.5%" in text and "AcmeORG" in text and not re.search(r"ORG \d", text)


def test_render_percent_never_rounds_to_certainty():
    assert [_percent(p) for p in (0.0, 0.0004, 0.0006, 0.5, 0.98765, 0.9994, 0.9996, 1.0)] == [
        "0.0%", "&lt;0.1%", "0.1%", "50.0%", "98.8%", "99.9%", "&gt;99.9%", "100.0%",
    ]


def sections(page: str):
    """The text of each doc's section (tags stripped), in order."""
    return [re.sub("<[^>]+>", "", part) for part in re.findall(r'<section class="doc".*?</section>', page, re.S)]


def test_render_visualize_each_doc_once_with_its_relations():
    nlp = ruler("PER")
    first, second, third = nlp.pipe(["Alice works for Acme .", "Acme hired Alice , then Acme fired her .", "Nothing ."])
    alice, acme = first.ents
    outside = Span(first, 2, 3, label="X")  # a relation argument that is not in doc.ents
    set_relations(first, [Relation(alice, acme, "Work_For", 0.75), Relation(acme, outside, "R&D", 0.5)])
    set_relations(second, [])
    set_confidences(first, [alice, acme], [0.9996, 0.25])
    page = visualize_html([first, second, third], thresholds={"Work_For": 0.4, "Unused": 0.6})
    found = sections(page)
    assert len(found) == 3 and page.count('<p class="text">') == 3
    assert found[0].count("Alice works for Acme") == 0  # the text is interleaved with the entity tags
    assert "Doc 1 5 tokens · 2 entities · 2 relations" in found[0]
    assert "Doc 2 9 tokens · 3 entities · 0 relations" in found[1] and "No relations predicted." in found[1]
    assert "Doc 3 2 tokens · 0 entities" in found[2] and "relation" not in found[2]  # never annotated
    # The relations, with their entities linked to their place in the text, and the argument
    # outside doc.ents shown without a link.
    rows = re.findall(r"<tr>.*?</tr>", page)[1:]
    assert len(rows) == 2
    assert 'href="#doc-1-ent-1"' in rows[0] and 'href="#doc-1-ent-2"' in rows[0] and "Work_For →" in rows[0]
    assert "75.0%" in rows[0] and "&gt;99.9%" in rows[0] and "25.0%" in rows[0]
    assert "R&amp;D →" in rows[1] and rows[1].count("href") == 1 and ">for<" in rows[1]
    assert 'id="doc-1-ent-1"' in page and 'id="doc-2-ent-3"' in page
    # The legend: every entity label in its colour, every relation label with its threshold.
    legend = re.search(r'<section class="legend".*?</section>', page, re.S).group(0)
    assert re.findall(r'background:(#\w+)"><span class="tag">(\w+)<', legend) == [("#7aecec", "ORG"), ("#bfeeb7", "PER"), ("#feca74", "X")]
    text = re.sub("<[^>]+>", "", legend)
    assert "R&amp;D · Unused (threshold 60.0%) · Work_For (threshold 40.0%)" in text
    assert "marginal probability" in text and "sigmoid probability" in text and "&gt;99.9% is at least 99.95%" in text
    assert 'style="background:#bfeeb7" title="PER · confidence 0.999600"' in page


def test_render_visualize_no_docs():
    page = visualize_html([])
    assert "0 docs · 0 entities · 0 relations" in page and "No documents." in page and 'id="legend"' in page


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
    assert "<b>Alice</b> & co" in text and EVIL in text and "confidence 87.5%" in text and "Σ attributions 0.500" in text
    assert "score 2.000" in text and "the entity and 1 word either side" in text
    # Each word's value is written under it (3 significant digits for the page's peak), in full on hover.
    assert '<span class="w" style="background:rgba(38,139,210,0.500);" title="-0.500000"><span class="t">&lt;b&gt;</span><span class="a num">-0.50</span>' in html
    assert '<span class="w in dark" style="background:rgba(220,50,47,1.000);" title="+1.000000"><span class="t">Alice</span><span class="a num">+1.00</span>' in html
    assert "No entities predicted" in explain_html("Nothing here.", [])


def test_render_explain_one_scale_for_the_page():
    """Shades and the number format follow the largest |attribution| on the page, not each entity's."""
    small = EntityExplanation("A", "X", 0, 1, 0.5, ["U-X"], 1.0, 2, [WordAttribution(0, "A", 0, 0.02)])
    large = EntityExplanation("B", "X", 1, 2, 0.5, ["U-X"], 1.0, 2, [WordAttribution(1, "B", 0, -0.08), WordAttribution(2, "c", 1, 0.04)])
    html = explain_html("A B c", [small, large])
    assert re.findall(r"rgba\((\d+,\d+,\d+),([\d.]+)\)", html.split('id="entity-1"')[1]) == [
        ("220,50,47", "0.250"), ("38,139,210", "1.000"), ("220,50,47", "0.500"),
    ]
    assert re.findall(r'class="a num">([^<]+)<', html) == ["+0.0200", "-0.0800", "+0.0400"]
    assert "from <span class=\"num\">−0.0800</span> to <span class=\"num\">+0.0800</span>" in html
    assert "the entity and 2 words either side" in html and "One scale for the whole page" in html

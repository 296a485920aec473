"""HTML pages for the `explain` and `visualize` commands. Every text and label that comes
from the user, the data or the pipeline is escaped: with `html.escape` where we build the
markup, and by displaCy where it inserts the texts itself.

The confidences shown by `visualize_html` are those `get_confidences` reads (see
confidences.py): any component that stores its confidences with `set_confidences` has them
shown, and a span without one is shown with its label only.
"""
import html
from typing import Any, Dict, List, Sequence, Tuple

from spacy.tokens import Doc, Span

from .confidences import get_confidences
from .explain import EntityExplanation
from .relations import Relation, get_relations

PALETTE = ["#7aecec", "#bfeeb7", "#feca74", "#ff9561", "#aa9cfc", "#c887fb", "#9cc9cc", "#ffeb80", "#e4e7d2", "#f0d0ff"]


def explain_html(text: str, explanations: Sequence[EntityExplanation]) -> str:
    """An HTML page showing each entity's window, words shaded by their attribution (red
    raised the score, blue lowered it), the value in each word's tooltip.

    text (str): The text explained.
    explanations (Sequence[EntityExplanation]): The output of explain.
    RETURNS (str): The page.
    """
    blocks = []
    for ent in explanations:
        peak = max((abs(w.attribution) for w in ent.words), default=0.0) or 1.0
        words = []
        for w in ent.words:
            share = abs(w.attribution) / peak
            rgb = "220,50,47" if w.attribution >= 0 else "38,139,210"
            border = "border-bottom:3px solid #333;" if w.position == 0 else ""
            words.append(
                f'<span class="w" style="background:rgba({rgb},{share:.3f});{border}" '
                f'title="{w.attribution:+.4f}">{html.escape(w.text)}</span>'
            )
        blocks.append(
            f"<h2>{html.escape(ent.text)} <small>{html.escape(ent.label)} · confidence {ent.confidence:.3f} · "
            f"score {ent.score:.3f} · Σ attributions {ent.total:.3f}</small></h2><p>{' '.join(words)}</p>"
        )
    body = "\n".join(blocks) or "<p>No entities predicted.</p>"
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>spacy-window-ner explain</title>"
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}.w{padding:.2em .3em;margin:0 .1em;"
        "border-radius:.2em;line-height:2.2}small{color:#666;font-weight:normal}</style></head><body>"
        f"<h1>Gradient × input</h1><p>{html.escape(text)}</p>{body}</body></html>"
    )


def visualize_html(docs: Sequence[Doc]) -> str:
    """One HTML page: per doc, displaCy's entity view with "LABEL confidence" labels and, if the
    doc has relations, a dependency-style view with the entities as words and the relations
    as labelled arcs. Labels are escaped here; displaCy escapes the texts itself.

    docs (Sequence[Doc]): Processed docs; the confidences are read with get_confidences.
    RETURNS (str): The page.
    """
    from spacy import displacy

    colors: Dict[str, str] = {}  # "LABEL 0.97" -> the colour of LABEL
    by_label: Dict[str, str] = {}
    blocks = []
    for doc in docs:
        confidences = get_confidences(doc)
        ents, names = [], {}
        for ent in doc.ents:
            conf = confidences.get((ent.start_char, ent.end_char, ent.label_))
            name = html.escape(ent.label_ if conf is None else f"{ent.label_} {conf:.2f}")
            base = by_label.setdefault(ent.label_, PALETTE[len(by_label) % len(PALETTE)])
            colors[name] = base
            ents.append({"start": ent.start_char, "end": ent.end_char, "label": name})
            names[(ent.start, ent.end, ent.label_)] = name
        markup = displacy.render({"text": doc.text, "ents": ents}, style="ent", manual=True, options={"colors": colors}, jupyter=False)
        relations = get_relations(doc)
        if relations:
            markup += displacy.render(_arcs(doc, relations, names), style="dep", manual=True, options={"compact": True, "distance": 110}, jupyter=False)
        blocks.append(f"<section>{markup}</section>")
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>spacy-window-ner</title>"
        "<style>body{font-family:sans-serif;margin:2em}section{border-bottom:1px solid #ddd;padding:1em 0}</style>"
        f"</head><body>{''.join(blocks)}</body></html>"
    )


def _arcs(doc: Doc, relations: List[Relation], names: Dict[Tuple[int, int, str], str]) -> Dict[str, Any]:
    """displaCy "dep" manual data: each entity (or relation argument) one word tagged with its
    label and confidence, other tokens as they are, one arc per relation from head to tail.
    Tags and arc labels are HTML-escaped (displaCy inserts them as they are); `names` holds
    escaped names already."""
    spans = {(s.start, s.end, s.label_): s for s in doc.ents}
    for rel in relations:
        for span in (rel.head, rel.tail):
            spans.setdefault((span.start, span.end, span.label_), span)
    starts: Dict[int, Span] = {}
    for key, span in sorted(spans.items()):
        if all(span.start >= o.end or span.end <= o.start for o in starts.values()):
            starts[span.start] = span
    words: List[Dict[str, str]] = []
    index: Dict[Tuple[int, int, str], int] = {}
    i = 0
    while i < len(doc):
        entity = starts.get(i)
        if entity is not None:
            index[(entity.start, entity.end, entity.label_)] = len(words)
            words.append({"text": entity.text, "tag": names.get((entity.start, entity.end, entity.label_), html.escape(entity.label_))})
            i = entity.end
        else:
            words.append({"text": doc[i].text, "tag": ""})
            i += 1
    arcs = []
    for rel in relations:
        head = index.get((rel.head.start, rel.head.end, rel.head.label_))
        tail = index.get((rel.tail.start, rel.tail.end, rel.tail.label_))
        if head is None or tail is None or head == tail:
            continue
        label = html.escape(f"{rel.label} {rel.score:.2f}")
        arcs.append({"start": min(head, tail), "end": max(head, tail), "label": label, "dir": "right" if head < tail else "left"})
    return {"words": words, "arcs": arcs}

"""HTML pages for the `explain` and `visualize` commands: plain HTML and CSS, no script, made to
be read in a browser (tests/test_browser.py checks them in headless Chromium: no two boxes
overlap, nothing is clipped out of reach, one section per doc, the legend is there).

Every text and label that comes from the user, the data or the pipeline goes through
`html.escape`; only our own markup, numbers and colours are written as they are.

The confidences shown by `visualize_html` are those `get_confidences` reads (see
confidences.py): any component that stores its confidences with `set_confidences` has them
shown, and a span without one is shown with its label only.
"""
import html
import math
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from spacy.tokens import Doc, Span

from .confidences import get_confidences
from .explain import EntityExplanation
from .relations import Relation, get_relations, has_relation_annotation

PALETTE = ["#7aecec", "#bfeeb7", "#feca74", "#ff9561", "#aa9cfc", "#c887fb", "#9cc9cc", "#ffeb80", "#e4e7d2", "#f0d0ff"]
# The red and blue of explain_html: raised and lowered the score.
RAISED, LOWERED = "220,50,47", "38,139,210"

STYLE = """
body{font:16px/1.5 system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;color:#222;
  max-width:72em;margin:0 auto;padding:1.5em}
h1{font-size:1.6em;margin:0 0 .2em}h2{font-size:1.2em;margin:0 0 .4em}
h3{font-size:1em;margin:1em 0 .3em}
.summary,.note,small{color:#555}
.text-plain{color:#333}
.legend{background:#f7f7f7;border:1px solid #ddd;border-radius:.4em;padding:.8em 1.2em;margin:1em 0 1.5em}
.legend dl{display:grid;grid-template-columns:max-content 1fr;gap:.4em 1em;margin:.4em 0}
.legend dt{font-weight:bold}.legend dd{margin:0}
.legend p{margin:.4em 0}
.scroll{overflow-x:auto;max-width:100%}
section.doc,section.entity{border-top:1px solid #ddd;padding:1em 0}
.text{line-height:2.7;overflow-wrap:anywhere;margin:.2em 0}
mark.ent{display:inline-block;line-height:1.5;padding:.1em .4em;margin:0 .1em;border-radius:.35em;color:#111}
mark.ent:target{outline:3px solid #333}
.tag{font-size:.72em;font-weight:bold;margin-left:.45em;white-space:nowrap}
.num{font-variant-numeric:tabular-nums}
.tag .num{font-weight:normal}
a.ref{color:inherit;text-decoration:none}
table.rels{border-collapse:collapse}
table.rels th{text-align:left;font-size:.85em;color:#555;padding:.2em .6em}
table.rels td{padding:.3em .6em;border-top:1px solid #eee;vertical-align:middle}
table.rels td.score{text-align:right}
@media (max-width:40em){.legend dl{grid-template-columns:1fr;gap:.1em}.legend dd{margin-bottom:.4em}
  table.rels thead{display:none}table.rels tr{display:block;border-top:1px solid #eee;padding:.2em 0}
  table.rels td{display:inline-block;border:0;padding:.15em .3em}}
.rel{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.9em;white-space:nowrap}
.window{display:flex;flex-wrap:wrap;gap:.5em .3em;align-items:flex-start}
.w{display:inline-flex;flex-direction:column;align-items:center;padding:.15em .35em;border-radius:.3em;
  border-bottom:3px solid transparent;box-shadow:inset 0 0 0 1px rgba(0,0,0,.08)}
.w.dark{color:#fff}.w.dark .a{color:#fff}
.w.in{border-bottom-color:#333}
.w .a{font-size:.75em;color:#333}
.scale{display:inline-block;width:12em;height:.9em;vertical-align:middle;border:1px solid #ccc;
  background:linear-gradient(to right,rgb(38,139,210),#fff,rgb(220,50,47))}
"""


def explain_html(text: str, explanations: Sequence[EntityExplanation]) -> str:
    """An HTML page showing each entity's window (the entity ± k words), each word shaded by its
    gradient × input attribution (red raised the winning tags' score, blue lowered it, on one
    scale for the whole page) with the value written under it, and a legend saying what the
    numbers are.

    text (str): The text explained.
    explanations (Sequence[EntityExplanation]): The output of explain.
    RETURNS (str): The page.
    """
    peak = max((abs(w.attribution) for ent in explanations for w in ent.words), default=0.0)
    # One number format for the page: the peak gets three significant digits.
    digits = min(6, max(1, 2 - math.floor(math.log10(peak)))) if peak > 0 else 3
    k = explanations[0].window_size if explanations else None
    blocks = []
    for i, ent in enumerate(explanations, 1):
        words = []
        for w in ent.words:
            share = abs(w.attribution) / peak if peak > 0 else 0.0
            rgb = RAISED if w.attribution >= 0 else LOWERED
            classes = "w" + (" in" if w.position == 0 else "") + (" dark" if share > 0.6 else "")
            words.append(
                f'<span class="{classes}" style="background:rgba({rgb},{share:.3f});" title="{w.attribution:+.6f}">'
                f'<span class="t">{html.escape(w.text)}</span>'
                f'<span class="a num">{w.attribution:+.{digits}f}</span></span>'
            )
        blocks.append(
            f'<section class="entity" id="entity-{i}"><h2>{html.escape(ent.text)} <small>{html.escape(ent.label)} · '
            f"tokens {ent.start}–{ent.end - 1} · tags {html.escape(' '.join(ent.tags))}</small></h2>"
            f'<p class="stats">confidence <span class="num">{_percent(ent.confidence)}</span> · '
            f'score <span class="num">{ent.score:.3f}</span> · '
            f'Σ attributions <span class="num">{ent.total:.3f}</span></p>'
            f'<div class="scroll"><div class="window">{"".join(words)}</div></div></section>'
        )
    body = "\n".join(blocks) or '<p class="note">No entities predicted.</p>'
    window = f"the entity and {k} word{'s' * (k != 1)} either side of it" if k is not None else "the entity and k words either side of it"
    legend = (
        '<section class="legend" id="legend"><h2>How to read this page</h2>'
        f"<p>Each entity window_ner predicted is shown with its window: {window} (k, the window size), "
        "the only words whose vectors reach its tags' scores.</p><dl>"
        '<dt>Colour</dt><dd><span class="w" style="background:rgba(220,50,47,0.6)">red</span> words raised the score, '
        '<span class="w" style="background:rgba(38,139,210,0.6)">blue</span> words lowered it. '
        f'One scale for the whole page: <span class="scale"></span> from <span class="num">−{peak:.{digits}f}</span> '
        f'to <span class="num">+{peak:.{digits}f}</span>, the largest |attribution| on the page.</dd>'
        '<dt>Underlined</dt><dd>The words of the entity.</dd>'
        "<dt>Number under a word</dt><dd>Its attribution a<sub>j</sub> = (∂s/∂x<sub>j</sub>) · x<sub>j</sub>: "
        "gradient × input, the gradient of the score s with respect to the word's vector x<sub>j</sub> (the tok2vec "
        "output), from the window layer's own hand-written backprop, dotted with that vector.</dd>"
        "<dt>score</dt><dd>s, the sum over the entity's tokens of the emission score of the tag it won (the "
        "BILUO tags after the entity's name), "
        "S = U h + c with h = f(W x<sub>window</sub> + b): the window layer's output, before the CRF's "
        "transitions and the recall bias.</dd>"
        "<dt>Σ attributions</dt><dd>The sum of the numbers under the words: the derivative of s(αX) at α = 1, "
        "X the window's word vectors. It is a first-order estimate of s(X) − s(0), the part of the score the "
        "word vectors make, so it need not equal the score: the biases b and c and the learned padding past "
        "the doc's edges make s(0), and the curvature of f the rest. Only where f is linear is it exactly "
        "s(X) − s(0).</dd>"
        "<dt>confidence</dt><dd>The probability of exactly this span with this label: its marginal "
        "probability, summed over all valid tag paths by forward-backward (window_ner's CRF, with the recall "
        "bias the decoder used), as <code>visualize</code> shows it.</dd></dl>"
        f'<p class="note">Numbers are rounded ({digits} decimals; hover over a word for 6).</p></section>'
    )
    return _page(
        "spacy-window-ner explain",
        f'<h1>Why these entities? Gradient × input</h1><p class="text-plain">{html.escape(text)}</p>{legend}{body}',
    )


def visualize_html(docs: Sequence[Doc], *, thresholds: Optional[Mapping[str, float]] = None) -> str:
    """One HTML page: a heading, a legend (the entity labels in their colours, the relation labels
    and thresholds, what the numbers mean), then one section per doc: its text with the entities
    marked inline, each with its label and confidence, and a table of its relations with their
    scores.

    docs (Sequence[Doc]): Processed docs; the confidences are read with get_confidences and the
        relations with get_relations.
    thresholds (Optional[Mapping[str, float]]): window_rel's threshold of each relation label,
        shown in the legend; None if unknown.
    RETURNS (str): The page.
    """
    docs = list(docs)
    relations = [get_relations(doc) for doc in docs]
    ent_labels = sorted({ent.label_ for doc in docs for ent in doc.ents} | {
        span.label_ for rels in relations for rel in rels for span in (rel.head, rel.tail)
    })
    colors = {label: PALETTE[i % len(PALETTE)] for i, label in enumerate(ent_labels)}
    rel_labels = sorted({rel.label for rels in relations for rel in rels} | set(thresholds or {}))
    blocks = [_doc_section(i, doc, rels, colors) for i, (doc, rels) in enumerate(zip(docs, relations), 1)]
    n_ents = sum(len(doc.ents) for doc in docs)
    n_rels = sum(len(rels) for rels in relations)
    summary = f"{len(docs)} doc{'s' * (len(docs) != 1)} · {n_ents} entities · {n_rels} relations"
    body = (
        f'<h1>Entities and relations</h1><p class="summary">{summary}</p>'
        f"{_visualize_legend(ent_labels, colors, rel_labels, thresholds)}"
        + ("".join(blocks) or '<p class="note">No documents.</p>')
    )
    return _page("spacy-window-ner visualize", body)


def _visualize_legend(
    ent_labels: List[str], colors: Dict[str, str], rel_labels: List[str], thresholds: Optional[Mapping[str, float]]
) -> str:
    chips = " ".join(
        f'<mark class="ent" style="background:{colors[label]}"><span class="tag">{html.escape(label)}</span></mark>'
        for label in ent_labels
    ) or "none"
    if rel_labels:
        rels = " · ".join(
            f'<span class="rel">{html.escape(label)}</span>'
            + (f' (threshold <span class="num">{_percent(thresholds[label])}</span>)' if thresholds and label in thresholds else "")
            for label in rel_labels
        )
    else:
        rels = "none"
    return (
        '<section class="legend" id="legend"><h2>Legend</h2><dl>'
        f"<dt>Entity labels</dt><dd>{chips}</dd>"
        f"<dt>Relation labels</dt><dd>{rels}</dd>"
        "<dt>% on an entity</dt><dd>Its confidence: the probability of exactly this span with this label, its "
        "marginal probability summed over all valid tag paths by forward-backward (window_ner's CRF, with the "
        "recall bias the decoder used). The entities are the best tag path (Viterbi), not those above a "
        "threshold, so an entity can have a low confidence. An entity without a number comes from a component "
        "that stores no confidence (an entity_ruler, say).</dd>"
        "<dt>% on a relation</dt><dd>Its score: window_rel's sigmoid probability of the label for the ordered "
        "pair (head, tail). A relation is predicted where the score reaches its label's threshold"
        + (", given after each label above" if thresholds else "")
        + ".</dd></dl>"
        '<p class="note">Percentages are rounded to one decimal: &gt;99.9% is at least 99.95%, &lt;0.1% below '
        "0.05%. Hover over an entity or a score for more digits. A relation's entities link to their place in "
        "the text.</p></section>"
    )


def _doc_section(i: int, doc: Doc, relations: List[Relation], colors: Dict[str, str]) -> str:
    """The section of one doc: its text with the entities marked, then its relations."""
    confidences = get_confidences(doc)
    anchors: Dict[Tuple[int, int, str], str] = {}
    parts, at = [], 0
    for j, ent in enumerate(doc.ents, 1):
        anchor = f"doc-{i}-ent-{j}"
        anchors[(ent.start_char, ent.end_char, ent.label_)] = anchor
        parts.append(html.escape(doc.text[at:ent.start_char]))
        parts.append(_mark(ent, colors, confidences.get((ent.start_char, ent.end_char, ent.label_)), anchor=anchor))
        at = ent.end_char
    parts.append(html.escape(doc.text[at:]))
    n = len(doc.ents)
    counts = f"{len(doc)} tokens · {n} entit{'y' if n == 1 else 'ies'}"
    if relations or has_relation_annotation(doc):
        counts += f" · {len(relations)} relation{'s' * (len(relations) != 1)}"
    out = [f'<section class="doc" id="doc-{i}"><h2>Doc {i} <small>{counts}</small></h2>',
           f'<div class="scroll"><p class="text">{"".join(parts)}</p></div>']
    if relations:
        rows = "".join(
            f'<tr><td>{_ref(rel.head, colors, confidences, anchors)}</td><td><span class="rel">{html.escape(rel.label)} →</span></td>'
            f'<td>{_ref(rel.tail, colors, confidences, anchors)}</td>'
            f'<td class="score"><span class="num" title="{rel.score:.6f}">{_percent(rel.score)}</span></td></tr>'
            for rel in relations
        )
        out.append(
            '<h3>Relations</h3><div class="scroll"><table class="rels"><thead><tr><th>Head</th><th>Relation</th>'
            f"<th>Tail</th><th>Score</th></tr></thead><tbody>{rows}</tbody></table></div>"
        )
    elif has_relation_annotation(doc):
        out.append('<p class="note">No relations predicted.</p>')
    out.append("</section>")
    return "".join(out)


def _ref(span: Span, colors: Dict[str, str], confidences: Dict[Tuple[int, int, str], float], anchors: Dict[Tuple[int, int, str], str]) -> str:
    """A relation argument: its mark, linked to the entity in the text where it is one."""
    key = (span.start_char, span.end_char, span.label_)
    mark = _mark(span, colors, confidences.get(key))
    return f'<a class="ref" href="#{anchors[key]}">{mark}</a>' if key in anchors else mark


def _mark(span: Span, colors: Dict[str, str], confidence: Optional[float], *, anchor: Optional[str] = None) -> str:
    """An entity: its text, its label and its confidence (if stored), in its label's colour."""
    label = html.escape(span.label_)
    if confidence is None:
        tag, title = label, label
    else:
        tag = f'{label} <span class="num">{_percent(confidence)}</span>'
        title = f"{label} · confidence {confidence:.6f}"
    id_ = f' id="{anchor}"' if anchor else ""
    return (
        f'<mark class="ent"{id_} style="background:{colors.get(span.label_, PALETTE[0])}" title="{title}">'
        f'{html.escape(span.text)}<span class="tag">{tag}</span></mark>'
    )


def _percent(p: float) -> str:
    """A probability as a percentage with one decimal, never rounded up to 100% or down to 0%:
    ">99.9%" is at least 0.9995, "<0.1%" under 0.0005."""
    if 0.999 < p < 1.0 and round(100 * p, 1) >= 100.0:
        return "&gt;99.9%"
    if 0.0 < p < 0.001 and round(100 * p, 1) <= 0.0:
        return "&lt;0.1%"
    return f"{100 * p:.1f}%"


def _page(title: str, body: str) -> str:
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" '
        f'content="width=device-width, initial-scale=1"><title>{html.escape(title)}</title><style>{STYLE}</style>'
        f"</head><body>{body}</body></html>"
    )

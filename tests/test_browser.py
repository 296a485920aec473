"""The pages of visualize and explain in a real browser: headless Chromium, the distribution's
package (Debian: `apt-get install chromium`), driven with `--dump-dom` and no other dependency.

Each page, with a script added that measures it once it is laid out (the box of every element,
of every run of text, of every scroll container), goes into an iframe of the width wanted (1200 px,
a desktop, and 500 px, a phone); once all have loaded, the outer page writes the measurements into
its DOM as JSON, and `chromium --headless --dump-dom` prints that DOM: one run of Chromium for all
the pages. The checks run here, in Python: no two boxes overlap, every element lies inside what
its scroll container (or the page) can scroll to, each doc appears once, the legend is there. The
pages are rendered from a small pipeline (window_ner + window_rel) trained here, in about 2 s, on
long sentences with multi-word entities.

With SPACY_WINDOW_NER_SCREENSHOTS=DIR the test also saves full-page screenshots of both pages
in DIR (visualize.png, explain.png, and the phone width: visualize-narrow.png, explain-narrow.png).
Without Chromium the tests skip, and fail under CI=true (tests/util.py: unavailable).
"""
import html
import itertools
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import pytest
from spacy.lang.en import English
from spacy.language import Language
from spacy.tokens import Doc
from spacy.training import Example
from thinc.api import fix_random_seed

from spacy_window_ner.explain import EntityExplanation, explain
from spacy_window_ner.relations import Relation, get_relations, set_relations
from spacy_window_ner.render import explain_html, visualize_html

from .util import REL_SMALL_MODEL as SMALL_MODEL, unavailable

SCREENSHOTS_ENV_VAR = "SPACY_WINDOW_NER_SCREENSHOTS"
# Chromium's narrowest window is 500 px.
WIDTHS = {"": 1200, "-narrow": 500}
# (text, entities (text, label), relations (head text, tail text, label)); each entity text
# occurs once in its sentence.
TRAIN_DATA = [
    ("The Securities and Exchange Commission charged Kelvin Matthews , a former vice president of Northern "
     "Star Capital Management in Des Moines , with insider trading on Tuesday , after a two year inquiry that "
     "also reached Margaret O'Brien , the chief financial officer of the Pacific Harbor Trust Company in San "
     "Francisco .",
     [("Securities and Exchange Commission", "ORG"), ("Kelvin Matthews", "PER"),
      ("Northern Star Capital Management", "ORG"), ("Des Moines", "LOC"), ("Margaret O'Brien", "PER"),
      ("Pacific Harbor Trust Company", "ORG"), ("San Francisco", "LOC")],
     [("Kelvin Matthews", "Northern Star Capital Management", "Work_For"),
      ("Northern Star Capital Management", "Des Moines", "OrgBased_In"),
      ("Margaret O'Brien", "Pacific Harbor Trust Company", "Work_For"),
      ("Pacific Harbor Trust Company", "San Francisco", "OrgBased_In")]),
    ("Speaking from her office in New York City on Monday , United Nations envoy Maria Fernanda Espinosa said "
     "that the World Health Organization and the International Red Cross would send doctors to Port au Prince "
     "within the week .",
     [("New York City", "LOC"), ("United Nations", "ORG"), ("Maria Fernanda Espinosa", "PER"),
      ("World Health Organization", "ORG"), ("International Red Cross", "ORG"), ("Port au Prince", "LOC")],
     [("Maria Fernanda Espinosa", "United Nations", "Work_For"), ("Maria Fernanda Espinosa", "New York City", "Live_In")]),
    ("John Smith works for Acme Corporation in Boston .",
     [("John Smith", "PER"), ("Acme Corporation", "ORG"), ("Boston", "LOC")],
     [("John Smith", "Acme Corporation", "Work_For"), ("Acme Corporation", "Boston", "OrgBased_In")]),
]
UNSEEN = "Dr. Anna Kowalski of the Royal Botanic Gardens in Edinburgh met Kelvin Matthews ."

# Added to a page: once it is laid out, sets window.measurements to {"page", "containers",
# "elements" (and each line of each text node), "groups" (of boxes that must not overlap: "text",
# every piece of text; "boxes", the entities' and words' coloured boxes and the text outside them),
# "texts", "sections", "legend"}. Boxes are in page coordinates: {left, top, right, bottom}.
MEASURE = r"""
window.addEventListener("load", () => {
  const box = (r) => ({left: r.left + scrollX, top: r.top + scrollY, right: r.right + scrollX, bottom: r.bottom + scrollY});
  // The boxes that clip what they hold: scroll boxes (overflow auto or scroll: what lies in their
  // scroll area can be reached), and others that hide their overflow (an svg, overflow hidden).
  const clips = (el) => [getComputedStyle(el).overflowX, getComputedStyle(el).overflowY].some((o) => o !== "visible");
  const containers = [...document.body.querySelectorAll("*")].filter(clips);
  const inContainer = (node) => {
    for (let el = node.parentElement; el && el !== document.body; el = el.parentElement) {
      const i = containers.indexOf(el);
      if (i >= 0) return i;
    }
    return -1;
  };
  const name = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (el.classList.length ? "." + [...el.classList].join(".") : "");
  const sized = (r) => r.width > 0 && r.height > 0;
  const elements = [];
  for (const el of document.body.querySelectorAll("*")) {
    if (el.tagName === "SCRIPT") continue;
    const r = el.getBoundingClientRect();
    if (sized(r)) elements.push({name: name(el), text: el.textContent.slice(0, 60), box: box(r), container: inContainer(el)});
  }
  // Every piece of text (a text node: one box per line it takes), named after its parent.
  const text = [];
  const outside = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (!node.textContent.trim() || node.parentElement.closest("script, style")) continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    const item = {name: name(node.parentElement), text: node.textContent, boxes: [...range.getClientRects()].filter(sized).map(box)};
    text.push(item);
    if (!node.parentElement.closest("mark.ent, .w")) outside.push(item);
    for (const b of item.boxes) elements.push({name: "text", text: item.text.slice(0, 60), box: b, container: inContainer(node)});
  }
  const coloured = [...document.querySelectorAll("mark.ent, .w")].map((el) => ({name: name(el), text: el.textContent, boxes: [box(el.getBoundingClientRect())]}));
  // Each doc's text as the reader sees it, without the entity tags.
  const texts = [...document.querySelectorAll(".text")].map((p) => {
    const copy = p.cloneNode(true);
    copy.querySelectorAll(".tag").forEach((tag) => tag.remove());
    return copy.textContent;
  });
  const legend = document.getElementById("legend");
  const out = {
    page: {width: document.documentElement.clientWidth, scrollWidth: document.documentElement.scrollWidth,
           scrollHeight: document.documentElement.scrollHeight},
    containers: containers.map((el) => {
      const r = el.getBoundingClientRect();
      const style = getComputedStyle(el);
      if (![style.overflowX, style.overflowY].some((o) => o === "auto" || o === "scroll")) {
        return {name: name(el), box: box(r), left: r.left + scrollX, top: r.top + scrollY, scrollWidth: r.width, scrollHeight: r.height};
      }
      return {name: name(el), box: box(r), left: r.left + scrollX + el.clientLeft - el.scrollLeft, top: r.top + scrollY + el.clientTop - el.scrollTop,
              scrollWidth: el.scrollWidth, scrollHeight: el.scrollHeight};
    }),
    elements, groups: {text, boxes: [...coloured, ...outside]}, texts,
    sections: [...document.querySelectorAll("section.doc, section.entity")].map((el) => el.id),
    legend: legend ? {text: legend.textContent, height: legend.getBoundingClientRect().height} : null,
  };
  window.measurements = out;
});
"""
# The page Chromium loads: one iframe per page measured, each as wide as asked; once all have
# loaded, their measurements go into <script type="application/json" id="measurements">.
COLLECT = r"""
window.addEventListener("load", () => {
  const out = {};
  for (const frame of document.querySelectorAll("iframe")) out[frame.id] = frame.contentWindow.measurements || null;
  const data = document.createElement("script");
  data.type = "application/json";
  data.id = "measurements";
  data.textContent = JSON.stringify(out).replace(/</g, "\\u003c");
  document.body.appendChild(data);
});
"""
TOLERANCE = 0.5  # px: boxes that touch, or meet in a rounding error, do not overlap


def find_chromium() -> Optional[str]:
    return next(filter(None, (shutil.which(name) for name in ("chromium", "chromium-browser"))), None)


@pytest.fixture(scope="module")
def chromium() -> str:
    path = find_chromium()
    if path is None:
        unavailable("Chromium is not installed: apt-get install chromium (Debian) or chromium-browser (Ubuntu)")
    return path


def run_chromium(chromium: str, url: str, width: int, height: int, profile: Path, *args: str) -> str:
    # Each run gets a profile of its own, so it never meets another Chromium (a user's, or a
    # test's in parallel). --no-sandbox: the sandbox can't start as root, in containers.
    command = [
        chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
        f"--user-data-dir={profile}", f"--window-size={width},{height}", *args, url,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def measure(chromium: str, pages: Dict[str, Tuple[str, int]], tmp_path: Path) -> Dict[str, Dict[str, Any]]:
    """Lay out each page, with MEASURE added, in an iframe of its width, all in one run of
    headless Chromium (a second or so); the measurements of each page by name.

    pages (Dict[str, Tuple[str, int]]): name -> (HTML page, width in px).
    """
    frames = []
    for name, (page, width) in pages.items():
        head, tail = page.rsplit("</body>", 1)
        srcdoc = html.escape(f"{head}<script>{MEASURE}</script></body>{tail}", quote=True)
        frames.append(f'<iframe id="{name}" style="display:block;border:0;width:{width}px;height:900px" srcdoc="{srcdoc}"></iframe>')
    path = tmp_path / "measure.html"
    path.write_text(f'<!DOCTYPE html><html><body>{"".join(frames)}<script>{COLLECT}</script></body></html>', encoding="utf8")
    width = max(width for _, width in pages.values()) + 100
    dom = run_chromium(chromium, path.as_uri(), width, 900, tmp_path / "profile", "--dump-dom")
    found = re.search(r'<script type="application/json" id="measurements">(.*?)</script>', dom, re.S)
    assert found, f"no measurements in the page Chromium dumped: {dom[-2000:]}"
    measured = json.loads(found.group(1))
    assert all(measured[name] for name in pages), f"a page was not measured: {sorted(measured)}"
    return measured


def screenshot(chromium: str, page: str, name: str, width: int, height: int, tmp_path: Path) -> None:
    """With SPACY_WINDOW_NER_SCREENSHOTS=DIR, save the whole page (its full height) as DIR/NAME.png."""
    folder = os.environ.get(SCREENSHOTS_ENV_VAR)
    if not folder:
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    path = tmp_path / f"{name}.html"
    path.write_text(page, encoding="utf8")
    target = Path(folder).resolve() / f"{name}.png"
    run_chromium(chromium, path.as_uri(), width, min(height, 16000), tmp_path / "profile", f"--screenshot={target}")
    assert target.stat().st_size > 0


def overlaps(a: Dict[str, float], b: Dict[str, float]) -> bool:
    width = min(a["right"], b["right"]) - max(a["left"], b["left"])
    height = min(a["bottom"], b["bottom"]) - max(a["top"], b["top"])
    return width > TOLERANCE and height > TOLERANCE


def find_overlaps(items: List[Dict[str, Any]]) -> List[str]:
    """Pairs of items (each one or more boxes) whose boxes overlap."""
    found = []
    for a, b in itertools.combinations(items, 2):
        if any(overlaps(x, y) for x in a["boxes"] for y in b["boxes"]):
            found.append(f"{a['name']} {a['text']!r} overlaps {b['name']} {b['text']!r}")
    return found


def find_clipped(measured: Dict[str, Any]) -> List[str]:
    """Elements out of reach: left of or above the page, or outside what the nearest box that
    clips them shows: the scroll area of a scroll box (a negative offset in it, or beyond its
    scrollWidth), the box itself where it hides its overflow (an svg)."""
    page = measured["page"]
    clipped = []
    for el in measured["elements"]:
        b, where = el["box"], f"{el['name']} {el['text']!r}"
        if b["left"] < -TOLERANCE or b["top"] < -TOLERANCE:
            clipped.append(f"{where} starts outside the page at ({b['left']:.1f}, {b['top']:.1f})")
        if el["container"] < 0:
            if b["right"] > page["scrollWidth"] + TOLERANCE:
                clipped.append(f"{where} ends at {b['right']:.1f}, beyond the page's {page['scrollWidth']}")
            continue
        c = measured["containers"][el["container"]]
        left, right = b["left"] - c["left"], b["right"] - c["left"]
        top, bottom = b["top"] - c["top"], b["bottom"] - c["top"]
        if left < -TOLERANCE or top < -TOLERANCE or right > c["scrollWidth"] + TOLERANCE or bottom > c["scrollHeight"] + TOLERANCE:
            clipped.append(
                f"{where} at x {left:.1f}..{right:.1f}, y {top:.1f}..{bottom:.1f} of {c['name']}, whose "
                f"reachable area is {c['scrollWidth']:.1f} x {c['scrollHeight']:.1f}"
            )
    for c in measured["containers"]:
        if c["box"]["left"] < -TOLERANCE or c["box"]["right"] > page["width"] + TOLERANCE:
            clipped.append(f"{c['name']} (it clips what it holds) is wider than the window: {c['box']}")
    return clipped


def check_layout(measured: Dict[str, Any]) -> None:
    problems = [*find_overlaps(measured["groups"]["text"]), *find_overlaps(measured["groups"]["boxes"]), *find_clipped(measured)]
    assert not problems, "\n".join(problems[:20])


def example(nlp: Language, text: str, ents, rels) -> Example:
    reference = nlp.make_doc(text)
    spans = {}
    for ent_text, label in ents:
        start = text.index(ent_text)
        spans[ent_text] = reference.char_span(start, start + len(ent_text), label=label)
    reference.ents = list(spans.values())
    set_relations(reference, [Relation(spans[head], spans[tail], label, 1.0) for head, tail, label in rels])
    return Example(nlp.make_doc(text), reference)


@pytest.fixture(scope="module")
def joint_nlp() -> Language:
    """window_ner + window_rel, trained on TRAIN_DATA until it finds every entity and relation,
    with entity confidences still well below 1 (about 2 s)."""
    fix_random_seed(0)
    nlp = English()
    nlp.add_pipe("window_ner", config={"model": {"window_size": 1, "hidden_width": 32}})
    nlp.add_pipe("window_rel", config={"model": SMALL_MODEL})
    examples = [example(nlp, *item) for item in TRAIN_DATA]
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(40):
        nlp.update(examples, sgd=optimizer)
    return nlp


@pytest.fixture(scope="module")
def docs(joint_nlp) -> List[Doc]:
    """TRAIN_DATA's texts and UNSEEN, through joint_nlp: the docs visualize shows."""
    docs = list(joint_nlp.pipe([text for text, _, _ in TRAIN_DATA] + [UNSEEN]))
    assert [[e.text for e in doc.ents] for doc in docs[:3]] == [[t for t, _ in ents] for _, ents, _ in TRAIN_DATA]
    assert all(get_relations(doc) for doc in docs[:3])
    return docs


@pytest.fixture(scope="module")
def explanations(joint_nlp) -> List[EntityExplanation]:
    """The explanations of TRAIN_DATA's first text: 7 entities, most of several words."""
    explanations = explain(joint_nlp, TRAIN_DATA[0][0])
    assert len(explanations) == 7
    return explanations


@pytest.fixture(scope="module")
def pages(joint_nlp, docs, explanations) -> Dict[str, Tuple[str, int]]:
    """The two pages at each width: name -> (page, width)."""
    rendered = {
        "visualize": visualize_html(docs, thresholds=joint_nlp.get_pipe("window_rel").thresholds),
        "explain": explain_html(TRAIN_DATA[0][0], explanations),
    }
    return {f"{name}{suffix}": (page, width) for name, page in rendered.items() for suffix, width in WIDTHS.items()}


@pytest.fixture(scope="module")
def measured(chromium, pages, tmp_path_factory) -> Dict[str, Dict[str, Any]]:
    """The measurements of every page, from one run of Chromium; with SPACY_WINDOW_NER_SCREENSHOTS,
    the screenshots too."""
    tmp_path = tmp_path_factory.mktemp("browser")
    measured = measure(chromium, pages, tmp_path)
    for name, (page, width) in pages.items():
        screenshot(chromium, page, name, width, measured[name]["page"]["scrollHeight"], tmp_path)
    return measured


@pytest.mark.parametrize("name", [f"visualize{suffix}" for suffix in WIDTHS])
def test_browser_visualize(measured, docs, name):
    page = measured[name]
    check_layout(page)
    # Each doc once, its text whole, in a section of its own.
    assert sorted(page["texts"]) == sorted(doc.text for doc in docs)
    assert page["sections"] == [f"doc-{i}" for i in range(1, len(docs) + 1)]
    entities = [item for item in page["groups"]["boxes"] if item["name"].startswith("mark")]
    n_rels = sum(len(get_relations(doc)) for doc in docs)
    # In the text, twice per relation, and once per label in the legend.
    assert len(entities) == sum(len(doc.ents) for doc in docs) + 2 * n_rels + 3
    legend = page["legend"]
    assert legend is not None and legend["height"] > 0
    for phrase in ["PER", "ORG", "LOC", "Work_For", "OrgBased_In", "Live_In", "threshold 50.0%", "marginal probability", "sigmoid probability"]:
        assert phrase in legend["text"]


@pytest.mark.parametrize("name", [f"explain{suffix}" for suffix in WIDTHS])
def test_browser_explain(measured, explanations, name):
    page = measured[name]
    check_layout(page)
    assert page["sections"] == [f"entity-{i}" for i in range(1, len(explanations) + 1)]
    # Every word of every window shows its attribution, in a box of its own under the word.
    text = page["groups"]["text"]
    words = [item for item in text if item["name"] == "span.t"]
    numbers = [item for item in text if item["name"] == "span.a.num"]
    assert [w["text"] for w in words] == [w.text for ent in explanations for w in ent.words]
    assert len(numbers) == len(words)
    for word, number, attribution in zip(words, numbers, [w.attribution for ent in explanations for w in ent.words]):
        assert number["boxes"][0]["top"] >= word["boxes"][0]["bottom"] - TOLERANCE
        assert float(number["text"]) == pytest.approx(attribution, abs=1e-3)
    legend = page["legend"]
    assert legend is not None and legend["height"] > 0
    for phrase in ["raised the score", "lowered it", "One scale for the whole page", "The words of the entity", "Σ attributions", "first-order"]:
        assert phrase in legend["text"]


BROKEN = """<!DOCTYPE html><html><body>
<div class="scroll" style="overflow-x:auto;width:200px"><p class="text" style="white-space:nowrap;direction:rtl">
<mark class="ent">Securities and Exchange Commission</mark><mark class="ent" style="margin-left:-3em">charged</mark>
a very long sentence that runs on and on past the right edge of its box</p></div>
<p class="text"><mark class="ent" style="position:relative;left:-500px">Kelvin Matthews</mark></p>
<svg width="300" height="40"><text x="-40" y="20">Margaret O'Brien</text></svg></body></html>"""


def test_browser_checks_find_overlaps_and_clipping(chromium, tmp_path):
    """The checks fail a page with the faults seen in displaCy's dep view: an entity over its
    neighbour, text left of its scroll box (where scrolling can't reach), an entity off the page,
    a word cut off by the svg it is drawn in."""
    page = measure(chromium, {"broken": (BROKEN, 800)}, tmp_path)["broken"]
    overlapping = find_overlaps(page["groups"]["boxes"])
    assert any("charged" in line and "Commission" in line for line in overlapping), overlapping
    clipped = "\n".join(find_clipped(page))
    assert "a very long sentence" in clipped and "Kelvin Matthews" in clipped and "outside the page" in clipped, clipped
    assert re.search(r"text .Margaret O'Brien. at x -40.* of svg", clipped), clipped
    with pytest.raises(AssertionError):
        check_layout(page)


def test_browser_escapes_in_the_dom(chromium, tmp_path):
    """Text that looks like markup reaches the browser as text: no element of its own."""
    nlp = English()
    nlp.add_pipe("entity_ruler").add_patterns([{"label": "<b>X</b>", "pattern": "Alice"}])
    doc = nlp("Alice wrote <img src=x onerror=alert(1)> here.")
    page = measure(chromium, {"escaped": (visualize_html([doc]), 800)}, tmp_path)["escaped"]
    tags = {re.split("[.#]", el["name"])[0] for el in page["elements"]}
    assert tags <= {"h1", "h2", "p", "section", "dl", "dt", "dd", "div", "mark", "span", "small", "text"}, tags
    assert page["texts"] == [doc.text] and "<b>X</b>" in page["legend"]["text"]

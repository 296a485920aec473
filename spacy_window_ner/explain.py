"""Why did window_ner predict an entity? Gradient × input attributions through the window
scorer's own backprop.

For an entity on tokens start..end-1 with predicted BILUO tags t_i, its score is the sum of the
winning tags' emission scores

    s = sum_i S[i, t_i],    S = U f(W x_win + b) + c    (the WindowScorer)

The layer's backprop, fed the one-hot dS[i, t_i] = 1, returns dX = ds/dX for every token
vector X[j] (the tok2vec output). The attribution of window position j is

    a_j = (ds/dX[j]) . X[j]

Only the tokens of the entity ± k (the window size) get a gradient. The a_j sum to
d/dalpha s(alpha X) at alpha = 1 (the chain rule), and for an affine f they sum to
s(X) - s(0) exactly: that is the check the tests run.
"""
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple, Union

import numpy
from spacy.language import Language
from spacy.tokens import Doc
from thinc.api import Model
from thinc.types import Floats2d

from .ner import WindowNER


@dataclass
class WordAttribution:
    """How much one word of the window contributed to an entity's score.

    index (int): The token's index in the doc.
    text (str): The token's text.
    position (int): Its place relative to the entity: -2 two tokens before it, 0 inside it,
        1 the first token after it.
    attribution (float): Gradient × input, (ds/dX[j]) . X[j].
    """

    index: int
    text: str
    position: int
    attribution: float


@dataclass
class EntityExplanation:
    """The attributions of the words around one predicted entity.

    text (str): The entity text.
    label (str): Its label.
    start (int): Its first token.
    end (int): The token after its last.
    confidence (float): The pipe's confidence in the span.
    tags (List[str]): The predicted BILUO tag of each of its tokens.
    score (float): s, the sum of those tags' emission scores.
    window_size (int): k.
    words (List[WordAttribution]): One per token of the window, in order.
    """

    text: str
    label: str
    start: int
    end: int
    confidence: float
    tags: List[str]
    score: float
    window_size: int
    words: List[WordAttribution]

    @property
    def total(self) -> float:
        """The sum of the attributions: d/dalpha s(alpha X) at alpha = 1."""
        return sum(word.attribution for word in self.words)


def find_window_ner(nlp: Language, name: Optional[str] = None) -> WindowNER:
    """The pipeline's window_ner component.

    nlp (Language): The pipeline.
    name (Optional[str]): The component name; the first WindowNER component if None.
    RETURNS (WindowNER): The component.
    """
    for pipe_name, pipe in nlp.pipeline:
        if isinstance(pipe, WindowNER) and name in (None, pipe_name):
            return pipe
    wanted = f"window_ner component named {name!r}" if name else "window_ner component"
    raise ValueError(
        f"The pipeline ({', '.join(nlp.pipe_names) or 'no components'}) has no {wanted}. "
        "explain needs a pipeline trained with window_ner."
    )


def entity_tags(label: str, length: int) -> List[str]:
    """The BILUO tags of an entity.

    label (str): The entity label.
    length (int): Its number of tokens.
    RETURNS (List[str]): U-label for one token, else B-label, I-label..., L-label.
    """
    if length == 1:
        return [f"U-{label}"]
    return [f"B-{label}"] + [f"I-{label}"] * (length - 2) + [f"L-{label}"]


def gradient_x_input(
    scorer: Model[List[Floats2d], List[Floats2d]],
    X: Floats2d,
    entities: Sequence[Tuple[int, int, Sequence[int]]],
) -> List[Tuple[float, numpy.ndarray]]:
    """Score each entity and attribute the score to the token vectors, with the layer's own
    backprop. The maths run in float64; the layer's gradients are left untouched (the
    backprop runs on a copy).

    The scores S[start:end] of an entity depend only on its window X[start-k : end+k], so
    every window goes into one batch as a sequence of its own: one forward and one backprop
    over the windows, in time linear in the doc, and the gradients of different entities
    never mix. Where a window is clipped by the doc's edge, the layer pads it as in the doc.

    scorer (Model[List[Floats2d], List[Floats2d]]): A WindowScorer, .v3, .v2 or .v1: its own
        backprop reaches every layer, whether it chains them, holds one as a child or keeps
        their params flat.
    X (Floats2d): The token vectors of one doc (n_tokens, nI).
    entities (Sequence[Tuple[int, int, Sequence[int]]]): (start, end, tag ids of the tokens).
    RETURNS (List[Tuple[float, numpy.ndarray]]): Per entity, s = sum_i S[i, t_i] and the
        attributions a_j = (ds/dX[j]) . X[j] of the tokens j of its window,
        max(0, start - k) <= j < min(n_tokens, end + k) (the only ones with a gradient).
    """
    if not entities:
        return []
    layer = scorer.copy()  # backprop increments the parameter gradients: keep them clean
    xp = layer.ops.xp
    k = window_size(layer)
    X64 = xp.asarray(X, dtype="float64")
    windows = [(max(0, start - k), min(len(X64), end + k)) for start, end, _ in entities]
    Xs = [X64[lo:hi] for lo, hi in windows]
    Ss, backprop = layer.begin_update(Xs)
    scores, dSs = [], []
    for (start, end, tag_ids), (lo, _), S in zip(entities, windows, Ss):
        rows = xp.arange(start - lo, end - lo)
        cols = xp.asarray(list(tag_ids))
        # ds/dS is one-hot on the entity's winning tags; the backprop returns ds/dX.
        dS = xp.zeros_like(S)
        dS[rows, cols] = 1.0
        dSs.append(dS)
        scores.append(float(S[rows, cols].sum()))
    dXs = backprop(dSs)
    return [(score, layer.ops.to_numpy((dX * Xw).sum(axis=1))) for score, dX, Xw in zip(scores, dXs, Xs)]


def explain(nlp: Language, text: Union[str, Doc], *, pipe_name: Optional[str] = None) -> List[EntityExplanation]:
    """Explain every entity the window_ner component predicts for a text: the gradient × input
    attribution of each word in the entity's window (its tokens ± k).

    nlp (Language): A pipeline with a window_ner component.
    text (Union[str, Doc]): The text, or a doc to run the pipeline on.
    pipe_name (Optional[str]): The window_ner component to explain; the first if None.
    RETURNS (List[EntityExplanation]): One per predicted entity, in order.
    """
    pipe = find_window_ner(nlp, pipe_name)
    # The components before it run first, so a tok2vec listener finds its upstream's output and
    # the doc is as the component saw it (with an upstream ner's entities, for EntityFeatures).
    doc = nlp.make_doc(text) if isinstance(text, str) else text
    for _, proc in nlp.pipeline:
        if proc is pipe:
            break
        doc = proc(doc)
    if len(doc) == 0:
        return []
    tok2vec = pipe.model.get_ref("tok2vec")
    scorer = pipe.model.get_ref("scorer")
    k = window_size(scorer)
    (starts, ends, label_ids, probs), = pipe.decode(pipe.predict([doc]), confidences=True)
    labels, tag_ids = pipe.labels, {tag: i for i, tag in enumerate(pipe.tags)}
    spans = []
    for start, end, label_id in zip(starts, ends, label_ids):
        tags = entity_tags(labels[int(label_id)], int(end - start))
        spans.append((int(start), int(end), tags))
    (X,) = tok2vec.predict([doc])
    results = gradient_x_input(scorer, X, [(s, e, [tag_ids[t] for t in tags]) for s, e, tags in spans])
    explanations = []
    for (start, end, tags), (score, attributions), prob in zip(spans, results, probs):
        lo = max(0, start - k)
        words = [
            WordAttribution(j, doc[j].text, j - start if j < start else max(0, j - end + 1), float(attributions[j - lo]))
            for j in range(lo, lo + len(attributions))
        ]
        explanations.append(
            EntityExplanation(
                text=doc[start:end].text, label=tags[0][2:], start=start, end=end,
                confidence=float(prob), tags=tags, score=score, window_size=k, words=words,
            )
        )
    return explanations


def window_size(scorer: Model) -> int:
    """The window size k of a WindowScorer of any version: the attr of the scorer itself (.v1,
    .v2) or of its Windows layer (.v3).

    scorer (Model): The window scorer.
    RETURNS (int): k.
    """
    return next(node.attrs["window_size"] for node in scorer.walk() if "window_size" in node.attrs)

"""The published names that a newer version replaced, frozen as they were published, and the
upgrade of what earlier versions saved: the layout of spacy-legacy.

A published `.vN` never changes what it does; its successor `.vN+1` lives in the current
modules, and the `.vN` moves here, so that those modules hold only current code. Pipelines
saved with these names load and predict what they did (tests/test_legacy.py loads a pipeline
saved by every earlier format).

- `layers/`: `spacy-window-ner.WindowScorer.v1`, `.v2` and `spacy-window-ner.PairScorer.v1`,
  `.v2`. The `.v1` keep the hidden layer's W and b flat in the scorer; the `.v2` hold a
  `Hidden.v1` child beside their other params; the current `.v3` chain a layer per piece
  (`Windows.v1` or `PairFeatures.v1`, `Hidden.v1`, `Output.v1`), whose forwards the published
  ones run on themselves.
- `architectures.py`: `spacy-window-ner.WindowNER.v1`, `.v2` and
  `spacy-window-ner.RelationScorer.v1`, `.v2`, which build those layers.
- `candidates.py`: `spacy-window-ner.rel_candidates.v1`, window_rel's candidates with a cap per
  doc (`.v2` caps per sentence, or per block of tokens).
- `window_rel.py`: what window_rel reads from a config or cfg saved before the candidates block
  (`max_distance`, `max_candidates_per_doc`) or by version 0.1 (its `threshold`).

Each name is registered by its decorator (importing spacy_window_ner imports this package) and
by an entry point in setup.cfg, so that `spacy.load` finds it without the import.
"""
from . import architectures, candidates, layers, window_rel  # noqa: F401  (fill the registries)

"""Entity resolution on CoNLL04 (issue 24): the gold alias set of train and dev (gold.py,
gold_clusters.jsonl, RULES.md), the scorer and its baselines (score.py), and the annotated .spacy
files for the `kb build --annotated` route (make_spacy.py)."""

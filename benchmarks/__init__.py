"""Benchmarks: run each as `python -m benchmarks.NAME` from the repository root.

The helpers they share with the tests live in tests/ and are imported from there (the repository
root is on sys.path under `python -m`): the data directory (tests/data.py: data_dir, from
$SPACY_WINDOW_NER_DATA or ../shared/data), the PyPI mirrors of the pretrained pipelines
(tests/mirrors.py: MIRRORS, mirror_source, source_overrides) and the PostgreSQL server harness
(tests/postgres_server.py). Neither the tests nor the benchmarks are installed with the package.
"""

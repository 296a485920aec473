"""The --runslow option for the benchmarks' tests, as tests/conftest.py gives it to the package's:
`python -m pytest` deselects the tests marked `slow`, `--runslow` runs them too. Both conftest.py
files take it from tests/util.py, so it holds whichever tree pytest collects."""
from tests.util import add_runslow_option, deselect_slow


def pytest_addoption(parser):
    add_runslow_option(parser)


def pytest_collection_modifyitems(config, items):
    deselect_slow(config, items)

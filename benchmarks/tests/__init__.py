"""The benchmarks' own tests, beside the code they test (`python -m pytest` collects them with
tests/, setup.cfg: testpaths). tests/ never imports `benchmarks`: the package's suite stands
alone, and what both share (the data directory, the mirrors, the PostgreSQL harness) lives in
tests/, which the benchmarks import."""

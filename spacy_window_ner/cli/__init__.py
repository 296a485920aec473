"""The `spacy-window-ner` command line, also run as `python -m spacy_window_ner`. One module per
command group; each command parses its arguments, calls the library and prints:

- convert.py: convert
- evaluate.py: evaluate
- tune.py: tune-thresholds, tune-ner-bias, copy-tuning
- crossfit.py: cross-predict
- explain.py: explain, visualize (their HTML pages are built in render.py)
- kb.py: kb build, query, remove, export
- _util.py: the app and what every command shares; _tables.py: the terminal tables' cells

Every expected failure (unreadable input, a path that is not a pipeline or not a knowledge
base, an output that can't be written, ...) ends with a one-line message on stderr and exit
code 1, without a traceback. Every output is written atomically (see files.py), and an output
path that is one of the command's inputs is refused.
"""
# The command modules register their commands on the app as they are imported, in the order
# `--help` lists them (the kb group comes last, after all single commands).
from . import convert, evaluate, tune, crossfit, explain, kb  # noqa: F401
from ._util import app
from .convert import Format

__all__ = ["app", "Format"]

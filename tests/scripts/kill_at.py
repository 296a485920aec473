"""Run `tune-thresholds MODEL DEV` over its pipeline and SIGKILL this process at one point of
saving: tests/test_cli.py's test_cli_tune_thresholds_killed runs it in a process of its own.

    python tests/scripts/kill_at.py POINT MODEL DEV

POINT is one of "first write" (while window_rel's model file is open for writing), "before the
swap", "after the swap", or "between two renames" (of the fallback swap, as on a system without
renameat2).
"""
import os
import signal
import sys

from thinc.model import Model

from spacy_window_ner import files
from spacy_window_ner.cli import app

POINTS = ("first write", "before the swap", "after the swap", "between two renames")


def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)


def die_at_call(function, n):
    """`function`, that kills the process at its n-th call instead of running."""
    calls = []

    def wrapped(*args, **kwargs):
        calls.append(args)
        if len(calls) == n:
            die()
        return function(*args, **kwargs)

    return wrapped


def main(point: str, model: str, dev: str) -> None:
    if point == "first write":
        Model.to_bytes = die  # runs while window_rel's model file is open for writing
    elif point == "before the swap":
        files._exchange = die
    elif point == "after the swap":
        files.shutil.rmtree = die
    elif point == "between two renames":
        files._exchange = lambda a, b: False  # as on a system without renameat2
        files.os.replace = die_at_call(os.replace, 2)
    else:
        raise SystemExit(f"Unknown point {point!r}: use one of {', '.join(POINTS)}")
    app(["tune-thresholds", model, dev], prog_name="spacy-window-ner")


if __name__ == "__main__":
    main(*sys.argv[1:])

"""What every command shares: the app, whose command group turns an OSError on a path the user
gave into one line on stderr; `fail`, the one way a command stops on an expected failure (a
one-line message, exit code 1); the refusal of an output that is an input; the pipeline loader;
the option callbacks that refuse inf and nan; and the report of skipped input lines."""
import math
from pathlib import Path
from typing import Any, NoReturn, Optional, Union

import typer
from spacy.language import Language
from typer.core import TyperGroup

from .. import loading
from ..escape import printable
from ..files import OutputError, check_not_input
from ..problems import Problems


class _Commands(TyperGroup):
    """The app's command group: runs a command and turns an OSError on a path the user gave (a
    read-only location, a file where a directory should be, permission denied, a full disk)
    into one line on stderr and exit code 1, for every command at once."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except OutputError as err:
            fail(f"{err.strerror}. Check that the location exists, is writable and has free space, or choose another path.")
        except OSError as err:
            where = f" ({err.filename})" if err.filename is not None else ""
            fail(f"{err.strerror or one_line(err)}{where}.")


app = typer.Typer(
    cls=_Commands,
    name="spacy-window-ner",
    help="Window-classifier NER and relation extraction for spaCy: data, evaluation, knowledge base, explanations.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    # Plain click help and usage errors: help texts are shown as written (rich markup would eat
    # `[ray]` in `pip install "spacy-window-ner[ray]"`), wrapped at spaces rather than cut.
    rich_markup_mode=None,
)


def finite(value: float) -> float:
    """An option's callback: refuse inf and nan, which typer's FLOAT accepts."""
    if not math.isfinite(value):
        raise typer.BadParameter(f"must be a finite number, not {value}.")
    return value


def above_zero(value: float) -> float:
    """An option's callback: a finite number above 0."""
    if not finite(value) > 0:
        raise typer.BadParameter(f"must be above 0, not {value}.")
    return value


def fail(message: str, code: int = 1) -> NoReturn:
    """Print a one-line error on stderr and exit, with code 1 unless told otherwise.

    message (str): What went wrong and what to do.
    code (int): The exit code.
    """
    typer.secho(f"✘ {message}", err=True, fg=typer.colors.RED)
    raise typer.Exit(code)


def refuse_input(output: Path, *inputs: Optional[Path]) -> None:
    """Fail if an output path is, holds or lies inside one of the inputs (see
    files.check_not_input).

    output (Path): The path the command will write.
    *inputs (Optional[Path]): The paths it reads; None is ignored.
    """
    try:
        check_not_input(output, inputs)
    except ValueError as err:
        fail(str(err))


def load_pipeline(name: Union[str, Path]) -> Language:
    """Load a saved spaCy pipeline (see loading.load_pipeline), or fail with a message saying
    why it can't be.

    name (Union[str, Path]): The pipeline directory, or an installed package name.
    RETURNS (Language): The pipeline.
    """
    try:
        return loading.load_pipeline(name)
    except loading.PipelineError as err:
        fail(str(err))


def warn_malformed(malformed: Problems) -> None:
    """Print the malformed input lines skipped, if any: how many, and the first few."""
    if malformed.count:
        typer.secho(f"⚠ Skipped {malformed.count} malformed lines ({malformed.summary(printable)})", err=True, fg=typer.colors.YELLOW)


def one_line(err: BaseException) -> str:
    """An error's message on one line, its whitespace collapsed."""
    return " ".join(str(err).split())

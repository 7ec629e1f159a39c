"""What every command shares: the Typer app, the two consoles, one-line errors and exit codes.

Exit codes: 0 ok · 1 error · 2 usage · 3 no face found · 4 weights missing or corrupt. An error is one
line on stderr; ``--debug`` adds the traceback. User text (paths, names, messages) is printed as plain text,
never read as console markup, so a file called ``[/].jpg`` is just a name.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.text import Text

from .. import __version__
from ..errors import GpdfaceError

app = typer.Typer(
    name="gpdface",
    help="Few-shot face image translation: translate the faces in photos into a style, or make a new style.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

# soft_wrap: lines are never broken at the console's width, so piped output and logs stay one line per message.
err = Console(stderr=True, highlight=False, soft_wrap=True)
# Piped or redirected output is not wrapped (grep and logs see whole lines, tables whole rows).
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 1000)
_state = {"debug": False}
MAX_MESSAGE = 500  # characters of an unexpected error's text that are shown (the rest is in --debug)
T = TypeVar("T")


def debugging() -> bool:
    """Whether ``--debug`` was given (tracebacks wanted)."""
    return _state["debug"]


def say(label: str, style: str, message: str, console: Console = err) -> None:
    """``label: message`` with the label coloured and the message printed exactly as it is."""
    console.print(Text.assemble((f"{label}:", style), " ", message), soft_wrap=True)


def cli_message(exc: BaseException) -> str:
    """An error's one line as the command line says it (its flags, not the Python API's arguments)."""
    if isinstance(exc, GpdfaceError):
        return exc.for_command_line()
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    return "unexpected " + (text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…")


def fail(exc: BaseException) -> typer.Exit:
    """Print one error line (and the traceback with --debug); return the Exit to raise."""
    if _state["debug"]:
        err.print("".join(traceback.format_exception(exc)), markup=False)
    code = exc.exit_code if isinstance(exc, GpdfaceError) else 1
    hint = "" if _state["debug"] or isinstance(exc, GpdfaceError) else " (run with --debug for the traceback)"
    say("error", "bold red", cli_message(exc) + hint)
    return typer.Exit(code)


def guarded(body: Callable[[], T]) -> T:
    """Run a command body, turning errors into one line and an exit code."""
    try:
        return body()
    except (typer.Exit, typer.Abort):
        raise
    except KeyboardInterrupt:
        err.print("interrupted")
        raise typer.Exit(130) from None
    except Exception as exc:
        raise fail(exc) from None


def _version(value: bool) -> None:
    if value:
        out.print(f"gpdface {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    _state["debug"] = debug

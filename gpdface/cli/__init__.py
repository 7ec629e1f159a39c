"""The ``gpdface`` command line (typer + rich): thin commands over library functions.

Heavy modules (torch, facexlib) load inside the commands, so ``gpdface --help`` stays fast. Each command
lives in its own module; importing them registers them on ``app``, in the order ``--help`` lists them.
"""

from __future__ import annotations

from importlib import import_module

from .base import app, cli_message

for _module in ("translate_cmd", "dataset_cmd", "styles_cmd", "finetune_cmd"):
    import_module(f".{_module}", __name__)

__all__ = ["app", "cli_message"]

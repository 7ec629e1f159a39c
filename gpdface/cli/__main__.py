"""``python -m gpdface.cli``: the same as the ``gpdface`` command."""

from . import app

app()

"""The training half of gpdface (``pip install "gpdface[train]"``).

Never imported by the runtime: ``import gpdface`` and ``gpdface translate`` work without it.
"""

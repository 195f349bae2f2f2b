"""``weavewave serve``: an HTTP API with persistent jobs, and a web UI, over :mod:`weavewave.api`.

The server holds no generation logic of its own. Jobs live in SQLite and run in worker processes, so
a restart loses nothing. Importing this package is light; FastAPI and Gradio load in ``serve.app``.
"""

from __future__ import annotations

from weavewave.serve.settings import Settings

__all__ = ["Settings"]

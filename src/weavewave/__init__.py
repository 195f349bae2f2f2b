"""weavewave: turn a sentence, a story or a photo into finished music.

    >>> import weavewave
    >>> brief = weavewave.describe(text="a rainy night in Tokyo, lo-fi", duration=30)
    >>> track = weavewave.generate(brief=brief)
    >>> weavewave.save(track, weavewave.Request.build(stems=False, brief=brief), "out")

Every face (this API, the CLI, the HTTP API, the page) takes the same :class:`Request`.

Importing this package is light: torch, transformers and gradio load only where they are used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["MusicBrief", "Request", "Track", "describe", "generate", "save", "__version__"]

if TYPE_CHECKING:
    from weavewave.api import describe, generate, save
    from weavewave.brief import MusicBrief
    from weavewave.generators import Track
    from weavewave.request import Request


def __getattr__(name: str) -> Any:
    if name in ("describe", "generate", "save"):
        from weavewave import api

        return getattr(api, name)
    if name == "Request":
        from weavewave.request import Request

        return Request
    if name == "MusicBrief":
        from weavewave.brief import MusicBrief

        return MusicBrief
    if name == "Track":
        from weavewave.generators import Track

        return Track
    raise AttributeError(f"module 'weavewave' has no attribute {name!r}")

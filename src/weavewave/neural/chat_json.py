"""Reading JSON out of a chat model's answer, the way models actually write it."""

from __future__ import annotations

import re
from typing import Any

from weavewave._deps import require


def json_objects(text: str) -> list[dict[str, Any]]:
    """Every JSON object in a chat model's answer, in order, repaired the usual ways models break JSON.

    ``json-repair`` (the ``neural`` extra) reads the answer: prose around the objects, Markdown fences,
    single quotes, unquoted keys, Python's ``True``/``None``, trailing commas, and an answer cut off
    mid-object by the token limit (what is open is closed). Objects inside a top-level list count too.
    """
    json_repair = require("json_repair", "neural", "reading a chat model's answer")
    cleaned = re.sub(r"```(?:json)?", "", text or "")
    try:
        found = json_repair.loads(cleaned)
    except (ValueError, RecursionError):  # nothing a repair can make JSON of
        return []
    items = found if isinstance(found, list) else [found]
    return [item for item in items if isinstance(item, dict)]

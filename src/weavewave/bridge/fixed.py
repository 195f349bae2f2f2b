"""What the user fixed: read from provenance (source ``user``), never from flags.

A control, the page or a hand edit of brief.json makes an attribute the user's; :func:`keep_fixed` puts
those back after a step that does not read provenance (an LLM refiner), and instruments a request left
out ("no drums") stay out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from weavewave.bridge.caption import rederive
from weavewave.brief import MusicBrief, Provenance
from weavewave.errors import BadInputError
from weavewave.music.instruments import resolve_instrument
from weavewave.music.styles import resolve_genre
from weavewave.music.theory import parse_key

EXCLUDED_KEY = "instruments.excluded"  # provenance of instruments a request left out ("no drums")
EXCLUDED_SEP = " left out: "
# Attributes whose provenance reason starts by stating the value ("genre lofi: ..."): a loaded brief whose
# field no longer says what its reason states was edited by hand, and the edit is the user's.
_STATED = {
    "genre": re.compile(r"genre ([a-z-]+)\b"),
    "tempo_bpm": re.compile(r"tempo (\d+(?:\.\d+)?)\b"),
    "key": re.compile(r"key ([A-G][#b]? [a-z]+)\b"),
    "meter": re.compile(r"meter (\d+/\d+)\b"),
    "energy": re.compile(r"energy (\d(?:\.\d+)?)\b"),
}
STATED_TOLERANCE = {"tempo_bpm": 0.51, "energy": 0.006}  # reasons round what they state


def _stated(name: str, reason: str) -> str | None:
    m = _STATED[name].match(reason)
    return m.group(1) if m else None


def _disagrees(name: str, stated: str, value: Any) -> bool:
    if name in STATED_TOLERANCE:
        return abs(float(stated) - float(value)) > STATED_TOLERANCE[name]
    if name == "genre":
        try:
            return resolve_genre(stated) != value
        except BadInputError:
            return False
    if name == "key":
        try:
            return str(parse_key(stated)) != str(value)
        except BadInputError:
            return False
    return stated != str(value)


def mark_hand_edits(brief: MusicBrief) -> MusicBrief:
    """A loaded brief with the attributes edited by hand marked as the user's (so nothing overrides them).

    An attribute was edited by hand when its provenance reason states a value ("genre lofi: ...") that
    the field no longer has. Derived text is not touched here: :func:`rederive` follows.
    """
    prov = dict(brief.provenance)
    for name in _STATED:
        p = prov.get(name)
        if p is None or p.source == "user" or (stated := _stated(name, p.reason)) is None:
            continue
        value = getattr(brief, name)
        if _disagrees(name, stated, value):
            shown = f"{value:g}" if isinstance(value, float) else str(value)
            prov[name] = Provenance(
                source="user",
                reason=f"{name.removesuffix('_bpm')} {shown}: edited in the brief (was {stated})",
            )
    if prov == brief.provenance:
        return brief
    return brief.model_copy(update={"provenance": dict(sorted(prov.items()))})


def fixed_by_user(brief: MusicBrief) -> set[str]:
    """The attributes the user set explicitly (a control, the page, a hand edit): provenance ``user``."""
    return {name for name, p in brief.provenance.items() if p.source == "user"}


def excluded_instruments(brief: MusicBrief) -> list[str]:
    """Instruments a request left out ("no drums"), which nothing but a request naming them brings back."""
    p = brief.provenance.get(EXCLUDED_KEY)
    if p is None or EXCLUDED_SEP not in p.reason:
        return []
    names = []
    for name in p.reason.split(EXCLUDED_SEP, 1)[0].split(", "):
        try:
            names.append(resolve_instrument(name))
        except BadInputError:
            continue
    return names


def excluded_provenance(names: Iterable[str], source: str, why: str) -> Provenance:
    """The provenance entry :func:`excluded_instruments` reads."""
    return Provenance(source=source, reason=f"{', '.join(names)}{EXCLUDED_SEP}{why}")


def keep_fixed(before: MusicBrief, after: MusicBrief) -> MusicBrief:
    """``after`` (e.g. a refiner's output) with what the user fixed in ``before`` restored, re-derived.

    For refiners that do not read provenance: what the user set wins, and instruments a request left out
    stay out unless ``after``'s provenance says a later request named them.
    """
    data = after.to_dict()
    old = before.to_dict()
    prov = dict(after.provenance)
    for name in fixed_by_user(before):
        path = name.split(".")
        if path[0] not in MusicBrief.model_fields and path[0] not in ("schema",):
            continue
        src, dst = old, data
        for k in path[:-1]:
            src, dst = src.get(k, {}), dst.setdefault(k, {})
        if path[-1] in src:
            dst[path[-1]] = src[path[-1]]
            prov[name] = before.provenance[name]
    excluded = set(excluded_instruments(after))  # a refiner that named them took the entry out
    if excluded and "instruments" not in fixed_by_user(before):
        data["instruments"] = [n for n in data["instruments"] if n not in excluded] or data["instruments"]
        for s in data["sections"]:
            s["instruments"] = [n for n in s["instruments"] if n in data["instruments"]]
    data["provenance"] = {k: v.model_dump() for k, v in sorted(prov.items())}
    return rederive(MusicBrief.from_dict(data, origin="refined brief"))


def is_fixed(brief: MusicBrief, name: str) -> bool:
    """Whether the user set ``name`` (a brief attribute or provenance key such as ``tempo_bpm``)."""
    p = brief.provenance.get(name)
    return p is not None and p.source == "user"

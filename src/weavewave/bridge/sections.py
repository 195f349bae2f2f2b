"""The brief's sections: planned from the length and energy, rescaled, and shaped by a prompt's timeline."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from weavewave.bridge.caption import players_phrase
from weavewave.brief import MusicBrief, Provenance, Section
from weavewave.music.form import plan_sections, section_caption
from weavewave.music.instruments import resolve_instrument
from weavewave.music.styles import GENRES
from weavewave.music.theory import bar_seconds
from weavewave.perceive import lexicon as lx

TIMELINE_CLIMAX_AT = 0.75  # a climax peaks about three quarters of the way through the sections
TIMELINE_MIN_SPLIT_BARS = 4  # a one-section piece at least this long is split in two for a timeline


def _event_index(event: dict[str, Any], cursor: int, n: int) -> tuple[int, int]:
    """(section index, new cursor) of a timeline event: the start, the end, or the section after the last."""
    if event["at"] == "start":
        return 0, 0
    if event["at"] == "end":
        return n - 1, cursor
    cursor = min(cursor + 1, n - 1)
    return cursor, cursor


def _split_longest(brief: MusicBrief) -> MusicBrief:
    """The brief with its longest section split at the bar nearest its middle, so that a timeline change
    has somewhere to happen (a one-section piece, or a build and a quiet end in two sections)."""
    sections = list(brief.sections)
    k = max(range(len(sections)), key=lambda i: sections[i].end_s - sections[i].start_s)
    only = sections[k]
    bar = bar_seconds(brief.tempo_bpm, brief.meter)
    bars = round((only.end_s - only.start_s) / bar)
    if bars < TIMELINE_MIN_SPLIT_BARS:
        return brief
    cut = round(only.start_s + (bars // 2) * bar, 4)
    first = only.model_copy(update={"end_s": cut})
    second = only.model_copy(update={"start_s": cut, "label": f"{only.label}'"})
    return brief.model_copy(update={"sections": [*sections[:k], first, second, *sections[k + 1 :]]})


@dataclass
class _Timeline:
    """Who plays from which section to which, the sections' energies, and what was done (in words)."""

    sections: list[Section]
    instruments: list[str]
    entry: dict[str, int] = field(init=False)
    leave: dict[str, int] = field(init=False)
    energies: list[float] = field(init=False)
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        n = len(self.sections)
        self.entry = {name: 0 for name in self.instruments}
        self.leave = {name: n for name in self.instruments}
        self.energies = [s.energy for s in self.sections]

    def only(self, names: list[str], idx: int, at_end: bool, next_change: int) -> None:
        """``names`` alone: from ``idx`` to the end (at the end), else until the next change."""
        for other in self.instruments:
            if other in names:
                continue
            if at_end:
                self.leave[other] = min(self.leave[other], idx)
            else:
                self.entry[other] = max(self.entry[other], max(next_change, idx + 1))
        self.notes.append(f"{' and '.join(names)} alone in {self.sections[idx].label}")

    def enter(self, names: list[str], idx: int) -> None:
        for name in names:
            self.entry[name] = max(self.entry[name], max(idx, 1))
        self.notes.append(f"{' and '.join(names)} join in {self.sections[max(idx, 1)].label}")

    def exit(self, names: list[str], idx: int) -> None:
        for name in names:
            self.leave[name] = min(self.leave[name], max(idx, 1))
        self.notes.append(f"{' and '.join(names)} drop out from {self.sections[max(idx, 1)].label}")

    def build(self, climax: bool) -> None:
        """Energy rising to a peak (a climax three quarters in, or a build to the end), lower after it."""
        n, energies = len(self.sections), self.energies
        peak = n - 1 if not climax or n < 3 else max(1, round(TIMELINE_CLIMAX_AT * (n - 1)))
        top = lx.TIMELINE_CLIMAX if climax else max(energies[peak], lx.TIMELINE_CLIMAX - 0.1)
        low = min(energies[0], lx.TIMELINE_BUILD_FROM)
        for k in range(peak + 1):
            energies[k] = round(low + (top - low) * k / max(1, peak), 3)
        for k in range(peak + 1, n):
            energies[k] = min(energies[k], round(top - lx.TIMELINE_AFTER_CLIMAX_DROP, 3))
        self.notes.append(
            f"{'builds to a climax in' if climax else 'builds up to'} {self.sections[peak].label}"
        )

    def quiet(self, at_end: bool) -> None:
        if at_end:
            self.energies[-1] = min(self.energies[-1], lx.TIMELINE_QUIET_END)
            self.notes.append(f"ends quietly in {self.sections[-1].label}")
        else:
            self.energies[0] = min(self.energies[0], lx.TIMELINE_QUIET_START)
            self.notes.append(f"{self.sections[0].label} quiet")

    def written(self, description: str) -> list[Section]:
        """The sections with their players, energies and captions."""
        out = []
        for k, sec in enumerate(self.sections):
            players = [x for x in self.instruments if self.entry[x] <= k < self.leave[x]]
            if not players or len(players) == len(self.instruments):
                players = []
            caption = section_caption(sec.label, self.energies[k], description)
            if players:
                caption += f", {players_phrase(players)} only"
            energy = max(0.0, min(1.0, self.energies[k]))
            out.append(sec.model_copy(update={"energy": energy, "instruments": players, "caption": caption}))
        return out


def _timeline_instruments(brief: MusicBrief, events: list[dict[str, Any]]) -> list[str]:
    """The brief's instruments plus those the events name, unless the user fixed the instruments."""
    user_fixed = brief.provenance.get("instruments", Provenance(source="default", reason="")).source == "user"
    instruments = list(brief.instruments)
    for e in events:
        for name in e.get("instruments", []):
            name = resolve_instrument(name)
            if name not in instruments and not user_fixed:
                instruments.append(name)
    return instruments


def _room_for_changes(brief: MusicBrief, actions: set[str]) -> MusicBrief:
    """Split a section where the timeline needs one more: a one-section piece with an entry or exit, or a
    build and a quiet end in fewer than three sections."""
    if len(brief.sections) == 1 and actions & {"only", "enter", "exit"}:
        brief = _split_longest(brief)
    if len(brief.sections) < 3 and actions & {"climax", "build"} and "quiet_end" in actions:
        brief = _split_longest(brief)
    return brief


def apply_timeline(brief: MusicBrief, events: list[dict[str, Any]], *, source: str = "text") -> MusicBrief:
    """Write the prompt's timeline into the brief's sections: who plays where, and how loud.

    ``events`` are the text perceiver's timeline proposals, in the order the prompt tells them; each has
    ``action`` ("only", "enter", "exit", "climax", "build", "quiet_start", "quiet_end"), ``at`` ("start",
    "next": the section after the previous change, "end") and ``instruments``. Instruments an event names
    join the brief's instruments unless the user fixed them (then events about others are dropped). The
    sections' boundaries stay as planned; a one-section piece is split in two so a change can happen.
    Returns a new brief with ``provenance["timeline"]`` saying what was done.
    """
    if not events or not brief.sections:
        return brief
    instruments = _timeline_instruments(brief, events)
    brief = _room_for_changes(brief, {e["action"] for e in events})
    plan = _Timeline(list(brief.sections), instruments)
    n = len(plan.sections)
    cursor = 0
    for i, e in enumerate(events):
        idx, cursor = _event_index(e, cursor, n)
        names = [
            resolve_instrument(x) for x in e.get("instruments", []) if resolve_instrument(x) in instruments
        ]
        action = e["action"]
        if action == "only" and names:
            later = (f for f in events[i + 1 :] if f["action"] in ("enter", "exit", "only"))
            next_change = next((_event_index(f, cursor, n)[0] for f in later), idx + 1)
            plan.only(names, idx, e["at"] == "end", next_change)
        elif action in ("enter", "exit") and names and n == 1:
            # Too short to split (under TIMELINE_MIN_SPLIT_BARS bars): nowhere for a change to happen.
            plan.notes.append(f"{' and '.join(names)} play throughout: too short for a change")
        elif action == "enter" and names:
            plan.enter(names, idx)
        elif action == "exit" and names:
            plan.exit(names, idx)
        elif action in ("climax", "build"):
            plan.build(climax=action == "climax")
        elif action in ("quiet_start", "quiet_end"):
            plan.quiet(at_end=action == "quiet_end")
    out = plan.written(GENRES[brief.genre].description)
    provenance = dict(brief.provenance)
    provenance["timeline"] = Provenance(source=source, reason="; ".join(plan.notes) or "no change")
    if instruments != list(brief.instruments):
        added = [x for x in instruments if x not in brief.instruments]
        old = provenance.get("instruments")
        provenance["instruments"] = Provenance(
            source=old.source if old else source,
            reason=(f"{old.reason}; " if old else "") + f"{', '.join(added)}: the timeline brings them in",
        )
    return brief.model_copy(update={"instruments": instruments, "sections": out, "provenance": provenance})


def with_sections(brief: MusicBrief) -> MusicBrief:
    """A copy of the brief with freshly planned, bar-aligned sections."""
    style = GENRES[brief.genre]
    bar = bar_seconds(brief.tempo_bpm, brief.meter)
    sections = []
    planned = plan_sections(
        brief.duration_s, brief.tempo_bpm, brief.meter, brief.energy, genre=brief.genre, seed=brief.seed
    )
    for i, ps in enumerate(planned):
        start = round(ps.start_bar * bar, 4)
        end = brief.duration_s if i == len(planned) - 1 else round((ps.start_bar + ps.bars) * bar, 4)
        if end <= start:
            continue
        sections.append(
            Section(
                start_s=start,
                end_s=round(min(end, brief.duration_s), 4),
                label=ps.label,
                energy=ps.energy,
                caption=section_caption(ps.label, ps.energy, style.description),
            )
        )
    return brief.model_copy(update={"sections": sections})


def rescale_sections(brief: MusicBrief, new_duration: float) -> list[Section]:
    """Keep a brief's (possibly user-edited) sections, stretched to a new duration."""
    if not brief.sections:
        return []
    factor = new_duration / brief.duration_s
    out = []
    for i, s in enumerate(brief.sections):
        end = new_duration if i == len(brief.sections) - 1 else round(s.end_s * factor, 4)
        out.append(s.model_copy(update={"start_s": round(s.start_s * factor, 4), "end_s": end}))
    return out

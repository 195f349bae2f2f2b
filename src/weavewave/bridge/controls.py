"""Explicit controls: checked once, and applied over a loaded brief (they always win)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from weavewave.bridge.caption import dedupe, rederive
from weavewave.bridge.fixed import mark_hand_edits
from weavewave.bridge.sections import rescale_sections, with_sections
from weavewave.brief import Key, MusicBrief, Provenance
from weavewave.errors import BadInputError
from weavewave.music.instruments import resolve_instrument
from weavewave.music.styles import resolve_genre
from weavewave.music.theory import parse_key, parse_meter


@dataclass
class Controls:
    """Explicit user controls; any field left None is filled from the inputs or defaults."""

    duration: float | None = None
    tempo: float | None = None
    key: str | None = None
    meter: str | None = None
    genre: str | None = None
    instruments: list[str] | None = None
    seed: int | None = None

    def validated(self) -> Controls:
        """Check ranges and names before any work is done. Raises BadInputError."""
        if self.duration is not None and not (0 < self.duration <= 600):
            raise BadInputError(
                f"duration {self.duration:g} s is out of range: use more than 0 and at most 600 seconds"
            )
        if self.tempo is not None and not (30 <= self.tempo <= 300):
            raise BadInputError(f"tempo {self.tempo:g} BPM is out of range: use 30 to 300 BPM")
        if self.seed is not None and not (0 <= self.seed < 2**32):
            raise BadInputError(f"seed {self.seed} is out of range: use 0 to 4294967295")
        return Controls(
            duration=self.duration,
            tempo=self.tempo,
            key=str(parse_key(self.key)) if self.key is not None else None,
            meter=parse_meter(self.meter) if self.meter is not None else None,
            genre=resolve_genre(self.genre) if self.genre is not None else None,
            instruments=dedupe(resolve_instrument(i) for i in self.instruments)
            if self.instruments is not None
            else None,
            seed=self.seed,
        )


CONTROL_FIELDS = ("duration", "tempo", "key", "meter", "genre", "instruments", "seed")


def controls_of(request: Any) -> Controls:
    """The controls of a request (or anything with the control fields; a missing field is not set)."""
    return Controls(**{name: getattr(request, name, None) for name in CONTROL_FIELDS})


def apply_controls(brief: MusicBrief, controls: Controls) -> MusicBrief:
    """Vary a loaded brief with explicit controls; everything else, including edits, is kept.

    Fields edited by hand become the user's (:func:`mark_hand_edits`), and the derived text follows the
    new fields (:func:`rederive`), also when no control is given.
    """
    c = controls.validated()
    brief = mark_hand_edits(brief)
    update: dict[str, Any] = {}
    prov = dict(brief.provenance)
    if c.genre:
        update["genre"] = c.genre
        prov["genre"] = Provenance(source="user", reason=f"genre {c.genre}: set with --genre")
    if c.tempo is not None:
        update["tempo_bpm"] = float(c.tempo)
        prov["tempo_bpm"] = Provenance(source="user", reason=f"tempo {c.tempo:g}: set with --tempo")
    if c.key:
        ks = parse_key(c.key)
        update["key"] = Key(tonic=ks.tonic, mode=ks.mode)
        prov["key"] = Provenance(source="user", reason=f"key {ks}: set with --key")
    if c.meter:
        update["meter"] = c.meter
        prov["meter"] = Provenance(source="user", reason=f"meter {c.meter}: set with --meter")
    if c.instruments:
        update["instruments"] = list(c.instruments)
        prov["instruments"] = Provenance(source="user", reason="set with --instruments")
    if c.seed is not None:
        update["seed"] = c.seed
        prov["seed"] = Provenance(source="user", reason="set with --seed")
    if c.duration is not None:
        update["duration_s"] = float(c.duration)
        update["sections"] = rescale_sections(brief, float(c.duration))
        prov["duration_s"] = Provenance(
            source="user", reason=f"duration {c.duration:g} s: set with --duration"
        )
    if not update:
        return rederive(brief)
    data = brief.to_dict()
    data.update({k: (v.model_dump() if hasattr(v, "model_dump") else v) for k, v in update.items()})
    data["sections"] = [s.model_dump() if hasattr(s, "model_dump") else s for s in data["sections"]]
    data["provenance"] = {k: v.model_dump() for k, v in sorted(prov.items())}
    varied = MusicBrief.from_dict(data, origin="brief with controls")
    if not varied.sections:
        varied = with_sections(varied)
    return rederive(varied)

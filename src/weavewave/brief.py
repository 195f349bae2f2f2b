"""MusicBrief: the one contract between understanding and generation.

A brief is plain, versioned JSON. ``generate`` writes it as ``brief.json``; a user may edit it and pass
it back with ``--brief`` to reproduce or vary a piece.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from weavewave.errors import BadInputError
from weavewave.music.instruments import resolve_instrument
from weavewave.music.styles import resolve_genre
from weavewave.music.theory import METERS, MODE_ALIASES, canonical_tonic

SCHEMA_ID = "weavewave.brief/1"
MAX_DURATION_S = 600.0
TEMPO_RANGE = (30.0, 300.0)

Source = Literal["user", "brief", "text", "image", "video", "default", "audio", "instruction", "mllm"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class Key(_Model):
    """Tonic spelling ("F#", "Bb") and mode ("major", "minor", "dorian", ...)."""

    tonic: str
    mode: str = "major"

    @field_validator("tonic")
    @classmethod
    def _tonic(cls, v: str) -> str:
        return canonical_tonic(v)

    @field_validator("mode")
    @classmethod
    def _mode(cls, v: str) -> str:
        mode = MODE_ALIASES.get(v.strip().lower())
        if mode is None:
            raise ValueError(
                f"unknown mode {v!r}; use major, minor, dorian, phrygian, lydian, mixolydian or locrian"
            )
        return mode

    def __str__(self) -> str:
        return f"{self.tonic} {self.mode}"


class Mood(_Model):
    """Mood on the circumplex: valence (unpleasant..pleasant) and arousal (calm..excited), plus tags."""

    valence: float = Field(0.0, ge=-1.0, le=1.0)
    arousal: float = Field(0.0, ge=-1.0, le=1.0)
    tags: list[str] = Field(default_factory=list)


class Texture(_Model):
    """How the arrangement sits: register (-1 low .. 1 high) and note density (0 sparse .. 1 busy)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, populate_by_name=True)

    register_: float = Field(0.0, ge=-1.0, le=1.0, alias="register")
    density: float = Field(0.5, ge=0.0, le=1.0)


class Section(_Model):
    """One span of the form, with its own energy and caption."""

    start_s: float = Field(ge=0.0)
    end_s: float = Field(gt=0.0)
    label: str
    energy: float = Field(0.5, ge=0.0, le=1.0)
    caption: str = ""
    # Who plays here, by canonical name from the brief's instruments; empty means everyone. A timeline
    # ("then strings join", "the drums drop out") is written as the sections each instrument plays in.
    instruments: list[str] = Field(default_factory=list)

    @field_validator("instruments")
    @classmethod
    def _instruments(cls, v: list[str]) -> list[str]:
        return list(dict.fromkeys(resolve_instrument(name) for name in v))

    @model_validator(mode="after")
    def _ordered(self) -> Section:
        if self.end_s <= self.start_s:
            raise ValueError(f"section {self.label!r} ends ({self.end_s}) before it starts ({self.start_s})")
        return self


# --- scoring to picture and loops (video) ---------------------------------------------------------
CueKind = Literal["section", "accent"]


class Cue(_Model):
    """A moment the music must mark, e.g. a cut in a video: the kit plays a crash and a kick on it.

    ``section``: a section starts here (a drum fill leads into it); ``accent``: a hit inside a section.
    Times are seconds from the start of the piece, on the beat grid when the brief was scored to picture.
    """

    time_s: float = Field(ge=0.0)
    kind: CueKind = "accent"
    label: str = ""


class Provenance(_Model):
    """Which source set an attribute, and why, in words a person can read."""

    source: Source
    reason: str


class Observation(_Model):
    """What one perceiver measured from one input. Numbers are kept so a user can check the reasoning."""

    source: Literal["text", "image", "video", "audio", "mllm"]
    input: str  # the prompt (shortened) or the file name
    summary: str
    measurements: dict[str, Any] = Field(default_factory=dict)


# --- reference material (audio engineer) ---------------------------------------------------------
REFERENCE_MODES = ("melody", "harmony", "style")
DEFAULT_REFERENCE_MODE = "melody"  # restyling keeps the tune unless asked otherwise, as M2T2M does


class ReferenceMaterial(_Model):
    """What the piece keeps from a reference tune (``--audio``), so ``--brief`` reproduces it.

    Times are in quarter notes from the reference's first beat, not seconds, so the material follows
    a new tempo; pitches are as transcribed and are moved to a new key by the generator.

    ``mode`` says what is kept: ``melody`` the tune and its chords (re-arranged), ``harmony`` the chords
    (a new tune is written over them), ``style`` only tempo, groove and feel (nothing here is replayed).
    """

    source: str  # the reference file's name
    mode: Literal["melody", "harmony", "style"] = "melody"
    tempo_bpm: float = Field(ge=TEMPO_RANGE[0], le=TEMPO_RANGE[1])  # measured, quarter notes per minute
    key: Key  # measured key the pitches are in
    length_qn: float = Field(gt=0.0)  # the material's length; it loops if the piece is longer
    melody: list[tuple[float, float, int, int]] = Field(
        default_factory=list
    )  # (start_qn, dur_qn, pitch, velocity)
    chords: list[tuple[float, float, str]] = Field(default_factory=list)  # (start_qn, dur_qn, "A:min")
    # Where the chords come from: "audio" (read from the recording) or "melody" (re-harmonised from the kept
    # tune because the recording's harmony was not trustworthy), with the measured confidence and why.
    chords_from: Literal["audio", "melody"] = "audio"
    harmony_confidence: float | None = Field(None, ge=0.0, le=1.0)
    harmony_reason: str = ""


# --- the generator that made the piece ---------------------------------------------------------------
class FileDigest(_Model):
    """An input file by name and content: a path would not survive a move to another machine."""

    name: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class GeneratorRecord(_Model):
    """Which generator made the piece and with which settings, so ``generate --brief`` makes it again.

    ``options`` are the generator's options that change the sound, by their public names (for musicgen:
    model id or folder, decoder, steer, sampling, windowing; for symbolic: the SoundFont's name);
    ``files`` are input files by content hash (musicgen: the melody recording).
    """

    backend: str
    options: dict[str, str | int | float | bool | None] = Field(default_factory=dict)
    files: dict[str, FileDigest] = Field(default_factory=dict)


class MusicBrief(_Model):
    """Everything a generator needs, and where each value came from."""

    schema_: str = Field(SCHEMA_ID, alias="schema")
    caption: str
    duration_s: float = Field(gt=0.0, le=MAX_DURATION_S)
    tempo_bpm: float = Field(ge=TEMPO_RANGE[0], le=TEMPO_RANGE[1])
    meter: str = "4/4"
    key: Key
    mood: Mood = Field(default_factory=Mood)
    genre: str
    instruments: list[str] = Field(min_length=1)
    energy: float = Field(0.5, ge=0.0, le=1.0)
    texture: Texture = Field(default_factory=Texture)
    sections: list[Section] = Field(default_factory=list)
    references: list[str] = Field(default_factory=list)
    # Scoring to picture: hits the arrangement plays, and the first downbeat (a pickup before it), so
    # that bar lines land on a video's cuts. ``loop``: the end leads seamlessly back into the start.
    cues: list[Cue] = Field(default_factory=list)
    downbeat_s: float = Field(0.0, ge=0.0)
    # A tempo map as (score time, real time) knots in seconds, piecewise linear: the music is written at
    # tempo_bpm in score time and played in real time, so section changes land exactly on cuts (as a
    # film click track bends its tempo). Empty: score time is real time. Sections and cues are in real time.
    warp: list[tuple[float, float]] = Field(default_factory=list)
    loop: bool = False
    reference: ReferenceMaterial | None = None  # material kept from a reference tune (--audio)
    seed: int = Field(0, ge=0, lt=2**32)
    provenance: dict[str, Provenance] = Field(default_factory=dict)
    observations: list[Observation] = Field(default_factory=list)
    # Set by the generator on the Track's brief; absent in a brief that has not been generated yet (and in
    # briefs written before generators recorded themselves).
    generator: GeneratorRecord | None = None

    model_config = ConfigDict(extra="forbid", validate_assignment=True, populate_by_name=True)

    @field_validator("schema_")
    @classmethod
    def _schema(cls, v: str) -> str:
        if v != SCHEMA_ID:
            raise ValueError(f"unsupported schema {v!r}; this version reads {SCHEMA_ID!r}")
        return v

    @field_validator("meter")
    @classmethod
    def _meter(cls, v: str) -> str:
        if v not in METERS:
            raise ValueError(f"unsupported meter {v!r}; use one of {', '.join(METERS)}")
        return v

    @field_validator("genre")
    @classmethod
    def _genre(cls, v: str) -> str:
        return resolve_genre(v)

    @field_validator("instruments")
    @classmethod
    def _instruments(cls, v: list[str]) -> list[str]:
        out: list[str] = []
        for name in v:
            canonical = resolve_instrument(name)
            if canonical not in out:
                out.append(canonical)
        return out

    @model_validator(mode="after")
    def _sections_fit(self) -> MusicBrief:
        previous_end = 0.0
        for i, s in enumerate(self.sections):
            if s.start_s < previous_end - 1e-6:
                raise ValueError(f"sections[{i}] ({s.label!r}) starts before the previous one ends")
            if s.end_s > self.duration_s + 1e-6:
                raise ValueError(
                    f"sections[{i}] ({s.label!r}) ends at {s.end_s} s, after duration_s {self.duration_s}"
                )
            previous_end = s.end_s
            unknown = [n for n in s.instruments if n not in self.instruments]
            if unknown:
                raise ValueError(
                    f"sections[{i}] ({s.label!r}) lists {', '.join(unknown)}, which the brief's "
                    "instruments do not include; add them to instruments or remove them here"
                )
        for i, cue in enumerate(self.cues):
            if cue.time_s > self.duration_s + 1e-6:
                raise ValueError(f"cues[{i}] at {cue.time_s} s is after duration_s {self.duration_s}")
        if self.warp:
            score, real = zip(*self.warp, strict=True)
            if any(b <= a for a, b in zip(score, score[1:], strict=False)) or any(
                b <= a for a, b in zip(real, real[1:], strict=False)
            ):
                raise ValueError("warp knots must increase in both score and real time")
            if abs(real[-1] - self.duration_s) > 1e-3 or real[0] != 0 or score[0] != 0:
                raise ValueError("warp must run from (0, 0) to a real time equal to duration_s")
        if self.downbeat_s >= self.duration_s:
            raise ValueError(f"downbeat_s {self.downbeat_s} must be less than duration_s {self.duration_s}")
        return self

    # --- serialisation -------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)

    def to_json(self) -> str:
        """Stable JSON text (2-space indent, trailing newline)."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_dict(cls, data: Any, *, origin: str = "brief") -> MusicBrief:
        """Validate a dict. Errors name the offending field and say how to fix it."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise BadInputError(f"{origin}: {_first_error(exc)}") from None
        except BadInputError as exc:
            raise BadInputError(f"{origin}: {exc}") from None

    @classmethod
    def from_json(cls, text: str, *, origin: str = "brief") -> MusicBrief:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BadInputError(
                f"{origin} is not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}"
            ) from None
        return cls.from_dict(data, origin=origin)

    @classmethod
    def load(cls, path: str | Path) -> MusicBrief:
        from weavewave.io.text import read_text_file

        p = Path(path)
        return cls.from_json(read_text_file(p, what="brief file"), origin=str(p))

    def summary(self) -> str:
        """One line: genre, key, tempo, meter, length, instruments."""
        inst = ", ".join(self.instruments[:4]) + ("…" if len(self.instruments) > 4 else "")
        return (
            f"{self.genre}, {self.key}, {self.tempo_bpm:g} BPM, {self.meter}, {self.duration_s:g} s, "
            f"valence {self.mood.valence:+.2f} arousal {self.mood.arousal:+.2f}; {inst}"
        )


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"] if p != "__root__") or "brief"
    msg = err["msg"].removeprefix("Value error, ")
    extra = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"field '{loc}': {msg}{extra}; fix it in the JSON and try again"


def json_schema() -> dict[str, Any]:
    """The published JSON Schema of the brief (``weavewave schema``)."""
    schema = MusicBrief.model_json_schema(by_alias=True)
    schema["$id"] = SCHEMA_ID
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema

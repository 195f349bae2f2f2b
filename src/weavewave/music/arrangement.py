"""The symbolic score a composer produces and the renderer plays: parts of timed notes.

Times are in seconds, as in pretty_midi. ``to_midi`` writes a Standard MIDI File that opens in a DAW:
one track per part, named, with tempo, time signature and key signature. A piece scored to picture
plays through a bent tempo; its file carries that tempo map, and a pickup bar before its first downbeat,
so the DAW's bar lines sit on the music's (see :func:`tick_scales`).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from weavewave.music.theory import METERS, tonic_pitch_class


@dataclass(frozen=True)
class Note:
    """One note: MIDI pitch (0-127), velocity (1-127), start and end in seconds."""

    pitch: int
    velocity: int
    start: float
    end: float


@dataclass
class Part:
    """One instrument's line, plus its place in the mix.

    Attributes
    ----------
    name: track name shown in a DAW, e.g. "melody: Tenor Sax".
    instrument: canonical instrument name (see ``weavewave.music.instruments``).
    program: GM program 0-127; ignored for drums.
    is_drum: played on the GM percussion channel.
    role: one of ``weavewave.music.instruments.ROLES``.
    pan: -1 (left) .. 1 (right).
    gain_db: level in the mix before mastering.
    reverb: 0 (dry) .. 1 (wet) send amount.
    """

    name: str
    instrument: str
    program: int
    is_drum: bool
    role: str
    notes: list[Note] = field(default_factory=list)
    pan: float = 0.0
    gain_db: float = 0.0
    reverb: float = 0.2
    # (time_s, controller, value) MIDI control changes, e.g. sustain pedal (64)
    controls: list[tuple[float, int, int]] = field(default_factory=list)

    def __repr__(self) -> str:
        return f"Part({self.name!r}, role={self.role}, {len(self.notes)} notes, pan={self.pan:+.2f})"


@dataclass
class Arrangement:
    """A whole piece as parts. ``duration_s`` is the exact length the audio must have."""

    parts: list[Part]
    tempo_bpm: float
    meter: str
    duration_s: float
    key_tonic: str
    key_mode: str
    # Where the tempo bends (scoring to picture): (time_s, quarter notes per minute) from each time on.
    # Empty: one steady tempo, ``midi_quarter_bpm()``. Only the MIDI file's grid reads it; note times
    # are already in seconds.
    tempo_changes: list[tuple[float, float]] = field(default_factory=list)
    # The first downbeat (s); the span before it is written as a short pickup bar.
    downbeat_s: float = 0.0

    def __repr__(self) -> str:
        return (
            f"Arrangement({len(self.parts)} parts, {self.tempo_bpm:g} BPM {self.meter}, "
            f"{self.key_tonic} {self.key_mode}, {self.duration_s:g} s)"
        )

    def midi_quarter_bpm(self) -> float:
        """MIDI tempo counts quarter notes; in 6/8 our beat is the dotted quarter."""
        return self.tempo_bpm * 1.5 if self.meter == "6/8" else self.tempo_bpm

    def to_pretty_midi(
        self, parts: list[Part] | None = None, *, end_s: float | None = None, tempo_map: bool = True
    ):
        """Build a ``pretty_midi.PrettyMIDI``. ``end_s`` adds a silent event so renderers keep tails.

        ``tempo_map``: write ``tempo_changes`` and the pickup bar before ``downbeat_s`` (a DAW's bar
        lines then fall on the music's). False writes one steady tempo: the synthesizer only needs
        seconds, and one tick grid keeps the rendered audio exactly what it was before tempo maps.
        """
        import pretty_midi

        pm = pretty_midi.PrettyMIDI(initial_tempo=self.midi_quarter_bpm())
        num, den = METERS[self.meter]
        if tempo_map and (self.tempo_changes or self.downbeat_s > 0):
            changes = self.tempo_changes or [(0.0, self.midi_quarter_bpm())]
            pm._tick_scales, pickup_ticks = tick_scales(changes, self.downbeat_s, pm.resolution)
            pm._update_tick_to_time(pm._tick_scales[-1][0] + 1)  # what time_to_tick reads when writing
            pickup = pickup_signature(pickup_ticks, pm.resolution) if pickup_ticks else None
            # without a pickup signature, the meter starts at 0 and again, mid-bar, at the downbeat
            pm.time_signature_changes.append(pretty_midi.TimeSignature(*(pickup or (num, den)), 0.0))
        pm.time_signature_changes.append(
            pretty_midi.TimeSignature(num, den, self.downbeat_s if tempo_map else 0.0)
        )
        minor = self.key_mode in ("minor", "dorian", "phrygian", "locrian")
        key_number = tonic_pitch_class(self.key_tonic) + (12 if minor else 0)
        pm.key_signature_changes.append(pretty_midi.KeySignature(key_number, 0.0))
        for part in self.parts if parts is None else parts:
            inst = pretty_midi.Instrument(
                program=0 if part.is_drum else part.program, is_drum=part.is_drum, name=part.name
            )
            inst.notes = [
                pretty_midi.Note(velocity=n.velocity, pitch=n.pitch, start=n.start, end=n.end)
                for n in sorted(part.notes, key=lambda n: (n.start, n.pitch))
            ]
            inst.control_changes = [
                pretty_midi.ControlChange(number=c, value=v, time=t) for t, c, v in sorted(part.controls)
            ]
            if end_s is not None:
                inst.control_changes.append(pretty_midi.ControlChange(number=110, value=0, time=end_s))
            pm.instruments.append(inst)
        return pm

    def to_midi_bytes(self) -> bytes:
        """Standard MIDI File bytes of the whole arrangement."""
        buf = io.BytesIO()
        self.to_pretty_midi().write(buf)
        return buf.getvalue()


# --- tempo map ------------------------------------------------------------------------------------
SIXTEENTHS_PER_QUARTER = 4
MAX_NUMERATOR = 255  # a MIDI time signature's numerator is one byte


def tick_scales(
    changes: list[tuple[float, float]], downbeat_s: float, resolution: int
) -> tuple[list[tuple[int, float]], int]:
    """pretty_midi tick scales ``(tick, seconds per tick)`` for a tempo map, and the pickup's length in ticks.

    ``changes``: (time_s, quarter notes per minute), the first at 0. Every change, and the first
    downbeat, gets a whole tick whose time is exactly its time in seconds: each span's tempo is set
    from its tick count, so rounding bends a tempo by less than half a tick per span and never moves a
    knot. The span before ``downbeat_s`` is rounded to whole sixteenths (at least one): a pickup bar
    that a time signature can describe, after which bar lines count from the downbeat.
    """
    changes = sorted(changes)
    if not changes or changes[0][0] > 0:
        raise ValueError(f"a tempo map starts at 0 s, got {changes[:1]}")
    times = sorted({t for t, _ in changes} | ({downbeat_s} if downbeat_s > 0 else set()))

    def qpm_at(t: float) -> float:
        return next(q for c, q in reversed(changes) if c <= t)

    quarters = [0.0]
    for a, b in zip(times[:-1], times[1:], strict=True):
        quarters.append(quarters[-1] + (b - a) * qpm_at(a) / 60.0)
    sixteenth = resolution / SIXTEENTHS_PER_QUARTER
    pickup_ticks, at_downbeat = 0, 0.0
    if downbeat_s > 0:
        at_downbeat = quarters[times.index(downbeat_s)]
        pickup_ticks = int(pickup_sixteenths(at_downbeat) * sixteenth)
    ticks = [
        round(q / at_downbeat * pickup_ticks)
        if t < downbeat_s
        else pickup_ticks + round((q - at_downbeat) * resolution)
        for t, q in zip(times, quarters, strict=True)
    ]
    scales: list[tuple[int, float]] = []
    for i, (t, tick) in enumerate(zip(times, ticks, strict=True)):
        if i + 1 < len(times):
            if ticks[i + 1] <= tick:
                continue  # a span shorter than a tick: the next change takes over here
            scale = (times[i + 1] - t) / (ticks[i + 1] - tick)
        else:
            scale = 60.0 / (qpm_at(t) * resolution)
        if not scales or abs(scales[-1][1] - scale) > 1e-12:
            scales.append((tick, scale))
    return scales, pickup_ticks


def pickup_sixteenths(quarters: float) -> int:
    """How many sixteenths the pickup bar before a downbeat ``quarters`` quarter notes in has (at least one)."""
    return max(1, round(quarters * SIXTEENTHS_PER_QUARTER))


def pickup_signature(ticks: int, resolution: int) -> tuple[int, int] | None:
    """The time signature of a pickup bar ``ticks`` long (whole sixteenths), in its lowest terms: 3/16, 3/8, 1/4.

    Counted in quarters or shorter, unless only halves or wholes fit MIDI's one-byte numerator; None when
    nothing does (a pre-roll of more than 255 sixteenths, with an odd count, that no scoring produces).
    """
    n, den = round(ticks * SIXTEENTHS_PER_QUARTER / resolution), 16
    while n % 2 == 0 and den > 1 and (den > 4 or n > MAX_NUMERATOR):
        n, den = n // 2, den // 2
    return (n, den) if n <= MAX_NUMERATOR else None

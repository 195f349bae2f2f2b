"""The symbolic score a composer produces and the renderer plays: parts of timed notes.

Times are in seconds, as in pretty_midi. ``to_midi`` writes a Standard MIDI File that opens in a DAW:
one track per part, named, with tempo, time signature and key signature.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from weavewave.theory import METERS, tonic_pitch_class


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
    instrument: canonical instrument name (see ``weavewave.instruments``).
    program: GM program 0-127; ignored for drums.
    is_drum: played on the GM percussion channel.
    role: one of ``weavewave.instruments.ROLES``.
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

    def __repr__(self) -> str:
        return (f"Arrangement({len(self.parts)} parts, {self.tempo_bpm:g} BPM {self.meter}, "
                f"{self.key_tonic} {self.key_mode}, {self.duration_s:g} s)")

    def midi_quarter_bpm(self) -> float:
        """MIDI tempo counts quarter notes; in 6/8 our beat is the dotted quarter."""
        return self.tempo_bpm * 1.5 if self.meter == "6/8" else self.tempo_bpm

    def to_pretty_midi(self, parts: list[Part] | None = None, *, end_s: float | None = None):
        """Build a ``pretty_midi.PrettyMIDI``. ``end_s`` adds a silent event so renderers keep tails."""
        import pretty_midi

        pm = pretty_midi.PrettyMIDI(initial_tempo=self.midi_quarter_bpm())
        num, den = METERS[self.meter]
        pm.time_signature_changes.append(pretty_midi.TimeSignature(num, den, 0.0))
        minor = self.key_mode in ("minor", "dorian", "phrygian", "locrian")
        key_number = tonic_pitch_class(self.key_tonic) + (12 if minor else 0)
        pm.key_signature_changes.append(pretty_midi.KeySignature(key_number, 0.0))
        for part in self.parts if parts is None else parts:
            inst = pretty_midi.Instrument(program=0 if part.is_drum else part.program,
                                          is_drum=part.is_drum, name=part.name)
            inst.notes = [pretty_midi.Note(velocity=n.velocity, pitch=n.pitch, start=n.start, end=n.end)
                          for n in sorted(part.notes, key=lambda n: (n.start, n.pitch))]
            inst.control_changes = [pretty_midi.ControlChange(number=c, value=v, time=t)
                                    for t, c, v in sorted(part.controls)]
            if end_s is not None:
                inst.control_changes.append(pretty_midi.ControlChange(number=110, value=0, time=end_s))
            pm.instruments.append(inst)
        return pm

    def to_midi_bytes(self) -> bytes:
        """Standard MIDI File bytes of the whole arrangement."""
        buf = io.BytesIO()
        self.to_pretty_midi().write(buf)
        return buf.getvalue()

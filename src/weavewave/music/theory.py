"""Pitch, key and meter vocabulary: names and parsing, no composition logic."""

from __future__ import annotations

import re
from dataclasses import dataclass

from weavewave.errors import BadInputError

# Semitone offsets of each mode from its tonic.
MODES: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "phrygian": (0, 1, 3, 5, 7, 8, 10),
    "lydian": (0, 2, 4, 6, 7, 9, 11),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "locrian": (0, 1, 3, 5, 6, 8, 10),
}
MODE_ALIASES: dict[str, str] = {
    "maj": "major",
    "major": "major",
    "ionian": "major",
    "": "major",
    "m": "minor",
    "min": "minor",
    "minor": "minor",
    "aeolian": "minor",
    "dorian": "dorian",
    "phrygian": "phrygian",
    "lydian": "lydian",
    "mixolydian": "mixolydian",
    "locrian": "locrian",
}
# Modes whose third is minor: used for "brightness" of a mode.
MINOR_THIRD_MODES = frozenset({"minor", "dorian", "phrygian", "locrian"})

PITCH_CLASS: dict[str, int] = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
# Spelling of tonics we write back out; flats where musicians usually use them.
TONIC_NAMES = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
METERS: dict[str, tuple[int, int]] = {"4/4": (4, 4), "3/4": (3, 4), "6/8": (6, 8)}

_KEY_RE = re.compile(
    r"^\s*([a-g])\s*(#|♯|b|♭|-|sharp|flat)?\s*(major|minor|maj|min|m|ionian|aeolian|dorian|"
    r"phrygian|lydian|mixolydian|locrian)?\s*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class KeySpec:
    """A parsed key: tonic spelling, its pitch class and the mode name."""

    tonic: str
    mode: str

    @property
    def pitch_class(self) -> int:
        return tonic_pitch_class(self.tonic)

    def __str__(self) -> str:
        return f"{self.tonic} {self.mode}"


def tonic_pitch_class(tonic: str) -> int:
    """Pitch class (0-11) of a tonic spelling such as ``"F#"`` or ``"Bb"``."""
    letter = tonic[0].upper()
    if letter not in PITCH_CLASS:
        raise BadInputError(f"unknown tonic {tonic!r}: use a letter A-G with an optional # or b")
    pc = PITCH_CLASS[letter]
    for accidental in tonic[1:]:
        pc += 1 if accidental in "#♯" else -1 if accidental in "b♭-" else 0
    return pc % 12


def parse_key(text: str) -> KeySpec:
    """Parse the usual key spellings: ``"F# minor"``, ``"Bb major"``, ``"c#m"``, ``"A dorian"``.

    Raises
    ------
    BadInputError
        If the text is not a key.
    """
    m = _KEY_RE.match(text.replace("-sharp", "#").replace(" sharp", "#").replace(" flat", "b"))
    if not m:
        raise BadInputError(
            f"cannot read key {text!r}: write a tonic and a mode, e.g. 'F# minor', 'Bb major', "
            "'c#m' or 'A dorian'"
        )
    letter, accidental, mode = m.group(1).upper(), (m.group(2) or "").lower(), (m.group(3) or "")
    mode_l = mode.lower()
    if mode == "M":  # "CM" conventionally means C major
        mode_l = "major"
    accidental = {"♯": "#", "sharp": "#", "♭": "b", "-": "b", "flat": "b"}.get(accidental, accidental)
    tonic = letter + accidental
    return KeySpec(tonic=tonic, mode=MODE_ALIASES[mode_l])


def canonical_tonic(tonic: str) -> str:
    """Normalise a tonic spelling ("c#" -> "C#", "B♭" -> "Bb"), keeping the user's choice of sharp or flat."""
    return parse_key(tonic).tonic


def scale_pitch_classes(tonic: str, mode: str) -> list[int]:
    """The seven pitch classes of a key, tonic first."""
    root = tonic_pitch_class(tonic)
    return [(root + step) % 12 for step in MODES[mode]]


def parse_meter(text: str) -> str:
    """Validate a meter string; the supported meters are the keys of :data:`METERS`."""
    value = text.strip().replace(" ", "")
    if value not in METERS:
        raise BadInputError(f"unsupported meter {text!r}: use one of {', '.join(METERS)}")
    return value


def beats_per_bar(meter: str) -> float:
    """Quarter-note beats per bar: 4/4 -> 4, 3/4 -> 3, 6/8 -> 3."""
    num, den = METERS[meter]
    return num * 4 / den


def bar_seconds(tempo_bpm: float, meter: str) -> float:
    """Length of one bar in seconds. Tempo counts quarter notes, except 6/8 where it counts dotted quarters."""
    if meter == "6/8":
        return 2 * 60.0 / tempo_bpm
    return beats_per_bar(meter) * 60.0 / tempo_bpm

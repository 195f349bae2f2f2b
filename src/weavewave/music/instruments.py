"""General MIDI instrument names, the aliases people type, and the role each can play."""

from __future__ import annotations

import difflib
import re

import pretty_midi

from weavewave.errors import BadInputError

# The 128 General MIDI program names (program = index): pretty_midi's table, with the General MIDI 1
# spelling where pretty_midi's differs. Briefs have always written these two; pretty_midi's own
# spellings are accepted too (see ``_BY_NORM``).
GM_SPELLING: dict[int, str] = {83: "Lead 4 (chiff)", 109: "Bag pipe"}
GM_PROGRAMS: tuple[str, ...] = tuple(
    GM_SPELLING.get(program, pretty_midi.program_to_instrument_name(program)) for program in range(128)
)
DRUMS = "Drums"  # the GM percussion channel, written as its own instrument name

# What people type -> canonical name. Keys are normalised with `_norm`.
ALIASES: dict[str, str] = {
    "piano": "Acoustic Grand Piano",
    "grand piano": "Acoustic Grand Piano",
    "acoustic piano": "Acoustic Grand Piano",
    "keys": "Electric Piano 1",
    "electric piano": "Electric Piano 1",
    "rhodes": "Electric Piano 1",
    "epiano": "Electric Piano 1",
    "e piano": "Electric Piano 1",
    "wurlitzer": "Electric Piano 2",
    "harpsichord": "Harpsichord",
    "celesta": "Celesta",
    "glockenspiel": "Glockenspiel",
    "music box": "Music Box",
    "vibraphone": "Vibraphone",
    "vibes": "Vibraphone",
    "marimba": "Marimba",
    "xylophone": "Xylophone",
    "bells": "Tubular Bells",
    "chimes": "Tubular Bells",
    "organ": "Drawbar Organ",
    "hammond": "Drawbar Organ",
    "church organ": "Church Organ",
    "pipe organ": "Church Organ",
    "accordion": "Accordion",
    "harmonica": "Harmonica",
    "guitar": "Acoustic Guitar (steel)",
    "acoustic guitar": "Acoustic Guitar (steel)",
    "nylon guitar": "Acoustic Guitar (nylon)",
    "classical guitar": "Acoustic Guitar (nylon)",
    "spanish guitar": "Acoustic Guitar (nylon)",
    "jazz guitar": "Electric Guitar (jazz)",
    "electric guitar": "Electric Guitar (clean)",
    "clean guitar": "Electric Guitar (clean)",
    "distorted guitar": "Distortion Guitar",
    "distortion guitar": "Distortion Guitar",
    "overdriven guitar": "Overdriven Guitar",
    "rock guitar": "Overdriven Guitar",
    "bass": "Electric Bass (finger)",
    "bass guitar": "Electric Bass (finger)",
    "electric bass": "Electric Bass (finger)",
    "upright bass": "Acoustic Bass",
    "double bass": "Acoustic Bass",
    "acoustic bass": "Acoustic Bass",
    "fretless": "Fretless Bass",
    "synth bass": "Synth Bass 1",
    "slap bass": "Slap Bass 1",
    "violin": "Violin",
    "viola": "Viola",
    "cello": "Cello",
    "contrabass": "Contrabass",
    "strings": "String Ensemble 1",
    "string ensemble": "String Ensemble 1",
    "string section": "String Ensemble 1",
    "orchestra": "String Ensemble 1",
    "pizzicato": "Pizzicato Strings",
    "tremolo strings": "Tremolo Strings",
    "harp": "Orchestral Harp",
    "timpani": "Timpani",
    "synth strings": "Synth Strings 1",
    "choir": "Choir Aahs",
    "voices": "Choir Aahs",
    "vocals": "Voice Oohs",
    "voice": "Voice Oohs",
    "oohs": "Voice Oohs",
    "trumpet": "Trumpet",
    "trombone": "Trombone",
    "tuba": "Tuba",
    "muted trumpet": "Muted Trumpet",
    "horn": "French Horn",
    "horns": "French Horn",
    "french horn": "French Horn",
    "brass": "Brass Section",
    "brass section": "Brass Section",
    "synth brass": "Synth Brass 1",
    "sax": "Tenor Sax",
    "saxophone": "Tenor Sax",
    "tenor sax": "Tenor Sax",
    "alto sax": "Alto Sax",
    "soprano sax": "Soprano Sax",
    "baritone sax": "Baritone Sax",
    "oboe": "Oboe",
    "english horn": "English Horn",
    "bassoon": "Bassoon",
    "clarinet": "Clarinet",
    "piccolo": "Piccolo",
    "flute": "Flute",
    "recorder": "Recorder",
    "pan flute": "Pan Flute",
    "shakuhachi": "Shakuhachi",
    "whistle": "Whistle",
    "ocarina": "Ocarina",
    "synth": "Lead 2 (sawtooth)",
    "synth lead": "Lead 2 (sawtooth)",
    "lead synth": "Lead 2 (sawtooth)",
    "lead": "Lead 2 (sawtooth)",
    "square lead": "Lead 1 (square)",
    "saw lead": "Lead 2 (sawtooth)",
    "pad": "Pad 2 (warm)",
    "synth pad": "Pad 2 (warm)",
    "warm pad": "Pad 2 (warm)",
    "polysynth": "Pad 3 (polysynth)",
    "halo pad": "Pad 7 (halo)",
    "sweep pad": "Pad 8 (sweep)",
    "new age pad": "Pad 1 (new age)",
    "sitar": "Sitar",
    "banjo": "Banjo",
    "koto": "Koto",
    "kalimba": "Kalimba",
    "bagpipe": "Bag pipe",
    "bagpipes": "Bag pipe",
    "fiddle": "Fiddle",
    "steel drums": "Steel Drums",
    "steelpan": "Steel Drums",
    "taiko": "Taiko Drum",
    "drums": DRUMS,
    "drum": DRUMS,
    "drum kit": DRUMS,
    "drumkit": DRUMS,
    "percussion": DRUMS,
    "beat": DRUMS,
    "beats": DRUMS,
    "kit": DRUMS,
}

# Roles the composer can give a part.
ROLES = ("melody", "chords", "bass", "pad", "drums")


def _norm(name: str) -> str:
    return re.sub(r"[\s_\-]+", " ", name.strip().lower())


_BY_NORM: dict[str, str] = {
    _norm(pretty_midi.program_to_instrument_name(p)): n for p, n in enumerate(GM_PROGRAMS)
}
_BY_NORM |= {_norm(n): n for n in GM_PROGRAMS} | {_norm(DRUMS): DRUMS}
_BY_NORM.update({_norm(k): v for k, v in ALIASES.items()})


def resolve_instrument(name: str) -> str:
    """Canonical instrument name for what a user typed ("strings" -> "String Ensemble 1").

    Raises
    ------
    BadInputError
        With the closest valid names, if the name is unknown.
    """
    key = _norm(name)
    if key in _BY_NORM:
        return _BY_NORM[key]
    if key.endswith("s") and key[:-1] in _BY_NORM:  # "pianos", "violins"
        return _BY_NORM[key[:-1]]
    close = difflib.get_close_matches(key, list(_BY_NORM), n=3, cutoff=0.6)
    hint = (
        f"did you mean {', '.join(repr(c) for c in close)}?"
        if close
        else ("use a General MIDI name or a common one such as 'piano', 'strings', 'bass', 'drums'")
    )
    raise BadInputError(f"unknown instrument {name!r}: {hint}")


def program_of(name: str) -> int:
    """GM program number (0-127) of a canonical name; -1 for drums."""
    return -1 if name == DRUMS else GM_PROGRAMS.index(name)


def family_of(name: str) -> str:
    """GM family ("Piano", "Bass", "Strings", ...) of a canonical name, or "Drums"."""
    if name == DRUMS:
        return DRUMS
    return str(pretty_midi.program_to_instrument_class(program_of(name)))


def known_instrument_names() -> list[str]:
    """Every name `resolve_instrument` accepts, canonical and alias."""
    return sorted(_BY_NORM)

"""Orchestration data: playable ranges, who can lead, role registers and mix settings."""

from __future__ import annotations

from weavewave.music.instruments import family_of

# Comfortable MIDI ranges (low, high) by GM family, then per instrument where it differs.
FAMILY_RANGES: dict[str, tuple[int, int]] = {
    "Piano": (21, 108),
    "Chromatic Percussion": (53, 96),
    "Organ": (36, 96),
    "Guitar": (40, 86),
    "Bass": (28, 62),
    "Strings": (55, 100),
    "Ensemble": (36, 96),
    "Brass": (52, 84),
    "Reed": (50, 88),
    "Pipe": (60, 96),
    "Synth Lead": (45, 96),
    "Synth Pad": (36, 96),
    "Synth Effects": (36, 96),
    "Ethnic": (48, 88),
    "Percussive": (40, 84),
    "Sound Effects": (40, 84),
}
INSTRUMENT_RANGES: dict[str, tuple[int, int]] = {
    "Harpsichord": (29, 89),
    "Celesta": (60, 108),
    "Glockenspiel": (72, 108),
    "Music Box": (60, 100),
    "Vibraphone": (53, 89),
    "Marimba": (45, 96),
    "Xylophone": (65, 108),
    "Tubular Bells": (60, 77),
    "Dulcimer": (48, 86),
    "Church Organ": (24, 96),
    "Accordion": (41, 89),
    "Harmonica": (60, 84),
    "Tango Accordion": (41, 89),
    "Electric Guitar (jazz)": (40, 84),
    "Guitar Harmonics": (52, 88),
    "Acoustic Bass": (28, 55),
    "Fretless Bass": (28, 60),
    "Synth Bass 1": (24, 60),
    "Synth Bass 2": (24, 60),
    "Violin": (55, 100),
    "Viola": (48, 88),
    "Cello": (36, 76),
    "Contrabass": (28, 60),
    "Tremolo Strings": (40, 96),
    "Pizzicato Strings": (36, 91),
    "Orchestral Harp": (24, 103),
    "Timpani": (38, 57),
    "Choir Aahs": (48, 79),
    "Voice Oohs": (48, 79),
    "Synth Choir": (48, 84),
    "Orchestra Hit": (48, 84),
    "Trumpet": (54, 84),
    "Trombone": (40, 72),
    "Tuba": (28, 58),
    "Muted Trumpet": (54, 82),
    "French Horn": (41, 77),
    "Brass Section": (41, 84),
    "Synth Brass 1": (36, 84),
    "Synth Brass 2": (36, 84),
    "Soprano Sax": (56, 88),
    "Alto Sax": (49, 81),
    "Tenor Sax": (44, 76),
    "Baritone Sax": (36, 69),
    "Oboe": (58, 91),
    "English Horn": (52, 81),
    "Bassoon": (34, 72),
    "Clarinet": (50, 91),
    "Piccolo": (74, 108),
    "Flute": (60, 96),
    "Recorder": (60, 91),
    "Pan Flute": (60, 91),
    "Whistle": (72, 100),
    "Ocarina": (60, 88),
    "Fiddle": (55, 96),
    "Kalimba": (60, 88),
    "Banjo": (48, 84),
    "Sitar": (48, 84),
    "Koto": (48, 88),
    "Shamisen": (50, 84),
    "Bag pipe": (55, 81),
    "Shanai": (55, 84),
    "Steel Drums": (55, 88),
    "Taiko Drum": (36, 60),
    "Melodic Tom": (36, 72),
    "Synth Drum": (36, 72),
}

# Preferred registers by role, before clamping into the instrument's range.
ROLE_WINDOWS: dict[str, tuple[int, int]] = {
    "melody": (62, 86),
    "counter": (55, 76),
    "chords": (52, 76),
    "pad": (50, 79),
    "bass": (31, 52),
}
MIN_WINDOW = 14  # semitones a role window keeps after clamping
REGISTER_SHIFT = 5  # semitones the brief's texture.register_ moves melody and chords at +-1

# How readily an instrument leads (higher leads first; 0 never takes the tune unless alone).
LEAD_PRIORITY_FAMILY: dict[str, int] = {
    "Synth Lead": 10,
    "Reed": 9,
    "Pipe": 9,
    "Brass": 8,
    "Strings": 8,
    "Guitar": 6,
    "Chromatic Percussion": 5,
    "Ethnic": 5,
    "Organ": 3,
    "Piano": 2,
    "Ensemble": 0,
    "Synth Pad": 0,
    "Synth Effects": 0,
    "Bass": 0,
    "Percussive": 1,
    "Sound Effects": 0,
}
LEAD_PRIORITY: dict[str, int] = {
    "Violin": 9,
    "Fiddle": 9,
    "Cello": 4,
    "Contrabass": 0,
    "Tremolo Strings": 0,
    "Pizzicato Strings": 0,
    "Orchestral Harp": 2,
    "Timpani": 0,
    "Brass Section": 1,
    "Synth Brass 1": 2,
    "Synth Brass 2": 2,
    "Tuba": 0,
    "Baritone Sax": 3,
    "Bassoon": 3,
    "Trombone": 6,
    "Voice Oohs": 4,
    "Choir Aahs": 1,
    "Tubular Bells": 1,
    "Overdriven Guitar": 7,
    "Distortion Guitar": 7,
    "Guitar Harmonics": 5,
    "Electric Guitar (muted)": 2,
    "Steel Drums": 4,
    "Kalimba": 3,
}
LEAD_THRESHOLD = 5
# Instruments that can hold chords (several notes at once) when they accompany.
POLYPHONIC_FAMILIES = frozenset(
    {"Piano", "Chromatic Percussion", "Organ", "Guitar", "Ensemble", "Synth Pad", "Synth Effects"}
)
POLYPHONIC = frozenset(
    {
        "Orchestral Harp",
        "Pizzicato Strings",
        "Tremolo Strings",
        "Brass Section",
        "Synth Brass 1",
        "Synth Brass 2",
        "Koto",
        "Dulcimer",
        "Kalimba",
        "Steel Drums",
    }
)
# Low instruments that take the bass line when no Bass-family instrument is present, best first.
BASS_CAPABLE = ("Contrabass", "Tuba", "Cello", "Bassoon", "Baritone Sax", "Trombone", "Timpani")
# A string quartet: the brief names Violin, Viola, Cello (GM has one violin program and a brief names each
# instrument once), and the composer splits the violins into firsts (the tune) and seconds (an inner voice,
# its own part on its own MIDI channel), so four voices sound: cello bass, viola and second violin inside,
# first violin on top.
STRING_QUARTET = frozenset({"Violin", "Viola", "Cello"})
QUARTET_FIRST = "Violin I"
QUARTET_SECOND = "Violin II"
# The inner voices' registers (before the brief's register shift), upper voice first: second violin from
# its open G up to E5, viola from its C string up to A4; each stays under the tune note it sounds against.
QUARTET_INNER_WINDOWS: dict[str, tuple[int, int]] = {QUARTET_SECOND: (55, 76), "Viola": (48, 69)}
# Families whose accompaniment sustains (pads) rather than plays rhythm.
PAD_FAMILIES = frozenset({"Synth Pad", "Ensemble", "Synth Effects", "Sound Effects"})
PAD_INSTRUMENTS = frozenset({"Tremolo Strings", "Church Organ", "Reed Organ"})

# Mix: loudness by role relative to the lead (LU; the renderer's balance takes each program's own level
# out, so these are what a listener hears), pan spread, reverb by genre and role multiplier. The band sits
# 2-6 LU under the tune, as in a produced mix; a genre moves the role that carries its idiom forward.
ROLE_GAIN_DB: dict[str, float] = {
    "melody": 0.0,
    "counter": -4.0,
    "chords": -4.0,
    "pad": -6.0,
    "bass": -3.0,
    "drums": -2.5,
}
GENRE_ROLE_GAIN_DB: dict[str, dict[str, float]] = {
    "pop": {"chords": -3.0},  # the piano's comping (unpedalled, short) carries the groove
    "rock": {"chords": -1.5, "drums": -1.0, "pad": -7.0},  # the rhythm guitar and the kit are the sound
    "electronic": {"drums": -0.5, "bass": -2.0, "pad": -5.0},
    "lofi": {"drums": -1.5, "chords": -3.0},
    "jazz": {"drums": -4.0, "chords": -4.5},
    "ambient": {"pad": -2.0, "chords": -3.0},  # the texture is the piece
    "cinematic": {"pad": -2.0, "chords": -3.0, "drums": -3.0},  # the strings' pulse carries the cue
    "classical": {"pad": -4.0, "chords": -3.0, "counter": -2.5},
    "folk": {"chords": -3.0},
}
ROLE_PAN: dict[str, float] = {
    "melody": 0.0,
    "counter": 0.3,
    "chords": -0.3,
    "pad": 0.45,
    "bass": 0.0,
    "drums": 0.0,
}
GENRE_REVERB: dict[str, float] = {
    "ambient": 0.55,
    "cinematic": 0.45,
    "classical": 0.4,
    "jazz": 0.22,
    "lofi": 0.25,
    "folk": 0.25,
    "pop": 0.2,
    "rock": 0.12,
    "electronic": 0.15,
}
ROLE_REVERB_SCALE: dict[str, float] = {
    "melody": 1.0,
    "counter": 1.0,
    "chords": 1.0,
    "pad": 1.3,
    "bass": 0.3,
    "drums": 0.6,
}
# Base velocities by role (scaled by section energy in humanize.py).
ROLE_VELOCITY: dict[str, int] = {
    "melody": 92,
    "counter": 72,
    "chords": 72,
    "pad": 66,
    "bass": 88,
    "drums": 100,
}
# Genres where a piano accompaniment uses the sustain pedal (CC64), re-pedalled at chord changes.
PEDAL_GENRES = frozenset({"classical", "ambient", "cinematic", "pop", "folk", "lofi"})
# Accompaniment styles played without the sustain pedal: their rhythm is the point (short stabs, comping).
UNPEDALLED_STYLES = frozenset({"comp", "stabs", "power", "pop_comp"})
SUSTAIN_CC = 64


def role_gain_db(genre: str, role: str) -> float:
    """The loudness (LU) a role sits at relative to the lead in a genre."""
    return GENRE_ROLE_GAIN_DB.get(genre, {}).get(role, ROLE_GAIN_DB.get(role, -6.0))


def instrument_range(name: str) -> tuple[int, int]:
    """Comfortable (low, high) MIDI range of a canonical instrument name."""
    return INSTRUMENT_RANGES.get(name) or FAMILY_RANGES[family_of(name)]


def lead_priority(name: str) -> int:
    """How readily an instrument takes the melody (0 never unless alone)."""
    if name in LEAD_PRIORITY:
        return LEAD_PRIORITY[name]
    return LEAD_PRIORITY_FAMILY.get(family_of(name), 0)


def is_polyphonic(name: str) -> bool:
    """Whether the instrument can sound chords."""
    return name in POLYPHONIC or family_of(name) in POLYPHONIC_FAMILIES


def role_window(name: str, role: str, register: float = 0.0) -> tuple[int, int]:
    """Register (low, high) an instrument uses for a role, shifted by ``register`` and kept in range."""
    lo_r, hi_r = instrument_range(name)
    lo, hi = ROLE_WINDOWS[role]
    if role != "bass":
        shift = round(register * REGISTER_SHIFT)
        lo, hi = lo + shift, hi + shift
    lo, hi = max(lo, lo_r), min(hi, hi_r)
    if hi - lo < MIN_WINDOW:
        # Slide a minimal window into the instrument's range, as near the role's register as it goes.
        centre = (ROLE_WINDOWS[role][0] + ROLE_WINDOWS[role][1]) // 2
        span = min(MIN_WINDOW, hi_r - lo_r)
        lo = min(max(centre - span // 2, lo_r), hi_r - span)
        hi = lo + span
    return lo, hi

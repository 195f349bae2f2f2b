"""Named musical pattern data: progressions, cadences, melodic rhythms, bass lines, accompaniments.

Chord tokens are scale degrees of the key's own mode, so one progression fits every mode:
``"1 5 6 4"`` is I-V-vi-IV in major and i-v-VI-iv in minor. A token may carry extensions after dots:
``7`` (seventh), ``9`` (seventh and ninth), ``a9`` (added ninth), ``s2``/``s4`` (suspended),
``D`` (major third, and a minor seventh if there is one: the dominant of harmonic minor).

Rhythms are in quarter notes (qn) from the bar start; see :mod:`.grid`.
"""

from __future__ import annotations

# --- harmony -------------------------------------------------------------------------------------
# Progression loops by genre and by the key's major/minor quality. Modal keys use MODAL_VAMPS.
# Lofi's minor circle of fifths runs on home (i iv VII III VI ii V7 i): cut at III it is vi-ii-V-I of the
# relative major, and was heard there.
PROGRESSIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "pop": {
        "major": ("1 5 6 4", "6 4 1 5", "1 6 4 5", "1 4 6 5", "1 5 6 3 4 1 4 5", "1 3 4 5"),
        "minor": ("1 6 3 7", "1 7 6 7", "6 7 1 1", "1 4 6 7", "1 3 7 6"),
    },
    "rock": {
        "major": ("1 4 5 4", "1 5 6 4", "1 4 1 5", "6 4 1 5", "1 6 4 5", "1 5 4 1"),
        "minor": ("1 7 6 7", "1 6 7 1", "1 3 7 4", "1 4 7 1"),
    },
    "jazz": {
        "major": ("2 5 1 1", "1 6 2 5", "3 6 2 5", "1 4 3 6 2 5 1 1", "1 1 2 5", "1 3 2 5"),
        "minor": ("2 5.D 1 1", "1 4 2 5.D", "1 6 2 5.D", "1 1 4 5.D"),
    },
    "lofi": {
        "major": ("2 5 1 6", "4 3 2 1", "1 6 2 5", "4 5 3 6", "1 4 3 6", "1 3 4 4"),
        "minor": ("1 4 7 3 6 2 5.D.7 1", "6 4 1 5", "2 5 1 6", "1 6 4 5", "1 4 1 7"),
    },
    "electronic": {
        "major": ("6 4 1 5", "1 5 6 4", "4 5 6 6", "1 5 4 4", "1 4 6 5"),
        "minor": ("1 6 3 7", "6 7 1 1", "1 7 6 6", "1 3 7 6", "1 4 6 7"),
    },
    "ambient": {
        "major": ("1 4 1 4", "1 5 4 1", "4 1 6 5", "1 6 4 4"),
        "minor": ("1 6 1 6", "1 7 6 7", "1 4 6 4", "1 3 6 7"),
    },
    "classical": {
        "major": ("1 4 5 1", "1 6 2 5", "1 4 2 5", "1 2 5 1", "1 4 7 3 6 2 5 1"),
        "minor": ("1 4 5.D 1", "1 6 4 5.D", "1 2 5.D 1", "1 4 7 3 6 2 5.D 1"),
    },
    "folk": {
        "major": ("1 4 1 5", "1 5 4 1", "1 4 5 5", "6 4 1 5", "1 1 4 5", "1 6 4 1"),
        "minor": ("1 7 6 7", "1 3 7 1", "1 4 1 7", "1 7 1 5"),
    },
    "cinematic": {
        "major": ("1 5 6 4", "4 1 5 6", "1 6 4 5", "1 3 4 4"),
        "minor": ("1 6 3 7", "1 6 4 5.D", "1 3 7 4", "6 1 7 4"),
    },
}
MODAL_VAMPS: dict[str, tuple[str, ...]] = {
    "dorian": ("1 4", "1 7 1 4", "1 2 1 4", "1 4 1 7"),
    "mixolydian": ("1 7 4 1", "1 1 7 4", "1 7 1 4"),
    "lydian": ("1 2", "1 2 1 5", "1 2 7 1"),
    "phrygian": ("1 2", "1 2 7 1", "1 2 1 7"),
    "locrian": ("1.7 2", "1.7 7 2 1.7"),
}
# Section and phrase endings; the last token lands on the phrase's last chord slot.
# Minor's half cadence is bVI-V with the major (harmonic-minor) dominant, as the Andalusian cadence ends:
# stopping on bVII, the dominant of the relative major, got pop and rock minor pieces heard in the relative
# major (bench/bench_key_adherence.py). Modal vamps give the tonic at least half the chords.
CADENCES: dict[str, dict[str, tuple[str, ...]]] = {
    "major": {"authentic": ("4", "5", "1"), "half": ("4", "5")},
    "minor": {"authentic": ("6", "7", "1"), "half": ("6", "5.D")},
    "dorian": {"authentic": ("4", "7", "1"), "half": ("1", "4")},
    "mixolydian": {"authentic": ("4", "7", "1"), "half": ("1", "4")},
    "lydian": {"authentic": ("5", "2", "1"), "half": ("1", "2")},
    "phrygian": {"authentic": ("7", "2", "1"), "half": ("1", "2")},
    "locrian": {"authentic": ("7", "2", "1.7"), "half": ("1.7", "2")},
}
# The fewest chord slots a section-end cadence takes (it takes at most half the section otherwise).
MIN_CADENCE_SLOTS = 2
# Degrees of the subdominant-function chords (IV, ii): they hold the 4th degree that tells a key from its
# dominant's, so a section's chords keep one of them.
SUBDOMINANT_DEGREES = frozenset({2, 4})
# Genres whose minor cadences use the harmonic-minor dominant, and jazz's ii-V-I.
CLASSICAL_MINOR_CADENCE = {"authentic": ("4", "5.D", "1"), "half": ("4", "5.D")}
CLASSICAL_MINOR_GENRES = frozenset({"classical", "cinematic", "jazz", "folk"})
JAZZ_CADENCE = {"authentic": ("2", "5", "1"), "half": ("3", "6", "2", "5")}
# Genres that cadence inside sections (antecedent/consequent); the others loop until the section ends.
PHRASE_CADENCE_GENRES = frozenset({"classical", "folk", "cinematic", "jazz"})
LOOP_ONLY_GENRES = frozenset({"lofi", "electronic", "ambient"})
# Extensions each genre adds to plain degrees: (token suffix for all chords, for the tonic, for V).
GENRE_COLOR: dict[str, tuple[str, str, str]] = {
    "jazz": (".7", ".9", ".9"),
    "lofi": (".7", ".9", ".7"),
    "ambient": (".a9", ".a9", ""),
    "classical": ("", "", ".7"),
    "cinematic": ("", "", ""),
    "pop": ("", "", ""),
    "rock": ("", "", ""),
    "electronic": ("", "", ""),
    "folk": ("", "", ""),
}
# Bars per chord, by genre (tempo adjusts it in harmony.py).
BARS_PER_CHORD: dict[str, float] = {
    "pop": 1,
    "rock": 1,
    "jazz": 1,
    "lofi": 1,
    "electronic": 1,
    "ambient": 2,
    "classical": 1,
    "folk": 1,
    "cinematic": 1,
}
PHRASE_BARS = 4

# --- melody --------------------------------------------------------------------------------------
# One-bar rhythms on a sixteenth grid ("x" onset, "-" held, "." rest), used when the learned
# statistics are missing; melody.py also reads learned ones from data/melody_stats.json.
FALLBACK_RHYTHMS: dict[str, tuple[str, ...]] = {
    "4/4": (
        "x-------x-------",
        "x---x---x-------",
        "x---x---x---x---",
        "x-x-x---x-------",
        "x-----x-x-------",
        "x---x-x-x---x---",
        "x-x-x-x-x---x---",
        "x-x-x-x-x-x-x-x-",
        "x---------------",
        "x-----x-x---x---",
    ),
    "3/4": (
        "x-----------",
        "x-------x---",
        "x---x---x---",
        "x-----x-x---",
        "x-x-x---x---",
        "x-x-x-x-x---",
        "x-------x-x-",
    ),
    "6/8": (
        "x-----x-----",
        "x---x-x-----",
        "x-x-x-x-x-x-",
        "x---x-x---x-",
        "x-----x---x-",
        "x-----------",
        "x---x-x-x-x-",
    ),
}
# Syncopated one-bar rhythms that pop-family genres add to the (mostly folk and hymn) learned ones.
SYNCOPATED_RHYTHMS: dict[str, tuple[str, ...]] = {
    "4/4": (
        "x--x--x-x-------",
        "x-x--x--x---x---",
        "..x-x-x-x--x----",
        "x---x--x--x-x---",
        "x-x-x--x----x-x-",
        "x--x--x---x-x---",
        "x-----x---x-x---",
        "..x-x-x---x-x---",
        "x--x--x-----x---",
        "x-x-x-x--x--x---",
    ),
    "3/4": ("x--x--x-x---", "..x-x-x-----", "x-x--x--x---", "x-----x-x-x-"),
    "6/8": ("x-x-x-x-----", "x---x-x---x-", "..x-x-x-----"),
}
SYNCOPATED_GENRES = frozenset({"pop", "rock", "electronic", "lofi", "jazz"})
# Running figures every genre's tunes use (eighths, dotted eighth and sixteenth, sixteenth pickups; jig
# and reel rhythms in 6/8): the learned rhythms come mostly from hymn and folk-song melodies in long
# notes, and alone they gave tunes of 0.9 notes per quarter against 1.6 in real folk tunes.
RUNNING_RHYTHMS: dict[str, tuple[str, ...]] = {
    "4/4": (
        "x-x-x-x-x---x---",
        "x--xx-x-x-x-x---",
        "x-xxx-x-x---x-x-",
        "x---x-xxx---x-x-",
        "x-x-x-xxx-x-x---",
        "x--x--x-x-x-x-x-",
        "xxx-x-x-x---x---",
        "x-x-xxx-x-x-x-x-",
        "x-x-x-x-x-x-x---",
        "x--xx--xx-x-x---",
    ),
    "3/4": ("x-x-x-x-x---", "x--xx-x-x-x-", "x-xxx-x-x---", "x-x-x-xxx-x-", "x--x--x-x-x-"),
    "6/8": ("x-x-x-x-x-x-", "x---x-x---x-", "x-x-x-x---x-", "x---x-x-x-x-", "x-xxx-x-x-x-", "x--xx-x-x-x-"),
}
RUNNING_WEIGHT = 150.0
# Tune density by genre relative to the rest: ambient's tune is sparse fragments over the texture, a
# cinematic theme broad, a lo-fi hook lazy.
GENRE_TUNE_DENSITY: dict[str, float] = {"ambient": 0.5, "cinematic": 0.8, "lofi": 0.85, "folk": 1.3}
# Weak-beat notes between two others become passing or neighbour tones this often: steps, not leaps,
# carry a tune between its chord tones (real tunes: 53 % steps, 12 % leaps of a fourth or more).
PASSING_TONE_P = 0.85
SYNCOPATED_WEIGHT = 120.0  # as if seen this many times in the corpus
# Fallback P(next diatonic step | any): mostly steps, some thirds, rare leaps.
FALLBACK_STEPS: dict[int, float] = {
    -4: 0.02,
    -3: 0.04,
    -2: 0.12,
    -1: 0.24,
    0: 0.1,
    1: 0.24,
    2: 0.12,
    3: 0.06,
    4: 0.03,
    5: 0.015,
    7: 0.005,
}
MOTIF_VARIATIONS = ("invert", "rhythm", "fragment", "sequence")  # developments of an idea
# Scale degrees (0-based) a phrase may end on: antecedent (open) and consequent (closed).
OPEN_ENDINGS = (4, 2)
CLOSED_ENDINGS = (0, 2)
MAX_LEAP_STEPS = 5  # diatonic steps; larger leaps are folded back by an octave

# --- bass ----------------------------------------------------------------------------------------
# (onset qn, length qn, tone): R root, 5 fifth, 8 octave, 3 third, A approach to the next root, W2 and W1
# the scale tones two steps and one step before the next root (a pop bass walks into the change).
BassPattern = tuple[tuple[float, float, str], ...]
BASS_PATTERNS: dict[str, dict[str, BassPattern]] = {
    "4/4": {
        "whole": ((0, 4, "R"),),
        "root_fifth": ((0, 2, "R"), (2, 2, "5")),
        # W2, W1: scale steps walking into the next chord's root (passing notes).
        "pop_soft": ((0, 2, "R"), (2, 1, "5"), (3, 1, "W1")),
        "pop": ((0, 1.5, "R"), (1.5, 1, "R"), (2.5, 0.5, "5"), (3, 0.5, "W2"), (3.5, 0.5, "W1")),
        "pop_busy": (
            (0, 0.75, "R"),
            (0.75, 0.75, "R"),
            (1.5, 0.5, "8"),
            (2, 0.75, "R"),
            (2.75, 0.75, "W2"),
            (3.5, 0.5, "W1"),
        ),
        "eighths": tuple((i * 0.5, 0.45, "R") for i in range(8)),
        "octave": tuple((i * 0.5, 0.4, "R" if i % 2 == 0 else "8") for i in range(8)),
        "offbeat": tuple((i + 0.5, 0.4, "R") for i in range(4)),
        "lofi": ((0, 1.75, "R"), (2.5, 0.75, "5"), (3.5, 0.5, "A")),
        "lofi_low": ((0, 2.5, "R"), (3, 0.75, "5")),
        "folk": ((0, 1, "R"), (2, 1, "5")),
        "folk_busy": ((0, 1, "R"), (1, 1, "5"), (2, 1, "8"), (3, 1, "5")),
        "ostinato": tuple((i * 0.5, 0.45, "R" if i % 4 else "8") for i in range(8)),
    },
    "3/4": {
        "whole": ((0, 3, "R"),),
        "root_fifth": ((0, 2, "R"), (2, 1, "5")),
        "pop_soft": ((0, 2, "R"), (2, 1, "W1")),
        "pop": ((0, 1.5, "R"), (1.5, 1, "5"), (2.5, 0.5, "W1")),
        "pop_busy": ((0, 1, "R"), (1, 1, "W2"), (2, 1, "W1")),
        "eighths": tuple((i * 0.5, 0.45, "R") for i in range(6)),
        "octave": tuple((i * 0.5, 0.4, "R" if i % 2 == 0 else "8") for i in range(6)),
        "offbeat": tuple((i + 0.5, 0.4, "R") for i in range(3)),
        "lofi": ((0, 1.75, "R"), (2.5, 0.5, "A")),
        "lofi_low": ((0, 2.5, "R"),),
        "folk": ((0, 1, "R"),),
        "folk_busy": ((0, 1, "R"), (1, 1, "5"), (2, 1, "5")),
        "ostinato": tuple((i * 0.5, 0.45, "R" if i % 3 else "8") for i in range(6)),
    },
    "6/8": {
        "whole": ((0, 3, "R"),),
        "root_fifth": ((0, 1.5, "R"), (1.5, 1.5, "5")),
        "pop_soft": ((0, 1.5, "R"), (1.5, 1, "5"), (2.5, 0.5, "W1")),
        "pop": ((0, 1, "R"), (1, 0.5, "5"), (1.5, 0.5, "R"), (2, 0.5, "W2"), (2.5, 0.5, "W1")),
        "pop_busy": ((0, 1, "R"), (1, 0.5, "5"), (1.5, 0.5, "8"), (2, 0.5, "W2"), (2.5, 0.5, "W1")),
        "eighths": tuple((i * 0.5, 0.45, "R") for i in range(6)),
        "octave": tuple((i * 0.5, 0.4, "R" if i % 3 == 0 else "8") for i in range(6)),
        "offbeat": ((0.5, 0.45, "R"), (1, 0.45, "R"), (2, 0.45, "R"), (2.5, 0.45, "R")),
        "lofi": ((0, 1.25, "R"), (1.5, 1, "5")),
        "lofi_low": ((0, 2.5, "R"),),
        "folk": ((0, 1, "R"), (1.5, 1, "5")),
        "folk_busy": ((0, 1, "R"), (1, 0.5, "5"), (1.5, 1, "8"), (2.5, 0.5, "5")),
        "ostinato": tuple((i * 0.5, 0.45, "R") for i in range(6)),
    },
}
# Bass pattern by genre for energy levels 0 (low), 1 (mid), 2 (high). "walking" and "pedal" are
# generated in parts.py.
BASS_STYLE: dict[str, tuple[str, str, str]] = {
    "pop": ("pop_soft", "pop", "pop_busy"),
    "rock": ("root_fifth", "eighths", "eighths"),
    "jazz": ("walking", "walking", "walking"),  # the bass walks whatever the energy: it is the time
    "lofi": ("lofi_low", "lofi", "lofi"),
    "electronic": ("whole", "offbeat", "octave"),
    "ambient": ("pedal", "pedal", "whole"),
    "classical": ("whole", "root_fifth", "folk_busy"),
    "folk": ("folk", "root_fifth", "folk_busy"),
    "cinematic": ("pedal", "whole", "ostinato"),
}

# --- accompaniment -------------------------------------------------------------------------------
# Block/comp rhythms: (onset qn, length qn) per meter and style, for energy levels 0, 1, 2.
Hits = tuple[tuple[float, float], ...]
BLOCK_RHYTHMS: dict[str, dict[str, tuple[Hits, Hits, Hits]]] = {
    "4/4": {
        "block": (
            ((0, 4),),
            ((0, 1.5), (1.5, 1), (2.5, 1.5)),
            ((0, 1), (1, 0.5), (1.5, 1), (2.5, 0.5), (3, 0.5), (3.5, 0.5)),
        ),
        "pad": (((0, 4),), ((0, 4),), ((0, 2), (2, 2))),
        # Pop piano comping: re-struck on most beats with an anticipation, never a held whole note.
        "pop_comp": (
            ((0, 1), (1.5, 1), (3, 1)),
            ((0, 1), (1, 0.5), (1.5, 1), (2.5, 0.5), (3, 1)),
            ((0, 0.5), (0.5, 0.5), (1, 0.5), (1.5, 1), (2.5, 0.5), (3, 0.5), (3.5, 0.5)),
        ),
        "pulse": (
            ((0, 2), (2, 2)),
            tuple((i, 0.9) for i in range(4)),
            tuple((i * 0.5, 0.45) for i in range(8)),
        ),
        "stabs": (
            ((0, 2),),
            tuple((i + 0.5, 0.3) for i in range(4)),
            ((0, 0.3), (0.75, 0.3), (1.5, 0.3), (2.5, 0.3), (3, 0.3), (3.5, 0.3)),
        ),
        "power": (
            ((0, 2), (2, 2)),
            tuple((i * 0.5, 0.3) for i in range(8)),
            tuple((i * 0.5, 0.45) for i in range(8)),
        ),
        "rolled": (((0, 4),), ((0, 2.5), (2.5, 1.5)), ((0, 1.5), (1.5, 1), (2.5, 1.5))),
        "waltz": (((0, 4),), ((0, 2), (2, 2)), ((0, 1), (1, 1), (2, 1), (3, 1))),
        "ostinato": (
            tuple((i, 0.45) for i in range(4)),
            tuple((i * 0.5, 0.3) for i in range(8)),
            tuple((i * 0.5, 0.3) for i in range(8)) + ((1.75, 0.2), (3.75, 0.2)),
        ),
    },
    "3/4": {
        "block": (((0, 3),), ((0, 1), (1, 1), (2, 1)), ((0, 1), (1, 0.5), (1.5, 0.5), (2, 1))),
        "pad": (((0, 3),), ((0, 3),), ((0, 3),)),
        "pulse": (((0, 3),), ((0, 1), (1, 1), (2, 1)), tuple((i * 0.5, 0.45) for i in range(6))),
        "stabs": (((0, 1),), ((1, 0.4), (2, 0.4)), ((0.5, 0.3), (1.5, 0.3), (2.5, 0.3))),
        "power": (
            ((0, 3),),
            tuple((i * 0.5, 0.3) for i in range(6)),
            tuple((i * 0.5, 0.45) for i in range(6)),
        ),
        "rolled": (((0, 3),), ((0, 2), (2, 1)), ((0, 1.5), (1.5, 1.5))),
        "waltz": (((1, 1), (2, 1)), ((1, 0.8), (2, 0.8)), ((1, 0.6), (2, 0.6))),
        "ostinato": (
            tuple((i, 0.45) for i in range(3)),
            tuple((i * 0.5, 0.3) for i in range(6)),
            tuple((i * 0.5, 0.3) for i in range(6)) + ((2.75, 0.2),),
        ),
    },
    "6/8": {
        "block": (((0, 3),), ((0, 1.5), (1.5, 1.5)), ((0, 1), (1, 0.5), (1.5, 1), (2.5, 0.5))),
        "pad": (((0, 3),), ((0, 3),), ((0, 1.5), (1.5, 1.5))),
        "pulse": (
            ((0, 1.5), (1.5, 1.5)),
            tuple((i * 0.5, 0.45) for i in range(6)),
            tuple((i * 0.5, 0.45) for i in range(6)),
        ),
        "stabs": (((0, 1.5),), ((0.5, 0.4), (2, 0.4)), ((0.5, 0.3), (1, 0.3), (2, 0.3), (2.5, 0.3))),
        "power": (
            ((0, 1.5), (1.5, 1.5)),
            tuple((i * 0.5, 0.3) for i in range(6)),
            tuple((i * 0.5, 0.45) for i in range(6)),
        ),
        "rolled": (((0, 3),), ((0, 1.5), (1.5, 1.5)), ((0, 1), (1, 0.5), (1.5, 1.5))),
        "waltz": (((0.5, 0.5), (1, 0.5), (2, 0.5), (2.5, 0.5)),) * 3,
        "ostinato": (
            ((0, 0.45), (1.5, 0.45)),
            tuple((i * 0.5, 0.3) for i in range(6)),
            tuple((i * 0.5, 0.3) for i in range(6)),
        ),
    },
}
# Jazz comping: one rhythm is drawn per bar (4/4 and 3/4; 6/8 uses block).
COMP_RHYTHMS: dict[str, tuple[Hits, ...]] = {
    "4/4": (
        ((0, 0.5), (1.5, 0.5)),
        ((1.5, 0.5), (3, 0.75)),
        ((0.5, 0.5), (2.5, 0.5)),
        ((0, 1), (2.5, 0.5)),
        ((1, 0.5), (3.5, 0.5)),
        ((0, 0.5), (2, 0.5), (3.5, 0.5)),
    ),
    "3/4": (((0, 0.5), (1.5, 0.5)), ((1, 0.5), (2, 0.5)), ((0.5, 0.5), (2, 0.75)), ((0, 1),)),
    "6/8": (((0, 1),), ((0, 0.5), (1.5, 1))),
}
# Arpeggio orders (index into the voicing, bottom = 0; beyond the top wraps up an octave), one per
# step of the given step length (qn), by meter and energy level.
ARP_PATTERNS: dict[str, tuple[tuple[float, tuple[int, ...]], ...]] = {
    "4/4": ((1.0, (0, 1, 2, 3)), (0.5, (0, 2, 1, 2, 3, 2, 1, 2)), (0.25, (0, 1, 2, 3, 4, 3, 2, 1) * 2)),
    "3/4": ((1.0, (0, 1, 2)), (0.5, (0, 1, 2, 3, 2, 1)), (0.25, (0, 1, 2, 3, 4, 3) * 2)),
    "6/8": ((0.5, (0, 1, 2, 3, 2, 1)), (0.5, (0, 2, 3, 4, 3, 2)), (0.25, (0, 1, 2, 3, 4, 3) * 2)),
}
# The slowest arpeggio level (index into ARP_PATTERNS) a genre plays: classical broken chords run in
# eighths even in quiet sections (a harp in quarter notes sounds like a slow strum).
ARP_MIN_LEVEL: dict[str, int] = {"classical": 1}
ALBERTI = {
    "4/4": (0.5, (0, 2, 1, 2, 0, 2, 1, 2)),
    "3/4": (0.5, (0, 2, 1, 2, 1, 2)),
    "6/8": (0.5, (0, 2, 1, 2, 1, 2)),
}
# Guitar strums: (onset qn, down?) per meter and energy level; strings spread STRUM_SPREAD_QN apart.
STRUMS: dict[str, tuple[tuple[tuple[float, bool], ...], ...]] = {
    "4/4": (
        ((0, True), (2, True)),
        ((0, True), (1, True), (1.5, False), (2.5, False), (3, True), (3.5, False)),
        ((0, True), (0.5, False), (1, True), (1.5, False), (2, True), (2.5, False), (3, True), (3.5, False)),
    ),
    "3/4": (
        ((0, True),),
        ((0, True), (1, True), (2, True)),
        ((0, True), (1, True), (1.5, False), (2, True), (2.5, False)),
    ),
    "6/8": (
        ((0, True), (1.5, True)),
        ((0, True), (1, False), (1.5, True), (2.5, False)),
        ((0, True), (0.5, False), (1, False), (1.5, True), (2, False), (2.5, False)),
    ),
}
STRUM_SPREAD_QN = 0.02
ROLL_SPREAD_QN = 0.04
# Accompaniment style per genre and instrument family; "default" covers the rest of the families.
ACCOMP_STYLE: dict[str, dict[str, str]] = {
    "pop": {
        "default": "block",
        "Piano": "pop_comp",
        "Guitar": "strum",
        "Synth Pad": "pad",
        "Ensemble": "pad",
        "Organ": "pad",
    },
    "rock": {"default": "block", "Guitar": "power", "Organ": "pad", "Synth Pad": "pad", "Ensemble": "pad"},
    "jazz": {
        "default": "comp",
        "Guitar": "comp",
        "Ensemble": "pad",
        "Synth Pad": "pad",
        "Brass": "pad",
        "Chromatic Percussion": "arp",
    },
    "lofi": {
        "default": "rolled",
        "Guitar": "arp",
        "Chromatic Percussion": "arp",
        "Ensemble": "pad",
        "Synth Pad": "pad",
    },
    "electronic": {
        "default": "stabs",
        "Synth Pad": "pad",
        "Ensemble": "pad",
        "Guitar": "arp",
        "Chromatic Percussion": "arp",
    },
    "ambient": {
        "default": "arp",
        "Synth Pad": "pad",
        "Ensemble": "pad",
        "Organ": "pad",
        "Strings": "pad",
        "Brass": "pad",
    },
    "classical": {
        "default": "arp",
        "Piano": "alberti",
        "Ensemble": "pad",
        "Strings": "pad",
        "Brass": "pad",
        "Synth Pad": "pad",
        "Organ": "pad",
    },
    "folk": {"default": "arp", "Guitar": "strum", "Ensemble": "pad", "Synth Pad": "pad", "Organ": "pad"},
    "cinematic": {
        "default": "pulse",
        "Piano": "arp",
        "Ensemble": "pad",
        "Synth Pad": "pad",
        "Brass": "pad",
        "Guitar": "arp",
    },
}
# Instruments with a set job in a genre's band, before family rules: rock's rhythm guitar chugs power
# chords, electronic's poly synth runs the sequence, cinematic's first strings play the ostinato under the
# second strings' sustained swells. They accompany, never take the tune (unless alone).
GENRE_INSTRUMENT_STYLE: dict[str, dict[str, str]] = {
    "rock": {"Distortion Guitar": "power"},
    "electronic": {"Pad 3 (polysynth)": "arp", "Synth Strings 1": "arp"},
    "cinematic": {"String Ensemble 1": "ostinato", "Pizzicato Strings": "ostinato"},
}
# Genres whose counter lines move as a second voice (quarter notes, passing tones) rather than hold.
CONTRAPUNTAL_GENRES = frozenset({"classical", "folk"})
# Instruments that always arpeggiate when they accompany, whatever the genre.
ARPEGGIATORS = frozenset(
    {
        "Orchestral Harp",
        "Pizzicato Strings",
        "Koto",
        "Kalimba",
        "Music Box",
        "Celesta",
        "Dulcimer",
        "Acoustic Guitar (nylon)",
    }
)
# Genres whose pads hold through each chord (one attack per chord, however long) instead of re-striking
# every bar: ambient's slow harmony is heard as one evolving sound.
HELD_PAD_GENRES = frozenset({"ambient"})
# Genres whose tune is sparse fragments: in each four-bar phrase the tune rests in these bars (0-based),
# so an idea and its answer sound with space between them.
FRAGMENT_GENRES = frozenset({"ambient"})
FRAGMENT_PHRASE_BARS = 4
FRAGMENT_REST_BARS = frozenset({1, 2})
# In 3/4, block and comp parts play the waltz "oom-pah-pah" in these genres.
WALTZ_GENRES = frozenset({"pop", "folk", "classical", "jazz", "lofi", "cinematic", "rock"})

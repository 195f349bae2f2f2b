"""Drum data: General MIDI percussion notes (channel 10), genre grooves and fills.

A groove is one bar on a sixteenth grid per drum: ``X`` accent, ``x`` normal, ``o`` ghost, ``.`` rest.
4/4 bars have 16 steps; 3/4 and 6/8 bars have 12 (in 6/8 an eighth note is two steps).
Each genre has three grooves, for low, mid and high section energy.
"""

from __future__ import annotations

# GM percussion key map (the notes we use).
KICK = 36
SIDE_STICK = 37
SNARE = 38
CLAP = 39
FLOOR_TOM = 41
CLOSED_HAT = 42
PEDAL_HAT = 44
LOW_TOM = 45
OPEN_HAT = 46
MID_TOM = 47
HIGH_TOM = 50
CRASH = 49
RIDE = 51
RIDE_BELL = 53
TAMBOURINE = 54
SHAKER = 70  # maracas
TRIANGLE = 81

# Drums played by the feet: they keep time through a fill (a jazz drummer's hi-hat stays on 2 and 4).
FEET = frozenset({KICK, PEDAL_HAT})

STEP_VELOCITY = {"X": 112, "x": 88, "o": 46}
# Instruments that ring past their step (others are short hits).
LONG_HITS = {CRASH: 2.0, RIDE: 0.5, OPEN_HAT: 0.45}
HIT_QN = 0.2

Groove = dict[int, str]

GROOVES_44: dict[str, tuple[Groove, Groove, Groove]] = {
    "pop": (
        {KICK: "x.......x.......", SIDE_STICK: "....x.......x...", CLOSED_HAT: "x.o.x.o.x.o.x.o."},
        {KICK: "x.....x.x.......", SNARE: "....X.......X...", CLOSED_HAT: "x.x.x.x.x.x.x.x."},
        {
            KICK: "x.....x.x.x.....",
            SNARE: "....X.......X..o",
            CLOSED_HAT: "xoxoxoxoxoxoxo..",
            OPEN_HAT: "..............x.",
        },
    ),
    "rock": (
        {KICK: "x.......x.......", SNARE: "....x.......x...", CLOSED_HAT: "x.x.x.x.x.x.x.x."},
        {KICK: "x.......x.x.....", SNARE: "....X.......X...", CLOSED_HAT: "X.x.X.x.X.x.X.x."},
        {KICK: "x.x.....x.x.x...", SNARE: "....X.......X...", RIDE: "X.x.X.x.X.x.X.x."},
    ),
    "jazz": (
        # spang-a-lang at every level; a feathered kick tells it from the second set's quiet groove
        {RIDE: "x...x.x.x...x.x.", PEDAL_HAT: "....x.......x...", KICK: "o.......o......."},
        {RIDE: "x...x.x.x...x.x.", PEDAL_HAT: "....x.......x...", KICK: "o...o...o...o..."},
        {
            RIDE: "X...x.x.X...x.x.",
            PEDAL_HAT: "....x.......x...",
            KICK: "o...o...o...o...",
            SNARE: "......o.......o.",
        },
    ),
    "lofi": (
        {KICK: "x.........x.....", SIDE_STICK: "....x.......x...", CLOSED_HAT: "x.oox.o.x.oox.o."},
        {KICK: "x......x..x.....", SNARE: "....x.......x...", CLOSED_HAT: "x.x.x.x.x.x.x.xo"},
        {
            KICK: "x......x..x..x..",
            SNARE: "....X.......X.o.",
            CLOSED_HAT: "xoxox.xoxoxox.xo",
            OPEN_HAT: "......x.........",
        },
    ),
    "electronic": (
        {KICK: "x...x...x...x...", CLOSED_HAT: "..x...x...x...x."},
        {KICK: "x...x...x...x...", CLAP: "....x.......x...", OPEN_HAT: "..x...x...x...x."},
        {
            KICK: "x...x...x...x...",
            CLAP: "....X.......X...",
            OPEN_HAT: "..x...x...x...x.",
            CLOSED_HAT: "oxo.oxo.oxo.oxo.",
        },
    ),
    "ambient": (
        {SHAKER: "o.o.o.o.o.o.o.o."},
        {KICK: "x...............", SHAKER: "o.x.o.x.o.x.o.x.", SIDE_STICK: "............x..."},
        {KICK: "x.......x.......", SIDE_STICK: "....x.......x...", SHAKER: "oxoxoxoxoxoxoxox"},
    ),
    "classical": (
        {TRIANGLE: "x..............."},
        {KICK: "x.......x.......", TRIANGLE: "x.......x......."},
        {KICK: "x.......x.......", SNARE: "....o.......o...", CRASH: "x..............."},
    ),
    "folk": (
        {KICK: "x.......x.......", SHAKER: "o.x.o.x.o.x.o.x."},
        {KICK: "x.......x.......", TAMBOURINE: "....x.......x...", SHAKER: "o.x.o.x.o.x.o.x."},
        {
            KICK: "x.....x.x.......",
            SNARE: "....x.......x...",
            TAMBOURINE: "..x...x...x...x.",
            SHAKER: "oxoxoxoxoxoxoxox",
        },
    ),
    # Cinematic percussion marks the beat: low toms on every quarter, the taiko-style 3+3+2 figures only as
    # off-beat colour on top. Toms every dotted eighth were read by tempo estimators at 4/3 of the tempo.
    "cinematic": (
        {FLOOR_TOM: "x.......x......."},
        {FLOOR_TOM: "x...x...x...x...", KICK: "x.......x......."},
        {
            FLOOR_TOM: "X...x...X...x...",
            LOW_TOM: "......x.......xx",
            KICK: "x...x...x...x...",
            SNARE: "....x.......x...",
        },
    ),
}
# Second grooves per genre in 4/4: a piece (and each of its themes) draws one by the seed, so two seeds of
# a prompt, and a verse and its chorus, do not share one beat.
GROOVE_VARIANTS_44: dict[str, tuple[Groove, Groove, Groove]] = {
    "pop": (
        {KICK: "x.....x.........", SIDE_STICK: "....x.......x...", SHAKER: "x.x.x.x.x.x.x.x."},
        {KICK: "x.......x.x.....", CLAP: "....x.......x...", CLOSED_HAT: "x.xxx.x.x.xxx.x."},
        {
            KICK: "x..x..x.x.......",
            SNARE: "....X.......X...",
            CLOSED_HAT: "x.x.x.x.x.x.x.x.",
            TAMBOURINE: "....x.......x...",
        },
    ),
    "rock": (
        {KICK: "x.....x.x.......", SNARE: "....x.......x...", CLOSED_HAT: "x.x.x.x.x.x.x.x."},
        {KICK: "x.x.......x.....", SNARE: "....X.......X...", RIDE: "x.x.x.x.x.x.x.x."},
        {KICK: "x.x...x.x.x...x.", SNARE: "....X.......X...", OPEN_HAT: "x.x.x.x.x.x.x.x."},
    ),
    "jazz": (
        {RIDE: "x...x.x.x...x.x.", PEDAL_HAT: "....x.......x..."},
        {
            RIDE: "x...x.x.x...x.x.",
            PEDAL_HAT: "....x.......x...",
            KICK: "o.......o.......",
            SIDE_STICK: "............x...",
        },
        {
            RIDE: "X...x.x.X...x.x.",
            PEDAL_HAT: "....x.......x...",
            KICK: "o..o....o.......",
            SNARE: "..o.......o...o.",
        },
    ),
    # Off-beat hats stay ghosted, so the slow quarter-note pulse is what is heard; ghosted sixteenths
    # between the eighths carry the swing (on eighths alone the 16th swing would not be heard).
    "lofi": (
        {KICK: "x.......x.x.....", SNARE: "....x.......x...", CLOSED_HAT: "x.o.x.o.x.o.x.o."},
        {KICK: "x.x.......x.....", SNARE: "....X.......X..o", CLOSED_HAT: "x.o.x.o.x.oox.o."},
        {
            KICK: "x.x....x..x.....",
            SNARE: "....X.......X...",
            CLOSED_HAT: "x.oox.o.x.oox.o.",
            OPEN_HAT: "..............x.",
        },
    ),
    "electronic": (
        {KICK: "x...x...x...x...", SHAKER: "x.x.x.x.x.x.x.x.", CLOSED_HAT: "..x...x...x...x."},
        {KICK: "x...x...x...x...", SNARE: "....x.......x...", CLOSED_HAT: "xxxxxxxxxxxxxxxx"},
        {
            KICK: "x...x...x...x...",
            CLAP: "....X.......X...",
            OPEN_HAT: "..x...x...x...x.",
            SNARE: "..............xx",
            RIDE: "x...x...x...x...",
        },
    ),
    "folk": (
        {KICK: "x.....x.........", TAMBOURINE: "..x...x...x...x."},
        {KICK: "x.......x.......", SIDE_STICK: "....x.......x...", SHAKER: "x.x.x.x.x.x.x.x."},
        {KICK: "x.......x.x.....", SNARE: "....x.......x...", TAMBOURINE: "x.x.x.x.x.x.x.x."},
    ),
    "cinematic": (
        {LOW_TOM: "x...x...x...x..."},
        {FLOOR_TOM: "x...x...x..xx...", KICK: "x.......x......."},
        {FLOOR_TOM: "XoxoXoxoXoxoXox.", KICK: "x...x...x...x...", SNARE: "....x.......x.xx"},
    ),
}
# 3/4 and 6/8 grooves by feel; each genre maps to a feel below.
GROOVES_34: dict[str, tuple[Groove, Groove, Groove]] = {
    "waltz": (
        {KICK: "x...........", CLOSED_HAT: "....x...x..."},
        {KICK: "x...........", SNARE: "....x...x...", CLOSED_HAT: "x.x.x.x.x.x."},
        {KICK: "x.......x...", SNARE: "....X...X...", CLOSED_HAT: "x.x.x.x.x.x.", OPEN_HAT: "..........x."},
    ),
    "jazz_waltz": (
        {RIDE: "x...x.x.x...", PEDAL_HAT: "....x......."},
        {RIDE: "x...x.x.x.x.", PEDAL_HAT: "....x...x...", KICK: "o..........."},
        {RIDE: "X...x.x.x.x.", PEDAL_HAT: "....x...x...", KICK: "o.......o...", SNARE: "......o....."},
    ),
    "soft": (
        {SHAKER: "o.o.o.o.o.o."},
        {KICK: "x...........", SHAKER: "o.x.o.x.o.x.", SIDE_STICK: "........x..."},
        {KICK: "x...........", TAMBOURINE: "....x...x...", SHAKER: "oxoxoxoxoxox"},
    ),
    "epic": (
        {FLOOR_TOM: "x..........."},
        {FLOOR_TOM: "x.......x...", KICK: "x..........."},
        {FLOOR_TOM: "X...x...x...", LOW_TOM: "........x.x.", KICK: "x...........", SNARE: "....o......."},
    ),
}
GROOVES_68: dict[str, tuple[Groove, Groove, Groove]] = {
    "waltz": (
        {KICK: "x...........", SIDE_STICK: "......x.....", CLOSED_HAT: "x.x.x.x.x.x."},
        {KICK: "x.......x...", SNARE: "......X.....", CLOSED_HAT: "x.x.x.x.x.x."},
        {KICK: "x...x...x...", SNARE: "......X.....", CLOSED_HAT: "X.x.x.X.x.x.", OPEN_HAT: "..........x."},
    ),
    "jazz_waltz": (
        {RIDE: "x.x.x.x.x.x.", PEDAL_HAT: "......x....."},
        {RIDE: "X.x.x.X.x.x.", PEDAL_HAT: "......x.....", KICK: "o.....o....."},
        {RIDE: "X.x.x.X.x.x.", PEDAL_HAT: "......x.....", KICK: "o.....o.....", SNARE: "....o.....o."},
    ),
    "soft": (
        {SHAKER: "o.o.o.o.o.o."},
        {KICK: "x...........", SHAKER: "x.o.o.x.o.o.", SIDE_STICK: "......x....."},
        {KICK: "x.....x.....", TAMBOURINE: "......x.....", SHAKER: "xoooooxooooo"},
    ),
    "epic": (
        {FLOOR_TOM: "x..........."},
        {FLOOR_TOM: "x.....x.....", KICK: "x..........."},
        {FLOOR_TOM: "X.x.x.X.x.x.", LOW_TOM: "........x.x.", KICK: "x.....x.....", SNARE: "......x....."},
    ),
}
TRIPLE_FEEL: dict[str, str] = {
    "pop": "waltz",
    "rock": "waltz",
    "jazz": "jazz_waltz",
    "lofi": "waltz",
    "electronic": "waltz",
    "ambient": "soft",
    "classical": "soft",
    "folk": "soft",
    "cinematic": "epic",
}
# Fills over the last beats of a section: (step offset from the fill start, drum, velocity char).
FILL_LENGTH_STEPS = {0: 4, 1: 4, 2: 8}  # by energy level
FILLS: dict[str, tuple[tuple[int, int, str], ...]] = {
    "snare": tuple((i, SNARE, "x" if i % 2 == 0 else "o") for i in range(8)),
    "toms": (
        (0, SNARE, "x"),
        (1, SNARE, "o"),
        (2, HIGH_TOM, "x"),
        (3, HIGH_TOM, "x"),
        (4, MID_TOM, "x"),
        (5, MID_TOM, "x"),
        (6, LOW_TOM, "X"),
        (7, FLOOR_TOM, "X"),
    ),
    "jazz": ((0, SNARE, "o"), (2, SNARE, "x"), (3, SNARE, "o"), (5, HIGH_TOM, "x"), (6, SNARE, "X")),
    "soft": ((0, SIDE_STICK, "o"), (2, SIDE_STICK, "x"), (4, SHAKER, "x"), (6, SHAKER, "X")),
    "epic": (
        (0, FLOOR_TOM, "x"),
        (2, FLOOR_TOM, "x"),
        (4, LOW_TOM, "X"),
        (5, LOW_TOM, "x"),
        (6, FLOOR_TOM, "X"),
        (7, FLOOR_TOM, "X"),
    ),
    "electronic": tuple((i, CLAP, "x" if i % 2 else "o") for i in range(8)),
}
GENRE_FILL: dict[str, str] = {
    "pop": "toms",
    "rock": "toms",
    "jazz": "jazz",
    "lofi": "snare",
    "electronic": "electronic",
    "ambient": "soft",
    "classical": "soft",
    "folk": "snare",
    "cinematic": "epic",
}
# Genres that mark section downbeats with a crash (from mid energy up).
CRASH_GENRES = frozenset({"pop", "rock", "electronic", "cinematic", "folk", "jazz"})

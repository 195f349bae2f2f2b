"""Every genre's idiom (issue 11, "What to build" point 1), measured on composed arrangements.

Each test composes a few seeds and prompts of one genre (no audio) and asserts what a listener would
miss if the idiom were gone. The idioms tested elsewhere (tests/test_compose.py): rock's rhythm guitar,
cinematic's string pulse, the groove from bar one, classical counterpoint, folk's running eighths, the
tune on top.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterator

import pytest

import weavewave
from weavewave.brief import Key, MusicBrief
from weavewave.generators.symbolic.compose import compose
from weavewave.generators.symbolic.grooves import CLOSED_HAT, KICK, OPEN_HAT, PEDAL_HAT, RIDE
from weavewave.music.arrangement import Arrangement, Note, Part
from weavewave.music.form import INTRO_LABELS, OUTRO_LABELS, plan_sections
from weavewave.music.styles import GENRES
from weavewave.music.theory import bar_seconds

TOL_S = 0.06  # onset tolerance: humanized timing and swing stay well inside it
Span = tuple[str, float, float, float]  # label, start s, end s, energy


def make_brief(genre: str, seed: int, **kw) -> MusicBrief:
    lo, hi = GENRES[genre].tempo_range
    base = dict(
        caption="test",
        duration_s=40.0,
        tempo_bpm=round((lo + hi) / 2),
        key=Key(tonic="D", mode="minor" if seed % 2 else "major"),
        genre=genre,
        instruments=list(GENRES[genre].ensemble),
        seed=seed,
        energy=0.6,
    )
    base.update(kw)
    return MusicBrief(**base)


def from_text(text: str, seed: int = 1, duration: float = 40.0) -> MusicBrief:
    """A prompt read as a user's would be (the lexicon reader: no sentence model, fast)."""
    return weavewave.describe(text=text, seed=seed, duration=duration, text_model="lexicon")


def sections(brief: MusicBrief) -> list[Span]:
    """The sections compose() plans for a brief without a timeline, in seconds."""
    bar = bar_seconds(brief.tempo_bpm, brief.meter)
    return [
        (s.label, s.start_bar * bar, (s.start_bar + s.bars) * bar, s.energy)
        for s in plan_sections(
            brief.duration_s, brief.tempo_bpm, brief.meter, brief.energy, genre=brief.genre, seed=brief.seed
        )
    ]


def body(brief: MusicBrief) -> list[Span]:
    """The sections between the intro and the outro."""
    return [s for s in sections(brief) if s[0] not in INTRO_LABELS | OUTRO_LABELS]


def part(arr: Arrangement, instrument: str) -> Part:
    return next(p for p in arr.parts if p.instrument == instrument)


def drums(arr: Arrangement) -> list[Note]:
    return next(p for p in arr.parts if p.is_drum).notes


def within(notes: list[Note], t0: float, t1: float) -> list[Note]:
    return [n for n in notes if t0 - TOL_S <= n.start < t1 - TOL_S]


def onsets(notes: list[Note]) -> list[float]:
    """Distinct onsets (a chord's notes, or a strum's strings, count once)."""
    out: list[float] = []
    for t in sorted(n.start for n in notes):
        if not out or t - out[-1] > 0.04:
            out.append(t)
    return out


def beats(t0: float, t1: float, beat: float) -> Iterator[float]:
    n = int(round((t1 - t0) / beat))
    return (t0 + k * beat for k in range(n))


def hit_near(notes: list[Note], t: float, pitches: tuple[int, ...], tol: float = TOL_S) -> bool:
    return any(n.pitch in pitches and abs(n.start - t) < tol for n in notes)


# --- pop -------------------------------------------------------------------------------------------
POP_BRIEFS = [
    make_brief("pop", 0, energy=0.35),
    make_brief("pop", 1, energy=0.6, tempo_bpm=100),
    make_brief("pop", 2, energy=0.8, tempo_bpm=118),
]


@pytest.mark.parametrize("brief", POP_BRIEFS, ids=lambda b: f"seed{b.seed}-e{b.energy}")
def test_pop_piano_comps_in_rhythm_rather_than_holding_chords(brief):
    arr = compose(brief)
    piano = part(arr, "Acoustic Grand Piano")
    assert piano.role == "chords"
    beat = 60.0 / brief.tempo_bpm
    struck = [t for t in onsets(piano.notes)]
    sounding = total = 0
    for _, t0, t1, _ in body(brief):
        for b in beats(t0, t1, beat):
            if any(n.start - TOL_S <= b < n.end for n in piano.notes):
                total += 1
                # re-struck within this beat (on it or on its off-beat)
                sounding += any(b - TOL_S <= t < b + beat - TOL_S for t in struck)
    assert total and sounding / total >= 0.6, sounding / total
    # Short, rhythmic chords: the median note is under a half note (a held block chord is a whole note).
    assert statistics.median(n.end - n.start for n in piano.notes) < 1.5 * beat


def passing_notes(line: list[Note], beat: float) -> int:
    """Short bass notes that step on: between two notes by step in one direction (a scale run), or
    stepping into a new root from outside the chord above."""
    count = 0
    for a, b, c in zip(line, line[1:], line[2:], strict=False):
        short = b.end - b.start <= 1.05 * beat
        into, out_of = b.pitch - a.pitch, c.pitch - b.pitch
        if short and 1 <= abs(into) <= 2 and 1 <= abs(out_of) <= 2 and into * out_of > 0:
            count += 1
    return count


@pytest.mark.parametrize("brief", POP_BRIEFS, ids=lambda b: f"seed{b.seed}-e{b.energy}")
def test_pop_bass_walks_through_passing_notes(brief):
    arr = compose(brief)
    bass = part(arr, "Electric Bass (finger)")
    beat = 60.0 / brief.tempo_bpm
    bar = bar_seconds(brief.tempo_bpm, brief.meter)
    span = body(brief)
    line = [n for n in bass.notes if span[0][1] - TOL_S <= n.start < span[-1][2] - TOL_S]
    bars = (span[-1][2] - span[0][1]) / bar
    # At least one passing motion every four bars (a root-fifth-octave line has none).
    assert passing_notes(line, beat) >= bars / 4, (passing_notes(line, beat), bars)


# --- electronic ------------------------------------------------------------------------------------
ELECTRONIC_BRIEFS = [
    make_brief("electronic", 0, energy=0.5, duration_s=60.0),
    make_brief("electronic", 1, energy=0.8, duration_s=60.0, tempo_bpm=128),
    make_brief("electronic", 2, energy=0.65, duration_s=50.0, tempo_bpm=122),
]


@pytest.mark.parametrize("brief", ELECTRONIC_BRIEFS, ids=lambda b: f"seed{b.seed}-e{b.energy}")
def test_electronic_four_on_the_floor_with_offbeat_hats(brief):
    arr = compose(brief)
    kit = drums(arr)
    beat = 60.0 / brief.tempo_bpm
    mains = [s for s in body(brief) if s[0].rstrip("'") in ("A", "drop")]
    assert mains
    for label, t0, t1, _ in mains:
        bs = list(beats(t0, t1, beat))
        kicks = sum(hit_near(kit, b, (KICK,)) for b in bs) / len(bs)
        hats = sum(hit_near(kit, b + beat / 2, (CLOSED_HAT, OPEN_HAT)) for b in bs) / len(bs)
        assert kicks >= 0.95, (label, kicks)
        assert hats >= 0.8, (label, hats)


@pytest.mark.parametrize("brief", ELECTRONIC_BRIEFS, ids=lambda b: f"seed{b.seed}-e{b.energy}")
def test_electronic_sequence_runs_in_eighths_or_sixteenths(brief):
    arr = compose(brief)
    beat = 60.0 / brief.tempo_bpm
    for _, t0, t1, _ in [s for s in body(brief) if s[0].rstrip("'") in ("A", "drop")]:
        seq = within(part(arr, "Pad 3 (polysynth)").notes, t0, t1)
        gaps = [b - a for a, b in zip(onsets(seq), onsets(seq)[1:], strict=False)]
        assert gaps and statistics.median(gaps) <= 0.5 * beat + TOL_S
        # one note at a time: an arpeggio, not block chords
        assert len(seq) <= 1.2 * len(onsets(seq))


@pytest.mark.parametrize("brief", ELECTRONIC_BRIEFS, ids=lambda b: f"seed{b.seed}-e{b.energy}")
def test_electronic_drop_is_clearly_denser_than_its_build(brief):
    arr = compose(brief)
    notes = [n for p in arr.parts for n in p.notes]
    secs = sections(brief)
    pairs = [(a, b) for a, b in zip(secs, secs[1:], strict=False) if a[0].startswith("build")]
    assert pairs
    for build, drop in pairs:
        assert drop[0].startswith("drop")

        def rate(s: Span) -> float:
            return len(within(notes, s[1], s[2])) / (s[2] - s[1])

        assert rate(drop) >= 1.3 * rate(build), (rate(build), rate(drop))


# --- jazz ------------------------------------------------------------------------------------------
JAZZ_BRIEFS = [
    make_brief("jazz", 0, energy=0.4, tempo_bpm=120),
    make_brief("jazz", 1, energy=0.7, tempo_bpm=160),
    from_text("a jazz trio late at night, brushes and a walking bass"),
]


@pytest.mark.parametrize("brief", JAZZ_BRIEFS, ids=lambda b: f"seed{b.seed}-e{b.energy}")
def test_jazz_ride_pattern_with_hihat_on_two_and_four(brief):
    arr = compose(brief)
    kit = drums(arr)
    beat = 60.0 / brief.tempo_bpm
    bar = bar_seconds(brief.tempo_bpm, brief.meter)
    for label, t0, t1, _ in body(brief):
        bs = list(beats(t0, t1 - bar, beat))  # the section's last bar may close with a fill
        ride = sum(hit_near(kit, b, (RIDE,)) for b in bs) / len(bs)
        assert ride >= 0.9, (label, ride)  # the ride keeps time on every beat
        # ... with its skip notes (the swung "a" of "spang-a-lang") after beats 2 and 4
        skips = [b + 2 * beat / 3 for b in bs if round((b - t0) / beat) % 4 in (1, 3)]
        assert sum(hit_near(kit, s, (RIDE,), 0.08) for s in skips) / len(skips) >= 0.7, label
        bars = list(beats(t0, t1, bar))
        on_24 = sum(
            hit_near(kit, b + beat, (PEDAL_HAT,)) and hit_near(kit, b + 3 * beat, (PEDAL_HAT,)) for b in bars
        )
        on_13 = sum(hit_near(kit, b, (PEDAL_HAT,)) or hit_near(kit, b + 2 * beat, (PEDAL_HAT,)) for b in bars)
        assert on_24 >= 0.9 * len(bars) and on_13 == 0, label


@pytest.mark.parametrize("brief", JAZZ_BRIEFS, ids=lambda b: f"seed{b.seed}-e{b.energy}")
def test_jazz_bass_walks(brief):
    arr = compose(brief)
    beat = 60.0 / brief.tempo_bpm
    for label, t0, t1, _ in body(brief):
        line = sorted(within(part(arr, "Acoustic Bass").notes, t0, t1), key=lambda n: n.start)
        per_beat = len(line) / ((t1 - t0) / beat)
        assert 0.85 <= per_beat <= 1.15, (label, per_beat)  # a note on every beat
        iv = [abs(b.pitch - a.pitch) for a, b in zip(line, line[1:], strict=False)]
        # mostly steps (scale runs, chromatic approaches), the rest small skips to chord tones
        assert sum(1 <= i <= 2 for i in iv) / len(iv) >= 0.45, label
        assert sum(i <= 7 for i in iv) / len(iv) >= 0.9, label


@pytest.mark.parametrize("brief", JAZZ_BRIEFS, ids=lambda b: f"seed{b.seed}-e{b.energy}")
def test_jazz_piano_comps_in_short_stabs(brief):
    arr = compose(brief)
    piano = part(arr, "Acoustic Grand Piano")
    beat = 60.0 / brief.tempo_bpm
    if piano.role == "melody":  # a trio's pianist comps under their own tune: the notes under the top one
        comp = [
            n
            for n in piano.notes
            if any(abs(m.start - n.start) < 0.04 and m.pitch > n.pitch for m in piano.notes)
        ]
    else:
        comp = piano.notes
    comp = [n for n in comp if n.end < arr.duration_s - 2.0]  # the final chord rings
    assert len(comp) > 20
    # stabs: short chords, not held ones; and they leave space (the piano sounds under 60 % of the time)
    assert statistics.median(n.end - n.start for n in comp) <= 0.75 * beat
    covered = sum(e - s for s, e in _union([(n.start, n.end) for n in comp]))
    assert covered / (arr.duration_s - 2.0) < 0.6


def _union(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[list[float]] = []
    for s, e in sorted(spans):
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [(s, e) for s, e in out]


def test_a_jazz_trio_is_piano_bass_and_drums():
    brief = from_text("a jazz trio", seed=2)
    arr = compose(brief)
    assert sorted(p.instrument for p in arr.parts) == ["Acoustic Bass", "Acoustic Grand Piano", "Drums"]
    roles = {p.instrument: p.role for p in arr.parts}
    assert roles["Acoustic Grand Piano"] == "melody" and roles["Acoustic Bass"] == "bass"
    # The pianist plays the tune and comps under it (chords: several notes struck at once).
    piano = part(arr, "Acoustic Grand Piano")
    assert len(piano.notes) > 1.5 * len(onsets(piano.notes))


# --- lo-fi -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed,energy", [(0, 0.3), (1, 0.5), (2, 0.7)])
def test_lofi_beat_swings(seed, energy):
    brief = make_brief("lofi", seed, energy=energy, tempo_bpm=80)
    arr = compose(brief)
    sixteenth = 60.0 / brief.tempo_bpm / 4
    bar = bar_seconds(brief.tempo_bpm, brief.meter)
    kit = drums(arr)
    # Hits between the eighths (odd sixteenths), and where they sit: 1.0 straight, 1.33 full triplet swing.
    late = [(n.start / sixteenth) % 2 for n in kit if 0.6 < (n.start / sixteenth) % 2 < 1.7]
    assert len(late) / (brief.duration_s / bar) >= 1.5  # the swing is heard in every bar
    assert statistics.fmean(late) >= 1.1


# --- classical -------------------------------------------------------------------------------------
CLASSICAL_BRIEFS = [
    make_brief("classical", 0, energy=0.3, tempo_bpm=90),
    make_brief("classical", 1, energy=0.6, tempo_bpm=100, meter="3/4"),
    make_brief(
        "classical", 2, energy=0.5, tempo_bpm=84, instruments=["Violin", "Acoustic Grand Piano", "Cello"]
    ),
]


@pytest.mark.parametrize(
    "brief", CLASSICAL_BRIEFS, ids=lambda b: f"seed{b.seed}-{b.meter}-{len(b.instruments)}"
)
def test_classical_accompaniment_breaks_its_chords_in_eighths(brief):
    arr = compose(brief)
    acc = next(p for p in arr.parts if p.instrument in ("Orchestral Harp", "Acoustic Grand Piano"))
    assert acc.role == "chords"
    beat = 60.0 / brief.tempo_bpm
    for label, t0, t1, _ in body(brief):
        notes = within(acc.notes, t0, t1)
        ons = onsets(notes)
        gaps = [b - a for a, b in zip(ons, ons[1:], strict=False)]
        assert gaps and 0.25 * beat - TOL_S <= statistics.median(gaps) <= 0.5 * beat + TOL_S, label
        assert len(notes) <= 1.15 * len(ons), label  # one note at a time: broken, not block chords
        line = sorted(notes, key=lambda n: n.start)
        moves = sum(a.pitch != b.pitch for a, b in zip(line, line[1:], strict=False))
        assert moves >= 0.8 * (len(line) - 1), label


# --- ambient ---------------------------------------------------------------------------------------
AMBIENT_BRIEFS = [
    make_brief("ambient", 0, energy=0.3, tempo_bpm=70, duration_s=60.0),
    make_brief("ambient", 1, energy=0.4, tempo_bpm=80, duration_s=60.0),
    from_text("ambient drifting fog over a still lake", seed=3, duration=60.0),
]


def harmony_per_bar(arr: Arrangement, brief: MusicBrief, t0: float, t1: float) -> list[frozenset[int]]:
    """The pitch classes the pads and chords hold in the middle of each bar."""
    bar = bar_seconds(brief.tempo_bpm, brief.meter)
    out = []
    for b in beats(t0, t1, bar):
        mid = b + bar / 2
        out.append(
            frozenset(
                n.pitch % 12
                for p in arr.parts
                if p.role in ("pad", "chords")
                for n in p.notes
                if n.start <= mid < n.end
            )
        )
    return out


@pytest.mark.parametrize("brief", AMBIENT_BRIEFS, ids=lambda b: f"seed{b.seed}-e{b.energy}")
def test_ambient_harmony_moves_slowly(brief):
    arr = compose(brief)
    span = body(brief)
    bars = harmony_per_bar(arr, brief, span[0][1], span[-1][2])
    changes = sum(a != b for a, b in zip(bars, bars[1:], strict=False))
    assert len(bars) / (changes + 1) >= 2.0, (len(bars), changes)
    # and the pads hold through it: one attack per chord, not one per bar
    pad = next(p for p in arr.parts if p.role == "pad")
    attacks = len(onsets(within(pad.notes, span[0][1], span[-1][2])))
    assert attacks <= 0.6 * len(bars), (attacks, len(bars))


@pytest.mark.parametrize("brief", AMBIENT_BRIEFS, ids=lambda b: f"seed{b.seed}-e{b.energy}")
def test_ambient_tune_is_sparse(brief):
    arr = compose(brief)
    beat = 60.0 / brief.tempo_bpm
    span = body(brief)
    t0, t1 = span[0][1], span[-1][2]
    tune = within(next(p for p in arr.parts if p.role == "melody").notes, t0, t1)
    assert tune
    assert len(tune) / ((t1 - t0) / beat) <= 0.8  # other genres' tunes: 1.3-1.6 notes per quarter
    covered = sum(e - s for s, e in _union([(n.start, n.end) for n in tune]))
    assert covered / (t1 - t0) <= 0.85  # fragments with silence between them


# --- cinematic -------------------------------------------------------------------------------------
CINEMATIC_BRIEFS = [
    make_brief("cinematic", 0, energy=0.6, duration_s=75.0, tempo_bpm=90),
    make_brief("cinematic", 1, energy=0.75, duration_s=75.0, tempo_bpm=100),
    make_brief("cinematic", 3, energy=0.5, duration_s=60.0, tempo_bpm=80),
]


@pytest.mark.parametrize("brief", CINEMATIC_BRIEFS, ids=lambda b: f"seed{b.seed}-e{b.energy}")
def test_cinematic_percussion_builds_to_the_peak(brief):
    arr = compose(brief)
    kit = drums(arr)
    secs = [s for s in sections(brief) if s[0] not in OUTRO_LABELS]
    peak = max(range(len(secs)), key=lambda i: secs[i][3])

    def weight(t0: float, t1: float) -> float:
        """Percussion per second, each hit weighted by its velocity."""
        return sum(n.velocity for n in within(kit, t0, t1)) / 100 / (t1 - t0)

    levels = [weight(s[1], s[2]) for s in secs[: peak + 1]]
    assert levels[-1] == max(levels) and levels[-1] > 2 * levels[0], levels
    assert all(b >= 0.9 * a for a, b in zip(levels, levels[1:], strict=False)), levels
    # The section before the peak rises into it: its last two bars carry more than its first two.
    if peak > 0:
        _, t0, t1, _ = secs[peak - 1]
        bar = bar_seconds(brief.tempo_bpm, brief.meter)
        assert weight(t1 - 2 * bar, t1) > 1.2 * weight(t0, t0 + 2 * bar)


# --- folk ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed,meter", [(0, "4/4"), (1, "6/8")])
def test_folk_intro_has_a_fiddle_drone_under_the_guitar(seed, meter):
    brief = make_brief("folk", seed, meter=meter, energy=0.5, tempo_bpm=100)
    intro = sections(brief)[0]
    assert intro[0] == "intro"
    arr = compose(brief)
    fiddle = [n for n in part(arr, "Fiddle").notes if n.start < intro[2] - TOL_S]
    tonic = 2  # D
    # tonic and fifth together, held a bar: the intro is not the guitar alone
    assert {n.pitch % 12 for n in fiddle} == {tonic, (tonic + 7) % 12}
    bar = bar_seconds(brief.tempo_bpm, brief.meter)
    assert all(n.end - n.start > 0.8 * bar for n in fiddle)
    guitar = [n for n in part(arr, "Acoustic Guitar (steel)").notes if n.start < intro[2] - TOL_S]
    assert guitar and max(n.pitch for n in guitar) <= max(n.pitch for n in fiddle)


# --- harmony under every genre ---------------------------------------------------------------------
@pytest.mark.parametrize("genre", ["pop", "jazz", "classical"])
def test_the_band_does_not_drop_out_at_section_cadences(genre):
    # A cadence shorter than its room once left an 8-bar section's last bars without a chord: the piano and
    # bass fell silent there (pop bars 8 and 16, jazz 9 and 17 of a 60 s piece).
    brief = make_brief(genre, 0, duration_s=60.0)
    arr = compose(brief)
    bar = bar_seconds(brief.tempo_bpm, brief.meter)
    for p in arr.parts:
        if p.role in ("chords", "bass"):
            silent = [
                k
                for k in range(int(brief.duration_s / bar))
                if not any(n.start < (k + 1) * bar and n.end > k * bar for n in p.notes)
            ]
            assert not silent, (p.instrument, silent)

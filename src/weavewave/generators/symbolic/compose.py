"""The symbolic composer: form, harmony, orchestration and performance, from a MusicBrief to an Arrangement.

``compose(brief)`` plans bar-aligned sections, a chord progression with cadences, gives each
instrument its duties (melody, counter line, chords, pad, bass, drums), writes every part section by
section following the energy curve, and performs it (velocity shaping, swing, timing) in seconds.
All randomness comes from ``random.Random`` instances seeded from the brief's seed and a label.
"""

from __future__ import annotations

import bisect
import random
import re
import zlib
from dataclasses import dataclass, field, replace
from typing import Any

from weavewave.brief import MusicBrief
from weavewave.generators.symbolic import effects as FX
from weavewave.generators.symbolic import orchestra as O
from weavewave.generators.symbolic import patterns as P
from weavewave.generators.symbolic.drums import DrumWriter
from weavewave.generators.symbolic.grid import Grid
from weavewave.generators.symbolic.grooves import CRASH, CRASH_GENRES, FLOOR_TOM, KICK
from weavewave.generators.symbolic.harmony import ChordSpan, KeyContext, SectionSpan, plan_progression
from weavewave.generators.symbolic.humanize import Ev, perform
from weavewave.generators.symbolic.melody import MelodyWriter, Motif, make_motif, notes_per_bar, split_phrases
from weavewave.generators.symbolic.parts import (
    TIMPANI,
    BarContext,
    BassWriter,
    ChordWriter,
    CounterWriter,
    InnerVoicesWriter,
    TimpaniWriter,
)
from weavewave.generators.symbolic.pickup import add_pickup
from weavewave.generators.symbolic.reference import melody_events, reference_melody, reference_spans
from weavewave.music.arrangement import Arrangement, Note, Part
from weavewave.music.form import INTRO_LABELS, OUTRO_LABELS, plan_sections
from weavewave.music.instruments import DRUMS, GM_PROGRAMS, family_of
from weavewave.music.styles import GENRES
from weavewave.music.theory import tonic_pitch_class

# Section labels with a special job in the form (intro and outro labels are in weavewave.music.form).
BREAKDOWN_LABELS = frozenset({"bridge", "breakdown", "break", "interlude"})
# Energy thresholds for parts entering (section energy 0..1).
LEVEL_EDGES = (0.4, 0.7)  # below the first: level 0, below the second: level 1, else 2
DRUMS_MIN_ENERGY = 0.3
BREAKDOWN_DRUMS_ENERGY = 0.6
OUTRO_DRUMS_ENERGY = 0.45
INTRO_BASS_ENERGY = 0.3
BASS_MIN_ENERGY = 0.15
COUNTER_MIN_ENERGY = 0.5
EXTRA_CHORDS_ENERGY = 0.45
PAD_MIN_ENERGY = 0.2
CRASH_MIN_ENERGY = 0.45
# Genres whose groove is their idiom: the kit (and the bass) play from the first bar, intro included.
# Jazz's ride and walking bass are its time: the trio swings through quiet heads too.
GROOVE_FROM_START = frozenset({"lofi", "electronic", "rock", "pop", "jazz"})
GROOVE_BREAKDOWN_ENERGY = 0.35
# Genres whose percussion rolls into the peak section (the drum it rolls on): cinematic's toms build.
ROLL_INTO_PEAK: dict[str, int] = {"cinematic": FLOOR_TOM}
# Genres whose rhythm section plays the intro with the kit (a jazz trio vamps before the head).
INTRO_KIT_GENRES = frozenset({"jazz"})
# Genres whose lead plays a soft drone in the intro (a fiddler's tonic-and-fifth double stop under the
# guitar): the intro is then not a thin guitar far under the body. Velocity is the counter line's less this.
INTRO_DRONE_GENRES = frozenset({"folk"})
DRONE_VELOCITY_DROP = 12
DRONE_FIFTH = 7
# Velocity offset of a part's accompanying duties when it also plays the tune.
SOLO_ACCOMP_VELOCITY_DROP = 14
# Registers for some accompaniment styles (clamped into the instrument's range).
STYLE_WINDOWS: dict[str, tuple[int, int]] = {
    "strum": (43, 71),
    "power": (40, 64),
    "alberti": (48, 67),
    "arp": (45, 79),
    "ostinato": (50, 74),
}
BASS_COVER_PREFERENCE = ("Piano", "Guitar", "Organ", "Chromatic Percussion", "Ensemble", "Synth Pad")
PAN_STEP = 0.25
# Cue hits (scoring to picture): velocity = base + span * section energy; crash and kick lengths in qn.
CUE_VELOCITY = (80, 40)
CUE_CRASH_QN = 2.0
CUE_HIT_QN = 0.2
SIXTEENTH_QN = 0.25
MELODY_CLEARANCE = 8  # semitones accompaniment may reach above the bottom of the melody's register
# Duties kept under the tune note they sound against (the bass is always under; drums have no pitch).
UNDER_TUNE_DUTIES = frozenset({"chords", "pad", "line", "counter", "inner"})
EPS_QN = 1e-6


def _seed(seed: int, label: str) -> int:
    """A sub-seed for one component: stable across runs and platforms."""
    return zlib.crc32(f"{seed}:{label}".encode())


def _rng(seed: int, label: str) -> random.Random:
    return random.Random(_seed(seed, label))


@dataclass(frozen=True)
class SectionPlan:
    """A bar-aligned section of the form."""

    index: int
    label: str
    theme: str
    start_bar: int
    bars: int
    energy: float
    last: bool
    players: frozenset[str] = frozenset()  # who plays here; empty: everyone

    def plays(self, instrument: str) -> bool:
        return not self.players or instrument in self.players

    @property
    def level(self) -> int:
        return 0 if self.energy < LEVEL_EDGES[0] else 1 if self.energy < LEVEL_EDGES[1] else 2

    @property
    def is_intro(self) -> bool:
        return self.theme in INTRO_LABELS and self.index == 0 and not self.last

    @property
    def is_outro(self) -> bool:
        return self.theme in OUTRO_LABELS

    @property
    def is_breakdown(self) -> bool:
        return self.theme in BREAKDOWN_LABELS


@dataclass
class PartPlan:
    """One instrument's duties and registers."""

    instrument: str
    role: str
    duties: list[str] = field(default_factory=list)
    style: str = "block"
    lead_rank: int = -1
    windows: dict[str, tuple[int, int]] = field(default_factory=dict)
    name: str = ""  # the part's own name where two parts share an instrument (a quartet's "Violin II")

    @property
    def label(self) -> str:
        """What tells this part from the others: its name, else its instrument."""
        return self.name or self.instrument


def theme_of(label: str) -> str:
    """Sections with the same theme share material: "A", "A'" and "A2" are all theme "a"."""
    base = re.sub(r"[\s'’`\d]+$", "", label.strip()).lower()
    return base or label.strip().lower() or "a"


# --- form ----------------------------------------------------------------------------------------
def plan_form(brief: MusicBrief, grid: Grid, total_bars: int) -> list[SectionPlan]:
    """Sections snapped to bar lines covering exactly ``total_bars`` bars."""
    raw: list[tuple[str, int, float, frozenset[str]]] = []  # label, start bar, energy, players
    if brief.sections:
        bar_s = grid.bar_seconds
        for s in brief.sections:
            raw.append(
                (
                    s.label,
                    min(total_bars - 1, max(0, round(s.start_s / bar_s))),
                    s.energy,
                    frozenset(s.instruments),
                )
            )
    else:
        for planned in plan_sections(
            brief.duration_s, brief.tempo_bpm, brief.meter, brief.energy, genre=brief.genre, seed=brief.seed
        ):
            raw.append((planned.label, min(total_bars - 1, planned.start_bar), planned.energy, frozenset()))
    raw.sort(key=lambda r: r[1])
    starts: list[tuple[str, int, float, frozenset[str]]] = []
    for item in raw:
        if starts and item[1] <= starts[-1][1]:
            continue  # shorter than a bar after snapping: absorbed by its neighbour
        starts.append(item)
    if not starts:
        starts = [("A", 0, brief.energy, frozenset())]
    starts[0] = (starts[0][0], 0, *starts[0][2:])
    out = []
    for i, (label, start, energy, players) in enumerate(starts):
        end = starts[i + 1][1] if i + 1 < len(starts) else total_bars
        out.append(
            SectionPlan(
                i,
                label,
                theme_of(label),
                start,
                end - start,
                float(energy),
                last=i == len(starts) - 1,
                players=players,
            )
        )
    return out


# --- orchestration -------------------------------------------------------------------------------
def accomp_style(genre: str, instrument: str) -> str:
    """The accompaniment figure an instrument plays in a genre."""
    if instrument in P.GENRE_INSTRUMENT_STYLE.get(genre, {}):
        return P.GENRE_INSTRUMENT_STYLE[genre][instrument]
    if instrument in O.PAD_INSTRUMENTS or family_of(instrument) in O.PAD_FAMILIES:
        return "pad"
    if instrument in P.ARPEGGIATORS:
        return "arp"
    table = P.ACCOMP_STYLE.get(genre, P.ACCOMP_STYLE["pop"])
    style = table.get(family_of(instrument), table["default"])
    if style == "power" and instrument not in ("Overdriven Guitar", "Distortion Guitar"):
        style = "strum"
    if style in ("strum", "power", "comp", "alberti", "rolled", "stabs") and not O.is_polyphonic(instrument):
        style = "pad" if genre in ("ambient", "cinematic", "classical") else "arp"
    return style


def assign_parts(instruments: list[str], genre: str, register: float = 0.0) -> list[PartPlan]:
    """Give each instrument its duties: who leads, who comps, who holds the bass."""
    pitched = [i for i in instruments if i != DRUMS]
    if len(pitched) == len(O.STRING_QUARTET) and set(pitched) == O.STRING_QUARTET:
        return _quartet_parts(instruments, register)
    order = {name: k for k, name in enumerate(pitched)}
    bass, timp, rest = _bass_and_rest(pitched)
    main, secondary = _pick_leads(rest, genre, order)
    accomp = [i for i in rest if i != main and i not in secondary]

    plans: dict[str, PartPlan] = {i: PartPlan(i, "chords") for i in pitched}
    _give_duties(plans, genre, main, secondary, accomp, bass, timp)
    if not bass:
        _cover_bass(plans, pitched, order, main, accomp, timp)
    for p in plans.values():
        _set_windows(p, register)
    if main:
        _under_melody(plans, main)
    out = [plans[i] for i in pitched]
    if DRUMS in instruments:
        out.append(PartPlan(DRUMS, "drums", ["drums"]))
    return out


def _quartet_parts(instruments: list[str], register: float) -> list[PartPlan]:
    """A string quartet's four voices: first violin the tune, second violin and viola the inner voices
    (written together, :class:`~.parts.InnerVoicesWriter`), cello the bass."""
    shift = round(register * O.REGISTER_SHIFT)
    first = PartPlan("Violin", "melody", ["melody"], lead_rank=0, name=O.QUARTET_FIRST)
    first.windows["melody"] = O.role_window("Violin", "melody", register)
    inner = []
    for name, (lo, hi) in O.QUARTET_INNER_WINDOWS.items():
        instrument = "Violin" if name == O.QUARTET_SECOND else name
        lo_r, hi_r = O.instrument_range(instrument)
        plan = PartPlan(instrument, "counter", ["inner"], name=name if instrument != name else "")
        plan.windows["inner"] = (max(lo_r, lo + shift), min(hi_r, hi + shift))
        inner.append(plan)
    cello = PartPlan("Cello", "bass", ["bass"])
    cello.windows["bass"] = O.role_window("Cello", "bass")
    out = [first, *inner, cello]
    if DRUMS in instruments:
        out.append(PartPlan(DRUMS, "drums", ["drums"]))
    return out


def _bass_and_rest(pitched: list[str]) -> tuple[list[str], list[str], list[str]]:
    """Split the pitched instruments into the bass, the timpani and the rest (who lead or comp)."""
    bass = [i for i in pitched if family_of(i) == "Bass"]
    timp = [i for i in pitched if i == TIMPANI and len(pitched) > 1]
    if not bass and len(pitched) >= 2:
        bass = [c for c in O.BASS_CAPABLE if c in pitched and c != TIMPANI][:1]
    rest = [i for i in pitched if i not in bass and i not in timp]
    if not rest and bass and len(bass) > 1:
        rest = bass[1:]
        bass = bass[:1]
    return bass, timp, rest


def _pick_leads(rest: list[str], genre: str, order: dict[str, int]) -> tuple[str | None, list[str]]:
    """The main lead (None if nobody can lead) and the secondary leads, who answer it."""
    band_jobs = P.GENRE_INSTRUMENT_STYLE.get(genre, {})
    leads = sorted(
        (i for i in rest if O.lead_priority(i) >= O.LEAD_THRESHOLD and i not in band_jobs),
        key=lambda i: (-O.lead_priority(i), order[i]),
    )
    if not leads and rest:
        poly = [i for i in rest if O.is_polyphonic(i) and accomp_style(genre, i) != "pad"]
        leads = [poly[0] if poly else rest[0]]
    main = leads[0] if leads else None
    secondary = [i for i in leads[1:] if O.lead_priority(i) >= 8 or not O.is_polyphonic(i)]
    return main, secondary


def _give_duties(
    plans: dict[str, PartPlan],
    genre: str,
    main: str | None,
    secondary: list[str],
    accomp: list[str],
    bass: list[str],
    timp: list[str],
) -> None:
    """Set each part's role, duties and accompaniment style (in place)."""
    if main:
        plans[main].role, plans[main].duties, plans[main].lead_rank = "melody", ["melody"], 0
    for k, i in enumerate(secondary, start=1):
        plans[i].role, plans[i].duties, plans[i].lead_rank = "melody", ["melody", "counter"], k
    for i in accomp:
        style = accomp_style(genre, i)
        plans[i].style = style
        plans[i].role = "pad" if style == "pad" else "chords"
        # A single-line instrument accompanies with a sustained line of guide tones, not chords.
        plans[i].duties = [plans[i].role] if O.is_polyphonic(i) else ["line"]
    for i in bass:
        plans[i].role, plans[i].duties = "bass", ["bass"]
    for i in timp:
        plans[i].role, plans[i].duties = "bass", ["timpani"]
    harmony = [i for i in accomp if plans[i].role in ("chords", "pad")]
    if main and not harmony and O.is_polyphonic(main):
        plans[main].duties.append("chords")
        plans[main].style = accomp_style(genre, main)


def _cover_bass(
    plans: dict[str, PartPlan],
    pitched: list[str],
    order: dict[str, int],
    main: str | None,
    accomp: list[str],
    timp: list[str],
) -> None:
    """No bass instrument: a chordal part (or the lead, or the lowest other part) also plays the bass."""
    covers = sorted(
        (i for i in accomp if O.is_polyphonic(i) and plans[i].role == "chords"),
        key=lambda i: (
            BASS_COVER_PREFERENCE.index(family_of(i)) if family_of(i) in BASS_COVER_PREFERENCE else 99,
            order[i],
        ),
    )
    if covers:
        plans[covers[0]].duties.append("bass")
    elif main and O.is_polyphonic(main):
        plans[main].duties.append("bass")
    elif len(pitched) >= 2:
        others = [i for i in pitched if i != main and i not in timp]
        if others:
            low = min(others, key=lambda i: (O.instrument_range(i)[0], order[i]))
            plans[low].duties = ["bass"] + [d for d in plans[low].duties if d not in ("melody", "counter")]
            plans[low].role = "bass" if plans[low].lead_rank != 0 else plans[low].role
            plans[low].lead_rank = -1 if plans[low].role == "bass" else plans[low].lead_rank


def _under_melody(plans: dict[str, PartPlan], main: str) -> None:
    """Keep accompaniment under the tune so the melody stays on top (narrows windows in place)."""
    ceiling = plans[main].windows["melody"][0] + MELODY_CLEARANCE
    for p in plans.values():
        if "melody" in p.duties:
            continue
        lo_r = O.instrument_range(p.instrument)[0]
        for duty in ("chords", "pad"):
            if duty in p.windows:
                lo, hi = p.windows[duty]
                if hi > ceiling:
                    hi = max(ceiling, lo_r + O.MIN_WINDOW)
                    p.windows[duty] = (min(lo, max(lo_r, hi - O.MIN_WINDOW)), hi)


def _set_windows(p: PartPlan, register: float) -> None:
    lo_r, hi_r = O.instrument_range(p.instrument)
    if "melody" in p.duties:
        p.windows["melody"] = O.role_window(p.instrument, "melody", register)
    for duty in ("counter", "line"):
        if duty in p.duties:
            p.windows[duty] = O.role_window(p.instrument, "counter", register)
    for duty in ("chords", "pad"):
        if duty not in p.duties:
            continue
        if "melody" in p.duties:
            mel_lo = p.windows["melody"][0]
            lo = max(lo_r, 47)
            hi = max(lo + 12, mel_lo + 2)
            p.windows[duty] = (lo, min(hi, hi_r))
        elif p.style in STYLE_WINDOWS:
            lo, hi = STYLE_WINDOWS[p.style]
            lo, hi = max(lo, lo_r), min(hi, hi_r)
            p.windows[duty] = (lo, hi) if hi - lo >= 12 else O.role_window(p.instrument, duty, register)
        else:
            p.windows[duty] = O.role_window(p.instrument, duty, register)
    if "bass" in p.duties:
        p.windows["bass"] = O.role_window(p.instrument, "bass")
    if "timpani" in p.duties:
        p.windows["timpani"] = (lo_r, hi_r)


# --- activity ------------------------------------------------------------------------------------
def _melody_lead(sec: SectionPlan, n_leads: int, first_theme: str) -> int:
    """Which lead plays the tune in a section: contrasting themes go to the second lead if there is one."""
    if n_leads < 2:
        return 0
    return 0 if sec.theme in (first_theme, *OUTRO_LABELS) else 1


def _active(
    duty: str,
    plan: PartPlan,
    sec: SectionPlan,
    *,
    n_sections: int,
    harmony_rank: int,
    main_lead: bool,
    genre: str = "",
) -> bool:
    e = sec.energy
    groove = genre in GROOVE_FROM_START
    if duty == "melody":
        return main_lead and (not sec.is_intro or n_sections == 1)
    if duty == "counter":
        return not main_lead and e >= COUNTER_MIN_ENERGY and not sec.is_intro
    if duty == "inner":
        return True  # a quartet's inner voices play throughout, the intro included
    if duty == "drums":
        if groove:  # the beat is the genre: it plays from bar 1, dropping out only in a quiet breakdown
            return not (sec.is_breakdown and e < GROOVE_BREAKDOWN_ENERGY)
        if sec.is_intro and genre in INTRO_KIT_GENRES:
            return True
        if sec.is_intro or e < DRUMS_MIN_ENERGY:
            return False
        if sec.is_breakdown and e < BREAKDOWN_DRUMS_ENERGY:
            return False
        return not (sec.is_outro and e < OUTRO_DRUMS_ENERGY)
    if duty in ("bass", "timpani"):
        if sec.is_intro:
            return e >= INTRO_BASS_ENERGY
        return e >= BASS_MIN_ENERGY or sec.last
    if duty in ("pad", "line"):
        return e >= PAD_MIN_ENERGY or harmony_rank == 0 or sec.last
    if duty == "chords":
        return harmony_rank == 0 or e >= EXTRA_CHORDS_ENERGY or sec.last
    return True


# --- main ----------------------------------------------------------------------------------------
def compose(brief: MusicBrief) -> Arrangement:
    """Compose a complete, performed arrangement for ``brief``.

    Parameters
    ----------
    brief: the MusicBrief (tempo, meter, key, genre, instruments, mood, texture, sections, seed).

    Returns
    -------
    Arrangement whose ``duration_s`` equals ``brief.duration_s``; one Part per instrument, no note
    ending after the end, the same bytes for the same brief.
    """
    if brief.warp:
        return _warped(brief)
    if brief.downbeat_s > 0:
        return _after_downbeat(brief)
    grid = Grid(brief.meter, brief.tempo_bpm)
    key = KeyContext(tonic_pitch_class(brief.key.tonic), brief.key.mode)
    genre = brief.genre
    end_qn = brief.duration_s / grid.qn_seconds
    total_bars = max(1, round(brief.duration_s / grid.bar_seconds))
    # A loop has no final bar: nothing cadences or rings out, and the last bar leads back to the first.
    final_bar = -1 if brief.loop else total_bars - 1
    sections = plan_form(brief, grid, total_bars)
    spans = plan_progression(
        [SectionSpan(s.start_bar, s.bars, s.theme, s.last) for s in sections],
        genre=genre,
        key=key,
        bar_qn=grid.bar_qn,
        bar_seconds=grid.bar_seconds,
        end_qn=end_qn,
        rng_seed=brief.seed,
        loop_back=brief.loop,
    )
    if brief.reference is not None and brief.reference.chords:
        # Restyling (harmony and melody modes): the reference's chords, in the brief's key.
        spans = reference_spans(brief.reference, brief.key, grid, end_qn) or spans
    plans = assign_parts(brief.instruments, genre, brief.texture.register_)
    events = _write_parts(brief, plans, sections, spans, grid, key, end_qn, final_bar)

    swing = GENRES[genre].swing if genre in GENRES else 0.0
    parts: list[Part] = []
    n_by_role: dict[str, int] = {}
    for plan in plans:
        rng = _rng(brief.seed, f"perform:{plan.label}")
        is_drum = plan.instrument == DRUMS
        performed = perform(
            events[plan.label],
            grid=grid,
            genre=genre,
            swing=swing,
            end_s=brief.duration_s,
            rng=rng,
            drums=is_drum,
        )
        notes = _untangle([Note(p, v, s, e) for p, v, s, e in performed])
        k = n_by_role.get(plan.role, 0)
        n_by_role[plan.role] = k + 1
        part = Part(
            name=f"{plan.role}: {plan.label}",
            instrument=plan.instrument,
            program=0 if is_drum else GM_PROGRAMS.index(plan.instrument),
            is_drum=is_drum,
            role=plan.role,
            notes=notes,
            pan=_pan(plan.role, k),
            gain_db=O.role_gain_db(genre, plan.role) - (1.5 * k if plan.role != "melody" else 3.0 * k),
            reverb=round(
                min(1.0, O.GENRE_REVERB.get(genre, 0.2) * O.ROLE_REVERB_SCALE.get(plan.role, 1.0)), 3
            ),
            controls=_pedal(plan, spans, grid, genre, brief.duration_s, notes),
        )
        parts.append(part)
    if genre in FX.RISER_GENRES:
        builds = [
            (
                (s.start_bar + s.bars - min(s.bars, FX.RISER_MAX_BARS)) * grid.bar_seconds,
                (s.start_bar + s.bars) * grid.bar_seconds,
            )
            for s in sections
            if s.theme == "build" and not s.last
        ]
        if builds:  # a riser into each drop, with its own stem
            parts.append(FX.riser_part(builds, gain_db=FX.RISER_GAIN_DB))
    return Arrangement(
        parts=parts,
        tempo_bpm=brief.tempo_bpm,
        meter=brief.meter,
        duration_s=brief.duration_s,
        key_tonic=brief.key.tonic,
        key_mode=brief.key.mode,
    )


# --- scoring to picture ---------------------------------------------------------------------------
def _after_downbeat(brief: MusicBrief) -> Arrangement:
    """Compose from the first downbeat on and shift it there: bar lines then land where the brief says.

    The span before ``downbeat_s`` is a pickup bar: one part leads into the downbeat with a short, quiet
    run (:mod:`.pickup`), so the piece sounds from the first instant instead of waiting in silence.
    """
    o = brief.downbeat_s
    inner = brief.model_copy(
        update={
            "downbeat_s": 0.0,
            "duration_s": round(brief.duration_s - o, 6),
            "sections": _shift_sections(brief, o),
            "cues": [
                c.model_copy(update={"time_s": round(c.time_s - o, 6)}) for c in brief.cues if c.time_s >= o
            ],
        }
    )
    arrangement = compose(inner)
    for part in arrangement.parts:
        part.notes = [
            Note(n.pitch, n.velocity, round(n.start + o, 6), round(n.end + o, 6)) for n in part.notes
        ]
        part.controls = [(round(t + o, 6), cc, v) for t, cc, v in part.controls]
    arrangement.duration_s = brief.duration_s
    arrangement.downbeat_s = o  # the MIDI file writes a pickup bar before it
    add_pickup(arrangement, o)
    return arrangement


def _warped(brief: MusicBrief) -> Arrangement:
    """Compose in score time (a steady tempo), then play it through the brief's tempo map."""
    import numpy as np

    score, real = (np.asarray(x, dtype=np.float64) for x in zip(*brief.warp, strict=True))

    def to_score(t: float) -> float:
        return round(float(np.interp(t, real, score)), 6)

    inner = brief.model_copy(
        update={
            "warp": [],
            "duration_s": round(float(score[-1]), 6),
            "downbeat_s": to_score(brief.downbeat_s),
            "sections": [
                s.model_copy(update={"start_s": to_score(s.start_s), "end_s": to_score(s.end_s)})
                for s in brief.sections
            ],
            "cues": [c.model_copy(update={"time_s": to_score(c.time_s)}) for c in brief.cues],
        }
    )
    arrangement = compose(inner)

    def to_real(values: list[float]) -> list[float]:
        return [round(float(v), 6) for v in np.interp(values, score, real)]

    for part in arrangement.parts:
        starts, ends = to_real([n.start for n in part.notes]), to_real([n.end for n in part.notes])
        part.notes = [
            Note(n.pitch, n.velocity, a, b) for n, a, b in zip(part.notes, starts, ends, strict=True) if b > a
        ]
        times = to_real([t for t, _, _ in part.controls])
        part.controls = [(t, cc, v) for t, (_, cc, v) in zip(times, part.controls, strict=True)]
    arrangement.duration_s = brief.duration_s
    arrangement.downbeat_s = brief.downbeat_s
    arrangement.tempo_changes = warp_tempo_changes(score, real, arrangement.midi_quarter_bpm())
    return arrangement


def warp_tempo_changes(score, real, qpm: float) -> list[tuple[float, float]]:
    """The tempo map (time_s, quarter notes per minute) that plays a steady ``qpm`` through a warp.

    Between knots time runs linearly, so each stretch has one tempo: ``qpm * d_score / d_real``
    (a stretch squeezed into less real time plays faster).
    """
    out = []
    for s0, s1, r0, r1 in zip(score[:-1], score[1:], real[:-1], real[1:], strict=True):
        if r1 > r0 and s1 > s0:
            out.append((round(float(r0), 6), float(qpm * (s1 - s0) / (r1 - r0))))
    return out


def _shift_sections(brief: MusicBrief, o: float) -> list:
    out = []
    end = brief.duration_s - o
    for s in brief.sections:
        start, stop = max(0.0, s.start_s - o), min(end, s.end_s - o)
        if stop > start:
            out.append(s.model_copy(update={"start_s": round(start, 6), "end_s": round(stop, 6)}))
    return out


CUE_SNAP_S = 0.010  # a cue whose nearest (swung) sixteenth plays this close to it goes on the grid


def _cue_hits(brief: MusicBrief, grid: Grid, sections: list[SectionPlan], end_qn: float) -> list[Ev]:
    """A crash and a kick on every cue, as loud as the section there.

    A cue goes on its nearest sixteenth when that sixteenth, as swing plays it, is within
    :data:`CUE_SNAP_S` of the cue; otherwise (a cut off the beat) at the cue's exact time, placed before
    the swing so the performed hit lands on the cut.
    """
    from weavewave.generators.symbolic.grid import swing_qn
    from weavewave.generators.symbolic.humanize import SWING_UNIT

    swing = GENRES[brief.genre].swing if brief.genre in GENRES else 0.0
    unit = SWING_UNIT.get(brief.genre, 0.0) if grid.meter != "6/8" else 0.0
    out = []
    for cue in brief.cues:
        exact = cue.time_s / grid.qn_seconds
        qn = round(exact / SIXTEENTH_QN) * SIXTEENTH_QN
        if abs(swing_qn(qn, swing, unit) - exact) * grid.qn_seconds > CUE_SNAP_S:
            qn = _unswung(exact, swing, unit)
        if qn >= end_qn - CUE_HIT_QN:
            continue
        bar = int(qn // grid.bar_qn)
        energy = next((s.energy for s in sections if s.start_bar <= bar < s.start_bar + s.bars), brief.energy)
        velocity = int(min(127, CUE_VELOCITY[0] + CUE_VELOCITY[1] * energy))
        out.append(Ev(qn, min(CUE_CRASH_QN, end_qn - qn), CRASH, velocity))
        out.append(Ev(qn, CUE_HIT_QN, KICK, velocity))
    return out


def _unswung(t: float, amount: float, unit: float) -> float:
    """The straight position (qn) that :func:`~.grid.swing_qn` plays at ``t``: its piecewise-linear inverse."""
    if amount <= 0 or unit <= 0:
        return t
    pair = 2 * unit
    base = (t // pair) * pair
    frac = (t - base) / pair
    split = 0.5 + amount * (2 / 3 - 0.5)
    straight = frac * 0.5 / split if frac <= split else 0.5 + (frac - split) * 0.5 / (1 - split)
    return base + straight * pair


def _cue_roots(
    brief: MusicBrief,
    grid: Grid,
    sections: list[SectionPlan],
    spans: list[ChordSpan],
    end_qn: float,
    plan: PartPlan,
) -> list[Ev]:
    """An accented chord root, one beat long, in the part's low register on every cue."""
    lo, hi = plan.windows.get("bass") or plan.windows.get("timpani") or O.instrument_range(plan.instrument)
    out = []
    for hit in _cue_hits(brief, grid, sections, end_qn):
        if hit.pitch != KICK:
            continue
        span = next((sp for sp in spans if sp.start <= hit.start < sp.end), None)
        if span is None:
            continue
        pitch = lo + (span.chord.root - lo) % 12
        if pitch > hi:
            pitch -= 12
        out.append(Ev(hit.start, min(grid.beat_qn, end_qn - hit.start), pitch, hit.vel))
    return out


def _cue_bars(brief: MusicBrief, grid: Grid) -> set[int]:
    """Bars on whose first beat a ``section`` cue falls."""
    out = set()
    for cue in brief.cues:
        if cue.kind == "section":
            pos = cue.time_s / grid.bar_seconds
            if abs(pos - round(pos)) * grid.bar_qn < SIXTEENTH_QN:
                out.add(int(round(pos)))
    return out


def _untangle(notes: list[Note]) -> list[Note]:
    """Sorted notes where a repeated pitch cuts the previous one off, so MIDI note-offs never collide."""
    notes = sorted(notes, key=lambda n: (n.start, n.pitch, -n.end))
    out: list[Note] = []
    last: dict[int, int] = {}
    for n in notes:
        j = last.get(n.pitch)
        if j is not None and out[j].end > n.start:
            prev = out[j]
            if n.start - prev.start < 0.02:
                continue  # a doubled attack: keep the first
            out[j] = Note(prev.pitch, prev.velocity, prev.start, n.start)
        last[n.pitch] = len(out)
        out.append(n)
    return out


def _pan(role: str, k: int) -> float:
    base = O.ROLE_PAN.get(role, 0.0)
    if role in ("melody", "bass", "drums"):
        return 0.0 if k == 0 else round((-1) ** k * min(0.6, PAN_STEP * k), 3)
    sign = (1 if base >= 0 else -1) * (-1 if k % 2 else 1)
    return round(max(-1.0, min(1.0, sign * (abs(base) + PAN_STEP * (k // 2)))), 3)


def _pedal(
    plan: PartPlan, spans: list[ChordSpan], grid: Grid, genre: str, end_s: float, notes: list[Note]
) -> list[tuple[float, int, int]]:
    """Sustain pedal for piano accompaniment: lifted and re-pressed at every chord change."""
    if family_of(plan.instrument) != "Piano" or genre not in O.PEDAL_GENRES or not notes:
        return []
    if not ({"chords", "pad"} & set(plan.duties)) or plan.style in O.UNPEDALLED_STYLES:
        return []
    first, last = notes[0].start, max(n.end for n in notes)
    out: list[tuple[float, int, int]] = []
    for span in spans:
        t = span.start * grid.qn_seconds
        if t < first - 1e-6 or t > last:
            continue
        if t > 0:
            out.append((round(max(0.0, t - 0.01), 6), O.SUSTAIN_CC, 0))
        out.append((round(min(end_s, t + 0.03), 6), O.SUSTAIN_CC, 127))
    out.append((round(end_s, 6), O.SUSTAIN_CC, 0))
    return out


@dataclass
class _PartsRun:
    """What the steps of ``_write_parts`` share while they write one piece, section by section."""

    brief: MusicBrief
    plans: list[PartPlan]
    sections: list[SectionPlan]
    spans: list[ChordSpan]
    grid: Grid
    end_qn: float
    final_bar: int
    writers: dict[tuple[str, str], Any]  # (instrument, duty) -> its writer; the duty says which kind
    leads: list[PartPlan]  # the parts that can play the tune, main lead first
    harmony_rank: dict[str, int]  # instrument -> its rank among the accompanying parts
    first_theme: str
    kept_tune: list[tuple[float, float, int]] | None  # the reference's tune (restyling), else None
    melody_rng: random.Random
    drum_plan: PartPlan | None
    drums_on: list[bool]  # per section: whether the kit plays
    cue_bars: set[int]
    events: dict[str, list[Ev]]
    motifs: dict[str, Motif] = field(default_factory=dict)
    theme_plans: dict[str, list] = field(default_factory=dict)
    tune: list[Ev] = field(default_factory=list)  # every melody event, to keep accompaniment under
    under: list[tuple[str, list[Ev]]] = field(default_factory=list)  # (instrument, events) kept under


def _write_parts(
    brief: MusicBrief,
    plans: list[PartPlan],
    sections: list[SectionPlan],
    spans: list[ChordSpan],
    grid: Grid,
    key: KeyContext,
    end_qn: float,
    final_bar: int,
) -> dict[str, list[Ev]]:
    run = _start_parts(brief, plans, sections, spans, grid, key, end_qn, final_bar)
    for si, sec in enumerate(sections):
        nxt = sections[si + 1] if si + 1 < len(sections) else None
        # The kit fills into the next section, into a cut, and (in a loop) back into the top.
        fill = bool(nxt and (run.drums_on[si + 1] or nxt.start_bar in run.cue_bars) and sec.bars >= 2)
        fill = fill or bool(brief.loop and sec.last and sec.bars >= 2)
        ctx = BarContext(sec.start_bar, sec.bars, sec.energy, sec.level, final_bar, end_qn, fill_last=fill)
        _write_pitched_section(run, sec, ctx)
        _write_drum_section(run, si, sec, nxt, ctx)
    return _finish_parts(run)


def _start_parts(
    brief: MusicBrief,
    plans: list[PartPlan],
    sections: list[SectionPlan],
    spans: list[ChordSpan],
    grid: Grid,
    key: KeyContext,
    end_qn: float,
    final_bar: int,
) -> _PartsRun:
    """Everything ``_write_parts`` needs before its first section: writers, leads, the kit's sections."""
    genre = brief.genre
    leads = sorted((p for p in plans if p.lead_rank >= 0 and "melody" in p.duties), key=lambda p: p.lead_rank)
    # Figured accompaniment ranks before pads: it is the texture that plays in quiet sections (a classical
    # harp's broken chords, not a held string pad under the tune).
    harmony_parts = sorted(
        (p for p in plans if {"chords", "pad", "line"} & set(p.duties) and "melody" not in p.duties),
        key=lambda p: p.role == "pad",
    )
    writers = _make_writers(brief, plans, spans, grid, key)
    kept_tune: list[tuple[float, float, int]] | None = None
    if brief.reference is not None and brief.reference.melody and leads:
        # Restyling (melody mode): the main lead plays the reference's tune instead of a new one.
        lead = leads[0]
        kept_tune = reference_melody(
            brief.reference,
            brief.key,
            grid,
            end_qn,
            lead.windows["melody"],
            O.instrument_range(lead.instrument),
        )
    drum_plan = next((p for p in plans if "drums" in p.duties), None)
    drums_on = [
        drum_plan is not None
        and s.plays(DRUMS)
        and _active(
            "drums", drum_plan, s, n_sections=len(sections), harmony_rank=0, main_lead=False, genre=genre
        )
        for s in sections
    ]
    return _PartsRun(
        brief=brief,
        plans=plans,
        sections=sections,
        spans=spans,
        grid=grid,
        end_qn=end_qn,
        final_bar=final_bar,
        writers=writers,
        leads=leads,
        harmony_rank={p.label: k for k, p in enumerate(harmony_parts)},
        first_theme=next((s.theme for s in sections if not s.is_intro), sections[0].theme),
        kept_tune=kept_tune,
        melody_rng=_rng(brief.seed, "melody"),
        drum_plan=drum_plan,
        drums_on=drums_on,
        cue_bars=_cue_bars(brief, grid),
        events={p.label: [] for p in plans},
    )


def _make_writers(
    brief: MusicBrief, plans: list[PartPlan], spans: list[ChordSpan], grid: Grid, key: KeyContext
) -> dict[tuple[str, str], Any]:
    """One writer per part and duty, so voice leading and register carry across sections."""
    has_bass_part = any("bass" in p.duties for p in plans)
    writers: dict[tuple[str, str], Any] = {}
    for p in plans:
        for duty in p.duties:
            writer = _make_writer(brief, p, duty, spans, grid, key, has_bass_part)
            if writer is not None:
                writers[(p.label, duty)] = writer
    inner = [p for p in plans if "inner" in p.duties]
    if inner:  # a quartet's inner voices share one writer, which writes them together
        shared = InnerVoicesWriter(
            grid,
            spans,
            voices={p.label: p.windows["inner"] for p in inner},
            base_velocity=O.ROLE_VELOCITY["counter"],
            scale=tuple(key.scale),
        )
        writers.update({(p.label, "inner"): shared for p in inner})
    return writers


def _make_writer(
    brief: MusicBrief,
    p: PartPlan,
    duty: str,
    spans: list[ChordSpan],
    grid: Grid,
    key: KeyContext,
    has_bass_part: bool,
) -> Any:
    """The writer of one duty of one part (None for a duty no writer plays)."""
    genre = brief.genre
    solo_drop = SOLO_ACCOMP_VELOCITY_DROP if "melody" in p.duties else 0
    rng = _rng(brief.seed, f"{duty}:{p.label}")
    if duty == "melody":
        return MelodyWriter(key, grid, spans, genre=genre, base_velocity=O.ROLE_VELOCITY["melody"])
    if duty in ("counter", "line"):
        return CounterWriter(
            grid,
            spans,
            window=p.windows[duty],
            base_velocity=O.ROLE_VELOCITY["counter"],
            scale=tuple(key.scale) if genre in P.CONTRAPUNTAL_GENRES else None,
        )
    if duty in ("chords", "pad"):
        return ChordWriter(
            key,
            grid,
            spans,
            genre=genre,
            style=p.style,
            window=p.windows[duty],
            base_velocity=O.ROLE_VELOCITY[duty] - solo_drop,
            rng=rng,
            has_bass=has_bass_part,
        )
    if duty == "bass":
        simple = p.role != "bass"
        return BassWriter(
            key,
            grid,
            spans,
            genre=genre,
            window=p.windows["bass"],
            base_velocity=O.ROLE_VELOCITY["bass"] - solo_drop - (6 if simple else 0),
            rng=rng,
            simple=simple,
        )
    if duty == "timpani":
        return TimpaniWriter(
            grid, spans, key, window=p.windows["timpani"], base_velocity=O.ROLE_VELOCITY["bass"]
        )
    if duty == "drums":
        return DrumWriter(grid, genre=genre, rng=rng)
    return None


def _write_pitched_section(run: _PartsRun, sec: SectionPlan, ctx: BarContext) -> None:
    """Every pitched part's active duties over one section (the tune, if nothing else would sound)."""
    # The tune goes to a lead that plays in this section (a timeline may leave the first one out).
    leads_here = [p for p in run.leads if sec.plays(p.instrument)]
    main_idx = _melody_lead(sec, len(leads_here), run.first_theme)
    sounding = False
    for p in run.plans:
        if not sec.plays(p.instrument):
            continue
        is_main = bool(leads_here) and p is leads_here[min(main_idx, len(leads_here) - 1)]
        for duty in p.duties:
            if duty == "drums":
                continue
            if not _active(
                duty,
                p,
                sec,
                n_sections=len(run.sections),
                harmony_rank=run.harmony_rank.get(p.label, 0),
                main_lead=is_main,
                genre=run.brief.genre,
            ):
                continue
            evs = _duty_events(run, p, duty, sec, ctx)
            run.events[p.label].extend(evs)
            if duty == "melody":
                run.tune.extend(evs)
            elif duty in UNDER_TUNE_DUTIES:
                run.under.append((p.instrument, evs))
            sounding = sounding or bool(evs)
    if sec.is_intro and run.brief.genre in INTRO_DRONE_GENRES and leads_here and run.kept_tune is None:
        drone = _drone(run, leads_here[0], sec)
        run.events[leads_here[0].label].extend(drone)
        run.tune.extend(drone)  # the guitar stays under it
    if not sounding and run.leads and sec.plays(run.leads[0].instrument):
        # Nothing pitched would sound here (e.g. an intro for a lone flute): the tune plays.
        lead = run.leads[0]
        run.events[lead.label].extend(_new_tune(run, lead, sec))


def _drone(run: _PartsRun, lead: PartPlan, sec: SectionPlan) -> list[Ev]:
    """A soft tonic-and-fifth drone, one bow per bar, in the low half of the lead's tune register."""
    from weavewave.generators.symbolic.humanize import velocity

    lo, hi = lead.windows["melody"]
    tonic_pc = tonic_pitch_class(run.brief.key.tonic)
    tonic = lo + (tonic_pc - lo) % 12
    pitches = [tonic, tonic + DRONE_FIFTH] if tonic + DRONE_FIFTH <= hi else [tonic]
    bar_qn = run.grid.bar_qn
    out: list[Ev] = []
    for bar in range(sec.start_bar, sec.start_bar + sec.bars):
        v = velocity(O.ROLE_VELOCITY["counter"] - DRONE_VELOCITY_DROP, sec.energy, 2)
        out.extend(Ev(bar * bar_qn, bar_qn * 0.98, p, v) for p in pitches)
    return out


def _duty_events(run: _PartsRun, p: PartPlan, duty: str, sec: SectionPlan, ctx: BarContext) -> list[Ev]:
    """What one duty of one part plays over one section: the kept tune, a new tune, or its writer's part."""
    if duty == "melody" and run.kept_tune is not None:
        grid = run.grid
        return melody_events(
            run.kept_tune,
            grid,
            sec.start_bar * grid.bar_qn,
            (sec.start_bar + sec.bars) * grid.bar_qn,
            base_velocity=O.ROLE_VELOCITY["melody"],
            energy=sec.energy,
        )
    if duty == "melody":
        return _new_tune(run, p, sec)
    if duty == "inner":
        return run.writers[(p.label, duty)].write(ctx, p.label, run.tune)
    return run.writers[(p.label, duty)].write(ctx)


def _new_tune(run: _PartsRun, lead: PartPlan, sec: SectionPlan) -> list[Ev]:
    """A newly written tune for ``lead`` over one section."""
    return _melody_section(
        run.writers[(lead.label, "melody")],
        lead,
        sec,
        run.grid,
        run.brief,
        run.motifs,
        run.theme_plans,
        run.melody_rng,
        run.end_qn,
        run.final_bar,
    )


def _write_drum_section(
    run: _PartsRun, si: int, sec: SectionPlan, nxt: SectionPlan | None, ctx: BarContext
) -> None:
    """The kit over one section: its groove (a build holds back), or a pickup fill before it enters."""
    if not run.drum_plan:
        return
    grid = run.grid
    if run.drums_on[si]:
        kit, drums = run.writers[(DRUMS, "drums")], run.events[DRUMS]
        genre = run.brief.genre
        crash = si > 0 and (
            sec.energy >= CRASH_MIN_ENERGY and genre in CRASH_GENRES or sec.start_bar in run.cue_bars
        )
        variant = _seed(run.brief.seed, f"groove:{sec.theme}")  # each theme of each piece draws its groove
        if sec.theme == "build" and sec.bars >= 2:
            # A build holds the kick back in its second half and rolls the snare up into the drop.
            half = (sec.start_bar + sec.bars / 2) * grid.bar_qn
            build = replace(ctx, fill_last=False)
            drums.extend(
                e
                for e in kit.write(build, crash=crash, variant=variant)
                if not (e.pitch == KICK and e.start >= half)
            )
            drums.extend(kit.roll(sec.start_bar + sec.bars - 2, 2, sec.energy))
        elif genre in ROLL_INTO_PEAK and _rises_to_peak(run.sections, si) and sec.bars >= 2:
            # The percussion builds into the piece's peak: a roll over the last two bars, not a fill.
            drums.extend(kit.write(replace(ctx, fill_last=False), crash=crash, variant=variant))
            drums.extend(kit.roll(sec.start_bar + sec.bars - 2, 2, sec.energy, drum=ROLL_INTO_PEAK[genre]))
        else:
            drums.extend(kit.write(ctx, crash=crash, variant=variant))
    elif nxt and run.drums_on[si + 1] and sec.bars >= 2 and not sec.last:
        # Drums enter with a pickup fill in the last bar before their first section.
        pickup = BarContext(sec.start_bar + sec.bars - 1, 1, nxt.energy, nxt.level, run.final_bar, run.end_qn)
        run.events[DRUMS].extend(run.writers[(DRUMS, "drums")].pickup(pickup))


def _rises_to_peak(sections: list[SectionPlan], si: int) -> bool:
    """Whether section ``si`` leads into the section of highest energy (the first one, if tied)."""
    if si + 1 >= len(sections):
        return False
    peak = max(range(len(sections)), key=lambda i: (sections[i].energy, -i))
    return peak == si + 1 and sections[peak].energy > sections[si].energy


def _finish_parts(run: _PartsRun) -> dict[str, list[Ev]]:
    """Keep accompaniment under the tune, add the cue hits, and sort every part's events."""
    brief, events = run.brief, run.events
    for instrument, evs in run.under:
        _keep_under(run.tune, evs, O.instrument_range(instrument)[0])
    for instrument in events:
        events[instrument] = [e for e in events[instrument] if e.pitch >= 0]
    if run.drum_plan and brief.cues:
        events[DRUMS].extend(_cue_hits(brief, run.grid, run.sections, run.end_qn))
    elif brief.cues:
        # No kit: the lowest part marks each cut with an accented root (a timpani or bass stroke).
        low = next((p for p in run.plans if "bass" in p.duties or "timpani" in p.duties), None)
        if low is not None:
            events[low.label].extend(_cue_roots(brief, run.grid, run.sections, run.spans, run.end_qn, low))
    for evs in events.values():
        evs.sort(key=lambda e: (e.start, e.pitch))
    return events


def _keep_under(tune: list[Ev], evs: list[Ev], floor: int) -> None:
    """Keep accompaniment at or under the tune: a note above the tune note it sounds against drops by
    octaves (the voicing stays, moved into the tune's shadow); one that cannot go low enough for the
    instrument is silenced (its pitch set to -1, removed by the caller). Works in place."""
    if not tune:
        return
    tune = sorted(tune, key=lambda e: e.start)
    starts = [e.start for e in tune]
    longest = max(e.dur for e in tune)
    for ev in evs:
        lo = bisect.bisect_left(starts, ev.start - longest)
        hi = bisect.bisect_left(starts, ev.start + ev.dur - EPS_QN)
        over = [t.pitch for t in tune[lo:hi] if t.start + t.dur > ev.start + EPS_QN]
        if not over:
            continue
        ceiling = min(over)
        while ev.pitch > ceiling and ev.pitch - 12 >= floor:
            ev.pitch -= 12
        if ev.pitch > ceiling:
            ev.pitch = -1


def _melody_section(
    writer: MelodyWriter,
    plan: PartPlan,
    sec: SectionPlan,
    grid: Grid,
    brief: MusicBrief,
    motifs: dict[str, Motif],
    theme_plans: dict[str, list],
    rng: random.Random,
    end_qn: float,
    final_bar: int,
) -> list[Ev]:
    """The tune over one section: phrases built from the section theme's two-bar idea.

    The first theme is written as periods (idea, development, open cadence; idea again, closed
    cadence); contrasting themes as sentences. A returning theme restates its first phrase's opening.
    """
    first_theme = next(iter(motifs), sec.theme)
    motif_theme = first_theme if sec.is_outro and motifs else sec.theme
    if motif_theme not in motifs:
        avoid = next(iter(motifs.values())).bars[0] if motifs else None
        m_rng = _rng(brief.seed, f"motif:{motif_theme}")
        motifs[motif_theme] = make_motif(
            grid,
            notes_per_bar(grid, brief.texture.density, sec.energy, brief.genre),
            m_rng,
            genre=brief.genre,
            avoid=avoid,
        )
    motif = motifs[motif_theme]
    form = "period" if motif_theme == first_theme else "sentence"
    window = plan.windows["melody"]
    if sec.level == 2 and not sec.is_outro:
        # Lift the tune a little in the loudest sections, within the instrument's range.
        lo_r, hi_r = O.instrument_range(plan.instrument)
        window = (min(window[0] + 3, hi_r - 14), min(window[1] + 3, hi_r))
    out: list[Ev] = []
    phrases = split_phrases(sec.bars)
    bar = sec.start_bar
    returning = theme_plans.get(motif_theme)
    antecedent: list | None = None
    for k, n in enumerate(phrases):
        last_phrase = k == len(phrases) - 1
        closed = k % 2 == 1 or last_phrase
        final = sec.last and last_phrase and bar + n - 1 == final_bar
        dev_op = rng.choice(P.MOTIF_VARIATIONS)
        repeat_of = antecedent if k % 2 == 1 else (returning if k == 0 else None)
        evs, plans = writer.phrase(
            motif,
            bar,
            n,
            window=window,
            energy=sec.energy,
            closed=closed,
            final=final,
            end_qn=end_qn,
            dev_op=dev_op,
            rng=rng,
            form=form,
            repeat_of=repeat_of,
            lone_bar=final_bar == 0,
        )
        if k == 0 and motif_theme not in theme_plans and n >= 3:
            theme_plans[motif_theme] = plans
        antecedent = plans if k % 2 == 0 else None
        out.extend(evs)
        bar += n
    if brief.genre in P.FRAGMENT_GENRES and sec.bars > P.FRAGMENT_PHRASE_BARS // 2:
        out = _fragments(out, sec, grid, final_bar)
    return out


def _fragments(evs: list[Ev], sec: SectionPlan, grid: Grid, final_bar: int) -> list[Ev]:
    """The tune as fragments: silent in the rest bars of each phrase (``patterns.FRAGMENT_REST_BARS``),
    a note running into a rest bar cut at its bar line; the piece's last bar always sounds."""

    def resting(bar: int) -> bool:
        k = (bar - sec.start_bar) % P.FRAGMENT_PHRASE_BARS
        return k in P.FRAGMENT_REST_BARS and bar != final_bar

    out = []
    for ev in evs:
        bar = int((ev.start + EPS_QN) // grid.bar_qn)
        if resting(bar):
            continue
        end_bar = bar + 1
        while end_bar * grid.bar_qn < ev.start + ev.dur - EPS_QN and not resting(end_bar):
            end_bar += 1
        ev.dur = min(ev.dur, end_bar * grid.bar_qn - ev.start)
        out.append(ev)
    return out

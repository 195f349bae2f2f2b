"""Scoring to picture: a tempo, first downbeat and tempo map that put a video's cuts on the beat.

A film composer picks the tempo so that the picture's cuts land on the music's bar lines and beats, and
bends it where a cue must hit exactly. :func:`best_timeline` does that by search: for every tempo in the
allowed range (:data:`TIMELINE_STEP_BPM` steps) the first downbeat (a pickup bar before it,
less than one strong beat) is chosen by :func:`fit_tempo` so the cuts land on beats; then
:func:`plan_timeline` makes one section per scene of two bars or more (shorter scenes share sections, see
:func:`scene_units`), pins each section change exactly to its cut with a tempo-map knot, bending the
stretch before it by at most :data:`MAX_BEND`, then pins every other cut to the beat, eighth or sixteenth
nearest it where that bends no stretch more than :data:`CUT_BEND`. The timeline whose cuts land best wins.
The median distance from a cut to the beat it landed on, in milliseconds, is the reported **residual**
(target :data:`TARGET_RESIDUAL_MS`).

:func:`score_brief` writes the result into a fused brief: the tempo, ``downbeat_s``, ``warp`` (the tempo
map), one section per scene (or group of short scenes) with its own energy and caption, and a cue on
every cut: ``section`` where a section starts (the kit fills into it and crashes), ``accent`` elsewhere
(crash and kick), on the grid when the cut is within :data:`ON_BEAT_S` of it, else on the cut itself. The cut list,
the beat each cut landed on and the residual are kept in the video observation under ``scoring`` and in
the provenance. :func:`as_loop` prepares a brief for a seamless loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from weavewave.brief import Cue, MusicBrief, Provenance, Section
from weavewave.music.form import energy_word
from weavewave.music.styles import GENRES
from weavewave.music.theory import bar_seconds

TEMPO_STEP_BPM = 0.1
OFFSET_STEP_S = 0.004
REFINE_STEP_BPM = 0.01
REFINE_OFFSET_STEP_S = 0.001
TARGET_RESIDUAL_MS = 40.0
MIN_SECTION_BARS = 2
LONG_BAR_S = 2.4  # bars at least this long (slow tempi) may make one-bar sections
MEAN_WEIGHT = 0.5  # objective: median distance + this share of the mean (most cuts close, not only half)
BAR_WEIGHT = 0.3  # ... + this share of the mean distance from section cuts to their bar lines
TEMPO_PULL_S_PER_BPM = 0.0003  # ... + a gentle pull towards the tempo the mood asked for
OFFSET_PULL = 0.01  # ... + this many seconds of cost per second of pickup before the first downbeat
TIMELINE_STEP_BPM = 0.25  # tempi tried for the whole timeline (each with its best downbeat)
BEND_WEIGHT = 0.05  # cost (s) per unit of mean tempo bend
MISSED_SECTION_S = 0.02  # cost (s) per scene group that did not get a section pinned to its cut
SHARED_SCENE_S = 0.005  # cost (s) per scene sharing a section (a gentle pull towards one section per scene)
MAX_BEND = 0.12  # most the tempo map bends a stretch (tempo ratio to the steady tempo) to pin a cut
BEND_MARGIN = 1e-4  # kept under MAX_BEND so rounding knots to microseconds never crosses it
# A cut inside a section is pinned to the grid only within this bend: with MAX_BEND there too, neighbouring
# stretches could differ by 25 % in tempo (8 %: at most 18 %, less than before); the rest are hit off the grid.
CUT_BEND = 0.08
ON_BEAT_S = 0.010  # a cut this close to a beat is on it: no knot, its cue on the beat
MAJOR_SCENE_S = 2.0  # a cut starting a scene at least this long is major: it must land on a strong beat
MIN_SEARCH_WIDTH_BPM = 12.0
SECTION_ENERGY_SPREAD = 1.5  # how strongly scene energy differences show in section energy
# Strong beats per bar of each meter (bar line plus the mid-bar accent in 4/4 and 6/8).
STRONG_PER_BAR = {"4/4": 2, "3/4": 1, "6/8": 2}
SIXTEENTHS_PER_BAR = {"4/4": 16, "3/4": 12, "6/8": 12}


@dataclass(frozen=True)
class Fit:
    """A tempo and first downbeat for a list of cuts, and how well the cuts land."""

    tempo_bpm: float
    downbeat_s: float
    residual_ms: float  # median distance from a cut to its nearest strong beat
    distances_ms: tuple[float, ...]
    beats_s: tuple[float, ...]  # the strong beat each cut was put on
    strong_period_s: float

    @property
    def within_target(self) -> bool:
        return self.residual_ms <= TARGET_RESIDUAL_MS


def _distances(cuts: np.ndarray, offsets: np.ndarray, period: float) -> np.ndarray:
    """Distance [shape=(len(offsets), len(cuts))] from each cut to the nearest grid point o + k*period."""
    rel = cuts[None, :] - offsets[:, None]
    phase = np.mod(rel, period)
    d = np.minimum(phase, period - phase)
    return np.where(rel < 0, -rel, d)  # before the music enters: distance to the first downbeat


def _grid(tempo: float, meter: str) -> tuple[float, float, float]:
    """(beat, strong-beat, bar) periods in seconds; the beat is the felt beat (a dotted quarter in 6/8)."""
    bar = bar_seconds(tempo, meter)
    return 60.0 / tempo, bar / STRONG_PER_BAR[meter], bar


def fit_tempo(
    cuts: list[float],
    tempo_range: tuple[float, float],
    meter: str = "4/4",
    *,
    preferred_bpm: float | None = None,
    major: list[float] | None = None,
    fixed_tempo: float | None = None,
) -> Fit:
    """Search tempo and first downbeat so the cuts land on the beat, and the major cuts on strong beats.

    Parameters
    ----------
    cuts : list of float
        Cut times in seconds.
    tempo_range : (low, high)
        BPM of the felt beat to search (ignored when ``fixed_tempo`` is given).
    meter : "4/4", "3/4" or "6/8".
    preferred_bpm : float, optional
        The tempo the mood asked for; among equally good fits the nearer one wins.
    major : list of float, optional
        The cuts (a subset of ``cuts``) that start scenes long enough to be sections: they must land on
        strong beats (and are pulled towards bar lines); the others on any beat.
    fixed_tempo : float, optional
        A tempo the user set: only the downbeat is searched.

    Returns
    -------
    Fit
        ``residual_ms`` is the median distance from each cut to its beat (a strong beat for a major cut).
    """
    lo, hi = tempo_range
    c = np.asarray(sorted(cuts), dtype=np.float64)
    is_major = np.isin(np.round(c, 6), np.round(np.asarray(major or [], dtype=np.float64), 6))
    pref = preferred_bpm if preferred_bpm is not None else 0.5 * (lo + hi)
    if fixed_tempo is not None:
        tempo, offset = _search(
            c, is_major, np.asarray([float(fixed_tempo)]), meter, pref, REFINE_OFFSET_STEP_S
        )
    else:
        tempo, _ = _search(c, is_major, np.arange(lo, hi + 1e-9, TEMPO_STEP_BPM), meter, pref, OFFSET_STEP_S)
        fine = np.arange(tempo - TEMPO_STEP_BPM, tempo + TEMPO_STEP_BPM + 1e-9, REFINE_STEP_BPM)
        fine = fine[(fine >= lo - 1e-9) & (fine <= hi + 1e-9)]
        tempo, offset = _search(c, is_major, fine, meter, pref, REFINE_OFFSET_STEP_S)
    beat, strong, _bar = _grid(tempo, meter)
    if c.size == 0:
        return Fit(round(tempo, 2), 0.0, 0.0, (), (), strong)
    o = np.asarray([offset])
    d = np.where(is_major, _distances(c, o, strong)[0], _distances(c, o, beat)[0])
    period = np.where(is_major, strong, beat)
    beats = np.where(c < offset, offset, offset + np.round((c - offset) / period) * period)
    return Fit(
        round(float(tempo), 2),
        round(float(offset), 4),
        round(float(np.median(d)) * 1000, 1),
        tuple(round(float(x) * 1000, 1) for x in d),
        tuple(round(float(b), 4) for b in beats),
        strong,
    )


def _search(
    c: np.ndarray, is_major: np.ndarray, tempi: np.ndarray, meter: str, pref: float, offset_step: float
) -> tuple[float, float]:
    """The (tempo, downbeat) of least cost: median + share of mean distance, bar-line pull, small pulls."""
    if c.size == 0:
        return float(min(tempi, key=lambda t: abs(t - pref))), 0.0
    best_cost, best = np.inf, (float(tempi[0]), 0.0)
    for tempo in tempi:
        beat, strong, bar = _grid(float(tempo), meter)
        # the first downbeat comes no later than the first cut: the pickup before it carries no cue
        offsets = np.arange(0.0, min(strong, float(c[0]) + offset_step / 2), offset_step)
        d = np.where(is_major[None, :], _distances(c, offsets, strong), _distances(c, offsets, beat))
        cost = np.median(d, axis=1) + MEAN_WEIGHT * d.mean(axis=1)
        if is_major.any():
            cost += BAR_WEIGHT * _distances(c[is_major], offsets, bar).mean(axis=1)
        cost += OFFSET_PULL * offsets + TEMPO_PULL_S_PER_BPM * abs(float(tempo) - pref)
        k = int(np.argmin(cost))
        if cost[k] < best_cost - 1e-12:
            best_cost, best = float(cost[k]), (float(tempo), float(offsets[k]))
    return best


# ======================================================================================================
# The brief
# ======================================================================================================
def search_range(brief: MusicBrief, pace_range: tuple[float, float] | None) -> tuple[float, float]:
    """Tempi to search: the genre's range, narrowed to the video's pace where they overlap."""
    lo, hi = GENRES[brief.genre].tempo_range
    if pace_range is not None:
        plo, phi = max(lo, pace_range[0]), min(hi, pace_range[1])
        if phi - plo >= MIN_SEARCH_WIDTH_BPM:
            return plo, phi
    # Around the mood's tempo, within the genre's range.
    centre = min(max(brief.tempo_bpm, lo), hi)
    half = max(MIN_SEARCH_WIDTH_BPM / 2, (hi - lo) / 4)
    return max(lo, centre - half), min(hi, centre + half)


@dataclass
class Timeline:
    """A scored timeline: steady tempo and downbeat, tempo-map knots, sections and where each cut lands."""

    tempo_bpm: float
    downbeat_s: float
    knots: list[tuple[float, float]]  # (score s, real s), excluding (0, 0) and the end
    sections: list[tuple[float, dict[str, Any], bool]]  # (real start, scene, pinned to its cut)
    beats_s: list[float]
    distances_ms: list[float]
    bends: list[float]
    duration_s: float
    units: int = 0  # scene groups long enough to be sections (see scene_units)
    scenes: int = 0
    off_grid: int = 0  # cuts more than ON_BEAT_S from every sixteenth: their hits play on the cut itself

    @property
    def residual_ms(self) -> float:
        return round(float(np.median(self.distances_ms)), 1) if self.distances_ms else 0.0

    def warp(self) -> tuple[np.ndarray, np.ndarray]:
        return _warp_arrays(self.knots, self.duration_s)


def plan_timeline(
    boundaries: list[float],
    scenes: list[dict[str, Any]],
    meter: str,
    tempo: float,
    downbeat: float,
    duration: float,
    *,
    bend: bool = True,
) -> Timeline:
    """Sections on the scenes for one tempo and downbeat, every cut pinned by a bounded tempo map.

    A scene starts a section if it lasts at least :data:`MIN_SECTION_BARS` bars at the steady tempo (one
    bar when a bar lasts :data:`LONG_BAR_S` or more); a shorter scene joins the section before it (short
    opening scenes join the first longer one). A section's bar count is the whole number of bars nearest
    the steady tempo; if the stretch since the last knot can be bent by at most :data:`MAX_BEND` (tempo
    ratio, checked on the rounded knots) to put that bar line exactly on the cut, a knot pins it, else the
    section starts on the bar line nearest the cut. Then every other cut (inside a section) is pinned to the
    nearest beat of the bent grid by a knot of its own where both stretches around it stay within the
    bound. A cut still more than :data:`ON_BEAT_S` off its beat keeps its cue on the cut itself (a hit off
    the grid) rather than on the beat: every cue lands on its cut either way.
    """
    beat, _strong, bar = _grid(tempo, meter)
    sixteenth = bar / SIXTEENTHS_PER_BAR[meter]
    min_bars = 1 if bar >= LONG_BAR_S else MIN_SECTION_BARS
    knots: list[tuple[float, float]] = [(downbeat, downbeat)] if downbeat > 0 else []
    last_s = last_r = downbeat
    last_bar = 0
    total_bars = max(1, int(round((duration - downbeat) / bar)))
    units = scene_units(scenes, min_bars * bar, duration)
    sections: list[tuple[float, dict[str, Any], bool]] = [(0.0, units[0], True)] if units else []
    for scene in units[1:]:
        r = float(scene["start_s"])
        if r <= last_r:
            continue
        pos = (last_s + (r - last_r) - downbeat) / bar  # bar position of the cut on the steady grid
        options = [
            m
            for m in {int(np.floor(pos)), int(np.ceil(pos))}
            if m >= last_bar + min_bars and total_bars - m >= min_bars
        ]
        if not options:
            continue
        m = min(options, key=lambda k: abs(_bend(last_s, downbeat + k * bar, last_r, r)))
        s_t = round(downbeat + m * bar, 6)
        if bend and abs(_bend(last_s, s_t, last_r, round(r, 6))) <= MAX_BEND - BEND_MARGIN:
            knots.append((s_t, round(r, 6)))
            last_s, last_r = s_t, round(r, 6)
            sections.append((round(r, 6), scene, True))
        else:
            m = int(round(pos))
            start = last_r + (downbeat + m * bar - last_s)
            if m < last_bar + min_bars or total_bars - m < min_bars or abs(start - r) > bar / 4:
                continue  # the bar line is too far from this cut: the scene joins the section before
            sections.append((round(start, 4), scene, False))
        last_bar = m
    pinned = [st for st, _, p in sections[1:] if p]
    if bend:
        knots = _pin_cuts(
            [t for t in boundaries if not any(abs(st - t) < 1e-6 for st in pinned)],
            knots,
            downbeat,
            beat,
            sixteenth,
        )
    score, real = _warp_arrays(knots, duration)
    beats, distances, off_grid = [], [], 0
    for t in boundaries:
        exact = next((st for st in pinned if abs(st - t) < 1e-6), None)
        if exact is not None:
            beats.append(round(exact, 4))
            distances.append(0.0)
            continue
        s_t = float(np.interp(t, real, score))
        g = downbeat if s_t < downbeat else downbeat + round((s_t - downbeat) / beat) * beat
        b = round(float(np.interp(g, score, real)), 4)
        beats.append(b)
        distances.append(round(abs(b - t) * 1000, 1))
        g = downbeat if s_t < downbeat else downbeat + round((s_t - downbeat) / sixteenth) * sixteenth
        off_grid += abs(float(np.interp(g, score, real)) - t) > ON_BEAT_S
    return Timeline(
        tempo,
        downbeat,
        [k for k in knots if k[1] > 0],
        sections,
        beats,
        distances,
        _bends(knots),
        duration,
        len(units),
        len(scenes),
        off_grid,
    )


def scene_units(scenes: list[dict[str, Any]], min_s: float, duration: float) -> list[dict[str, Any]]:
    """Scenes grouped into would-be sections, none shorter than ``min_s`` (two bars) where it can be helped.

    In order: a scene starts a new group when the group before it already lasts ``min_s``; otherwise it
    joins that group, unless it lasts ``min_s`` itself: then the short group before it joins the group
    before that, and the long scene starts its own. A short group left at the end joins the one before.
    A group of several scenes starts where its first scene does, takes its longest scene's theme and
    caption, and the length-weighted energy.
    """

    def length(group: list[dict[str, Any]]) -> float:
        return sum(min(float(s["end_s"]), duration) - float(s["start_s"]) for s in group)

    groups: list[list[dict[str, Any]]] = []
    for scene in scenes:
        if not groups or length(groups[-1]) >= min_s:
            groups.append([scene])
        elif length([scene]) >= min_s and len(groups) > 1:
            groups[-2].extend(groups.pop())
            groups.append([scene])
        else:
            groups[-1].append(scene)
    if len(groups) > 1 and length(groups[-1]) < min_s:
        groups[-2].extend(groups.pop())
    units = []
    for group in groups:
        if len(group) == 1:
            units.append(group[0])
            continue
        total = max(length(group), 1e-9)
        energy = sum(float(s["energy"]) * length([s]) for s in group) / total
        main = max(group, key=lambda s: length([s]))  # the longest scene gives the section its character
        caption = f"{main.get('caption', 'a scene')} and {len(group) - 1} more shots"
        units.append(
            {
                **main,
                "start_s": group[0]["start_s"],
                "end_s": group[-1]["end_s"],
                "energy": round(energy, 4),
                "caption": caption,
            }
        )
    return units


def _bend(s0: float, s1: float, r0: float, r1: float) -> float:
    """Tempo change of the stretch from (s0, r0) to (s1, r1), as a fraction (+0.05: played 5 % faster)."""
    return (s1 - s0) / (r1 - r0) - 1.0 if r1 > r0 else np.inf


def _pin_cuts(
    cuts: list[float], knots: list[tuple[float, float]], downbeat: float, beat: float, sixteenth: float
) -> list[tuple[float, float]]:
    """Knots that pin each cut (in order) to the nearest beat it can reach with both stretches in bound.

    ``knots`` are the section knots; a cut after the first downbeat and more than :data:`ON_BEAT_S` from
    a beat gets a knot on the nearer of its two neighbouring beats (the other if that one bends too far).
    The stretch after the last knot plays at the steady tempo, so only the stretch before it is checked.
    """
    pts = [(0.0, 0.0), *[k for k in knots if k[1] > 0]]
    for t in cuts:
        if t <= downbeat + 1e-6:
            continue
        i = max(k for k, (_, r) in enumerate(pts) if r < t)
        (s0, r0), nxt = pts[i], pts[i + 1] if i + 1 < len(pts) else None
        s_t = s0 + (t - r0) if nxt is None else s0 + (t - r0) * (nxt[0] - s0) / (nxt[1] - r0)
        k = (s_t - downbeat) / beat
        if abs(k - round(k)) * beat * (t - r0) / max(s_t - s0, 1e-9) <= ON_BEAT_S:
            continue  # already on the beat: no knot needed
        r = round(t, 6)
        # within CUT_BEND, or within the bend the stretch being split already has (never over MAX_BEND)
        limit = min(MAX_BEND, max(CUT_BEND, abs(_bend(s0, nxt[0], r0, nxt[1])) if nxt else 0.0)) - BEND_MARGIN
        best: tuple[float, tuple[float, float]] | None = None
        for unit in (beat, 2 * sixteenth, sixteenth):  # a beat if it can, else an eighth, else a sixteenth
            q = (s_t - downbeat) / unit
            for g in sorted({np.floor(q), np.ceil(q)}, key=lambda m: abs(m - q)):
                g_s = round(downbeat + g * unit, 6)
                if not (s0 < g_s and (nxt is None or g_s < nxt[0])):
                    continue
                worst = max(abs(_bend(s0, g_s, r0, r)), abs(_bend(g_s, nxt[0], r, nxt[1])) if nxt else 0.0)
                if worst <= limit and (best is None or worst < best[0]):
                    best = (worst, (g_s, r))
            if best is not None:
                pts.insert(i + 1, best[1])
                break
    return [k for k in pts if k[1] > 0]


def _timeline_cost(tl: Timeline, pref: float) -> float:
    d = np.asarray(tl.distances_ms) / 1000 if tl.distances_ms else np.zeros(1)
    bend = float(np.mean(np.abs(tl.bends))) if tl.bends else 0.0
    missed = max(0, tl.units - len(tl.sections)) + sum(not p for _, _, p in tl.sections)
    return (
        float(np.median(d))
        + MEAN_WEIGHT * float(d.mean())
        + BEND_WEIGHT * bend
        + MISSED_SECTION_S * missed
        + SHARED_SCENE_S * max(0, tl.scenes - len(tl.sections))
        + OFFSET_PULL * tl.downbeat_s
        + TEMPO_PULL_S_PER_BPM * abs(tl.tempo_bpm - pref)
    )


def best_timeline(
    boundaries: list[float],
    scenes: list[dict[str, Any]],
    major: list[float],
    meter: str,
    tempo_range: tuple[float, float],
    duration: float,
    *,
    preferred_bpm: float,
    fixed_tempo: float | None = None,
) -> Timeline:
    """The tempo (in ``tempo_range``, or ``fixed_tempo``) and downbeat whose timeline lands the cuts best.

    For each candidate tempo the downbeat comes from :func:`fit_tempo` at that tempo; the whole timeline
    (sections, tempo map, beats) is then built and scored: median plus a share of the mean cut-to-beat
    distance, the mean tempo bend, and small pulls towards the mood's tempo and an early downbeat.
    """
    if fixed_tempo is not None:
        tempi = [float(fixed_tempo)]
    else:
        lo, hi = tempo_range
        tempi = [float(t) for t in np.arange(lo, hi + 1e-9, TIMELINE_STEP_BPM)]
    best: tuple[float, Timeline] | None = None
    for tempo in tempi:
        fit = fit_tempo(
            boundaries, (tempo, tempo), meter, preferred_bpm=preferred_bpm, major=major, fixed_tempo=tempo
        )
        tl = plan_timeline(
            boundaries, scenes, meter, tempo, fit.downbeat_s, duration, bend=fixed_tempo is None
        )
        cost = _timeline_cost(tl, preferred_bpm)
        if best is None or cost < best[0] - 1e-12:
            best = (cost, tl)
    assert best is not None
    return best[1]


def score_brief(brief: MusicBrief, video: dict[str, Any], *, tempo_fixed: bool = False) -> MusicBrief:
    """Rewrite a fused brief to the picture: tempo, downbeat, tempo map, one section per scene, cues.

    Parameters
    ----------
    brief : the fused brief (its duration is the video's unless the user set one).
    video : the video observation's ``measurements`` (from :func:`weavewave.perceive.video.perceive_video`)
        plus ``tempo_range`` (the pace's BPM range) when known.
    tempo_fixed : the user set the tempo: keep it and only place the downbeat (no tempo map either).
    """
    duration = brief.duration_s
    edges = [*video.get("cuts_s", []), *video.get("fades_s", []), *video.get("dissolves_s", [])]
    boundaries = sorted(t for t in edges if 0 < t < duration)
    scenes = [s for s in video.get("scenes", []) if s["start_s"] < duration]
    lo, hi = search_range(brief, video.get("tempo_range"))
    major = [s["start_s"] for s in scenes[1:] if s["end_s"] - s["start_s"] >= MAJOR_SCENE_S]
    tl = best_timeline(
        boundaries,
        scenes,
        major,
        brief.meter,
        (lo, hi),
        duration,
        preferred_bpm=brief.tempo_bpm,
        fixed_tempo=brief.tempo_bpm if tempo_fixed else None,
    )
    score, real = tl.warp()
    sections = _sections(tl, brief)
    section_starts = {round(s.start_s, 4) for s in sections[1:]}
    cues = []
    for t, b in zip(boundaries, tl.beats_s, strict=True):
        if abs(b - t) <= ON_BEAT_S + 1e-9 and b < duration:
            kind = "section" if round(b, 4) in section_starts else "accent"
            cues.append(Cue(time_s=b, kind=kind, label=f"cut at {t:.3f} s"))
        else:  # off the beat: the hit goes on the cut itself, not on the beat near it
            cues.append(Cue(time_s=round(t, 4), kind="accent", label=f"cut at {t:.3f} s, off the beat"))
    cue_ms = [round(abs(c.time_s - t) * 1000, 1) for c, t in zip(cues, boundaries, strict=True)]
    cues = list({c.time_s: c for c in cues}.values())
    residual = tl.residual_ms

    prov = dict(brief.provenance)
    verdict = "within" if residual <= TARGET_RESIDUAL_MS else "above"
    pinned = sum(p for _, _, p in tl.sections[1:])
    off_beat = sum(c.label.endswith("off the beat") for c in cues)
    why = (
        f"tempo {tl.tempo_bpm:g}: searched {lo:g}-{hi:g} BPM and the first downbeat so the video's "
        f"{len(boundaries)} cuts land on beats; {pinned} section changes and "
        f"{max(0, len(tl.knots) - pinned - (tl.downbeat_s > 0))} other cuts pinned by bending the tempo at "
        f"most {max([abs(b) for b in tl.bends], default=0.0):.1%}; median cut-to-beat "
        f"distance {residual:.1f} ms ({verdict} the {TARGET_RESIDUAL_MS:g} ms target)"
    )
    if tempo_fixed:
        why = (
            f"tempo {tl.tempo_bpm:g}: set by the user; the first downbeat placed so the cuts land as near "
            f"beats as it allows (median {residual:.1f} ms)"
        )
    else:
        prov["tempo_bpm"] = Provenance(source="video", reason=why)
    prov["downbeat_s"] = Provenance(
        source="video",
        reason=(
            f"first downbeat at {tl.downbeat_s:.3f} s: puts the bar lines on the cuts (a quiet pickup leads into it)"
        ),
    )
    if tl.knots:
        prov["warp"] = Provenance(
            source="video",
            reason=(
                f"tempo map with {len(tl.knots)} knots: section changes land exactly on their cuts, other cuts "
                f"on beats where a bend of at most {MAX_BEND:.0%} allows"
            ),
        )
    prov["sections"] = Provenance(
        source="video",
        reason=(
            f"{len(sections)} sections from {len(scenes)} scenes; a scene shorter than {MIN_SECTION_BARS} bars "
            "joins the section before it (its cut keeps an accent)"
        ),
    )
    prov["cues"] = Provenance(
        source="video",
        reason=(
            f"{len(cues)} cues on the cuts: {sum(c.kind == 'section' for c in cues)} section changes, "
            f"{sum(c.kind == 'accent' for c in cues)} accents ({off_beat} off the beat, on the cut itself, {tl.off_grid} of them "
            f"off the sixteenth grid too); "
            f"largest cut-to-cue distance {max(cue_ms, default=0.0):.1f} ms; residual {residual:.1f} ms"
        ),
    )
    scoring = {
        "tempo_bpm": tl.tempo_bpm,
        "downbeat_s": tl.downbeat_s,
        "residual_ms": residual,
        "target_ms": TARGET_RESIDUAL_MS,
        "cuts_s": [round(t, 4) for t in boundaries],
        "beats_s": tl.beats_s,
        "distances_ms": tl.distances_ms,
        "cues_off_beat": off_beat,
        "cues_off_grid": tl.off_grid,
        "cue_distances_ms": cue_ms,
        "major_cuts_s": [round(t, 4) for t in major],
        "tempo_bends": [round(b, 4) for b in tl.bends],
        "search_bpm": [round(lo, 2), round(hi, 2)],
    }
    observations = []
    for obs in brief.observations:
        if obs.source == "video" and "scoring" not in obs.measurements:
            obs = obs.model_copy(update={"measurements": {**obs.measurements, "scoring": scoring}})
        observations.append(obs)
    data = brief.to_dict()
    data.update(
        tempo_bpm=round(tl.tempo_bpm, 2),
        downbeat_s=tl.downbeat_s,
        warp=[[float(a), float(b)] for a, b in zip(score, real, strict=True)] if tl.knots else [],
        sections=[s.model_dump() for s in sections],
        cues=[c.model_dump() for c in cues],
        observations=[o.model_dump() for o in observations],
        provenance={k: v.model_dump() for k, v in sorted(prov.items())},
    )
    from weavewave.bridge import rederive

    return rederive(MusicBrief.from_dict(data, origin="scored brief"))


def _warp_arrays(knots: list[tuple[float, float]], duration: float) -> tuple[np.ndarray, np.ndarray]:
    """(score, real) knot arrays from (0, 0) to the end; the last stretch plays at the steady tempo."""
    pts = [(0.0, 0.0), *[k for k in knots if k[1] > 0]]
    last_s, last_r = pts[-1]
    pts.append((round(last_s + (duration - last_r), 6), duration))
    score, real = (np.asarray(x, dtype=np.float64) for x in zip(*pts, strict=True))
    return score, real


def _bends(knots: list[tuple[float, float]]) -> list[float]:
    """Tempo change of each bent stretch, as a fraction (+0.05: played 5 % faster)."""
    out = []
    prev = (0.0, 0.0)
    for s_t, r_t in knots:
        if s_t > prev[0] and r_t > prev[1]:
            out.append(_bend(prev[0], s_t, prev[1], r_t))
        prev = (s_t, r_t)
    return out


def _sections(tl: Timeline, brief: MusicBrief) -> list[Section]:
    """One section per kept scene, from where its bar line plays (in real time)."""
    if not tl.sections:
        return list(brief.sections)
    mean_energy = float(np.mean([s["energy"] for _, s, _ in tl.sections]))
    style = GENRES[brief.genre]
    seen: dict[str, int] = {}
    out: list[Section] = []
    for k, (start, s, _pinned) in enumerate(tl.sections):
        end = tl.duration_s if k == len(tl.sections) - 1 else tl.sections[k + 1][0]
        theme = str(s.get("theme", "A"))
        label = theme + "'" * seen.get(theme, 0)
        seen[theme] = seen.get(theme, 0) + 1
        energy = round(
            min(1.0, max(0.1, brief.energy + SECTION_ENERGY_SPREAD * (s["energy"] - mean_energy))), 3
        )
        caption = (
            f"{style.description.capitalize()}, {energy_word(energy)} energy: scored to "
            f"{s.get('caption', 'a scene')} from {s['start_s']:.2f} s."
        )
        out.append(
            Section(start_s=round(start, 4), end_s=round(end, 4), label=label, energy=energy, caption=caption)
        )
    return out


# ======================================================================================================
# Loops
# ======================================================================================================
LOOP_RELABEL = {"intro": "A", "outro": "A"}


def as_loop(brief: MusicBrief, *, tempo_fixed: bool = False, duration_fixed: bool = False) -> MusicBrief:
    """A copy of the brief made to loop: a whole number of bars, no intro or outro, ``loop`` set.

    The tempo is nudged (by less than half a bar over the piece) so the length holds a whole number of
    bars; if the user fixed the tempo, the length is nudged instead; if both were fixed, neither moves
    and the loop wraps inside a bar (still without a click). Intro and outro become body sections with the
    energy of the first body section, so the end flows into the start.
    """
    from weavewave.bridge import rederive, rescale_sections, with_sections
    from weavewave.music.theory import beats_per_bar

    update: dict[str, Any] = {"loop": True}
    prov = dict(brief.provenance)
    bar = bar_seconds(brief.tempo_bpm, brief.meter)
    bars = max(1, round(brief.duration_s / bar))
    exact = abs(bars * bar - brief.duration_s) < 1e-3
    if not exact and not tempo_fixed and not brief.cues:
        # tempo_bpm counts the felt beat; a bar of 6/8 holds two felt beats
        felt_per_bar = 2.0 if brief.meter == "6/8" else beats_per_bar(brief.meter)
        tempo = round(60.0 * felt_per_bar * bars / brief.duration_s, 4)
        update["tempo_bpm"] = tempo
        prov["tempo_bpm"] = Provenance(
            source=prov.get("tempo_bpm", Provenance(source="default", reason="")).source,
            reason=f"tempo {tempo:g}: nudged so the {brief.duration_s:g} s loop holds exactly {bars} bars",
        )
    elif not exact and not duration_fixed and not brief.cues:
        update["duration_s"] = round(bars * bar, 4)
        prov["duration_s"] = Provenance(
            source="default",
            reason=(f"duration {bars * bar:.3f} s: {bars} whole bars, so the loop repeats on a bar line"),
        )
    looped = brief.model_copy(update=update)
    if "duration_s" in update:
        looped = looped.model_copy(update={"sections": rescale_sections(brief, update["duration_s"])})
    if "tempo_bpm" in update and not brief.cues:
        looped = with_sections(looped)
    body_energy = next((s.energy for s in looped.sections if s.label not in LOOP_RELABEL), looped.energy)
    sections = [
        s.model_copy(update={"label": LOOP_RELABEL[s.label], "energy": body_energy})
        if s.label in LOOP_RELABEL
        else s
        for s in looped.sections
    ]
    prov["loop"] = Provenance(source="user", reason="set with --loop: the end leads back into the start")
    data = looped.to_dict()
    data["sections"] = [s.model_dump() for s in sections]
    data["provenance"] = {k: v.model_dump() for k, v in sorted(prov.items())}
    return rederive(MusicBrief.from_dict(data, origin="looped brief"))

"""The tempo map that puts a video's cuts on the beat: a search over tempo, first downbeat and bends.

A film composer picks the tempo so that the picture's cuts land on the music's bar lines and beats, and
bends it where a cue must hit exactly. :func:`best_timeline` does that by search: for every tempo in the
allowed range (:data:`TIMELINE_STEP_BPM` steps) the first downbeat (a pickup bar before it,
less than one strong beat) is chosen by :func:`fit_tempo` so the cuts land on beats; then
:func:`plan_timeline` makes one section per scene of two bars or more (shorter scenes share sections, see
:func:`scene_units`), pins each section change exactly to its cut with a tempo-map knot, bending the
stretch before it by at most :data:`MAX_BEND`, then pins every other cut to the beat, eighth or sixteenth
nearest it where that bends no stretch more than :data:`CUT_BEND`. The timeline whose cuts land best wins.
The median distance from a cut to the beat it landed on, in milliseconds, is the reported **residual**
(target :data:`TARGET_RESIDUAL_MS`). :mod:`weavewave.bridge.picture` writes the result into a brief.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

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

"""Scoring to picture: a tempo and first downbeat that put a video's cuts on strong beats.

A film composer picks the tempo so that the picture's cuts land on the music's bar lines and strong
beats. :func:`fit_tempo` does that by search: every tempo in the allowed range (in
:data:`TEMPO_STEP_BPM` steps, then refined) and every first-downbeat time within one strong-beat
period (the silence before the music enters), scored by the median distance from each cut to its
nearest strong beat. That median, in milliseconds, is the reported **residual** (target
:data:`TARGET_RESIDUAL_MS`).

:func:`score_brief` then rewrites a fused brief around the video: the tempo and downbeat from the fit,
one section per scene (scenes shorter than :data:`MIN_SECTION_BARS` bars join their neighbour) starting
on the bar line at its cut, each with its own energy and caption, and a cue on every cut: ``section``
where a section starts (the kit fills into it and crashes), ``accent`` elsewhere (crash and kick). The
cut list, the beat each cut was put on and the residual are kept in the video observation under
``scoring`` and in the provenance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from weavewave.brief import Cue, MusicBrief, Provenance, Section
from weavewave.form import energy_word
from weavewave.styles import GENRES
from weavewave.theory import bar_seconds

TEMPO_STEP_BPM = 0.1
OFFSET_STEP_S = 0.004
REFINE_STEP_BPM = 0.01
REFINE_OFFSET_STEP_S = 0.001
TARGET_RESIDUAL_MS = 40.0
MIN_SECTION_BARS = 2
MEAN_WEIGHT = 0.3  # objective: median distance + this share of the mean (most cuts close, not only half)
BAR_WEIGHT = 0.3  # ... + this share of the mean distance from section cuts to their bar lines
TEMPO_PULL_S_PER_BPM = 0.0003  # ... + a gentle pull towards the tempo the mood asked for
MIN_SEARCH_WIDTH_BPM = 12.0
SECTION_ENERGY_SPREAD = 1.5  # how strongly scene energy differences show in section energy
# Strong beats per bar of each meter (bar line plus the mid-bar accent in 4/4 and 6/8).
STRONG_PER_BAR = {"4/4": 2, "3/4": 1, "6/8": 2}


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
    """Distance [shape=(len(offsets), len(cuts))] from each cut to the nearest strong beat o + k*period."""
    rel = cuts[None, :] - offsets[:, None]
    phase = np.mod(rel, period)
    d = np.minimum(phase, period - phase)
    return np.where(rel < 0, -rel, d)  # before the music enters: distance to the first downbeat


def _objective(d: np.ndarray, bar_d: np.ndarray | None) -> np.ndarray:
    cost = np.median(d, axis=-1) + MEAN_WEIGHT * d.mean(axis=-1)
    if bar_d is not None and bar_d.shape[-1]:
        cost = cost + BAR_WEIGHT * bar_d.mean(axis=-1)
    return cost


def fit_tempo(cuts: list[float], tempo_range: tuple[float, float], meter: str = "4/4", *,
              preferred_bpm: float | None = None, major: list[float] | None = None,
              fixed_tempo: float | None = None) -> Fit:
    """Search tempo and first downbeat so the cuts land on strong beats.

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
        Cuts that should start sections, so should land on bar lines, not only strong beats.
    fixed_tempo : float, optional
        A tempo the user set: only the downbeat is searched.

    Returns
    -------
    Fit
    """
    lo, hi = tempo_range
    if fixed_tempo is not None:
        tempi = np.asarray([float(fixed_tempo)])
    else:
        tempi = np.arange(lo, hi + 1e-9, TEMPO_STEP_BPM)
    c = np.asarray(sorted(cuts), dtype=np.float64)
    m = np.asarray(sorted(major or []), dtype=np.float64)
    pref = preferred_bpm if preferred_bpm is not None else 0.5 * (lo + hi)
    best = _search(c, m, tempi, meter, pref, OFFSET_STEP_S)
    if fixed_tempo is None:
        fine = np.arange(best[0] - TEMPO_STEP_BPM, best[0] + TEMPO_STEP_BPM + 1e-9, REFINE_STEP_BPM)
        fine = fine[(fine >= lo - 1e-9) & (fine <= hi + 1e-9)]
        best = _search(c, m, fine, meter, pref, REFINE_OFFSET_STEP_S)
    else:
        best = _search(c, m, tempi, meter, pref, REFINE_OFFSET_STEP_S)
    tempo, offset = best
    period = bar_seconds(tempo, meter) / STRONG_PER_BAR[meter]
    if c.size == 0:
        return Fit(round(tempo, 2), 0.0, 0.0, (), (), period)
    d = _distances(c, np.asarray([offset]), period)[0]
    beats = np.where(c < offset, offset, offset + np.round((c - offset) / period) * period)
    return Fit(round(float(tempo), 2), round(float(offset), 4), round(float(np.median(d)) * 1000, 1),
               tuple(round(float(x) * 1000, 1) for x in d), tuple(round(float(b), 4) for b in beats), period)


def _search(c: np.ndarray, m: np.ndarray, tempi: np.ndarray, meter: str, pref: float,
            offset_step: float) -> tuple[float, float]:
    best_cost, best = np.inf, (float(tempi[0]), 0.0)
    if c.size == 0:
        return float(min(tempi, key=lambda t: abs(t - pref))), 0.0
    for tempo in tempi:
        bar = bar_seconds(float(tempo), meter)
        period = bar / STRONG_PER_BAR[meter]
        offsets = np.arange(0.0, period, offset_step)
        d = _distances(c, offsets, period)
        bar_d = _distances(m, offsets, bar) if m.size else None
        cost = _objective(d, bar_d) + TEMPO_PULL_S_PER_BPM * abs(float(tempo) - pref)
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


def score_brief(brief: MusicBrief, video: dict[str, Any], *, tempo_fixed: bool = False) -> MusicBrief:
    """Rewrite a fused brief to the picture: tempo, downbeat, one section per scene, cues on the cuts.

    Parameters
    ----------
    brief : the fused brief (its duration is the video's unless the user set one).
    video : the video observation's ``measurements`` (from :func:`weavewave.perceive.video.perceive_video`)
        plus ``tempo_range`` (the pace's BPM range) when known.
    tempo_fixed : the user set the tempo: keep it and only place the downbeat.
    """
    duration = brief.duration_s
    boundaries = sorted(t for t in [*video.get("cuts_s", []), *video.get("fades_s", [])] if 0 < t < duration)
    scenes = [s for s in video.get("scenes", []) if s["start_s"] < duration]
    lo, hi = search_range(brief, video.get("tempo_range"))
    first = bar_seconds(brief.tempo_bpm, brief.meter)
    major = [s["start_s"] for s in scenes[1:] if s["end_s"] - s["start_s"] >= MIN_SECTION_BARS * first]
    fit = fit_tempo(boundaries, (lo, hi), brief.meter, preferred_bpm=brief.tempo_bpm, major=major,
                    fixed_tempo=brief.tempo_bpm if tempo_fixed else None)
    bar = bar_seconds(fit.tempo_bpm, brief.meter)
    sections = _sections(scenes, fit, bar, duration, brief)
    starts = {round(s.start_s, 4) for s in sections[1:]}
    cues = []
    for t, beat in zip(boundaries, fit.beats_s, strict=True):
        if beat >= duration:
            continue
        kind = "section" if round(beat, 4) in starts else "accent"
        cues.append(Cue(time_s=round(beat, 4), kind=kind, label=f"cut at {t:.3f} s"))
    cues = list({c.time_s: c for c in cues}.values())

    prov = dict(brief.provenance)
    verdict = "within" if fit.within_target else "above"
    why = (f"tempo {fit.tempo_bpm:g}: searched {lo:g}-{hi:g} BPM and the first downbeat so the video's "
           f"{len(boundaries)} cuts land on strong beats; median cut-to-beat distance {fit.residual_ms:.1f} ms "
           f"({verdict} the {TARGET_RESIDUAL_MS:g} ms target)")
    if tempo_fixed:
        why = (f"tempo {fit.tempo_bpm:g}: set by the user; the first downbeat placed so the cuts land as near "
               f"strong beats as it allows (median {fit.residual_ms:.1f} ms)")
    else:
        prov["tempo_bpm"] = Provenance(source="video", reason=why)
    prov["downbeat_s"] = Provenance(source="video", reason=(
        f"first downbeat at {fit.downbeat_s:.3f} s: puts the bar lines on the cuts (silence before it)"))
    prov["sections"] = Provenance(source="video", reason=(
        f"{len(sections)} sections from {len(scenes)} scenes; scenes shorter than {MIN_SECTION_BARS} bars "
        "join their neighbour"))
    prov["cues"] = Provenance(source="video", reason=(
        f"{len(cues)} cues on the cuts: {sum(c.kind == 'section' for c in cues)} section changes, "
        f"{sum(c.kind == 'accent' for c in cues)} accents; residual {fit.residual_ms:.1f} ms"))
    scoring = {"tempo_bpm": fit.tempo_bpm, "downbeat_s": fit.downbeat_s, "residual_ms": fit.residual_ms,
               "target_ms": TARGET_RESIDUAL_MS, "cuts_s": [round(t, 4) for t in boundaries],
               "beats_s": list(fit.beats_s), "distances_ms": list(fit.distances_ms),
               "search_bpm": [round(lo, 2), round(hi, 2)]}
    observations = []
    for obs in brief.observations:
        if obs.source == "video" and "scoring" not in obs.measurements:
            obs = obs.model_copy(update={"measurements": {**obs.measurements, "scoring": scoring}})
        observations.append(obs)
    data = brief.to_dict()
    data.update(tempo_bpm=fit.tempo_bpm, downbeat_s=fit.downbeat_s,
                sections=[s.model_dump() for s in sections], cues=[c.model_dump() for c in cues],
                observations=[o.model_dump() for o in observations],
                provenance={k: v.model_dump() for k, v in sorted(prov.items())})
    scored = MusicBrief.from_dict(data, origin="scored brief")
    from weavewave.bridge import write_caption

    if scored.provenance.get("caption", Provenance(source="default", reason="")).source == "default":
        rest = brief.caption.split(". ", 1)[1] if ". " in brief.caption else ""
        scored.caption = write_caption(scored) + (f" {rest}" if rest else "")
    return scored


def _sections(scenes: list[dict[str, Any]], fit: Fit, bar: float, duration: float,
              brief: MusicBrief) -> list[Section]:
    """One section per scene, starting on the bar line at its cut; short scenes join the previous one."""
    if not scenes:
        return list(brief.sections)
    downbeat = fit.downbeat_s
    total_bars = max(1, int(round((duration - downbeat) / bar)))
    mean_energy = float(np.mean([s["energy"] for s in scenes]))
    starts: list[tuple[int, dict[str, Any]]] = [(0, scenes[0])]
    for s in scenes[1:]:
        m = int(round((s["start_s"] - downbeat) / bar))
        if m - starts[-1][0] < MIN_SECTION_BARS or total_bars - m < 1:
            continue
        starts.append((m, s))
    # the last section must be long enough too
    while len(starts) > 1 and total_bars - starts[-1][0] < MIN_SECTION_BARS:
        starts.pop()
    style = GENRES[brief.genre]
    seen: dict[str, int] = {}
    out: list[Section] = []
    for k, (m, s) in enumerate(starts):
        start = 0.0 if k == 0 else round(downbeat + m * bar, 4)
        end = duration if k == len(starts) - 1 else round(downbeat + starts[k + 1][0] * bar, 4)
        theme = str(s.get("theme", "A"))
        label = theme + "'" * seen.get(theme, 0)
        seen[theme] = seen.get(theme, 0) + 1
        energy = round(min(1.0, max(0.1, brief.energy + SECTION_ENERGY_SPREAD * (s["energy"] - mean_energy))), 3)
        caption = (f"{style.description.capitalize()}, {energy_word(energy)} energy: scored to "
                   f"{s.get('caption', 'a scene')} from {s['start_s']:.2f} s.")
        out.append(Section(start_s=start, end_s=end, label=label, energy=energy, caption=caption))
    return out

"""Scoring to picture: a fused brief rewritten to a video's timeline.

:func:`score_brief` writes the tempo map of :mod:`weavewave.bridge.tempomap` into a fused brief: the tempo,
``downbeat_s``, ``warp`` (the tempo map), one section per scene (or group of short scenes) with its own
energy and caption, and a cue on every cut: ``section`` where a section starts (the kit fills into it and
crashes), ``accent`` elsewhere (crash and kick), on the grid when the cut is within
:data:`~weavewave.bridge.tempomap.ON_BEAT_S` of it, else on the cut itself. The cut list, the beat each cut
landed on and the residual are kept in the video observation under ``scoring`` and in the provenance.
A tempo the user set (provenance ``user``) is kept: only the downbeat is placed.
"""

from __future__ import annotations

import numpy as np

from weavewave.bridge.caption import rederive
from weavewave.bridge.fixed import is_fixed
from weavewave.bridge.tempomap import (
    MAX_BEND,
    MIN_SECTION_BARS,
    ON_BEAT_S,
    TARGET_RESIDUAL_MS,
    Timeline,
    best_timeline,
)
from weavewave.brief import Cue, CueKind, MusicBrief, Provenance, Section
from weavewave.music.form import energy_word
from weavewave.music.styles import GENRES
from weavewave.perceive import VideoTimeline

MAJOR_SCENE_S = 2.0  # a cut starting a scene at least this long is major: it must land on a strong beat
MIN_SEARCH_WIDTH_BPM = 12.0
SECTION_ENERGY_SPREAD = 1.5  # how strongly scene energy differences show in section energy


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


def score_brief(brief: MusicBrief, video: VideoTimeline) -> MusicBrief:
    """Rewrite a fused brief to the picture: tempo, downbeat, tempo map, one section per scene, cues.

    Parameters
    ----------
    brief : the fused brief (its duration is the video's unless the user set one). A tempo the user set
        (provenance ``user``) is kept: only the downbeat is placed, with no tempo map.
    video : the video's timeline (:attr:`weavewave.perceive.VideoPerception.timeline`).
    """
    duration = brief.duration_s
    tempo_fixed = is_fixed(brief, "tempo_bpm")
    boundaries = [t for t in video.boundaries if 0 < t < duration]
    scenes = [dict(s) for s in video.scenes if s["start_s"] < duration]
    lo, hi = search_range(brief, video.tempo_range)
    major = [s["start_s"] for s in scenes[1:] if s["end_s"] - s["start_s"] >= MAJOR_SCENE_S]
    tl = best_timeline(boundaries, scenes, major, brief.meter, (lo, hi), duration, preferred_bpm=brief.tempo_bpm,
                       fixed_tempo=brief.tempo_bpm if tempo_fixed else None)  # fmt: skip
    sections = _sections(tl, brief)
    cues, cue_ms = _cues(boundaries, tl, sections, duration)
    prov = _provenance(brief, tl, (lo, hi), len(boundaries), sections, len(scenes), cues, cue_ms, tempo_fixed)
    scoring = {
        "tempo_bpm": tl.tempo_bpm,
        "downbeat_s": tl.downbeat_s,
        "residual_ms": tl.residual_ms,
        "target_ms": TARGET_RESIDUAL_MS,
        "cuts_s": [round(t, 4) for t in boundaries],
        "beats_s": tl.beats_s,
        "distances_ms": tl.distances_ms,
        "cues_off_beat": _off_beat(cues),
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
    score, real = tl.warp()
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
    return rederive(MusicBrief.from_dict(data, origin="scored brief"))


def _cues(
    boundaries: list[float], tl: Timeline, sections: list[Section], duration: float
) -> tuple[list[Cue], list[float]]:
    """A cue on every cut (on its beat, or on the cut itself when off the beat), and each cut-to-cue
    distance in milliseconds."""
    section_starts = {round(s.start_s, 4) for s in sections[1:]}
    cues = []
    for t, b in zip(boundaries, tl.beats_s, strict=True):
        if abs(b - t) <= ON_BEAT_S + 1e-9 and b < duration:
            kind: CueKind = "section" if round(b, 4) in section_starts else "accent"
            cues.append(Cue(time_s=b, kind=kind, label=f"cut at {t:.3f} s"))
        else:  # off the beat: the hit goes on the cut itself, not on the beat near it
            cues.append(Cue(time_s=round(t, 4), kind="accent", label=f"cut at {t:.3f} s, off the beat"))
    cue_ms = [round(abs(c.time_s - t) * 1000, 1) for c, t in zip(cues, boundaries, strict=True)]
    return list({c.time_s: c for c in cues}.values()), cue_ms


def _off_beat(cues: list[Cue]) -> int:
    return sum(c.label.endswith("off the beat") for c in cues)


def _provenance(
    brief: MusicBrief,
    tl: Timeline,
    searched: tuple[float, float],
    n_cuts: int,
    sections: list[Section],
    n_scenes: int,
    cues: list[Cue],
    cue_ms: list[float],
    tempo_fixed: bool,
) -> dict[str, Provenance]:
    """The brief's provenance with what scoring to the picture decided, and why."""
    prov = dict(brief.provenance)
    residual = tl.residual_ms
    if not tempo_fixed:
        verdict = "within" if residual <= TARGET_RESIDUAL_MS else "above"
        pinned = sum(p for _, _, p in tl.sections[1:])
        prov["tempo_bpm"] = Provenance(
            source="video",
            reason=(
                f"tempo {tl.tempo_bpm:g}: searched {searched[0]:g}-{searched[1]:g} BPM and the first downbeat "
                f"so the video's {n_cuts} cuts land on beats; {pinned} section changes and "
                f"{max(0, len(tl.knots) - pinned - (tl.downbeat_s > 0))} other cuts pinned by bending the tempo "
                f"at most {max([abs(b) for b in tl.bends], default=0.0):.1%}; median cut-to-beat "
                f"distance {residual:.1f} ms ({verdict} the {TARGET_RESIDUAL_MS:g} ms target)"
            ),
        )
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
            f"{len(sections)} sections from {n_scenes} scenes; a scene shorter than {MIN_SECTION_BARS} bars "
            "joins the section before it (its cut keeps an accent)"
        ),
    )
    prov["cues"] = Provenance(
        source="video",
        reason=(
            f"{len(cues)} cues on the cuts: {sum(c.kind == 'section' for c in cues)} section changes, "
            f"{sum(c.kind == 'accent' for c in cues)} accents ({_off_beat(cues)} off the beat, on the cut "
            f"itself, {tl.off_grid} of them off the sixteenth grid too); "
            f"largest cut-to-cue distance {max(cue_ms, default=0.0):.1f} ms; residual {residual:.1f} ms"
        ),
    )
    return prov


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

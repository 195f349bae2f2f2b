"""The analytic video perceiver: scenes, cuts, motion, colour and pace, mapped to musical proposals.

Offline, CPU, no weights. The video is decoded once with PyAV (opened by :mod:`weavewave.io.video`), as a
stream: every frame (up to :data:`MAX_ANALYSIS_FPS` a second) is scaled down in FFmpeg's scaler to a
small analysis picture, a few numbers are kept from it, and the picture is dropped. Memory stays flat
however long the video is: only per-frame scalars (a few floats) and at most :data:`KEYFRAMES_PER_SCENE`
key-frame candidates for the scene being read are held.

- **Hard cuts**: the distance between consecutive frames' HSV histograms, against an adaptive
  threshold (the median plus a multiple of the median absolute deviation of the last
  :data:`THRESHOLD_WINDOW_S` seconds, never below :data:`CUT_MIN_DISTANCE`). The cut time is the
  presentation time of the first frame of the new shot, so variable frame rates are handled.
- **Fades** through black: a run of near-black frames inside the video (entered and left by luminance
  ramps, or by cuts to and from black); the boundary is the darkest frame of the run. Frames that
  continue a luminance ramp are never hard cuts.
- **Cross-dissolves**: a run of frames that are each close to a linear mix ``(1 - a) A + a B`` of the
  frames either side, with ``a`` climbing like a ramp and the ends clearly different pictures (see
  :class:`DissolveFinder`); the boundary is where ``a`` crosses one half. Only a ring buffer of the
  last :data:`DISSOLVE_MAX_S` seconds of tiny lumas is held.
- **Per scene**: motion energy (mean absolute luminance change between consecutive frames), brightness,
  colour, and a key frame (the candidate nearest the scene's middle) measured with the image perceiver's
  :func:`weavewave.perceive.image.measure` and mapped with its :func:`~weavewave.perceive.image.propose`.
- **Whole video**: cuts per minute, mean motion, and an energy curve (one value a second).
- **Source sound**, when there is an audio track: RMS level, a loudness curve and onset density, as an
  observation and a weak energy proposal.

Rotation metadata (phone videos) is honoured for the key frames. The proposals are tempo range from
pace, mood from the key frames and motion, energy, genre hints, and one section per scene; see
``docs/PERCEPTION.md``.

The work lives in the modules of this package: ``analysis`` (the decoding scan, scenes,
:func:`analyse_video`), ``boundaries`` (cuts, fades, dissolves), ``audio`` (the video's own sound) and
``scene`` (the :class:`Scene` and :class:`VideoAnalysis` records); this module maps an analysis to
musical proposals.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from weavewave.brief import MAX_DURATION_S, Observation
from weavewave.perceive import Proposal, VideoPerception, VideoTimeline
from weavewave.perceive.video.analysis import MOTION_SCALE, analyse_video
from weavewave.perceive.video.scene import Scene, VideoAnalysis

__all__ = [
    "Scene",
    "VideoAnalysis",
    "analyse_video",
    "perceive_video",
    "video_perception",
]

# --- mapping to music -------------------------------------------------------------------------------
PACE_TEMPO = ((0.0, 70.0), (6.0, 90.0), (15.0, 112.0), (30.0, 128.0), (60.0, 140.0))  # cuts/min -> BPM
TEMPO_HALF_RANGE = 14.0  # BPM either side of the pace's tempo the scorer may search


def _interp(table: tuple[tuple[float, float], ...], x: float) -> float:
    xs, ys = zip(*table, strict=True)
    return float(np.interp(x, xs, ys))


def perceive_video(path: str | Path) -> VideoPerception:
    """Perceive a video: scenes and cuts, motion, colour and pace, proposed as brief attributes.

    Returns a :class:`~weavewave.perceive.VideoPerception` (source ``"video"``) whose ``timeline`` is what
    the bridge scores to, whose observation holds the cut list and one entry per scene, and whose proposals include ``duration_s`` (the video's length,
    confidence 1: by default the music is as long as the picture), ``tempo_range`` (from the pace),
    ``valence``, ``arousal``, ``energy``, ``genre``, ``mood_tags``, ``caption_hint`` and ``scenes``
    (the per-scene plan the bridge turns into sections).
    """
    return video_perception(analyse_video(path))


def video_perception(a: VideoAnalysis) -> VideoPerception:
    """The proposals and observation for an analysed video (see :func:`perceive_video`)."""
    from weavewave.perceive.image import propose

    keyed = [s for s in a.scenes if s.keyframe]
    weights = np.asarray([s.duration_s for s in keyed]) if keyed else np.ones(0)
    image_props = [propose(s.keyframe) for s in keyed]

    def weighted(attr: str) -> float | None:
        if not image_props:
            return None
        vals = np.asarray([float(pp[attr].value) for pp in image_props])
        return float(np.average(vals, weights=weights))

    pace = a.cuts_per_minute
    motion = min(1.0, a.motion / MOTION_SCALE)
    energy = float(np.average([s.energy for s in a.scenes], weights=[s.duration_s for s in a.scenes]))
    image_arousal = weighted("arousal")
    arousal = (0.6 * (2 * energy - 1) + 0.4 * image_arousal) if image_arousal is not None else 2 * energy - 1
    valence = weighted("valence")
    tempo_mid = _interp(PACE_TEMPO, pace)
    tempo_mid += 10.0 * (motion - 0.5)
    lo, hi = max(40.0, tempo_mid - TEMPO_HALF_RANGE), min(200.0, tempo_mid + TEMPO_HALF_RANGE)

    why_pace = f"{len(a.boundaries)} cuts in {a.duration_s:.1f} s ({pace:.1f} a minute), motion {motion:.2f}"
    proposals: dict[str, Proposal] = {
        "duration_s": Proposal(
            round(min(a.duration_s, MAX_DURATION_S), 3),
            1.0,
            f"duration {min(a.duration_s, MAX_DURATION_S):.2f} s: as long as the video"
            + (f" (capped at {MAX_DURATION_S:g} s)" if a.duration_s > MAX_DURATION_S else ""),
        ),
        "tempo_range": Proposal(
            (round(lo, 1), round(hi, 1)), 0.8, f"tempo {lo:.0f}-{hi:.0f} BPM: {why_pace}"
        ),
        "arousal": Proposal(
            round(max(-1.0, min(1.0, arousal)), 3),
            0.7,
            f"arousal {arousal:+.2f}: energy {energy:.2f} from motion and cutting pace"
            + (f", key frames {image_arousal:+.2f}" if image_arousal is not None else ""),
        ),
        "energy": Proposal(round(energy, 3), 0.7, f"energy {energy:.2f}: {why_pace}"),
    }
    if valence is not None:
        proposals["valence"] = Proposal(
            round(valence, 3), 0.6, f"valence {valence:+.2f}: colour and light of {len(keyed)} key frames"
        )
    genre, genre_why = _genre_hint(pace, motion, valence if valence is not None else 0.0)
    proposals["genre"] = Proposal(genre, 0.4, f"genre {genre}: {genre_why}")
    tags = _tags(pace, motion, a)
    if tags:
        proposals["mood_tags"] = Proposal(tags, 0.5, f"mood tags {', '.join(tags)}: {why_pace}")
    hint = _caption_hint(a)
    proposals["caption_hint"] = Proposal(hint, 0.6, "caption from the scene count, pace and motion")
    proposals["scenes"] = Proposal(
        [_scene_plan(s) for s in a.scenes],
        1.0,
        f"{len(a.scenes)} scenes: sections follow the video's cuts, fades and dissolves",
    )

    measurements: dict[str, Any] = {
        "duration_s": round(a.duration_s, 3),
        "width": a.width,
        "height": a.height,
        "rotation": a.rotation,
        "frame_rate": round(a.frame_rate, 3),
        "frames_analysed": a.frames,
        "variable_frame_rate": a.variable_frame_rate,
        "cuts_s": [round(t, 3) for t in a.cuts],
        "fades_s": [round(t, 3) for t in a.fades],
        "dissolves_s": [round(t, 3) for t in a.dissolves],
        "cuts_per_minute": round(pace, 2),
        "motion": round(motion, 3),
        "energy_curve": a.energy_curve,
        "scenes": [_scene_observation(s) for s in a.scenes],
    }
    if a.audio is not None:
        measurements["source_audio"] = a.audio
    summary = (
        f"{a.width}x{a.height} video, {a.duration_s:.1f} s, {len(a.scenes)} scenes ({len(a.cuts)} cuts, "
        f"{len(a.fades)} fades, {len(a.dissolves)} dissolves), {pace:.1f} cuts/min"
        f", motion {motion:.2f} -> energy {energy:.2f}"
    )
    if a.audio is not None:
        summary += f"; source sound {a.audio['rms_dbfs']:.0f} dBFS, {a.audio['onsets_per_s']:.1f} onsets/s"
    observation = Observation(source="video", input=a.path.name, summary=summary, measurements=measurements)
    timeline = VideoTimeline(
        duration_s=measurements["duration_s"],
        cuts_s=tuple(measurements["cuts_s"]),
        fades_s=tuple(measurements["fades_s"]),
        dissolves_s=tuple(measurements["dissolves_s"]),
        scenes=tuple(measurements["scenes"]),
        tempo_range=proposals["tempo_range"].value,
    )
    return VideoPerception(observation=observation, proposals=proposals, timeline=timeline)


def _genre_hint(pace: float, motion: float, valence: float) -> tuple[str, str]:
    if pace >= 20 or motion >= 0.7:
        return ("electronic" if valence >= 0 else "cinematic"), "fast cutting and strong motion"
    if pace <= 4 and motion < 0.25:
        return "ambient", "long, still shots"
    return ("pop" if valence >= 0.1 else "cinematic"), "moderate cutting pace"


def _tags(pace: float, motion: float, a: VideoAnalysis) -> list[str]:
    tags = []
    if pace >= 20:
        tags.append("driving")
    elif pace <= 4:
        tags.append("contemplative")
    if motion >= 0.6:
        tags.append("kinetic")
    elif motion < 0.15:
        tags.append("still")
    if a.fades or a.dissolves:
        tags.append("dreamy")
    return tags


def _caption_hint(a: VideoAnalysis) -> str:
    pace = "fast-cut" if a.cuts_per_minute >= 20 else "slow" if a.cuts_per_minute <= 4 else "steadily cut"
    return f"scored to a {pace} video of {len(a.scenes)} scene{'s' * (len(a.scenes) != 1)}"


def _scene_plan(s: Scene) -> dict[str, Any]:
    return {
        "start_s": round(s.start_s, 4),
        "end_s": round(s.end_s, 4),
        "boundary": s.boundary,
        "energy": s.energy,
        "theme": s.theme,
        "caption": _scene_caption(s),
    }


def _scene_caption(s: Scene) -> str:
    from weavewave.perceive.image import hue_name

    light = "dark" if s.brightness < 0.3 else "bright" if s.brightness > 0.65 else "softly lit"
    move = (
        "still"
        if s.motion < 0.15 * MOTION_SCALE
        else "moving"
        if s.motion < 0.6 * MOTION_SCALE
        else "fast-moving"
    )
    hue = hue_name(s.keyframe.get("dominant_hue_deg", -1.0)) if s.keyframe else "grey"
    return f"a {light}, {move} shot in {hue} tones"


def _scene_observation(s: Scene) -> dict[str, Any]:
    out: dict[str, Any] = {
        "start_s": round(s.start_s, 3),
        "end_s": round(s.end_s, 3),
        "boundary": s.boundary,
        "motion": round(min(1.0, s.motion / MOTION_SCALE), 3),
        "brightness": round(s.brightness, 3),
        "saturation": round(s.saturation, 3),
        "energy": s.energy,
        "theme": s.theme,
        "caption": _scene_caption(s),
    }
    if s.keyframe:
        out["keyframe"] = {
            k: round(v, 3)
            for k, v in s.keyframe.items()
            if k
            in (
                "brightness",
                "saturation",
                "colourfulness",
                "warmth",
                "dominant_hue_deg",
                "contrast",
                "edge_density",
            )
        }
    return out

"""The decoding scan: one pass over the frames, measured into scenes and a :class:`VideoAnalysis`.

Every frame (up to :data:`MAX_ANALYSIS_FPS` a second) is scaled down in FFmpeg's scaler to a small
analysis picture, a few numbers are kept from it, and the picture is dropped; at most
:data:`KEYFRAMES_PER_SCENE` key-frame candidates are held for the scene being read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from weavewave.errors import BadInputError
from weavewave.io.video import (
    LIMIT_ENV,
    MIN_VIDEO_S,
    check_video,
    display_rotation,
    open_video,
    picture_streams,
    require_av,
    short_reason,
    small_rgb,
    video_limit_s,
)
from weavewave.perceive.video.audio import measure_audio
from weavewave.perceive.video.boundaries import (
    BLACK_SPREAD,
    DISSOLVE_MAX_S,
    EDGE_GUARD_S,
    MIN_SCENE_S,
    DissolveFinder,
    FrameStats,
    cuts_into_fades,
    drop_near,
    fade_boundaries,
    is_black,
    is_cut,
    split_at_fades,
)
from weavewave.perceive.video.scene import Scene, VideoAnalysis

# --- decoding ---------------------------------------------------------------------------------------
MAX_ANALYSIS_FPS = 60.0  # at most one frame per 1/60 s slot is analysed (all are decoded: codecs need it)
ANALYSIS_WIDTH = 64  # px; the analysis picture (cuts, motion, colour)
KEYFRAME_SIDE = 320  # px, longest side of key frames given to the image perceiver
KEYFRAMES_PER_SCENE = 6  # candidates kept for the current scene (decimated as it grows)
KEYFRAME_FIRST_STEP = 8  # frames between candidates at the start of a scene (the step doubles as it grows)
HIST_BINS = (12, 4, 4)  # hue, saturation, value

# --- scene scoring ----------------------------------------------------------------------------------
MOTION_SCALE = 0.06  # mean absolute luminance change per frame that counts as "a lot of motion"
MOTION_WEIGHT, PACE_WEIGHT, BRIGHT_WEIGHT = 0.5, 0.3, 0.2  # scene energy
PACE_FULL = 40.0  # cuts per minute that count as the fastest pace
SIMILAR_SCENE = 0.35  # half-L1 distance between scene colour histograms under which scenes share a theme


def _hsv_histogram(rgb: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Normalised HSV histogram [shape=(prod(HIST_BINS),)], mean saturation and mean value of uint8 RGB."""
    x = rgb.reshape(-1, 3).astype(np.float32) * np.float32(1 / 255)
    mx = x.max(axis=1)
    mn = x.min(axis=1)
    delta = mx - mn
    sat = np.where(mx > 1e-6, delta / np.maximum(mx, 1e-6), 0.0)
    r, g, b = x[:, 0], x[:, 1], x[:, 2]
    safe = np.maximum(delta, 1e-6)
    hue = np.where(
        mx == r, ((g - b) / safe) % 6.0, np.where(mx == g, (b - r) / safe + 2.0, (r - g) / safe + 4.0)
    )
    hue = np.where(delta > 1e-6, hue / 6.0, 0.0)
    hb, sb, vb = HIST_BINS
    idx = (
        np.minimum((hue * hb).astype(np.int32), hb - 1) * sb + np.minimum((sat * sb).astype(np.int32), sb - 1)
    ) * vb + np.minimum((mx * vb).astype(np.int32), vb - 1)
    hist = np.bincount(idx, minlength=hb * sb * vb).astype(np.float32)
    hist /= max(float(hist.sum()), 1.0)
    return hist, float(sat.mean()), float(mx.mean())


def _luma(rgb: np.ndarray) -> np.ndarray:
    x = rgb.astype(np.float32)
    return (0.2126 * x[..., 0] + 0.7152 * x[..., 1] + 0.0722 * x[..., 2]) * np.float32(1 / 255)


@dataclass
class _SceneBuilder:
    """Accumulates one scene while it is decoded: sums, a colour histogram, and decimated key frames."""

    start_s: float
    boundary: str
    first_frame: int
    hist_sum: np.ndarray
    frames: int = 0
    motion_sum: float = 0.0
    motion_frames: int = 0
    luma_sum: float = 0.0
    sat_sum: float = 0.0
    step: int = KEYFRAME_FIRST_STEP
    candidates: list[tuple[float, np.ndarray]] = field(default_factory=list)

    def wants_keyframe(self) -> bool:
        return self.frames % self.step == 0

    def add_keyframe(self, t: float, rgb: np.ndarray) -> None:
        self.candidates.append((t, rgb))
        if len(self.candidates) > KEYFRAMES_PER_SCENE:
            self.candidates = self.candidates[::2]
            self.step *= 2


@dataclass
class _Scan:
    """What the decoding loop of :func:`analyse_video` carries from one frame to the next."""

    p: Path
    aw: int  # analysis frame size
    ah: int
    kw: int  # keyframe size
    kh: int
    limit: float  # the longest video accepted (s)
    dissolves: DissolveFinder
    stats: FrameStats = field(default_factory=FrameStats)
    scenes: list[Scene] = field(default_factory=list)
    rotation: int = 0
    builder: _SceneBuilder | None = None
    prev_luma: np.ndarray | None = None
    prev_hist: np.ndarray | None = None
    last_slot: int = -1
    last_cut: float = -math.inf
    barrier: int = 0  # windows for the dissolve finder start at or after the last cut or black frame


def analyse_video(path: str | Path, *, with_audio: bool = True) -> VideoAnalysis:
    """Decode a video once and measure its scenes, cuts, fades, dissolves, motion, colour and pace.

    Parameters
    ----------
    path : str or Path
        Any video FFmpeg reads (MP4, MOV, MKV, WebM, ...). Variable frame rate and rotated videos work.
    with_audio : bool
        Also measure the source audio track, if there is one.

    Returns
    -------
    VideoAnalysis

    Raises
    ------
    BadInputError
        One line naming the file and what to do: missing, empty, corrupt or truncated, audio only, no
        decodable frame, or longer than :func:`video_limit_s`.
    """
    p = Path(path)
    av = require_av()
    container = open_video(p)
    try:
        info = check_video(container, p)
        stream = picture_streams(container)[0]
        stream.thread_type = "AUTO"
        scan = _start_scan(p, info, stream)
        _decode_frames(scan, container, stream, av)
        if scan.builder is None or not scan.stats.times:
            raise BadInputError(
                f"{p.name} has no decodable video frame: the file is corrupt, truncated or "
                "empty; re-export it and try again"
            )
        end_s = _end_time(scan.stats.times, info["duration_s"])
        if end_s < MIN_VIDEO_S:
            raise BadInputError(
                f"{p.name} holds only {end_s:.2f} s of pictures: pass a video at least {MIN_VIDEO_S:g} s long"
            )
        scan.scenes.append(_close_scene(scan.builder, len(scan.scenes), end_s, scan.rotation))
        audio = measure_audio(container, p) if with_audio and container.streams.audio else None
    finally:
        container.close()
    return _finish_analysis(scan, info, end_s, audio)


def _start_scan(p: Path, info: dict[str, Any], stream: Any) -> _Scan:
    """The analysis and keyframe sizes for this video, and an empty scan."""
    src_w, src_h = info["width"], info["height"]
    aw = ANALYSIS_WIDTH
    ah = max(2, int(round(aw * src_h / max(src_w, 1) / 2)) * 2)
    scale = KEYFRAME_SIDE / max(src_w, src_h)
    kw, kh = max(2, int(src_w * scale) // 2 * 2), max(2, int(src_h * scale) // 2 * 2)
    limit = video_limit_s()
    rate = float(stream.average_rate or stream.guessed_rate or 30.0)
    dissolves = DissolveFinder(
        int(math.ceil(DISSOLVE_MAX_S * min(rate, MAX_ANALYSIS_FPS))) + 1,
        (ah, aw),
        int(np.prod(HIST_BINS)),
    )
    return _Scan(p=p, aw=aw, ah=ah, kw=kw, kh=kh, limit=limit, dissolves=dissolves)


def _decode_frames(scan: _Scan, container: Any, stream: Any, av: Any) -> None:
    """Decode the picture stream once, at most ``MAX_ANALYSIS_FPS`` frames a second, into ``scan``."""
    p = scan.p
    try:
        for frame in container.decode(stream):
            if frame.time is None:
                continue
            t = float(frame.time)
            slot = int(t * MAX_ANALYSIS_FPS)
            if slot <= scan.last_slot:
                continue
            if t > scan.limit + 1.0:
                raise BadInputError(
                    f"{p.name} runs past the {scan.limit:g} s limit for --video: trim it, or raise "
                    f"the limit with the environment variable {LIMIT_ENV}=SECONDS"
                )
            scan.last_slot = slot
            if scan.builder is None:
                scan.rotation = display_rotation(stream, frame)
            _scan_frame(scan, frame, t)
    except av.FFmpegError as exc:
        if not scan.stats.times:
            raise BadInputError(
                f"cannot decode {p.name} ({short_reason(exc)}): the file is corrupt or truncated; "
                "re-export it and try again"
            ) from None


def _scan_frame(scan: _Scan, frame: Any, t: float) -> None:
    """Measure one frame at time ``t``: its statistics, a cut before it, motion, colour and keyframes."""
    stats = scan.stats
    small = small_rgb(frame, scan.aw, scan.ah)
    hist, sat, _value = _hsv_histogram(small)
    luma = _luma(small)
    i = len(stats.times)
    dist = 0.5 * float(np.abs(hist - scan.prev_hist).sum()) if scan.prev_hist is not None else 0.0
    change = float(np.abs(luma - scan.prev_luma).mean()) if scan.prev_luma is not None else 0.0
    stats.times.append(t)
    stats.hist_distance.append(dist)
    stats.pixel_change.append(change)
    stats.luma.append(float(luma.mean()))
    stats.luma_spread.append(float(luma.std()))
    stats.saturation.append(sat)
    builder = scan.builder
    if builder is None:
        builder = scan.builder = _SceneBuilder(t, "start", 0, np.zeros_like(hist))
    elif t - scan.last_cut >= MIN_SCENE_S and t - builder.start_s >= MIN_SCENE_S and is_cut(stats, i):
        scan.scenes.append(_close_scene(builder, len(scan.scenes), t, scan.rotation))
        builder = scan.builder = _SceneBuilder(t, "cut", i, np.zeros_like(hist))
        scan.last_cut = t
        scan.barrier = i
        change = 0.0  # the jump across a cut is not motion
    if is_black(stats, i):
        scan.barrier = i + 1
    scan.dissolves.push(i, luma, hist, scan.barrier)
    _accumulate(builder, hist, change, stats.luma[-1], sat)
    if builder.wants_keyframe() and stats.luma_spread[-1] > BLACK_SPREAD:
        key = frame.to_ndarray(width=scan.kw, height=scan.kh, format="rgb24", interpolation="BILINEAR")
        builder.add_keyframe(t, key)
    builder.frames += 1
    scan.prev_hist, scan.prev_luma = hist, luma


def _finish_analysis(
    scan: _Scan, info: dict[str, Any], end_s: float, audio: dict[str, Any] | None
) -> VideoAnalysis:
    """Find fades and dissolves in the frame statistics, split and score the scenes, and report."""
    stats = scan.stats
    times = np.asarray(stats.times)
    fades = fade_boundaries(times, np.asarray(stats.luma), np.asarray(stats.luma_spread), end_s)
    # A fade's ramps are blends with black: the fade detector owns them.
    blends = [
        t
        for t in drop_near(scan.dissolves.times(times), fades, DISSOLVE_MAX_S)
        if EDGE_GUARD_S < t < end_s - EDGE_GUARD_S
    ]
    scenes, fades = cuts_into_fades(scan.scenes, fades, times, np.asarray(stats.luma))
    scenes = split_at_fades(scenes, fades)
    scenes = split_at_fades(scenes, blends, kind="dissolve")
    _score_scenes(scenes, end_s)
    gaps = np.diff(times)
    vfr = bool(gaps.size > 2 and (gaps.max() - gaps.min()) > 0.25 * float(np.median(gaps)))
    return VideoAnalysis(
        path=scan.p,
        duration_s=end_s,
        width=info["width"],
        height=info["height"],
        rotation=scan.rotation,
        frame_rate=(len(times) - 1) / max(times[-1] - times[0], 1e-9) if len(times) > 1 else 0.0,
        frames=len(times),
        variable_frame_rate=vfr,
        cuts=[s.start_s for s in scenes if s.boundary == "cut"],
        fades=[s.start_s for s in scenes if s.boundary == "fade"],
        dissolves=[s.start_s for s in scenes if s.boundary == "dissolve"],
        scenes=scenes,
        energy_curve=_energy_curve(times, np.asarray(stats.pixel_change), scenes, end_s),
        motion=float(np.mean([s.motion for s in scenes])),
        audio=audio,
    )


def _end_time(times: list[float], duration: float | None) -> float:
    step = float(np.median(np.diff(times))) if len(times) > 1 else 1.0 / 25
    measured = times[-1] + step
    if duration is not None and abs(duration - measured) < 2 * step + 0.1:
        return float(duration)
    return float(measured)


def _accumulate(b: _SceneBuilder, hist: np.ndarray, change: float, luma: float, sat: float) -> None:
    b.hist_sum += hist
    b.luma_sum += luma
    b.sat_sum += sat
    if b.frames > 0:
        b.motion_sum += change
        b.motion_frames += 1


def _close_scene(b: _SceneBuilder, index: int, end_s: float, rotation: int) -> Scene:
    n = max(b.frames, 1)
    keyframe: dict[str, float] = {}
    if b.candidates:
        middle = 0.5 * (b.start_s + end_s)
        _, rgb = min(b.candidates, key=lambda c: abs(c[0] - middle))
        keyframe = _measure_keyframe(np.rot90(rgb, k=-(rotation // 90)) if rotation else rgb)
    return Scene(
        index=index,
        start_s=b.start_s,
        end_s=end_s,
        boundary=b.boundary,
        motion=b.motion_sum / max(b.motion_frames, 1),
        brightness=b.luma_sum / n,
        saturation=b.sat_sum / n,
        hue_histogram=b.hist_sum / n,
        keyframe=keyframe,
    )


def _measure_keyframe(rgb: np.ndarray) -> dict[str, float]:
    from weavewave.perceive.image import measure

    return measure(rgb.astype(np.float32) / np.float32(255))


def _score_scenes(scenes: list[Scene], duration: float) -> None:
    """Energy per scene (motion, local pace, brightness) and a theme letter shared by similar scenes."""
    themes: list[tuple[str, np.ndarray]] = []
    for s in scenes:
        local_pace = 60.0 / max(s.duration_s, 1.0)  # a short shot reads as a fast pace
        motion = min(1.0, s.motion / MOTION_SCALE)
        pace = min(1.0, local_pace / PACE_FULL)
        s.energy = round(
            min(1.0, max(0.05, MOTION_WEIGHT * motion + PACE_WEIGHT * pace + BRIGHT_WEIGHT * s.brightness)), 3
        )
        for letter, hist in themes:
            if 0.5 * float(np.abs(hist - s.hue_histogram).sum()) < SIMILAR_SCENE:
                s.theme = letter
                break
        else:
            s.theme = chr(ord("A") + min(len(themes), 25))
            themes.append((s.theme, s.hue_histogram))


def _energy_curve(times: np.ndarray, change: np.ndarray, scenes: list[Scene], end_s: float) -> list[float]:
    """One value a second (0..1): motion in that second, lifted where scenes are short."""
    n = max(1, int(math.ceil(end_s)))
    second = np.minimum((times // 1.0).astype(int), n - 1)
    motion = np.bincount(second, weights=change, minlength=n) / np.maximum(
        np.bincount(second, minlength=n), 1
    )
    curve = np.minimum(1.0, motion / MOTION_SCALE) * MOTION_WEIGHT / (MOTION_WEIGHT + PACE_WEIGHT)
    for s in scenes:
        lo, hi = int(s.start_s), min(n, int(math.ceil(s.end_s)))
        curve[lo:hi] += (
            PACE_WEIGHT / (MOTION_WEIGHT + PACE_WEIGHT) * min(1.0, 60.0 / max(s.duration_s, 1.0) / PACE_FULL)
        )
    return [round(float(v), 3) for v in np.clip(curve, 0.0, 1.0)]

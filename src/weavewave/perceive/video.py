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
  :class:`_DissolveFinder`); the boundary is where ``a`` crosses one half. Only a ring buffer of the
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
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from weavewave.brief import MAX_DURATION_S, Observation
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
from weavewave.perceive import Proposal, VideoPerception, VideoTimeline

__all__ = [
    "Scene",
    "VideoAnalysis",
    "analyse_video",
    "perceive_video",
    "video_perception",
]

# --- decoding ---------------------------------------------------------------------------------------
MAX_ANALYSIS_FPS = 60.0  # at most one frame per 1/60 s slot is analysed (all are decoded: codecs need it)
ANALYSIS_WIDTH = 64  # px; the analysis picture (cuts, motion, colour)
KEYFRAME_SIDE = 320  # px, longest side of key frames given to the image perceiver
KEYFRAMES_PER_SCENE = 6  # candidates kept for the current scene (decimated as it grows)
KEYFRAME_FIRST_STEP = 8  # frames between candidates at the start of a scene (the step doubles as it grows)
AUDIO_ANALYSIS_RATE = 16000

# --- cut detection ----------------------------------------------------------------------------------
HIST_BINS = (12, 4, 4)  # hue, saturation, value
CUT_MIN_DISTANCE = 0.30  # half-L1 histogram distance (0..1) below which nothing is a cut
CUT_MAD_FACTOR = 8.0  # a cut stands this many MADs above the recent median distance
CUT_PIXEL_MIN = 0.06  # and the mean absolute pixel change must be at least this (0..1)
THRESHOLD_WINDOW_S = 2.0
MIN_SCENE_S = 0.25  # a second cut closer than this to the last is a flash, not a new shot
BLACK_LUMA = 0.06  # mean luminance (0..1) under which a frame counts as black
BLACK_SPREAD = 0.05  # and its luminance standard deviation under this
RAMP_MIN_STEP = 0.008  # mean-luminance change per frame that counts as part of a fade
RAMP_SIMILAR = 0.3  # ... when the previous step was at least this share of the current one
EDGE_GUARD_S = 0.3  # boundaries this close to the start or end of the video are ignored
FADE_RAMP_MAX_S = (
    1.0  # a "cut" this close before (or after) a fade, on its luminance ramp, is the fade's edge
)

# --- dissolve detection -----------------------------------------------------------------------------
DISSOLVE_MAX_S = 2.0  # longest cross-dissolve looked for (the ring buffer of analysis lumas spans this)
DISSOLVE_MIN_STEPS = 4  # frames from the last of picture A to the first of picture B, at least
DISSOLVE_POOL = (
    4  # the mix test runs on 4x4-pixel block means: small motions blur away, a change of picture stays
)
DISSOLVE_MIN_HIST = 0.25  # half-L1 distance between the ends' colour histograms, at least: a new picture
DISSOLVE_MIN_CHANGE = 0.06  # mean absolute luminance change (0..1) between the two ends, at least
DISSOLVE_COHERENCE = 0.75  # end-to-end change over the sum of frame-to-frame changes: a blend goes one way
DISSOLVE_RESIDUAL = (
    0.30  # RMS distance of a middle frame from the best mix of the ends, over the ends' distance
)
DISSOLVE_ALPHA_SLACK = 0.2  # the mix weights may stray this far from a straight ramp

# --- mapping to music -------------------------------------------------------------------------------
PACE_TEMPO = ((0.0, 70.0), (6.0, 90.0), (15.0, 112.0), (30.0, 128.0), (60.0, 140.0))  # cuts/min -> BPM
TEMPO_HALF_RANGE = 14.0  # BPM either side of the pace's tempo the scorer may search
MOTION_SCALE = 0.06  # mean absolute luminance change per frame that counts as "a lot of motion"
MOTION_WEIGHT, PACE_WEIGHT, BRIGHT_WEIGHT = 0.5, 0.3, 0.2  # scene energy
PACE_FULL = 40.0  # cuts per minute that count as the fastest pace
SIMILAR_SCENE = 0.35  # half-L1 distance between scene colour histograms under which scenes share a theme


@dataclass
class Scene:
    """One shot (or run of shots joined by fades or dissolves), with its measurements."""

    index: int
    start_s: float
    end_s: float
    boundary: str  # how it starts: "start", "cut", "fade" or "dissolve"
    motion: float
    brightness: float
    saturation: float
    hue_histogram: np.ndarray = field(repr=False)
    keyframe: dict[str, float] = field(default_factory=dict, repr=False)
    energy: float = 0.5
    theme: str = "A"

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass
class VideoAnalysis:
    """What :func:`analyse_video` measured."""

    path: Path
    duration_s: float
    width: int
    height: int
    rotation: int
    frame_rate: float  # mean frames per second actually seen (VFR-safe)
    frames: int
    variable_frame_rate: bool
    cuts: list[float]  # hard-cut times (s)
    fades: list[float]  # fade boundary times (s)
    scenes: list[Scene]
    energy_curve: list[float]  # one value per second, 0..1
    motion: float
    audio: dict[str, Any] | None  # source sound measurements, or None without an audio track
    dissolves: list[float] = field(default_factory=list)  # cross-dissolve middle times (s)

    @property
    def boundaries(self) -> list[float]:
        return sorted(self.cuts + self.fades + self.dissolves)

    @property
    def cuts_per_minute(self) -> float:
        return 60.0 * len(self.boundaries) / max(self.duration_s, 1e-9)


# ======================================================================================================
# Per-frame measures
# ======================================================================================================
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
class _FrameStats:
    """Per-frame scalars for the whole video (a few floats a frame: flat enough for 10 minutes)."""

    times: list[float] = field(default_factory=list)
    hist_distance: list[float] = field(default_factory=list)
    pixel_change: list[float] = field(default_factory=list)
    luma: list[float] = field(default_factory=list)
    luma_spread: list[float] = field(default_factory=list)
    saturation: list[float] = field(default_factory=list)


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


class _DissolveFinder:
    """Finds cross-dissolves while the video streams past, from a ring buffer of analysis lumas.

    A dissolve from picture A to picture B shows every frame between them as a mix
    ``(1 - a) A + a B`` with ``a`` ramping from 0 to 1. At each new frame (a candidate B) the finder
    looks back over windows of up to :data:`DISSOLVE_MAX_S`: a window is a candidate when its ends
    differ clearly and the frame-to-frame changes add up coherently (a blend moves every pixel one way,
    motion does not); it is a dissolve when each middle frame is close to the best mix of the ends
    and the mix weights climb like a ramp. Pans and zooms fail the mix test; hard cuts fail the ramp;
    windows holding a cut or a black frame are not looked at (cuts and fades have their own detectors).
    Only the last ``capacity`` small lumas are held, so memory stays flat.
    """

    def __init__(self, capacity: int, shape: tuple[int, int], bins: int) -> None:
        self.capacity = capacity
        self.pool = DISSOLVE_POOL if min(shape) >= DISSOLVE_POOL else 1  # a very wide video: 2 rows
        self.rows, self.cols = shape[0] // self.pool, shape[1] // self.pool
        self.ring = np.zeros((capacity, self.rows * self.cols), np.float32)
        self.hists = np.zeros((capacity, bins), np.float32)
        self.steps = np.zeros(capacity, np.float32)  # mean absolute change from the frame before, pooled
        self.found: list[tuple[int, float, float]] = []  # (index of B, fractional index of a = 0.5, change)

    def push(self, i: int, luma: np.ndarray, hist: np.ndarray, barrier: int) -> None:
        """Add frame ``i``; ``barrier`` is the first index a window may start at (after a cut or black)."""
        p, r, c = self.pool, self.rows, self.cols
        pooled = luma[: r * p, : c * p].reshape(r, p, c, p).mean(axis=(1, 3)).reshape(-1)
        if i > 0:
            self.steps[i % self.capacity] = np.abs(pooled - self.ring[(i - 1) % self.capacity]).mean()
        self.ring[i % self.capacity] = pooled
        self.hists[i % self.capacity] = hist
        longest = min(self.capacity - 1, i - barrier)
        if longest < DISSOLVE_MIN_STEPS:
            return
        steps = np.arange(DISSOLVE_MIN_STEPS, longest + 1)
        b = self.ring[i % self.capacity]
        ends = self.ring[(i - steps) % self.capacity]
        direct = np.abs(ends - b).mean(axis=1)
        path = np.cumsum(self.steps[(i - np.arange(longest)) % self.capacity])[steps - 1]
        colour = 0.5 * np.abs(self.hists[(i - steps) % self.capacity] - hist).sum(axis=1)
        ok = (
            (direct >= DISSOLVE_MIN_CHANGE)
            & (direct >= DISSOLVE_COHERENCE * path)
            & (colour >= DISSOLVE_MIN_HIST)
        )
        for n in steps[ok][::-1]:  # longest first: the whole blend, not a piece of it
            middle = self._mix_middle(i, int(n))
            if middle is not None:
                self.found.append((i, middle, float(direct[n - DISSOLVE_MIN_STEPS])))
                return

    def _mix_middle(self, i: int, n: int) -> float | None:
        """Fractional frame index where a window's mix weight crosses 0.5, or None if it is no blend."""
        a = self.ring[(i - n) % self.capacity]
        d = self.ring[i % self.capacity] - a
        norm = float(d @ d)
        if norm <= 0.0:
            return None
        mids = self.ring[(i - n + np.arange(1, n)) % self.capacity] - a
        alpha = mids @ d / norm
        residual = np.sqrt(np.maximum((mids * mids).sum(axis=1) - alpha * alpha * norm, 0.0) / norm)
        ramp = np.arange(1, n) / n
        if residual.max() > DISSOLVE_RESIDUAL or np.abs(alpha - ramp).max() > DISSOLVE_ALPHA_SLACK:
            return None
        curve = np.concatenate([[0.0], np.maximum.accumulate(alpha), [1.0]])
        return float(i - n + np.interp(0.5, curve, np.arange(n + 1)))

    def times(self, times: np.ndarray) -> list[float]:
        """One time per dissolve: overlapping detections are one blend; the one with the biggest change wins."""
        out: list[float] = []
        group: list[tuple[int, float, float]] = []
        for hit in self.found:
            if group and hit[1] - group[-1][1] > self.capacity / 2:
                out.append(self._time(group, times))
                group = []
            group.append(hit)
        if group:
            out.append(self._time(group, times))
        return out

    @staticmethod
    def _time(group: list[tuple[int, float, float]], times: np.ndarray) -> float:
        _, middle, _ = max(group, key=lambda h: h[2])
        return float(np.interp(middle, np.arange(len(times)), times))


def _drop_near(times: list[float], others: list[float], gap: float) -> list[float]:
    return [t for t in times if all(abs(t - o) > gap for o in others)]


# ======================================================================================================
# Analysis
# ======================================================================================================
@dataclass
class _Scan:
    """What the decoding loop of :func:`analyse_video` carries from one frame to the next."""

    p: Path
    aw: int  # analysis frame size
    ah: int
    kw: int  # keyframe size
    kh: int
    limit: float  # the longest video accepted (s)
    dissolves: _DissolveFinder
    stats: _FrameStats = field(default_factory=_FrameStats)
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
        audio = _measure_audio(container, p) if with_audio and container.streams.audio else None
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
    dissolves = _DissolveFinder(
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
        # A truncated tail: keep what decoded, as players do.


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
    elif t - scan.last_cut >= MIN_SCENE_S and t - builder.start_s >= MIN_SCENE_S and _is_cut(stats, i):
        scan.scenes.append(_close_scene(builder, len(scan.scenes), t, scan.rotation))
        builder = scan.builder = _SceneBuilder(t, "cut", i, np.zeros_like(hist))
        scan.last_cut = t
        scan.barrier = i
        change = 0.0  # the jump across a cut is not motion
    if _is_black(stats, i):
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
    fades = _fade_boundaries(times, np.asarray(stats.luma), np.asarray(stats.luma_spread), end_s)
    # A fade's ramps are blends with black: the fade detector owns them.
    blends = [
        t
        for t in _drop_near(scan.dissolves.times(times), fades, DISSOLVE_MAX_S)
        if EDGE_GUARD_S < t < end_s - EDGE_GUARD_S
    ]
    scenes, fades = _cuts_into_fades(scan.scenes, fades, times, np.asarray(stats.luma))
    scenes = _split_at_fades(scenes, fades)
    scenes = _split_at_fades(scenes, blends, kind="dissolve")
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


def _is_cut(stats: _FrameStats, i: int) -> bool:
    """Hard cut at frame ``i``: a histogram jump far above the recent level, with a real pixel change."""
    d = stats.hist_distance[i]
    if d < CUT_MIN_DISTANCE or stats.pixel_change[i] < CUT_PIXEL_MIN:
        return False
    if _in_ramp(stats.luma, i) or _is_black(stats, i) or _is_black(stats, i - 1):
        return False  # fades and dips to black are found by _fade_boundaries
    t = stats.times[i]
    j = i - 1
    while j > 0 and t - stats.times[j] <= THRESHOLD_WINDOW_S:
        j -= 1
    recent = np.asarray(stats.hist_distance[j + 1 : i])
    if recent.size < 2:
        return True
    med = float(np.median(recent))
    mad = float(np.median(np.abs(recent - med))) + 0.01
    return d > med + CUT_MAD_FACTOR * mad


def _is_black(stats: _FrameStats, i: int) -> bool:
    return i >= 0 and stats.luma[i] < BLACK_LUMA and stats.luma_spread[i] < BLACK_SPREAD


def _in_ramp(luma: list[float], i: int) -> bool:
    """Frame ``i`` continues a luminance ramp (a fade): the step before moved the same way, comparably."""
    if i < 2:
        return False
    step, before = luma[i] - luma[i - 1], luma[i - 1] - luma[i - 2]
    return abs(before) > RAMP_MIN_STEP and step * before > 0 and abs(before) > RAMP_SIMILAR * abs(step)


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


def _fade_boundaries(times: np.ndarray, luma: np.ndarray, spread: np.ndarray, end_s: float) -> list[float]:
    """Middles of near-black runs entered and left by luminance ramps (fade out, fade in)."""
    black = (luma < BLACK_LUMA) & (spread < BLACK_SPREAD)
    out: list[float] = []
    i, n = 0, len(black)
    while i < n:
        if not black[i]:
            i += 1
            continue
        j = i
        while j + 1 < n and black[j + 1]:
            j += 1
        t_mid = 0.5 * (times[i] + times[j])
        # Any dip to black inside the video is a boundary: a fade (luminance ramps either side) or cuts
        # to and from black. Black at the very start or end is a fade in or out of the whole video.
        if EDGE_GUARD_S < t_mid < end_s - EDGE_GUARD_S and i > 0 and j < n - 1:
            # The darkest frame of the run is where the picture changes.
            k = i + int(np.argmin(luma[i : j + 1]))
            out.append(float(times[k]) if j > i else float(t_mid))
        i = j + 1
    return out


def _cuts_into_fades(
    scenes: list[Scene], fades: list[float], times: np.ndarray, luma: np.ndarray
) -> tuple[list[Scene], list[float]]:
    """A quick fade's first step down (or last step up) can jump like a cut. Such a "cut" on the fade's own
    luminance ramp is moved to the fade and becomes a fade boundary; left alone, it would sit a few frames
    early and hide the fade itself, which is too close to it to split the scene again."""
    left = list(fades)
    for k in range(1, len(scenes)):
        s = scenes[k]
        if s.boundary != "cut":
            continue
        for f in left:
            if abs(f - s.start_s) > FADE_RAMP_MAX_S or not scenes[k - 1].start_s < f < s.end_s:
                continue
            if _ramp_between(luma, int(np.searchsorted(times, s.start_s)), int(np.searchsorted(times, f))):
                scenes[k - 1].end_s, s.start_s, s.boundary = f, f, "fade"
                left.remove(f)
                break
    return scenes, left


def _ramp_between(luma: np.ndarray, cut: int, fade: int) -> bool:
    """Frames from just before ``cut`` down to black at ``fade`` (or up from black at ``fade`` to ``cut``)
    darken (brighten) at every step by at least :data:`RAMP_MIN_STEP`: a fade's ramp, not a shot."""
    if fade > cut:
        run = luma[max(cut - 1, 0) : fade + 1]
        dark = np.flatnonzero(run < BLACK_LUMA)
        run = run[: dark[0] + 1] if dark.size else run
        steps = -np.diff(run)
    else:
        run = luma[fade : cut + 1]
        dark = np.flatnonzero(run < BLACK_LUMA)
        run = run[dark[-1] :] if dark.size else run
        steps = np.diff(run)
    return bool(steps.size) and bool((steps >= RAMP_MIN_STEP).all())


def _split_at_fades(scenes: list[Scene], fades: list[float], kind: str = "fade") -> list[Scene]:
    """Scenes split at fade (or dissolve) boundaries; the halves keep the scene's measurements."""
    out: list[Scene] = []
    for s in scenes:
        inner = [f for f in fades if s.start_s + MIN_SCENE_S < f < s.end_s - MIN_SCENE_S]
        start, boundary = s.start_s, s.boundary
        for f in [*inner, s.end_s]:
            out.append(
                Scene(
                    index=0,
                    start_s=start,
                    end_s=f,
                    boundary=boundary,
                    motion=s.motion,
                    brightness=s.brightness,
                    saturation=s.saturation,
                    hue_histogram=s.hue_histogram,
                    keyframe=s.keyframe,
                )
            )
            start, boundary = f, kind
    for k, s in enumerate(out):
        s.index = k
    return out


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


# ======================================================================================================
# The source sound track
# ======================================================================================================
def _measure_audio(container: Any, p: Path) -> dict[str, Any] | None:
    """RMS level, a per-second level curve and onset density of the first audio track (mono, 16 kHz)."""
    av = require_av()
    stream = container.streams.audio[0]
    try:
        container.seek(0)
    except av.FFmpegError:
        return None
    resampler = av.AudioResampler(format="flt", layout="mono", rate=AUDIO_ANALYSIS_RATE)
    hop = AUDIO_ANALYSIS_RATE // 50  # 20 ms frames
    energies: list[float] = []
    carry = np.zeros(0, np.float32)
    try:
        for frame in container.decode(stream):
            for out in resampler.resample(frame):
                x = np.concatenate([carry, out.to_ndarray().reshape(-1)])
                n = len(x) // hop
                if n:
                    blocks = x[: n * hop].reshape(n, hop)
                    energies.extend(np.mean(blocks.astype(np.float64) ** 2, axis=1).tolist())
                carry = x[n * hop :]
    except av.FFmpegError:
        pass  # a damaged audio track is an optional observation: keep what decoded
    if not energies:
        return None
    e = np.asarray(energies)
    rms_db = 10 * math.log10(max(float(e.mean()), 1e-12))
    level_db = 10 * np.log10(np.maximum(e, 1e-12))
    per_second = [
        round(float(v), 1)
        for v in 10 * np.log10(np.maximum(np.add.reduceat(e, np.arange(0, len(e), 50)) / 50, 1e-12))
    ]
    # Onsets: rises of the 20 ms level by more than 6 dB above the previous 100 ms, at least 100 ms apart.
    onsets, last = 0, -10
    for k in range(5, len(level_db)):
        if level_db[k] > -50 and level_db[k] - level_db[k - 5 : k].mean() > 6.0 and k - last >= 5:
            onsets += 1
            last = k
    seconds = len(e) * hop / AUDIO_ANALYSIS_RATE
    return {
        "rms_dbfs": round(rms_db, 1),
        "onsets_per_s": round(onsets / max(seconds, 1e-9), 2),
        "level_curve_dbfs": per_second,
        "silent": rms_db < -60.0,
        "codec": stream.codec_context.name,
    }


# ======================================================================================================
# The perceiver
# ======================================================================================================
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

"""Where one shot ends and the next begins: hard cuts, fades through black and cross-dissolves.

Cuts are judged frame by frame while the video decodes (:func:`is_cut`); dissolves are found as it
streams past by :class:`DissolveFinder`; fades are read from the per-frame statistics once the video is
decoded (:func:`fade_boundaries`), and the scenes are then split at fades and dissolves.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from weavewave.perceive.video.scene import Scene

# --- cut detection ----------------------------------------------------------------------------------
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


@dataclass
class FrameStats:
    """Per-frame scalars for the whole video (a few floats a frame: flat enough for 10 minutes)."""

    times: list[float] = field(default_factory=list)
    hist_distance: list[float] = field(default_factory=list)
    pixel_change: list[float] = field(default_factory=list)
    luma: list[float] = field(default_factory=list)
    luma_spread: list[float] = field(default_factory=list)
    saturation: list[float] = field(default_factory=list)


class DissolveFinder:
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


def drop_near(times: list[float], others: list[float], gap: float) -> list[float]:
    return [t for t in times if all(abs(t - o) > gap for o in others)]


def is_cut(stats: FrameStats, i: int) -> bool:
    """Hard cut at frame ``i``: a histogram jump far above the recent level, with a real pixel change."""
    d = stats.hist_distance[i]
    if d < CUT_MIN_DISTANCE or stats.pixel_change[i] < CUT_PIXEL_MIN:
        return False
    if _in_ramp(stats.luma, i) or is_black(stats, i) or is_black(stats, i - 1):
        return False  # fades and dips to black are found by fade_boundaries
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


def is_black(stats: FrameStats, i: int) -> bool:
    return i >= 0 and stats.luma[i] < BLACK_LUMA and stats.luma_spread[i] < BLACK_SPREAD


def _in_ramp(luma: list[float], i: int) -> bool:
    """Frame ``i`` continues a luminance ramp (a fade): the step before moved the same way, comparably."""
    if i < 2:
        return False
    step, before = luma[i] - luma[i - 1], luma[i - 1] - luma[i - 2]
    return abs(before) > RAMP_MIN_STEP and step * before > 0 and abs(before) > RAMP_SIMILAR * abs(step)


def fade_boundaries(times: np.ndarray, luma: np.ndarray, spread: np.ndarray, end_s: float) -> list[float]:
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


def cuts_into_fades(
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


def split_at_fades(scenes: list[Scene], fades: list[float], kind: str = "fade") -> list[Scene]:
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

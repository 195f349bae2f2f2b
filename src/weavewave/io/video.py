"""Reading video, the one reader every part uses: opening and checking a file, its picture streams,
its display rotation, small analysis pictures of decoded frames, and evenly spread upright frames.

PyAV (the ``video`` extra) is imported only when a video is read. A missing, empty, corrupt,
audio-only, too short or too long file is a BadInputError that says what to do.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from weavewave._deps import require
from weavewave.brief import MAX_DURATION_S
from weavewave.errors import BadInputError

LIMIT_ENV = "WEAVEWAVE_MAX_VIDEO_S"
MIN_VIDEO_S = 1.0  # shorter than this is not a piece of music


def video_limit_s() -> float:
    """The longest video weavewave scores, in seconds: ``WEAVEWAVE_MAX_VIDEO_S`` or 600 (10 minutes)."""
    raw = os.environ.get(LIMIT_ENV)
    if raw is None:
        return MAX_DURATION_S
    try:
        value = float(raw)
    except ValueError:
        raise BadInputError(f"{LIMIT_ENV}={raw!r} is not a number of seconds: set it to e.g. 300") from None
    if not value > 0:
        raise BadInputError(f"{LIMIT_ENV}={raw!r} must be a positive number of seconds")
    return value


def require_av() -> Any:
    """PyAV, with FFmpeg's logging silenced. Raises MissingDependencyError naming the ``video`` extra."""
    av = require("av", "video", "video")
    av.logging.set_level(av.logging.PANIC)  # FFmpeg's own chatter would break the one-line errors
    return av


def open_video(path: Path) -> Any:
    """An open PyAV container for ``path``; BadInputError for a missing, empty or unreadable file."""
    av = require_av()
    if not path.exists():
        raise BadInputError(f"video file not found: {path}; check the path")
    if path.is_dir():
        raise BadInputError(f"{path} is a folder: pass a video file to --video")
    if path.stat().st_size == 0:
        raise BadInputError(f"{path} is empty (0 bytes): pass a video file such as an .mp4")
    try:
        return av.open(str(path))
    except (av.FFmpegError, OSError, UnicodeDecodeError, ValueError) as exc:
        raise BadInputError(
            f"cannot read {path.name} as a video ({short_reason(exc)}): the file is corrupt, truncated "
            "or not a video; pass an .mp4, .mov, .mkv or .webm file"
        ) from None


def short_reason(exc: BaseException) -> str:
    """The first line of an FFmpeg or OS error, without the file name, cut to 100 characters."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    text = text.split(": '", 1)[0]
    if text.startswith("[Errno"):
        text = text.split("] ", 1)[-1]
    return text[:100]


def display_rotation(stream: Any, frame: Any | None = None) -> int:
    """Clockwise rotation (0, 90, 180, 270) to apply so the picture shows upright."""
    angle: float | None = None
    if frame is not None and getattr(frame, "rotation", None) is not None:
        angle = float(frame.rotation)  # display-matrix side data: counter-clockwise degrees
    if angle is None or angle == 0:
        tag = stream.metadata.get("rotate") if stream.metadata else None
        if tag is not None:
            try:
                return int(round(float(tag))) % 360
            except ValueError:
                return 0
        if angle is None:
            return 0
    return int(round(-angle)) % 360


def probe_video(path: str | Path) -> dict[str, Any]:
    """Check a video is usable and return its basic facts, without decoding it.

    Raises BadInputError for a missing, empty, corrupt or audio-only file, or one over the length limit.
    Returns ``duration_s``, ``width``, ``height``, ``has_audio``.
    """
    p = Path(path)
    container = open_video(p)
    try:
        return check_video(container, p)
    finally:
        container.close()


def picture_streams(container: Any) -> list[Any]:
    """Video streams that are moving pictures (an MP3's cover art is an "attached picture" stream)."""
    av = require_av()
    attached = av.stream.Disposition.attached_pic
    return [s for s in container.streams.video if not (s.disposition & attached)]


def check_video(container: Any, p: Path) -> dict[str, Any]:
    """The checks and facts of :func:`probe_video` for an open container."""
    if not picture_streams(container):
        audio_only = bool(container.streams.audio)
        what = "an audio file with no picture" if audio_only else "no video stream"
        hint = "pass it with --audio instead" if audio_only else "pass a video file"
        raise BadInputError(f"{p.name} has {what}: {hint}")
    stream = picture_streams(container)[0]
    if stream.codec_context is None or not stream.codec_context.width:
        raise BadInputError(
            f"{p.name}: its video stream cannot be decoded; re-encode it (e.g. to H.264 .mp4)"
        )
    duration = _duration(container, stream)
    if duration is not None and duration <= 0:
        raise BadInputError(f"{p.name} has zero length: pass a video at least {MIN_VIDEO_S:g} s long")
    if duration is not None and duration < MIN_VIDEO_S:
        raise BadInputError(
            f"{p.name} is only {duration:.2f} s long (a still image?): pass a video at least "
            f"{MIN_VIDEO_S:g} s long"
        )
    limit = video_limit_s()
    if duration is not None and duration > limit:
        raise BadInputError(
            f"{p.name} is {duration:.1f} s long, over the {limit:g} s limit for --video: trim it, or raise the "
            f"limit with the environment variable {LIMIT_ENV}=SECONDS (the music itself is at most "
            f"{MAX_DURATION_S:g} s; set --duration for longer videos)"
        )
    return {
        "duration_s": duration,
        "width": int(stream.codec_context.width),
        "height": int(stream.codec_context.height),
        "has_audio": bool(container.streams.audio),
    }


def _duration(container: Any, stream: Any) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return float(container.duration) / 1_000_000.0
    return None


def _plane(plane: Any, rows: int, cols: int) -> np.ndarray:
    return np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[:rows, :cols]


def small_rgb(frame: Any, width: int, height: int) -> np.ndarray:
    """A ``height`` x ``width`` uint8 RGB picture of a decoded frame, cheaply.

    For 4:2:0 YUV (nearly every video) pixels are sampled straight from the decoder's planes and
    converted with the BT.601 matrix: about ten times faster than FFmpeg's scaler for a big reduction,
    and plenty for histograms and motion. Other formats go through the scaler.
    """
    fmt = frame.format.name
    if fmt not in ("yuv420p", "yuvj420p"):
        return frame.to_ndarray(width=width, height=height, format="rgb24", interpolation="BILINEAR")
    w, h = frame.width, frame.height
    rows = ((np.arange(height) + 0.5) * h / height).astype(np.intp)
    cols = ((np.arange(width) + 0.5) * w / width).astype(np.intp)
    y = _plane(frame.planes[0], h, w)[np.ix_(rows, cols)].astype(np.float32)
    cu, cv = (
        _plane(frame.planes[k], (h + 1) // 2, (w + 1) // 2)[np.ix_(rows // 2, cols // 2)] for k in (1, 2)
    )
    u, v = cu.astype(np.float32) - 128.0, cv.astype(np.float32) - 128.0
    if fmt == "yuv420p":  # limited ("TV") range
        y = (y - 16.0) * np.float32(255 / 219)
        u *= np.float32(255 / 224)
        v *= np.float32(255 / 224)
    rgb = np.stack([y + 1.402 * v, y - 0.344136 * u - 0.714136 * v, y + 1.772 * u], axis=-1)
    return np.clip(rgb, 0, 255).astype(np.uint8)


def upright(image: Any, rotation: int) -> Any:
    """A PIL image turned ``rotation`` degrees clockwise (0, 90, 180, 270)."""
    if not rotation:
        return image
    from PIL import Image

    turn = {90: Image.Transpose.ROTATE_270, 180: Image.Transpose.ROTATE_180, 270: Image.Transpose.ROTATE_90}
    return image.transpose(turn[rotation])  # PIL's ROTATE_n turns counter-clockwise


def sample_frames(path: str | Path, count: int, *, max_side: int) -> list[Any]:
    """``count`` upright frames spread evenly over a video, as RGB PIL images no larger than ``max_side``.

    Frame ``i`` is the first one shown at or after ``duration * (i + 0.5) / count``. The display rotation
    (a phone video held on its side) is applied, as for every other reader of the video.
    """
    av = require_av()
    p = Path(path)
    container = open_video(p)
    frames = []
    try:
        pictures = picture_streams(container)
        if not pictures:
            raise BadInputError(f"{p.name} has no video stream")
        stream = pictures[0]
        duration = _duration(container, stream) or 0.0
        times = [duration * (i + 0.5) / count for i in range(count)] if duration > 0 else [0.0]
        for t in times:
            container.seek(int(t / stream.time_base), stream=stream, any_frame=False, backward=True)
            for frame in container.decode(stream):
                if frame.time is None or frame.time >= t - 1e-3 or duration <= 0:
                    img = upright(frame.to_image(), display_rotation(stream, frame))
                    img.thumbnail((max_side, max_side))
                    frames.append(img)
                    break
    except av.FFmpegError as exc:
        raise BadInputError(f"cannot read video {p.name}: {short_reason(exc)}") from None
    finally:
        container.close()
    if not frames:
        raise BadInputError(f"no frames could be decoded from {p.name}")
    return frames

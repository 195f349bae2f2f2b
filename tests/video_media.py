"""Test videos built from scikit-image's real photographs, with cuts and fades at known times.

No real video ships in any package, so tests and benchmarks make their own: each shot is a slow pan and
zoom over one photograph, encoded with libx264 through PyAV. Shot lengths are whole frames, so the cut
times are exact. Used by ``tests/test_video.py`` and ``bench/bench_video.py``.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

PHOTOS = (
    "astronaut.png",
    "coffee.png",
    "chelsea.png",
    "rocket.jpg",
    "hubble_deep_field.jpg",
    "motorcycle_left.png",
    "retina.jpg",
    "grass.png",
)


@dataclass(frozen=True)
class Shot:
    photo: str
    frames: int
    zoom: float = 0.15  # how far the crop window zooms in over the shot (0 = a pure pan)
    pan: float = 0.3  # how far it travels across the photo, as a share of the free space


def photo(name: str) -> np.ndarray:
    """A photograph from scikit-image's data folder as uint8 RGB."""
    import skimage
    from PIL import Image

    path = Path(skimage.__file__).parent / "data" / name
    return np.asarray(Image.open(path).convert("RGB"))


def _shot_frames(shot: Shot, width: int, height: int):
    from PIL import Image

    img = Image.fromarray(photo(shot.photo))
    w, h = img.size
    aspect = width / height
    base_w = min(w, h * aspect)
    for k in range(shot.frames):
        u = k / max(shot.frames - 1, 1)
        cw = base_w * (1.0 - shot.zoom * u)
        ch = cw / aspect
        x0 = (w - cw) * (0.5 - shot.pan / 2 + shot.pan * u)
        y0 = (h - ch) * 0.5
        yield np.asarray(img.resize((width, height), Image.BILINEAR, box=(x0, y0, x0 + cw, y0 + ch)))


def make_video(
    path: Path,
    shots: Sequence[Shot],
    *,
    fps: int = 25,
    size: tuple[int, int] = (160, 120),
    fade_after: int | None = None,
    fade_frames: int = 6,
    dissolve_after: int | None = None,
    dissolve_frames: int = 15,
    vfr: bool = False,
    rotate: int = 0,
    audio_s: float | None = None,
    crf: int = 23,
    preset: str = "ultrafast",
) -> dict:
    """Write an H.264 MP4 and return the ground truth: ``cuts``, ``fades``, ``dissolves`` (s), ``duration``.

    ``fade_after``: index of a shot whose end fades to black and whose successor fades in (``fade_frames``
    each way, with one black frame between); that boundary is reported under ``fades``, the others under
    ``cuts``. ``dissolve_after``: index of a shot whose last ``dissolve_frames`` frames blend linearly into
    its successor's first ones (a cross-dissolve, the two shots overlapping); its middle is reported
    under ``dissolves``. ``vfr``: frame durations alternate between 0.6 and 1.4 of the nominal period. ``rotate``:
    90, 180 or 270 writes a display matrix (a phone video held on its side). ``audio_s``: add an AAC
    track (a pulsing tone) of that length.
    """
    import av

    width, height = size
    truth: dict = {"cuts": [], "fades": [], "dissolves": [], "times": []}
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": str(crf), "preset": preset, "tune": "fastdecode"}
        stream.codec_context.time_base = Fraction(1, 1000 * fps)
        astream = out.add_stream("aac", rate=48000, layout="stereo") if audio_s else None
        clock = [0.0, 0]  # time in frame periods, frames written

        def put(pic: np.ndarray) -> None:
            # frames are written as they are made: a long test video never sits in memory
            frame = av.VideoFrame.from_ndarray(pic, format="rgb24")
            frame.pts = int(round(clock[0] * 1000))
            frame.time_base = stream.codec_context.time_base
            truth["times"].append(clock[0] / fps)
            for packet in stream.encode(frame):
                out.mux(packet)
            clock[0] += _period(clock[1], vfr)
            clock[1] += 1

        held: list[np.ndarray] = []  # the outgoing shot's tail, while a dissolve is pending
        for i, shot in enumerate(shots):
            fade_in = fade_after is not None and i == fade_after + 1
            fade_out = fade_after is not None and i == fade_after
            dissolve_in = dissolve_after is not None and i == dissolve_after + 1
            dissolve_out = dissolve_after is not None and i == dissolve_after
            if fade_in:
                truth["fades"].append(clock[0] / fps)
                put(np.zeros((height, width, 3), np.uint8))
            elif i > 0 and not dissolve_in:
                truth["cuts"].append(clock[0] / fps)
            for k, pic in enumerate(_shot_frames(shot, width, height)):
                if dissolve_out and k >= shot.frames - dissolve_frames:
                    held.append(pic)
                    continue
                if dissolve_in and k < dissolve_frames:
                    a = (k + 1) / (dissolve_frames + 1)
                    pic = np.round((1 - a) * held[k].astype(np.float32) + a * pic.astype(np.float32)).astype(
                        np.uint8
                    )
                    if k == (dissolve_frames - 1) // 2:
                        # the middle: alpha 0.5, between two frames for an even length
                        middle = clock[0] + (0.5 if dissolve_frames % 2 == 0 else 0.0) * _period(
                            clock[1], vfr
                        )
                        truth["dissolves"].append(middle / fps)
                if fade_in and k < fade_frames:
                    pic = (pic.astype(np.float32) * (k + 1) / (fade_frames + 1)).astype(np.uint8)
                if fade_out and k >= shot.frames - fade_frames:
                    j = k - (shot.frames - fade_frames)
                    pic = (pic.astype(np.float32) * (fade_frames - j) / (fade_frames + 1)).astype(np.uint8)
                put(pic)
        for packet in stream.encode():
            out.mux(packet)
        if astream is not None:
            _write_tone(out, astream, audio_s)
    truth["duration"] = clock[0] / fps
    if rotate:
        _set_rotation(path, rotate)
    return truth


def _period(k: int, vfr: bool) -> float:
    return (0.6 if k % 2 == 0 else 1.4) if vfr else 1.0


def _write_tone(out, stream, seconds: float) -> None:
    import av

    rate = 48000
    n = int(seconds * rate)
    t = np.arange(n) / rate
    tone = (0.3 * np.sin(2 * np.pi * 220 * t) * (0.5 + 0.5 * (np.sin(2 * np.pi * 2 * t) > 0))).astype(
        np.float32
    )
    block = 1024
    for start in range(0, n, block):
        chunk = np.stack([tone[start : start + block]] * 2)
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format="fltp", layout="stereo")
        frame.sample_rate = rate
        frame.pts = start
        for packet in stream.encode(frame):
            out.mux(packet)
    for packet in stream.encode():
        out.mux(packet)


def _set_rotation(path: Path, degrees: int) -> None:
    """Write a rotation into the video track's tkhd matrix (ISO 14496-12 8.3.2), as phones do."""
    one, minus_one = 0x00010000, 0xFFFF0000
    cos, sin = {90: (0, 1), 180: (-1, 0), 270: (0, -1)}[degrees]
    fixed = {1: one, 0: 0, -1: minus_one}
    matrix = struct.pack(">9I", fixed[cos], fixed[sin], 0, fixed[-sin], fixed[cos], 0, 0, 0, 0x40000000)
    data = bytearray(path.read_bytes())
    at = data.find(b"tkhd")
    while at >= 0:
        version = data[at + 4]
        offset = at + 4 + 4 + (32 if version == 1 else 20) + 8 + 8
        data[offset : offset + 36] = matrix
        at = data.find(b"tkhd", at + 4)
        break  # the first track is the video
    path.write_bytes(bytes(data))

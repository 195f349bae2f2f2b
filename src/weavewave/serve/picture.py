"""A picture of the music for the web page: a piano roll when there is a score, else a spectrogram.

Drawn with Pillow only (already a core dependency), so the server needs no plotting library.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from weavewave.generators import Track

WIDTH, HEIGHT = 1200, 360
BACKGROUND = (18, 20, 28)
GRID = (40, 44, 58)
TEXT = (200, 204, 216)
# One colour per arrangement role, so a listener can tell the melody from the pad at a glance.
ROLE_COLOURS = {
    "melody": (255, 184, 76),
    "chords": (110, 168, 255),
    "pad": (150, 120, 230),
    "bass": (72, 214, 160),
    "drums": (240, 96, 110),
    "counter": (250, 130, 200),
    "arp": (90, 220, 230),
}
OTHER_COLOUR = (180, 180, 190)
# Perceptually ordered colour ramp for the spectrogram (dark blue -> purple -> orange -> pale yellow).
_RAMP = np.array(
    [(10, 12, 30), (60, 30, 110), (150, 40, 120), (230, 90, 70), (250, 190, 80), (252, 250, 200)],
    dtype=np.float32,
)


def save_picture(track: Track, path: str | Path) -> Path:
    """Write ``music.png``: the piano roll of ``track.arrangement``, or its spectrogram without one."""
    image = (
        piano_roll(track) if track.arrangement is not None else spectrogram(track.audio, track.sample_rate)
    )
    _sections(image, track)
    path = Path(path)
    image.save(path, format="PNG", optimize=True)
    return path


def piano_roll(track: Track) -> Image.Image:
    """Notes as bars: time across, pitch up; drums in a lane of their own at the bottom."""
    arrangement = track.arrangement
    assert arrangement is not None
    image = Image.new("RGB", (WIDTH, HEIGHT), BACKGROUND)
    draw = ImageDraw.Draw(image)
    duration = max(track.duration_s, 1e-3)
    pitched = [n.pitch for p in arrangement.parts if not p.is_drum for n in p.notes]
    low, high = (min(pitched) - 2, max(pitched) + 2) if pitched else (36, 96)
    drum_lane = 40
    top, bottom = 22, HEIGHT - drum_lane - 6
    row = (bottom - top) / max(1, high - low)
    for octave_c in range((low // 12 + 1) * 12, high + 1, 12):
        y = bottom - (octave_c - low) * row
        draw.line([(0, y), (WIDTH, y)], fill=GRID)
        draw.text((4, y - 11), f"C{octave_c // 12 - 1}", fill=GRID)
    x_of = WIDTH / duration
    for part in arrangement.parts:
        colour = ROLE_COLOURS.get(part.role, OTHER_COLOUR)
        for note in part.notes:
            x0, x1 = note.start * x_of, max(note.start * x_of + 2, note.end * x_of)
            if part.is_drum:
                y = HEIGHT - drum_lane + (note.pitch % 8) * 4
                draw.rectangle([x0, y, x0 + 2, y + 3], fill=colour)
                continue
            shade = 0.55 + 0.45 * note.velocity / 127
            fill = tuple(int(c * shade) for c in colour)
            y = bottom - (note.pitch - low) * row
            draw.rectangle([x0, y - max(1.5, row * 0.8), x1, y], fill=fill)
    _legend(draw, sorted({p.role for p in arrangement.parts}))
    return image


def spectrogram(audio: np.ndarray, sample_rate: int) -> Image.Image:
    """Log-frequency, log-magnitude spectrogram of the mix (no score to draw, e.g. a neural backend)."""
    mono = audio.mean(axis=1) if audio.ndim == 2 else audio
    n_fft, hop = 2048, max(256, len(mono) // WIDTH)
    if len(mono) < n_fft:
        mono = np.pad(mono, (0, n_fft - len(mono)))
    frames = np.lib.stride_tricks.sliding_window_view(mono, n_fft)[::hop] * np.hanning(n_fft)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    freqs = np.fft.rfftfreq(n_fft, 1 / sample_rate)
    edges = np.geomspace(40.0, min(16000.0, sample_rate / 2), HEIGHT + 1)
    bins = np.clip(np.searchsorted(freqs, edges), 1, len(freqs) - 1)
    bands = np.stack(
        [power[:, a : max(b, a + 1)].mean(axis=1) for a, b in zip(bins[:-1], bins[1:], strict=True)], axis=1
    )
    db = 10 * np.log10(bands + 1e-12)
    db = np.clip((db - (db.max() - 80)) / 80, 0, 1)[:, ::-1].T  # rows: high frequencies on top
    index = db * (len(_RAMP) - 1)
    lo = np.floor(index).astype(int)
    hi = np.minimum(lo + 1, len(_RAMP) - 1)
    frac = (index - lo)[..., None]
    rgb = (_RAMP[lo] * (1 - frac) + _RAMP[hi] * frac).astype(np.uint8)
    return Image.fromarray(rgb, "RGB").resize((WIDTH, HEIGHT), Image.Resampling.BILINEAR)


def _sections(image: Image.Image, track: Track) -> None:
    """Section boundaries and labels across the top, so the picture reads like the brief's timeline."""
    draw = ImageDraw.Draw(image)
    duration = max(track.duration_s, 1e-3)
    for section in track.brief.sections:
        x = section.start_s / duration * WIDTH
        draw.line([(x, 0), (x, HEIGHT)], fill=(90, 96, 120))
        draw.text((x + 4, 4), section.label, fill=TEXT)


def _legend(draw: ImageDraw.ImageDraw, roles: list[str]) -> None:
    x = WIDTH - 8
    for role in reversed(roles):
        width = 14 + 7 * len(role)
        x -= width + 8
        draw.rectangle([x, 6, x + 9, 15], fill=ROLE_COLOURS.get(role, OTHER_COLOUR))
        draw.text((x + 13, 5), role, fill=TEXT)

"""A picture of the music for the web page: a piano roll when there is a score, else a spectrogram.

Both have a time axis in seconds along the bottom; the piano roll names its pitches (C4 is middle C,
pretty_midi's names) and the spectrogram its frequencies down the left. Drawn with Pillow only (already a
core dependency), so the server needs no plotting library.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pretty_midi
from PIL import Image, ImageDraw, ImageFont

from weavewave.generators import Track

WIDTH, HEIGHT = 1200, 360
# The plot sits right of a gutter for pitch (or frequency) labels and above a strip for the time axis.
GUTTER, AXIS = 44, 20
TOP = 22  # section labels run across the top
DRUM_LANE = 40
BACKGROUND = (18, 20, 28)
GRID = (40, 44, 58)
GRID_FAINT = (28, 31, 42)
TEXT = (200, 204, 216)
LABEL = (150, 156, 176)  # axis labels: readable on the background, quieter than the notes
FONT_SIZE = 12
# Time ticks at the first of these steps (seconds) that gives at most MAX_TICKS ticks across the piece.
TIME_STEPS_S = (1, 2, 5, 10, 15, 30, 60, 120, 300)
MAX_TICKS = 12
# Octave heights (pixels) above which each F is named as well as each C, and then every natural note.
LABEL_F_PX, LABEL_NATURALS_PX = 70, 150
NATURALS = (0, 2, 4, 5, 7, 9, 11)  # pitch classes C D E F G A B
SPECTRUM_HZ = (40.0, 16000.0)
FREQ_LABELS_HZ = (50, 100, 200, 500, 1000, 2000, 5000, 10000)
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


def _font() -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=FONT_SIZE)  # Pillow >= 10.1 scales its bundled font
    except TypeError:
        return ImageFont.load_default()


def save_picture(track: Track, path: str | Path) -> Path:
    """Write ``music.png``: the piano roll of ``track.arrangement``, or its spectrogram without one."""
    image = (
        piano_roll(track) if track.arrangement is not None else spectrogram(track.audio, track.sample_rate)
    )
    duration = max(track.duration_s, 1e-3)
    _time_axis(image, duration, grid=track.arrangement is not None)
    _sections(image, track)
    path = Path(path)
    image.save(path, format="PNG", optimize=True)
    return path


def time_ticks(duration_s: float) -> list[float]:
    """Tick times in seconds, 0 included, at the first step of TIME_STEPS_S that keeps them few."""
    step = next((s for s in TIME_STEPS_S if duration_s / s <= MAX_TICKS), TIME_STEPS_S[-1])
    return [float(t) for t in np.arange(0.0, duration_s + 1e-9, step)]


def time_label(seconds: float) -> str:
    """0:05, 1:30: minutes and seconds, as a player shows them."""
    whole = int(round(seconds))
    return f"{whole // 60}:{whole % 60:02d}"


def pitch_labels(low: int, high: int, octave_px: float) -> list[tuple[int, str]]:
    """(MIDI pitch, name) to label between ``low`` and ``high``: every C, more as octaves grow taller."""
    classes = NATURALS if octave_px >= LABEL_NATURALS_PX else (0, 5) if octave_px >= LABEL_F_PX else (0,)
    return [
        (p, pretty_midi.note_number_to_name(p))
        for p in range(max(0, low), min(127, high) + 1)
        if p % 12 in classes
    ]


def _x(seconds: float, duration: float) -> float:
    return GUTTER + seconds / duration * (WIDTH - GUTTER)


def piano_roll(track: Track) -> Image.Image:
    """Notes as bars: time across, pitch up, named at the left; drums in a lane of their own at the bottom."""
    arrangement = track.arrangement
    assert arrangement is not None
    image = Image.new("RGB", (WIDTH, HEIGHT), BACKGROUND)
    draw = ImageDraw.Draw(image)
    font = _font()
    duration = max(track.duration_s, 1e-3)
    pitched = [n.pitch for p in arrangement.parts if not p.is_drum for n in p.notes]
    low, high = (min(pitched) - 2, max(pitched) + 2) if pitched else (36, 96)
    bottom = HEIGHT - AXIS - DRUM_LANE - 6
    row = (bottom - TOP) / max(1, high - low)
    for pitch, name in pitch_labels(low, high, 12 * row):
        y = bottom - (pitch - low) * row
        draw.line([(GUTTER, y), (WIDTH, y)], fill=GRID if pitch % 12 == 0 else GRID_FAINT)
        draw.text((GUTTER - 6, y), name, fill=LABEL, font=font, anchor="rm")
    drum_top = HEIGHT - AXIS - DRUM_LANE
    if any(p.is_drum for p in arrangement.parts):
        draw.text((GUTTER - 6, drum_top + DRUM_LANE / 2), "drums", fill=LABEL, font=font, anchor="rm")
    for part in arrangement.parts:
        colour = ROLE_COLOURS.get(part.role, OTHER_COLOUR)
        for note in part.notes:
            x0 = _x(note.start, duration)
            x1 = max(x0 + 2, _x(note.end, duration))
            if part.is_drum:
                y = drum_top + 4 + (note.pitch % 8) * 4
                draw.rectangle([x0, y, x0 + 2, y + 3], fill=colour)
                continue
            shade = 0.55 + 0.45 * note.velocity / 127
            fill = tuple(int(c * shade) for c in colour)
            y = bottom - (note.pitch - low) * row
            draw.rectangle([x0, y - max(1.5, row * 0.8), x1, y], fill=fill)
    _legend(draw, sorted({p.role for p in arrangement.parts}), font)
    return image


def spectrogram(audio: np.ndarray, sample_rate: int) -> Image.Image:
    """Log-frequency, log-magnitude spectrogram of the mix (no score to draw, e.g. a neural backend)."""
    plot_w, plot_h = WIDTH - GUTTER, HEIGHT - AXIS - TOP
    mono = audio.mean(axis=1) if audio.ndim == 2 else audio
    n_fft, hop = 2048, max(256, len(mono) // plot_w)
    if len(mono) < n_fft:
        mono = np.pad(mono, (0, n_fft - len(mono)))
    frames = np.lib.stride_tricks.sliding_window_view(mono, n_fft)[::hop] * np.hanning(n_fft)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    freqs = np.fft.rfftfreq(n_fft, 1 / sample_rate)
    top_hz = min(SPECTRUM_HZ[1], sample_rate / 2)
    edges = np.geomspace(SPECTRUM_HZ[0], top_hz, plot_h + 1)
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
    image = Image.new("RGB", (WIDTH, HEIGHT), BACKGROUND)
    image.paste(
        Image.fromarray(rgb, "RGB").resize((plot_w, plot_h), Image.Resampling.BILINEAR), (GUTTER, TOP)
    )
    draw, font = ImageDraw.Draw(image), _font()
    span = np.log(top_hz / SPECTRUM_HZ[0])
    for hz in FREQ_LABELS_HZ:
        if SPECTRUM_HZ[0] < hz < top_hz:
            y = TOP + plot_h * (1 - np.log(hz / SPECTRUM_HZ[0]) / span)
            name = f"{hz // 1000}k" if hz >= 1000 else str(hz)
            draw.line([(GUTTER - 3, y), (GUTTER, y)], fill=LABEL)
            draw.text((GUTTER - 6, y), name, fill=LABEL, font=font, anchor="rm")
    draw.text((4, TOP - 16), "Hz", fill=LABEL, font=font)
    return image


def _time_axis(image: Image.Image, duration: float, *, grid: bool) -> None:
    """Ticks and m:ss labels along the bottom; with ``grid``, faint lines up through the plot (not over a
    spectrogram, where they would read as silence)."""
    draw, font = ImageDraw.Draw(image), _font()
    base = HEIGHT - AXIS
    draw.line([(GUTTER, base), (WIDTH, base)], fill=GRID)
    ticks = time_ticks(duration)
    for i, t in enumerate(ticks):
        x = _x(t, duration)
        if grid:
            draw.line([(x, TOP), (x, base)], fill=GRID_FAINT)
        draw.line([(x, base), (x, base + 4)], fill=LABEL)
        anchor = "lt" if i == 0 else "rt" if x > WIDTH - 20 else "mt"
        draw.text((x, base + 5), time_label(t), fill=LABEL, font=font, anchor=anchor)


def _sections(image: Image.Image, track: Track) -> None:
    """Section boundaries and labels across the top, so the picture reads like the brief's timeline."""
    draw, font = ImageDraw.Draw(image), _font()
    duration = max(track.duration_s, 1e-3)
    for section in track.brief.sections:
        x = _x(section.start_s, duration)
        draw.line([(x, 0), (x, HEIGHT - AXIS)], fill=(90, 96, 120))
        draw.text((x + 4, 4), section.label, fill=TEXT, font=font)


def _legend(
    draw: ImageDraw.ImageDraw, roles: list[str], font: ImageFont.ImageFont | ImageFont.FreeTypeFont
) -> None:
    x = WIDTH - 8
    for role in reversed(roles):
        width = 14 + int(draw.textlength(role, font=font))
        x -= width + 8
        draw.rectangle([x, 6, x + 9, 15], fill=ROLE_COLOURS.get(role, OTHER_COLOUR))
        draw.text((x + 13, 4), role, fill=TEXT, font=font)

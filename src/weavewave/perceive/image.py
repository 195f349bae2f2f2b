"""The analytic image perceiver: colour, light and texture, mapped to musical proposals.

Offline, CPU, no weights. The image is decoded at reduced size (JPEG draft mode, then
``thumbnail`` to at most :data:`~weavewave.perceive.image_table.MAX_SIDE` pixels), measured with a
handful of documented colour and texture statistics (:func:`measure`), and the measurements are
turned into proposals through the table in :mod:`weavewave.perceive.image_table`. The formulas and
references are in ``docs/PERCEPTION.md``.

    >>> from weavewave.perceive.image import perceive_image
    >>> p = perceive_image("sunset.jpg")                                  # doctest: +SKIP
    >>> p.proposals["valence"].reason                                     # doctest: +SKIP
    'valence +0.41: light (brightness 0.66), saturated (saturation 0.51) and warm-hued (warmth +0.72) image'
"""

from __future__ import annotations

import struct
import warnings
import zlib
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from scipy import ndimage

from weavewave.brief import Observation
from weavewave.errors import BadInputError
from weavewave.perceive import Perception, Proposal
from weavewave.perceive import image_table as T

__all__ = ["colourfulness_level", "hue_name", "load_image", "measure", "perceive_image", "propose"]

_FORMATS_HINT = "pass a JPEG, PNG, WebP, GIF, BMP or TIFF file"
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error)
_ORIENTATION_TAG = 0x0112
_SWAPPING_ORIENTATIONS = (5, 6, 7, 8)  # EXIF orientations that rotate by 90 degrees
# Images other than JPEG are decoded at full size before they are shrunk, and decoding plus the colour
# conversion costs up to about 12 bytes a pixel; 40 MP (an 8K frame is 33 MP) keeps one decode under
# about 500 MB. Pillow's own threshold (89 MP) let a 335 KB PNG declaring 9400x9400 cost 2.1 GB.
# JPEGs are decoded at 1/2 to 1/8 scale (draft mode), so they may declare up to 8x8 times this.
MAX_DECODE_PIXELS = 40_000_000
MAX_JPEG_PIXELS = 64 * MAX_DECODE_PIXELS

# sRGB (D65) -> CIE XYZ, and the D65 white point (IEC 61966-2-1; CIE 15).
_RGB_TO_XYZ = np.array(
    [[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750], [0.0193339, 0.1191920, 0.9503041]],
    dtype=np.float32,
)
_WHITE_D65 = np.array([0.95047, 1.0, 1.08883], dtype=np.float32)


# ==================================================================================================
# Loading
# ==================================================================================================
def load_image(path: str | Path, *, max_side: int = T.MAX_SIDE) -> np.ndarray:
    """Decode an image, downscaled so its longest side is at most ``max_side`` pixels.

    JPEGs are decoded at reduced scale (``Image.draft``) so a 50-megapixel photo never exists in
    memory at full size. EXIF orientation is applied; transparency is composited on white; palette,
    greyscale, CMYK and 16-bit images become RGB.

    Parameters
    ----------
    path : str or Path
        An image file Pillow can read.
    max_side : int
        Longest side of the returned array, in pixels (images are never upscaled).

    Returns
    -------
    np.ndarray [shape=(h, w, 3), dtype=float32]
        sRGB values in [0, 1], ``max(h, w) <= max_side``.

    Raises
    ------
    BadInputError
        Missing, unreadable, not an image, truncated or corrupt, or implausibly large.
    """
    rgb, _ = _load(Path(path), max_side=max_side)
    return rgb


def _load(p: Path, *, max_side: int) -> tuple[np.ndarray, tuple[int, int]]:
    """Decode ``p``; return the RGB array and the original (width, height) as displayed."""
    if max_side < 1:
        raise BadInputError(f"max_side must be a positive number of pixels, not {max_side}")
    if not p.exists():
        raise BadInputError(f"image file not found: {p}; check the path")
    if p.is_dir():
        raise BadInputError(f"{p} is a directory, not an image; {_FORMATS_HINT}")
    try:
        if p.stat().st_size == 0:
            raise BadInputError(f"{p} is empty (0 bytes); {_FORMATS_HINT}")
        with warnings.catch_warnings():
            # Our own policy replaces Pillow's warning: JPEGs are drafted, other formats are capped.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(p)
    except BadInputError:
        raise
    except PermissionError:
        raise BadInputError(f"cannot read {p}: permission denied; check the file's permissions") from None
    except Image.DecompressionBombError as exc:
        raise BadInputError(f"{p} is too large to analyse safely ({exc}); downscale it first") from None
    except UnidentifiedImageError:
        raise BadInputError(
            f"{p} is not an image Pillow can read (cannot identify image file); "
            f"{_FORMATS_HINT}{_suffix_hint(p)}"
        ) from None
    except OSError as exc:
        if exc.errno is not None:  # the operating system's error, not the decoder's
            raise BadInputError(f"cannot read {p}: {exc.strerror or exc}; check the file") from None
        raise BadInputError(
            f"{p} is truncated or corrupt ({_short(exc)}); re-export or re-download the image and try again"
        ) from None

    with im:
        width, height = im.size
        _check_pixel_budget(p, im)
        try:
            orientation = int(im.getexif().get(_ORIENTATION_TAG, 1))
        except _DECODE_ERRORS:
            orientation = 1  # unreadable EXIF is not worth rejecting the photo for
        target = max(1, T.DRAFT_FACTOR * max_side)
        try:
            im.draft(None, (target, target))  # no-op for formats other than JPEG
            im.load()
            oriented = ImageOps.exif_transpose(im) or im
            small = _to_rgb_or_float(oriented)
            small.thumbnail((max_side, max_side), Image.Resampling.BICUBIC)
            rgb = _to_array(small)
        except _DECODE_ERRORS as exc:
            raise BadInputError(
                f"{p} is truncated or corrupt ({_short(exc)}); re-export or re-download "
                "the image and try again"
            ) from None
    if orientation in _SWAPPING_ORIENTATIONS:
        width, height = height, width
    return rgb, (width, height)


def _check_pixel_budget(p: Path, im: Image.Image) -> None:
    """Refuse images whose header declares more pixels than can be decoded in bounded memory.

    Called after ``Image.open`` has read only the header, before any pixel is decoded: non-JPEG images
    over :data:`MAX_DECODE_PIXELS` (decoded at full size), JPEGs over :data:`MAX_JPEG_PIXELS` (decoded
    at reduced scale). Pillow's own hard limit, enforced in ``Image.open``, still applies on top.
    """
    pixels = im.size[0] * im.size[1]
    jpeg = im.format == "JPEG"
    limit = MAX_JPEG_PIXELS if jpeg else min(MAX_DECODE_PIXELS, Image.MAX_IMAGE_PIXELS or MAX_DECODE_PIXELS)
    if pixels <= limit:
        return
    raise BadInputError(
        f"{p} is {im.size[0]}x{im.size[1]} ({pixels / 1e6:.0f} MP), over the {limit / 1e6:.0f} MP "
        f"safety limit for {im.format or 'non-JPEG'} images (a possible decompression bomb); downscale it"
        + ("" if jpeg else " or save it as JPEG")
        + " first"
    )


def _to_rgb_or_float(im: Image.Image) -> Image.Image:
    """Bring any Pillow mode to "RGB", or to "F" for high-bit-depth greyscale."""
    if im.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        return im.convert("F")
    has_alpha = im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        im.mode in ("P", "L", "RGB") and "transparency" in im.info
    )
    if has_alpha:
        rgba = im.convert("RGBA")
        page = Image.new("RGBA", rgba.size, (*T.ALPHA_BACKGROUND, 255))
        return Image.alpha_composite(page, rgba).convert("RGB")
    return im.convert("RGB")


def _to_array(im: Image.Image) -> np.ndarray:
    """Pillow image ("RGB" or "F") -> float32 [shape=(h, w, 3)] in [0, 1]."""
    if im.mode == "F":
        grey = np.asarray(im, dtype=np.float32)
        peak = float(grey.max()) if grey.size else 0.0
        scale = 1.0 if peak <= 1.0 else (T.SIXTEEN_BIT_MAX if peak <= T.SIXTEEN_BIT_MAX else peak)
        grey = np.clip(grey / scale, 0.0, 1.0)
        return np.repeat(grey[:, :, None], 3, axis=2)
    return np.asarray(im, dtype=np.float32) / np.float32(255.0)


def _suffix_hint(p: Path) -> str:
    if p.suffix.lower() in (".heic", ".heif", ".avif", ".raw", ".cr2", ".nef", ".arw", ".dng", ".psd"):
        return f" ({p.suffix} files need converting to JPEG or PNG first)"
    return ""


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:120]


# ==================================================================================================
# Measurement
# ==================================================================================================
def measure(rgb: np.ndarray) -> dict[str, float]:
    """Colour, light and texture statistics of an RGB image (see ``docs/PERCEPTION.md``).

    Parameters
    ----------
    rgb : np.ndarray [shape=(h, w, 3)]
        sRGB in [0, 1] (as returned by :func:`load_image`). Any size; the perceiver measures at most
        512 px on the longest side, and texture measures depend on that scale.

    Returns
    -------
    dict[str, float]
        ``brightness`` (mean CIE L*/100), ``value`` (mean HSV V), ``saturation`` (mean HSV S, 0 for
        near-black pixels), ``colourfulness`` (Hasler & Suesstrunk M, 0..~150), ``warmth``
        (saturation-weighted warm minus cool hue share, -1..1), ``warm_share``, ``cool_share``,
        ``colour_heat`` (mean Ou et al. colour heat), ``dominant_hue_deg`` (HSV degrees, -1 if none),
        ``dominant_hue_share``, ``contrast`` (RMS of L*/100), ``edge_density`` (share of strong Sobel
        edges), ``orientation_entropy`` (0..1), ``fine_detail`` (share of luminance power above
        0.1 cycles/pixel) and ``complexity`` (0..1).

    Raises
    ------
    BadInputError
        If ``rgb`` is not an (h, w, 3) array with h, w >= 1.
    """
    arr = np.asarray(rgb, dtype=np.float32)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise BadInputError(f"measure() needs an RGB array of shape (h, w, 3), got {arr.shape}")
    arr = np.clip(arr, 0.0, 1.0)

    out: dict[str, float] = {}
    hue, sat, val = _hsv(arr)
    lab = _lab(arr)
    lightness = lab[..., 0] / np.float32(100.0)

    out["brightness"] = float(lightness.mean())
    out["value"] = float(val.mean())
    out["saturation"] = float(sat.mean())
    out["colourfulness"] = _colourfulness(arr)
    out.update(_hue_statistics(hue, sat))
    out["colour_heat"] = _colour_heat(lab)
    out["contrast"] = float(lightness.std())
    out.update(_texture(lightness))
    return out


def _hsv(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """HSV of [shape=(h, w, 3)] sRGB: hue in degrees [0, 360), saturation and value in [0, 1]."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    mx = np.maximum(np.maximum(r, g), b)
    delta = mx - np.minimum(np.minimum(r, g), b)
    inv = np.float32(1.0) / np.maximum(delta, np.float32(1e-12))
    hue = (r - g) * inv + np.float32(4.0)  # blue is the maximum ...
    np.copyto(hue, (b - r) * inv + np.float32(2.0), where=g == mx)  # ... unless green is
    np.copyto(hue, np.mod((g - b) * inv, np.float32(6.0)), where=r == mx)  # ... or red
    hue *= np.float32(60.0)
    hue[delta <= 0] = 0.0
    sat = delta / np.maximum(mx, np.float32(1e-12))
    sat[mx < T.DARK_VALUE] = 0.0  # hue and saturation of near-black pixels are sensor noise
    return hue, sat, mx


def _lab(rgb: np.ndarray) -> np.ndarray:
    """CIE L*a*b* (D65) of [shape=(h, w, 3)] sRGB; returns [shape=(h, w, 3)]."""
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    xyz = (linear @ _RGB_TO_XYZ.T) / _WHITE_D65
    eps = (6.0 / 29.0) ** 3
    f = np.where(xyz > eps, np.cbrt(xyz), xyz / (3.0 * (6.0 / 29.0) ** 2) + 4.0 / 29.0)
    lab = np.empty_like(f)
    lab[..., 0] = 116.0 * f[..., 1] - 16.0
    lab[..., 1] = 500.0 * (f[..., 0] - f[..., 1])
    lab[..., 2] = 200.0 * (f[..., 1] - f[..., 2])
    return lab


def _colourfulness(rgb: np.ndarray) -> float:
    """Hasler & Suesstrunk (2003) M = sigma_rgyb + 0.3 mu_rgyb on 0-255 sRGB values."""
    r, g, b = (rgb[..., i] * np.float32(255.0) for i in range(3))
    rg = r - g
    yb = np.float32(0.5) * (r + g) - b
    sigma = np.hypot(rg.std(dtype=np.float64), yb.std(dtype=np.float64))
    mu = np.hypot(rg.mean(dtype=np.float64), yb.mean(dtype=np.float64))
    return float(sigma + 0.3 * mu)


def _in_range(hue: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Boolean mask of hues in the circular interval [lo, hi) degrees."""
    return (hue >= lo) & (hue < hi) if lo < hi else (hue >= lo) | (hue < hi)


def _hue_statistics(hue: np.ndarray, sat: np.ndarray) -> dict[str, float]:
    """Saturation-weighted warm/cool shares and the dominant hue sector."""
    weights = sat.ravel().astype(np.float64)
    total = float(weights.sum())
    if total <= 1e-6:
        return {
            "warmth": 0.0,
            "warm_share": 0.0,
            "cool_share": 0.0,
            "dominant_hue_deg": T.NO_HUE,
            "dominant_hue_share": 0.0,
        }
    flat = hue.ravel()
    # Saturation mass per whole degree, then summed over the (whole-degree) sector bounds.
    per_degree = np.bincount(np.minimum(flat.astype(np.int64), 359), weights=weights, minlength=360)

    def share(lo: float, hi: float) -> float:
        lo_i, hi_i = int(lo), int(hi)
        mass = (
            per_degree[lo_i:hi_i].sum()
            if lo_i < hi_i
            else (per_degree[lo_i:].sum() + per_degree[:hi_i].sum())
        )
        return float(mass) / total

    warm = share(*T.WARM_HUES)
    cool = share(*T.COOL_HUES)
    shares = [share(lo, hi) for _, lo, hi in T.HUE_SECTORS]
    best = int(np.argmax(shares))
    _, lo, hi = T.HUE_SECTORS[best]
    mask = _in_range(flat, lo, hi)
    angles = np.deg2rad(flat[mask].astype(np.float64))
    w = weights[mask]
    mean_deg = float(np.rad2deg(np.arctan2((w * np.sin(angles)).sum(), (w * np.cos(angles)).sum())) % 360.0)
    return {
        "warmth": warm - cool,
        "warm_share": warm,
        "cool_share": cool,
        "dominant_hue_deg": mean_deg,
        "dominant_hue_share": shares[best],
    }


def _colour_heat(lab: np.ndarray) -> float:
    """Mean of Ou et al. (2004) colour heat, -0.5 + 0.02 C*^1.07 cos(h - 50 deg), over pixels."""
    a, b = lab[..., 1], lab[..., 2]
    chroma = np.maximum(np.hypot(a, b), np.float32(1e-6))
    # C^1.07 cos(h - 50) = C^0.07 (a cos 50 + b sin 50), which avoids computing h.
    c50, s50 = np.float32(np.cos(np.deg2rad(50.0))), np.float32(np.sin(np.deg2rad(50.0)))
    heat = chroma ** np.float32(0.07) * (a * c50 + b * s50)
    return float(-0.5 + 0.02 * heat.mean(dtype=np.float64))


def _texture(lightness: np.ndarray) -> dict[str, float]:
    """Edge density, orientation entropy, fine-detail share and the complexity index.

    ``lightness`` is [shape=(h, w)] L*/100.
    """
    gx = ndimage.sobel(lightness, axis=1, mode="reflect") / np.float32(4.0)  # unit step -> 1
    gy = ndimage.sobel(lightness, axis=0, mode="reflect") / np.float32(4.0)
    magnitude = np.hypot(gx, gy)
    strong = magnitude > T.EDGE_THRESHOLD
    edge_density = float(strong.mean())

    entropy = 0.0
    if edge_density >= T.MIN_EDGE_FRACTION:
        angle = np.mod(np.arctan2(gy[strong], gx[strong]), np.pi)
        hist, _ = np.histogram(angle, bins=T.ORIENTATION_BINS, range=(0.0, np.pi), weights=magnitude[strong])
        p = hist[hist > 0] / hist.sum()
        entropy = float(-(p * np.log(p)).sum() / np.log(T.ORIENTATION_BINS))

    fine = _fine_detail(lightness)
    gradient = min(1.0, float(magnitude.mean()) / T.GRADIENT_REF)
    complexity = entropy * (0.5 * gradient + 0.5 * min(1.0, fine / T.FINE_DETAIL_REF))
    return {
        "edge_density": edge_density,
        "orientation_entropy": entropy,
        "fine_detail": fine,
        "complexity": complexity,
    }


def _fine_detail(lightness: np.ndarray) -> float:
    """Share of (Hann-windowed, mean-removed) luminance power above FINE_DETAIL_CUTOFF cycles/px."""
    h, w = lightness.shape
    if h < 4 or w < 4:
        return 0.0
    window = np.outer(np.hanning(h), np.hanning(w)).astype(np.float32)
    centred = (lightness - lightness.mean()) * window
    power = np.abs(np.fft.rfft2(centred)) ** 2
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    radius = np.hypot(fy, fx)
    # rfft2 stores half the spectrum; the symmetric weights cancel in the ratio.
    total = float(power[radius > 0].sum())
    if total <= 1e-12:
        return 0.0
    return float(power[radius > T.FINE_DETAIL_CUTOFF].sum()) / total


def hue_name(degrees: float) -> str:
    """Name of the hue sector containing ``degrees`` (HSV), or "neutral" for :data:`NO_HUE`."""
    if degrees < 0:
        return "neutral"
    deg = degrees % 360.0
    for name, lo, hi in T.HUE_SECTORS:
        if (lo <= deg < hi) if lo < hi else (deg >= lo or deg < hi):
            return name
    return "neutral"  # unreachable: the sectors cover the circle


def colourfulness_level(m: float) -> str:
    """Hasler & Suesstrunk's verbal category for colourfulness ``m``."""
    label = T.COLOURFULNESS_LEVELS[0][1]
    for threshold, name in T.COLOURFULNESS_LEVELS:
        if m >= threshold:
            label = name
    return label


# ==================================================================================================
# Mapping
# ==================================================================================================
def _z(feature: str, x: float) -> float:
    centre, half = T.FEATURE_SCALES[feature]
    return float(np.clip((x - centre) / half, -1.0, 1.0))


def _gated_warmth(m: dict[str, float]) -> float:
    return m["warmth"] * min(1.0, m["saturation"] / T.WARMTH_SATURATION_GATE)


def _signed(x: float) -> str:
    return f"{x:+.2f}"


def _describe(feature: str, z: float, raw: float) -> str:
    number = (
        f"{raw:+.2f}"
        if feature in ("warmth", "arousal")
        else (f"{raw:.0f}" if feature == "colourfulness" else f"{raw:.2f}")
    )
    label = feature.replace("_", " ")
    if abs(z) < T.TYPICAL_Z:
        return f"typical {label} ({number})"
    return f"{T.FEATURE_WORDS[feature][z > 0]} ({label} {number})"


def _apply(mapping: T.Mapping, raw: dict[str, float]) -> tuple[float, str]:
    """Evaluate one table mapping; return the value and the reason's evidence phrase."""
    contributions: list[tuple[float, float, str]] = []  # (weight * z, z, phrase)
    total = 0.0
    for term in mapping.terms:
        z = _z(term.feature, raw[term.feature])
        total += term.weight * z
        contributions.append((term.weight * z, z, _describe(term.feature, z, raw[term.feature])))
    if mapping.kind == "signed":
        value = float(np.clip(total, -1.0, 1.0))
    else:
        value = float(np.clip(0.5 + 0.5 * total, 0.0, 1.0))
    # Name what pushed the value its way, strongest first (at most three); else say it is typical.
    direction = np.sign(total) or 1.0
    pushing = sorted(
        (c for c in contributions if c[0] * direction > 0 and abs(c[1]) >= T.TYPICAL_Z),
        key=lambda c: -abs(c[0]),
    )
    phrases = [c[2] for c in (pushing or contributions)[:3]]
    evidence = phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " and " + phrases[-1]
    return value, evidence


def _confidence(mapping: T.Mapping, value: float) -> float:
    strength = abs(value) if mapping.kind == "signed" else abs(2.0 * value - 1.0)
    return round(mapping.confidence_base + mapping.confidence_span * min(1.0, strength), 3)


def _holds(conditions: tuple[T.Condition, ...], q: dict[str, float]) -> bool:
    ops = {
        "<": lambda a, b: a < b,
        ">": lambda a, b: a > b,
        "<=": lambda a, b: a <= b,
        ">=": lambda a, b: a >= b,
    }
    return all(ops[op](q[name], threshold) for name, op, threshold in conditions)


def _word_for(value: float, table: tuple[tuple[float, str], ...]) -> str:
    for upper, word in table:
        if value < upper:
            return word
    return table[-1][1]


def _caption_hint(m: dict[str, float], hue: str) -> str:
    light = _word_for(m["brightness"], T.LIGHT_WORDS)
    named = m["dominant_hue_share"] >= T.MIN_HUE_SHARE  # else no single hue leads
    if m["saturation"] < T.GREYSCALE_SATURATION:
        tone = "black-and-white"
    elif m["colourfulness"] > T.VIVID_COLOURFULNESS:
        tone = f"vivid {hue}" if named else "vivid, multicoloured"
    elif m["colourfulness"] < T.MUTED_COLOURFULNESS:
        tone = f"muted, {hue}-toned" if named else "muted"
    else:
        tone = f"{hue}-toned" if named else "multicoloured"
    adjectives = ", ".join(w for w in (light, tone) if w)
    article = "an" if adjectives[:1] in "aeiou" else "a"
    return f"inspired by {article} {adjectives} image with {_word_for(m['contrast'], T.CONTRAST_WORDS)}"


def propose(m: dict[str, float]) -> dict[str, Proposal]:
    """Turn :func:`measure` output into brief proposals via the table in ``image_table``.

    Parameters
    ----------
    m : dict[str, float]
        Measurements as returned by :func:`measure`.

    Returns
    -------
    dict[str, Proposal]
        Keys ``valence``, ``arousal``, ``energy``, ``register``, ``density``, ``mood_tags``,
        ``instruments_suggest``, ``caption_hint`` and, when the image leans clearly, ``mode``.
    """
    warmth = _gated_warmth(m)
    raw: dict[str, float] = {**m, "warmth": warmth}
    values: dict[str, float] = {}
    proposals: dict[str, Proposal] = {}
    for mapping in T.MAPPINGS:
        value, evidence = _apply(mapping, raw)
        values[mapping.attribute] = value
        raw[mapping.attribute] = value  # later rows may build on earlier ones
        shown = _signed(value) if mapping.kind == "signed" else f"{value:.2f}"
        proposals[mapping.attribute] = Proposal(
            value=round(value, 3),
            confidence=_confidence(mapping, value),
            reason=f"{mapping.attribute} {shown}: {evidence} image",
        )

    score = T.MODE_VALENCE_WEIGHT * values["valence"] + T.MODE_WARMTH_WEIGHT * warmth
    if abs(score) >= T.MODE_THRESHOLD:
        mode = "major" if score > 0 else "minor"
        base, span = T.MODE_CONFIDENCE
        lean = "lighter, more saturated or warmer" if score > 0 else "darker, greyer or cooler"
        proposals["mode"] = Proposal(
            value=mode,
            confidence=round(base + span * min(1.0, abs(score)), 3),
            reason=(
                f"mode {mode}: {lean} than typical (valence {_signed(values['valence'])}, warmth "
                f"{_signed(warmth)}, score {_signed(score)}); {mode} music goes with "
                + (
                    "lighter, more saturated, yellower colours"
                    if score > 0
                    else "darker, greyer, bluer colours"
                )
            ),
        )

    q = {**m, **values, "warmth_gated": warmth}
    q.update({f"z_{f}": _z(f, raw[f]) for f in T.FEATURE_SCALES})
    tags = [tag for tag, conditions in T.MOOD_TAG_RULES if _holds(conditions, q)]
    if tags:
        proposals["mood_tags"] = Proposal(
            value=tags,
            confidence=T.MOOD_TAG_CONFIDENCE,
            reason=(
                f"mood tags {', '.join(tags)}: brightness {m['brightness']:.2f}, colourfulness "
                f"{m['colourfulness']:.0f}, warmth {_signed(warmth)}, contrast {m['contrast']:.2f}, "
                f"valence {_signed(values['valence'])}, arousal {_signed(values['arousal'])}"
            ),
        )

    fired = [(name, names) for name, conditions, names in T.TIMBRE_RULES if _holds(conditions, q)]
    suggested: list[str] = []
    for _, names in fired:
        suggested.extend(n for n in names if n not in suggested)
    if not suggested:
        suggested = list(T.NEUTRAL_TIMBRES)
    why = ", ".join(name for name, _ in fired) or "no strong colour character"
    proposals["instruments_suggest"] = Proposal(
        value=suggested[: T.MAX_SUGGESTED],
        confidence=T.TIMBRE_CONFIDENCE,
        reason=(
            f"instruments {', '.join(suggested[: T.MAX_SUGGESTED])}: {why} image (saturation "
            f"{m['saturation']:.2f}, contrast {m['contrast']:.2f}, warmth {_signed(warmth)}, "
            f"brightness {m['brightness']:.2f})"
        ),
    )

    hue = hue_name(m["dominant_hue_deg"])
    caption = _caption_hint(m, hue)
    proposals["caption_hint"] = Proposal(
        value=caption,
        confidence=T.CAPTION_CONFIDENCE,
        reason=(
            f"caption from brightness {m['brightness']:.2f}, dominant hue {hue} "
            f"({m['dominant_hue_share']:.0%} of colour), colourfulness {m['colourfulness']:.0f} "
            f"({colourfulness_level(m['colourfulness'])}), contrast {m['contrast']:.2f}"
        ),
    )
    return proposals


# ==================================================================================================
# The perceiver
# ==================================================================================================
def perceive_image(path: str | Path) -> Perception:
    """Perceive one image: measure colour, light and texture, and propose brief attributes.

    Parameters
    ----------
    path : str or Path
        An image file (JPEG, PNG, WebP, GIF, BMP, TIFF, ...). Large images are analysed downscaled.

    Returns
    -------
    Perception
        ``observation`` (source "image", the file name, a one-line summary, and every measurement
        rounded to 3 decimals) and ``proposals`` keyed as in :mod:`weavewave.perceive`.

    Raises
    ------
    BadInputError
        With one line naming the file and what to do, for any unusable input.
    """
    p = Path(path)
    rgb, (width, height) = _load(p, max_side=T.MAX_SIDE)
    m = measure(rgb)
    proposals = propose(m)

    hue = hue_name(m["dominant_hue_deg"])
    measurements: dict[str, Any] = {k: round(v, 3) for k, v in m.items()}
    measurements.update(
        {
            "dominant_hue": hue,
            "colourfulness_level": colourfulness_level(m["colourfulness"]),
            "original_width": width,
            "original_height": height,
            "analysed_width": int(rgb.shape[1]),
            "analysed_height": int(rgb.shape[0]),
        }
    )
    v = proposals["valence"].value
    a = proposals["arousal"].value
    summary = (
        f"{width}x{height} image, brightness {m['brightness']:.2f}, saturation "
        f"{m['saturation']:.2f}, {hue} dominant, contrast {m['contrast']:.2f}, edges "
        f"{m['edge_density']:.2f} -> valence {v:+.2f}, arousal {a:+.2f}"
    )
    observation = Observation(source="image", input=p.name, summary=summary, measurements=measurements)
    return Perception(observation=observation, proposals=proposals)

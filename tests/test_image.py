"""The image perceiver: loading, measurements on real photos, the mapping table, and bad input."""

from __future__ import annotations

import json
import os
import time

import numpy as np
import pytest
from PIL import Image, ImageFile

from weavewave.brief import Observation
from weavewave.errors import BadInputError
from weavewave.music.instruments import resolve_instrument
from weavewave.perceive import image_table as T
from weavewave.perceive.image import hue_name, load_image, measure, perceive_image

BRIDGE_KEYS = {
    "valence",
    "arousal",
    "energy",
    "register",
    "density",
    "tempo_bpm",
    "key",
    "mode",
    "meter",
    "duration_s",
    "genre",
    "instruments_add",
    "instruments_only",
    "instruments_exclude",
    "instruments_suggest",
    "mood_tags",
    "caption_hint",
}


def _save(tmp_path, name, array_or_image, **kwargs):
    im = array_or_image if isinstance(array_or_image, Image.Image) else Image.fromarray(array_or_image)
    path = tmp_path / name
    im.save(path, **kwargs)
    return path


def _flat(rgb, size=(96, 128)):
    return np.full((*size, 3), rgb, dtype=np.uint8)


# --- real photographs ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def photos(skimage_data):
    names = (
        "astronaut.png",
        "coffee.png",
        "chelsea.png",
        "rocket.jpg",
        "hubble_deep_field.jpg",
        "camera.png",
    )
    return {n.split(".")[0]: perceive_image(skimage_data / n) for n in names}


def test_greyscale_photo_has_no_colour(photos):
    m = photos["camera"].observation.measurements
    assert m["saturation"] == pytest.approx(0.0, abs=1e-3)
    assert m["colourfulness"] == pytest.approx(0.0, abs=1e-3)
    assert m["warmth"] == 0.0 and m["dominant_hue"] == "neutral"
    assert "monochrome" in photos["camera"].proposals["mood_tags"].value
    assert "black-and-white" in photos["camera"].proposals["caption_hint"].value
    # Camera is a contrasty, mid-grey photograph.
    assert 0.4 < m["brightness"] < 0.65 and m["contrast"] > 0.25


def test_dark_photo_is_darker_and_less_pleasant_than_bright_ones(photos):
    hubble = photos["hubble_deep_field"]
    for other in ("coffee", "astronaut"):
        assert (
            hubble.observation.measurements["brightness"]
            < photos[other].observation.measurements["brightness"] - 0.2
        )
        assert hubble.proposals["valence"].value < photos[other].proposals["valence"].value - 0.3
        assert hubble.proposals["register"].value < photos[other].proposals["register"].value
    assert hubble.observation.measurements["brightness"] < 0.15
    assert "dark" in hubble.proposals["mood_tags"].value
    assert hubble.proposals["mode"].value == "minor"


def test_warm_and_cool_photos(photos):
    coffee = photos["coffee"].observation.measurements
    rocket = photos["rocket"].observation.measurements
    assert coffee["warmth"] > 0.5 and coffee["dominant_hue"] in ("orange", "red")
    assert coffee["colour_heat"] > 0  # Ou et al. colour heat agrees with the hue-share warmth
    assert rocket["warmth"] < -0.3 and rocket["dominant_hue"] == "blue"
    assert rocket["colour_heat"] < coffee["colour_heat"]
    # Coffee is a saturated, quite colourful photo (Hasler & Suesstrunk M > 59).
    assert coffee["saturation"] > 0.5 and coffee["colourfulness"] > 59
    assert photos["coffee"].proposals["arousal"].value > photos["camera"].proposals["arousal"].value
    assert "warm" in photos["coffee"].proposals["mood_tags"].value
    assert "cool" in photos["rocket"].proposals["mood_tags"].value


def test_observation_holds_rounded_measurements_and_sizes(photos, skimage_data):
    obs = photos["astronaut"].observation
    assert isinstance(obs, Observation) and obs.source == "image" and obs.input == "astronaut.png"
    assert "\n" not in obs.summary
    m = obs.measurements
    for key in (
        "brightness",
        "saturation",
        "colourfulness",
        "warmth",
        "contrast",
        "edge_density",
        "complexity",
        "orientation_entropy",
        "fine_detail",
        "colour_heat",
    ):
        assert isinstance(m[key], float) and round(m[key], 3) == m[key]
    assert (m["original_width"], m["original_height"]) == (512, 512)
    hubble = photos["hubble_deep_field"].observation.measurements
    with Image.open(skimage_data / "hubble_deep_field.jpg") as im:
        assert (hubble["original_width"], hubble["original_height"]) == im.size
    assert max(hubble["analysed_width"], hubble["analysed_height"]) <= T.MAX_SIDE
    json.dumps(m, allow_nan=False)  # goes into brief.json as is


def test_proposals_follow_the_bridge_contract(photos):
    for name, p in photos.items():
        assert set(p.proposals) <= BRIDGE_KEYS, name
        for key in ("valence", "arousal", "register"):
            assert -1.0 <= p.proposals[key].value <= 1.0
        for key in ("energy", "density"):
            assert 0.0 <= p.proposals[key].value <= 1.0
        for key, prop in p.proposals.items():
            assert 0.4 <= prop.confidence <= 0.7, (name, key)
            assert prop.reason and "\n" not in prop.reason
        suggested = p.proposals["instruments_suggest"].value
        assert 1 <= len(suggested) <= T.MAX_SUGGESTED
        assert all(resolve_instrument(n) == n for n in suggested)
        assert p.proposals["caption_hint"].value.startswith("inspired by a")
        if "mode" in p.proposals:
            assert p.proposals["mode"].value in ("major", "minor")


def test_reason_quotes_the_numbers(photos):
    reason = photos["hubble_deep_field"].proposals["arousal"].reason
    m = photos["hubble_deep_field"].observation.measurements
    assert reason.startswith(f"arousal {photos['hubble_deep_field'].proposals['arousal'].value:+.2f}:")
    assert f"saturation {m['saturation']:.2f}" in reason


# --- synthetic images: the table's directions ----------------------------------------------------
def test_bright_yellow_versus_dark_blue(tmp_path):
    yellow = perceive_image(_save(tmp_path, "yellow.png", _flat((250, 220, 40))))
    blue = perceive_image(_save(tmp_path, "blue.png", _flat((45, 50, 62))))
    ym, bm = yellow.observation.measurements, blue.observation.measurements
    assert ym["brightness"] > 0.8 > 0.3 > bm["brightness"]
    assert ym["warmth"] == 1.0 and bm["warmth"] == -1.0
    assert ym["dominant_hue"] == "yellow" and bm["dominant_hue"] == "blue"
    for key in ("valence", "arousal", "energy", "register"):
        assert yellow.proposals[key].value > blue.proposals[key].value + 0.3, key
    assert yellow.proposals["valence"].value > 0.5 and blue.proposals["valence"].value < -0.5
    assert yellow.proposals["mode"].value == "major" and blue.proposals["mode"].value == "minor"
    assert {"bright", "warm"} <= set(yellow.proposals["mood_tags"].value)
    assert {"dark", "cool"} <= set(blue.proposals["mood_tags"].value)
    assert "Celesta" in yellow.proposals["instruments_suggest"].value
    assert "Cello" in blue.proposals["instruments_suggest"].value
    assert blue.proposals["caption_hint"].value.startswith("inspired by a dark, muted, blue-toned image")


def test_noise_is_busier_than_a_flat_image():
    rng = np.random.default_rng(0)
    noise = rng.random((128, 128, 3), dtype=np.float32)
    flat = np.full((128, 128, 3), 0.5, dtype=np.float32)
    mn, mf = measure(noise), measure(flat)
    assert mf["edge_density"] == 0.0 and mf["complexity"] == 0.0 and mf["contrast"] == 0.0
    assert mn["edge_density"] > 0.5 and mn["complexity"] > 0.8 and mn["orientation_entropy"] > 0.95
    assert mn["fine_detail"] > 0.5 > mf["fine_detail"]


def test_density_follows_texture(tmp_path):
    rng = np.random.default_rng(1)
    busy = perceive_image(_save(tmp_path, "busy.png", rng.integers(0, 256, (128, 128, 3), np.uint8)))
    calm = perceive_image(_save(tmp_path, "calm.png", _flat((128, 128, 128))))
    assert busy.proposals["density"].value > 0.8 and calm.proposals["density"].value < 0.2
    assert "busy" in busy.proposals["mood_tags"].value and "sparse" in calm.proposals["mood_tags"].value


def test_measure_rejects_wrong_shapes():
    with pytest.raises(BadInputError, match=r"\(h, w, 3\)"):
        measure(np.zeros((8, 8)))


def test_hue_names():
    assert [hue_name(d) for d in (0, 30, 55, 120, 180, 220, 270, 320, 350, -1)] == [
        "red",
        "orange",
        "yellow",
        "green",
        "teal",
        "blue",
        "purple",
        "magenta",
        "red",
        "neutral",
    ]


# --- loading -------------------------------------------------------------------------------------
def test_large_jpeg_is_analysed_downscaled(tmp_path):
    im = Image.new("RGB", (6000, 4000), (200, 120, 40))
    im.paste((30, 60, 160), (0, 0, 3000, 4000))
    path = _save(tmp_path, "big.jpg", im, quality=85)
    start = time.perf_counter()
    p = perceive_image(path)
    elapsed = time.perf_counter() - start
    m = p.observation.measurements
    assert (m["original_width"], m["original_height"]) == (6000, 4000)
    assert (m["analysed_width"], m["analysed_height"]) == (512, 341)
    assert "6000x4000" in p.observation.summary
    assert elapsed < 2.0  # draft mode: a full 24 MP decode plus resize would be far slower on CI too


def test_exif_orientation_is_applied(tmp_path):
    stored = np.zeros((30, 60, 3), np.uint8)
    stored[:, :30] = (220, 30, 30)  # red left half
    stored[:, 30:] = (30, 30, 220)  # blue right half
    exif = Image.Exif()
    exif[0x0112] = 6  # display rotated 90 degrees clockwise
    path = _save(tmp_path, "rotated.jpg", stored, exif=exif, quality=95)
    rgb = load_image(path)
    assert rgb.shape == (60, 30, 3)  # portrait after rotation
    assert rgb[5, 15, 0] > 0.6 > rgb[5, 15, 2]  # red on top
    assert rgb[-5, 15, 2] > 0.6 > rgb[-5, 15, 0]  # blue at the bottom
    m = perceive_image(path).observation.measurements
    assert (m["original_width"], m["original_height"]) == (30, 60)


@pytest.mark.parametrize(
    ("mode", "expected_brightness"),
    [("L", 0.5), ("P", 0.5), ("RGBA", 1.0), ("LA", 1.0), ("CMYK", None), ("I;16", 0.5), ("1", None)],
    ids=["grey", "palette", "transparent-rgba", "transparent-la", "cmyk", "16-bit", "bilevel"],
)
def test_image_modes(tmp_path, mode, expected_brightness):
    grey = Image.new("RGB", (40, 30), (119, 119, 119))  # sRGB 119 is L* ~ 50
    if mode == "RGBA":
        im = Image.new("RGBA", (40, 30), (0, 0, 0, 0))  # fully transparent: seen on white
    elif mode == "LA":
        im = Image.new("LA", (40, 30), (0, 0))
    elif mode == "I;16":
        im = Image.fromarray(np.full((30, 40), 119 * 257, np.uint16))
    else:
        im = grey.convert(mode)
    suffix = ".jpg" if mode == "CMYK" else ".png"
    path = _save(tmp_path, f"img-{mode.replace(';', '')}{suffix}", im)
    rgb = load_image(path)
    assert rgb.shape == (30, 40, 3) and rgb.dtype == np.float32
    assert 0.0 <= rgb.min() and rgb.max() <= 1.0
    m = perceive_image(path).observation.measurements
    if expected_brightness is not None:
        assert m["brightness"] == pytest.approx(expected_brightness, abs=0.02)


def test_load_image_respects_max_side(skimage_data):
    rgb = load_image(skimage_data / "astronaut.png", max_side=100)
    assert rgb.shape == (100, 100, 3)


def test_decompression_bomb_policy(tmp_path, monkeypatch):
    png = _save(tmp_path, "wide.png", _flat((10, 20, 30), size=(100, 100)))
    jpg = _save(tmp_path, "wide.jpg", _flat((10, 20, 30), size=(100, 100)))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 6000)  # 10,000 px is now "huge"
    with pytest.raises(BadInputError, match=r"wide\.png is 100x100 .*safety limit"):
        perceive_image(png)
    assert perceive_image(jpg).observation.measurements["original_width"] == 100  # drafted, allowed
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 4000)  # over twice the limit: Pillow refuses
    with pytest.raises(BadInputError, match=r"wide\.jpg is too large"):
        perceive_image(jpg)


# --- bad input -----------------------------------------------------------------------------------
def _one_line_error(path, *needles):
    with pytest.raises(BadInputError) as info:
        perceive_image(path)
    message = str(info.value)
    assert "\n" not in message and path.name in message
    for needle in needles:
        assert needle in message
    return message


def test_missing_file(tmp_path):
    _one_line_error(tmp_path / "nope.jpg", "not found")


def test_directory(tmp_path):
    folder = tmp_path / "photos.png"
    folder.mkdir()
    _one_line_error(folder, "is a directory")


def test_text_renamed_png(tmp_path):
    fake = tmp_path / "x.png"
    fake.write_text("this is not a picture\n")
    _one_line_error(fake, "is not an image Pillow can read", "pass a JPEG, PNG, WebP")


def test_empty_file(tmp_path):
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    _one_line_error(empty, "empty")


def test_truncated_jpeg(tmp_path, skimage_data):
    data = (skimage_data / "rocket.jpg").read_bytes()
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(data[: len(data) // 2])
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    _one_line_error(cut, "truncated or corrupt")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads anything")
def test_unreadable_file(tmp_path):
    locked = _save(tmp_path, "locked.png", _flat((1, 2, 3)))
    locked.chmod(0)
    try:
        _one_line_error(locked, "permission denied")
    finally:
        locked.chmod(0o644)


def test_permission_error_is_reported(tmp_path, monkeypatch):
    path = _save(tmp_path, "secret.png", _flat((1, 2, 3)))

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(Image, "open", refuse)  # runs as root too, where chmod 0 does not stop reads
    _one_line_error(path, "permission denied", "check the file's permissions")


def test_cut_header_is_corrupt_not_unreadable(tmp_path, skimage_data):
    cut = tmp_path / "stub.jpg"
    cut.write_bytes((skimage_data / "rocket.jpg").read_bytes()[:300])
    _one_line_error(cut, "truncated or corrupt")


def test_docs_print_the_table_the_code_uses():
    import pathlib

    doc = (pathlib.Path(__file__).parents[1] / "docs" / "PERCEPTION.md").read_text(encoding="utf-8")
    for mapping in T.MAPPINGS:
        for term in mapping.terms:
            assert f"| {mapping.attribute} | {term.feature} | {term.weight:+.2f} |" in doc
    for feature, (centre, half) in T.FEATURE_SCALES.items():
        if feature != "arousal":
            assert f"| {feature} | {centre:g} | {half:g} |" in doc


# --- determinism and speed -----------------------------------------------------------------------
def test_deterministic(skimage_data):
    a = perceive_image(skimage_data / "chelsea.png")
    b = perceive_image(skimage_data / "chelsea.png")
    assert a.observation == b.observation and a.proposals == b.proposals


def test_fast_after_import(skimage_data):
    perceive_image(skimage_data / "coffee.png")  # warm caches
    start = time.perf_counter()
    perceive_image(skimage_data / "coffee.png")
    assert time.perf_counter() - start < 0.5  # ~50 ms measured; generous for loaded CI machines

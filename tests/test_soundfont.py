"""SoundFont choice (issue 11 point 4): the preference order, the record of the font used, the Makefile's
optional install, and the pure helpers of bench/bench_soundfont.py. Only the bundled font is needed."""

from __future__ import annotations

import importlib.util
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from weavewave.generators.symbolic import soundfont as soundfont_module
from weavewave.generators.symbolic.soundfont import find_soundfont

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("bench_soundfont", ROOT / "bench" / "bench_soundfont.py")
bs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bs)
SR = 48000


@pytest.fixture
def bundled(monkeypatch) -> Path:
    monkeypatch.delenv(soundfont_module.SOUNDFONT_ENV, raising=False)
    monkeypatch.setattr(soundfont_module, "SYSTEM_SOUNDFONTS", ())
    return find_soundfont()


# --- preference ----------------------------------------------------------------------------------
def test_musescore_general_is_preferred_over_fluidr3_then_the_system_default():
    names = [Path(p).name for p in soundfont_module.SYSTEM_SOUNDFONTS]
    assert (
        names.index("MuseScore_General_Full.sf2")
        < names.index("FluidR3_GM.sf2")
        < names.index("default-GM.sf2")
    )


def test_the_first_installed_system_font_wins(tmp_path, monkeypatch, bundled):
    musescore, fluid = tmp_path / "MuseScore_General_Full.sf2", tmp_path / "FluidR3_GM.sf2"
    shutil.copy(bundled, fluid)
    monkeypatch.setattr(soundfont_module, "SYSTEM_SOUNDFONTS", (str(musescore), str(fluid)))
    assert find_soundfont() == fluid  # MuseScore absent: the next one
    shutil.copy(bundled, musescore)
    assert find_soundfont() == musescore
    monkeypatch.setenv(soundfont_module.SOUNDFONT_ENV, str(bundled))
    assert find_soundfont() == bundled  # the user's choice still wins


def test_the_suite_renders_with_the_bundled_font_even_where_a_system_font_is_installed(tmp_path, monkeypatch):
    # conftest pins WEAVEWAVE_SOUNDFONT, so `make test` after `make demo` (which may install MuseScore General)
    # keeps the bundled font's sound and speed.
    system = tmp_path / "MuseScore_General_Full.sf2"
    shutil.copy(find_soundfont(), system)
    monkeypatch.setattr(soundfont_module, "SYSTEM_SOUNDFONTS", (str(system),))
    assert find_soundfont().name == soundfont_module.BUNDLED_SOUNDFONT


def test_track_stats_name_the_font_used(tmp_path, bundled):
    from weavewave import describe
    from weavewave.generators.symbolic import SymbolicGenerator

    mine = tmp_path / "mine.sf2"
    shutil.copy(bundled, mine)
    brief = describe(text="a calm piano piece", duration=4, seed=0)
    assert SymbolicGenerator().generate(brief).stats["soundfont"] == bundled.name
    assert SymbolicGenerator(soundfont=mine).generate(brief).stats["soundfont"] == "mine.sf2"


def test_make_demo_installs_a_soundfont_and_make_test_does_not():
    makefile = (ROOT / "Makefile").read_text()
    deps = {m.group(1): m.group(2).split() for m in re.finditer(r"^([a-z]+):([^=\n]*)$", makefile, re.M)}
    assert "soundfont" in deps["demo"]
    assert "soundfont" not in deps["test"] and "soundfont" not in deps["install"]
    recipe = makefile.split("\nsoundfont:\n", 1)[1].split("\n\n", 1)[0]
    assert "musescore-general-soundfont-lossless" in makefile and "|| \\\n\techo" in recipe  # never fatal


# --- bench helpers ---------------------------------------------------------------------------------
def test_read_presets_of_the_bundled_font(bundled):
    presets = bs.read_presets(bundled)
    assert all((0, p) in presets for p in range(128))  # a full GM bank
    kit = presets[(bs.GM_DRUM_BANK, 0)]
    assert set(range(35, 82)) <= kit["keys"]  # the GM percussion map
    piano = presets[(0, 0)]
    assert piano["samples"] and piano["sample_bytes"] > 0 and 8000 <= piano["max_rate"] <= 48000
    # TimGM6mb plays the two pads with one sample set: what the comparison counts as an alias.
    assert presets[(0, 89)]["samples"] == presets[(0, 90)]["samples"]


def test_read_presets_refuses_a_non_soundfont(tmp_path):
    bad = tmp_path / "x.sf2"
    bad.write_bytes(b"RIFF\x04\x00\x00\x00WAVE")
    with pytest.raises(ValueError, match="not an SF2"):
        bs.read_presets(bad)


def test_program_coverage_counts_missing_aliased_and_drum_keys():
    def preset(samples, keys=range(128)):  # noqa: ANN001, ANN202
        return {
            "name": "x",
            "samples": frozenset(samples),
            "keys": frozenset(keys),
            "sample_bytes": 100 * len(samples),
            "max_rate": 22050,
        }

    presets = {
        (0, 0): preset({1, 2}),
        (0, 1): preset({1, 2}),
        (0, 2): preset({3}),
        (128, 0): preset({9}, keys=range(35, 60)),
    }
    c = bs.program_coverage(presets, {0, 2, 5}, {36, 38, 70})
    assert c["missing_programs"] == [5]
    assert c["aliased_programs"] == {0: [1]}
    assert c["missing_drum_keys"] == [70]
    assert c["samples_per_program"] == 1.5 and c["max_sample_rate"] == 22050


def _tone(hz: float, seconds: float = 1.0, offset: float = 0.0) -> np.ndarray:
    t = np.arange(int(SR * seconds)) / SR
    mono = 0.5 * np.sin(2 * np.pi * hz * t) + offset
    return np.stack([mono, mono], axis=1).astype(np.float32)


def test_spectral_measures_of_pure_tones():
    low, mid, high = (bs.spectral_measures(_tone(hz), SR) for hz in (60.0, 1000.0, 15000.0))
    assert mid["centroid_hz"] == pytest.approx(1000, rel=0.02)
    assert mid["bandwidth_hz"] < 50 and mid["high_share"] < 1e-3 and mid["air_db"] < -60
    assert low["low_share"] > 0.99 and mid["low_share"] < 1e-3
    assert high["high_share"] > 0.99 and high["air_db"] > -0.1 and high["rolloff_hz"] > 14000
    assert mid["subsonic_share"] < 1e-3 and mid["dc"] < 1e-3


def test_a_dc_offset_shows_as_subsonic_energy_and_is_flagged():
    shifted = _tone(440.0, offset=0.3)
    m = bs.spectral_measures(shifted, SR)
    assert m["dc"] == pytest.approx(0.3, abs=1e-3) and m["subsonic_share"] > 0.3
    assert bs.has_dc_offset(shifted) and not bs.has_dc_offset(_tone(440.0))
    assert not bs.has_dc_offset(np.zeros((100, 2), np.float32))


def test_role_spread():
    assert bs.role_spread({"melody": -17.0, "bass": -21.5, "drums": None}) == 4.5
    assert bs.role_spread({"melody": -17.0}) is None

"""The symbolic backend passes the generator contract; the Track, save_track and the brief's record."""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import pytest

from generator_contract import GeneratorContract, contract_brief
from weavewave.brief import GeneratorRecord, MusicBrief
from weavewave.errors import BadInputError
from weavewave.export.track import save_track
from weavewave.generators import Track, generator_from_brief, get_generator


class TestSymbolicContract(GeneratorContract):
    backend = "symbolic"


def test_a_track_holds_only_the_piece(tmp_path):
    assert [f.name for f in fields(Track)] == [
        "audio",
        "sample_rate",
        "brief",
        "arrangement",
        "stems",
        "stats",
    ]
    track = Track(audio=np.zeros((480, 2), np.float32), sample_rate=48000, brief=contract_brief())
    with pytest.raises(BadInputError, match="--video"):
        save_track(track, tmp_path / "out", keep_audio=True)
    assert not (tmp_path / "out").exists()


def test_the_record_names_the_soundfont():
    from weavewave.generators.symbolic.soundfont import find_soundfont

    record = get_generator("symbolic").generate(contract_brief(1.0)).brief.generator
    assert record == GeneratorRecord(backend="symbolic", options={"soundfont": find_soundfont().name})


def test_a_brief_from_before_records_loads_and_gets_the_default():
    old = contract_brief().to_dict()
    del old["generator"]
    brief = MusicBrief.from_dict(old)
    assert brief.generator is None
    assert generator_from_brief(brief).name == "symbolic"


def test_a_soundfont_missing_here_is_refused_and_an_explicit_one_wins(tmp_path):
    record = GeneratorRecord(backend="symbolic", options={"soundfont": "NoSuchFont.sf2"})
    brief = contract_brief().model_copy(update={"generator": record})
    with pytest.raises(BadInputError, match="NoSuchFont.sf2.*--soundfont"):
        generator_from_brief(brief)
    from weavewave.generators.symbolic.soundfont import find_soundfont

    assert generator_from_brief(brief, soundfont=str(find_soundfont())).soundfont == str(find_soundfont())


def test_unknown_backend_names_the_choices():
    with pytest.raises(BadInputError, match="unknown backend 'nope': use 'symbolic' or 'musicgen' or 'flow'"):
        get_generator("nope")

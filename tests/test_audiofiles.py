"""Finding music on disk: folder walks, content hashes and tags of real files written here."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from weavewave.errors import BadInputError
from weavewave.io.audiofiles import content_hash, find_audio_files, read_tags

SR = 22050


def _tone(path, hz: float = 440.0, fmt: str | None = None) -> None:
    t = np.arange(SR) / SR
    sf.write(str(path), (0.3 * np.sin(2 * np.pi * hz * t)).astype(np.float32), SR, format=fmt)


def test_walks_folders_takes_audio_and_lists_what_it_skipped(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / ".hidden").mkdir()
    _tone(tmp_path / "a" / "one.wav")
    _tone(tmp_path / "a" / "b" / "two.FLAC", fmt="FLAC")
    _tone(tmp_path / ".hidden" / "secret.wav")
    (tmp_path / "a" / "notes.txt").write_text("not music")
    (tmp_path / "cover.jpg").write_bytes(b"\xff\xd8")

    files, skipped = find_audio_files(
        [tmp_path, tmp_path / "a" / "one.wav", tmp_path / "cover.jpg", tmp_path / "missing"]
    )
    # each once, sorted by path, hidden folders left out
    assert [f.relative_to(tmp_path.resolve()).as_posix() for f in files] == ["a/b/two.FLAC", "a/one.wav"]
    reasons = {s.path.name: s.reason for s in skipped}
    assert "not an audio file" in reasons["cover.jpg"]
    assert reasons["missing"] == "no such file or folder"

    flat, _ = find_audio_files([tmp_path / "a"], recursive=False)
    assert [f.name for f in flat] == ["one.wav"]


def test_no_paths_is_a_clear_error():
    with pytest.raises(BadInputError, match="no paths given"):
        find_audio_files([])


def test_content_hash_follows_the_bytes_not_the_name(tmp_path):
    _tone(tmp_path / "x.wav")
    (tmp_path / "y.wav").write_bytes((tmp_path / "x.wav").read_bytes())
    _tone(tmp_path / "z.wav", hz=330.0)
    assert content_hash(tmp_path / "x.wav") == content_hash(tmp_path / "y.wav")
    assert content_hash(tmp_path / "x.wav") != content_hash(tmp_path / "z.wav")
    assert len(content_hash(tmp_path / "x.wav")) == 64


def test_reads_flac_and_mp3_tags(tmp_path):
    from mutagen.easyid3 import EasyID3
    from mutagen.flac import FLAC

    _tone(tmp_path / "song.flac", fmt="FLAC")
    tagged = FLAC(str(tmp_path / "song.flac"))
    tagged["title"] = "Harbour"
    tagged["artist"] = ["Ana", "Ben"]
    tagged["genre"] = "Lo-fi"
    tagged.save()
    assert read_tags(tmp_path / "song.flac") == {"title": "Harbour", "artist": "Ana; Ben", "genre": "Lo-fi"}

    _tone(tmp_path / "song.mp3", fmt="MP3")
    id3 = EasyID3()
    id3["title"] = "Night Walk"
    id3["bpm"] = "92"
    id3.save(str(tmp_path / "song.mp3"))
    assert read_tags(tmp_path / "song.mp3") == {"title": "Night Walk", "bpm": "92"}


def test_untagged_or_damaged_files_give_no_tags(tmp_path):
    _tone(tmp_path / "plain.wav")
    (tmp_path / "broken.mp3").write_bytes(b"ID3\x04\x00\x00\xff\xff\xff\xffgarbage")
    assert read_tags(tmp_path / "plain.wav") == {}
    assert read_tags(tmp_path / "broken.mp3") == {}


def test_only_missing_paths_is_a_clear_error(tmp_path):
    # a mistyped folder is said, not reported as "no audio files" or "added 0 tracks"
    with pytest.raises(BadInputError, match=r"no such file or folder: .*nope"):
        find_audio_files([tmp_path / "nope"])
    files, skipped = find_audio_files([tmp_path / "nope", tmp_path])  # one real folder: the rest skipped
    assert files == [] and [s.path.name for s in skipped] == ["nope"]

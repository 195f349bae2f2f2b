"""io.video: the one video reader. Frames come out upright (a phone video's display rotation is applied)
for every reader, the MLLM's frame sampler included, and bad files are one-line BadInputErrors."""

from __future__ import annotations

import numpy as np
import pytest

from video_media import PHOTOS, Shot, make_video  # tests/ is on sys.path (pytest's rootdir import mode)
from weavewave.errors import BadInputError
from weavewave.io.video import probe_video, sample_frames

pytest.importorskip("av")

SIZE = (160, 120)  # width, height as encoded


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict:
    d = tmp_path_factory.mktemp("io_video")
    shots = [Shot(PHOTOS[0], 25), Shot(PHOTOS[1], 25)]
    out = {}
    for name, rotate in (("plain", 0), ("rot90", 90), ("rot270", 270)):
        out[name] = d / f"{name}.mp4"
        make_video(out[name], shots, size=SIZE, rotate=rotate)
    return out


def test_frames_of_a_landscape_video_are_landscape(clips):
    frames = sample_frames(clips["plain"], 2, max_side=768)
    assert [f.size for f in frames] == [SIZE, SIZE]
    # one frame from each shot: two different photographs
    assert np.abs(np.asarray(frames[0], np.int16) - np.asarray(frames[1], np.int16)).mean() > 10


@pytest.mark.parametrize(("name", "turns"), [("rot90", -1), ("rot270", 1)], ids=["90", "270"])
def test_frames_of_a_rotated_video_are_upright(clips, name, turns):
    """The same pictures with a display matrix: the sampler turns them as a player would show them."""
    plain = sample_frames(clips["plain"], 2, max_side=768)
    rotated = sample_frames(clips[name], 2, max_side=768)
    assert [f.size for f in rotated] == [SIZE[::-1], SIZE[::-1]]  # portrait now
    for a, b in zip(plain, rotated, strict=True):
        expected = np.rot90(np.asarray(a), k=turns)  # k=-1: a quarter turn clockwise
        assert np.array_equal(np.asarray(b), expected)


def test_frames_are_scaled_to_max_side(clips):
    (frame,) = sample_frames(clips["rot90"], 1, max_side=80)
    assert frame.size == (60, 80)


def test_the_mllm_reads_frames_through_this_reader():
    from weavewave.io import video
    from weavewave.perceive import mllm

    assert mllm.sample_frames is video.sample_frames


def test_bad_files_are_bad_input(tmp_path):
    with pytest.raises(BadInputError, match="not found"):
        sample_frames(tmp_path / "missing.mp4", 2, max_side=64)
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(BadInputError, match="empty"):
        sample_frames(empty, 2, max_side=64)
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 100)
    with pytest.raises(BadInputError, match="cannot read junk.mp4"):
        probe_video(junk)

"""`weavewave annotate --images DIR`: real photos paired with segments in one embedding space."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

pytest.importorskip("librosa")

from annotate_data import build_music_folder  # noqa: E402
from weavewave.errors import BadInputError  # noqa: E402
from weavewave.train.annotate import annotate  # noqa: E402

# a sad, slow track and a bright, fast one: their captions carry opposite mood words
TRACKS = {"slow": (72.0, "A minor", 12.0), "fast": (140.0, "D major", 12.0)}
DARK_PHOTOS = {"hubble_deep_field.jpg", "rocket.jpg"}  # perceived dark, melancholic
BRIGHT_PHOTO = "coffee.png"  # perceived warm, vivid, joyful


@pytest.fixture(scope="module")
def paired(tmp_path_factory, skimage_data):
    root = tmp_path_factory.mktemp("pairing")
    music = build_music_folder(root / "music", TRACKS)
    photos = root / "photos"
    (photos / "more").mkdir(parents=True)
    shutil.copy(skimage_data / BRIGHT_PHOTO, photos / BRIGHT_PHOTO)
    shutil.copy(skimage_data / "hubble_deep_field.jpg", photos / "hubble_deep_field.jpg")
    shutil.copy(skimage_data / "rocket.jpg", photos / "more" / "rocket.jpg")  # folders are searched
    (photos / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    (photos / "notes.txt").write_text("not a photo: left alone")
    out = root / "ds"
    summary = annotate([music], out, segment=6, images=photos)
    rows = [json.loads(line) for line in (out / "data" / "train.jsonl").read_text().splitlines()]
    return out, summary, rows


def test_each_segment_gets_the_photo_whose_mood_matches(paired):
    out, summary, rows = paired
    assert summary.images == 3 and summary.paired == 4 and len(rows) == 4
    for row in rows:
        assert (out / row["image"]).is_file() and row["image"].startswith("images/")
        assert -1.0 <= row["image_score"] <= 1.0
        assert "paired: the nearest of 3 photos" in json.loads(row["provenance"])["image"]
        if row["source"] == "slow.wav":
            assert row["image_source"] in DARK_PHOTOS, row["caption"]
        else:
            assert row["image_source"] == BRIGHT_PHOTO, row["caption"]
    # one copy per photo, named by content: the two segments of a track share it
    assert len({r["image"] for r in rows}) == len(list((out / "images").iterdir())) == 2
    assert "segments paired with the nearest of 3 photos" in (out / "README.md").read_text()


def test_unreadable_photos_are_skipped_and_listed(paired):
    out, summary, _ = paired
    assert [s["path"].rsplit("/", 1)[-1] for s in summary.skipped] == ["broken.png"]
    listed = [json.loads(line) for line in (out / "skipped.jsonl").read_text().splitlines()]
    assert listed[0]["reason"].startswith("image: ") and "broken.png" in (out / "README.md").read_text()


def test_datasets_loads_the_image_columns(paired):
    datasets = pytest.importorskip("datasets")
    out, _, _ = paired
    ds = datasets.load_dataset(str(out), split="train", cache_dir=str(out.parent / "hf-cache"))
    assert {"image", "image_source", "image_score"} <= set(ds.column_names)
    assert all(isinstance(s, float) for s in ds["image_score"])


def test_rows_without_photos_keep_the_columns_empty(tmp_path):
    music = build_music_folder(tmp_path / "music", {"one": (100.0, "C major", 6.0)})
    annotate([music], tmp_path / "ds", segment=6)
    row = json.loads((tmp_path / "ds" / "data" / "train.jsonl").read_text().splitlines()[0])
    assert row["image"] is None and row["image_score"] is None


def test_an_images_path_that_is_no_folder_is_one_line(tmp_path):
    music = build_music_folder(tmp_path / "music", {"one": (100.0, "C major", 6.0)})
    with pytest.raises(BadInputError, match="--images .*no such folder"):
        annotate([music], tmp_path / "ds", images=tmp_path / "nope")
    proc = subprocess.run([sys.executable, "-m", "weavewave.cli", "annotate", str(music), "--out",
                           str(tmp_path / "ds2"), "--images", str(tmp_path / "nope"), "-q"],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 2 and proc.stderr.strip().count("\n") == 0 and "--images" in proc.stderr

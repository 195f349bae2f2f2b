"""`weavewave annotate --images DIR --clip-model M --clap-model M`: pairing through CLIP and CLAP weights.

Tiny random models saved to disk and loaded through weavewave's loaders: the pairs they pick are noise, so
these tests check the plumbing (loading, which photo, the score as the mean of the two cosines, the
records), never which photo a real model would choose.
"""

from __future__ import annotations

import json
import re
import shutil

import pytest

pytest.importorskip("librosa")
pytest.importorskip("transformers")

from annotate_data import build_music_folder  # noqa: E402
from tiny_models import one_torch_thread  # noqa: E402, F401
from weavewave.errors import BadInputError  # noqa: E402
from weavewave.train.annotate import annotate  # noqa: E402


@pytest.fixture(scope="module")
def setup(tmp_path_factory, skimage_data):
    from tiny_models import build_clap, build_clip

    root = tmp_path_factory.mktemp("model-pairing")
    music = build_music_folder(root / "music", {"one": (90.0, "A minor", 12.0)})
    photos = root / "photos"
    photos.mkdir()
    for name in ("coffee.png", "rocket.jpg"):
        shutil.copy(skimage_data / name, photos / name)
    (photos / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 cut off")
    return {"music": music, "photos": photos, "clip": build_clip(root / "clip"), "clap": build_clap(root / "clap"),
            "root": root}  # fmt: skip


def test_pairs_through_clip_and_clap_with_the_mean_as_score(setup):
    out = setup["root"] / "ds"
    summary = annotate([setup["music"]], out, segment=6, images=setup["photos"], clip_model=str(setup["clip"]),
                       clap_model=str(setup["clap"]))  # fmt: skip
    assert summary.images == 2 and summary.paired == 2
    assert [s["path"].rsplit("/", 1)[-1] for s in summary.skipped] == ["broken.jpg"]
    for line in (out / "data" / "train.jsonl").read_text().splitlines():
        row = json.loads(line)
        assert row["image_source"] in ("coffee.png", "rocket.jpg") and (out / row["image"]).is_file()
        said = json.loads(row["provenance"])["image"]
        assert "by CLIP (clip-clip" in said and "by CLAP (clap-clap" in said
        image_text, audio_text = (float(x) for x in re.findall(r"cosine (-?[0-9.]+)", said))
        assert row["image_score"] == pytest.approx((image_text + audio_text) / 2, abs=1e-3)
    assert "pairing: clip+clap" in (out / "README.md").read_text()


def test_one_model_without_the_other_is_one_line(setup):
    with pytest.raises(BadInputError, match="give both"):
        annotate([setup["music"]], setup["root"] / "x", images=setup["photos"], clip_model=str(setup["clip"]))
    with pytest.raises(BadInputError, match="--images DIR"):
        annotate(
            [setup["music"]],
            setup["root"] / "x",
            clip_model=str(setup["clip"]),
            clap_model=str(setup["clap"]),
        )
    with pytest.raises(BadInputError, match="CLIP model folder .* does not exist"):
        annotate([setup["music"]], setup["root"] / "x", images=setup["photos"],
                 clip_model=str(setup["root"] / "no-clip"), clap_model=str(setup["clap"]))  # fmt: skip
    assert not (setup["root"] / "x").exists()  # refused before the dataset folder is made

"""CLAP audio embeddings in the library (a second vector column), text-to-audio search with CLAP, and photo
search through a trained image adapter into that space. Real rendered files, a real LanceDB table on disk,
and tiny random CLAP and CLIP models saved to disk and loaded through the project's loaders."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("lancedb")
pytest.importorskip("mutagen")
pytest.importorskip("transformers")

from library_media import render_labelled  # noqa: E402
from tiny_models import build_clap, build_clip, one_torch_thread  # noqa: E402, F401
from weavewave.errors import BadInputError  # noqa: E402
from weavewave.library import open_library  # noqa: E402
from weavewave.library.clap import CLAP_COLUMN, META_MODEL  # noqa: E402
from weavewave.library.indexer import add_paths  # noqa: E402
from weavewave.library.search import Query, search  # noqa: E402

RENDERED = 4  # jazz, ambient, rock, folk (library_media.LABELS)
PHOTOS = ("astronaut.png", "coffee.png", "chelsea.png", "camera.png")


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("models")
    # two CLAPs: random weights differ between builds, so "other" stands for another model
    return {"clap": build_clap(root / "clap"), "other": build_clap(root / "other-clap"), "clip": build_clip(root / "clip")}  # fmt: skip


@pytest.fixture(scope="module")
def music(tmp_path_factory):
    folder = tmp_path_factory.mktemp("music")
    return folder, render_labelled(folder / "rendered", RENDERED, duration=6.0)


@pytest.fixture(scope="module")
def library(music, models, tmp_path_factory):
    """A library built without CLAP (as libraries were), then given CLAP embeddings by a second add."""
    folder, labelled = music
    lib = open_library(tmp_path_factory.mktemp("lib") / "library", create=True)
    first = add_paths(lib, [folder / "rendered"], text_model="lexicon")
    assert first.added == RENDERED and first.clap_embedded == 0 and lib.clap_space() is None
    second = add_paths(lib, [folder / "rendered"], clap_model=str(models["clap"]))
    return lib, second


def _vectors(lib) -> dict[str, np.ndarray]:
    return {r["title"]: np.asarray(r[CLAP_COLUMN], np.float32) for r in lib.table.to_arrow().to_pylist()}


def test_add_with_clap_fills_earlier_tracks_and_records_the_model(library, models):
    from weavewave.evaluate.neural import load_clap
    from weavewave.library.clap import embed_audio_file

    lib, report = library
    assert report.added == 0 and report.unchanged == RENDERED and report.clap_embedded == RENDERED
    assert "CLAP audio embeddings stored for 4 tracks" in "\n".join(report.lines())
    space = lib.clap_space()
    assert space is not None and space.model == str(models["clap"].resolve()) and space.dim == 16
    assert space.space == f"clap-audio:{models['clap'].resolve()}"
    # the model is recorded in the table's own metadata, on disk
    field = open_library(lib.folder).table.schema.field(CLAP_COLUMN)
    assert field.metadata[META_MODEL.encode()] == str(models["clap"].resolve()).encode()
    vectors = _vectors(lib)
    assert len(vectors) == RENDERED and all(
        np.isclose(np.linalg.norm(v), 1.0, atol=1e-4) for v in vectors.values()
    )
    row = lib.rows(where="title = 'Jazz 000'", columns=("path",))[0]
    again = embed_audio_file(load_clap(models["clap"]), row["path"])
    assert np.allclose(vectors["Jazz 000"], again, atol=1e-5)  # the stored vector is the file's own
    assert len({v.tobytes() for v in vectors.values()}) == RENDERED
    assert lib.stats()["clap_embedded"] == RENDERED


def test_new_tracks_get_clap_at_once_and_a_run_without_clap_says_what_is_missing(library, models, tmp_path):
    from reference_audio import recording_path

    lib, _ = library
    plain = tmp_path / "plain"
    plain.mkdir()
    shutil.copy(recording_path(), plain / "recording.wav")
    without = add_paths(lib, [plain])  # the library's text embedder; no CLAP asked
    assert without.added == 1 and without.clap_missing == 1
    assert "no CLAP audio embedding yet" in "\n".join(without.lines())
    assert search(lib, Query(text="calm recording", limit=2))  # the text track works as before
    filled = add_paths(lib, [plain], clap_model=str(models["clap"]))
    assert filled.clap_embedded == 1 and filled.clap_missing == 0
    lib.remove([lib.rows(where="title = 'recording'")[0]["id"]])


def test_clap_search_ranks_by_text_to_audio_similarity_and_keeps_filters(library, models):
    from weavewave.evaluate.neural import clap_text, load_clap

    lib, _ = library
    text = "warm jazz piano"
    hits = search(lib, Query(text=text, clap_model=str(models["clap"]), limit=RENDERED))
    assert [h.track for h in hits] == ["broad"] * RENDERED
    assert all("to CLAP" in h.why[0] and "text-to-audio similarity" in h.why[0] for h in hits)
    # the ranking is the cosine between the query's CLAP text embedding and each stored audio embedding
    # (plus the boosts for the genre and the instrument the prompt names: jazz, piano)
    q = clap_text(load_clap(models["clap"]), [text])[0]
    expected = {
        t: float(v @ q) + (0.15 + 0.05 if t.startswith("Jazz") else 0.0) for t, v in _vectors(lib).items()
    }
    assert [h.row["title"] for h in hits] == sorted(expected, key=lambda t: -expected[t])
    assert [round(h.score, 4) for h in hits] == [round(expected[h.row["title"]], 4) for h in hits]
    only_rock = search(lib, Query(text=text, clap_model=str(models["clap"]), genre="rock"))
    assert only_rock and {h.row["genre"] for h in only_rock} == {"rock"}


def test_another_clap_is_refused_with_one_line(library, models, music):
    lib, _ = library
    folder, _ = music
    with pytest.raises(BadInputError, match="is not the CLAP this library was embedded with") as info:
        search(lib, Query(text="jazz", clap_model=str(models["other"])))
    assert "\n" not in str(info.value) and str(models["clap"].resolve()) in str(info.value)
    with pytest.raises(BadInputError, match="one library holds one CLAP space"):
        add_paths(lib, [folder / "rendered"], clap_model=str(models["other"]))


def test_a_library_without_clap_says_how_to_add_it(music, models, tmp_path):
    folder, labelled = music
    lib = open_library(tmp_path / "lib", create=True)
    shutil.copy(labelled[0].path, tmp_path / labelled[0].path.name)
    add_paths(lib, [tmp_path / labelled[0].path.name], text_model="lexicon")
    with pytest.raises(BadInputError, match=r"holds no CLAP embeddings: add them with .*--clap-model"):
        search(lib, Query(text="jazz", clap_model=str(models["clap"])))


def test_cli_search_with_clap_prints_json(library, models, capsys):
    from weavewave.cli import main

    lib, _ = library
    args = ["library", "search", "calm ambient pad", "--library", str(lib.folder), "--json"]
    assert main([*args, "--clap-model", str(models["clap"])]) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data) == RENDERED and "to CLAP" in data[0]["why"][0]
    assert main([*args, "--clap-model", str(models["other"])]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is not the CLAP this library was embedded with" in err[0]


# --- photos through an image adapter into the library's CLAP space -------------------------------------
def _train_image_adapter(models, lib, skimage_data, out: Path, *, clap: Path | None = None) -> Path:
    """An adapter trained (the adapter core) to map each photo's CLIP embedding onto one track's CLAP
    audio embedding: PHOTOS[i] -> the i-th rendered track."""
    from PIL import Image

    from weavewave.evaluate.neural import clip_images, load_clip
    from weavewave.generators.flow.adapters import (
        AdapterConfig,
        AdapterSettings,
        condition_space,
        model_ref,
        save_adapter,
        train_adapter,
    )

    clip = load_clip(models["clip"])
    images = [Image.open(skimage_data / p).convert("RGB") for p in PHOTOS]
    source = clip_images(clip, images).astype(np.float32)
    vectors = _vectors(lib)
    target = np.stack([vectors[t] for t in ("Jazz 000", "Ambient 001", "Rock 002", "Folk 003")])
    target_clap = clap or models["clap"]
    config = AdapterConfig(
        source="image", source_dim=source.shape[1], target_dim=target.shape[1], hidden=32, layers=2,
        source_model=model_ref(str(models["clip"])), clap_model=model_ref(str(target_clap)),
        source_embedder="clip-image", target_space=condition_space("clap-audio", str(target_clap)),
    )  # fmt: skip
    model, _ = train_adapter(source, target, config, AdapterSettings(steps=300, batch_size=4, holdout=0.25))
    return save_adapter(model, config, out)


def test_photo_search_through_an_adapter(library, models, skimage_data, tmp_path):
    from weavewave.generators.flow.adapter_train import source_embedder
    from weavewave.generators.flow.adapters import adapt, load_adapter

    lib, _ = library
    adapter = _train_image_adapter(models, lib, skimage_data, tmp_path / "adapter")
    photo = str(skimage_data / PHOTOS[0])
    hits = search(lib, Query(adapter=str(adapter), images=[photo], limit=RENDERED))
    assert len(hits) == RENDERED and all(h.track == "broad" for h in hits)
    assert all(f"through adapter {adapter}" in h.why[0] and "astronaut.png" in h.why[0] for h in hits)
    # the ranking is the adapted photo against the stored CLAP audio embeddings, recomputed here
    model, config = load_adapter(adapter)
    v = adapt(model, source_embedder("clip-image", config.source_model)([photo]))[0]
    sims = {t: float(x @ v) for t, x in _vectors(lib).items()}
    assert [h.row["title"] for h in hits] == sorted(sims, key=lambda t: -sims[t])
    assert [
        h.row["title"] for h in search(lib, Query(adapter=str(adapter), images=[photo], limit=RENDERED))
    ] == [h.row["title"] for h in hits]  # deterministic
    # a filter still holds on this track
    folk = search(lib, Query(adapter=str(adapter), images=[photo], genre="folk"))
    assert [h.row["genre"] for h in folk] == ["folk"]


def test_an_adapter_into_another_space_is_refused(library, models, skimage_data, tmp_path):
    from weavewave.cli import main

    lib, _ = library
    other = _train_image_adapter(models, lib, skimage_data, tmp_path / "other", clap=models["other"])
    photo = str(skimage_data / PHOTOS[1])
    with pytest.raises(
        BadInputError, match=r"maps into clap-audio:.*other-clap.*not this library's CLAP space"
    ):
        search(lib, Query(adapter=str(other), images=[photo]))
    code = main(
        ["library", "search", "--image", photo, "--adapter", str(other), "--library", str(lib.folder)]
    )
    assert code == 2
    with pytest.raises(BadInputError, match="is not an adapter folder"):
        search(lib, Query(adapter=str(tmp_path), images=[photo]))

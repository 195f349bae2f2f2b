"""``weavewave train adapter`` on a dataset in annotate's layout (tiny random CLIP and CLAP, saved and loaded
through the project's loaders): the trained adapter must retrieve held-out music far better than the
untrained one; and ``--backend flow --adapter-embed`` conditions a flow model on an adapted photo."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("diffusers")
pytest.importorskip("datasets")
pytest.importorskip("transformers")

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
CLASSES, PER_CLASS, DIM = 8, 5, 16
# one colour per class: the picture says which music goes with it
COLOURS = [(230, 30, 30), (30, 230, 30), (30, 30, 230), (230, 230, 30), (230, 30, 230), (30, 230, 230),
           (20, 20, 20), (240, 240, 240)]  # fmt: skip


def cli(*args: str) -> tuple[int, str]:
    from weavewave.cli import main

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(list(args))
    return code, printed.getvalue()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Tiny CLIP, CLAP, VAE and a vectors-conditioned flow model; a dataset in annotate's layout whose
    rows pair a picture (its class's colour, with noise and a random square) with a tone and the class's
    condition vector."""
    import soundfile as sf
    from PIL import Image

    from flow_models import build_flow, build_vae
    from tiny_models import build_clap, build_clip

    root = tmp_path_factory.mktemp("adapters")
    rng = np.random.default_rng(0)
    basis = rng.standard_normal((CLASSES, DIM)).astype(np.float32)
    basis /= np.linalg.norm(basis, axis=1, keepdims=True)
    data = root / "data"
    for sub in ("data", "audio", "images"):
        (data / sub).mkdir(parents=True)
    rows = []
    t = np.arange(4000) / 16000
    for k in range(CLASSES):
        for j in range(PER_CLASS):
            x = 0.4 * np.sin(2 * np.pi * (120 * 1.5**k) * t)
            sf.write(data / "audio" / f"{k}_{j}.flac", x.astype(np.float32), 16000)
            pixels = np.clip(np.array(COLOURS[k]) + rng.normal(0, 12, (48, 48, 3)), 0, 255)
            y0, x0 = rng.integers(0, 32, 2)
            pixels[y0 : y0 + 16, x0 : x0 + 16] = 128
            Image.fromarray(pixels.astype(np.uint8)).save(data / "images" / f"{k}_{j}.png")
            rows.append({"id": f"{k}-{j}", "audio": f"audio/{k}_{j}.flac", "caption": f"a tone of class {k}",
                         "story": f"a story about colour {k}", "image": f"images/{k}_{j}.png",
                         "embedding": basis[k].tolist()})  # fmt: skip
    (data / "data" / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (data / "README.md").write_text(
        "---\nconfigs:\n- config_name: default\n  data_files: data/train.jsonl\n---\n"
    )
    vae = build_vae(root / "vae")
    return {
        "root": root, "data": data, "clip": build_clip(root / "clip"), "clap": build_clap(root / "clap"),
        "vae": vae, "flow": build_flow(root / "flow", vae, cond_dim=DIM, condition="vectors"),
    }  # fmt: skip


@pytest.fixture(scope="module")
def image_adapter(world):
    out = world["root"] / "image-adapter"
    code, printed = cli("train", "adapter", "--data", str(world["data"]), "--from", "image", "--clip-model",
                        str(world["clip"]), "--flow-model", str(world["flow"]), "--out", str(out), "--steps",
                        "300", "--hidden", "64", "--batch-size", "16")  # fmt: skip
    assert code == 0
    return out, printed


def test_train_adapter_from_images_beats_the_untrained_one(image_adapter, world):
    out, printed = image_adapter
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["held_out"] == 8
    assert metrics["recall@1"] >= 0.75
    assert metrics["recall@1"] > metrics["untrained_recall@1"] + 0.25
    assert "trained   recall@1" in printed and "chance" in printed
    from weavewave.generators.flow.adapters import condition_space, load_adapter

    model, config = load_adapter(out)  # loadable by path
    assert (config.source, config.source_embedder, config.source_dim, config.target_dim) == ("image", "clip-image",
                                                                                              16, DIM)  # fmt: skip
    assert config.target_space == condition_space("vectors", None, str(world["flow"]))
    assert config.metrics["recall@1"] == metrics["recall@1"]


def test_train_adapter_into_clap_audio_space_from_stories(world):
    # a few rows only: CLAP's audio features are the slow part
    small = world["root"] / "small"
    (small / "data").mkdir(parents=True)
    rows = [json.loads(line) for line in (world["data"] / "data" / "train.jsonl").read_text().splitlines()]
    for r in rows:
        r["audio"] = str(world["data"] / r["audio"])
    (small / "data" / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[::PER_CLASS]))
    out = world["root"] / "story-adapter"
    code, printed = cli("train", "adapter", "--data", str(small), "--from", "story", "--clap-model",
                        str(world["clap"]), "--out", str(out), "--steps", "20", "--hidden", "32")  # fmt: skip
    assert code == 0
    config = json.loads((out / "config.json").read_text())
    assert config["source_embedder"] == "clap-text" and config["target_space"].startswith("clap-audio:")
    assert config["target_dim"] == 16 and "recall@10" in config["metrics"]


def test_train_adapter_refusals(world, tmp_path, capsys):
    code, _ = cli(
        "train", "adapter", "--data", str(world["data"]), "--from", "image", "--out", str(tmp_path / "a")
    )
    assert code == 2 and "say what the adapter maps into" in capsys.readouterr().err
    rows = (world["data"] / "data" / "train.jsonl").read_text().splitlines()
    bad = tmp_path / "bad"
    (bad / "data").mkdir(parents=True)
    first = json.loads(rows[0])
    first["audio"] = str(world["data"] / first["audio"])
    del first["image"]
    (bad / "data" / "train.jsonl").write_text(json.dumps(first) + "\n")
    code, _ = cli("train", "adapter", "--data", str(bad), "--from", "image", "--flow-model", str(world["flow"]),
                  "--out", str(tmp_path / "b"))  # fmt: skip
    assert code == 2 and "row 1 has no 'image'" in capsys.readouterr().err


def test_generate_through_the_adapter_records_it(image_adapter, world, tmp_path):
    out = tmp_path / "piece"
    photo = world["data"] / "images" / "2_0.png"
    r = subprocess.run(
        [sys.executable, "-m", "weavewave.cli", "generate", "--image", str(photo), "--backend", "flow", "--model",
         str(world["flow"]), "--adapter-embed", str(image_adapter[0]), "--steps", "2", "--duration", "1",
         "--out", str(out), "-q"],
        capture_output=True, text=True, env=ENV, timeout=300,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert (out / "music.wav").is_file()
    options = json.loads((out / "brief.json").read_text())["generator"]["options"]
    assert options["adapter_embed"] == str(image_adapter[0]) and json.loads(options["adapter_inputs"]) == [
        str(photo)
    ]


def test_the_adapted_photo_conditions_the_model(image_adapter, world):
    """Through the trained adapter a photo lands on its class's condition vector (the model's space)."""
    from weavewave.generators.flow.generator import FlowGenerator

    rng = np.random.default_rng(0)
    basis = rng.standard_normal((CLASSES, DIM)).astype(np.float32)
    basis /= np.linalg.norm(basis, axis=1, keepdims=True)
    photos = [str(world["data"] / "images" / f"{k}_4.png") for k in range(CLASSES)]
    hits = 0
    for k, photo in enumerate(photos):
        gen = FlowGenerator(
            model=str(world["flow"]), adapter_embed=str(image_adapter[0]), adapter_inputs=[photo]
        )
        hits += int(np.argmax(basis @ gen.adapted_condition()) == k)
    assert hits >= CLASSES - 2


def test_an_adapter_into_another_space_is_refused(image_adapter, world, tmp_path):
    from flow_models import build_flow
    from weavewave.errors import BadInputError
    from weavewave.generators.flow.generator import FlowGenerator

    other = build_flow(tmp_path / "other", world["vae"], cond_dim=DIM, condition="vectors", seed=1)
    with pytest.raises(BadInputError, match="maps into vectors:.* but .* is conditioned on vectors:") as err:
        FlowGenerator(model=str(other), adapter_embed=str(image_adapter[0]), adapter_inputs=["x.png"])
    assert "\n" not in str(err.value)
    with pytest.raises(BadInputError, match="adapts images: give --image"):
        FlowGenerator(model=str(world["flow"]), adapter_embed=str(image_adapter[0]))
    r = subprocess.run(
        [sys.executable, "-m", "weavewave.cli", "generate", "--text", "x", "--adapter-embed", str(image_adapter[0]),
         "--out", str(tmp_path / "a"), "-q"],
        capture_output=True, text=True, env=ENV, timeout=300,
    )  # fmt: skip
    assert r.returncode == 2 and "also give --backend flow" in r.stderr

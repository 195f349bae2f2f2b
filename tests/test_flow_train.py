"""``weavewave train flow``: the dataset reader, and the learning test that can fail (issue 16).

The learning test: sine tones whose class sets the pitch, encoded by a tiny random VAE (the real
``AutoencoderOobleck`` class), each class with its own condition vector. A tiny flow model trained for a
couple of hundred steps must generate latents that a nearest-centroid classifier (fit on the dataset's
own latents) assigns to the class of the condition they were asked for, well above chance; the untrained
model (the same architecture, fresh weights) must not.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from weavewave.errors import BadInputError
from weavewave.generators.flow.data import read_dataset

LEARN_STEPS = 200
SAMPLES_PER_CLASS = 6
SAMPLE_STEPS = 16
CHANCE = 0.25  # four classes
TRAINED_AT_LEAST = 0.75
UNTRAINED_AT_MOST = 0.5


# --- the dataset reader (no torch) ------------------------------------------------------------------------
def _write(folder, rows, files=("a.wav",), name="metadata.jsonl"):
    folder.mkdir(parents=True, exist_ok=True)
    for f in files:
        (folder / f).write_bytes(b"RIFF")
    (folder / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


def test_reads_the_audiofolder_layout_with_a_train_split(tmp_path):
    _write(tmp_path / "train", [{"file_name": "a.wav", "caption": " calm piano "}])
    (examples,) = read_dataset(tmp_path)
    assert examples.path == tmp_path / "train" / "a.wav" and examples.caption == "calm piano"
    assert examples.embedding is None


def test_reads_the_dataset_weavewave_annotate_writes(tmp_path):
    # annotate's layout: data/train.jsonl with `audio` paths relative to the folder (and more columns)
    (tmp_path / "audio").mkdir()
    (tmp_path / "audio" / "s0.flac").write_bytes(b"fLaC")
    row = {"id": "s0", "audio": "audio/s0.flac", "caption": "a calm folk tune at 96 BPM", "tempo_bpm": 96.0}
    _write(tmp_path / "data", [row], files=(), name="train.jsonl")
    (example,) = read_dataset(tmp_path)
    assert example.path == tmp_path / "audio" / "s0.flac" and example.caption == row["caption"]
    assert example.embedding is None


def test_reads_a_csv_with_embeddings(tmp_path):
    (tmp_path / "a.wav").write_bytes(b"RIFF")
    (tmp_path / "metadata.csv").write_text('file_name,caption,embedding\na.wav,a tone,"[1, 0.5]"\n')
    (example,) = read_dataset(tmp_path)
    assert example.embedding == (1.0, 0.5)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([{"file_name": "a.wav"}], "has no caption"),
        ([{"caption": "x"}], "has no file_name"),
        ([{"file_name": "b.wav", "caption": "x"}], "names b.wav, which is not in"),
        ([], "has no rows"),
    ],
    ids=["no-caption", "no-file-name", "missing-file", "empty"],
)
def test_bad_datasets_are_refused_with_one_line(tmp_path, rows, message):
    _write(tmp_path, rows)
    with pytest.raises(BadInputError, match=message) as err:
        read_dataset(tmp_path)
    assert "\n" not in str(err.value)


def test_a_folder_without_metadata_is_refused(tmp_path):
    with pytest.raises(BadInputError, match="no metadata.jsonl"):
        read_dataset(tmp_path)
    with pytest.raises(BadInputError, match="not found"):
        read_dataset(tmp_path / "nope")


# --- training -----------------------------------------------------------------------------------------------
pytest.importorskip("diffusers")
pytest.importorskip("accelerate")


from tiny_models import one_torch_thread  # noqa: E402, F401  (autouse: one torch thread here)


def tiny_settings(**kw):
    from weavewave.generators.flow.train import TrainSettings

    base = dict(
        batch_size=16, learning_rate=2e-3, warmup_steps=20, window_s=0.128, hidden=64, layers=2, heads=2,
        ema_decay=0.99, log_every=25, checkpoint_every=1000, device="cpu",
    )  # fmt: skip
    return TrainSettings(**{**base, **kw})


@pytest.fixture(scope="module")
def tones(tmp_path_factory):
    from flow_models import build_vae, write_tone_dataset

    root = tmp_path_factory.mktemp("tones")
    data, basis = write_tone_dataset(root / "data", per_class=SAMPLES_PER_CLASS)
    return data, build_vae(root / "vae"), basis


@pytest.fixture(scope="module")
def trained(tones, tmp_path_factory):
    from weavewave.generators.flow.train import train_flow

    data, vae, _ = tones
    out = tmp_path_factory.mktemp("trained") / "flow"
    return train_flow(data, vae, out, tiny_settings(steps=LEARN_STEPS))


def _feature(z: np.ndarray) -> np.ndarray:
    """What a latent window says about its tone: each channel's mean and spread over time."""
    return np.concatenate([z.mean(axis=0), z.std(axis=0)])


def condition_accuracy(model, config, latents, basis) -> float:
    """How often a latent generated for class k's vector is nearest to class k's centroid."""
    from weavewave.generators.flow.sampling import sample_latents

    mean, std = np.asarray(config.latent_mean), np.asarray(config.latent_std)
    classes = len(basis)
    feats = [_feature((z - mean) / std) for z in latents]
    centroids = np.stack(
        [np.mean(feats[k * SAMPLES_PER_CLASS : (k + 1) * SAMPLES_PER_CLASS], axis=0) for k in range(classes)]
    )
    hits = 0
    for k in range(classes):
        for seed in range(SAMPLES_PER_CLASS):
            z, _ = sample_latents(
                model, basis[k], config.frames, steps=SAMPLE_STEPS, guidance=2.0, seed=100 + seed
            )
            hits += int(np.argmin(((centroids - _feature(z)) ** 2).sum(axis=1)) == k)
    return hits / (classes * SAMPLES_PER_CLASS)


def test_training_makes_the_generated_latents_follow_the_condition(trained, tones):
    from safetensors.numpy import load_file

    from weavewave.generators.flow.model import build_model, load_model

    _, _, basis = tones
    model, config = load_model(trained.out)  # the saved EMA weights, through the loader
    (cache,) = (trained.out / "latents").glob("*.safetensors")
    stored = load_file(str(cache))
    latents = [stored[str(i)] for i in range(len(stored))]
    after = condition_accuracy(model, config, latents, basis)
    before = condition_accuracy(build_model(config).eval(), config, latents, basis)
    print(f"flow learning test: accuracy trained {after:.2f}, untrained {before:.2f}, chance {CHANCE:.2f}")
    assert after >= TRAINED_AT_LEAST
    assert before <= UNTRAINED_AT_MOST
    assert trained.losses[-1][1] < trained.losses[0][1]  # the loss went down


def test_training_writes_the_model_log_plot_and_latent_cache(trained):
    out = trained.out
    assert {"config.json", "model.safetensors", "loss.jsonl", "loss.png", "train_settings.json"} <= {
        p.name for p in out.iterdir()
    }
    rows = [json.loads(line) for line in (out / "loss.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(25, LEARN_STEPS + 1, 25))
    assert (out / "loss.png").read_bytes()[:4] == b"\x89PNG"
    config = json.loads((out / "config.json").read_text())
    assert config["model_type"] == "weavewave-flow" and config["condition"] == "vectors"


def test_a_vector_conditioned_model_is_refused_by_the_backend_with_what_to_do(trained):
    from generator_contract import contract_brief
    from weavewave.generators import get_generator

    gen = get_generator("flow", model=str(trained.out))
    with pytest.raises(BadInputError, match="trained on condition vectors") as err:
        gen.generate(contract_brief(1.0))
    assert "\n" not in str(err.value)


def test_checkpoints_resume_and_validation_samples(tones, tmp_path):
    import soundfile as sf

    from weavewave.generators.flow.train import train_flow

    data, vae, _ = tones
    out = tmp_path / "run"
    first = train_flow(
        data, vae, out, tiny_settings(steps=5, checkpoint_every=2, log_every=1, val_every=2, val_steps=2)
    )
    assert first.resumed_from == 0 and (out / "checkpoints" / "step-2" / "ema.safetensors").is_file()
    audio, sr = sf.read(out / "samples" / "step-2" / "00.wav")
    assert sr == 16000 and audio.shape[1] == 2 and np.isfinite(audio).all()
    cache = next((out / "latents").glob("*.safetensors"))
    encoded_at = cache.stat().st_mtime_ns
    again = train_flow(data, vae, out, tiny_settings(steps=6, checkpoint_every=2, log_every=1), resume=True)
    assert again.resumed_from == 4  # the latest checkpoint; steps 5 and 6 are made again
    steps = [json.loads(line)["step"] for line in (out / "loss.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4, 5, 6]
    assert cache.stat().st_mtime_ns == encoded_at  # the latents were not encoded again
    assert len(list((out / "checkpoints").glob("step-*"))) <= 2


def test_resume_without_a_checkpoint_is_refused(tones, tmp_path):
    from weavewave.generators.flow.train import train_flow

    data, vae, _ = tones
    with pytest.raises(BadInputError, match="nothing to resume"):
        train_flow(data, vae, tmp_path / "none", tiny_settings(steps=2), resume=True)


def test_clips_shorter_than_the_window_are_refused(tones, tmp_path):
    from weavewave.generators.flow.train import train_flow

    data, vae, _ = tones
    with pytest.raises(BadInputError, match="shorter than the 5 s window"):
        train_flow(data, vae, tmp_path / "short", tiny_settings(steps=2, window_s=5.0))


def test_with_clap_weights_the_condition_is_the_caption_in_clap_text_space(tones, tmp_path):
    from generator_contract import contract_brief
    from tiny_models import build_clap
    from weavewave.evaluate.neural import clap_text, load_clap
    from weavewave.generators import get_generator
    from weavewave.generators.flow.model import read_config
    from weavewave.generators.flow.train import train_flow

    data, vae, _ = tones
    clap = build_clap(tmp_path / "clap")
    out = tmp_path / "clap-flow"
    train_flow(data, vae, out, tiny_settings(steps=2, condition="clap", clap_model=str(clap)))
    config = read_config(out)
    assert (config.condition, config.clap_model, config.cond_dim) == ("clap", str(clap), 16)
    track = get_generator("flow", model=str(out), steps=2).generate(contract_brief(0.5))
    assert track.stats["condition"].startswith("clap:")
    assert track.brief.generator.options["clap_model"] == str(clap)
    # the vectors it was trained on are CLAP's text embeddings of the captions
    from weavewave.generators.flow.data import read_dataset
    from weavewave.generators.flow.train import embed_conditions

    examples = read_dataset(data)
    vectors, kind = embed_conditions(examples, "clap", str(clap))
    assert kind == "clap"
    np.testing.assert_allclose(vectors[0], clap_text(load_clap(clap), [examples[0].caption])[0], atol=1e-5)


def test_clap_audio_trains_on_the_musics_own_clap_embedding_and_generates_from_captions(tones, tmp_path):
    from generator_contract import contract_brief
    from tiny_models import build_clap
    from weavewave.evaluate.neural import clap_audio, load_clap
    from weavewave.generators import get_generator
    from weavewave.generators.flow.data import read_dataset
    from weavewave.generators.flow.train import embed_conditions, train_flow
    from weavewave.io.audio import read_audio

    data, vae, _ = tones
    clap = build_clap(tmp_path / "clap")
    examples = read_dataset(data)[:2]
    vectors, kind = embed_conditions(examples, "clap-audio", str(clap))
    assert kind == "clap-audio"
    np.testing.assert_allclose(
        vectors[1], clap_audio(load_clap(clap), *read_audio(examples[1].path)), atol=1e-5
    )
    with pytest.raises(BadInputError, match="needs CLAP weights"):
        embed_conditions(examples, "clap-audio", None)
    out = tmp_path / "clap-audio-flow"
    train_flow(data, vae, out, tiny_settings(steps=1, condition="clap-audio", clap_model=str(clap)))
    track = get_generator("flow", model=str(out), steps=1).generate(contract_brief(0.5))
    assert track.stats["condition"].startswith("clap:")  # a caption, embedded in CLAP's joint space

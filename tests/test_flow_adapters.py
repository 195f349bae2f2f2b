"""MusFlow's adapters (core): an MLP trained with regression + contrastive terms must retrieve the paired
music from held-out source embeddings far above chance, and the untrained one must not; files round-trip."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

from weavewave.errors import BadInputError  # noqa: E402
from weavewave.generators.flow.adapters import (  # noqa: E402
    AdapterConfig,
    AdapterSettings,
    adapt,
    load_adapter,
    recall_at_k,
    save_adapter,
    train_adapter,
)

PAIRS = 200
SOURCE_DIM, TARGET_DIM = 24, 16


from tiny_models import one_torch_thread  # noqa: E402, F401  (autouse: one torch thread here)


def paired(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Music embeddings (unit, random) and sources made from them by a fixed nonlinear map plus noise: a
    source says which music it goes with, but not in the music's coordinates."""
    rng = np.random.default_rng(seed)
    target = rng.standard_normal((PAIRS, TARGET_DIM)).astype(np.float32)
    target /= np.linalg.norm(target, axis=1, keepdims=True)
    w1 = rng.standard_normal((TARGET_DIM, 32)) / np.sqrt(TARGET_DIM)
    w2 = rng.standard_normal((32, SOURCE_DIM)) / np.sqrt(32)
    source = np.tanh(target @ w1) @ w2 + 0.3 * rng.standard_normal((PAIRS, SOURCE_DIM))
    return source.astype(np.float32), target


@pytest.fixture(scope="module")
def trained():
    source, target = paired()
    config = AdapterConfig(source="vectors", source_dim=SOURCE_DIM, target_dim=TARGET_DIM, hidden=64)
    model, metrics = train_adapter(
        source, target, config, AdapterSettings(steps=300, batch_size=32, holdout=0.2)
    )
    return model, config, metrics


def test_the_trained_adapter_retrieves_the_paired_music_and_the_untrained_does_not(trained):
    _, _, m = trained
    print(
        f"adapter recall@1/5/10 held out ({m['held_out']:.0f} pairs): trained {m['recall@1']:.2f}/"
        f"{m['recall@5']:.2f}/{m['recall@10']:.2f}, untrained {m['untrained_recall@1']:.2f}/"
        f"{m['untrained_recall@5']:.2f}/{m['untrained_recall@10']:.2f}, chance {m['chance_recall@1']:.3f}/"
        f"{m['chance_recall@5']:.3f}/{m['chance_recall@10']:.3f}"
    )
    assert m["held_out"] == 40
    # noisy sources: trained 0.30 / 0.93 / 0.95 against chance 0.025 / 0.125 / 0.25 when measured
    assert m["recall@1"] >= 8 * m["chance_recall@1"] and m["recall@5"] >= 0.6
    assert m["untrained_recall@1"] <= 0.1 and m["untrained_recall@5"] <= 0.3


def test_recall_at_k_counts_the_rank_of_the_true_pair():
    target = np.eye(3, dtype=np.float32)
    adapted = np.array([[1, 0, 0], [1, 0.9, 0], [0.7, 0.7, 0]], np.float32)  # true pair ranked 1st, 2nd, 3rd
    r = recall_at_k(adapted, target, ks=(1, 2, 3))
    assert r == {"recall@1": 1 / 3, "recall@2": 2 / 3, "recall@3": 1.0}


def test_saved_adapter_loads_and_adapts_the_same(trained, tmp_path):
    model, config, _ = trained
    source, _ = paired(seed=1)
    save_adapter(model, config, tmp_path / "adapter")
    again, config2 = load_adapter(tmp_path / "adapter")
    assert config2.source_dim == SOURCE_DIM and config2.target_dim == TARGET_DIM
    np.testing.assert_array_equal(adapt(again, source), adapt(model, source))
    assert np.allclose(np.linalg.norm(adapt(again, source), axis=1), 1.0, atol=1e-5)


def test_bad_pairs_and_folders_are_refused(tmp_path):
    config = AdapterConfig(source="vectors", source_dim=4, target_dim=3)
    with pytest.raises(BadInputError, match="do not fit"):
        train_adapter(np.zeros((5, 4)), np.zeros((6, 3)), config)
    with pytest.raises(BadInputError, match="at least 2 pairs"):
        train_adapter(np.zeros((1, 4)), np.zeros((1, 3)), config)
    with pytest.raises(BadInputError, match="not an adapter folder"):
        load_adapter(tmp_path)
    with pytest.raises(BadInputError, match="unknown adapter source"):
        AdapterConfig(source="video", source_dim=1, target_dim=1)

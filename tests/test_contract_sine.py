"""Adding a generator touches one file: this one. A sine generator, registered through the registry,
declares that it honours nothing beyond audio, and passes the same contract as the real backends."""

from __future__ import annotations

import numpy as np
import pytest

from generator_contract import GeneratorContract
from weavewave.dsp.loudness import integrated_lufs
from weavewave.generators import (
    BACKENDS,
    Capabilities,
    GeneratorOptions,
    Track,
    check_brief,
    record_generator,
    register_generator,
    unregister_generator,
)


class SineOptions(GeneratorOptions):
    base_hz: float = 220.0


class SineGenerator:
    """One tone per seed at the master's loudness: nothing else is promised, so all else is refused."""

    name = "sine"
    capabilities = Capabilities()
    Options = SineOptions

    def __init__(self, base_hz: float = 220.0) -> None:
        self.base_hz = base_hz

    def generate(self, brief, *, progress=None) -> Track:
        check_brief(brief, self.capabilities, backend=self.name)
        sr, n = 48000, int(round(brief.duration_s * 48000))
        hz = self.base_hz * 2 ** ((brief.seed % 12) / 12)
        tone = np.sin(2 * np.pi * hz * np.arange(n) / sr)
        audio = np.repeat(tone[:, None], 2, axis=1).astype(np.float32)
        audio *= np.float32(10 ** ((-14.0 - integrated_lufs(audio, sr)) / 20))
        record = record_generator(brief, self.name, {"base_hz": self.base_hz})
        return Track(audio=audio, sample_rate=sr, brief=record)


@pytest.fixture(scope="module", autouse=True)
def registered():
    register_generator("sine", lambda: SineGenerator)
    yield
    unregister_generator("sine")


class TestSineContract(GeneratorContract):
    backend = "sine"


def test_registering_lists_it_with_the_others():
    assert list(BACKENDS) == ["symbolic", "musicgen", "flow", "sine"]

"""The symbolic backend passes the generator contract."""

from __future__ import annotations

from generator_contract import GeneratorContract


class TestSymbolicContract(GeneratorContract):
    backend = "symbolic"

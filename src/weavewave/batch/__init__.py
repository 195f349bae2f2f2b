"""Batch runs: a manifest of requests made locally in worker processes or on Ray, resumable and idempotent.

See :mod:`weavewave.batch.manifest` (rows, checks, ids) and :mod:`weavewave.batch.run` (the engine).
Nothing heavy is imported here; Ray only by :mod:`weavewave.batch.ray_runner`, when asked for.
"""

from __future__ import annotations

from weavewave.batch.manifest import ManifestError, Row, load_manifest
from weavewave.batch.run import Summary, run_batch

__all__ = ["ManifestError", "Row", "Summary", "load_manifest", "run_batch"]

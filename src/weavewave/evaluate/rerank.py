"""Best of N: generate candidates with different seeds and keep the one a metric likes best.

Candidate 0 uses the brief's own seed; candidate i > 0 uses a seed derived from it by hashing, so the
same brief and N always give the same candidates. The chosen seed goes into the returned brief (so
``--brief brief.json`` reproduces the kept piece byte for byte) and every candidate's score is recorded in
``provenance["rerank"]``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from weavewave.errors import BadInputError

if TYPE_CHECKING:
    from weavewave.brief import MusicBrief
    from weavewave.generators import Generator, ProgressFn, Track

MAX_CANDIDATES = 16
# Metric name -> what it scores (higher is better, 0..1 unless noted).
RERANK_METRICS = {
    "adherence": "mean of key MIREX score, tempo closeness and (with MIDI) scale consistency",
    "key": "MIREX weighted key score measured from the audio",
    "tempo": "1 - relative error between the measured and the asked tempo",
    "scale": "fraction of MIDI notes in the asked scale",
    "groove": "MIDI groove consistency between adjacent bars",
    "folk": "1 - Jensen-Shannon distance of the melody to the folk-tune corpus",
    "clap": "CLAP cosine between the audio and the caption (needs CLAP weights; 'clap:PATH' names them)",
}


def candidate_seed(seed: int, index: int) -> int:
    """The seed of candidate ``index``: the brief's own for 0, else a hash of (seed, index)."""
    if index == 0:
        return seed
    digest = hashlib.sha256(f"weavewave-candidate:{seed}:{index}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


def check_rerank(candidates: int, rerank: str | None) -> None:
    """Fail early, before any work, on a bad candidate count or metric name."""
    if not 1 <= candidates <= MAX_CANDIDATES:
        raise BadInputError(f"--candidates {candidates} is out of range: use 1 to {MAX_CANDIDATES}")
    if rerank is not None and rerank.split(":", 1)[0] not in RERANK_METRICS:
        raise BadInputError(f"unknown --rerank metric {rerank!r}: use one of {', '.join(RERANK_METRICS)}")
    if candidates > 1 and rerank is None:
        raise BadInputError(
            "--candidates needs --rerank METRIC to choose between them, e.g. --rerank adherence"
        )


def scorer(rerank: str) -> Callable[[Track], float]:
    """A function Track -> score (higher is better) for a metric name of ``RERANK_METRICS``."""
    name, _, model = rerank.partition(":")
    if name == "clap":
        from weavewave.evaluate.neural import clap_score, load_clap

        clap = load_clap(model or None)
        return lambda t: clap_score(clap, t.audio, t.sample_rate, t.brief.caption)
    return lambda t: track_scores(t)[name]


def track_scores(track: Track) -> dict[str, float]:
    """The weight-free rerank scores of one in-memory track."""
    from weavewave.evaluate.adherence import tempo_and_key
    from weavewave.evaluate.symbolic import (
        corpus_distance,
        groove_consistency,
        melody_histograms_from_midi,
        scale_consistency,
    )
    from weavewave.music import analysis as analyze

    brief = track.brief
    bpm, _, key_score = tempo_and_key(analyze.analysis_signal(track.audio, track.sample_rate), brief)
    scores = {
        "key": key_score,
        "tempo": max(0.0, 1.0 - abs(bpm - brief.tempo_bpm) / brief.tempo_bpm),
        "scale": 0.0,
        "groove": 0.0,
        "folk": 0.0,
    }
    parts = [scores["key"], scores["tempo"]]
    if track.arrangement is not None:
        pm = track.arrangement.to_pretty_midi()
        scores["scale"] = scale_consistency(pm, brief.key.tonic, brief.key.mode) or 0.0
        scores["groove"] = groove_consistency(pm) or 0.0
        hist = melody_histograms_from_midi(pm, brief)
        scores["folk"] = 1.0 - corpus_distance(hist, "folk")["mean"] if hist is not None else 0.0
        parts.append(scores["scale"])
    scores["adherence"] = sum(parts) / len(parts)
    return scores


def _scaled(report: ProgressFn, base: float, span: float, label: str) -> ProgressFn:
    """A progress callback that maps 0..1 onto ``base .. base + span`` and prefixes ``label``."""
    return lambda f, m: report(base + span * f, f"{label}: {m}")


def generate_best(
    generator: Generator,
    brief: MusicBrief,
    *,
    candidates: int,
    rerank: str,
    progress: ProgressFn | None = None,
) -> Track:
    """Generate ``candidates`` tracks from ``brief`` with derived seeds and return the best by ``rerank``.

    Ties go to the earlier candidate. The returned track's brief holds the kept seed and, in
    ``provenance["rerank"]``, every candidate's seed and score.
    """
    from weavewave.brief import Provenance

    check_rerank(candidates, rerank)
    report = progress or (lambda f, m: None)
    score = scorer(rerank)
    best: tuple[float, int, Track] | None = None
    results: list[tuple[int, float]] = []
    for i in range(candidates):
        seed = candidate_seed(brief.seed, i)
        base = 0.95 * i / candidates
        candidate_brief = brief.model_copy(update={"seed": seed}, deep=True)
        track = generator.generate(
            candidate_brief,
            progress=_scaled(report, base, 0.85 / candidates, f"candidate {i + 1}/{candidates}"),
        )
        report(base + 0.9 / candidates, f"scoring candidate {i + 1}/{candidates}")
        value = float(score(track))
        results.append((seed, value))
        if best is None or value > best[0]:
            best = (value, i, track)
    if best is None:  # unreachable: check_rerank demands candidates >= 1
        raise BadInputError("--candidates must be at least 1")
    value, index, track = best
    listing = "; ".join(
        f"seed {s}: {v:.4f}" + (" (kept)" if k == index else "") for k, (s, v) in enumerate(results)
    )
    provenance = dict(track.brief.provenance)
    provenance["seed"] = Provenance(
        source="user",
        reason=f"candidate {index + 1} of {candidates}, kept by --rerank {rerank} (base seed {brief.seed})",
    )
    provenance["rerank"] = Provenance(
        source="user", reason=f"best of {candidates} by {rerank} (higher is better): {listing}"
    )
    track.brief = track.brief.model_copy(update={"provenance": provenance})
    track.stats["rerank"] = {
        "metric": rerank,
        "kept": index,
        "scores": [{"seed": s, "score": v} for s, v in results],
    }
    report(1.0, "kept the best candidate")
    return track

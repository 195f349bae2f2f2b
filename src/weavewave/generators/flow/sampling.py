"""Sampling a flow model: the ODE from noise (t = 0) to a latent (t = 1), with classifier-free guidance,
and long pieces by overlapping windows.

- Solvers: ``euler`` (one model call per step) or ``midpoint`` (two, second order), on a uniform grid of
  ``steps`` steps. With ``guidance > 1`` the conditioned and the null-conditioned velocities are computed in
  one batch and extrapolated: ``v = v_null + guidance * (v_cond - v_null)``.
- Long form: windows of the model's length overlap by ``overlap`` frames. The frames a window shares with
  the music already made are held to it along the whole path (at time t they are set to the straight-path
  point ``(1 - t) noise + t known``), so the model continues the music rather than starting afresh; over the
  last ``crossfade`` of those frames the hold fades out (raised cosine), so the seam is a crossfade between
  the music so far and the new window's own continuation of it.
- Noise is drawn on the CPU from a seeded generator, so a seed gives the same piece on every device.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from weavewave.errors import BadInputError

SOLVERS = ("euler", "midpoint")
MAX_STEPS = 1000
MAX_GUIDANCE = 20.0
# Each window's noise comes from its own seed, spread so neighbouring seeds do not share windows.
WINDOW_SEED_STRIDE = 7919


@dataclass(frozen=True)
class Window:
    """One window of latent frames: ``[start, start + length)``, of which the first ``known`` are held."""

    start: int
    length: int
    known: int

    @property
    def end(self) -> int:
        return self.start + self.length


def check_sampling(steps: int, guidance: float, solver: str) -> None:
    """Refuse, with one line, sampling settings outside their range."""
    if not 1 <= steps <= MAX_STEPS:
        raise BadInputError(f"steps {steps} is out of range: use 1 to {MAX_STEPS}")
    if not 0.0 <= guidance <= MAX_GUIDANCE:
        raise BadInputError(
            f"guidance {guidance:g} is out of range: use 0 to {MAX_GUIDANCE:g} (1 or less: no guidance)"
        )
    if solver not in SOLVERS:
        raise BadInputError(f"unknown solver {solver!r}: use {' or '.join(SOLVERS)}")


def plan_windows(total: int, window: int, overlap: int) -> list[Window]:
    """Windows of ``window`` frames covering ``total``; each later one overlaps the music so far by at
    least ``overlap`` frames (the last is moved back so it ends exactly at ``total``)."""
    if total <= 0:
        return []
    if total <= window:
        return [Window(0, total, 0)]
    if not 0 < overlap < window:
        raise BadInputError(
            f"the overlap ({overlap} frames) must be more than 0 and less than a window ({window})"
        )
    out = [Window(0, window, 0)]
    while out[-1].end < total:
        start = min(out[-1].end - overlap, total - window)
        out.append(Window(start, window, out[-1].end - start))
    return out


def hold_weights(known: int, crossfade: int) -> np.ndarray:
    """How strongly each of the ``known`` frames is held: 1, then a raised-cosine fade over the last
    ``crossfade`` of them."""
    w = np.ones(known, np.float32)
    n = min(crossfade, known)
    if n:
        w[known - n :] = 0.5 + 0.5 * np.cos(np.pi * (np.arange(n) + 0.5) / n)
    return w


def velocity(model: Any, x: Any, t: float, cond: Any, guidance: float) -> Any:
    """The guided velocity at ``x`` [shape=(frames, channels)] and time ``t`` for condition ``cond``."""
    import torch

    tt = torch.full((1,), t, device=x.device)
    if guidance <= 1.0:
        return model(x[None], tt, cond[None])[0]
    null = model.null_embedding.to(cond.dtype)
    v = model(torch.stack([x, x]), tt.expand(2), torch.stack([cond, null]))
    return v[1] + guidance * (v[0] - v[1])


def solve(
    model: Any,
    noise: Any,
    cond: Any,
    *,
    steps: int,
    guidance: float,
    solver: str = "euler",
    known: Any = None,
    hold: Any = None,
) -> Any:
    """Integrate from ``noise`` [shape=(frames, channels)] at t = 0 to a latent at t = 1.

    ``known`` [shape=(k, channels)] with ``hold`` [shape=(k,)] pins the first k frames (see the module).
    """
    x = noise.clone()
    dt = 1.0 / steps

    def pin(x: Any, t: float) -> Any:
        if known is None:
            return x
        k = known.shape[0]
        path = (1.0 - t) * noise[:k] + t * known
        x = x.clone()
        x[:k] = hold[:, None] * path + (1.0 - hold[:, None]) * x[:k]
        return x

    x = pin(x, 0.0)
    for i in range(steps):
        t = i * dt
        if solver == "midpoint":
            mid = pin(x + 0.5 * dt * velocity(model, x, t, cond, guidance), t + 0.5 * dt)
            x = x + dt * velocity(model, mid, t + 0.5 * dt, cond, guidance)
        else:
            x = x + dt * velocity(model, x, t, cond, guidance)
        x = pin(x, t + dt)
    return x


def sample_latents(
    model: Any,
    conds: list[np.ndarray] | np.ndarray,
    total_frames: int,
    *,
    steps: int = 32,
    guidance: float = 3.0,
    solver: str = "euler",
    seed: int = 0,
    overlap: int | None = None,
    crossfade: int | None = None,
) -> tuple[np.ndarray, list[Window]]:
    """Normalised latents [shape=(total_frames, channels)] from a flow model.

    Parameters
    ----------
    model : a :class:`~weavewave.generators.flow.model.VelocityModel` (its ``config.frames`` is the window).
    conds : one condition vector [shape=(cond_dim,)] for the whole piece, or one per window (a list as
        long as :func:`plan_windows` gives, or a callable is not accepted: see the generator).
    overlap, crossfade : frames shared by neighbouring windows, and how many of them are crossfaded
        (defaults: a quarter of the window, and half the overlap).
    """
    import torch

    check_sampling(steps, guidance, solver)
    cfg = model.config
    overlap = max(1, cfg.frames // 4) if overlap is None else overlap
    crossfade = overlap // 2 if crossfade is None else min(crossfade, overlap)
    windows = plan_windows(total_frames, cfg.frames, overlap)
    per_window = isinstance(conds, list)
    if per_window and len(conds) != len(windows):
        raise ValueError(f"{len(conds)} conditions for {len(windows)} windows")
    param = next(model.parameters())
    out = torch.zeros((total_frames, cfg.latent_channels), dtype=param.dtype, device=param.device)
    with torch.inference_mode():
        for i, w in enumerate(windows):
            c = conds[i] if per_window else conds
            cond = torch.from_numpy(np.asarray(c, np.float32)).to(param.device, param.dtype)
            gen = torch.Generator().manual_seed((seed + WINDOW_SEED_STRIDE * i) % 2**63)
            noise = torch.randn((w.length, cfg.latent_channels), generator=gen).to(param.device, param.dtype)
            known = hold = None
            if w.known:
                known = out[w.start : w.start + w.known]
                hold = torch.from_numpy(hold_weights(w.known, crossfade)).to(param.device, param.dtype)
            out[w.start : w.end] = solve(
                model, noise, cond, steps=steps, guidance=guidance, solver=solver, known=known, hold=hold
            )
    return out.float().cpu().numpy(), windows

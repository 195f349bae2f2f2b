"""The renderer's process pool under faults: a killed or hung synthesizer never hangs a render (issue 13, item 4).

A killed pool process used to be replaced by ``multiprocessing.Pool`` with its task lost, so the render
waited forever, and with it the CLI, or the server's job and every job queued behind it.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import weavewave
from weavewave.generators.symbolic import render

SRC = str(Path(weavewave.__file__).resolve().parents[1])
# A render whose processes are all killed must end within this many seconds (it used to never end).
ENDS_WITHIN_S = 60

pytestmark = pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(), reason="the renderer's pool forks"
)

# Four passes of fake MIDI in two processes; the synthesizer itself is replaced in each test.
MIDIS = [b"MThd-%d" % i for i in range(4)]


def _synthesize(**kw):
    return render._synthesize_all(MIDIS, b"sf2", 480, 30.0, 2, kw.pop("report", lambda f, m: None), 1)


def _no_children_left() -> bool:
    deadline = time.monotonic() + 5.0
    while multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.05)
    return not multiprocessing.active_children()


def _kill_self(sf2, midi, n):
    os.kill(os.getpid(), signal.SIGKILL)


def _hang(sf2, midi, n):
    time.sleep(600)


def test_the_pool_renders_every_slot(monkeypatch):
    import numpy as np

    monkeypatch.setattr(
        render, "_synth_pcm", lambda sf2, midi, n: np.full((2, n), int(midi[5:]) + 1, np.int16)
    )
    seen = []
    out, clipped = _synthesize(report=lambda f, m: seen.append(m))
    assert [round(float(out[i, 0, 0]) * render.PCM16_SCALE) for i in range(4)] == [1, 2, 3, 4]
    assert not clipped.any()
    assert sorted(set(seen)) == sorted(
        {"rendered mix pass 1 of 1"} | {f"rendered stem {k} of 3" for k in (1, 2, 3)}
    )
    assert _no_children_left()


def test_a_killed_renderer_process_fails_the_render_instead_of_hanging():
    """Run in a subprocess: before the fix this call never returned."""
    script = (
        "import os, signal, sys; sys.path.insert(0, sys.argv[1]); "
        "from weavewave.generators.symbolic import render; "
        "render._synth_pcm = lambda sf2, midi, n: os.kill(os.getpid(), signal.SIGKILL)\n"
        "try:\n"
        "    render._synthesize_all([b'a', b'b', b'c', b'd'], b'sf2', 480, 30.0, 2, lambda f, m: None, 1)\n"
        "except render.RendererDied as exc:\n"
        "    print('died:', exc)\n"
    )
    started = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, "-c", script, SRC], capture_output=True, text=True, timeout=ENDS_WITHIN_S
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"the render hung for {ENDS_WITHIN_S} s after its renderer processes were killed")
    assert done.returncode == 0, done.stderr
    assert "died: a renderer process was killed by SIGKILL" in done.stdout, done.stdout + done.stderr
    assert "out-of-memory" in done.stdout
    assert time.monotonic() - started < ENDS_WITHIN_S


def test_a_hung_renderer_process_is_stopped_at_the_time_limit(monkeypatch):
    monkeypatch.setattr(render, "_synth_pcm", _hang)
    monkeypatch.setattr(render, "RENDER_TIMEOUT_BASE_S", 1.0)
    monkeypatch.setattr(render, "RENDER_TIMEOUT_PER_AUDIO_S", 0.0)
    started = time.monotonic()
    with pytest.raises(render.RendererDied, match="longer than its limit of 1 s"):
        _synthesize()
    assert time.monotonic() - started < 10
    assert _no_children_left()


class _Cancelled(Exception):
    pass


def test_a_cancel_from_the_progress_callback_stops_a_hung_pass(monkeypatch):
    """The server's DELETE raises from the progress callback; the watchdog calls it while passes run."""
    import numpy as np

    def first_fast_then_hang(sf2, midi, n):
        if midi != MIDIS[0]:
            time.sleep(600)
        return np.zeros((2, n), np.int16)

    calls = []

    def report(fraction, message):
        calls.append(message)
        if len(calls) > 3:
            raise _Cancelled

    monkeypatch.setattr(render, "_synth_pcm", first_fast_then_hang)
    started = time.monotonic()
    with pytest.raises(_Cancelled):
        _synthesize(report=report)
    assert time.monotonic() - started < 10
    assert _no_children_left()


def test_a_failing_pass_raises_its_reason(monkeypatch):
    def refuse(sf2, midi, n):
        raise RuntimeError("this SoundFont has no presets")

    monkeypatch.setattr(render, "_synth_pcm", refuse)
    with pytest.raises(RuntimeError, match="this SoundFont has no presets"):
        _synthesize()
    assert _no_children_left()


def test_the_cli_exits_1_with_one_line_when_a_renderer_is_killed(tmp_path):
    """It hung forever; now: exit 1, one line, and no partial output."""
    out = tmp_path / "out"
    # Only the pool's processes are killed; the balance probe synthesizes in the CLI's own process.
    script = (
        "import os, signal, sys; sys.path.insert(0, sys.argv[1]); "
        "from weavewave.generators.symbolic import render; "
        "cli_pid, synth = os.getpid(), render._synth_pcm; "
        "render._synth_pcm = lambda sf2, midi, n: synth(sf2, midi, n) if os.getpid() == cli_pid "
        "else os.kill(os.getpid(), signal.SIGKILL); "
        "from weavewave.cli import main; sys.exit(main(sys.argv[2:]))"
    )
    args = [
        "generate",
        "--text",
        "a calm piano and strings piece",
        "--duration",
        "12",
        "--stems",
        "--text-model",
        "lexicon",
        "--seed",
        "1",
        "-q",
        "--out",
        str(out),
    ]
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba"))
    try:
        done = subprocess.run(
            [sys.executable, "-c", script, SRC, *args], capture_output=True, text=True, timeout=120, env=env
        )
    except subprocess.TimeoutExpired:
        pytest.fail("the CLI hung after its renderer processes were killed")
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 1, done.stderr
    assert len(lines) == 1 and "a renderer process was killed by SIGKILL" in lines[0], done.stderr
    assert not out.exists() or not any(out.iterdir())

"""numba's JIT cache: one folder per version, compiled once under a lock, so parallel first runs never crash.

The concurrency test starts four real ``weavewave describe --audio`` processes at once on a cold, private
cache (numba issue 10128: without the lock, some exit 139 and then every later run does too).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import weavewave
from weavewave import jitcache

SRC = str(Path(weavewave.__file__).resolve().parents[1])
CONCURRENT_RUNS = 4
SEGFAULT_EXIT = 139


def _env(cache_home: Path, **extra: str) -> dict[str, str]:
    """A child environment whose caches all live under ``cache_home``; NUMBA_CACHE_DIR left to weavewave."""
    env = {k: v for k, v in os.environ.items() if k != jitcache.NUMBA_CACHE_ENV}
    env.update(
        XDG_CACHE_HOME=str(cache_home), PYTHONPATH=SRC + os.pathsep + env.get("PYTHONPATH", ""), **extra
    )
    return env


def test_default_cache_dir_is_per_version_under_the_user_cache(monkeypatch, tmp_path):
    monkeypatch.delenv(jitcache.NUMBA_CACHE_ENV, raising=False)
    monkeypatch.setenv(jitcache.XDG_CACHE_ENV, str(tmp_path))
    v = jitcache.versions()
    expected = tmp_path / "weavewave" / f"numba-{v['numba']}-{v['librosa']}"
    assert jitcache.default_cache_dir() == expected
    assert jitcache.configure() == expected
    assert os.environ[jitcache.NUMBA_CACHE_ENV] == str(expected)


def test_an_existing_numba_cache_dir_is_respected(monkeypatch, tmp_path):
    monkeypatch.setenv(jitcache.NUMBA_CACHE_ENV, str(tmp_path / "mine"))
    assert jitcache.configure() == tmp_path / "mine"
    assert jitcache.marker_path().parent == tmp_path / "mine"


# A child that stands in for a first audio run: the workload is replaced by one that logs when it runs.
_FAKE_WARM = textwrap.dedent("""
    import os, sys, time
    from weavewave import jitcache
    log = sys.argv[1]

    def workload():
        with open(log, "a") as fh:
            fh.write(f"start {time.time()!r} {os.getpid()}\\n")
        time.sleep(0.5)
        with open(log, "a") as fh:
            fh.write(f"end {time.time()!r} {os.getpid()}\\n")

    jitcache._warm_workload = workload
    print(jitcache.ensure_warm())
""")


def test_concurrent_first_runs_warm_once_serially_and_wipe_stale_files(tmp_path):
    numba_dir = tmp_path / "numba"
    stale = numba_dir / "librosa_0123" / "beat.__beat_track_dp-518.py311.nbi"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"half-written by a crashed compile")
    log = tmp_path / "warm.log"
    env = _env(tmp_path, **{jitcache.NUMBA_CACHE_ENV: str(numba_dir)})
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _FAKE_WARM, str(log)], env=env, stdout=subprocess.PIPE, text=True
        )
        for _ in range(CONCURRENT_RUNS)
    ]
    outs = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert sorted(outs) == ["False"] * (CONCURRENT_RUNS - 1) + ["True"]  # exactly one process compiled
    assert [line.split()[0] for line in log.read_text().splitlines()] == ["start", "end"]
    assert not stale.exists()  # the marker was missing, so the leftover was deleted before compiling
    marker = next(numba_dir.glob(jitcache.MARKER_PREFIX + "*"))
    assert json.loads(marker.read_text())["numba"] == jitcache.versions()["numba"]


def test_a_crashed_warm_up_leaves_no_marker_and_the_next_run_recompiles(tmp_path):
    env = _env(tmp_path, **{jitcache.NUMBA_CACHE_ENV: str(tmp_path / "numba")})
    crash = _FAKE_WARM.replace("time.sleep(0.5)", "os._exit(139)")
    first = subprocess.run([sys.executable, "-c", crash, str(tmp_path / "a.log")], env=env, timeout=60)
    assert first.returncode == SEGFAULT_EXIT
    assert not list((tmp_path / "numba").glob(jitcache.MARKER_PREFIX + "*"))
    again = subprocess.run(
        [sys.executable, "-c", _FAKE_WARM, str(tmp_path / "b.log")],
        env=env,
        timeout=60,
        capture_output=True,
        text=True,
    )
    assert again.stdout.strip() == "True"  # the lock died with its holder; this run compiled


@pytest.mark.concurrency
def test_four_cold_audio_runs_at_once_then_one_more_never_crash(tmp_path):
    """Real processes, real librosa: four ``describe --audio`` on a cold private cache, then a fifth."""
    sf = pytest.importorskip("soundfile")
    music21 = pytest.importorskip("music21")
    pytest.importorskip("librosa")
    recording = Path(music21.__file__).parent / "audioSearch" / "test_audio.wav"
    y, sr = sf.read(str(recording), dtype="float32")
    wav = tmp_path / "tune.wav"
    sf.write(str(wav), y[: 6 * sr], sr)  # six seconds of a real recording: analysis stays quick
    env = _env(tmp_path / "cache")
    cmd = [sys.executable, "-m", "weavewave.cli", "describe", "--audio", str(wav)]
    started = time.monotonic()
    procs = [
        subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(CONCURRENT_RUNS)
    ]
    results = [(p.communicate(timeout=300), p.returncode) for p in procs]
    last = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    results.append(((last.stdout, last.stderr), last.returncode))
    codes = [c for _, c in results]
    assert SEGFAULT_EXIT not in codes and -11 not in codes, codes
    assert codes == [0] * (CONCURRENT_RUNS + 1), [e[-300:] for (_, e), _ in results]
    assert all(json.loads(o)["tempo_bpm"] > 0 for (o, _), _ in results)
    v = jitcache.versions()
    folder = tmp_path / "cache" / "weavewave" / f"numba-{v['numba']}-{v['librosa']}"
    marker = next(folder.glob(jitcache.MARKER_PREFIX + "*"))
    compiled = jitcache.cache_files(folder)
    assert compiled
    # Every compile happened in the one warm-up, under the lock: nothing was written after the marker.
    assert max(p.stat().st_mtime for p in compiled) <= marker.stat().st_mtime
    print(
        f"4 cold runs + 1: {time.monotonic() - started:.1f} s; warm-up "
        f"{json.loads(marker.read_text())['seconds']} s"
    )

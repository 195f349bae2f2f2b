"""librosa's numba JIT cache: one folder per version, compiled once, serially, under a file lock.

Why: numba's on-disk cache is not safe when several processes compile the same functions at once
(numba issue 10128, librosa issue 1998). Two first runs together can leave a mismatched index/data
pair, and from then on every process segfaults in ``librosa.beat.beat_track``. So weavewave:

1. points ``NUMBA_CACHE_DIR`` at a folder of its own per numba and librosa version
   (``$XDG_CACHE_HOME/weavewave/numba-<numba>-<librosa>``), unless the user set one, before numba is
   imported (:func:`configure`);
2. before any audio work in a process, checks a marker for this version; when it is missing, takes an
   inter-process lock, and the one holder compiles everything weavewave's analysis uses by running it
   on a short synthetic tune, then writes the marker (:func:`ensure_warm`). Everyone else waits on the
   lock and then only reads the cache;
3. when the marker is missing but cache files are there (a run that crashed or raced mid-compile, or a
   cache from before this scheme), deletes those files under the lock before compiling again.

``weavewave warmup`` does step 2 on purpose (at install time); the server does it before it starts its
worker processes. All of weavewave's librosa imports go through :func:`librosa`.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from weavewave._deps import available, missing

NUMBA_CACHE_ENV = "NUMBA_CACHE_DIR"
XDG_CACHE_ENV = "XDG_CACHE_HOME"
APP_CACHE_NAME = "weavewave"
# numba's cache files: the index (signatures -> data file) and the compiled code. Only these are ever
# deleted, so a user-chosen NUMBA_CACHE_DIR shared with other programs loses nothing else.
CACHE_SUFFIXES = (".nbi", ".nbc")
LOCK_NAME = ".weavewave-warmup.lock"
MARKER_PREFIX = ".weavewave-warm-"
# The synthetic warm-up tune: long enough for every analysis step to take its full path (beat tracking
# needs several beats; section boundaries need 8 s of MFCC), short enough to analyse in a second or two.
WARM_SECONDS = 9.0
WARM_SAMPLE_RATE = 44100
WARM_TEMPO_BPM = 120.0
WARM_CHORDS_HZ = (
    (261.63, 329.63, 392.00),
    (220.00, 261.63, 329.63),
    (174.61, 220.00, 261.63),
    (196.00, 246.94, 293.66),
)

_lock = threading.RLock()  # one warm-up per process; the warming thread may re-enter through librosa()
_warming = False
_ready = False


def versions() -> dict[str, str | None]:
    """The installed numba and librosa versions (None when absent), read without importing them."""
    from importlib import metadata

    found: dict[str, str | None] = {}
    for name in ("numba", "librosa"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def _user_cache_root() -> Path:
    """The user's cache folder, as platformdirs would choose it (XDG on Linux)."""
    xdg = os.environ.get(XDG_CACHE_ENV)
    if xdg and os.path.isabs(xdg):
        return Path(xdg)
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches"
    if os.name == "nt" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"])
    return Path.home() / ".cache"


def default_cache_dir() -> Path:
    """``<user cache>/weavewave/numba-<numba version>-<librosa version>``."""
    v = versions()
    return _user_cache_root() / APP_CACHE_NAME / f"numba-{v['numba'] or 'none'}-{v['librosa'] or 'none'}"


def configure() -> Path:
    """Point numba at its cache folder (the user's ``NUMBA_CACHE_DIR`` if set) and return the folder.

    Call before numba is imported: numba reads the variable once, and librosa's functions pick their
    cache folder when librosa's modules are imported.
    """
    given = os.environ.get(NUMBA_CACHE_ENV)
    if given:
        return Path(given)
    folder = default_cache_dir()
    os.environ[NUMBA_CACHE_ENV] = str(folder)
    if "numba" in sys.modules:  # imported by someone else first: tell its config too (librosa may not be)
        with contextlib.suppress(Exception):
            sys.modules["numba"].config.CACHE_DIR = str(folder)
    return folder


def marker_path(folder: Path | None = None) -> Path:
    """The file that says "compiled completely, by one process, for these versions"."""
    v = versions()
    from weavewave import __version__

    return (folder or configure()) / f"{MARKER_PREFIX}{__version__}-numba{v['numba']}-librosa{v['librosa']}"


def is_warm() -> bool:
    """Whether this version's cache has been compiled completely (the marker exists)."""
    return marker_path().exists()


def cache_files(folder: Path) -> list[Path]:
    """numba's cache files under ``folder``."""
    if not folder.is_dir():
        return []
    return [p for p in folder.rglob("*") if p.suffix in CACHE_SUFFIXES and p.is_file()]


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive inter-process lock. The OS drops it when its holder dies, so it never goes stale."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # not POSIX: filelock (installed with huggingface_hub and torch), else no lock
        try:
            from filelock import FileLock
        except ImportError:
            yield
            return
        with FileLock(str(path)):
            yield
        return
    with open(path, "a+") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def ensure_warm(*, force: bool = False) -> bool:
    """Compile librosa's JIT functions into this version's cache once; return True if this call did.

    Cheap when the marker exists. Otherwise waits for the inter-process lock; the first holder deletes
    any stale cache files, compiles by analysing a synthetic tune, and writes the marker; later holders
    find the marker and return. ``force`` deletes and recompiles even when the marker is there.
    Raises MissingDependencyError when librosa is not installed.
    """
    global _warming, _ready
    if _ready and not force:
        return False
    with _lock:
        if _warming:  # the warm-up itself is calling librosa(): let it through
            return False
        folder = configure()
        marker = marker_path(folder)
        if marker.exists() and not force:
            _ready = True
            return False
        with _file_lock(folder / LOCK_NAME):
            if marker.exists() and not force:  # another process finished while we waited
                _ready = True
                return False
            # Stale or half-written files from a crashed or racing compile. Not when this process has
            # already loaded librosa's compiled modules (then it holds them in memory anyway).
            if not any(m.startswith("librosa.") for m in sys.modules):
                for stale in cache_files(folder):
                    stale.unlink(missing_ok=True)
            marker.unlink(missing_ok=True)
            _warming = True
            started = time.monotonic()
            try:
                _warm_workload()
            finally:
                _warming = False
            tmp = marker.with_name(marker.name + f".{os.getpid()}.tmp")
            tmp.write_text(
                json.dumps(
                    {**versions(), "seconds": round(time.monotonic() - started, 1), "pid": os.getpid()}
                )
                + "\n"
            )
            os.replace(tmp, marker)
        _ready = True
        return True


def librosa() -> ModuleType:
    """librosa, imported after its JIT cache is configured and warm. Raises MissingDependencyError."""
    configure()
    if not librosa_available():
        raise missing("librosa", "analysis", "audio analysis")
    ensure_warm()  # before this process loads any of librosa's compiled functions
    import librosa as module

    return module


def librosa_available() -> bool:
    """Whether librosa is installed (without importing it)."""
    return available("librosa")


def warm_if_installed() -> bool:
    """:func:`ensure_warm` when librosa is installed, else nothing; for the server and worker pools."""
    configure()
    return ensure_warm() if librosa_available() else False


def _warm_tune() -> Any:
    """A short synthetic tune [shape=(n,), float32]: a chord per bar, a click on every beat."""
    import numpy as np

    n = int(WARM_SECONDS * WARM_SAMPLE_RATE)
    t = np.arange(n) / WARM_SAMPLE_RATE
    beat_s = 60.0 / WARM_TEMPO_BPM
    y = np.zeros(n)
    bar_s = 4 * beat_s
    for i in range(int(WARM_SECONDS / beat_s)):
        start = int(i * beat_s * WARM_SAMPLE_RATE)
        seg = t[: n - start]
        chord = WARM_CHORDS_HZ[int(i * beat_s / bar_s) % len(WARM_CHORDS_HZ)]
        env = np.exp(-seg * 6.0)
        tone = sum(np.sin(2 * np.pi * f * seg) for f in chord) + 0.5 * np.sin(2 * np.pi * 2 * chord[-1] * seg)
        y[start:] += 0.15 * env * tone
        y[start : start + 200] += 0.5 * np.exp(-np.arange(min(200, n - start)) / 20.0)  # the click
    return (0.8 * y / np.max(np.abs(y))).astype(np.float32)


def _warm_workload() -> None:
    """Run every librosa path weavewave takes, so each JIT signature it needs is compiled here, once."""
    # Imported first so the eagerly compiled gufuncs (librosa.beat, util) compile here, under the lock.
    import librosa as lr
    import numpy as np

    for sub in ("beat", "onset", "feature", "segment", "sequence", "util", "filters", "core"):
        getattr(lr, sub)
    from importlib.util import find_spec

    from weavewave.evaluate.embed import FeatureEmbedder
    from weavewave.generators.musicgen.chroma import melody_chroma
    from weavewave.music import analysis as analyze
    from weavewave.perceive.audio import analyse_audio

    y = _warm_tune()
    stereo = np.stack([y, y], axis=1)
    analyse_audio(y, WARM_SAMPLE_RATE, name="warm-up", transcribe=find_spec("basic_pitch") is not None)
    sig = analyze.analysis_signal(stereo, WARM_SAMPLE_RATE)
    analyze.estimate_tempo(sig, analyze.ANALYSIS_SR)
    analyze.estimate_key(sig, analyze.ANALYSIS_SR)
    analyze.beat_times(sig, analyze.ANALYSIS_SR)
    analyze.tempo_curve(sig, analyze.ANALYSIS_SR)
    analyze.section_boundaries(sig, analyze.ANALYSIS_SR, 2)
    # Single-line references are transcribed with pyin (perceive.audio): compile its Viterbi path too.
    lr.pyin(y[: int(2 * WARM_SAMPLE_RATE)], fmin=65.0, fmax=1000.0, sr=WARM_SAMPLE_RATE)
    FeatureEmbedder().embed(stereo, WARM_SAMPLE_RATE)
    melody_chroma(stereo, WARM_SAMPLE_RATE)

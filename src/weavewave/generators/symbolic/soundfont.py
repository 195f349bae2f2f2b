"""Which General MIDI SoundFont the symbolic renderer plays, and its bytes (read once per process).

The choice, best first: a path given by the caller, ``WEAVEWAVE_SOUNDFONT``, a fuller GM font the system
has (:data:`SYSTEM_SOUNDFONTS`), then pretty_midi's bundled ``TimGM6mb.sf2``. docs/SOUNDFONTS.md compares
them. Only SF2 files are accepted: midirenderer cannot play SF3.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from pathlib import Path

from weavewave.errors import BadInputError, MissingDependencyError

SOUNDFONT_ENV = "WEAVEWAVE_SOUNDFONT"
# Fuller General MIDI SoundFonts a system may have, best first (docs/SOUNDFONTS.md has the comparison).
# MuseScore General (Debian/Ubuntu: musescore-general-soundfont-lossless; `make demo` installs it as root)
# has the most and the widest-band samples and no DC offset; FluidR3 (fluid-soundfont-gm) is next, though
# its "Pad 2 (warm)" carries a DC offset; then whatever the system calls its default GM font.
SYSTEM_SOUNDFONTS = (
    "/usr/share/sounds/sf2/MuseScore_General_Full.sf2",
    "/usr/share/soundfonts/MuseScore_General_Full.sf2",
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/soundfonts/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/soundfonts/default.sf2",
)
BUNDLED_SOUNDFONT = "TimGM6mb.sf2"  # ships inside the pretty_midi wheel
_RIFF_HEADER_BYTES = 12
_SF2_INFO_SCAN_BYTES = 4096  # the 'ifil' version chunk sits at the start of the INFO list


def find_soundfont(path: str | Path | None = None) -> Path:
    """The General MIDI SoundFont (SF2) to render with.

    Precedence: ``path`` if given; else the ``WEAVEWAVE_SOUNDFONT`` environment variable; else a fuller
    GM SoundFont already installed on the system (``SYSTEM_SOUNDFONTS``); else ``TimGM6mb.sf2`` from the
    pretty_midi package.

    Parameters
    ----------
    path : str or Path, optional
        An explicit ``.sf2`` file.

    Returns
    -------
    Path

    Raises
    ------
    BadInputError
        The given file (or the environment variable's) does not exist, or is not an SF2 SoundFont (SF3 and
        other files are refused: the synthesizer reads SF2 only).
    MissingDependencyError
        No SoundFont at all: pretty_midi is not installed.
    """
    if path is not None and str(path) != "":
        return _checked_sf2(Path(path).expanduser(), origin="")
    from_env = os.environ.get(SOUNDFONT_ENV, "").strip()
    if from_env:
        return _checked_sf2(Path(from_env).expanduser(), origin=f" (from {SOUNDFONT_ENV})")
    for candidate in SYSTEM_SOUNDFONTS:
        p = Path(candidate)
        if p.is_file() and _sf2_problem(p) is None:
            return p
    spec = importlib.util.find_spec("pretty_midi")
    if spec is not None and spec.origin is not None:
        bundled = Path(spec.origin).parent / BUNDLED_SOUNDFONT
        if bundled.is_file():
            return bundled
    raise MissingDependencyError(
        "no General MIDI SoundFont found: pip install pretty_midi (it ships "
        f"{BUNDLED_SOUNDFONT}), or pass --soundfont FILE.sf2"
    )


def _checked_sf2(p: Path, *, origin: str) -> Path:
    if not p.is_file():
        raise BadInputError(f"soundfont not found: {p}{origin}; check the path")
    problem = _sf2_problem(p)
    if problem is not None:
        raise BadInputError(f"{p}{origin} {problem}: only SF2 SoundFonts are supported, pass a .sf2 file")
    return p


def _sf2_problem(p: Path) -> str | None:
    """Why ``p`` is not an SF2 SoundFont, or None if it is one."""
    if p.suffix.lower() == ".sf3":
        return "is an SF3 (compressed) SoundFont"
    try:
        with p.open("rb") as fh:
            head = fh.read(_SF2_INFO_SCAN_BYTES)
    except OSError as err:
        return f"cannot be read ({err.strerror})"
    if len(head) < _RIFF_HEADER_BYTES or head[:4] != b"RIFF" or head[8:12] != b"sfbk":
        return "is not a SoundFont (no RIFF sfbk header)"
    at = head.find(b"ifil")
    if at >= 0 and at + 10 <= len(head):
        major = int.from_bytes(head[at + 8 : at + 10], "little")
        if major >= 3:
            return "is an SF3 (compressed) SoundFont"
    return None


@functools.lru_cache(maxsize=2)
def _soundfont_bytes(path: str, mtime_ns: int, size: int) -> bytes:
    """The file's bytes, read once per process (keyed by modification time and size)."""
    del mtime_ns, size  # only part of the cache key
    return Path(path).read_bytes()


def load_soundfont(path: Path) -> bytes:
    """The bytes of the SoundFont at ``path``, cached per process while the file is unchanged."""
    st = path.stat()
    return _soundfont_bytes(str(path.resolve()), st.st_mtime_ns, st.st_size)

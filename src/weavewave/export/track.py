"""Writing a Track to disk: audio, MIDI, stems and brief.json, all or nothing.

Files are written into a temporary folder beside ``out`` and moved into place only when all of them
succeeded, so a failure leaves no partial output, and nothing existing is overwritten without ``force``.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

from weavewave.errors import BadInputError, DiskFullError, is_disk_full
from weavewave.generators import Track

AUDIO_FORMATS = ("wav", "flac", "mp3")
VIDEO_FILE = "video.mp4"


def planned_files(
    track_has_midi: bool, fmt: str = "wav", stems: list[str] | None = None, *, video: bool = False
) -> list[str]:
    """Relative names `save_track` will write."""
    names = [f"music.{fmt}", "brief.json"]
    if track_has_midi:
        names.insert(1, "music.mid")
    if video:
        names.append(VIDEO_FILE)
    for s in stems or []:
        names.append(f"stems/{s}.{fmt}")
    return names


def check_out_dir(out: str | Path, names: list[str], *, force: bool) -> Path:
    """Refuse early if an output would overwrite an existing file (unless ``force``)."""
    out_path = Path(out)
    if out_path.exists() and not out_path.is_dir():
        raise BadInputError(f"--out {out_path} is a file, not a folder: choose a folder path")
    if not force:
        clash = [n for n in names if (out_path / n).exists()]
        if out_path.is_dir() and (out_path / "stems").exists() and any(n.startswith("stems/") for n in names):
            clash += [n for n in ("stems",) if n not in clash]
        if clash:
            raise BadInputError(
                f"{out_path / clash[0]} already exists: choose another --out folder or pass "
                "--force to overwrite"
            )
    return out_path


def stem_file_name(part_name: str) -> str:
    """A safe file name for a stem: "melody: Tenor Sax" -> "melody-tenor-sax"."""
    return re.sub(r"[^a-z0-9]+", "-", part_name.lower()).strip("-") or "part"


def save_track(
    track: Track,
    out: str | Path,
    *,
    video: str | Path | None = None,
    keep_audio: bool = False,
    fmt: str = "wav",
    stems: bool = False,
    force: bool = False,
) -> list[Path]:
    """Write ``music.<fmt>``, ``music.mid`` (when the track has a score), ``brief.json``, optional
    ``stems/``, and ``video.mp4`` when ``video`` is given: that video with the new soundtrack (its own
    sound mixed in, ducked under the music's level where it speaks, with ``keep_audio``).

    Returns the written paths. Raises BadInputError if a file exists and ``force`` is False.
    """
    from weavewave.io.audio import write_audio

    if fmt not in AUDIO_FORMATS:
        raise BadInputError(f"unknown format {fmt!r}: use one of {', '.join(AUDIO_FORMATS)}")
    if keep_audio and video is None:
        raise BadInputError("--keep-audio keeps a video's own sound: give the video with --video")
    if stems and not track.stems:
        raise BadInputError("this track has no stems: generate it with stems=True (CLI: --stems)")
    stem_names = {stem_file_name(k): k for k in track.stems} if stems else {}
    names = planned_files(track.arrangement is not None, fmt, list(stem_names), video=video is not None)
    out_path = check_out_dir(out, names, force=force)
    created_out = not out_path.exists()
    out_path.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".weavewave-", dir=out_path))
    writing = names[0]  # the file being written, named as in --out, for a disk-full message
    try:
        write_audio(tmp / writing, track.audio, track.sample_rate, fmt)
        if track.arrangement is not None:
            writing = "music.mid"
            (tmp / writing).write_bytes(track.arrangement.to_midi_bytes())
        if stem_names:
            (tmp / "stems").mkdir()
            for fname, key in stem_names.items():
                writing = f"stems/{fname}.{fmt}"
                write_audio(tmp / writing, track.stems[key], track.sample_rate, fmt)
        writing = "brief.json"
        (tmp / writing).write_text(track.brief.to_json(), encoding="utf-8")
        if video is not None:
            from weavewave.export.video import mux_soundtrack

            writing = VIDEO_FILE
            mux_soundtrack(video, track.audio, track.sample_rate, tmp / VIDEO_FILE, keep_audio=keep_audio)
        written = []
        if stem_names and force and (out_path / "stems").exists():
            shutil.rmtree(out_path / "stems")
        for name in names:
            target = out_path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp / name, target)
            written.append(target)
        return written
    except BaseException as exc:
        # Asked before the partial files go: removing them frees the space that ran out.
        full = isinstance(exc, Exception) and not isinstance(exc, DiskFullError) and is_disk_full(exc, tmp)
        if created_out:
            shutil.rmtree(out_path, ignore_errors=True)
        if full:
            raise DiskFullError(out_path / writing) from exc
        raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

"""Content sniffing: what an upload is, from its first bytes, never from its name or declared type."""

from __future__ import annotations

import re

# (kind, format, file extension, test on the first 32 bytes)
_SIGNATURES: list[tuple[str, str, str, object]] = [
    ("image", "png", "png", lambda b: b.startswith(b"\x89PNG\r\n\x1a\n")),
    ("image", "jpeg", "jpg", lambda b: b.startswith(b"\xff\xd8\xff")),
    ("image", "gif", "gif", lambda b: b[:6] in (b"GIF87a", b"GIF89a")),
    ("image", "webp", "webp", lambda b: b[:4] == b"RIFF" and b[8:12] == b"WEBP"),
    ("image", "bmp", "bmp", lambda b: b[:2] == b"BM" and len(b) >= 26),
    ("image", "tiff", "tif", lambda b: b[:4] in (b"II*\x00", b"MM\x00*")),
    ("audio", "wav", "wav", lambda b: b[:4] == b"RIFF" and b[8:12] == b"WAVE"),
    ("audio", "flac", "flac", lambda b: b[:4] == b"fLaC"),
    ("audio", "ogg", "ogg", lambda b: b[:4] == b"OggS"),
    ("audio", "aiff", "aiff", lambda b: b[:4] == b"FORM" and b[8:12] in (b"AIFF", b"AIFC")),
    (
        "audio",
        "mp3",
        "mp3",
        lambda b: b[:3] == b"ID3" or (len(b) > 1 and b[0] == 0xFF and b[1] & 0xE6 == 0xE2),
    ),
    ("audio", "m4a", "m4a", lambda b: b[4:8] == b"ftyp" and b[8:11] in (b"M4A", b"M4B")),
    ("video", "mp4", "mp4", lambda b: b[4:8] == b"ftyp"),
    ("video", "matroska", "mkv", lambda b: b[:4] == b"\x1a\x45\xdf\xa3"),
    ("video", "avi", "avi", lambda b: b[:4] == b"RIFF" and b[8:12] == b"AVI "),
]

EXPECTED = {
    "image": "a PNG, JPEG, GIF, WebP, BMP or TIFF image",
    "audio": "a WAV, FLAC, OGG, AIFF, MP3 or M4A recording",
    "video": "an MP4, MOV, WebM, MKV or AVI video",
}

HEAD_BYTES = 32


def sniff(head: bytes) -> tuple[str, str, str] | None:
    """(kind, format, extension) of a file from its first bytes, or None when unrecognised.

    >>> sniff(b"\\x89PNG\\r\\n\\x1a\\n" + bytes(24))
    ('image', 'png', 'png')
    """
    for kind, fmt, ext, test in _SIGNATURES:
        if test(head):  # type: ignore[operator]
            return kind, fmt, ext
    return None


def safe_stem(name: str | None, default: str) -> str:
    """A file-name stem that cannot leave its folder: letters, digits, '-', '_' only, 60 at most."""
    stem = (name or "").replace("\\", "/").rsplit("/", 1)[-1].rsplit(".", 1)[0]
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", stem).strip("-_")[:60]
    return stem or default

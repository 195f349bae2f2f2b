"""Same request, same seed, same bytes: hash the symbolic backend's output over a sweep of requests.

A refactor that should not change the music is checked by running this before and after it and comparing
the two JSON files (``--compare``). Every request goes through the public Python API
(:func:`weavewave.api.generate` and :func:`weavewave.export.track.save_track`), so the sweep survives changes
under it. Inputs are the prompts below, photographs that ship with scikit-image, a test video built from
them and a tune the sweep made itself.

    python tools/byte_sweep.py --out before.json
    python tools/byte_sweep.py --out after.json --compare before.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# (name, keyword arguments of api.generate); "@photo:NAME", "@video" and "@tune" stand for the made inputs.
SWEEP: list[tuple[str, dict]] = [
    (
        "demo-lofi",
        dict(
            text="A rainy night in Tokyo, neon reflections on wet streets, lonely and calm, lo-fi hip "
            "hop with a soft electric piano",
            duration=20,
            seed=0,
            stems=True,
        ),
    ),
    ("rock", dict(text="an anthem for a stadium rock band", duration=16, seed=1)),
    ("jazz", dict(text="late night jazz club, brushes and walking bass", duration=16, seed=2)),
    ("electronic", dict(text="festival EDM with a big drop", duration=16, seed=3)),
    ("ambient", dict(text="slow ambient drones over a frozen lake", duration=16, seed=4)),
    ("classical", dict(text="a string quartet in a baroque palace", duration=16, seed=5)),
    ("folk", dict(text="a lively jig at a country fair", duration=16, seed=6)),
    ("cinematic", dict(text="an epic battle in the mountains, orchestral", duration=16, seed=7)),
    ("pop", dict(text="a sunny summer pop song", duration=16, seed=8)),
    ("lullaby", dict(text="a gentle lullaby for a sleeping child", duration=12, seed=9)),
    (
        "story",
        dict(
            text="The hero leaves home at dawn. A storm breaks over the sea. At last she returns, "
            "and the village celebrates.",
            duration=24,
            seed=10,
        ),
    ),
    ("tempo", dict(text="calm piano", tempo=72, duration=10, seed=11)),
    ("key", dict(text="a march", key="Bb major", duration=10, seed=12)),
    ("meter34", dict(text="a waltz in the park", meter="3/4", duration=12, seed=13)),
    ("meter68", dict(text="a sea shanty", meter="6/8", duration=12, seed=14)),
    ("genre", dict(text="a quiet morning", genre="jazz", duration=10, seed=15)),
    ("instruments", dict(text="a happy tune", instruments="piano, strings, drums", duration=10, seed=16)),
    ("loop", dict(text="calm piano", duration=8, loop=True, seed=17)),
    ("short", dict(text="a doorbell chime", duration=3, seed=18)),
    ("seed-none", dict(text="a sunrise over the sea", duration=10, seed=0)),
    ("seed-big", dict(text="a sunrise over the sea", duration=10, seed=123456)),
    ("dorian", dict(text="a mysterious tune", key="A dorian", duration=10, seed=19)),
    (
        "minor-fast",
        dict(text="a chase through the city at night", tempo=160, key="F# minor", duration=10, seed=20),
    ),
    ("photo-coffee", dict(image="@photo:coffee.png", duration=12, seed=21)),
    ("photo-astronaut", dict(image="@photo:astronaut.png", duration=12, seed=22)),
    ("photo-two", dict(image=["@photo:chelsea.png", "@photo:rocket.jpg"], duration=12, seed=23)),
    ("photo-text", dict(text="as a lullaby", image="@photo:coffee.png", duration=12, seed=24)),
    (
        "instruction",
        dict(text="a sunny summer pop song", instruction="calmer, add strings", duration=12, seed=25),
    ),
    ("no-drums", dict(text="rock with no drums", duration=10, seed=26)),
    ("restyle-melody", dict(audio="@tune", instruction="as jazz", duration=12, seed=27)),
    ("restyle-harmony", dict(audio="@tune", reference_mode="harmony", duration=12, seed=28)),
    ("video", dict(video="@video", seed=29)),
    ("stems-forest", dict(text="a quiet forest", duration=8, seed=30, stems=True)),
    ("long", dict(text="a slow cinematic journey", duration=45, seed=31)),
]


def _photo(name: str) -> str:
    import skimage

    return str(Path(skimage.__file__).parent / "data" / name)


def _resolve(value, made: dict[str, str]):
    if isinstance(value, list):
        return [_resolve(v, made) for v in value]
    if isinstance(value, str) and value.startswith("@photo:"):
        return _photo(value.removeprefix("@photo:"))
    if isinstance(value, str) and value.startswith("@"):
        return made[value[1:]]
    return value


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()[:16]
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def run(only: list[str] | None = None) -> dict[str, dict[str, str]]:
    from weavewave.api import generate
    from weavewave.export.track import save_track

    sys.path.insert(0, str(ROOT / "tests"))
    from video_media import Shot, make_video

    hashes: dict[str, dict[str, str]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        made = {"video": str(Path(tmp) / "clip.mp4")}
        make_video(
            Path(made["video"]), [Shot("coffee.png", 75), Shot("astronaut.png", 100), Shot("rocket.jpg", 75)]
        )
        for name, kwargs in SWEEP:
            if only and name not in only and name != SWEEP[0][0]:  # the first makes the tune others restyle
                continue
            started = time.perf_counter()
            args = {k: _resolve(v, made) for k, v in kwargs.items()}
            stems = bool(args.pop("stems", False))
            out = Path(tmp) / name
            track = generate(**args, stems=stems)
            save_track(
                track, out, video=args.get("video"), keep_audio=bool(args.get("keep_audio")), stems=stems
            )
            hashes[name] = _digest(out)
            made.setdefault("tune", str(out / "music.wav"))
            print(
                f"{name:18s} {time.perf_counter() - started:5.1f} s  {hashes[name]['music.wav']}", flush=True
            )
    return hashes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="where to write the hashes (JSON)")
    parser.add_argument("--compare", metavar="JSON", help="hashes of an earlier run: list what changed")
    parser.add_argument("--only", action="append", help="run only these requests (repeatable)")
    args = parser.parse_args()
    hashes = run(args.only)
    Path(args.out).write_text(json.dumps(hashes, indent=1, sort_keys=True) + "\n")
    if not args.compare:
        return 0
    before = json.loads(Path(args.compare).read_text())
    changed = [
        f"{name}/{f}"
        for name in hashes
        for f in sorted(set(hashes[name]) | set(before.get(name, {})))
        if before.get(name, {}).get(f) != hashes[name].get(f)
    ]
    same = sum(len(h) for h in hashes.values()) - len(changed)
    print(
        f"{len(hashes)} requests, {same} files identical, {len(changed)} changed"
        + ("".join(f"\n  changed: {c}" for c in changed))
    )
    return 1 if changed else 0


if __name__ == "__main__":
    sys.exit(main())

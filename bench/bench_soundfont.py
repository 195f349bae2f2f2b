"""Compare General MIDI SoundFonts for the offline renderer (issue 11 point 4).

    .venv/bin/python bench/bench_soundfont.py [--fonts A.sf2 B.sf2 ...] [--seconds 20] [--seeds 0 1]
        [--genres rock jazz ...] [--spectrograms DIR] [--json OUT] [--speed-repeats 3]

Default fonts: the bundled TimGM6mb.sf2 (pretty_midi) and whichever of ``CANDIDATES`` are installed
(Debian's ``fluid-soundfont-gm`` and ``musescore-general-soundfont-lossless``). Every genre in
``weavewave.music.styles.GENRES`` x the seeds is described with a neutral prompt, composed by the symbolic
composer, and rendered with each font exactly as the generator does (``render(..., balance=True)``), in one
process per font (so its memory and first load are its own), one synthesizer pass at a time (workers=1).
Then the fonts take turns rendering ``SPEED_GENRES`` in this process, for a side-by-side speed figure.

Per font it prints:
- the font file: size, presets, samples and sample data per used program, peak memory; the GM programs (and
  drum keys) the ensembles play that it lacks (the synthesizer falls back to another preset), plays with
  another program's samples (an alias), or plays with a DC offset;
- render speed: first read of the file, the sweep's real-time factor, the side-by-side median;
- the mix's long-term spectrum: centroid, spread (bandwidth), 95 % roll-off, energy share above 8 kHz,
  level above 11 kHz, shares in 20-120 Hz and under 20 Hz, DC offset;
- stem loudness per role (each part rendered alone, same controllers) and its spread (loudest - quietest);
- peaks: true peak, how much the limiter had to take off, crest (true peak - loudness), clipped samples.
``--spectrograms DIR`` writes one PNG per font (rock, jazz, cinematic at the first seed) to look at.
Results: docs/SOUNDFONTS.md.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

CANDIDATES = ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf2/MuseScore_General_Full.sf2")
NEUTRAL_PROMPT = "a piece of music"
SEEDS = (0, 1)
SECONDS = 20.0
SPECTROGRAM_GENRES = ("rock", "jazz", "cinematic")
# Speed is timed again side by side in one process (the fonts take turns, blocks of these pieces), since a
# shared machine's load drifts over the minutes each font's full sweep takes.
SPEED_GENRES = ("pop", "jazz", "cinematic")
SPEED_REPEATS = 3
ROLES = ("melody", "chords", "pad", "bass", "drums")
# Long-term spectrum of the mix (mono): frames of N_FFT samples at 48 kHz (about 43 ms, 12 Hz bins).
N_FFT = 2048
HOP = 1024
HIGH_HZ = 8000.0  # cymbals, bow and breath noise, string and brass brightness
AIR_HZ = 11025.0  # half of 22.05 kHz: a font sampled at 22.05 kHz has nothing above this but pitched-up notes
LOW_HZ = 120.0  # kick and bass fundamentals
SUBSONIC_HZ = 20.0  # below hearing: DC offset and rumble, which only eat headroom (and click at note edges)
DC_FLAG = 0.2  # a stem whose mean is this fraction of its RMS carries a DC offset
ROLLOFF = 0.95
SPEC_FLOOR_DB = -90.0
SPEC_MIN_HZ = 30.0
GM_DRUM_BANK = 128
# SF2 generator operators (SoundFont 2.04, section 8.1.2).
GEN_KEY_RANGE = 43
GEN_INSTRUMENT = 41
GEN_SAMPLE_ID = 53
ALL_KEYS = (0, 127)
PNG_DPI = 80
PNG_COLOURS = 64


# --- SF2 preset table (pure; tested in tests/test_bench_soundfont.py) -------------------------------
def _chunks(fh, end: int) -> dict[str, tuple[int, int]]:  # noqa: ANN001
    """Sub-chunks of a RIFF list from the file's position to ``end``: id (or LIST type) -> (offset, size)."""
    found = {}
    while fh.tell() + 8 <= end:
        cid, size = struct.unpack("<4sI", fh.read(8))
        start = fh.tell()
        key = cid.decode("latin-1")
        if key == "LIST":
            key = "LIST:" + fh.read(4).decode("latin-1")
        found[key] = (start, size)
        fh.seek(start + size + (size & 1))
    return found


def _records(data: bytes, fmt: str) -> list[tuple]:
    size = struct.calcsize(fmt)
    return [struct.unpack_from(fmt, data, i) for i in range(0, len(data) - size + 1, size)]


def _zones(bags: list[tuple], gens: list[tuple], first: int, last: int) -> list[dict[int, int]]:
    """Generator lists (operator -> raw 16-bit amount) of bags ``first`` .. ``last - 1``."""
    out = []
    for b in range(first, last):
        g0, g1 = bags[b][0], bags[b + 1][0]
        out.append({op: amount for op, amount in gens[g0:g1]})
    return out


def _key_range(amount: int | None) -> tuple[int, int]:
    if amount is None:
        return ALL_KEYS
    return amount & 0xFF, amount >> 8


def read_presets(path: str | Path) -> dict[tuple[int, int], dict]:
    """The presets of an SF2 file without reading its sample data.

    Returns ``{(bank, program): {"name", "samples": frozenset of sample ids, "keys": frozenset of MIDI keys
    that sound, "sample_bytes": bytes of 16-bit sample data it plays, "max_rate": highest sample rate}}``.
    """
    with open(path, "rb") as fh:
        riff, size, form = struct.unpack("<4sI4s", fh.read(12))
        if riff != b"RIFF" or form != b"sfbk":
            raise ValueError(f"{path} is not an SF2 SoundFont")
        top = _chunks(fh, 8 + size)
        p0, psize = top["LIST:pdta"]
        fh.seek(p0 + 4)
        sub = _chunks(fh, p0 + psize)
        raw = {}
        for name in ("phdr", "pbag", "pgen", "inst", "ibag", "igen", "shdr"):
            fh.seek(sub[name][0])
            raw[name] = fh.read(sub[name][1])
    phdr = _records(raw["phdr"], "<20sHHHIII")
    pbag, ibag = _records(raw["pbag"], "<HH"), _records(raw["ibag"], "<HH")
    pgen, igen = _records(raw["pgen"], "<HH"), _records(raw["igen"], "<HH")
    inst = _records(raw["inst"], "<20sH")
    shdr = _records(raw["shdr"], "<20sIIIIIBbHH")

    def inst_zones(i: int) -> list[tuple[tuple[int, int], int]]:
        zones = _zones(ibag, igen, inst[i][1], inst[i + 1][1])
        return [(_key_range(z.get(GEN_KEY_RANGE)), z[GEN_SAMPLE_ID]) for z in zones if GEN_SAMPLE_ID in z]

    presets = {}
    for k in range(len(phdr) - 1):  # the last header is the terminal "EOP" record
        name, program, bank, bag0 = phdr[k][:4]
        samples, keys = set(), set()
        for z in _zones(pbag, pgen, bag0, phdr[k + 1][3]):
            if GEN_INSTRUMENT not in z:
                continue  # a global zone
            plo, phi = _key_range(z.get(GEN_KEY_RANGE))
            for (lo, hi), sid in inst_zones(z[GEN_INSTRUMENT]):
                lo, hi = max(lo, plo), min(hi, phi)
                if lo <= hi:
                    samples.add(sid)
                    keys.update(range(lo, hi + 1))
        presets[(bank, program)] = {
            "name": name.split(b"\0")[0].decode("latin-1").strip(),
            "samples": frozenset(samples),
            "keys": frozenset(keys),
            "sample_bytes": sum(2 * (shdr[s][2] - shdr[s][1]) for s in samples),
            "max_rate": max((shdr[s][5] for s in samples), default=0),
        }
    return presets


def program_coverage(presets: dict[tuple[int, int], dict], programs: set[int], drum_keys: set[int]) -> dict:
    """What of the GM programs (bank 0) and drum keys (bank 128, kit 0) used the font lacks or aliases.

    An alias is a used program whose preset plays exactly the same samples as another program's preset
    (a small font standing in one instrument for another).
    """
    missing = sorted(p for p in programs if (0, p) not in presets)
    by_samples = defaultdict(list)
    for (bank, prog), info in presets.items():
        if bank == 0 and info["samples"]:
            by_samples[info["samples"]].append(prog)
    aliases = {}
    for p in sorted(programs):
        info = presets.get((0, p))
        if info is not None:
            others = [q for q in by_samples.get(info["samples"], []) if q != p]
            if others:
                aliases[p] = others
    kit = presets.get((GM_DRUM_BANK, 0))
    kit_keys = kit["keys"] if kit else frozenset()
    used = [presets[(0, p)] for p in programs if (0, p) in presets]
    return {
        "missing_programs": missing,
        "aliased_programs": aliases,
        "missing_drum_keys": sorted(k for k in drum_keys if k not in kit_keys),
        "samples_per_program": round(statistics.fmean(len(i["samples"]) for i in used), 1) if used else 0.0,
        "sample_mb_per_program": round(statistics.fmean(i["sample_bytes"] for i in used) / 1e6, 2)
        if used
        else 0.0,
        "max_sample_rate": max((i["max_rate"] for i in used), default=0),
    }


# --- audio measures (pure) ------------------------------------------------------------------------
def long_term_spectrum(audio: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean power spectrum of the mono mix over Hann frames: (frequencies in Hz, power)."""
    mono = audio.mean(axis=1) if audio.ndim == 2 else audio
    n_frames = 1 + max(0, len(mono) - N_FFT) // HOP
    window = np.hanning(N_FFT).astype(np.float32)
    frames = np.lib.stride_tricks.sliding_window_view(np.pad(mono, (0, max(0, N_FFT - len(mono)))), N_FFT)[
        ::HOP
    ]
    power = (np.abs(np.fft.rfft(frames[:n_frames] * window, axis=1)) ** 2).mean(axis=0)
    return np.fft.rfftfreq(N_FFT, 1.0 / sample_rate), power


def spectral_measures(audio: np.ndarray, sample_rate: int) -> dict[str, float]:
    """Long-term spectrum figures of a mix [shape=(n, 2) or (n,)].

    Centroid, spread (bandwidth) and 95 % roll-off in Hz; energy shares above ``HIGH_HZ``, in
    ``SUBSONIC_HZ`` .. ``LOW_HZ`` and under ``SUBSONIC_HZ``; the level above ``AIR_HZ`` in dB re the
    total; the largest DC offset of a channel.
    """
    freqs, power = long_term_spectrum(audio, sample_rate)
    total = float(power.sum())
    dc = float(np.abs(audio.mean(axis=0)).max()) if len(audio) else 0.0
    if total <= 0:
        return {
            "centroid_hz": 0.0,
            "bandwidth_hz": 0.0,
            "rolloff_hz": 0.0,
            "high_share": 0.0,
            "low_share": 0.0,
            "subsonic_share": 0.0,
            "air_db": SPEC_FLOOR_DB,
            "dc": dc,
        }
    p = power / total
    centroid = float((freqs * p).sum())
    return {
        "centroid_hz": centroid,
        "bandwidth_hz": float(np.sqrt(((freqs - centroid) ** 2 * p).sum())),
        "rolloff_hz": float(freqs[min(len(freqs) - 1, int(np.searchsorted(np.cumsum(p), ROLLOFF)))]),
        "high_share": float(p[freqs >= HIGH_HZ].sum()),
        "low_share": float(p[(freqs >= SUBSONIC_HZ) & (freqs < LOW_HZ)].sum()),
        "subsonic_share": float(p[freqs < SUBSONIC_HZ].sum()),
        "air_db": float(10 * np.log10(max(p[freqs >= AIR_HZ].sum(), 10 ** (SPEC_FLOOR_DB / 10)))),
        "dc": dc,
    }


def has_dc_offset(stem: np.ndarray) -> bool:
    """Whether a stem [shape=(n, 2)] carries a DC offset of at least ``DC_FLAG`` of its RMS."""
    rms = float(np.sqrt(np.mean(stem.astype(np.float64) ** 2)))
    return rms > 0 and float(np.abs(stem.mean(axis=0)).max()) >= DC_FLAG * rms


def role_spread(role_lufs: dict[str, float | None]) -> float | None:
    """Loudest minus quietest role (LU) among the roles that sound; None with fewer than two."""
    levels = [v for v in role_lufs.values() if v is not None]
    return round(max(levels) - min(levels), 2) if len(levels) > 1 else None


# --- one font, in its own process ------------------------------------------------------------------
def _pieces(
    seeds: tuple[int, ...], seconds: float, genres: tuple[str, ...] | None
) -> list[tuple[str, int, object]]:
    from weavewave import describe
    from weavewave.generators.symbolic.compose import compose
    from weavewave.music.styles import GENRES

    return [
        (g, s, compose(describe(text=NEUTRAL_PROMPT, genre=g, duration=seconds, seed=s)))
        for g in (genres or tuple(GENRES))
        for s in seeds
    ]


def _spectrogram_png(rows: list[tuple[str, np.ndarray]], sample_rate: int, title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(rows), 1, figsize=(7.5, 2.1 * len(rows)), sharex=True, dpi=PNG_DPI)
    for ax, (label, audio) in zip(np.atleast_1d(axes), rows, strict=True):
        mono = audio.mean(axis=1)
        frames = np.lib.stride_tricks.sliding_window_view(mono, N_FFT)[:: HOP * 2]
        db = 10 * np.log10(np.abs(np.fft.rfft(frames * np.hanning(N_FFT), axis=1)) ** 2 + 1e-12)
        db = np.maximum(db - db.max(), SPEC_FLOOR_DB).T
        freqs = np.fft.rfftfreq(N_FFT, 1.0 / sample_rate)
        times = np.arange(db.shape[1]) * HOP * 2 / sample_rate
        keep = freqs >= SPEC_MIN_HZ
        ax.pcolormesh(
            times,
            freqs[keep],
            db[keep],
            shading="auto",
            cmap="magma",
            vmin=SPEC_FLOOR_DB,
            vmax=0,
            rasterized=True,
        )
        ax.set_yscale("log")
        ax.set_ylim(SPEC_MIN_HZ, sample_rate / 2)
        ax.axhline(AIR_HZ, color="w", lw=0.6, ls="--")
        ax.set_ylabel(f"{label}\nHz")
    np.atleast_1d(axes)[-1].set_xlabel("seconds")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=PNG_DPI)
    plt.close(fig)
    buf.seek(0)
    from PIL import Image

    # A 64-colour palette keeps a noisy spectrogram under 200 KB without visible banding.
    Image.open(buf).convert("RGB").quantize(colors=PNG_COLOURS).save(path, optimize=True)


def run_font(
    font: str,
    seeds: tuple[int, ...],
    seconds: float,
    spectrograms: str | None,
    genres: tuple[str, ...] | None = None,
) -> dict:
    """Render every piece with ``font``; the figures for one font."""
    from weavewave.dsp.loudness import integrated_lufs
    from weavewave.generators.symbolic.render import render
    from weavewave.generators.symbolic.soundfont import find_soundfont, load_soundfont

    path = find_soundfont(font)
    pieces = _pieces(seeds, seconds, genres)
    t0 = time.perf_counter()
    load_soundfont(path)  # first read of the file (the render cache keeps it for the process)
    load_s = time.perf_counter() - t0

    programs = {p.program for _, _, a in pieces for p in a.parts if not p.is_drum and p.notes}
    drum_keys = {n.pitch for _, _, a in pieces for p in a.parts if p.is_drum for n in p.notes}
    records, rows, rate, dc_programs = [], [], 0, set()
    for genre, seed, arr in pieces:
        t = time.perf_counter()
        mix = render(arr, soundfont=path, balance=True, workers=1)
        render_s = time.perf_counter() - t
        stems = render(arr, soundfont=path, balance=True, workers=1, stems=True).stems
        by_role: dict[str, np.ndarray] = {}
        for part, audio in zip(arr.parts, stems.values(), strict=True):
            by_role[part.role] = by_role.get(part.role, 0) + audio
            if not part.is_drum and has_dc_offset(audio):
                dc_programs.add(f"{part.program} {part.instrument}")
        role_lufs = {r: integrated_lufs(a, mix.sample_rate) for r, a in by_role.items()}
        st, rate = mix.stats, mix.sample_rate
        records.append(
            {
                "genre": genre,
                "seed": seed,
                "rtf": arr.duration_s / render_s,
                "render_s": render_s,
                **spectral_measures(mix.audio, mix.sample_rate),
                "role_lufs": {r: None if v is None else round(v, 2) for r, v in role_lufs.items()},
                "role_spread_lu": role_spread(role_lufs),
                "lufs": st["lufs"],
                "true_peak_dbfs": st["true_peak_dbfs"],
                "sample_peak_dbfs": st["sample_peak_dbfs"],
                "limiter_db": st["limiter_max_reduction_db"],
                "crest_db": st["true_peak_dbfs"] - st["lufs"],
                "clipped_samples": int((np.abs(mix.audio) >= 1.0).sum()),
            }
        )
        if spectrograms and genre in SPECTROGRAM_GENRES and seed == seeds[0]:
            rows.append((genre, mix.audio))
    if spectrograms and rows:
        out = Path(spectrograms)
        out.mkdir(parents=True, exist_ok=True)
        rows.sort(key=lambda r: SPECTROGRAM_GENRES.index(r[0]))
        _spectrogram_png(
            rows,
            rate,
            f"{path.name} (seed {seeds[0]}, dB re max; dashed: 11 kHz)",
            out / f"soundfont-{_slug(path.name)}.png",
        )
    presets = read_presets(path)
    return {
        "font": path.name,
        "path": str(path),
        "size_mb": round(path.stat().st_size / 1e6, 1),
        "presets": len(presets),
        "load_s": load_s,
        "peak_rss_mb": _peak_rss_mb(),
        "coverage": program_coverage(presets, programs, drum_keys),
        "dc_programs": sorted(dc_programs),
        "programs_used": sorted(programs),
        "records": records,
    }


def _slug(name: str) -> str:
    return Path(name).stem.lower().replace("_", "-")


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 0)  # Linux: kB


def measure_speed(fonts: list[str], seeds: tuple[int, ...], seconds: float, repeats: int) -> dict[str, dict]:
    """Median warm real-time factor of the mix render per font, the fonts taking turns ``repeats`` times."""
    from weavewave.generators.symbolic.render import render
    from weavewave.generators.symbolic.soundfont import find_soundfont, load_soundfont

    pieces = _pieces(seeds[:1], seconds, SPEED_GENRES)
    times: dict[str, list[float]] = defaultdict(list)
    for _ in range(repeats):
        for font in fonts:
            path = find_soundfont(font)
            load_soundfont(path)  # the file read is not part of a warm render
            for _, _, arr in pieces:
                t = time.perf_counter()
                render(arr, soundfont=path, balance=True, workers=1)
                times[path.name].append(arr.duration_s / (time.perf_counter() - t))
    return {
        name: {"median_rtf": statistics.median(v), "min_rtf": min(v), "max_rtf": max(v), "n": len(v)}
        for name, v in times.items()
    }


# --- report --------------------------------------------------------------------------------------
def _mean(records: list[dict], key: str) -> float:
    return statistics.fmean(r[key] for r in records if r[key] is not None)


def print_report(results: list[dict], seeds: tuple[int, ...], seconds: float, speed: dict[str, dict]) -> None:
    n = len(results[0]["records"])
    print(
        f"# SoundFonts: {n} pieces (every genre x seeds {list(seeds)}, {seconds:g} s), render(balance=True)\n"
    )
    print("## Font files\n")
    print(
        "| font | size MB | presets | load s | peak RSS MB | samples / program | sample MB / program | max rate Hz |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        c = r["coverage"]
        print(
            f"| {r['font']} | {r['size_mb']} | {r['presets']} | {r['load_s']:.2f} | {r['peak_rss_mb']:.0f} | "
            f"{c['samples_per_program']} | {c['sample_mb_per_program']} | {c['max_sample_rate']} |"
        )
    print(
        f"\nGM programs the ensembles use ({len(results[0]['programs_used'])}): {results[0]['programs_used']}\n"
    )
    print(
        "| font | missing programs | programs sharing another's samples | missing drum keys | programs with a DC offset |"
    )
    print("|---|---|---|---|---|")
    for r in results:
        c = r["coverage"]
        alias = ", ".join(f"{p}={'/'.join(map(str, q))}" for p, q in c["aliased_programs"].items()) or "none"
        print(
            f"| {r['font']} | {c['missing_programs'] or 'none'} | {alias} | {c['missing_drum_keys'] or 'none'} | "
            f"{', '.join(r['dc_programs']) or 'none'} |"
        )
    if speed:
        one = next(iter(speed.values()))
        print(
            f"\n## Warm render speed, side by side ({', '.join(SPEED_GENRES)}, seed {seeds[0]}; {one['n']} renders "
            "per font, fonts taking turns; workers=1)\n"
        )
        print("| font | median x real time | range |")
        print("|---|---|---|")
        for name, v in speed.items():
            print(f"| {name} | {v['median_rtf']:.1f} | {v['min_rtf']:.1f}-{v['max_rtf']:.1f} |")
    print("\n## Sweep: speed, spectrum, balance, peaks (mean over pieces)\n")
    print(
        "| font | sweep RTF (x real time) | centroid Hz | bandwidth Hz | 95% roll-off Hz | >8 kHz share | "
        ">11 kHz dB | 20-120 Hz share | <20 Hz share (max) | DC max | role spread LU (mean / worst) | "
        "limiter dB (mean / max) | crest dB | true peak max dBTP | clipped samples |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        recs = r["records"]
        print(
            f"| {r['font']} | {_mean(recs, 'rtf'):.1f} | {_mean(recs, 'centroid_hz'):.0f} | "
            f"{_mean(recs, 'bandwidth_hz'):.0f} | {_mean(recs, 'rolloff_hz'):.0f} | "
            f"{100 * _mean(recs, 'high_share'):.2f} % | {_mean(recs, 'air_db'):.1f} | "
            f"{100 * _mean(recs, 'low_share'):.1f} % | {100 * _mean(recs, 'subsonic_share'):.1f} % "
            f"({100 * max(x['subsonic_share'] for x in recs):.0f} %) | {max(x['dc'] for x in recs):.3f} | "
            f"{_mean(recs, 'role_spread_lu'):.1f} / {max(x['role_spread_lu'] or 0 for x in recs):.1f} | "
            f"{_mean(recs, 'limiter_db'):.1f} / {max(x['limiter_db'] for x in recs):.1f} | "
            f"{_mean(recs, 'crest_db'):.1f} | {max(x['true_peak_dbfs'] for x in recs):.2f} | "
            f"{sum(x['clipped_samples'] for x in recs)} |"
        )
    print("\n## Per genre (first seed): centroid Hz / >11 kHz dB / <20 Hz share % / role spread LU\n")
    print("| genre | " + " | ".join(r["font"] for r in results) + " |")
    print("|---|" + "---|" * len(results))
    for i, rec in enumerate(results[0]["records"]):
        if rec["seed"] != seeds[0]:
            continue
        cells = []
        for r in results:
            x = r["records"][i]
            spread = "-" if x["role_spread_lu"] is None else f"{x['role_spread_lu']:.1f}"
            cells.append(
                f"{x['centroid_hz']:.0f} / {x['air_db']:.1f} / {100 * x['subsonic_share']:.1f} / {spread}"
            )
        print(f"| {rec['genre']} | " + " | ".join(cells) + " |")
    print("\n## Stem loudness per role (LUFS, mean over pieces that have the role)\n")
    print("| font | " + " | ".join(ROLES) + " |")
    print("|---|" + "---|" * len(ROLES))
    for r in results:
        cells = []
        for role in ROLES:
            v = [x["role_lufs"][role] for x in r["records"] if x["role_lufs"].get(role) is not None]
            cells.append(f"{statistics.fmean(v):.1f}" if v else "-")
        print(f"| {r['font']} | " + " | ".join(cells) + " |")


def default_fonts() -> list[str]:
    """The bundled font and the candidates installed here."""
    import pretty_midi

    from weavewave.generators.symbolic.soundfont import BUNDLED_SOUNDFONT

    return [str(Path(pretty_midi.__file__).parent / BUNDLED_SOUNDFONT)] + [
        c for c in CANDIDATES if Path(c).is_file()
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fonts", nargs="+", help="SF2 files (default: bundled + installed candidates)")
    ap.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS))
    ap.add_argument("--seconds", type=float, default=SECONDS)
    ap.add_argument(
        "--genres", nargs="+", help="only these genres (default: all of weavewave.music.styles.GENRES)"
    )
    ap.add_argument("--spectrograms", metavar="DIR", help="write soundfont-<font>.png spectrograms here")
    ap.add_argument("--json", metavar="OUT", help="write every figure to this JSON file")
    ap.add_argument(
        "--speed-repeats", type=int, default=SPEED_REPEATS, help="side-by-side speed rounds (0: skip)"
    )
    ap.add_argument("--child", metavar="FONT", help=argparse.SUPPRESS)  # one font, JSON to --json
    args = ap.parse_args(argv)
    seeds = tuple(args.seeds)
    if args.child:
        genres = tuple(args.genres) if args.genres else None
        Path(args.json).write_text(
            json.dumps(run_font(args.child, seeds, args.seconds, args.spectrograms, genres))
        )
        return 0
    results, fonts = [], args.fonts or default_fonts()
    for font in fonts:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "font.json"
            cmd = (
                [
                    sys.executable,
                    __file__,
                    "--child",
                    font,
                    "--json",
                    str(out),
                    "--seconds",
                    str(args.seconds),
                    "--seeds",
                    *map(str, seeds),
                ]
                + (["--spectrograms", args.spectrograms] if args.spectrograms else [])
                + (["--genres", *args.genres] if args.genres else [])
            )
            t = time.perf_counter()
            subprocess.run(cmd, check=True)
            results.append(json.loads(out.read_text()))
            print(f"[{Path(font).name}: {time.perf_counter() - t:.0f} s]", file=sys.stderr)
    speed = measure_speed(fonts, seeds, args.seconds, args.speed_repeats) if args.speed_repeats > 0 else {}
    print_report(results, seeds, args.seconds, speed)
    if args.json:
        Path(args.json).write_text(json.dumps({"fonts": results, "speed": speed}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``weavewave eval``: measure a set of generated tracks and write ``results.json`` and a report.

Per track: adherence (:mod:`.adherence`), MIDI metrics (:mod:`.symbolic`), optional CLAP/CLIP alignment
(:mod:`.neural`) and pictures (:mod:`.plots`). Per set: means, loudness spread, the pooled melody
distance to real corpora and, with a reference set, FAD / FAD∞ per embedder and the CLAP tag KL. The same
set figures are given per task (``by_task``: image-, story-, caption-, multimodal-to-music..., read from
each piece's brief, see :func:`~weavewave.evaluate.collect.task_of`), as MusFlow reports its scores.
"""

from __future__ import annotations

import html
import json
import math
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from weavewave.errors import BadInputError
from weavewave.evaluate.collect import Item, find_items, find_reference, load_audio, slug, task_of

RESULT_SCHEMA = "weavewave.eval/1"
RESULT_FILES = ("results.json", "report.md", "report.html")
ProgressFn = Callable[[float, str], None]


def evaluate(
    paths: Sequence[str | Path],
    *,
    reference: str | Path | None = None,
    out: str | Path | None = None,
    embedders: Sequence[str] = ("features",),
    clap_model: str | None = None,
    clip_model: str | None = None,
    embedder_models: dict[str, str | None] | None = None,
    images: str | Path | None = None,
    plots: bool = True,
    force: bool = False,
    progress: ProgressFn | None = None,
) -> dict[str, Any]:
    """Evaluate generated outputs; with ``out``, write ``results.json``, ``report.md``, ``report.html`` and
    pictures there. Returns the results.

    Parameters
    ----------
    paths: output folders (searched recursively for music.wav + brief.json) or .jsonl manifests.
    reference: a folder of audio files or a manifest: the reference set for FAD and KL.
    embedders: FAD embedders, ``features`` (no weights), ``clap`` and/or ``encodec``.
    embedder_models: hub id or folder per learned embedder other than CLAP, e.g. ``{"encodec": DIR}``
        (absent or None: the family's default).
    clap_model, clip_model: hub ids or folders. With ``clap_model`` the CLAP score (and tag KL with a
        reference) is computed; with both, image-music alignment for items that name an image.
    images: the folder of photos the pieces were made from: output folders described from a photo get
        it (by the name in their brief) for image-music alignment. Manifests name their images directly.
    plots: draw the pictures (needs matplotlib).
    """
    report = progress or (lambda f, m: None)
    items = find_items(list(paths), images=images)
    created_out = out is not None and not Path(out).exists()
    out_path = _check_out(out, force) if out is not None else None
    refs = find_reference(reference) if reference is not None else []
    clap = clip = None
    if clap_model or "clap" in embedders:
        from weavewave.evaluate.neural import load_clap

        clap = load_clap(clap_model)
    if clip_model:
        from weavewave.evaluate.neural import load_clip

        clip = load_clip(clip_model)
    tagger = None
    if clap is not None and refs:
        from weavewave.evaluate.neural import ClapTagger

        tagger = ClapTagger(clap)
    models = {e: (embedder_models or {}).get(e) for e in embedders}
    if refs:  # load learned embedders now: missing weights stop the run before anything is measured
        for e in embedders:
            _embedder(e, clap, models[e])
    timings: dict[str, float] = {}
    tmp = None
    try:
        if out_path is not None:
            out_path.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=".weavewave-eval-", dir=out_path))
        tracks: list[dict] = []
        embeddings: dict[str, list[np.ndarray]] = {e: [] for e in embedders}
        tags: list[np.ndarray] = []
        hists: list[dict] = []
        for i, item in enumerate(items):
            report(0.8 * i / len(items), f"measuring {item.name}")
            row, emb, tag, hist = _evaluate_item(
                item,
                embedders=embedders if refs else (),
                models=models,
                clap=clap,
                clip=clip,
                tagger=tagger,
                pictures=tmp / "tracks" / slug(item.name) if tmp and plots else None,
                timings=timings,
            )
            tracks.append(row)
            for e, value in emb.items():
                embeddings[e].append(value)
            if tag is not None:
                tags.append(tag)
            if hist is not None:
                hists.append(hist)
        groups: dict[str, list[int]] = {}
        for i, row in enumerate(tracks):
            groups.setdefault(row["task"], []).append(i)
        results: dict[str, Any] = {
            "schema": RESULT_SCHEMA,
            "tracks": tracks,
            "summary": summarise(tracks, hists),
            "by_task": {t: summarise([tracks[i] for i in idx]) for t, idx in sorted(groups.items())},
        }
        if refs:
            report(0.85, f"embedding {len(refs)} reference tracks")
            results["distribution"] = _distribution(
                refs, reference, embedders, embeddings, clap, tagger, tags, timings, models, groups
            )
        results["timings_s"] = {k: round(v, 3) for k, v in timings.items()}
        if out_path is not None and tmp is not None:
            report(0.95, "writing the report")
            _write(results, tmp)
            _move_into_place(tmp, out_path, force)
        report(1.0, "done")
        return results
    except BaseException:
        if created_out and out_path is not None:
            shutil.rmtree(out_path, ignore_errors=True)  # nothing half-written is left behind
        raise
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _timed(timings: dict[str, float], key: str, fn: Callable[[], Any]) -> Any:
    start = time.perf_counter()
    try:
        return fn()
    finally:
        timings[key] = timings.get(key, 0.0) + time.perf_counter() - start


def _embed(e: str, clap: Any, models: dict[str, Any], audio: np.ndarray, sr: int) -> np.ndarray:
    return _embedder(e, clap, models.get(e)).embed(audio, sr)


def _evaluate_item(
    item: Item,
    *,
    embedders: Sequence[str],
    clap,
    clip,
    tagger,
    pictures: Path | None,  # noqa: ANN001
    timings: dict[str, float],
    models: dict[str, str | None],
) -> tuple[dict, dict, np.ndarray | None, dict | None]:
    from weavewave.evaluate.adherence import audio_adherence

    audio, sr = _timed(timings, "load", lambda: load_audio(item.audio))
    row: dict[str, Any] = {"name": item.name, "audio": str(item.audio)}
    row["task"] = task_of(item.brief, image=item.image, text=item.text)
    metrics: dict[str, Any] = {}
    midi = hist = None
    brief = item.brief
    if brief is not None:
        row["brief"] = brief.summary()
        metrics |= _timed(timings, "adherence", partial(audio_adherence, audio, sr, brief))
        if item.midi is not None:
            import pretty_midi

            from weavewave.evaluate.symbolic import melody_histograms_from_midi, midi_adherence

            midi = pretty_midi.PrettyMIDI(str(item.midi))
            hist = melody_histograms_from_midi(midi, brief)
            metrics |= _timed(timings, "midi", partial(midi_adherence, midi, brief, hist))
    emb = {e: _timed(timings, f"embed[{e}]", partial(_embed, e, clap, models, audio, sr)) for e in embedders}
    tag = None
    if clap is not None:
        from weavewave.evaluate import neural

        text = item.text or (brief.caption if brief else None)
        if text:
            metrics[f"clap_score[{clap.name}]"] = round(
                _timed(timings, "clap_score", lambda: neural.clap_score(clap, audio, sr, text)), 4
            )
        if clip is not None and item.image is not None and brief is not None:
            pivot = _timed(
                timings,
                "image_music",
                partial(neural.image_music_via_text, clip, clap, item.image, audio, sr, brief.caption),
            )
            metrics["image_music_via_text[clip+clap]"] = round(pivot["mean"], 4)
            metrics["image_text[clip]"] = round(pivot["image_text"], 4)
        if tagger is not None:
            tag = _timed(timings, "tags", lambda: tagger.probabilities(audio, sr))
    row["metrics"] = metrics
    if pictures is not None:
        from weavewave.evaluate.plots import save_pictures, track_view

        view = _timed(
            timings, "pictures", lambda: track_view(item.name, audio, sr, item.brief, metrics, midi)
        )
        files = _timed(timings, "pictures", lambda: save_pictures(view, pictures))
        row["pictures"] = {k: f"tracks/{pictures.name}/{v}" for k, v in files.items()}
    return row, emb, tag, hist


_EMBEDDERS: dict[str, Any] = {}


def _embedder(name: str, clap, model: str | None = None):  # noqa: ANN001, ANN202
    """One embedder object per (name, model) per process (a CLAP embedder reuses the loaded model)."""
    from weavewave.evaluate.embed import get_embedder

    if name == "clap":
        from weavewave.evaluate.neural import ClapEmbedder

        return ClapEmbedder(clap)
    key = name if model is None else f"{name}:{model}"
    if key not in _EMBEDDERS:
        _EMBEDDERS[key] = get_embedder(name) if model is None else get_embedder(name, model=model)
    return _EMBEDDERS[key]


def _distribution(
    refs: list[Item],
    reference: str | Path | None,
    embedders: Sequence[str],
    embeddings: dict[str, list[np.ndarray]],
    clap,
    tagger,
    tags: list,  # noqa: ANN001
    timings: dict,
    models: dict[str, str | None],
    groups: dict[str, list[int]] | None = None,
) -> dict[str, Any]:
    """FAD / FAD∞ per embedder and the tag KL against the reference set: for the whole set and, with
    ``groups`` (task -> track indices) of more than one task, for each task too (``by_task``)."""
    from weavewave.evaluate.fad import fad, fad_infinity

    out: dict[str, Any] = {"reference": str(reference), "reference_tracks": len(refs)}
    ref_emb: dict[str, list[np.ndarray]] = {e: [] for e in embedders}
    ref_tags = []
    for it in refs:
        audio, sr = load_audio(it.audio)
        for e in embedders:
            ref_emb[e].append(_timed(timings, f"embed[{e}]", partial(_embed, e, clap, models, audio, sr)))
        if tagger is not None:
            ref_tags.append(tagger.probabilities(audio, sr))
    for e in embedders:
        name = _embedder(e, clap, models.get(e)).name
        gen, ref = np.vstack(embeddings[e]), np.vstack(ref_emb[e])
        out[f"fad[{name}]"] = round(_timed(timings, "fad", partial(fad, gen, ref)), 4)
        inf = _timed(timings, "fad", partial(fad_infinity, gen, ref))
        out[f"fad_inf[{name}]"] = None if inf is None else round(inf, 4)
        out[f"embeddings[{name}]"] = {
            "generated": int(gen.shape[0]),
            "reference": int(ref.shape[0]),
            "dim": int(gen.shape[1]),
        }
    if tagger is not None and tags:
        from weavewave.evaluate.neural import kl_divergence

        out[f"kl[{clap.name}]"] = round(kl_divergence(np.mean(ref_tags, axis=0), np.mean(tags, axis=0)), 4)
        out[f"tags[{clap.name}]"] = tagger.tags
    if groups and len(groups) > 1:
        out["by_task"] = {}
        for task, idx in sorted(groups.items()):
            per: dict[str, Any] = {"tracks": len(idx)}
            for e in embedders:
                name = _embedder(e, clap, models.get(e)).name
                gen, ref = np.vstack([embeddings[e][i] for i in idx]), np.vstack(ref_emb[e])
                per[f"fad[{name}]"] = round(_timed(timings, "fad", partial(fad, gen, ref)), 4)
            if tagger is not None and len(tags) == sum(len(v) for v in groups.values()):
                from weavewave.evaluate.neural import kl_divergence

                mean = np.mean([tags[i] for i in idx], axis=0)
                per[f"kl[{clap.name}]"] = round(kl_divergence(np.mean(ref_tags, axis=0), mean), 4)
            out["by_task"][task] = per
    return out


# --- summary ------------------------------------------------------------------------------------
def _values(tracks: list[dict], key: str) -> list[float]:
    vals = [t["metrics"].get(key) for t in tracks]
    return [float(v) for v in vals if v is not None and not (isinstance(v, float) and math.isnan(v))]


def summarise(tracks: list[dict], hists: list[dict] | None = None) -> dict[str, Any]:
    """Set-level figures: means of per-track metrics, loudness spread, flags, pooled melody distances."""
    s: dict[str, Any] = {"tracks": len(tracks)}
    for key in (
        "tempo_acc1",
        "tempo_acc2",
        "key_exact",
        "key_mirex",
        "section_boundary_f3",
        "scale_consistency",
        "pitch_class_entropy",
        "note_density",
        "density_energy_spearman",
        "groove_consistency",
    ):
        v = _values(tracks, key)
        if v:
            s[key] = round(statistics.fmean(v), 4)
    for key in [k for t in tracks for k in t["metrics"] if k.startswith(("clap_score[", "image_music_via"))]:
        s.setdefault(key, round(statistics.fmean(_values(tracks, key)), 4))
    err = _values(tracks, "duration_error_s")
    if err:
        s["duration_error_abs_max_s"] = round(max(abs(e) for e in err), 3)
    lufs = _values(tracks, "lufs")
    if lufs:
        s["lufs_mean"] = round(statistics.fmean(lufs), 2)
        s["lufs_std"] = round(statistics.pstdev(lufs), 2)
        s["lufs_min"], s["lufs_max"] = round(min(lufs), 2), round(max(lufs), 2)
    tp = _values(tracks, "true_peak_dbfs")
    if tp:
        s["true_peak_max_dbfs"] = round(max(tp), 2)
    s["silent_tracks"] = sum(bool(t["metrics"].get("silent")) for t in tracks)
    s["clipping_tracks"] = sum(bool(t["metrics"].get("clipping")) for t in tracks)
    if hists:
        from weavewave.evaluate.symbolic import CORPORA, pooled_corpus_distance

        for corpus in CORPORA:
            d = pooled_corpus_distance(hists, corpus)
            if d is None:
                continue
            s[f"melody_distance[{corpus}]"] = {k: round(v, 4) for k, v in d.items()}
    return s


# --- writing ------------------------------------------------------------------------------------
def _check_out(out: str | Path, force: bool) -> Path:
    p = Path(out)
    if p.exists() and not p.is_dir():
        raise BadInputError(f"--out {p} is a file, not a folder: choose a folder path")
    if not force:
        clash = [n for n in (*RESULT_FILES, "tracks") if (p / n).exists()]
        if clash:
            raise BadInputError(f"{p / clash[0]} already exists: choose another --out folder or pass --force")
    return p


def _move_into_place(tmp: Path, out: Path, force: bool) -> None:
    if force and (out / "tracks").exists():
        shutil.rmtree(out / "tracks")
    for name in (*RESULT_FILES, "tracks"):
        if (tmp / name).exists():
            os.replace(tmp / name, out / name)


def _write(results: dict[str, Any], folder: Path) -> None:
    (folder / "results.json").write_text(
        json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    (folder / "report.md").write_text(markdown_report(results), encoding="utf-8")
    (folder / "report.html").write_text(html_report(results), encoding="utf-8")


SUMMARY_LABELS = {
    "tracks": "tracks",
    "tempo_acc1": "tempo Acc1 (within 4 %)",
    "tempo_acc2": "tempo Acc2 (also ×2, ×½, ×3, ×⅓)",
    "key_exact": "key exact",
    "key_mirex": "key MIREX score",
    "duration_error_abs_max_s": "largest length error (s)",
    "lufs_mean": "loudness mean (LUFS)",
    "lufs_std": "loudness spread, std (LU)",
    "lufs_min": "loudness min (LUFS)",
    "lufs_max": "loudness max (LUFS)",
    "true_peak_max_dbfs": "highest true peak (dBTP)",
    "silent_tracks": "tracks flagged silent",
    "clipping_tracks": "tracks flagged clipping",
    "section_boundary_f3": "section boundaries, F-measure at 3 s",
    "scale_consistency": "MIDI scale consistency",
    "pitch_class_entropy": "MIDI pitch-class entropy (bits)",
    "note_density": "MIDI notes per second",
    "density_energy_spearman": "note density vs asked energy (Spearman)",
    "groove_consistency": "MIDI groove consistency",
    "melody_distance[folk]": "melody distance to folk tunes (Jensen-Shannon, bits)",
    "melody_distance[bach]": "melody distance to Bach chorale sopranos (Jensen-Shannon, bits)",
}
TRACK_COLUMNS = (
    ("tempo_requested", "tempo asked"),
    ("tempo_estimated", "tempo heard"),
    ("tempo_acc1", "Acc1"),
    ("tempo_acc2", "Acc2"),
    ("key_requested", "key asked"),
    ("key_estimated", "key heard"),
    ("key_mirex", "MIREX"),
    ("duration_error_s", "length err s"),
    ("lufs", "LUFS"),
    ("true_peak_dbfs", "dBTP"),
    ("section_boundary_f3", "sections F3"),
    ("scale_consistency", "scale"),
    ("groove_consistency", "groove"),
    ("melody_distance[folk]", "melody↔folk JSD"),
)


def _fmt(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 1000 else f"{v:.0f}"
    if isinstance(v, dict):
        return ", ".join(f"{k} {_fmt(x)}" for k, x in v.items())
    return str(v)


def _summary_rows(results: dict[str, Any]) -> list[tuple[str, str]]:
    s = results["summary"]
    rows = [(SUMMARY_LABELS.get(k, k), _fmt(v)) for k, v in s.items()]
    for k, v in results.get("distribution", {}).items():
        if not k.startswith("embeddings["):
            rows.append((k, _fmt(v)))
    return rows


# The per-task table's columns: MusFlow's scores where measured, then adherence and loudness.
TASK_COLUMNS = ("tracks", "tempo_acc1", "key_mirex", "lufs_mean")


def _task_rows(results: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """One row per task: its tracks, CLAP and image-music scores, FAD / KL against the reference set."""
    by_task = results.get("by_task") or {}
    dist = (results.get("distribution") or {}).get("by_task") or {}
    keys = [k for k in TASK_COLUMNS if any(k in s for s in by_task.values())]
    keys += sorted({k for s in by_task.values() for k in s if k.startswith(("clap_score[", "image_music"))})
    dist_keys = sorted({k for d in dist.values() for k in d if k != "tracks"})
    header = ["task"] + [SUMMARY_LABELS.get(k, k) for k in keys] + dist_keys
    rows = [
        [task] + [_fmt(s.get(k)) for k in keys] + [_fmt(dist.get(task, {}).get(k)) for k in dist_keys]
        for task, s in by_task.items()
    ]
    return header, rows


def _track_rows(results: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    cols = [(k, label) for k, label in TRACK_COLUMNS if any(k in t["metrics"] for t in results["tracks"])]
    extra = sorted(
        {k for t in results["tracks"] for k in t["metrics"] if k.startswith(("clap_score[", "image_"))}
    )
    cols += [(k, k) for k in extra]
    header = ["track", "task"] + [label for _, label in cols]
    rows = [
        [t["name"], t.get("task", "")] + [_fmt(t["metrics"].get(k)) for k, _ in cols]
        for t in results["tracks"]
    ]
    return header, rows


def markdown_report(results: dict[str, Any]) -> str:
    """The report as Markdown: summary table, per-track table, each track's overview picture."""
    lines = [
        "# weavewave evaluation",
        "",
        "Adherence is measured from the audio against each brief.json; `fad[...]` names the embedder "
        "(`features` is a fixed librosa feature embedding, not VGGish or CLAP).",
        "",
        "## Summary",
        "",
        "| measure | value |",
        "|---|---|",
    ]
    lines += [f"| {a} | {b} |" for a, b in _summary_rows(results)]
    header, rows = _task_rows(results)
    lines += ["", "## By task", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    header, rows = _track_rows(results)
    lines += ["", "## Tracks", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    for t in results["tracks"]:
        if "pictures" in t:
            lines += [
                "",
                f"### {t['name']}",
                "",
                t.get("brief", ""),
                "",
                f"![{t['name']}]({t['pictures']['overview']})",
            ]
    return "\n".join(lines) + "\n"


def html_report(results: dict[str, Any]) -> str:
    """The same report as one HTML page; pictures are linked relative to it, as in the Markdown."""
    e = html.escape

    def table(header: list[str], rows: list[list[str]]) -> str:
        head = "".join(f"<th>{e(h)}</th>" for h in header)
        body = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>" for r in rows)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>weavewave evaluation</title><style>",
        "body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}"
        "table{border-collapse:collapse;margin:1em 0;font-size:13px}"
        "td,th{border:1px solid #ddd;padding:4px 8px;text-align:left}th{background:#f4f4f4}"
        "img{max-width:100%;border:1px solid #eee}h3{margin-top:2em}",
        "</style></head><body><h1>weavewave evaluation</h1>",
        "<p>Adherence is measured from the audio against each brief.json. <code>fad[…]</code> names the "
        "embedder (<code>features</code> is a fixed librosa feature embedding, not VGGish or CLAP).</p>",
        "<h2>Summary</h2>",
        table(["measure", "value"], [list(r) for r in _summary_rows(results)]),
    ]
    header, rows = _task_rows(results)
    parts += ["<h2>By task</h2>", table(header, rows)]
    header, rows = _track_rows(results)
    parts += ["<h2>Tracks</h2>", table(header, rows)]
    for t in results["tracks"]:
        if "pictures" in t:
            parts += [
                f"<h3>{e(t['name'])}</h3><p>{e(t.get('brief', ''))}</p>",
                f"<img src='{e(t['pictures']['overview'])}' alt='{e(t['name'])}'>",
            ]
    parts.append("</body></html>\n")
    return "".join(parts)

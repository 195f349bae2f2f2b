"""weavewave batch --task annotate|eval: other commands' jobs through the batch engine; a crashing worker."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from annotate_data import build_music_folder
from weavewave.batch import ManifestError, load_manifest, run_batch
from weavewave.batch.run import CRASH_ROW_ENV, RESULTS_FILE, ROW_RESULT_FILE
from weavewave.cli import main

FAST = {"duration": 2, "text_model": "lexicon"}


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _results(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / RESULTS_FILE).read_text().splitlines()]


@pytest.fixture(scope="module")
def albums(tmp_path_factory) -> Path:
    """Two album folders of short WAVs with known tempo and key, and an empty one."""
    root = tmp_path_factory.mktemp("albums")
    build_music_folder(root / "a", {"waltz": (96.0, "C major", 6.0)})
    build_music_folder(root / "b", {"march": (120.0, "A minor", 6.0), "air": (80.0, "D major", 6.0)})
    (root / "empty").mkdir()
    return root


def test_annotate_rows_make_the_datasets_annotate_makes(albums, tmp_path, capsys):
    from weavewave.train.annotate import annotate
    from weavewave.train.dataset import DATA_FILE

    manifest = _jsonl(albums / "m.jsonl", [
        {"id": "a", "music": "a", "segment": 3, "licence": "mine"},
        {"music": ["b/march.wav", "b/air.wav"], "segment": "3", "review": "reject"},
        {"music": "empty", "segment": 3},
    ])  # fmt: skip
    out = tmp_path / "out"
    assert (
        main(["batch", str(manifest), "--task", "annotate", "--out", str(out), "--workers", "1", "-q"]) == 1
    )
    stdout = capsys.readouterr().out
    assert "3 rows: 2 made, 0 already done, 1 failed" in stdout and "rows/min" in stdout
    a, b, empty = _results(out)
    assert a["status"] == "ok" and a["summary"]["tracks"] == 1 and a["summary"]["kept"] == 2
    assert b["status"] == "ok" and b["summary"]["tracks"] == 2
    assert a["seconds"]["annotate"] > 0 and DATA_FILE in a["outputs"] and "README.md" in a["outputs"]
    assert empty["status"] == "failed" and "no audio files found" in empty["error"]
    assert not (out / empty["id"]).exists()
    # The row's folder is the dataset `weavewave annotate` writes for the same music and options.
    annotate(albums / "a", tmp_path / "direct", segment=3, licence="mine")
    assert (out / "a" / DATA_FILE).read_bytes() == (tmp_path / "direct" / DATA_FILE).read_bytes()
    assert (out / "a" / "README.md").read_text() == (tmp_path / "direct" / "README.md").read_text()
    assert json.loads((out / "a" / ROW_RESULT_FILE).read_text())["summary"] == a["summary"]
    # Resume: finished rows are skipped, the failed one is tried again.
    again = run_batch(load_manifest(manifest, mode="annotate"), str(out), workers=1, progress=False)
    assert (again.made, again.skipped, again.failed) == (0, 2, 1)


def test_annotate_ids_follow_the_music_and_bad_rows_are_named(albums, tmp_path):
    rows = [{"music": "a", "segment": 3}, {"music": "b", "segment": 3}]
    first = [r.id for r in load_manifest(_jsonl(tmp_path / "m.jsonl", [
        {**r, "music": str(albums / r["music"])} for r in rows]), mode="annotate")]  # fmt: skip
    assert len(set(first)) == 2
    copy = tmp_path / "copy"
    build_music_folder(copy, {"waltz": (96.0, "C major", 6.0)})  # the same bytes as album a, elsewhere
    moved = load_manifest(_jsonl(tmp_path / "n.jsonl", [{"music": "copy", "segment": 3}]), mode="annotate")
    assert moved[0].id == first[0]
    build_music_folder(copy, {"waltz": (100.0, "C major", 6.0)})  # other music under the same name
    assert load_manifest(tmp_path / "n.jsonl", mode="annotate")[0].id != first[0]
    bad = _jsonl(tmp_path / "bad.jsonl", [
        {"segment": 3},
        {"music": str(albums / "a"), "segment": 99},
        {"music": "s3://bucket/album"},
        {"music": str(albums / "a"), "tempo": 90},
        {"music": str(albums / "a"), "review": "maybe"},
        {"music": "nowhere"},
        {"music": str(albums / "b")}, {"music": str(albums / "b")},
    ])  # fmt: skip
    with pytest.raises(ManifestError) as info:
        load_manifest(bad, mode="annotate")
    got = {(row, name) for row, name, _ in info.value.errors}
    assert got == {
        (1, "music"),
        (2, "segment"),
        (3, "music"),
        (4, "tempo"),
        (5, "review"),
        (6, "music"),
        (8, "id"),
    }
    text = str(info.value)
    assert "row 1: music: missing" in text and "URLs are taken by generate" in text
    assert "row 4: tempo: is not a field of annotate rows" in text
    assert "the same annotate job (and input files) as row 7" in text


def test_eval_rows_write_the_report_eval_writes(tmp_path, capsys):
    from weavewave.evaluate.report import evaluate

    pieces = load_manifest(_jsonl(tmp_path / "p.jsonl", [
        {"text": "calm piano", "tempo": 80, "seed": 1, "id": "calm", **FAST},
        {"text": "a fast folk dance", "tempo": 140, "seed": 2, "id": "dance", **FAST},
    ]))  # fmt: skip
    assert run_batch(pieces, str(tmp_path / "gen"), workers=1, progress=False).ok
    manifest = tmp_path / "e.csv"
    manifest.write_text("id,paths,no_plots,embedder\nboth,gen,true,features\ncalm,gen/calm,yes,\n"
                        "bad,nowhere/else,true,\n", encoding="utf-8")  # fmt: skip
    with pytest.raises(ManifestError, match="row 3: paths: nowhere/else: no such file or folder"):
        load_manifest(manifest, mode="eval")
    manifest.write_text("\n".join(manifest.read_text().splitlines()[:3]) + "\n")
    out = tmp_path / "reports"
    assert main(["batch", str(manifest), "--task", "eval", "--out", str(out), "--workers", "1", "-q"]) == 0
    capsys.readouterr()
    both, calm = _results(out)
    assert both["status"] == calm["status"] == "ok"
    assert both["summary"]["tracks"] == 2 and calm["summary"]["tracks"] == 1
    assert {"results.json", "report.md", "report.html"} <= set(both["outputs"])
    direct = evaluate([tmp_path / "gen"], out=tmp_path / "direct", plots=False)
    made = json.loads((out / "both" / "results.json").read_text())
    assert made["summary"] == json.loads(json.dumps(direct["summary"]))
    assert [t["metrics"] for t in made["tracks"]] == json.loads(
        json.dumps([t["metrics"] for t in direct["tracks"]])
    )


def test_a_worker_that_crashes_costs_only_its_row(tmp_path, monkeypatch):
    """A row whose worker process dies of SIGSEGV fails with one line; the other rows finish."""
    monkeypatch.setenv(CRASH_ROW_ENV, "boom")
    rows = load_manifest(_jsonl(tmp_path / "m.jsonl", [
        {"text": f"piece {i}", "seed": i, "id": "boom" if i == 1 else f"p{i}", **FAST} for i in range(3)
    ]))  # fmt: skip
    summary = run_batch(rows, str(tmp_path / "out"), workers=2, progress=False)
    assert (summary.made, summary.failed) == (2, 1)
    results = _results(tmp_path / "out")
    assert [r["status"] for r in results] == ["ok", "failed", "ok"]
    assert results[1]["error"].startswith("internal error: the worker process died (exit code -11)")
    assert "\n" not in results[1]["error"] and not (tmp_path / "out" / "boom").exists()


def test_a_worker_that_crashes_right_after_a_row_keeps_that_row(tmp_path, monkeypatch):
    """One worker makes a row, then dies of SIGSEGV on the next one at once, before its queue could send the
    first row's report: the first row counts as made (its folder is complete), only the crashing row fails."""
    from weavewave.batch.run import Output, _run_pool

    monkeypatch.setenv(CRASH_ROW_ENV, "boom")
    rows = load_manifest(_jsonl(tmp_path / "m.jsonl", [
        {"text": f"piece {i}", "seed": i, "id": "boom" if i == 1 else f"p{i}", **FAST} for i in range(3)
    ]))  # fmt: skip
    out = Output(str(tmp_path / "out"))
    out.prepare()
    records: list[dict] = []
    _run_pool([r.task() for r in rows], out.out, 1, records.append, out.finished)
    by_id = {r["id"]: r for r in records}
    assert sorted(by_id) == ["boom", "p0", "p2"] and len(records) == 3
    assert by_id["p0"]["status"] == by_id["p2"]["status"] == "ok"
    assert (
        by_id["boom"]["status"] == "failed"
        and "the worker process died (exit code -11)" in by_id["boom"]["error"]
    )


def test_library_add_rows_fill_one_library_and_resume(albums, tmp_path, capsys):
    # Two rows add two albums to the same library on two workers at once (the library's lock orders the
    # writes); a rerun finds both rows done; a row naming no audio fails alone with one line.
    from weavewave.library.store import open_library

    manifest = _jsonl(albums / "lib.jsonl", [
        {"id": "a", "music": "a", "library": "../lib", "text_model": "lexicon"},
        {"id": "b", "music": "b", "library": "../lib", "text_model": "lexicon"},
        {"id": "none", "music": "empty", "library": "../lib", "text_model": "lexicon"},
    ])  # fmt: skip
    out = tmp_path / "out"
    argv = ["batch", str(manifest), "--task", "library-add", "--out", str(out), "--workers", "2", "-q"]
    assert main(argv) == 0
    rows = {r["id"]: r for r in _results(out)}
    assert rows["a"]["summary"]["added"] == 1 and rows["b"]["summary"]["added"] == 2
    assert rows["none"]["status"] == "ok" and rows["none"]["summary"]["found"] == 0
    added = json.loads((out / "b" / "added.json").read_text())
    assert added["library"] == str((albums.parent / "lib").resolve()) and added["added"] == 2
    assert len(open_library(albums.parent / "lib").known()) == 3
    capsys.readouterr()
    assert main(argv) == 0
    assert "3 already done" in capsys.readouterr().out
    bad = _jsonl(albums / "bad.jsonl", [{"music": "a"}])
    with pytest.raises(ManifestError, match="library"):
        load_manifest(bad, mode="library-add")

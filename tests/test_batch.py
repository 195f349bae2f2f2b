"""weavewave batch: manifests, ids, results, a failing row among good ones, resume after a kill."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from weavewave.batch import ManifestError, load_manifest, run_batch
from weavewave.batch.run import RESULTS_FILE, ROW_RESULT_FILE, STAGING_DIR
from weavewave.cli import main

# Short lexicon-read pieces: real symbolic renders that take about a second each once imports are warm.
FAST = {"duration": 2, "text_model": "lexicon"}


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _results(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / RESULTS_FILE).read_text().splitlines()]


def test_jsonl_and_csv_rows_are_the_same_requests(tmp_path, skimage_data):
    image = skimage_data / "coffee.png"
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "a.png").write_bytes(image.read_bytes())
    (tmp_path / "img" / "b.png").write_bytes((skimage_data / "astronaut.png").read_bytes())
    jsonl = _jsonl(tmp_path / "m.jsonl", [
        {"text": "calm piano", "tempo": 72, "loop": True, "instruments": "piano, strings", "seed": 3},
        {"image": ["img/a.png", "img/b.png"], "duration": 8, "id": "photos"},
    ])  # fmt: skip
    csv = tmp_path / "m.csv"
    csv.write_text(
        "id,text,tempo,loop,instruments,seed,image,duration\n"
        ',calm piano,72,true,"piano, strings",3,,\n'
        "photos,,,,,,img/a.png;img/b.png,8\n",
        encoding="utf-8",
    )
    a, b = load_manifest(jsonl), load_manifest(csv)
    assert [r.id for r in a] == [r.id for r in b]
    assert [r.fields for r in a] == [r.fields for r in b]
    assert len(a[0].fields["instruments"]) == 2 and a[0].fields["loop"] is True and a[0].fields["tempo"] == 72
    assert a[1].id == "photos"
    assert a[1].fields["image"] == [str(tmp_path / "img" / "a.png"), str(tmp_path / "img" / "b.png")]


def test_the_same_request_gets_the_same_id_and_a_changed_input_a_new_one(tmp_path, skimage_data):
    photo = tmp_path / "p.png"
    photo.write_bytes((skimage_data / "coffee.png").read_bytes())
    rows = [{"text": "calm piano", "seed": 1}, {"text": "calm piano", "seed": 2}, {"image": "p.png"}]
    first = [r.id for r in load_manifest(_jsonl(tmp_path / "a.jsonl", rows))]
    # Same requests, spelled differently (default values given, key order changed), from another folder.
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "p.png").write_bytes(photo.read_bytes())
    again = [{"seed": 1, "text": "calm piano", "backend": "symbolic"}, rows[1], rows[2]]
    assert [r.id for r in load_manifest(_jsonl(tmp_path / "sub" / "b.jsonl", again))] == first
    assert len(set(first)) == 3
    photo.write_bytes((skimage_data / "astronaut.png").read_bytes())  # same name, other content
    assert load_manifest(tmp_path / "a.jsonl")[2].id != first[2]
    assert load_manifest(tmp_path / "a.jsonl", mode="describe")[0].id != first[0]


def test_bad_rows_are_all_reported_with_row_and_field_and_nothing_is_written(tmp_path, capsys):
    manifest = _jsonl(tmp_path / "m.jsonl", [{"text": "ok", **FAST}])
    with manifest.open("a") as fh:
        fh.write('{"text": "fine", "tempo": 900}\n')
        fh.write("{not json\n")
        fh.write('{"image": "missing.png"}\n')
        fh.write('{"text": "a", "colour": "red"}\n')
        fh.write('{"text": "b", "id": "x"}\n{"text": "c", "id": "x"}\n')
        fh.write('{"text": "d", "id": "../escape"}\n')
    out = tmp_path / "out"
    assert main(["batch", str(manifest), "--out", str(out), "-q"]) == 2
    err = capsys.readouterr().err
    assert "6 bad rows, nothing was run" in err
    for expected in ("row 2: tempo:", "row 3: row: not valid JSON", "row 4: image:", "missing.png",
                     "row 5: colour: is not a request field", "row 7: id: the same id as row 6",
                     "row 8: id: '../escape' cannot name a folder"):  # fmt: skip
        assert expected in err
    assert "Traceback" not in err and not out.exists()
    csv = tmp_path / "bad.csv"
    csv.write_text("text,duration\nok,2\nnope,-5\n", encoding="utf-8")
    with pytest.raises(ManifestError) as info:
        load_manifest(csv)
    assert info.value.errors == [(2, "duration", info.value.errors[0][2])]


def test_a_failing_row_does_not_stop_the_others_and_results_say_why(tmp_path, capsys):
    (tmp_path / "bad.png").write_text("not an image")
    rows = load_manifest(_jsonl(tmp_path / "m.jsonl", [
        {"text": "calm piano", "seed": 4, "id": "piano", **FAST},
        {"image": "bad.png", **FAST},
        {"text": "a folk dance", "seed": 5, **FAST},
    ]))  # fmt: skip
    out = tmp_path / "out"
    summary = run_batch(rows, str(out), workers=1, progress=False)
    assert (summary.made, summary.failed, summary.skipped, summary.ok) == (2, 1, 0, False)
    results = _results(out)
    assert [r["row"] for r in results] == [1, 2, 3] and [r["id"] for r in results] == [r.id for r in rows]
    good, bad, folk = results
    assert good["status"] == "ok" and good["error"] is None and good["seed"] == 4
    assert good["outputs"] == ["brief.json", "music.mid", "music.wav"]
    assert good["seconds"]["generate"] > 0 and good["seconds"]["total"] >= good["seconds"]["generate"]
    assert bad["status"] == "failed" and "bad.png is not an image" in bad["error"] and bad["outputs"] == []
    assert folk["status"] == "ok" and folk["seed"] == 5
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == sorted(
        ["piano", folk["id"], RESULTS_FILE]
    )
    assert {p.name for p in (out / "piano").iterdir()} == {*good["outputs"], ROW_RESULT_FILE}
    # The same bytes as `weavewave generate` for the same request.
    assert main(["generate", "--text", "calm piano", "--seed", "4", "--duration", "2", "--text-model",
                 "lexicon", "--out", str(tmp_path / "single"), "-q"]) == 0  # fmt: skip
    assert (out / "piano" / "music.wav").read_bytes() == (tmp_path / "single" / "music.wav").read_bytes()
    # A rerun makes nothing again, retries the failed row, and keeps one line per row.
    stamp = (out / "piano" / "music.wav").stat().st_mtime_ns
    again = run_batch(rows, str(out), workers=1, progress=False)
    assert (again.made, again.failed, again.skipped) == (0, 1, 2)
    assert (out / "piano" / "music.wav").stat().st_mtime_ns == stamp
    assert [r["id"] for r in _results(out)] == [r.id for r in rows]
    assert _results(out)[0]["resumed"] is True
    capsys.readouterr()
    assert main(["batch", str(tmp_path / "m.jsonl"), "--out", str(out), "-q"]) == 1  # not all rows succeeded
    stdout = capsys.readouterr().out
    assert "3 rows: 0 made, 2 already done, 1 failed" in stdout and f"row 2 ({rows[1].id}): " in stdout


def test_describe_writes_briefs_only(tmp_path):
    rows = load_manifest(
        _jsonl(tmp_path / "m.jsonl", [{"text": "a sunrise", "seed": 9, **FAST}]), mode="describe"
    )
    summary = run_batch(rows, str(tmp_path / "out"), workers=1, progress=False)
    assert summary.ok
    folder = tmp_path / "out" / rows[0].id
    assert sorted(p.name for p in folder.iterdir()) == ["brief.json", ROW_RESULT_FILE]
    assert json.loads((folder / "brief.json").read_text())["seed"] == 9


def _run_cli(args: list[str]) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    return subprocess.Popen([sys.executable, "-m", "weavewave.cli", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip


def test_a_killed_batch_resumes_with_nothing_lost_or_made_twice(tmp_path):
    n = 5
    manifest = _jsonl(tmp_path / "m.jsonl", [{"text": f"piece {i}", "seed": i, **FAST} for i in range(n)])
    out = tmp_path / "out"
    args = ["batch", str(manifest), "--out", str(out), "--workers", "2", "-q"]
    proc = _run_cli(args)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        done = [p for p in out.glob(f"*/{ROW_RESULT_FILE}")] if out.exists() else []
        if len(done) >= 1:
            break
        time.sleep(0.1)
    assert proc.poll() is None, "the batch ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    made_before = {p.parent.name: p.stat().st_mtime_ns for p in out.glob(f"*/{ROW_RESULT_FILE}")}
    assert 1 <= len(made_before) < n
    time.sleep(1.0)  # workers die with their parent (PR_SET_PDEATHSIG); give them the moment
    proc = _run_cli(args)
    stdout, stderr = proc.communicate(timeout=180)
    assert proc.returncode == 0, stderr
    assert f"{n} rows: {n - len(made_before)} made, {len(made_before)} already done, 0 failed" in stdout
    ids = [r.id for r in load_manifest(manifest)]
    results = _results(out)
    assert [r["id"] for r in results] == ids and all(r["status"] == "ok" for r in results)  # none lost
    folders = sorted(p.name for p in out.iterdir() if p.is_dir() and p.name != STAGING_DIR)
    assert folders == sorted(ids)  # none twice, nothing stray
    for row_id, stamp in made_before.items():  # finished rows were not made again
        assert (out / row_id / ROW_RESULT_FILE).stat().st_mtime_ns == stamp
    assert not any((out / STAGING_DIR).glob("*")) if (out / STAGING_DIR).exists() else True


def test_inputs_manifest_and_outputs_on_an_fsspec_filesystem(skimage_data, monkeypatch):
    fsspec = pytest.importorskip("fsspec")
    from weavewave.batch import run as batch_run

    monkeypatch.setattr(batch_run, "LOCK_SETTLE_S", 0.0)  # one batch here: nothing to settle
    fs = fsspec.filesystem("memory")
    fs.pipe("/wwbatch/in/coffee.png", (skimage_data / "coffee.png").read_bytes())
    rows = [{"image": "in/coffee.png", "seed": 3, "id": "photo", **FAST}]
    fs.pipe("/wwbatch/m.jsonl", "".join(json.dumps(r) + "\n" for r in rows).encode())
    try:
        loaded = load_manifest("memory://wwbatch/m.jsonl")
        assert loaded[0].fields["image"] == ["memory://wwbatch/in/coffee.png"]
        summary = run_batch(loaded, "memory://wwbatch/out", workers=1, progress=False)
        assert summary.ok and summary.made == 1
        assert {p.rsplit("/", 1)[-1] for p in fs.ls("/wwbatch/out/photo", detail=False)} == {
            "brief.json", "music.mid", "music.wav", ROW_RESULT_FILE}  # fmt: skip
        record = json.loads(fs.cat("/wwbatch/out/results.jsonl").decode().splitlines()[0])
        assert record["status"] == "ok" and record["id"] == "photo"
        assert run_batch(loaded, "memory://wwbatch/out", workers=1, progress=False).skipped == 1
    finally:
        fs.rm("/wwbatch", recursive=True)


def test_two_batches_on_one_url_out_are_refused_and_a_killed_ones_lock_is_taken_over(monkeypatch):
    fsspec = pytest.importorskip("fsspec")
    from weavewave.batch import run as batch_run
    from weavewave.batch.run import LOCK_FILE, Output
    from weavewave.errors import BadInputError

    monkeypatch.setattr(batch_run, "LOCK_SETTLE_S", 0.0)
    monkeypatch.setattr(batch_run, "LOCK_REFRESH_S", 0.05)
    fs, url = fsspec.filesystem("memory"), "memory://wwlock/out"
    first, second = Output(url), Output(url)
    first.prepare()
    try:
        with first.lock():
            stamp = json.loads(fs.cat(f"/wwlock/out/{LOCK_FILE}"))["time"]
            with pytest.raises(
                BadInputError, match=f"--out {url}: another batch is writing there \\(pid {os.getpid()}"
            ):
                with second.lock():
                    pass
            time.sleep(0.3)  # the holder's heartbeat rewrites the lock
            assert json.loads(fs.cat(f"/wwlock/out/{LOCK_FILE}"))["time"] > stamp
        assert not fs.exists(f"/wwlock/out/{LOCK_FILE}")  # released
        # Left by a killed batch: a dead process on this host, or no heartbeat for LOCK_STALE_S, is taken over.
        dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True, check=True).stdout.strip()  # fmt: skip
        import socket

        fs.pipe(f"/wwlock/out/{LOCK_FILE}", json.dumps({"token": "old", "host": socket.gethostname(),
                                                         "pid": int(dead), "time": time.time()}).encode())  # fmt: skip
        with second.lock():
            pass
        elsewhere = {"token": "old", "host": "another-machine", "pid": 1}
        fs.pipe(f"/wwlock/out/{LOCK_FILE}", json.dumps({**elsewhere, "time": time.time()}).encode())
        with pytest.raises(BadInputError, match="pid 1 on another-machine"):
            with second.lock():
                pass
        fs.pipe(f"/wwlock/out/{LOCK_FILE}", json.dumps({**elsewhere, "time": time.time() - 600}).encode())
        with second.lock():
            pass
    finally:
        fs.rm("/wwlock", recursive=True)

"""weavewave batch --ray: a real local Ray instance (2 CPUs), started once for the module."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from weavewave.batch import load_manifest, run_batch
from weavewave.batch.run import CRASH_ROW_ENV, RESULTS_FILE

ray = pytest.importorskip("ray", reason="Ray is an optional extra: pip install 'weavewave[ray]'")

FAST = {"duration": 2, "text_model": "lexicon"}
CRASH_ID = "boom"


def test_an_unreachable_ray_address_is_one_clear_line(tmp_path, capsys):
    """Runs first, before the module's Ray is up: the CLI joins no cluster and writes nothing."""
    from weavewave.cli import main

    assert not ray.is_initialized()
    out = tmp_path / "out"
    assert main(["batch", str(_one(tmp_path)), "--out", str(out), "--ray", "127.0.0.1:9", "-q"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--ray 127.0.0.1:9: cannot reach a Ray cluster there" in err
    assert not out.exists() and not ray.is_initialized()


@pytest.fixture(scope="module")
def local_ray():
    try:
        # Actors that take the row with id "boom" die of SIGSEGV (a test-only hook; see the fault test).
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False,
                 runtime_env={"env_vars": {CRASH_ROW_ENV: CRASH_ID}})  # fmt: skip
    except Exception as exc:  # a sandbox without shared memory or sockets
        pytest.skip(f"Ray cannot start on this machine: {type(exc).__name__}: {exc}")
    yield ray
    ray.shutdown()


def test_ray_makes_the_same_bytes_and_results_as_the_local_pool(tmp_path, local_ray):
    (tmp_path / "bad.png").write_text("not an image")
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in [
        {"text": "calm piano", "seed": 11, "id": "piano", **FAST},
        {"text": "a folk dance", "seed": 12, **FAST},
        {"image": "bad.png", **FAST},
    ]))  # fmt: skip
    rows = load_manifest(manifest)
    on_ray = run_batch(rows, str(tmp_path / "ray"), ray="local", workers=2, progress=False)
    assert (on_ray.made, on_ray.failed) == (2, 1)
    local = run_batch(rows[:2], str(tmp_path / "local"), workers=1, progress=False)
    assert local.ok
    for row in rows[:2]:
        for name in ("music.wav", "music.mid"):
            assert (tmp_path / "ray" / row.id / name).read_bytes() == (
                tmp_path / "local" / row.id / name
            ).read_bytes()
    results = [json.loads(line) for line in (tmp_path / "ray" / RESULTS_FILE).read_text().splitlines()]
    assert [r["id"] for r in results] == [r.id for r in rows]  # manifest order, whatever order rows finished
    assert [r["status"] for r in results] == ["ok", "ok", "failed"] and "not an image" in results[2]["error"]
    assert {r["worker"] for r in results[:2]} != {None}
    again = run_batch(rows, str(tmp_path / "ray"), ray="local", workers=2, progress=False)
    assert (again.made, again.skipped, again.failed) == (0, 2, 1)  # resume on Ray as locally
    assert ray.is_initialized()  # a batch leaves a Ray it did not start running


def test_an_actor_that_crashes_costs_only_its_row(tmp_path, local_ray):
    """The actor dies on its row, is restarted, dies again on the one retry; the row is failed with one line
    and the other rows finish (Ray's default retried it forever: the batch never ended)."""
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in [
        {"text": "calm piano", "seed": 21, "id": "before", **FAST},
        {"text": "a crash", "seed": 22, "id": CRASH_ID, **FAST},
        {"text": "a folk dance", "seed": 23, "id": "after", **FAST},
        {"text": "a waltz", "seed": 24, "id": "later", **FAST},  # rows queued behind the crash survive it
    ]))  # fmt: skip
    rows = load_manifest(manifest)
    # One actor: every row is queued on the actor that crashes.
    summary = run_batch(rows, str(tmp_path / "out"), ray="local", workers=1, progress=False)
    assert (summary.made, summary.failed) == (3, 1)
    results = [json.loads(line) for line in (tmp_path / "out" / RESULTS_FILE).read_text().splitlines()]
    assert [r["id"] for r in results] == ["before", CRASH_ID, "after", "later"]
    assert [r["status"] for r in results] == ["ok", "failed", "ok", "ok"]
    assert results[1]["error"].startswith(
        "internal error: the Ray actor running this row died, and again on its retry"
    )
    assert not (tmp_path / "out" / CRASH_ID).exists() and (tmp_path / "out" / "after" / "music.wav").is_file()
    again = run_batch(rows, str(tmp_path / "out"), ray="local", workers=1, progress=False)
    assert (again.made, again.skipped, again.failed) == (0, 3, 1)  # the pool still works after the crashes


def _one(tmp_path: Path) -> Path:
    path = tmp_path / "one.jsonl"
    path.write_text(json.dumps({"text": "x", **FAST}) + "\n")
    return path


def test_batch_help_imports_neither_ray_nor_torch():
    code = (
        "import sys\nfrom weavewave.cli import main\nimport weavewave.batch\n"
        "try:\n    main(['batch', '--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('ray', 'torch', 'transformers', 'gradio', 'pyarrow') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().endswith("[]")

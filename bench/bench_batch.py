"""Batch throughput and resume (issue 17): pieces per minute for N rows of 30 s symbolic pieces with 1
local worker, 2 local workers and Ray with 2 local actors; Ray's overhead against the local pool; the peak
memory (PSS) of each run's whole process tree and its CPU seconds per piece; then a resume check that kills a batch at random points three
times, finishes it, and counts lost and duplicated rows. ``--crash N`` makes N rows kill the worker or actor
that takes them (a native crash), to measure what a crash costs the rest of the batch.

Each run is the real command (``weavewave batch MANIFEST --out DIR ...``) in a subprocess, timed from
start to exit, so start-up (imports, worker spawn, Ray's start) is counted as a user would pay it.

    python bench/bench_batch.py --rows 12 --duration 30 --json /tmp/batch.json
    python bench/bench_batch.py --rows 100 --configs local2,ray --crash 2 --kills 0 --json /tmp/batch100.json
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PROMPTS = (
    "a rainy night in Tokyo, lo-fi",
    "a sunrise over the sea, soft piano",
    "a folk dance in D",
    "an epic chase through a canyon",
    "a quiet forest at dawn",
    "a jazz club at midnight",
)
RSS_POLL_S = 0.5


def manifest(folder: Path, rows: int, duration: float) -> Path:
    path = folder / "pieces.jsonl"
    lines = [{"id": f"piece-{i:03d}", "text": PROMPTS[i % len(PROMPTS)], "duration": duration, "seed": i}
             for i in range(rows)]  # fmt: skip
    path.write_text("".join(json.dumps(r) + "\n" for r in lines), encoding="utf-8")
    return path


class TreePeak:
    """The peak summed PSS (shared pages split between the processes sharing them, so a library mapped by
    every worker counts once) of a process and all its descendants, sampled in a thread."""

    def __init__(self, pid: int) -> None:
        import psutil

        self.root, self.peak, self._stop = psutil.Process(pid), 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            try:
                procs = [self.root, *self.root.children(recursive=True)]
                total = 0
                for p in procs:
                    try:
                        total += p.memory_full_info().pss
                    except psutil.Error:
                        pass
                self.peak = max(self.peak, total)
            except psutil.Error:
                pass
            self._stop.wait(RSS_POLL_S)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def cli(args: list[str], crash: tuple[str, ...] = ()) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    if crash:  # these rows kill the worker or actor that takes them (weavewave.batch.run.CRASH_ROW_ENV)
        env["WEAVEWAVE_TEST_CRASH_ROW"] = ",".join(crash)
    return subprocess.Popen([sys.executable, "-m", "weavewave.cli", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)  # fmt: skip


def timed_run(name: str, path: Path, out: Path, extra: list[str], crash: tuple[str, ...] = ()) -> dict:
    import resource

    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = cli(["batch", str(path), "--out", str(out), "-q", *extra], crash)
    peak = TreePeak(proc.pid)
    stdout, stderr = proc.communicate()
    wall = time.perf_counter() - started
    rss = peak.stop()
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    # CPU of every process the batch waited for (its workers; not Ray's own daemons, which outlive it).
    cpu_s = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    if proc.returncode != (1 if crash else 0):
        raise SystemExit(f"{name}: exit {proc.returncode}\n{stderr[-2000:]}")
    results = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    made = [r for r in results if r["status"] == "ok"]
    failed = sorted(r["id"] for r in results if r["status"] != "ok")
    if failed != sorted(crash):
        raise SystemExit(f"{name}: failed rows {failed}, expected exactly the crashing ones {sorted(crash)}")
    print(f"{name}: {len(made)} made, {len(failed)} crashed, in {wall:.1f} s, peak PSS {rss / 2**20:.0f} MiB",
          flush=True)  # fmt: skip
    # A row a dead worker wrote whole but could not report is read back from its folder, without a total.
    per_piece = sorted(r["seconds"]["total"] for r in made if "total" in r["seconds"])
    rows = len(made)
    return {"config": name, "rows": rows, "crashed": len(failed), "wall_s": round(wall, 1),
            "pieces_per_min": round(rows / wall * 60, 2),
            "median_piece_s": per_piece[len(per_piece) // 2], "peak_pss_mib": round(rss / 2**20),
            "cpu_s_per_piece": round(cpu_s / rows, 2),
            "summary": stdout.splitlines()[0]}  # fmt: skip


def resume_check(path: Path, out: Path, kills: int, workers: int, rng: random.Random) -> dict:
    """Kill a batch (its whole process group, SIGKILL) at random points, then let it finish.

    Each kill comes a random 0-3 s after a random number of rows (rising, between 1 and N-1) have finished,
    so it lands mid-row, mid-write or between rows rather than during start-up.
    """
    rows = sum(1 for line in path.read_text().splitlines() if line.strip())
    targets = sorted(rng.sample(range(1, rows), min(kills, rows - 1)))
    made_at: dict[str, int] = {}
    kill_points = []
    for target in targets:
        proc = cli(["batch", str(path), "--out", str(out), "-q", "--workers", str(workers)])
        deadline = time.monotonic() + 600
        while (
            proc.poll() is None
            and time.monotonic() < deadline
            and len(list(out.glob("*/result.json"))) < target
        ):
            time.sleep(0.1)
        time.sleep(rng.uniform(0.0, 3.0))
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        time.sleep(0.5)
        kill_points.append(len(list(out.glob("*/result.json"))))
        for done in out.glob("*/result.json"):
            made_at.setdefault(done.parent.name, done.stat().st_mtime_ns)
    proc = cli(["batch", str(path), "--out", str(out), "-q", "--workers", str(workers)])
    stdout, stderr = proc.communicate()
    results = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    ids = [r["id"] for r in results]
    folders = [p.name for p in out.iterdir() if p.is_dir() and not p.name.startswith(".")]
    remade = [i for i, t in made_at.items() if (out / i / "result.json").stat().st_mtime_ns != t]
    return {"rows_done_at_each_kill": kill_points, "finished_before_last_run": len(made_at),
            "lost": rows - len({r["id"] for r in results if r["status"] == "ok"}),
            "duplicated": (len(ids) - len(set(ids))) + (len(folders) - len(set(ids))) + len(remade),
            "exit": proc.returncode, "summary": stdout.splitlines()[0] if stdout else stderr[-300:]}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=12)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--no-ray", action="store_true")
    parser.add_argument("--configs", default="local1,local2,ray", help="which runs: local1, local2, ray")
    parser.add_argument("--crash", type=int, default=0, metavar="N",
                        help="N rows, spread over the manifest, kill the worker or actor that takes them")  # fmt: skip
    parser.add_argument("--json", help="also write the numbers here")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    try:
        path = manifest(work, args.rows, args.duration)
        # Compile the audio analysis once, outside the timings (a user does this at install time).
        subprocess.run([sys.executable, "-m", "weavewave.cli", "warmup"], check=True, capture_output=True,
                       env={**os.environ, "PYTHONPATH": str(SRC)})  # fmt: skip
        configs = [c.strip() for c in args.configs.split(",") if c.strip()]
        if args.no_ray:
            configs = [c for c in configs if c != "ray"]
        # Crashing rows: never the first (a worker's start-up is timed by it), spread evenly after it.
        crash = tuple(f"piece-{(k + 1) * args.rows // (args.crash + 1):03d}" for k in range(args.crash))
        known = {"local1": ("local, 1 worker", "w1", ["--workers", "1"]),
                 "local2": ("local, 2 workers", "w2", ["--workers", "2"]),
                 "ray": ("Ray local, 2 actors", "ray", ["--ray", "--workers", "2"])}  # fmt: skip
        # One worker runs rows in the batch's own process, which a crashing row would kill: no crashes there.
        runs = [timed_run(known[c][0], path, work / known[c][1], known[c][2], () if c == "local1" else crash)
                for c in configs]  # fmt: skip
        print(f"load average over 1/5/15 min at the end: {os.getloadavg()} on {os.cpu_count()} cores")
        for r in runs:
            print(f"{r['config']:<22} {r['rows']} rows made, {r['crashed']} crashed, in {r['wall_s']:6.1f} s: "
                  f"{r['pieces_per_min']:5.2f} pieces/min, "
                  f"median piece {r['median_piece_s']:.1f} s, CPU {r['cpu_s_per_piece']:.1f} s/piece, "
                  f"peak PSS {r['peak_pss_mib']} MiB")  # fmt: skip
        made = [work / known[c][1] for c in configs]
        same = all((made[0] / d.name / "music.wav").read_bytes() == (d / "music.wav").read_bytes()
                   for folder in made[1:] for d in folder.iterdir()
                   if (d / "music.wav").exists() and (made[0] / d.name / "music.wav").exists())  # fmt: skip
        print(f"same bytes in every configuration: {same}")
        overhead = None
        if "ray" in configs and "local2" in configs:
            overhead = round(
                runs[configs.index("ray")]["wall_s"] / runs[configs.index("local2")]["wall_s"] - 1, 3
            )
            print(f"Ray overhead against the 2-worker local pool: {overhead * 100:+.0f}% wall time")
        resume = resume_check(path, work / "resume", args.kills, 2, random.Random(17)) if args.kills else None
        if resume is not None:
            print(f"resume: killed with {resume['rows_done_at_each_kill']} rows done; {resume['finished_before_last_run']} rows done "
                  f"before the last run; lost {resume['lost']}, duplicated {resume['duplicated']}; "
                  f"exit {resume['exit']}")  # fmt: skip
        if args.json:
            Path(args.json).write_text(json.dumps({"rows": args.rows, "duration_s": args.duration, "runs": runs,
                                                   "crash_rows": list(crash),
                                                   "loadavg": os.getloadavg(), "cores": os.cpu_count(),
                                                   "same_bytes": same, "ray_overhead": overhead,
                                                   "resume": resume}, indent=2) + "\n")  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

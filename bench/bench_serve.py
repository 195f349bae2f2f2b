"""Load test of `weavewave serve` on loopback: describe latency, generate throughput, 429s, lost jobs.

Starts a real server on 127.0.0.1 (a free port, a temporary data folder), then:

1. describe: ``--describe`` requests (text and a real photo, alternating) from ``--clients`` threads;
   prints p50 / p95 latency.
2. generate: ``--generate`` pieces of ``--seconds`` s submitted at once from ``--clients`` threads into a
   queue of ``--max-queue``; a refused submit (429) waits its Retry-After and tries again. Prints
   pieces per minute, the 429 count, and lost jobs (accepted but not finished with a status): must be 0.

Bounded: at most ``--time-limit`` seconds in all, then it stops the server and reports what it has.
Loopback only. Run: .venv/bin/python bench/bench_serve.py
"""

from __future__ import annotations

import argparse
import os
import pathlib
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

TEXTS = [
    "a rainy night in Tokyo, lo-fi",
    "sunrise over the sea, hopeful strings",
    "a tense chase through a city",
    "a quiet cabin in the snow",
    "a summer festival, bright brass",
    "an old film noir detective",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _photo() -> bytes:
    import skimage

    return (pathlib.Path(skimage.__file__).parent / "data" / "coffee.png").read_bytes()


def _start(args: argparse.Namespace, data: str) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "weavewave.cli",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(args.workers),
            "--data-dir",
            data,
            "--max-queue",
            str(args.max_queue),
            "--text-model",
            args.text_model,
            "--no-ui",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz", timeout=2).json()["workers_alive"] == args.workers:
                return proc, url
        except (httpx.HTTPError, KeyError, ValueError):
            pass
        time.sleep(0.3)
    proc.kill()
    raise SystemExit("the server did not start")


def bench_describe(url: str, args: argparse.Namespace, photo: bytes, deadline: float) -> list[float]:
    with httpx.Client(base_url=url, timeout=120) as c:  # warm-up: first use loads the text model
        c.post("/v1/describe", data={"text": "warm-up"}).raise_for_status()

    def one(i: int) -> float | None:
        if time.monotonic() > deadline:
            return None
        start = time.perf_counter()
        with httpx.Client(base_url=url, timeout=120) as c:
            if i % 2:
                r = c.post("/v1/describe", files={"image": ("coffee.png", photo, "image/png")})
            else:
                r = c.post("/v1/describe", data={"text": TEXTS[i % len(TEXTS)]})
        r.raise_for_status()
        return time.perf_counter() - start

    with ThreadPoolExecutor(args.clients) as pool:
        return [t for t in pool.map(one, range(args.describe)) if t is not None]


def bench_generate(url: str, args: argparse.Namespace, deadline: float) -> dict:
    accepted: list[str] = []
    refused = 0
    lock = threading.Lock()

    def submit(i: int) -> None:
        nonlocal refused
        with httpx.Client(base_url=url, timeout=60) as c:
            while time.monotonic() < deadline:
                r = c.post(
                    "/v1/generate",
                    data={"text": TEXTS[i % len(TEXTS)], "duration": str(args.seconds), "seed": str(i)},
                )
                if r.status_code == 429:
                    with lock:
                        refused += 1
                    time.sleep(min(float(r.headers["retry-after"]), 5.0))
                    continue
                r.raise_for_status()
                with lock:
                    accepted.append(r.json()["id"])
                return

    start = time.perf_counter()
    with ThreadPoolExecutor(args.clients) as pool:
        list(pool.map(submit, range(args.generate)))
    final: dict[str, dict] = {}
    with httpx.Client(base_url=url, timeout=30) as c:
        while time.monotonic() < deadline and len(final) < len(accepted):
            for job_id in accepted:
                if job_id not in final:
                    job = c.get(f"/v1/jobs/{job_id}").json()
                    if job["status"] not in ("queued", "running"):
                        final[job_id] = job
            time.sleep(0.5)
        wall = time.perf_counter() - start
        statuses = {i: c.get(f"/v1/jobs/{i}").json().get("status") for i in accepted}
    succeeded = sum(j["status"] == "succeeded" for j in final.values())
    unfinished = [i for i, s in statuses.items() if s in ("queued", "running")]
    lost = [i for i, s in statuses.items() if s is None]
    return {
        "accepted": len(accepted),
        "succeeded": succeeded,
        "failed": len(final) - succeeded,
        "unfinished_at_time_limit": len(unfinished),
        "lost": len(lost),
        "refused_429": refused,
        "wall_s": wall,
        "pieces_per_min": 60 * succeeded / wall if wall else 0.0,
        "mean_run_s": statistics.mean(
            j["finished_at"] - j["started_at"] for j in final.values() if j["status"] == "succeeded"
        )
        if succeeded
        else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--describe", type=int, default=60, help="describe requests (default 60)")
    parser.add_argument("--generate", type=int, default=16, help="pieces to generate (default 16)")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each piece (default 10)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients (default 8)")
    parser.add_argument("--workers", type=int, default=2, help="server worker processes (default 2)")
    parser.add_argument(
        "--max-queue", type=int, default=4, help="server queue bound (default 4: provokes 429)"
    )
    parser.add_argument("--text-model", default="auto", choices=("auto", "minilm", "lexicon"))
    parser.add_argument("--time-limit", type=float, default=480.0, help="stop after this many seconds")
    args = parser.parse_args()
    deadline = time.monotonic() + args.time_limit
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as data:
        proc, url = _start(args, data)
        try:
            latencies = bench_describe(url, args, _photo(), deadline)
            gen = bench_generate(url, args, deadline)
        finally:
            proc.terminate()
            proc.wait(60)
    cores = len(os.sched_getaffinity(0))
    q = statistics.quantiles(latencies, n=20) if len(latencies) >= 2 else [float("nan")] * 19
    print(
        f"weavewave serve load test on 127.0.0.1 ({cores} cores, {args.workers} workers, "
        f"{args.clients} clients, queue bound {args.max_queue}, text model {args.text_model})"
    )
    print(
        f"describe: {len(latencies)} requests, p50 {statistics.median(latencies) * 1000:.0f} ms, "
        f"p95 {q[18] * 1000:.0f} ms"
    )
    print(
        f"generate: {gen['accepted']} accepted, {gen['succeeded']} succeeded, {gen['failed']} failed, "
        f"{gen['unfinished_at_time_limit']} unfinished at the time limit; {args.seconds:g} s pieces, "
        f"mean run {gen['mean_run_s']:.1f} s; throughput {gen['pieces_per_min']:.1f} pieces/min "
        f"over {gen['wall_s']:.0f} s"
    )
    print(f"rejected with 429: {gen['refused_429']}; lost jobs: {gen['lost']}")
    if gen["lost"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()

"""N concurrent clients against a local `weavewave serve`, for a bounded time: success rate, latency, memory.

Starts a real server on 127.0.0.1 (a free port, a temporary data folder, ``--workers`` workers, no page),
then ``--clients`` threads, each with its own keep-alive connection, send requests in a loop for
``--seconds`` s: text describes, job listings, health checks and generate submissions (a full queue's 429
is a correct answer, counted apart). The clients start together, so the first requests meet a cold server
(the lazy-import race of issue 13 answered 39 of 200 with 500).

Prints requests, the share answered as intended (2xx, or 429 with Retry-After), the 5xx count (must be 0),
p50/p95/p99 latency, and the server's peak resident memory (its process and workers). Loopback only.
Run: .venv/bin/python bench/bench_load.py --clients 50
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

TEXTS = ["a rainy night in Tokyo, lo-fi", "sunrise over the sea, hopeful strings", "a tense chase"]
# Each client cycles through these: mostly describes (the work a crowd of page users makes).
MIX = ("describe", "describe", "jobs", "healthz", "describe", "generate")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_kib(pid: int) -> int:
    """Resident memory of ``pid`` and its children, from /proc (KiB)."""
    total = 0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--max-queue", type=int, default=8)
    args = ap.parse_args(argv)

    data = tempfile.mkdtemp(prefix="weavewave-load-")
    port = _free_port()
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}
    server = subprocess.Popen(
        [sys.executable, "-m", "weavewave.cli", "serve", "--port", str(port), "--data-dir", data, "--no-ui",
         "--workers", str(args.workers), "--max-queue", str(args.max_queue), "--text-model", "lexicon"],
        env=env, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:  # wait for the port, not for /healthz: the first requests must meet a just-started server
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                print("server did not start:", server.stderr.read() if server.stderr else "")
                return 1
            time.sleep(0.05)

    results: list[tuple[str, int, float]] = []
    lock = threading.Lock()
    go = threading.Barrier(args.clients)
    stop_at = [0.0]

    def client(n: int) -> None:
        with httpx.Client(base_url=base, timeout=60.0) as http:
            go.wait()
            i = n
            while time.monotonic() < stop_at[0]:
                kind = MIX[i % len(MIX)]
                i += 1
                t0 = time.perf_counter()
                try:
                    if kind == "describe":
                        r = http.post("/v1/describe", data={"text": TEXTS[i % len(TEXTS)], "duration": "20"})
                    elif kind == "generate":
                        r = http.post("/v1/generate", data={"text": TEXTS[i % len(TEXTS)], "duration": "5"})
                    elif kind == "jobs":
                        r = http.get("/v1/jobs", params={"limit": 5})
                    else:
                        r = http.get("/healthz")
                    code = r.status_code
                except httpx.HTTPError:
                    code = 0  # no answer at all: counted as a failure
                with lock:
                    results.append((kind, code, time.perf_counter() - t0))

    stop_at[0] = time.monotonic() + args.seconds
    threads = [threading.Thread(target=client, args=(n,)) for n in range(args.clients)]
    peak = 0
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        peak = max(peak, _rss_kib(server.pid))
        time.sleep(0.25)
    server.terminate()
    server.wait(timeout=30)

    ok = [r for r in results if 200 <= r[1] < 300 or r[1] == 429]
    errors = [r for r in results if r[1] >= 500]
    failed = [r for r in results if r[1] == 0]
    lat = [r[2] * 1000 for r in results if r[1]]
    print(f"clients {args.clients}, {args.seconds:g} s, {args.workers} worker(s): {len(results)} requests")
    print(f"answered as intended: {100 * len(ok) / max(1, len(results)):.1f} %  (429: "
          f"{sum(r[1] == 429 for r in results)}, 5xx: {len(errors)}, no answer: {len(failed)})")  # fmt: skip
    codes: dict[int, int] = {}
    for r in results:
        codes[r[1]] = codes.get(r[1], 0) + 1
    print(f"status codes: {dict(sorted(codes.items()))}")
    print(f"latency ms: p50 {_percentile(lat, 0.5):.0f}, p95 {_percentile(lat, 0.95):.0f}, "
          f"p99 {_percentile(lat, 0.99):.0f}")  # fmt: skip
    print(f"server peak memory (process and workers): {peak / 1024:.0f} MiB")
    return 0 if not errors and not failed else 1


if __name__ == "__main__":
    sys.exit(main())

"""Batch rows on Ray: Ray Data's ``map_batches`` over a pool of :class:`RowRunner` actors.

Each actor warms the audio analysis once (under jitcache's file lock, so actors on one node take turns)
and keeps one model cache for every row it runs: a neural backend's weights load once per actor, and
``--gpus-per-worker 1`` gives each actor a GPU of its own. Actors write rows exactly as local workers do
(:func:`weavewave.batch.run.run_row`), so outputs, ids and resume behave the same; ``--out`` must be a
folder every node sees (a shared mount) or an fsspec URL (an object store).

Ray is imported here only, when a batch asks for it (``pip install 'weavewave[ray]'``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

from weavewave.errors import BadInputError

LOCAL = "local"
# ray.init retries an unreachable address for minutes: a plain TCP connect first answers in seconds.
REACH_TIMEOUT_S = 5.0
DEFAULT_GCS_PORT = 6379
# Small blocks spread rows evenly over the actors and stream records back as rows finish; past this many
# the scheduler's own overhead per block would show.
MAX_BLOCKS = 10_000
ROWS_PER_CALL = 1  # a row is seconds to minutes of work: batching rows would only delay the results
# An actor that dies on a row (a native crash, the OOM killer) is restarted and the row tried once more on
# it: a passing fault heals, while a row that kills every actor it meets is given up (Ray's default, -1,
# retries it forever and the batch never ends). Its block is then dropped, not the run: the driver marks
# the rows it never got back as failed, and the other rows go on.
ROW_RETRIES = 1


class RowRunner:
    """A Ray Data actor: makes the rows it is given, keeping its models loaded between them."""

    def __init__(self, out: str) -> None:
        from weavewave import jitcache
        from weavewave.neural.models import ModelCache

        jitcache.configure()
        jitcache.warm_if_installed()
        self.out = out
        self.cache = ModelCache()

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        import numpy as np

        from weavewave.batch.run import crash_if_asked, run_row

        records = []
        for text in batch["task"]:
            task = json.loads(str(text))
            crash_if_asked(task)
            records.append(json.dumps(run_row(task, self.out, self.cache)))
        return {"record": np.array(records, dtype=object)}


def connect(address: str, workers: int | None) -> bool:
    """Start or join Ray; True when this call started it (and should shut it down)."""
    from weavewave._deps import require

    ray = require("ray", "ray", "--ray")
    if ray.is_initialized():
        return False
    if address != LOCAL:
        _check_reachable(address)
    try:
        if address == LOCAL:
            from weavewave.batch.run import default_workers

            ray.init(num_cpus=workers or default_workers(), include_dashboard=False, log_to_driver=False,
                     configure_logging=False)  # fmt: skip
        else:
            ray.init(address=address, log_to_driver=False, configure_logging=False)
    except Exception as exc:  # Ray raises ConnectionError, RuntimeError or its own kinds, by version
        raise BadInputError(
            f"--ray {address}: cannot reach a Ray cluster there ({type(exc).__name__}: {str(exc)[:200]}); "
            "start one with `ray start --head`, or give --ray alone for a local instance"
        ) from None
    return True


def _check_reachable(address: str) -> None:
    """Fail fast, in one line, when nothing listens at a ``host:port`` or ``ray://host:port`` address."""
    import socket

    if address == "auto":  # the cluster this machine belongs to: Ray finds it itself
        return
    hostport = address.split("://", 1)[-1].rstrip("/")
    host, _, port = hostport.rpartition(":")
    if not host:
        host, port = hostport, str(DEFAULT_GCS_PORT)
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=REACH_TIMEOUT_S):
            return
    except (OSError, ValueError) as exc:
        raise BadInputError(
            f"--ray {address}: cannot reach a Ray cluster there ({exc}); start one with `ray start --head`, "
            "or give --ray alone for a local instance"
        ) from None


def run_on_ray(
    tasks: list[dict[str, Any]],
    out: str,
    *,
    address: str,
    workers: int | None,
    gpus_per_worker: float,
    finish: Callable[[dict[str, Any]], None],
) -> None:
    """Run ``tasks`` through a Ray Data actor pool of ``workers`` actors; ``finish`` each record as it
    comes back (in completion order). Joins Ray first when :func:`connect` has not been called. A row whose
    actor died on it, and again on its retry (:data:`ROW_RETRIES`), never comes back: the caller fails it."""
    from weavewave.batch.manifest import is_url

    started = connect(address, workers)
    try:
        if not tasks:
            return
        import logging
        import warnings

        import ray
        import ray.data  # configures its loggers on import: quieten them after it

        # Its per-run INFO lines would break our bar, and a dropped block's traceback is our failed row's line:
        # the console keeps only critical lines (Ray's session log files keep everything).
        for handler in logging.getLogger("ray.data").handlers:
            if isinstance(handler, logging.StreamHandler):
                handler.setLevel(logging.CRITICAL)
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False  # ours is the one bar
        ctx.execution_options.preserve_order = False  # rows finish in any order; records carry their row
        ctx.max_errored_blocks = -1  # a block whose actor died on it (twice) costs its rows, not the run
        resources = ray.cluster_resources()
        if gpus_per_worker and resources.get("GPU", 0) < gpus_per_worker:
            # Ray would wait forever for an actor it can never place.
            raise BadInputError(f"--gpus-per-worker {gpus_per_worker:g}: this Ray cluster has "
                                f"{resources.get('GPU', 0):g} GPUs; drop the option or join a cluster with GPUs")  # fmt: skip
        size = max(1, min(workers or int(resources.get("CPU", 1)), len(tasks)))
        target = out if is_url(out) else os.path.abspath(out)  # actors do not share our working folder
        ds = ray.data.from_items(
            [{"task": json.dumps(t)} for t in tasks], override_num_blocks=min(len(tasks), MAX_BLOCKS)
        )
        with warnings.catch_warnings():
            # Ray 2.60 takes task retries only as a plain remote argument, which it marks deprecated in
            # favour of named parameters that do not include this one yet.
            warnings.simplefilter("ignore", DeprecationWarning)
            results = ds.map_batches(
                RowRunner,
                fn_constructor_kwargs={"out": target},
                batch_size=ROWS_PER_CALL,
                # One row in flight per actor: when an actor dies, only the row it was making dies with it
                # (rows queued behind it would use up their retries on its restarts too).
                compute=ray.data.ActorPoolStrategy(size=size, max_tasks_in_flight_per_actor=1),
                num_cpus=1,
                num_gpus=gpus_per_worker or None,
                batch_format="numpy",
                max_task_retries=ROW_RETRIES,
            )
        for item in results.iter_rows():
            finish(json.loads(str(item["record"])))
    finally:
        if started:
            import ray

            ray.shutdown()

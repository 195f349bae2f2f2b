"""Running the server under uvicorn, with a graceful stop.

SIGTERM and Ctrl-C start uvicorn's shutdown; the app's shutdown stops the worker pool, which re-queues
whatever was running, so the next start finishes it. The process then exits 0.
"""

from __future__ import annotations

import contextlib
import signal
import sys
from collections.abc import Iterator

from weavewave.serve.settings import Settings

# Seconds open HTTP connections get to finish after SIGTERM; with the worker pool's bounded stop
# (jobs.STOP_GRACE_S and the waits after it) the process ends within 10 s.
HTTP_GRACE_S = 3
# What the server imports (the ``serve`` extra): checked first, so a light install gets the install hint.
SERVE_MODULES = ("uvicorn", "fastapi", "multipart", "gradio")


def serve(settings: Settings) -> None:
    """Serve API and UI on ``settings.host:settings.port`` until SIGTERM or Ctrl-C."""
    from weavewave._deps import require

    for module in SERVE_MODULES:
        require(module, "serve", "`weavewave serve`")
    import uvicorn

    from weavewave.serve.api import create_app

    class GracefulServer(uvicorn.Server):
        """uvicorn re-raises SIGTERM once it has shut down, so the process would end "killed by a signal";
        here a stop request ends in a clean exit after the app's shutdown."""

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

    from weavewave.serve.datalock import DataDirLock

    # Taken before anything touches the database, so a second server exits 2 with one line.
    data_lock = DataDirLock(settings.data_dir).acquire()
    app = create_app(settings, data_lock=data_lock)
    where = f"http://{'[' + settings.host + ']' if ':' in settings.host else settings.host}:{settings.port}"
    sys.stderr.write(
        f"weavewave: serving the page at {where}/ and the API at {where}/v1 (docs: {where}/docs); "
        f"{settings.workers} workers, data in {settings.data_dir}\n"
    )
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        timeout_graceful_shutdown=HTTP_GRACE_S,
    )
    try:
        GracefulServer(config).run()
    finally:
        data_lock.release()
    sys.stderr.write("weavewave: stopped; unfinished jobs are kept and run at the next start\n")

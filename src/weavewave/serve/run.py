"""Running the server under uvicorn, with a graceful stop.

SIGTERM and Ctrl-C start uvicorn's shutdown; the app's shutdown stops the worker pool, which re-queues
whatever was running, so the next start finishes it. The process then exits 0.
"""

from __future__ import annotations

import contextlib
import signal
import sys
from collections.abc import Iterator
from typing import Any

from weavewave.serve.settings import Settings

# Seconds open HTTP connections get to finish after SIGTERM; with the worker pool's bounded stop
# (jobs.STOP_GRACE_S and the waits after it) the process ends within 10 s.
HTTP_GRACE_S = 3
# What the server imports (the ``serve`` extra): checked first, so a light install gets the install hint.
SERVE_MODULES = ("uvicorn", "fastapi", "multipart", "gradio")


# Slow clients: an idle kept-alive connection closes after KEEP_ALIVE_S; a request whose headers are not
# complete HEADER_TIMEOUT_S after its first byte (or after the connection opened) is cut off; headers over
# MAX_HEADER_BYTES are refused. Request bodies have their own deadlines (serve.guard).
KEEP_ALIVE_S = 5
HEADER_TIMEOUT_S = 10.0
MAX_HEADER_BYTES = 64 * 1024
# Connections served at once; past it uvicorn answers 503 instead of piling up sockets and memory.
MAX_CONNECTIONS = 1000


def deadline_protocol() -> type:
    """uvicorn's h11 protocol with a deadline on request headers (uvicorn itself waits forever for them, so
    one slow client per socket could hold connections open: "slowloris")."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class DeadlineH11Protocol(H11Protocol):
        _deadline: Any = None

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            if self._deadline is None and self._between_requests():
                self._arm()
            super().data_received(data)
            if self._deadline is not None and not self._between_requests():
                self._deadline.cancel()  # the headers are in: the body has the app's own deadline
                self._deadline = None

        def connection_lost(self, exc: Exception | None) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None
            super().connection_lost(exc)

        def _between_requests(self) -> bool:
            return self.cycle is None or self.cycle.response_complete

        def _arm(self) -> None:
            self._deadline = self.loop.call_later(HEADER_TIMEOUT_S, self._too_slow)

        def _too_slow(self) -> None:
            self._deadline = None
            if self._between_requests() and not self.transport.is_closing():
                self.transport.close()

    return DeadlineH11Protocol


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
        http=deadline_protocol(),
        timeout_keep_alive=KEEP_ALIVE_S,
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
        limit_concurrency=MAX_CONNECTIONS,
    )
    try:
        GracefulServer(config).run()
    finally:
        data_lock.release()
    sys.stderr.write("weavewave: stopped; unfinished jobs are kept and run at the next start\n")

"""The server's front door: Host and Origin checks, the token on every route, login throttling, body deadlines.

One ASGI middleware, outermost, so every route (the API, ``/docs``, ``/openapi.json``, the page) passes it:

- **Host** must be one the server answers to (by default, on loopback: ``localhost``, ``127.0.0.1`` or
  ``[::1]`` with the server's port; more with ``--allow-host``). A DNS-rebinding page reaches the server
  under its own name and is refused with 421.
- **Origin**: a browser's POST, PUT, PATCH or DELETE from another site is refused with 403, so no web page
  can queue jobs or cancel them. Clients that send no Origin (curl, scripts) are not affected.
- **Token**: with one set, ``/docs``, ``/redoc``, their assets and ``/openapi.json`` need it too (Bearer, or
  Basic with the token as password so a browser can ask for it); ``/v1`` checks it in its own dependency,
  the page asks for it at its login, and ``/healthz`` answers only ``status`` without it.
- **Throttling**: after :data:`FREE_FAILURES` wrong tokens or passwords a client waits, doubling each time up
  to :data:`MAX_BACKOFF_S`; meanwhile it gets 429 with Retry-After.
- **Slow bodies**: a request body that stalls for :data:`BODY_IDLE_S`, or is still arriving after
  :data:`BODY_TOTAL_S`, is answered 408.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import time
from collections import OrderedDict
from typing import Any

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Routes outside /v1 that show what the server offers; behind the token when one is set.
TOKEN_PATHS = ("/docs", "/redoc", "/docs-assets", "/openapi.json")
# Where the page's login posts its password (Gradio's route).
LOGIN_PATHS = ("/login", "/login/")
# Throttling: this many failures are free; then the wait doubles from BASE_BACKOFF_S up to MAX_BACKOFF_S.
FREE_FAILURES = 5
BASE_BACKOFF_S = 1.0
MAX_BACKOFF_S = 300.0
# Clients remembered at once; the oldest are forgotten first (a bound on the memory an attacker can use).
MAX_TRACKED_CLIENTS = 10_000
# A body that sends nothing for BODY_IDLE_S, or takes longer than BODY_TOTAL_S in all, gets 408.
BODY_IDLE_S = 30.0
BODY_TOTAL_S = 600.0


def allowed_hosts(host: str, port: int, extra: tuple[str, ...] = ()) -> frozenset[str] | None:
    """The Host header values the server answers to; None means any (``--allow-host '*'``, or a public bind
    without ``--allow-host``: the token guards it, and its public names are not known here)."""
    from weavewave.serve.settings import is_loopback

    if "*" in extra:
        return None
    if not is_loopback(host) and not extra:
        return None
    names = set(LOOPBACK_NAMES) if is_loopback(host) else set()
    names.update(e.lower() for e in extra)
    return frozenset(names | {f"{n}:{port}" for n in names})


class LoginThrottle:
    """Failed logins per client, with exponential back-off. Thread-safe enough for one event loop."""

    def __init__(self, now: Any = time.monotonic) -> None:
        self._now = now
        self._clients: OrderedDict[str, tuple[int, float]] = OrderedDict()  # client -> (failures, until)

    def wait_s(self, client: str) -> float:
        """Seconds ``client`` must still wait before its next try (0 when it may try now)."""
        entry = self._clients.get(client)
        return max(0.0, entry[1] - self._now()) if entry else 0.0

    def failed(self, client: str) -> None:
        failures = self._clients.pop(client, (0, 0.0))[0] + 1
        wait = 0.0
        if failures > FREE_FAILURES:
            wait = min(MAX_BACKOFF_S, BASE_BACKOFF_S * 2 ** (failures - FREE_FAILURES - 1))
        self._clients[client] = (failures, self._now() + wait)
        while len(self._clients) > MAX_TRACKED_CLIENTS:
            self._clients.popitem(last=False)

    def succeeded(self, client: str) -> None:
        self._clients.pop(client, None)


def token_ok(headers: dict[bytes, bytes], token: str) -> bool:
    """True when the request carries ``token``: ``Bearer <token>`` or Basic with it as the password."""
    scheme, _, given = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
    scheme, given = scheme.lower(), given.strip()
    if scheme == "basic":
        try:
            given = base64.b64decode(given, validate=True).decode("utf-8").partition(":")[2]
        except (ValueError, UnicodeDecodeError):
            return False
    elif scheme != "bearer":
        return False
    return secrets.compare_digest(given.encode(), token.encode())


class Guard:
    """The checks above, in front of ``app``."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        hosts: frozenset[str] | None,
        token: str | None,
        throttle: LoginThrottle | None = None,
        body_idle_s: float = BODY_IDLE_S,
        body_total_s: float = BODY_TOTAL_S,
    ) -> None:
        self.app, self.hosts, self.token = app, hosts, token
        self.throttle = throttle or LoginThrottle()
        self.body_idle_s, self.body_total_s = body_idle_s, body_total_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        host = headers.get(b"host", b"").decode("latin-1").lower()
        if self.hosts is not None and host not in self.hosts:
            await _answer(scope, send, 421, "this server does not answer to that Host name: open it as "
                          "http://localhost:<port>/ or start it with --allow-host NAME")  # fmt: skip
            return
        origin = headers.get(b"origin", b"").decode("latin-1").lower()
        method = scope.get("method", "GET")
        if (
            (method in UNSAFE_METHODS or scope["type"] == "websocket")
            and origin
            and not self._same_site(origin, host)
        ):
            await _answer(scope, send, 403, "cross-site request refused: this server only takes requests "
                          "from its own pages or from clients that send no Origin")  # fmt: skip
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = (scope.get("client") or ("?", 0))[0]
        path = scope.get("path", "")
        guarded = self.token is not None and (
            path.startswith("/v1/") or path in LOGIN_PATHS or _under(path, TOKEN_PATHS)
        )
        if guarded and (wait := self.throttle.wait_s(client)) > 0:
            await _answer(scope, send, 429, f"too many wrong tokens or passwords: wait {wait:.0f} s and "
                          "try again", {"Retry-After": str(max(1, round(wait)))})  # fmt: skip
            return
        if self.token is not None and _under(path, TOKEN_PATHS) and not token_ok(headers, self.token):
            self.throttle.failed(client)
            await _answer(scope, send, 401, "this page needs the server's token: send 'Authorization: "
                          "Bearer <token>' (a browser asks for it as the password)",
                          {"WWW-Authenticate": 'Basic realm="weavewave", charset="UTF-8"'})  # fmt: skip
            return
        await self._serve(scope, receive, send, client if guarded else None, path)

    def _same_site(self, origin: str, host: str) -> bool:
        """The Origin is this server: its host:port is the request's Host or an allowed one."""
        if origin == "null" or "://" not in origin:
            return False
        netloc = origin.split("://", 1)[1].rstrip("/")
        if self.hosts is not None:
            return netloc in self.hosts
        return netloc == host

    async def _serve(self, scope: Scope, receive: Receive, send: Send, client: str | None, path: str) -> None:
        """Run the app with a deadline on the body and, for guarded paths, count failed logins."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.body_total_s
        state: dict[str, Any] = {"sent": False, "late": False, "status": 0, "body_done": False}

        async def timed_receive() -> Message:
            if state["late"]:
                return {"type": "http.disconnect"}
            if state["body_done"]:
                # The body is in: a later receive() waits for the client to leave (a streaming answer such
                # as the page's progress events), which may rightly take longer than any body deadline.
                return await receive()
            left = min(self.body_idle_s, deadline - loop.time())
            try:
                message = await asyncio.wait_for(receive(), timeout=max(0.0, left))
            except TimeoutError:
                state["late"] = True
                return {"type": "http.disconnect"}
            if message.get("type") == "http.request" and not message.get("more_body"):
                state["body_done"] = True
            return message

        async def watched_send(message: Message) -> None:
            if state["late"] and not state["sent"]:
                return  # the app's answer to a cut-off body is replaced by the 408 below
            if message["type"] == "http.response.start":
                state["sent"], state["status"] = True, message["status"]
            await send(message)

        try:
            await self.app(scope, timed_receive, watched_send)
        except Exception:
            if not state["late"]:
                raise
        if state["late"] and not state["sent"]:
            await _answer(scope, send, 408, "the request body arrived too slowly: send it again")
            return
        if client is not None:
            status = state["status"]
            if status == 401 or (path in LOGIN_PATHS and status == 400):
                self.throttle.failed(client)
            elif 200 <= status < 300 and path in LOGIN_PATHS:
                self.throttle.succeeded(client)


def _under(path: str, prefixes: tuple[str, ...]) -> bool:
    return any(path == p or path.startswith(p + "/") for p in prefixes)


async def _answer(scope: Scope, send: Send, status: int, detail: str, headers: dict[str, str] | None = None):
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008})
        return
    await JSONResponse({"detail": detail}, status_code=status, headers=headers)(scope, _no_receive, send)


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}

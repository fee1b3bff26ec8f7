"""``mdiff serve``: the page and its JSON API (Starlette on uvicorn, the ``web`` extra).

POST /api/diff and /api/solve answer what ``mdiff ... --json`` prints (``jobs``), each in
a worker process under a wall-clock limit (``pool``); the body goes to the worker as
received and is parsed there, so no request body, however nested, can upset the server.
A body announced (Content-Length) as over ``max_body`` bytes is refused (413) before it
is read; one without a length (chunked) is read up to the limit, then refused.  With
``size + queue`` requests already admitted, the next gets 503 at once.

Only loopback host names are accepted while bound to loopback, so a web page elsewhere
cannot reach the server through DNS rebinding; and a POST must be ``application/json``
(415 otherwise) from no other origin (403: ``Origin`` present and not this server's, or
``Sec-Fetch-Site: cross-site``), so another site's page cannot make a browser post to it.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

STATIC = Path(__file__).resolve().parent / "static"
LOOPBACK = ("127.0.0.1", "localhost", "::1")

#: Content-Security-Policy of the page: its own scripts only (KaTeX sets inline styles).
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "font-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; "
       "base-uri 'none'; frame-ancestors 'none'")


def record(error: str, message: str) -> dict:
    """An error record without a position, with the keys of every error the API answers:
    the CLI's (``MdiffError.to_dict``: ``error``, ``message``, ``line``, ``column``),
    then ``text`` and ``field`` (``jobs.error_record``)."""
    from ..errors import MdiffError
    return {**MdiffError(message).to_dict(), "error": error, "text": None, "field": None}


def _error(status: int, error: str, message: str, headers: dict | None = None):
    """A JSON error response (``record``)."""
    from starlette.responses import JSONResponse
    return JSONResponse(record(error, message), status_code=status, headers=headers)


def host_name(host: str) -> str:
    """The name in a Host header, without its port: ``[::1]:8765`` -> ``::1``,
    ``localhost:8765`` -> ``localhost``; lower case."""
    host = host.strip().lower()
    if host.startswith("["):                      # an IPv6 address, maybe with a port
        end = host.find("]")
        return host[1:end] if end > 0 else host
    if host.count(":") == 1:
        return host.partition(":")[0]
    return host                                   # no port (or a bare IPv6 address)


class LoopbackHosts:
    """ASGI middleware: refuse (400) a request whose Host header does not name this
    machine.  Starlette's TrustedHostMiddleware does this too, but older versions do not
    read ``[::1]:port``; this one works alike on every version."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] in ("http", "websocket"):
            headers = dict(scope.get("headers") or [])
            host = headers.get(b"host", b"").decode("latin-1")
            if host_name(host) not in LOOPBACK:
                response = _error(400, "BadHost", f"invalid host header {host!r}: this "
                                  "server answers only to a loopback name")
                return await response(scope, receive, send)
        await self.app(scope, receive, send)


def _cross_site(request) -> str | None:
    """Why ``request`` comes from another site's page, or None."""
    origin = request.headers.get("origin")
    if origin is not None:
        own = f"{request.url.scheme}://{request.headers.get('host', '')}".lower()
        if origin.lower() != own:
            return f"requests from {origin} are not accepted (only from {own})"
    if request.headers.get("sec-fetch-site", "").lower() == "cross-site":
        return "cross-site requests are not accepted"
    return None


def create_app(workers: int | None = None, timeout: float = 10.0, queue: int = 64,
               max_body: int = 1_000_000, host: str = "127.0.0.1", pool=None):
    """The Starlette application; its worker pool starts with the app and stops with it."""
    import contextlib

    import anyio
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.responses import FileResponse, JSONResponse
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    from . import pool as pool_mod
    state = {"pool": pool, "admitted": 0}
    capacity = None

    async def api(request, endpoint: str):
        why = _cross_site(request)
        if why:
            return _error(403, "Forbidden", why)
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != "application/json":
            return _error(415, "UnsupportedMediaType",
                          f"the body must be sent as Content-Type: application/json, not "
                          f"{kind or 'none'}")
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > max_body):
            return _error(413, "TooLarge", f"the request body is over {max_body:,} bytes")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > max_body:
                return _error(413, "TooLarge", f"the request body is over {max_body:,} bytes")
        p = state["pool"]
        if state["admitted"] >= p.size + queue:
            return _error(503, "Busy", f"{state['admitted']} requests are in progress or "
                                       "waiting; try again shortly")
        state["admitted"] += 1
        try:                        # the worker parses the body: bytes always pickle
            status, payload = await anyio.to_thread.run_sync(
                p.run, (endpoint, bytes(body)), limiter=capacity)
        except pool_mod.Timeout as exc:
            return _error(504, "Timeout", str(exc))
        except (pool_mod.Busy, pool_mod.WorkerDied) as exc:
            return _error(503, type(exc).__name__, str(exc))
        except Exception as exc:    # JobFailed, or a bug here: a JSON 500, not a traceback
            return _error(500, "InternalError", f"{type(exc).__name__}: {exc}")
        finally:
            state["admitted"] -= 1
        return JSONResponse(payload, status_code=status)

    async def diff(request):
        return await api(request, "diff")

    async def solve(request):
        return await api(request, "solve")

    async def index(request):
        return FileResponse(STATIC / "index.html", headers={
            "Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-cache"})

    async def not_found(request, exc):
        path = request.url.path
        if exc.status_code == 405:
            allow = "POST" if path.startswith("/api/") else "GET, HEAD"
            return _error(405, "MethodNotAllowed", f"{request.method} {path}: "
                          + ("the API is POST /api/diff and POST /api/solve"
                             if path.startswith("/api/") else "only GET is served here"),
                          headers={"Allow": allow})
        if path.startswith("/api/"):
            return _error(exc.status_code, "NotFound", f"{request.method} {path}: "
                          "the API is POST /api/diff and POST /api/solve")
        return _error(exc.status_code, "NotFound", path)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        nonlocal capacity
        own = state["pool"] is None
        if own:
            state["pool"] = await anyio.to_thread.run_sync(
                lambda: pool_mod.Pool(workers, timeout))
        capacity = anyio.CapacityLimiter(state["pool"].size + queue)
        try:
            yield
        finally:
            if own:
                state["pool"].close()

    routes = [Route("/", index), Route("/api/diff", diff, methods=["POST"]),
              Route("/api/solve", solve, methods=["POST"]),
              Mount("/static", StaticFiles(directory=STATIC), name="static")]
    middleware = [Middleware(LoopbackHosts)] if host_name(host) in LOOPBACK else []
    return Starlette(routes=routes, lifespan=lifespan, middleware=middleware,
                     exception_handlers={404: not_found, 405: not_found})


def _arguments(argv):
    ap = argparse.ArgumentParser(
        prog="mdiff serve", description="Serve mdiff's page and JSON API on this machine.")
    ap.add_argument("--host", default="127.0.0.1",
                    help="address to listen on (default 127.0.0.1: this machine only)")
    ap.add_argument("--port", type=int, default=8765, help="port (default 8765; 0: any free)")
    ap.add_argument("--open", action="store_true", help="open the page in a web browser")
    ap.add_argument("--workers", type=int, default=None,
                    help="worker processes (default: one per core)")
    ap.add_argument("--timeout", type=float, default=10.0,
                    help="seconds a request may wait for a free worker (then 503), and "
                    "then seconds it may run (then 504; its worker is replaced)")
    ap.add_argument("--queue", type=int, default=64,
                    help="requests that may wait for a worker; more get 503 at once")
    args = ap.parse_args(argv)
    if not 0 <= args.port <= 65535:
        ap.error(f"--port must be between 0 and 65535, not {args.port}")
    if args.workers is not None and args.workers < 1:
        ap.error(f"--workers must be 1 or more, not {args.workers}")
    if not (args.timeout > 0 and math.isfinite(args.timeout)):
        ap.error(f"--timeout must be a positive number of seconds, not {args.timeout:g}")
    if args.queue < 0:
        ap.error(f"--queue must be 0 or more, not {args.queue}")
    return args


def main(argv: list[str] | None = None) -> int:
    """Start the server, print its URL, serve until Ctrl-C."""
    import socket
    args = _arguments(sys.argv[1:] if argv is None else argv)
    try:
        import starlette  # noqa: F401
        import uvicorn
    except ImportError as exc:
        print(f"mdiff serve needs the web extra ({exc.name} is missing): in the mdiff "
              "checkout, pip install \".[web]\"", file=sys.stderr)
        return 2
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    try:
        sock = socket.create_server((args.host, args.port), family=family)
    except OSError as exc:
        print(f"mdiff serve: cannot listen on {args.host}:{args.port}: {exc.strerror}",
              file=sys.stderr)
        return 2
    port = sock.getsockname()[1]
    shown = f"[{args.host}]" if family == socket.AF_INET6 else args.host
    url = f"http://{shown}:{port}/"
    app = create_app(args.workers, args.timeout, args.queue, host=args.host)
    config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=3)
    server = uvicorn.Server(config)
    print(f"mdiff: serving {url} (Ctrl-C to stop)", flush=True)
    if args.open:
        import threading
        import webbrowser
        threading.Timer(1.0, webbrowser.open, (url,)).start()
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
    print("mdiff: stopped", flush=True)
    return 0

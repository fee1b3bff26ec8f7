"""``mdiff serve``: the page and its JSON API (Starlette on uvicorn, the ``web`` extra).

POST /api/diff and /api/solve answer what ``mdiff ... --json`` prints (``jobs``), each in
a worker process under a wall-clock limit (``pool``).  A body over ``max_body`` bytes is
refused (413) before it is read; with ``size + queue`` requests already admitted, the next
gets 503 at once.  Only loopback host names are accepted while bound to loopback, so a
web page elsewhere cannot reach the server through DNS rebinding.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

STATIC = Path(__file__).resolve().parent / "static"
LOOPBACK = ("127.0.0.1", "localhost", "::1")

#: Content-Security-Policy of the page: its own scripts only (KaTeX sets inline styles).
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "font-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; "
       "base-uri 'none'; frame-ancestors 'none'")


def _error(status: int, error: str, message: str):
    from starlette.responses import JSONResponse
    return JSONResponse({"error": error, "message": message, "line": None, "column": None},
                        status_code=status)


def create_app(workers: int | None = None, timeout: float = 10.0, queue: int = 64,
               max_body: int = 1_000_000, host: str = "127.0.0.1", pool=None):
    """The Starlette application; its worker pool starts with the app and stops with it."""
    import contextlib

    import anyio
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.middleware.trustedhost import TrustedHostMiddleware
    from starlette.responses import FileResponse, JSONResponse
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    from . import pool as pool_mod
    state = {"pool": pool, "admitted": 0}
    capacity = None

    async def api(request, endpoint: str):
        nonlocal capacity
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > max_body):
            return _error(413, "TooLarge", f"the request body is over {max_body:,} bytes")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > max_body:
                return _error(413, "TooLarge", f"the request body is over {max_body:,} bytes")
        try:
            data = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            return _error(400, "BadRequest", f"the body is not JSON: {exc}")
        p = state["pool"]
        if state["admitted"] >= p.size + queue:
            return _error(503, "Busy", f"{state['admitted']} requests are in progress or "
                                       "waiting; try again shortly")
        state["admitted"] += 1
        try:
            status, payload = await anyio.to_thread.run_sync(
                p.run, (endpoint, data), limiter=capacity)
        except pool_mod.Timeout as exc:
            return _error(504, "Timeout", str(exc))
        except (pool_mod.Busy, pool_mod.WorkerDied) as exc:
            return _error(503, type(exc).__name__, str(exc))
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
        if request.url.path.startswith("/api/"):
            return _error(exc.status_code, "NotFound" if exc.status_code == 404 else
                          "MethodNotAllowed", f"{request.method} {request.url.path}: "
                          "the API is POST /api/diff and POST /api/solve")
        return JSONResponse({"error": "NotFound", "message": request.url.path},
                            status_code=exc.status_code)

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

    hosts = list(LOOPBACK) + ["[::1]"] if host in LOOPBACK else ["*"]
    routes = [Route("/", index), Route("/api/diff", diff, methods=["POST"]),
              Route("/api/solve", solve, methods=["POST"]),
              Mount("/static", StaticFiles(directory=STATIC), name="static")]
    return Starlette(routes=routes, lifespan=lifespan,
                     middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=hosts)],
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
                    help="seconds one request may run before its worker is replaced")
    ap.add_argument("--queue", type=int, default=64,
                    help="requests that may wait for a worker; more get 503 at once")
    return ap.parse_args(argv)


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

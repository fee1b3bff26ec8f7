"""``mdiff serve``'s JSON API over HTTP, on 127.0.0.1: the CLI's records, errors with
4xx statuses, the body limit, the wall-clock limit, the bounded queue, 50 parallel
requests, and a clean stop on Ctrl-C."""

import http.client
import json
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from web_helpers import SLOW, post, server  # noqa: E402


@pytest.fixture(scope="module")
def url():
    with server("--workers", "2", "--timeout", "20") as u:
        yield u
    code, out, err = server.last
    assert code == 0, err
    assert "stopped" in out


def test_the_page_and_its_assets_are_served(url):
    with urllib.request.urlopen(url, timeout=30) as r:
        page = r.read().decode()
        assert "Content-Security-Policy" in r.headers
    assert 'name="expr"' in page and 'name="wrt"' in page
    for asset in ("static/app.js", "static/app.css", "static/katex/katex.min.js",
                  "static/katex/katex.min.css", "static/katex/fonts/KaTeX_Main-Regular.woff2"):
        with urllib.request.urlopen(url + asset, timeout=30) as r:
            assert r.status == 200 and len(r.read()) > 1000
    assert "https://" not in page      # nothing from the network


def test_diff(url):
    status, data = post(url, "api/diff", {"expr": "tr(A*X*B)", "wrt": ["X"], "check": True})
    assert status == 200
    assert data["result"] == "A'*B'" and data["check"]["ok"]


def test_solve(url):
    status, data = post(url, "api/solve", {"expr": "norm2(A*x - b)^2", "wrt": ["x"],
                                           "classify": True})
    assert status == 200
    assert data["solution"] == "x = inv(A'*A)*A'*b"
    assert data["classify"]["classification"] == "minimum"


def test_errors_are_json_with_4xx(url):
    status, data = post(url, "api/diff", {"expr": "x'*A*", "wrt": ["x"]})
    assert status == 400
    assert (data["error"], data["line"], data["column"], data["field"]) == \
        ("ParseError", 1, 6, "expr")
    status, data = post(url, "api/diff", None, raw=b"{not json")
    assert status == 400 and data["error"] == "BadRequest"
    status, data = post(url, "api/diff", None, raw=b"\xff\xfe")
    assert status == 400 and data["error"] == "BadRequest"
    status, data = post(url, "api/nothing", {})
    assert status == 404 and data["error"] == "NotFound"
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(url + "api/diff", timeout=30)
    assert info.value.code == 405


def _raw_post(url, headers: dict, parts):
    """Send a request's headers and then ``parts`` as they are; the status and JSON of the
    answer (the server may answer before the body is complete: that is the point)."""
    host, port = url[len("http://"):-1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.putrequest("POST", "/api/diff")
        for key, value in {"Content-Type": "application/json", **headers}.items():
            conn.putheader(key, value)
        conn.endheaders()
        for part in parts:
            conn.send(part)
        r = conn.getresponse()
        return r.status, json.loads(r.read())
    finally:
        conn.close()


def test_a_body_over_the_limit_is_refused_at_once(url):
    start = time.monotonic()
    # announced by Content-Length: refused before a byte of the body is sent
    status, data = _raw_post(url, {"Content-Length": "1000001"}, [])
    assert status == 413 and data["error"] == "TooLarge"
    assert time.monotonic() - start < 5
    # no length announced (chunked): refused once the limit is passed
    chunk = 62_500
    parts = [b"%x\r\n" % chunk + b" " * chunk + b"\r\n" for _ in range(17)]   # 1.06 MB
    status, data = _raw_post(url, {"Transfer-Encoding": "chunked"}, parts)
    assert status == 413 and data["error"] == "TooLarge"
    # just under the limit is read (and is not JSON here)
    status, data = post(url, "api/diff", None, raw=b" " * 999_000 + b"{")
    assert status == 400 and data["error"] == "BadRequest"
    assert time.monotonic() - start < 15


def test_other_host_names_are_refused(url):
    status, _ = post(url, "api/diff", {"expr": "x'*x", "wrt": ["x"]},
                     headers={"Host": "attacker.example"})
    assert status == 400
    port = url.rstrip("/").rsplit(":", 1)[1]
    for name in ("[::1]", "localhost", "127.0.0.1", "LOCALHOST"):     # all this machine
        for host in (f"{name}:{port}", name):
            status, _ = post(url, "api/diff", {"expr": "x'*x", "wrt": ["x"]},
                             headers={"Host": host})
            assert status == 200, host


def test_host_name():
    from mdiff.web.server import host_name
    assert host_name("[::1]:8765") == "::1"
    assert host_name("[::1]") == "::1"
    assert host_name("LocalHost:80") == "localhost"
    assert host_name("127.0.0.1") == "127.0.0.1"
    assert host_name("::1") == "::1"
    assert host_name("evil.example:8765") == "evil.example"


GOOD = {"expr": "x'*x", "wrt": ["x"]}
#: The keys of every error the API answers: the CLI's record's, then text and field.
KEYS = {"error", "message", "line", "column", "text", "field"}


def test_a_post_must_be_json(url):
    for kind in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        status, data = post(url, "api/diff", GOOD, headers={"Content-Type": kind})
        assert status == 415 and data["error"] == "UnsupportedMediaType", kind
        assert set(data) == KEYS
    status, _ = post(url, "api/diff", GOOD,
                     headers={"Content-Type": "application/json; charset=utf-8"})
    assert status == 200


def test_no_post_from_another_site(url):
    for headers in ({"Origin": "http://attacker.example"}, {"Origin": "null"},
                    {"Origin": "http://127.0.0.1:1"}, {"Sec-Fetch-Site": "cross-site"}):
        status, data = post(url, "api/solve", {"expr": "x'*x", "wrt": ["x"]}, headers=headers)
        assert status == 403 and data["error"] == "Forbidden", headers
        assert set(data) == KEYS
    for headers in ({"Origin": url.rstrip("/")}, {"Sec-Fetch-Site": "same-origin"}):
        assert post(url, "api/diff", GOOD, headers=headers)[0] == 200, headers


def test_a_wrong_method_elsewhere_is_405_with_allow(url):
    req = urllib.request.Request(url, data=b"{}", method="POST")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(req, timeout=30)
    assert info.value.code == 405 and "GET" in info.value.headers["Allow"]
    data = json.loads(info.value.read())
    assert data["error"] == "MethodNotAllowed" and set(data) == KEYS
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(url + "api/diff", timeout=30)
    assert info.value.code == 405 and info.value.headers["Allow"] == "POST"
    assert json.loads(info.value.read())["error"] == "MethodNotAllowed"


@pytest.mark.parametrize("option, value", [
    ("--port", "65536"), ("--port", "-1"), ("--queue", "-1"), ("--timeout", "0"),
    ("--timeout", "-2"), ("--timeout", "nan"), ("--workers", "0")])
def test_bad_options_are_refused_before_anything_starts(option, value):
    import os
    import subprocess
    import sys

    from web_helpers import SRC
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    r = subprocess.run([sys.executable, "-m", "mdiff", "serve", option, value],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 2, r
    assert option in r.stderr and "Traceback" not in r.stderr and r.stdout == ""


def test_fifty_parallel_requests(url):
    bodies = [{"expr": f"x'*A*x + {k}*b'*x", "wrt": ["x"]} for k in range(1, 51)]
    with ThreadPoolExecutor(50) as ex:
        answers = list(ex.map(lambda b: post(url, "api/diff", b, timeout=120), bodies))
    assert [s for s, _ in answers] == [200] * 50
    for k, (_, data) in enumerate(answers, start=1):
        assert data["result"] == (f"(A + A')*x + {k}*b" if k > 1 else "(A + A')*x + b")


TIGHT = 3     # seconds: the limit of the ``tight`` server


@pytest.fixture(scope="module")
def tight():
    """One worker, a short limit and room for one waiting request."""
    with server("--workers", "1", "--timeout", str(TIGHT), "--queue", "1") as u:
        yield u


def test_deeply_nested_json_is_a_400_and_the_one_worker_stays(tight):
    for depth in (500, 1000, 100_000):
        for raw in (b"[" * depth + b"]" * depth,
                    b'{"expr": "x", "declare": ' + b"[" * depth + b"]" * depth + b"}"):
            status, data = post(tight, "api/diff", None, raw=raw)
            assert status == 400 and data["error"] == "BadRequest", (depth, status, data)
            assert set(data) == KEYS
            status, data = post(tight, "api/diff", {"expr": "tr(A*X)", "wrt": ["X"]})
            assert status == 200 and data["result"] == "A'", (depth, status, data)


def test_a_request_past_the_limit_is_answered_504_and_its_worker_replaced(tight):
    start = time.monotonic()
    status, data = post(tight, "api/diff", SLOW)
    took = time.monotonic() - start
    assert status == 504 and data["error"] == "Timeout"
    assert TIGHT - 0.5 < took < TIGHT + 30
    deadline = time.monotonic() + 60      # the replacement starts in the background
    while True:
        status, data = post(tight, "api/diff", {"expr": "tr(A*X)", "wrt": ["X"]})
        if status == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert status == 200 and data["result"] == "A'"


def test_requests_beyond_the_queue_get_503_at_once(tight):
    with ThreadPoolExecutor(6) as ex:
        futures = [ex.submit(lambda: (time.monotonic(), *post(tight, "api/diff", SLOW),
                                      time.monotonic())) for _ in range(6)]
        answers = [f.result() for f in futures]
    statuses = sorted(s for _, s, _, _ in answers)
    # refused on arrival (not after waiting for the worker): said so, and sooner than the
    # limit (which the one running and the one waiting take)
    refused = [end - start for start, s, data, end in answers
               if s == 503 and "in progress or waiting" in data["message"]]
    # one runs (504), one may wait for the worker; the other four are refused at once
    assert statuses.count(504) >= 1, statuses
    assert len(refused) >= 4, answers
    assert max(refused) < TIGHT, refused

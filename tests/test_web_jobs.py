"""The web API's requests are CLI commands: the record a request gets is the one
``mdiff ... --json`` prints, and a bad request is refused naming its field (no web
library needed: ``mdiff.web.jobs`` runs in the workers)."""

import json

import pytest

from mdiff import cli
from mdiff.web import jobs


def _cli_json(capsys, *argv):
    status = cli.run(list(argv))
    out = capsys.readouterr().out
    return status, json.loads(out)


def test_a_derivative_request_is_the_cli_record(capsys):
    body = {"expr": "tr(A*X'*B*X)", "wrt": ["X"], "steps": True, "check": True,
            "against": "B*X*A + B'*X*A'"}
    status, payload = jobs.run(("diff", body))
    cli_status, expected = _cli_json(capsys, "tr(A*X'*B*X)", "wrt", "X", "--steps", "--check",
                                     "--against", "B*X*A + B'*X*A'", "--json")
    assert (status, cli_status) == (200, 0)
    assert payload == expected
    assert payload["result"] == "B*X*A + B'*X*A'" and payload["against"]["equal"]


@pytest.mark.parametrize("body,argv", [
    ({"expr": "x'*A*x", "wrt": "x", "order": 2, "declare": ["A: matrix(n,n) symmetric"]},
     ["x'*A*x", "wrt", "x", "--hessian", "-d", "A: matrix(n,n) symmetric"]),
    ({"expr": "x'*A*y", "wrt": ["x", "y"], "mixed": True}, ["x'*A*y", "wrt", "x", "y", "--mixed"]),
    ({"expr": "sum(exp(x))", "wrt": ["x"], "order": 3}, ["sum(exp(x))", "wrt", "x", "--order", "3"]),
    ({"expr": "h = tanh(W1*x + b1); 1/2*norm2(W2*h - y)^2", "wrt": "W1 W2"},
     ["h = tanh(W1*x + b1); 1/2*norm2(W2*h - y)^2", "wrt", "W1", "W2"]),
    ({"expr": "W1*x + b1"}, ["W1*x + b1"]),
])
def test_options_map_to_the_cli_flags(capsys, body, argv):
    status, payload = jobs.run(("diff", body))
    _, expected = _cli_json(capsys, *argv, "--json")
    assert status == 200 and payload == expected


def test_a_solve_request_is_the_cli_record_with_its_classification(capsys):
    body = {"expr": "norm2(A*x - b)^2 + c*norm2(x)^2", "wrt": ["x"], "check": True,
            "classify": True, "code": True, "declare": ["c: scalar positive"]}
    status, payload = jobs.run(("solve", body))
    _, expected = _cli_json(capsys, "solve", "norm2(A*x - b)^2 + c*norm2(x)^2", "wrt", "x",
                            "-d", "c: scalar positive", "--check", "--classify", "--code",
                            "--json")
    assert status == 200 and payload == expected
    assert payload["classify"]["classification"] == "minimum"
    # a ridge weight of either sign: a minimum for some data, a saddle for others
    body["declare"] = []
    _, payload = jobs.run(("solve", body))
    assert payload["classify"]["classification"] == "depends on the data"
    assert set(payload["classify"]["counts"]) == {"minimum", "saddle"}


def test_the_gaussian_of_the_seed_article_is_a_maximum():
    text = ("D: matrix(p,N); S: matrix(p,p) spd; m: vector(p); -N/2*logdet(S) - "
            "1/2*tr((D - m*vector(1)')'*inv(S)*(D - m*vector(1)'))")
    status, payload = jobs.run(("solve", {"expr": text, "wrt": ["m", "S"], "classify": True}))
    assert status == 200 and payload["joint"]
    assert [r["solution"] for r in payload["results"]] == [
        "m = D*vector(1)/N", "t1 = D - m*vector(1)'; S = t1*t1'/N"]
    assert payload["classify"]["classification"] == "maximum"


@pytest.mark.parametrize("body,field,column", [
    ({"expr": "x'*A*", "wrt": ["x"]}, "expr", 6),
    ({"expr": "tr(A*X)", "wrt": ["X"], "against": "A' +"}, "against", 5),
    ({"expr": "tr(A*X)", "wrt": ["X"], "declare": ["A: matrix(n,n) symetric"]}, "declare", None),
])
def test_errors_say_which_input_the_caret_belongs_under(body, field, column):
    status, err = jobs.run(("diff", body))
    assert status == 400
    assert err["field"] == field and err["line"] == 1
    assert err["text"] is not None
    if column is not None:
        assert err["column"] == column
        assert err["text"] == body[field]


def test_an_error_is_the_cli_error_record(capsys):
    status, err = jobs.run(("diff", {"expr": "x'*A*x", "wrt": ["q"]}))
    _, expected = _cli_json(capsys, "x'*A*x", "wrt", "q", "--json")
    assert status == 400
    assert {k: err[k] for k in expected} == expected


@pytest.mark.parametrize("body,message", [
    ([], "JSON object"),
    ({"wrt": ["x"]}, "'expr'"),
    ({"expr": "  "}, "'expr'"),
    ({"expr": "x'*x", "wrt": ["x"], "eval": "1"}, "unknown field"),
    ({"expr": "x'*x", "wrt": [1]}, "list of strings"),
    ({"expr": "x'*x", "wrt": ["x"], "order": "2"}, "integer"),
    ({"expr": "x'*x", "wrt": ["x"], "order": True}, "integer"),
    ({"expr": "x'*x", "wrt": ["x"], "check": "yes"}, "true or false"),
    ({"expr": "x'*x", "wrt": ["x"], "order": 2, "mixed": True}, "cannot be combined"),
    ({"expr": "x'*x", "wrt": ["x"], "order": 9}, "order"),
    ({"expr": "x'*x", "wrt": ["x"], "layout": "diagonal"}, "'layout'"),
    ({"expr": "x'*x", "wrt": ["x"], "check": True, "seed": -1}, "'seed'"),
])
def test_bad_requests_are_refused_by_name(body, message):
    status, err = jobs.run(("diff", body))
    assert status == 400
    assert message in err["message"]


def test_solve_needs_variables():
    status, err = jobs.run(("solve", {"expr": "x'*x"}))
    assert status == 400 and "'wrt'" in err["message"]


def test_non_finite_numbers_are_valid_json():
    assert jobs._json_safe({"a": [float("inf"), -float("inf"), float("nan"), 1.5]}) == \
        {"a": ["Infinity", "-Infinity", "NaN", 1.5]}

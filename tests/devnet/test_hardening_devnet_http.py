"""Issue 6: the devnet answers hostile requests with a 4xx (a JSON-RPC error on /chain-rpc), never a 500, and
changes nothing. Routes are taken from the app itself, so a new route is fuzzed without editing this file."""

from __future__ import annotations

import asyncio
import base64
import json
import re

import httpx
import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st
from starlette.datastructures import QueryParams
from starlette.requests import Request

from gonka_tui.devnet import limits, rpc
from gonka_tui.devnet.chain import FAUCET_CAP
from gonka_tui.devnet.genesis import Fund
from gonka_tui.core.errors import InputError
from gonka_tui.devnet.limits import INT64_MAX, MAX_JSON_DEPTH, RequestError, parse_int, read_body
from gonka_tui.devnet.search import MAX_CONDITIONS, QuerySyntaxError, parse_query
from gonka_tui.devnet.server import create_app, start_in_thread
from gonka_tui.devnet.testkit import key
from tests.devnet.test_devnet_http import account_number, committed

SENDER, RECEIVER = key(601), key(602)
RPC_ERROR_CODES = {rpc.PARSE_ERROR, rpc.INVALID_REQUEST, rpc.METHOD_NOT_FOUND, rpc.INVALID_PARAMS, rpc.INTERNAL_ERROR}

# Integers as hostile clients write them: out of int64, negative, not integers, other scripts' digits.
BAD_NUMBERS = [2**63, -2**63 - 1, 10**30, -1, 1.5, 1e300, "9223372036854775808", "1" + "0" * 30, "-1", "1.5",
               "1e999", "NaN", "Infinity", "", "²", "١٢", "+12", "1_000", " 12", "12 ", "0x10", "9" * 5000]
# Everything else a parameter can be in JSON.
BAD_VALUES = BAD_NUMBERS + [True, False, None, [], {}, [1, 2], {"a": 1}, "x" * 20_000, "\x00", "'", '"', "é",
                            "gonka1" + "q" * 80, json.loads("[" * 60 + "]" * 60)]
ONE_OF_EACH_KIND = [2**63, -1, 1.5, "²", "", True, None, [], {"a": 1}, "x" * 20_000, "\x00"]
# Bodies no route can take.
MALFORMED_BODIES = [
    b"", b" ", b"{", b"nope", b"\xff\xfe{}", "{}".encode("utf-16"), b"\xef\xbb\xbf{}", b"NaN", b"Infinity",
    b"-Infinity", b"1e999", b"[1e999]", b"9" * 5000, b'"\\ud800"', b'{"a": "\\udfff"}', b"[" * 200_000,
    b'{"a":' * 100_000, b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1),
    b'{"a":' * (MAX_JSON_DEPTH + 1) + b"1" + b"}" * (MAX_JSON_DEPTH + 1),
]
# Bodies that are JSON but not what a route takes.
WRONG_BODIES = [b"null", b"5", b"-1.5", b'"x"', b"[]", b"[1]", b"true", b"{}", b'{"a": null}']


@pytest.fixture(scope="module")
def devnet(tmp_path_factory):
    with start_in_thread(tmp_path_factory.mktemp("devnet"), block_time=0.1, funds=[Fund(SENDER.address, 10**13)]) as d:
        yield d


@pytest.fixture(scope="module")
def http(devnet):
    with httpx.Client(base_url=devnet.url, timeout=30) as client:
        # One committed tx, so that searches have something to find.
        tx = SENDER.send(RECEIVER.address, 5, account_number=account_number(client, SENDER.address), sequence=0)
        r = client.post("/chain-api/cosmos/tx/v1beta1/txs", json={"tx_bytes": base64.b64encode(tx).decode(),
                                                                   "mode": "BROADCAST_MODE_SYNC"})
        committed(client, r.json()["tx_response"]["txhash"])
        yield client


@pytest.fixture
def unchanged(devnet, http):
    """Asserts, after the test, that no account, tx or mempool entry came from its requests."""
    def snapshot():
        txs = http.get("/chain-rpc/tx_search", params={"query": "tx.height EXISTS"}).json()["result"]["total_count"]
        return sorted(a.record() for a in list(devnet.chain.ledger.accounts.values())), txs, len(devnet.chain.mempool)
    before = snapshot()
    yield
    assert snapshot() == before


ROUTES = create_app(None, 1.0).routes  # the route table only: this app is never started
# Paid inference checks the signature or API key before it reads the body (tests/devnet/test_inference_api.py
# sends deep JSON with a valid signature).
AUTHENTICATED = {"/v1/chat/completions", "/broker/v1/chat/completions"}


def route_urls(route, fill: str) -> str:
    return re.sub(r"\{\w+(?::\w+)?\}", fill, route.path)


def post_routes(one_per_handler: bool = False) -> list[str]:
    urls = {}
    for route in ROUTES:
        if "POST" in (route.methods or ()):
            urls.setdefault(route.endpoint if one_per_handler else route.path, route_urls(route, "x"))
    return sorted(urls.values())


def check(r: httpx.Response, what) -> object:
    """The reply is a 4xx or 2xx with a JSON body; JSON-RPC replies are JSON-RPC (a result or an error)."""
    assert r.status_code < 500, (what, r.status_code, r.text[:300])
    body = r.json()
    if r.request.url.path.startswith("/chain-rpc"):
        for one in body if isinstance(body, list) else [body]:
            assert one["jsonrpc"] == "2.0" and ("result" in one) != ("error" in one), (what, one)
            if "error" in one:
                assert one["error"]["code"] in RPC_ERROR_CODES and one["error"]["message"], (what, one)
    return body


def error_text(body) -> str:
    if isinstance(body, dict) and "error" in body:
        return body["error"]["data"]
    return body["message"]


# ----- the named cases -----

def test_deep_nesting_is_refused_on_every_post_route(http, unchanged):
    routes = post_routes()
    assert {"/chain-rpc", "/chain-api/cosmos/tx/v1beta1/txs", "/faucet", "/v1/participants"} <= set(routes)
    for path in routes:
        for body in (b"[" * 200_000, b'{"a":' * 200_000, b"[" * 65 + b"]" * 65, b'{"a":' * 65 + b"0" + b"}" * 65):
            r = http.post(path, content=body, headers={"content-type": "application/json"})
            data = check(r, path)
            if path.startswith("/chain-api/x"):  # the catch-all: not served, whatever the body
                assert r.status_code == 404
                continue
            if path in AUTHENTICATED:  # credentials first: a body from an unknown caller is never parsed
                assert r.status_code == 401 and data["error"]["message"], (path, data)
                continue
            assert r.status_code == 400 and "nests deeper than 64 levels" in error_text(data), (path, data)
            if path.startswith("/chain-rpc"):
                assert data["error"]["code"] == rpc.PARSE_ERROR
    # 64 levels is allowed (the request, its params and 62 arrays): tx_search refuses the value, not the body.
    for arrays, answer in ((62, "query must be a string"), (63, "the body nests deeper than 64 levels")):
        deep = json.loads("[" * arrays + "]" * arrays)
        r = http.post("/chain-rpc", json={"jsonrpc": "2.0", "id": 1, "method": "tx_search", "params": {"query": deep}})
        assert check(r, arrays)["error"]["data"] == answer


def test_block_heights_beyond_int64(http, devnet, unchanged):
    for height in (2**63, 10**30, "9223372036854775808", "-9223372036854775809"):
        post = http.post("/chain-rpc", json={"jsonrpc": "2.0", "id": 1, "method": "block",
                                             "params": {"height": height}})
        uri = http.get("/chain-rpc/block", params={"height": str(height)})
        assert uri.status_code == 400
        for r in (post, uri):
            err = check(r, height)["error"]
            assert err["code"] == rpc.INVALID_PARAMS and err["data"].startswith("height must be"), err
    # The largest int64 is a height the chain has not reached: CometBFT's message.
    top = http.get("/chain-rpc/block", params={"height": str(INT64_MAX)})
    assert top.status_code == 400 and "must be less than or equal to the current blockchain height" in \
        top.json()["error"]["data"]
    assert http.get("/chain-rpc/block", params={"height": "1"}).json()["result"]["block"]["header"]["height"] == "1"


def test_tx_search_pages_numbers_and_terms_are_bounded(http, unchanged):
    def search(**params):
        return http.post("/chain-rpc", json={"jsonrpc": "2.0", "id": 1, "method": "tx_search", "params": params})

    everything = "tx.height EXISTS"
    assert search(query=everything).json()["result"]["total_count"] == "1"
    page = check(search(query=everything, page=10**30), "page 10^30")["error"]
    assert page["code"] == rpc.INVALID_PARAMS and page["data"] == \
        "page must be a whole number from 0 to 9223372036854775807, not '1000000000000000000000000000000'"
    for big_page in ("9223372036854775807", 2**62):  # in range, but past the last page: CometBFT's error
        err = check(search(query=everything, page=big_page, per_page=100), big_page)["error"]
        assert err["data"] == f"page should be within [1, 1] range, given {int(big_page)}"
    for query in ("tx.height > 99999999999999999999999999999", "transfer.amount < -9223372036854775809",
                  "tx.height = '١٢'", "tx.height >= '1_000'", "transfer.amount > '99999999999999999999'",
                  "tx.height < 1" + "9" * 400 + ".5"):
        err = check(search(query=query), query)["error"]
        assert err["code"] == rpc.INTERNAL_ERROR and ("out of range" in err["data"] or "needs a number" in
                                                      err["data"]), (query, err)
    # 2,000 ANDs, in both forms: refused by the length or the number of conditions, with a message.
    for cond in ("tx.height>1", "a=1"):
        query = " AND ".join([cond] * 2000)
        for r in (search(query=query), http.get("/chain-rpc/tx_search", params={"query": query})):
            err = check(r, cond)["error"]
            assert "at most 16384" in err["data"] or f"more than {MAX_CONDITIONS} conditions" in err["data"], err
    at_limit = " AND ".join(["tx.height>0"] * MAX_CONDITIONS)
    assert search(query=at_limit).json()["result"]["total_count"] == "1"
    over = check(search(query=at_limit + " AND tx.height>0"), "65 conditions")["error"]
    assert over["data"] == f"failed to parse query: more than {MAX_CONDITIONS} conditions"
    # Numbers at the edge of int64 still work.
    assert search(query=f"tx.height < {INT64_MAX}").json()["result"]["total_count"] == "1"
    assert search(query="tx.height < 1.5 AND tx.height > 0.5").json()["result"]["total_count"] == "0"


def test_rest_tx_search_pages_and_numbers(http, unchanged):
    url = "/chain-api/cosmos/tx/v1beta1/txs"
    huge = http.get(url, params={"query": "tx.height EXISTS", "page": "999999999999999999"})
    assert huge.status_code == 400 and huge.json()["message"] == \
        "page should be within [1, 1] range, given 999999999999999999"
    for name in ("page", "limit", "pagination.limit", "pagination.offset"):
        for value in ("9223372036854775808", "-1", "١٢", "+1", "1_000", " 1", "1e3"):
            r = http.get(url, params={"query": "tx.height EXISTS", name: value})
            assert r.status_code == 400 and r.json()["message"].startswith(name), (name, value, r.text)
    events = http.get(url, params={"events": ["tx.height=1" + "0" * 30]})
    assert events.status_code == 400 and "out of range" in events.json()["message"]
    assert http.get(url, params={"query": "tx.height EXISTS", "page": "1", "limit": "10"}).json()["total"] == "1"
    bad_hash = http.get(f"{url}/{'AB' * 32}%0A")
    assert bad_hash.status_code == 400 and "expected 64 hex characters" in bad_hash.json()["message"]


@pytest.mark.parametrize("amount", ["²", "١٢", "+12", "1_000", " 12", "12 ", "1.5", "1gnk", "-5", "0x10", "9" * 5000,
                                    1.5, True, None, [12], {"n": 12}, 2**63])
def test_faucet_amount_is_ascii_digits_only(http, amount, unchanged):
    r = http.post("/faucet", json={"address": RECEIVER.address, "amount": amount})
    assert r.status_code == 400 and r.json()["message"].startswith("amount"), r.text


def test_rpc_ids_and_json_constants(http, unchanged):
    for body in (b'{"jsonrpc":"2.0","id":NaN,"method":"status"}', b'{"jsonrpc":"2.0","id":1e999,"method":"status"}',
                 b'{"jsonrpc":"2.0","id":1,"method":"block","params":{"height":Infinity}}'):
        r = http.post("/chain-rpc", content=body)
        assert r.status_code == 400 and check(r, body)["error"]["code"] == rpc.PARSE_ERROR
    for rid in ({"a": 1}, [1], True):
        r = http.post("/chain-rpc", json={"jsonrpc": "2.0", "id": rid, "method": "status"})
        assert check(r, rid) == {"jsonrpc": "2.0", "id": None, "error": {"code": rpc.INVALID_REQUEST,
                                 "message": "Invalid Request", "data": "the id must be a string, a number or null"}}
    for rid, echoed in (("abc", "abc"), (7, 7), (2.0, 2), (None, None)):
        r = http.post("/chain-rpc", json={"jsonrpc": "2.0", "id": rid, "method": "health"})
        assert r.json() == {"jsonrpc": "2.0", "id": echoed, "result": {}}
    # A lone surrogate cannot be written back as UTF-8: refused at the door, not when the reply is written.
    r = http.post("/chain-rpc", content=b'{"jsonrpc":"2.0","id":1,"method":"tx_search",'
                                       b'"params":{"query":"a.b=\'\\ud800\'"}}')
    assert r.status_code == 400 and "surrogate" in r.json()["error"]["data"]
    r = http.post("/faucet", content=b'{"address":"\\ud800","amount":"5"}')
    assert r.status_code == 400 and "surrogate" in r.json()["message"]


def test_read_body_ignores_a_content_length_that_is_not_ascii_digits():
    chunks = [{"type": "http.request", "body": b"{}", "more_body": False}]

    async def receive():
        return chunks.pop(0)

    # Headers are Latin-1: the byte B2 is "²", which str.isdigit() takes and int() does not.
    request = Request({"type": "http", "method": "POST", "headers": [(b"content-length", b"\xb2")]}, receive)
    assert asyncio.run(read_body(request)) == b"{}"


# ----- the class around them, at every route -----

def test_every_post_route_answers_malformed_bodies_with_4xx(http, unchanged):
    for path in post_routes():
        for body in MALFORMED_BODIES:
            r = http.post(path, content=body, headers={"content-type": "application/json"})
            data = check(r, (path, body[:20]))
            assert 400 <= r.status_code < 500, (path, body[:20], r.status_code)
            if path in ("/chain-rpc", "/chain-rpc/"):
                assert data["error"]["code"] == rpc.PARSE_ERROR, (body[:20], data)
        for body in WRONG_BODIES:
            r = http.post(path, content=body, headers={"content-type": "application/json"})
            check(r, (path, body))
            if not path.startswith("/chain-rpc"):  # JSON-RPC answers these with 200 and an error object
                assert 400 <= r.status_code < 500, (path, body, r.status_code)


def test_every_post_route_answers_bad_field_values(http, unchanged):
    fields = ["tx_bytes", "mode", "address", "amount", "pub_key", "jsonrpc", "id", "method", "params"]
    for path in post_routes(one_per_handler=True):
        for name in fields:
            for value in ONE_OF_EACH_KIND:
                body = {"tx_bytes": "", "mode": "BROADCAST_MODE_SYNC", "address": RECEIVER.address, "amount": "x",
                        "pub_key": "", "jsonrpc": "2.0", "id": 1, "method": "tx", "params": {}, name: value}
                check(http.post(path, json=body), (path, name, value))  # a garbage tx may be a 200 with a code


@pytest.fixture
def query_names_read(monkeypatch):
    """The names a handler asks Starlette's QueryParams for (the server runs in this process), so that the
    GET fuzz sends each route the parameters it reads, including ones added later."""
    asked: set[str] = set()
    for attr in ("__getitem__", "getlist", "__contains__"):
        original = getattr(QueryParams, attr)

        def spy(self, name, *args, _original=original):
            asked.add(name)
            return _original(self, name, *args)
        monkeypatch.setattr(QueryParams, attr, spy)
    return asked


def test_every_get_route_answers_bad_path_and_query_values(http, unchanged, query_names_read):
    candidates = {"query", "events", "page", "limit", "per_page", "pagination.limit", "pagination.offset",
                  "pagination.reverse", "pagination.key", "order_by", "denom", "height", "hash", "tx", "path", "data"}
    fills = ["x", "%00", "%C2%B2", "%D9%A1%D9%A2", "9" * 400, "%FF%FE", "..%2F..", RECEIVER.address, "AB" * 32]
    values = [str(v) for v in BAD_NUMBERS if len(str(v)) < 100] + ["x" * 4000, "\x00", "'", '"', "0x", "%"]
    fuzzed = set()
    for route in ROUTES:
        if "GET" not in (route.methods or ()):
            continue
        for fill in fills if "{" in route.path else []:
            check(http.get(route_urls(route, fill)), (route.path, fill))
        # The URI form of each RPC method has its own test; here the method that reads the most parameters.
        url = route_urls(route, "tx_search" if "{method}" in route.path else RECEIVER.address)
        query_names_read.clear()
        http.get(url)
        http.get(url, params={name: "1" for name in candidates})
        for name in sorted(query_names_read):
            fuzzed.add(name)
            for value in values:
                check(http.get(url, params={name: value}), (url, name, value))
    assert {"query", "events", "page", "pagination.offset", "denom", "per_page"} <= fuzzed


def test_other_http_methods_are_405_as_json(http, unchanged):
    for route in ROUTES:
        for method in ("PUT", "DELETE", "PATCH"):
            r = http.request(method, route_urls(route, "x"))
            check(r, (route.path, method))  # on /chain-rpc a JSON-RPC error object
            assert r.status_code in (404, 405), (route.path, method)


def test_every_rpc_param_of_every_method_with_wrong_values(http, unchanged):
    for method, (_func, names) in sorted(rpc.METHODS.items()):
        for params in ("x", 5, True, [None] * (len(names) + 1), [[]] * len(names)):
            check(http.post("/chain-rpc", json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}),
                  (method, params))
        for name in names:
            for value in BAD_VALUES:
                check(http.post("/chain-rpc/", json={"jsonrpc": "2.0", "id": 1, "method": method,
                                                     "params": {name: value}}), (method, name, value))
                if not isinstance(value, str) or len(value) < 5000:
                    check(http.get(f"/chain-rpc/{method}", params={name: str(value)}), (method, name, value))
        for value in ONE_OF_EACH_KIND:  # params by position
            check(http.post("/chain-rpc", json={"jsonrpc": "2.0", "id": 1, "method": method,
                                                "params": [value] * len(names)}), (method, value))
        # A batch of them in one body.
        batch = [{"jsonrpc": "2.0", "id": i, "method": method, "params": {n: v for n in names}}
                 for i, v in enumerate(BAD_VALUES)]
        body = check(http.post("/chain-rpc", json=batch), (method, "batch"))
        assert [one["id"] for one in body] == list(range(len(BAD_VALUES)))


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-2**80, max_value=2**80)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_json_rpc_params_never_5xx(http, unchanged, data):
    method = data.draw(st.sampled_from(sorted(rpc.METHODS)))
    names = rpc.METHODS[method][1]
    value = JSON | st.sampled_from(BAD_VALUES)
    params = data.draw(value | st.dictionaries(st.sampled_from(names or ("x",)), value, max_size=len(names) + 1)
                       | st.lists(value, max_size=len(names) + 1))
    rid = data.draw(st.none() | st.integers(-2**70, 2**70) | st.text(max_size=10) | JSON)
    check(http.post("/chain-rpc", json={"jsonrpc": "2.0", "id": rid, "method": method, "params": params}),
          (method, params))
    uri = data.draw(st.dictionaries(st.sampled_from(names or ("x",)), st.text(max_size=40), max_size=len(names)))
    check(http.get(f"/chain-rpc/{method}", params=uri), (method, uri))


def valid_faucet_amount(amount) -> bool:
    if isinstance(amount, str) and re.fullmatch(r"[0-9]+", amount):
        # A string longer than the cap's digits (leading zeros aside) is over the cap: never int() it.
        digits = amount.lstrip("0") or "0"
        amount = int(digits) if len(digits) <= len(str(FAUCET_CAP)) else FAUCET_CAP + 1
    return type(amount) is int and 0 < amount <= FAUCET_CAP


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(amount=JSON | st.sampled_from(BAD_VALUES),
       address=st.sampled_from([RECEIVER.address, "gonka1xyz", ""]) | st.text(max_size=50))
def test_random_faucet_bodies_are_400_unless_valid(http, unchanged, amount, address):
    assume(not valid_faucet_amount(amount))  # a valid one would be paid (and change the state)
    r = http.post("/faucet", json={"address": address, "amount": amount})
    assert r.status_code == 400 and r.json()["message"], (amount, address, r.text)


# ----- the validators themselves -----

@given(st.text(max_size=25) | st.integers(min_value=-2**70, max_value=2**70).map(str)
       | st.integers(min_value=-2**70, max_value=2**70) | st.booleans() | st.floats() | st.none())
def test_parse_int_takes_json_integers_and_ascii_digits_in_range_only(value):
    if isinstance(value, str):
        expected = int(value) if re.fullmatch(r"[0-9]+", value) and int(value) <= INT64_MAX else None
    else:
        expected = value if type(value) is int and 0 <= value <= INT64_MAX else None
    try:
        got = parse_int(value, "n")
    except InputError as exc:
        assert expected is None and str(exc).startswith("n must be a whole number from 0 to 9223372036854775807")
    else:
        assert got == expected


@given(st.integers(min_value=-2**70, max_value=2**70))
def test_query_numbers_are_int64(n):
    try:
        conditions = parse_query(f"tx.height > {n} AND transfer.amount <= {n}")
    except QuerySyntaxError as exc:
        assert not -2**63 <= n <= INT64_MAX and "out of range" in str(exc)
    else:
        assert -2**63 <= n <= INT64_MAX and [c.value for c in conditions] == [n, n]


def test_parse_json_bounds():
    assert limits.parse_json(b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH) is not None
    for body in (b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1), b"[" * 300_000):
        with pytest.raises(RequestError, match="nests deeper than 64"):
            limits.parse_json(body)
    with pytest.raises(RequestError, match="not UTF-8"):
        limits.parse_json("[\"é\"]".encode("latin-1"))
    assert limits.parse_json(b'{"a": [1, 2.5, "x"]}') == {"a": [1, 2.5, "x"]}

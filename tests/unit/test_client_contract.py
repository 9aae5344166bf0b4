"""The shared contract cases, replayed through `responses` with the seed's documented answers."""

from __future__ import annotations

import json
import pathlib
import sys
from urllib.parse import parse_qsl, urlsplit

import pytest
import responses

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from helpers.nexudus_contract import CASES, UNIT_TARGET, ContractCase, format_json, run

from bot.nexudus import Credentials, NexudusClient

BASE = "https://nexudus.test/api"
ROOT = BASE + "/support/chatrooms"
ACCOUNTS = {
    "admin": Credentials("ops@example.com", "s3cret-pass"),
    "reader": Credentials("reader@example.com", "reader-pass"),
    "wrong": Credentials("ops@example.com", "not-the-password"),
}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_contract_case_through_responses(case: ContractCase) -> None:
    target = UNIT_TARGET
    client = NexudusClient(BASE, ACCOUNTS[case.account], retries=2, backoff=0, pacer=None)
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        for exchange in case.exchanges:
            kwargs: dict[str, object] = {"status": exchange.status}
            if isinstance(exchange.body, str):
                kwargs.update(body=exchange.body, content_type="text/plain")
            else:
                kwargs.update(json=exchange.body)
            mock.add(exchange.method, ROOT + exchange.url_path(target), **kwargs)  # type: ignore[arg-type]
        run(case, client, target)
        assert len(mock.calls) == len(case.exchanges), "each documented request is made exactly once"
        for exchange, call in zip(case.exchanges, mock.calls, strict=True):
            request = call.request
            assert request.method == exchange.method
            parts = urlsplit(request.url)
            assert parts.path == "/api/support/chatrooms" + exchange.url_path(target)
            expected = exchange.expected_query(target)
            if expected is not None:
                assert dict(parse_qsl(parts.query)) == expected
            assert request.headers["Authorization"].startswith("Basic ")
            if exchange.json_subset is not None:
                sent = json.loads(request.body or b"{}")
                wanted = format_json(exchange.json_subset, target)
                assert {k: sent.get(k) for k in wanted} == wanted

"""bot/slack/request.py: Slack's form-encoded payloads decoded in C read exactly as Bolt reads them."""

from __future__ import annotations

import json
import string
from urllib.parse import quote, quote_plus, unquote_plus, urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from slack_bolt import BoltRequest

from bot.slack.request import SlackRequest, form_of, payload_of
from bot.slack.request import unquote_plus as fast_unquote_plus

FORM = {"content-type": "application/x-www-form-urlencoded"}
HEADERS = FORM | {"x-slack-request-timestamp": "1700000000", "x-slack-signature": "v0=abc"}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
payloads = st.dictionaries(st.text(max_size=10), json_values, max_size=6)
escapes = st.sampled_from(["quote", "quote_plus", "lower", "urlencode"])


def _encode(text: str, how: str) -> str:
    if how == "quote":
        return quote(text, safe="")
    if how == "quote_plus":
        return quote_plus(text, safe="")
    if how == "lower":  # hex digits in lower case, which Slack may send
        encoded = quote(text, safe="")
        return "%".join(part if i == 0 else part[:2].lower() + part[2:] for i, part in enumerate(encoded.split("%")))
    return urlencode({"payload": text})[len("payload=") :]


def _same(body: str, headers: dict[str, str] = HEADERS) -> SlackRequest | None:
    """Both requests alike, or both refused alike (None): Bolt cannot read some payloads (`{"user": false}`)."""
    try:
        bolts = BoltRequest(body=body, query="a=1", headers=headers)
    except Exception as refused:
        with pytest.raises(type(refused)):
            SlackRequest(body=body, query="a=1", headers=headers)
        return None
    ours = SlackRequest(body=body, query="a=1", headers=headers)
    assert ours.raw_body == bolts.raw_body == body  # the signature is checked over what was received
    assert ours.body == bolts.body
    assert dict(ours.context) == dict(bolts.context)
    assert ours.headers == bolts.headers and ours.query == bolts.query and ours.content_type == bolts.content_type
    assert ours.mode == bolts.mode == "http"
    return ours


@settings(max_examples=400, deadline=None)
@given(payloads, escapes)
def test_a_payload_reads_as_bolt_reads_it(payload: dict, how: str) -> None:  # type: ignore[type-arg]
    body = "payload=" + _encode(json.dumps(payload, ensure_ascii=False), how)
    read = _same(body)
    assert read is None or read.body == payload


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=string.printable + "%é€\u2028", max_size=40))
def test_any_text_decodes_as_urllib_decodes_it_or_is_left_to_urllib(text: str) -> None:
    fast = fast_unquote_plus(text)
    assert fast is None or fast == unquote_plus(text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=string.printable + "%é", max_size=60))
def test_any_body_reads_as_bolt_reads_it(junk: str) -> None:
    for body in (junk, "payload=" + junk, "payload=" + junk + "&x=1", "command=%2Fchatrooms&text=" + junk):
        try:
            expected = BoltRequest(body=body, headers=HEADERS).body
        except Exception as refused:  # Bolt cannot read it (not JSON, or JSON but no object): neither can we
            with pytest.raises(type(refused)):
                SlackRequest(body=body, headers=HEADERS)
            continue
        assert SlackRequest(body=body, headers=HEADERS).body == expected


form_text = st.text(alphabet=string.printable + "%é€", max_size=20)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(form_text, form_text, escapes | st.just("raw")), max_size=8))
def test_a_slash_command_s_form_reads_as_bolt_reads_it(fields: list[tuple[str, str, str]]) -> None:
    """Fields encoded every way Slack or a client might (and some not encoded at all), repeated names included."""
    body = "&".join(
        f"{name if how == 'raw' else _encode(name, how)}={value if how == 'raw' else _encode(value, how)}"
        for name, value, how in fields
    )
    _same(body)


def test_the_fast_path_is_taken_for_a_slash_command_and_not_for_what_it_cannot_decode() -> None:
    body = "token=x&command=%2Fchatrooms&text=list+name%3A%2250%25+off%22+%C3%A9&user_id=U1&blank=&bare"
    fields = form_of(body, FORM["content-type"])
    assert fields == {"token": "x", "command": "/chatrooms", "text": 'list name:"50% off" é', "user_id": "U1"} | {
        "blank": "",
        "bare": "",
    }
    assert _same(body) is not None
    assert form_of("text=a=b", None) == {"text": "a=b"}  # a second = : kept in the value, as urllib keeps it
    assert form_of("text=a=b%41", None) is None  # ... which a2b_qp would read as an escape there
    assert _same("command=%2Fchatrooms&text=a=b%41") is not None
    assert form_of("text=5%zz", None) is None and _same("text=5%zz") is not None  # a % that is no escape
    assert form_of("text=5%", None) is None and _same("text=5%") is not None
    assert form_of("text=%%41", None) is None and _same("text=%%41") is not None
    assert form_of("text=a%0Ab", None) == {"text": "a\nb"}  # an escaped line end decodes as urllib decodes it
    assert form_of("text=a\nb%20", None) is None  # a raw one: left to urllib
    assert form_of("text=a%\nb", None) is None  # "=\n" would be a soft line break to a2b_qp: left to urllib
    assert form_of("a+b=c+d", None) == {"a b": "c d"}  # a + without any % is a space too
    assert form_of("text=é%41", None) is None  # not ASCII, with an escape: left to urllib
    assert fast_unquote_plus("%zz%\rab") is None and form_of("text=%zz%\rab", None) is None  # "=\r" too
    assert form_of("a=1&&a=2&", None) == {"a": "2"}  # empty fields skipped, the last of a repeated name kept
    assert form_of("a=1", "application/json") is None  # JSON by its content type: Bolt's reading (and refusal)
    assert _same("a=1", {"content-type": "application/json"}) is None
    assert form_of("text=payload", None) is None  # Bolt reads a body holding "payload" its own way
    assert form_of('{"type": "event_callback"}', None) is None  # JSON
    assert form_of("", None) is None


def test_the_fast_path_is_taken_for_a_modal_submission_and_not_for_what_it_cannot_decode() -> None:
    view = {"type": "view_submission", "view": {"state": {"values": {"b": {"a": {"value": '5 % off, "quoted" é'}}}}}}
    body = "payload=" + quote(json.dumps(view), safe="")
    assert payload_of(body, FORM["content-type"]) == view
    assert _same(body) is not None
    odd = "payload=%7B%22a%22%3A%225%zz%22%7D"  # {"a":"5%zz"}, its % no escape
    read = _same(odd)
    assert payload_of(odd, None) is None and read is not None and read.body == {"a": "5%zz"}  # urllib's reading
    assert payload_of("payload=%7B%7D=", None) is None  # an = a2b_qp would read as an escape
    assert payload_of("payload=%7B%7D&x=1", None) is None  # another field
    assert payload_of("payload=%5B1%5D", None) is None  # not an object: Bolt's reading
    assert payload_of("token=x&command=%2Fchatrooms", None) is None  # a slash command: Bolt parses it
    assert payload_of(body, "application/json") is None
    assert _same("token=x&command=%2Fchatrooms&text=list+name%3Aa%2Bb") is not None
    assert _same('{"type": "event_callback"}', {"content-type": "application/json"}) is not None
    assert _same("payload=" + quote('{"user": false}')) is None  # Bolt cannot read it: neither do we

"""Properties of generated forms: any `RequiresParameters` and any submitted state give either typed
values (one per parameter, in order, parseable back to their type) or errors under the form's own
blocks — never an exception."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, tzinfo
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.console.render import initial_state, render_modal
from bot.nexudus.models import CommandParameter
from bot.nexudus.timecodec import TimeCodec
from bot.slack import forms
from bot.slack.forms import Kind
from bot.slack.limits import MAX_MODAL_BLOCKS

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
KNOWN_TYPES = [
    "string",
    "String",
    "Text",
    "Boolean",
    "bool",
    "Int32",
    "int",
    "Int64",
    "Decimal",
    "Double",
    "Money",
    "DateTime",
    "date",
    "EmailAddress",
    "Url",
    "Guid",
]
ZONES: list[tzinfo] = [ZoneInfo("UTC"), ZoneInfo("Europe/London"), ZoneInfo("Pacific/Kiritimati")]
WIRE_DATE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")

types = st.one_of(st.sampled_from(KNOWN_TYPES), st.text(max_size=20))
parameters = st.lists(
    st.builds(
        CommandParameter, name=st.one_of(st.just(""), st.text(max_size=40), st.sampled_from(["A", "A"])), type=types
    ),
    max_size=30,
)
junk = st.one_of(
    st.none(),
    st.integers(),
    st.booleans(),
    st.text(max_size=30),
    st.lists(st.integers(), max_size=2),
    st.floats(allow_nan=True),
)
element_state = st.one_of(
    st.fixed_dictionaries({"value": st.one_of(st.none(), st.text(max_size=40), junk)}),
    st.fixed_dictionaries(
        {"selected_option": st.one_of(junk, st.fixed_dictionaries({"value": st.sampled_from(["true", "false", "x"])}))}
    ),
    st.fixed_dictionaries(
        {"selected_date_time": st.one_of(junk, st.integers(-(10**12), 10**12), st.sampled_from(["2026-13-45", "1"]))}
    ),
    st.fixed_dictionaries(
        {"value": st.from_regex(r"[+-]?[0-9]{1,30}(\.[0-9]{0,40})?([eE][+-]?[0-9]{1,4})?", fullmatch=True)}
    ),
    junk,
)


def parses_back(kind: Kind, value: str) -> bool:
    """The promise on a converted value: a string Nexudus can read as its type."""
    if kind is Kind.BOOLEAN:
        return value in ("true", "false")
    if kind is Kind.INTEGER:
        return -(2**31) <= int(value) < 2**31
    if kind is Kind.LONG:
        return -(2**63) <= int(value) < 2**63
    if kind is Kind.DECIMAL:
        return Decimal(value).is_finite() and "e" not in value.lower()
    if kind is Kind.DATETIME:
        return WIRE_DATE.fullmatch(value) is not None and datetime.fromisoformat(value[:-1]) is not None
    if kind is Kind.EMAIL:
        return "@" in value
    if kind is Kind.GUID:
        return str(uuid.UUID(value)) == value
    if kind is Kind.URL:
        return value.lower().startswith(("http://", "https://"))
    return isinstance(value, str)


@FUZZ
@given(params=parameters, data=st.data(), zone=st.sampled_from(ZONES), scope=st.text(max_size=12))
def test_any_parameters_and_any_input_give_values_or_field_errors(
    params: list[CommandParameter], data: st.DataObject, zone: tzinfo, scope: str
) -> None:
    blocks = forms.parameter_blocks(params, scope=scope, zone=zone)
    assert len(blocks) == len(params) <= MAX_MODAL_BLOCKS
    block_ids = [b["block_id"] for b in blocks]
    assert len(set(block_ids)) == len(block_ids)
    state: dict[str, Any] = {}
    for block_id in block_ids:
        shape = data.draw(st.sampled_from(["missing", "entry", "wrong"]))
        if shape == "entry":
            state[block_id] = {block_id: data.draw(element_state)}
        elif shape == "wrong":
            state[block_id] = data.draw(junk)
    state.update(data.draw(st.dictionaries(st.text(max_size=8), junk, max_size=3)))

    pairs, errors = forms.parse_parameters(params, state, scope=scope, zone=zone)

    if errors:
        assert pairs == []
        assert set(errors) <= set(block_ids)
        assert all(isinstance(m, str) and m for m in errors.values())
    else:
        assert [p for p, _ in pairs] == params
        for parameter, value in pairs:
            assert isinstance(value, str)
            assert parses_back(forms.kind_of(parameter.type), value), (parameter.type, value)


def valid_value(kind: Kind) -> st.SearchStrategy[str]:
    """Values as the app sends them (what a refused run puts back in the form)."""
    if kind is Kind.BOOLEAN:
        return st.sampled_from(["true", "false"])
    if kind is Kind.INTEGER:
        return st.integers(-(2**31), 2**31 - 1).map(str)
    if kind is Kind.LONG:
        return st.integers(-(2**63), 2**63 - 1).map(str)
    if kind is Kind.DECIMAL:
        return st.decimals(allow_nan=False, allow_infinity=False, places=4, min_value=-(10**20), max_value=10**20).map(
            lambda d: format(d, "f")
        )
    if kind is Kind.DATETIME:
        # What Slack's datetimepicker can hold (UNIX time 0..9999999999); others are left empty, with a hint.
        return st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2286, 11, 1)).map(
            lambda d: d.replace(second=0, microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
        )
    if kind is Kind.EMAIL:
        return st.from_regex(r"[a-z]{1,8}@[a-z]{1,8}\.[a-z]{2,4}", fullmatch=True)
    if kind is Kind.GUID:
        return st.uuids().map(str)
    if kind is Kind.URL:
        return st.from_regex(r"https://[a-z]{1,10}\.[a-z]{2,3}/[a-z0-9]{0,10}", fullmatch=True)
    return st.text(min_size=1, max_size=60).filter(lambda t: t.strip() == t and t != "")


@FUZZ
@given(params=parameters, data=st.data(), zone=st.sampled_from(ZONES))
def test_values_put_back_in_the_form_come_back_unchanged(
    params: list[CommandParameter], data: st.DataObject, zone: tzinfo
) -> None:
    kinds = [forms.kind_of(p.type) for p in params]
    values = [data.draw(valid_value(k)) for k in kinds]
    blocks = forms.parameter_blocks(params, scope="s", values=values, zone=zone)
    modal = render_modal({"type": "modal", "blocks": blocks})
    state = {f.block_id: {f.action_id: initial_state(f)} for f in modal.fields}
    pairs, errors = forms.parse_parameters(params, state, scope="s", zone=zone)
    assert errors == {}
    for (_, got), sent, kind in zip(pairs, values, kinds, strict=True):
        if kind is Kind.DATETIME:
            codec = TimeCodec(zone)
            # A wall-clock time that does not exist or repeats in the zone (DST) moves by the gap.
            assert abs((codec.parse(got) - codec.parse(sent)).total_seconds()) <= 3600  # type: ignore[operator]
        elif kind in forms.TEXT_KINDS:
            assert got == sent
        elif kind is Kind.DECIMAL:
            assert Decimal(got) == Decimal(sent)
        else:
            assert got == sent

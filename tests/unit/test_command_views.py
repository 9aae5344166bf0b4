"""The commands list, the run modal and the result are pure views within Slack's limits."""

from __future__ import annotations

import json
from typing import Any

from bot.nexudus.models import ActionResult, Command, CommandParameter
from bot.slack import forms, ids
from bot.slack.limits import MAX_MESSAGE_BLOCKS, MAX_MODAL_BLOCKS, MAX_MODAL_TITLE
from bot.slack.views.commands import (
    MAX_LISTED_COMMANDS,
    render_commands,
    render_run_result,
    run_modal,
    running_modal,
    visible_commands,
)


def command(key: str, order: int = 0, **extra: Any) -> Command:
    data: dict[str, Any] = {
        "Key": key,
        "Name": key.title(),
        "Order": order,
        "DisplayInDropdown": True,
        "RequiresParameters": [],
    }
    data.update(extra)
    return Command.model_validate(data)


def text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def check_modal(view: dict[str, Any]) -> None:
    assert len(view["blocks"]) <= MAX_MODAL_BLOCKS
    assert len(view["title"]["text"]) <= MAX_MODAL_TITLE
    block_ids = [b["block_id"] for b in view["blocks"] if "block_id" in b]
    assert len(block_ids) == len(set(block_ids))
    if any(b["type"] == "input" for b in view["blocks"]):
        assert view.get("submit")


def test_visible_commands_in_order() -> None:
    commands = [
        command("C", 3),
        command("A", 1, DisplayInDropdown=False, DisplayInGrid=True),
        command("HIDDEN", 0, DisplayInDropdown=False),
        command("B", 1, DisplayInDropdown=False, DisplayInDropdownV2=True),
    ]
    assert [c.key for c in visible_commands(commands)] == ["A", "B", "C"]


def test_commands_list_has_a_run_button_per_command_and_says_what_they_need() -> None:
    rename = command(
        "RENAME",
        1,
        AppliesOnlyToOneEntity=True,
        RequiresParameters=[{"Name": "New <name>", "Type": "string"}, {"Name": "", "Type": "Colour"}],
    )
    msg = render_commands([rename, command("CLOSE", 2, NeedsEntitiesToRun=False)], hidden=1)
    buttons = [b["accessory"] for b in msg["blocks"] if "accessory" in b]
    assert [(b["action_id"], b["value"]) for b in buttons] == [(ids.RUN_COMMAND, "RENAME"), (ids.RUN_COMMAND, "CLOSE")]
    shown = text(msg)
    assert "exactly 1 chatroom" in shown and "any number of chatrooms (none needed)" in shown
    assert "*New &lt;name&gt;* (text)" in shown
    assert "*Parameter 2* (sent as typed (colour))" in shown
    assert "1 command that Nexudus hides" in shown


def test_a_long_commands_list_stays_within_the_block_limit() -> None:
    msg = render_commands([command(f"K{i}", i) for i in range(200)])
    assert len(msg["blocks"]) <= MAX_MESSAGE_BLOCKS
    assert f"{200 - MAX_LISTED_COMMANDS} more" in text(msg)
    assert "no commands" in text(render_commands([]))


def test_run_modal_with_a_select_and_no_command_yet() -> None:
    view = run_modal(
        choices=[command("A"), command("B")], command=None, pick=True, rooms=[(7, "Desk")], private_metadata="{}"
    )
    check_modal(view)
    pick = next(b for b in view["blocks"] if b.get("block_id") == ids.RUN_PICK)
    assert pick["dispatch_action"] is True
    assert [o["value"] for o in pick["element"]["options"]] == ["A", "B"]
    assert "initial_option" not in pick["element"]
    rooms = next(b for b in view["blocks"] if b.get("block_id") == ids.RUN_ROOMS)
    assert rooms["element"]["initial_options"][0]["value"] == "7"
    assert view["callback_id"] == ids.RUN_MODAL


def test_run_modal_for_a_command_has_one_input_per_parameter() -> None:
    chosen = command(
        "SCHEDULE",
        RequiresParameters=[{"Name": "At", "Type": "DateTime"}, {"Name": "Priority", "Type": "Int32"}],
        AppliesOnlyToMultipleEntities=True,
    )
    view = run_modal(
        choices=[chosen], command=chosen, pick=False, rooms=[], private_metadata="{}", note=":warning: careful"
    )
    check_modal(view)
    assert view["blocks"][0]["text"]["text"] == ":warning: careful"
    assert not any(b.get("block_id") == ids.RUN_PICK for b in view["blocks"])
    digest = forms.form_digest(chosen)
    inputs = [b["block_id"] for b in view["blocks"] if b["type"] == "input"]
    assert inputs == [ids.RUN_ROOMS, forms.block_id_for(0, digest), forms.block_id_for(1, digest)]
    assert "2 or more chatrooms" in text(view)


def test_a_command_with_150_parameters_is_sent_to_nexudus() -> None:
    big = command("BIG", RequiresParameters=[{"Name": f"P{i}", "Type": "string"} for i in range(150)])
    view = run_modal(choices=[big], command=big, pick=True, rooms=[], private_metadata="{}")
    check_modal(view)
    assert "150 parameters" in text(view) and "Run it in Nexudus" in text(view)
    assert not any(b.get("block_id", "").startswith("p.") for b in view["blocks"])


def test_the_biggest_form_that_fits_fits() -> None:
    params = [{"Name": "x" * 3000, "Type": "Decimal"}] * forms.MAX_FORM_PARAMETERS
    big = command("FULL", RequiresParameters=params)
    view = run_modal(
        choices=[big] * 300, command=big, pick=True, rooms=[(1, "a")] * 150, private_metadata="{}", note="n"
    )
    check_modal(view)
    pick = next(b for b in view["blocks"] if b.get("block_id") == ids.RUN_PICK)
    assert len(pick["element"]["options"]) == 100


def test_running_view_cannot_be_submitted() -> None:
    view = running_modal("Open or close")
    check_modal(view)
    assert "submit" not in view


def test_result_message() -> None:
    done = ActionResult(was_successful=True, message="Closed 2 chatrooms.")
    msg = render_run_result(command("SET_ACTIVE"), done, [1000001, 1000002])
    assert "✅" in text(msg) and "Closed 2 chatrooms." in text(msg) and "#1000002" in text(msg)
    none = render_run_result(command("CLOSE_IDLE"), ActionResult(was_successful=True, message=None), [])
    assert "Done." in text(none) and len(none["blocks"]) == 1


def test_parameter_objects_are_reused_as_given() -> None:
    parameters = [CommandParameter(name="n", type="string")]
    chosen = Command(key="K", requires_parameters=parameters)
    view = run_modal(choices=[chosen], command=chosen, pick=False, rooms=[], private_metadata="{}", values=["hi"])
    param = next(b for b in view["blocks"] if b.get("block_id", "").startswith("p."))
    assert param["element"]["initial_value"] == "hi"

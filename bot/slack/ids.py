"""Action ids, callback ids and block ids shared by views and listeners, so the two never drift."""

# Buttons and menus in messages
# Previous and Next: value = command text of the page to show. Two ids, since Slack wants action ids unique
# in a block; LIST_PAGE is still answered for messages posted before they were split.
LIST_PREVIOUS = "chatrooms.list.previous"
LIST_NEXT = "chatrooms.list.next"
LIST_PAGE = "chatrooms.list.page"
ROW_MENU = "chatrooms.row.menu"  # overflow on a list row: value "show:ID" / "edit:ID" / "delete:ID" / "run:ID"
SHOW = "chatrooms.show"  # value: chatroom id
EDIT = "chatrooms.edit"  # value: chatroom id
DELETE = "chatrooms.delete"  # value: chatroom id
RUN = "chatrooms.run"  # value: chatroom id (or empty)
LOGIN = "chatrooms.login"
HELP = "chatrooms.help"
AGAIN = "chatrooms.again"  # "Run it again" on a slash command that never started: value = its /chatrooms text

# Modals (callback ids)
LOGIN_MODAL = "chatrooms.login.modal"
CREATE_MODAL = "chatrooms.create.modal"
EDIT_MODAL = "chatrooms.edit.modal"
DELETE_MODAL = "chatrooms.delete.modal"
INFO_MODAL = "chatrooms.info.modal"  # loading / result views: nothing to submit

# Input blocks of the chatroom form: block id == action id == the ChatRoomChanges field name
F_BUSINESS = "business_id"
F_NAME = "name"
F_ACTIVE = "active"
F_VISIT = "last_agent_visit"
F_USERS = "users"
F_SYSTEM_ID = "system_id"
F_EMAIL = "email"
F_PASSWORD = "password"
F_CODE = "totp"

# Nexudus' Errors[].PropertyName → the form block that shows it
PROPERTY_TO_BLOCK = {
    "BusinessId": F_BUSINESS,
    "Business": F_BUSINESS,
    "Name": F_NAME,
    "Active": F_ACTIVE,
    "LastAgentVisit": F_VISIT,
    "Users": F_USERS,
    "SystemId": F_SYSTEM_ID,
}

# Nexudus' Errors[].PropertyName → the words the form and the slash command use for it
PROPERTY_LABELS = {
    "BusinessId": "Business ID",
    "Business": "Business ID",
    "Name": "Name",
    "Active": "Active",
    "LastAgentVisit": "Last agent visit",
    "Users": "Member user IDs",
    "SystemId": "System ID",
}

# Running Nexudus commands (issue 4)
RUN_COMMAND = "chatrooms.run.command"  # "Run…" in the commands list: value = command key
RUN_MODAL = "chatrooms.run.modal"
RUN_PICK = "run.pick"  # the run modal's command select (block id == action id)
RUN_ROOMS = "run.rooms"  # the run modal's chatroom picker (block id == action id)
RUN_CONFIRM = "run.confirm"  # "run it with no chatroom chosen" checkbox of commands that need none

# Stale-visit alerts and the Home tab (digest and Home rows: value "SUB:ID", or "-:ID" without a subscription)
ALERT_VISITED = "alerts.visited"
ALERT_SNOOZE = "alerts.snooze"
ALERT_SHOW = "alerts.show"
ALERT_RUN = "alerts.run"
ALERT_UNSUBSCRIBE = "alerts.unsubscribe"  # value: subscription id
ALERT_MORE = "alerts.more"  # "Show the other N" of a digest: value "SUB:TS:OFFSET" (TS empty: this message)
HOME_LOGOUT = "home.logout"

# The audit trail (`/chatrooms audit`): Previous / Next, value = the command text of that page
AUDIT_PREVIOUS = "audit.previous"
AUDIT_NEXT = "audit.next"

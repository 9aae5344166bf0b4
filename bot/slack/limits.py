"""Slack's documented limits, named once: the views cut to them, the fake Slack refuses past them, tests
assert them. Source: api.slack.com Block Kit reference (blocks, elements, composition objects), the
`views.*` and `chat.*` method pages, and "Handling user interaction" for response_url.
"""

from __future__ import annotations

# Surfaces
MAX_MESSAGE_BLOCKS = 50
MAX_MODAL_BLOCKS = 100
MAX_HOME_BLOCKS = 100  # a Home tab, like a modal, holds at most 100 blocks
MAX_MODAL_TITLE = 24  # title, submit and close texts of a modal
MAX_PRIVATE_METADATA = 3000
MAX_CALLBACK_ID = 255
MAX_MESSAGE_TEXT = 40_000  # the top-level `text` (the notification fallback); views keep it far shorter

# Blocks
MAX_BLOCK_ID = 255
MAX_SECTION_TEXT = 3000
MAX_SECTION_FIELDS = 10
MAX_FIELD_TEXT = 2000
MAX_CONTEXT_ELEMENTS = 10
MAX_CONTEXT_TEXT = 2000  # not documented per element; kept under the field limit
MAX_ACTIONS_ELEMENTS = 25
MAX_HEADER_TEXT = 150
MAX_LABEL = 2000
MAX_HINT = 2000

# Elements and composition objects
MAX_ACTION_ID = 255
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_OPTION_TEXT = 75
MAX_OPTION_VALUE = 150
MAX_SELECT_OPTIONS = 100  # options in a static select, and in an options (external select) response
MAX_OVERFLOW_OPTIONS = 5
MAX_INPUT_LENGTH = 3000  # plain_text_input max_length
MAX_PLACEHOLDER = 150
MAX_CONFIRM_TITLE = 100
MAX_CONFIRM_TEXT = 300
MAX_CONFIRM_BUTTON = 30
MAX_DATE_TIME = 9_999_999_999  # datetimepicker.initial_date_time: a UNIX time in 0..9999999999 (year 2286)

# response_url
MAX_RESPONSE_URL_USES = 5
RESPONSE_URL_LIFETIME_SECONDS = 30 * 60

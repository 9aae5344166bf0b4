"""A local stand-in for Nexudus' chatroom API, so the app and its tests run without a Nexudus account.

Start it with `python -m bot sandbox` (see `bot.sandbox.server.main`), or in tests with
`SandboxServer().start()`. Demo accounts are in `bot.sandbox.seed.DEMO_USERS`.
"""

from bot.sandbox.seed import DEMO_USERS, DemoUser
from bot.sandbox.server import SandboxConfig, SandboxServer, main

__all__ = ["DEMO_USERS", "DemoUser", "SandboxConfig", "SandboxServer", "main"]

"""Which event loop ``voiceguard serve`` runs on (``server.event_loop``).

uvloop runs the same asyncio code on libuv: socket reads, writes and callbacks take fewer CPU cycles, which
is most of what a pass-through proxy does per request and per WebSocket frame. It has no Windows build, so
``auto`` falls back to the standard loop where it is not installed; asking for ``uvloop`` explicitly where it
is missing is refused when the configuration is validated.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from voiceguard.config import EventLoop, uvloop_available

T = TypeVar("T")


def loop_factory(choice: EventLoop) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The factory of the loop to run on; ``None`` means asyncio's default."""
    if choice == "asyncio" or (choice == "auto" and not uvloop_available()):
        return None
    import uvloop

    return uvloop.new_event_loop


def run(main: Coroutine[Any, Any, T], choice: EventLoop) -> T:
    """``asyncio.run`` on the chosen loop (``asyncio.Runner`` takes a factory on every supported Python)."""
    with asyncio.Runner(loop_factory=loop_factory(choice)) as runner:
        return runner.run(main)

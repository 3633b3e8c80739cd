"""A local SIMULATED voice backend speaking the vendors' real wire protocols.

Used by the demo, the tests and the benchmarks, because the vendors' clouds are not reachable from every
machine that runs voiceguard's checks. Nothing here is a model: transcripts and replies are scripted.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web


@dataclass
class RunningApp:
    """A started simulator application."""

    runner: web.AppRunner
    port: int
    host: str = "127.0.0.1"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def close(self) -> None:
        await self.runner.cleanup()


async def start_app(app: web.Application, host: str = "127.0.0.1", port: int = 0) -> RunningApp:
    """Serve ``app`` on ``host:port`` (0 picks a free port) until ``close``."""
    runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    sockets = getattr(site._server, "sockets", None) or ()
    bound = sockets[0].getsockname()[1] if sockets else port
    return RunningApp(runner, bound, host)

"""The uvicorn server the relay runs under, and what happens on SIGTERM."""

from __future__ import annotations

from types import FrameType

import uvicorn
from starlette.applications import Starlette

from relay.runtime import RelayRuntime
from relay.settings import Settings

__all__ = ["RelayServer", "build_server"]


class RelayServer(uvicorn.Server):
    """uvicorn, but readiness turns false at the first stop signal, before anything closes."""

    def __init__(self, config: uvicorn.Config, runtime: RelayRuntime) -> None:
        super().__init__(config)
        self.runtime = runtime

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.runtime.stopping = True
        super().handle_exit(sig, frame)


def build_server(app: Starlette, settings: Settings) -> RelayServer:
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_keep_alive=5,
        timeout_graceful_shutdown=int(settings.shutdown_grace_seconds) + 1,
        server_header=False,
        proxy_headers=False,
    )
    runtime: RelayRuntime = app.state.runtime
    return RelayServer(config, runtime)

"""The gateway served by a real uvicorn on 127.0.0.1, in a background thread of the test process.

In-process, so the server shares the test database (pytest-django's ``transactional_db``: rows
are committed, and the in-memory SQLite database is shared between threads) and whatever the
test monkeypatches (``ai.usage.record_usage``, providers).
"""

from __future__ import annotations

import socket
import threading
import time

import uvicorn
from django.core.asgi import get_asgi_application

from ai.asgi import gateway_application


class LiveGateway:
    def __init__(self) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        self.port = self._socket.getsockname()[1]
        # The production wiring: API paths through the lean handler, lifespan on (providers'
        # connection pools closed and usage flushed at shutdown).
        config = uvicorn.Config(
            gateway_application(get_asgi_application(), preload=False),
            lifespan="on",
            log_config=None,  # records propagate to the root logger, so caplog sees them
            access_log=False,
            timeout_graceful_shutdown=2,
        )
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LiveGateway:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(10)
        self._socket.close()

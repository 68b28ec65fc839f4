"""The teaching page's server in a background thread, for the tests that talk to it."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Any, Iterator


@contextmanager
def serving(srv: Any, name: str, join_timeout: float = 10.0) -> Iterator[Any]:
    """Serve ``srv`` (from :func:`circuitsim.app.server.make_server`) in a daemon thread; stop it after."""
    thread = threading.Thread(target=srv.serve_forever, name=name, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=join_timeout)

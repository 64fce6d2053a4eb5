"""Helpers shared by the test modules."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (the OS picks it; it may be taken again
    before the caller binds it, which only ever happens under heavy port churn)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]

"""Choosing ports on loopback: the usual one when it is free, else one the kernel picks."""

from __future__ import annotations

import socket

HOST = "127.0.0.1"


def is_free(port: int, host: str = HOST) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = HOST, avoid: set[int] | None = None) -> int:
    avoid = avoid or set()
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
            port = int(sock.getsockname()[1])
        if port not in avoid:
            return port


def pick(preferred: int | None, taken: set[int]) -> int:
    """``preferred`` if given, free and not in ``taken``, else a free port; added to ``taken``."""
    if preferred is not None and preferred not in taken and is_free(preferred):
        port = preferred
    else:
        port = free_port(avoid=taken)
    taken.add(port)
    return port


def is_listening(port: int, host: str = HOST, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False

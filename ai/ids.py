"""Request ids: uuid4 hex, from the OS's random source read in blocks.

``uuid.uuid4()`` makes one ``getrandom`` system call per id; under load on a VM that call costs
more than the rest of the id (measured with py-spy: 3 % of a gateway request). Reading 4 KiB at a
time makes it one call per 256 ids. The ids are the same kind: 122 random bits, version 4.
"""

from __future__ import annotations

import os
import threading

_BLOCK = 4096
_lock = threading.Lock()
_buffer = b""
_offset = _BLOCK


def _forget() -> None:
    """In a forked child: draw fresh bytes (the parent's unread ones would repeat its ids), under
    a new lock (another thread of the parent may have held it at the fork)."""
    global _buffer, _offset, _lock
    _buffer, _offset, _lock = b"", _BLOCK, threading.Lock()


# Rather than comparing os.getpid() on every id: a system call each on Linux.
os.register_at_fork(after_in_child=_forget)


def new_request_id() -> str:
    """A random (version 4) UUID as 32 hex digits."""
    global _buffer, _offset
    with _lock:
        if _offset >= len(_buffer):
            _buffer, _offset = os.urandom(_BLOCK), 0
        raw = _buffer[_offset : _offset + 16]
        _offset += 16
    # Version 4 and the RFC 4122 variant, as uuid.uuid4() sets them.
    value = (int.from_bytes(raw, "big") & ~(0xF000 << 64) | (0x4000 << 64)) & ~(0xC000 << 48)
    return "%032x" % (value | (0x8000 << 48))

"""Request ids (ai.ids): uuid4 hex from blocks of the OS's random bytes."""

from __future__ import annotations

import os
import uuid

from ai.ids import new_request_id


def test_ids_are_version_4_uuids_and_differ():
    ids = [new_request_id() for _ in range(600)]  # more than one block of random bytes
    assert len(set(ids)) == len(ids)
    for value in ids[:3]:
        parsed = uuid.UUID(hex=value)
        assert (parsed.version, parsed.variant, parsed.hex) == (4, uuid.RFC_4122, value)


def test_a_forked_child_draws_its_own_ids():
    new_request_id()  # the parent's block is drawn and partly used
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its first id, then out without running anything else
        try:
            os.close(read_end)
            os.write(write_end, new_request_id().encode())
        finally:
            os._exit(0)
    os.close(write_end)
    child = os.read(read_end, 64).decode()
    os.close(read_end)
    os.waitpid(pid, 0)
    assert len(child) == 32
    assert child != new_request_id()  # the parent's next one: from the same bytes, without care

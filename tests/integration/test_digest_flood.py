#!/usr/bin/env python3
"""A peer that asks for digests (or heartbeats) faster than it reads cannot grow wmdd's memory.

After a valid (forged) hello, a client sends tiny Digests frames (last, reply requested, no
entries) as fast as it can and never reads. Each asks the daemon for its whole digest set
(18 bytes per non-zero page), so without a bound the daemon's send queue to that peer (control
frames are never dropped) grows by the digest set per request. The daemon's resident memory
must stay bounded, and it must stay alive and stop cleanly."""

import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wmd_faults as wfa  # noqa: E402
import wmd_frames as wf  # noqa: E402
import wmd_harness as wh  # noqa: E402

SIZE = 16 * 1024 * 1024
FLOOD_SECONDS = 4.0
MAX_GROWTH_KIB = 256 * 1024  # its state (shadow, versions), a 64 MiB inbound backlog, catch-up steps


def body(h):
    intruder = wh.capture_hello(h, "in", id="intruder")
    (a,) = h.mesh(1, SIZE)
    m = wh.Mapping(a.segment)
    for page in range(SIZE // wh.PAGE):  # every page non-zero: a full digest set per request
        m.write(page * wh.PAGE, h.rng.randbytes(8) + b"\x01")
    m.close()

    request = wf.frame(wf.DIGESTS, struct.pack("<QB", 0, 0x03) + wf.varint(0))
    batch = request * 2000
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", a.port))
    s.settimeout(2)
    s.sendall(intruder)
    before_kib = wfa.rss_kib(a.pid())
    sent = 0
    deadline = time.monotonic() + FLOOD_SECONDS  # a workload duration, not synchronisation
    try:
        while time.monotonic() < deadline:
            s.sendall(batch)
            sent += 2000
    except (socket.timeout, OSError) as e:
        wh.log(f"flood stopped: {e}")
    after_kib = wfa.rss_kib(a.pid())
    wh.log(f"{sent} digest requests; wmdd RSS {before_kib} KiB -> {after_kib} KiB")
    assert a.alive(), "wmdd died under the digest flood"
    assert after_kib - before_kib < MAX_GROWTH_KIB, (
        f"wmdd grew by {after_kib - before_kib} KiB under {sent} digest requests")
    s.close()
    h.note(f"{sent} digest requests from a peer that never reads: RSS +"
           f"{after_kib - before_kib} KiB")

    # The same with heartbeat requests, whose replies are control frames too.
    ping = wf.frame(wf.HEARTBEAT, struct.pack("<QB", 1, 0))
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", a.port))
    s.settimeout(2)
    s.sendall(intruder)
    before_kib = wfa.rss_kib(a.pid())
    sent = 0
    deadline = time.monotonic() + FLOOD_SECONDS
    try:
        while time.monotonic() < deadline:
            s.sendall(ping * 5000)
            sent += 5000
    except (socket.timeout, OSError) as e:
        wh.log(f"flood stopped: {e}")
    after_kib = wfa.rss_kib(a.pid())
    wh.log(f"{sent} heartbeat requests; wmdd RSS {before_kib} KiB -> {after_kib} KiB")
    assert a.alive(), "wmdd died under the heartbeat flood"
    assert after_kib - before_kib < MAX_GROWTH_KIB, (
        f"wmdd grew by {after_kib - before_kib} KiB under {sent} heartbeat requests")
    s.close()
    h.note(f"{sent} heartbeat requests from a peer that never reads: RSS +"
           f"{after_kib - before_kib} KiB")
    h.stop_all_checked()


if __name__ == "__main__":
    wh.run("digest_flood", body, __doc__)

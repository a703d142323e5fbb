#!/usr/bin/env python3
"""Drill (issue 11, finding 6): connections that hold a daemon's resources.

Three daemons in a full mesh; node a is attacked (its handshake and heartbeat timeouts are long,
so only the new limits can end the attacks):
1. unfinished frames: before the handshake, a frame announced at 16 MiB is refused at once (a
   Hello is small); after forged hellos, sessions each hold most of a 4 MiB frame unfinished:
   beyond --max-buffered 8MiB across connections, the connection going over is closed, and a's
   resident memory stays bounded;
2. idle sockets: 20 connections that never say hello; beyond --max-pending-connections 8 they
   are closed at once, and b, restarted, still gets one of the --max-connections 14 slots;
3. catch-up pulls: forged sessions send empty digest sets with a reply requested, over and over,
   and read everything: after each session's first round, --catchup-rate 1MiB per second bounds
   what they get.
After each, an honest write on every node converges within 2 s."""

import os
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wmd_drill  # noqa: E402
import wmd_faults as wfa  # noqa: E402
import wmd_frames as wf  # noqa: E402
import wmd_harness as wh  # noqa: E402

SIZE = 4 * 1024 * 1024
MIB = 1024 * 1024


def closed_soon(sock, timeout_s):
    """True when the peer closes sock within timeout_s (whatever it sends first)."""
    _, closed = wh.recv_until_closed(sock, timeout_s)
    return closed


def forged(h, a, n):
    s = socket.create_connection(("127.0.0.1", a.port), timeout=5)
    s.sendall(wf.hello(h.cluster, f"holder-{n}", wh.PAGE, SIZE, lamport=1))
    return s


def unfinished_frames(h, a, failures):
    s = socket.create_connection(("127.0.0.1", a.port), timeout=5)
    s.sendall(struct.pack("<IB", 16 * MIB, wf.PATCH) + b"\0" * 4096)
    if not closed_soon(s, 5):
        failures.append("a 16 MiB frame before the handshake was not refused within 5 s")
    s.close()

    before_kib = wfa.rss_kib(a.pid())
    holders, closed = [], 0
    chunk = b"\x01" * (3 * MIB)
    for n in range(6):  # 6 x 3 MiB held > 8 MiB budget
        s = forged(h, a, n)
        s.sendall(struct.pack("<IB", 4 * MIB, wf.PATCH))
        try:
            s.sendall(chunk)
        except OSError:
            pass
        holders.append(s)
    time.sleep(0.5)  # let a read what was sent
    for s in holders:
        if closed_soon(s, 0.5):
            closed += 1
        s.close()
    grew_kib = wfa.rss_kib(a.pid()) - before_kib
    wh.log(f"unfinished frames: {closed} of {len(holders)} holders closed; RSS +{grew_kib} KiB")
    if closed < 3:
        failures.append(f"only {closed} of 6 sessions holding 3 MiB each were closed "
                        f"(--max-buffered 8MiB)")


def idle_sockets(h, a, b, mesh, failures):
    idle = [socket.create_connection(("127.0.0.1", a.port), timeout=5) for _ in range(20)]
    shut = sum(1 for s in idle if closed_soon(s, 0.3))
    wh.log(f"idle sockets: {shut} of 20 closed at once")
    if shut < 12:
        failures.append(f"only {shut} of 20 idle sockets were closed (--max-pending-connections 8)")
    assert b.stop() == 0
    b.start()
    try:
        h.wait_converged(mesh, timeout_s=15)
        wmd_drill.honest_writes_converge(h, mesh, SIZE, what="idle sockets holding slots")
    finally:
        for s in idle:
            s.close()


def catchup_pulls(h, a, failures):
    m = wh.Mapping(a.segment)
    for page in range(SIZE // wh.PAGE):  # every page non-zero: each round sends them all
        m.write(page * wh.PAGE, h.rng.randbytes(8) + b"\x01")
    m.close()
    request = wf.frame(wf.DIGESTS, struct.pack("<QB", 0, 0x03) + wf.varint(0))
    stop = threading.Event()
    received = [0] * 4

    def pull(n):
        s = forged(h, a, 100 + n)
        s.settimeout(0.05)
        buffer = bytearray(1 << 20)
        next_request = 0.0
        try:
            while not stop.is_set():
                if time.monotonic() >= next_request:
                    s.sendall(request)
                    next_request = time.monotonic() + 0.02
                try:
                    got = s.recv_into(buffer)
                except socket.timeout:
                    continue
                if got == 0:
                    break
                received[n] += got
        except OSError:
            pass
        s.close()

    threads = [threading.Thread(target=pull, args=(n,)) for n in range(4)]
    started = time.monotonic()
    for t in threads:
        t.start()
    time.sleep(3.0)
    stop.set()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    total = sum(received)
    # Per session: its first round (the segment's page states, framed) at full speed, then at
    # most a one-second burst plus the elapsed time at 1 MiB/s; doubled, so that a loaded
    # machine's late joins cannot fail it (without the budget the sessions pull ~800 MiB).
    bound = 2 * (4 * (SIZE * 1.2 + (1 + elapsed) * MIB) + 4 * MIB)
    wh.log(f"catch-up pulls: {total / MIB:.1f} MiB in 3 s by 4 sessions (bound {bound / MIB:.0f})")
    if total > bound:
        failures.append(f"4 sessions asking for catch-up pulled {total / MIB:.0f} MiB in 3 s "
                        f"(bound {bound / MIB:.0f} MiB with --catchup-rate 1MiB)")


def body(h):
    mesh = h.mesh(3, SIZE, start=False)
    a, b = mesh[0], mesh[1]
    a.options.update({"max-buffered": "8MiB", "max-frame": "4MiB", "max-pending-connections": 8,
                      "max-connections": 14, "catchup-rate": "1MiB",
                      "handshake-timeout": 60000, "heartbeat-timeout": 60000})
    for d in mesh:
        d.start()
    h.wait_converged(mesh)
    failures = []
    unfinished_frames(h, a, failures)
    assert a.alive(), "a died holding unfinished frames"
    wmd_drill.honest_writes_converge(h, mesh, SIZE, what="unfinished frames")
    idle_sockets(h, a, b, mesh, failures)
    catchup_pulls(h, a, failures)
    assert a.alive(), "a died under catch-up pulls"
    h.wait_converged(mesh, timeout_s=15)
    wmd_drill.honest_writes_converge(h, mesh, SIZE, what="catch-up pulls")
    assert not failures, "\n".join(failures)
    h.stop_all_checked(mesh)


if __name__ == "__main__":
    wh.run("resource_holds", body, __doc__)

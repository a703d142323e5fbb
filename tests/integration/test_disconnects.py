#!/usr/bin/env python3
"""Fault drill: peers that disconnect at the worst moments, and one that reconnects in a loop.

- mid-handshake: raw clients send part of a hello (and, separately, a whole hello) and vanish;
- mid-frame: a raw client sends a valid hello and half of a patch, then resets: nothing of the
  patch is applied;
- mid-catch-up: a new daemon joins a 24 MiB segment through a relay that cuts the link after
  part of the catch-up (three times, at different points), then lets it through: it converges;
- tight reconnect loop: 300 raw connect-hello-close cycles as fast as possible, while the link
  between two real daemons is cut and healed every 50 ms under writes; afterwards they
  converge.
Throughout, the long-lived daemon keeps serving its real peer, and afterwards its open file
descriptors are back to their baseline and its resident memory grew by a bounded amount."""

import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wmd_faults as wf  # noqa: E402
import wmd_frames as frames  # noqa: E402
import wmd_harness as wh  # noqa: E402

BIG = 24 * 1024 * 1024
RSS_GROWTH_LIMIT_KIB = 32 * 1024


def still_syncing(h, src, dst, what):
    m = wh.Mapping(src.segment)
    offset = h.rng.randrange(0, 200) * wh.PAGE + 8 * h.rng.randrange(0, 100)
    marker = wh.nonzero_bytes(h.rng, 48)
    m.write(offset, marker)
    m.close()
    h.wait_visible([dst], offset, marker, timeout_s=10)
    wh.log(f"{what}: {src.id} -> {dst.id} still syncing")


def settle_fds(pid, baseline, timeout_s=10):
    """Waits until the process has at most baseline fds (closes are asynchronous)."""
    wh.wait_until(lambda: wf.open_fds(pid) <= baseline, timeout_s,
                  f"pid {pid} to get back to {baseline} fds (has {wf.open_fds(pid)}: "
                  f"{wf.fd_kinds(pid)})")


def body(h):
    a, b = h.mesh(2, BIG)
    h.wait_converged([a, b], timeout_s=30)
    # Fill a so that a joiner has a real catch-up to do.
    m = wh.Mapping(a.segment)
    for page in range(0, BIG // wh.PAGE, 2):
        m.write(page * wh.PAGE, h.rng.randbytes(wh.PAGE))
    m.close()
    h.wait_converged([a, b], timeout_s=60, expected_size=BIG)
    fds0 = wf.open_fds(a.pid())
    rss0 = wf.rss_kib(a.pid())
    wh.log(f"a: {fds0} fds, {rss0} KiB resident at the start")
    hello = frames.hello(h.cluster, "intruder", wh.PAGE, BIG)

    # --- mid-handshake --------------------------------------------------------------------
    for i in range(50):
        s = socket.create_connection(("127.0.0.1", a.port), timeout=5)
        cut = h.rng.randrange(1, len(hello))
        s.sendall(hello[:cut] if i % 2 == 0 else hello)
        wf._close_socket(s)  # reset, mid-handshake
    still_syncing(h, a, b, "after 50 mid-handshake disconnects")

    # --- mid-frame ------------------------------------------------------------------------
    target = 300 * wh.PAGE
    before = a.data()[target : target + 4000]
    for i in range(20):
        s = socket.create_connection(("127.0.0.1", a.port), timeout=5)
        s.sendall(hello)
        patch = frames.patch("intruder", 1000 + i, 10**6 + i,
                             [(target, wh.nonzero_bytes(h.rng, 4000))])
        s.sendall(patch[: len(patch) // 2])
        time.sleep(0.01)
        wf._close_socket(s)
    still_syncing(h, a, b, "after 20 mid-frame disconnects")
    assert a.data()[target : target + 4000] == before, "half a patch was applied"
    h.note("mid-handshake (50) and mid-frame (20) disconnects: nothing applied, still syncing")

    # --- mid-catch-up -----------------------------------------------------------------------
    relay = wf.CuttableRelay(a.port)
    (port_c,) = wh.free_ports(1)
    c = h.daemon("c", h.segment_name("c"), port_c, [relay.port], BIG,
                 **{"max-size": BIG})
    for budget in (64 * 1024, 2 * 1024 * 1024, 9 * 1024 * 1024):
        relay.cut_after(budget)
        truncated = relay.truncated
        if not c.alive():
            c.start()
        wh.wait_until(lambda: relay.truncated > truncated, 30,
                      f"the relay to cut the catch-up after {budget} bytes")
        wh.log(f"catch-up to c cut after {budget} bytes")
    h.wait_converged([a, b, c], timeout_s=60, expected_size=BIG)
    h.note(f"catch-up cut three times mid-way ({relay.truncated} truncations): c converged")
    relay.close()
    h.stop_all_checked([c])

    # --- tight reconnect loop ---------------------------------------------------------------
    started = time.monotonic()
    for i in range(300):
        s = socket.create_connection(("127.0.0.1", a.port), timeout=5)
        if i % 3 == 0:
            s.sendall(hello)
        wf._close_socket(s)
    wh.log(f"300 raw reconnects in {time.monotonic() - started:.2f} s")
    # Two real daemons whose link flaps every 50 ms under writes.
    ports = wh.free_ports(2)
    flappy_relay = wf.CuttableRelay(ports[1])
    d = h.daemon("d", h.segment_name("d"), ports[0], [flappy_relay.port], 2 * 1024 * 1024)
    e = h.daemon("e", h.segment_name("e"), ports[1], [], 2 * 1024 * 1024)
    e.start()
    d.start()
    writers = [wh.Writer(x.segment, h.rng.randrange(1 << 30)) for x in (d, e)]
    for w in writers:
        w.start()
    flaps = 0
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline:
        time.sleep(0.05)
        flappy_relay.cut()
        time.sleep(0.01)
        flappy_relay.heal()
        flaps += 1
    for w in writers:
        w.stop()
    h.wait_converged([d, e], timeout_s=30)
    h.note(f"link flapped {flaps} times under writes ({flappy_relay.accepted} connections): "
           f"converged")
    flappy_relay.close()
    h.stop_all_checked([d, e])

    # --- leaks ------------------------------------------------------------------------------
    still_syncing(h, b, a, "at the end")
    settle_fds(a.pid(), fds0)
    rss1 = wf.rss_kib(a.pid())
    h.note(f"a: {wf.open_fds(a.pid())} fds (baseline {fds0}), resident {rss1} KiB "
           f"(start {rss0} KiB, +{rss1 - rss0} KiB)")
    if wf.is_sanitized(h.wmdd):
        h.note("AddressSanitizer build: resident memory not checked (quarantine)")
    else:
        assert rss1 - rss0 < RSS_GROWTH_LIMIT_KIB, f"a's memory grew by {rss1 - rss0} KiB"
    h.stop_all_checked([a, b])


if __name__ == "__main__":
    wh.run("disconnects", body, __doc__)

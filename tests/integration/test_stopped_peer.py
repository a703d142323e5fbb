#!/usr/bin/env python3
"""Scenario 6: a peer frozen with SIGSTOP does not stall the others: while B is stopped, A and C
keep exchanging writes promptly (each marker within a few seconds) under a steady write load
that overflows the small send queues towards B; after SIGCONT, B catches up and all three are
identical."""

import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wmd_harness as wh  # noqa: E402

SIZE = 8 * 1024 * 1024
STOPPED_SECONDS = 8
MARKER_DEADLINE_S = 3


def body(h):
    a, b, c = h.mesh(3, SIZE, **{"send-queue": 4 * 1024 * 1024})
    probe = wh.Mapping(a.segment)
    marker = h.rng.randbytes(8)
    probe.write(0, marker)
    h.wait_visible([a, b, c], 0, marker, timeout_s=15)  # the mesh is up

    b.signal(signal.SIGSTOP)
    wh.log("b stopped with SIGSTOP")
    # The writers leave the last page alone: it carries the markers.
    writers = [wh.Writer(d.segment, h.rng.randrange(1 << 30), limit=SIZE - wh.PAGE,
                         pace_s=0.001, batch=32) for d in (a, c)]
    for w in writers:
        w.start()
    worst = 0.0
    deadline = wh.time.monotonic() + STOPPED_SECONDS
    n = 0
    while wh.time.monotonic() < deadline:
        # Markers go both ways between a and c.
        src, dst = (a, c) if n % 2 == 0 else (c, a)
        value = n.to_bytes(8, "little") + h.rng.randbytes(8)
        m = wh.Mapping(src.segment)
        m.write(SIZE - 16, value)
        m.close()
        t0 = wh.time.monotonic()
        h.wait_visible([dst], SIZE - 16, value, timeout_s=MARKER_DEADLINE_S)
        worst = max(worst, wh.time.monotonic() - t0)
        n += 1
    wh.log(f"{n} markers between a and c while b was stopped, slowest {worst * 1000:.0f} ms")
    for w in writers:
        w.stop()
    assert a.alive() and c.alive()
    h.wait_converged([a, c], timeout_s=20, expected_size=SIZE)
    b.signal(signal.SIGCONT)
    wh.log("b continued with SIGCONT")
    h.wait_converged([a, b, c], timeout_s=30, expected_size=SIZE)
    probe.close()
    h.stop_all_checked()


if __name__ == "__main__":
    wh.run("stopped_peer", body, __doc__)

#!/usr/bin/env python3
"""Scenario 6b: a send queue smaller than what a busy round produces. Two healthy daemons with
--send-queue 256 KiB under a steady write load on both segments (so patches and catch-up page
states overflow the queue again and again): markers between them still cross within a few
seconds, and both converge once the writers stop. Overflow may cost bandwidth (a resync), but
must not starve the link between two healthy peers."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wmd_harness as wh  # noqa: E402

SIZE = 8 * 1024 * 1024
LOAD_SECONDS = 8
MARKER_DEADLINE_S = 3


def body(h):
    a, c = h.mesh(2, SIZE, ids="ac", **{"send-queue": 256 * 1024})
    # The writers leave the last page alone: it carries the markers.
    writers = [wh.Writer(d.segment, h.rng.randrange(1 << 30), limit=SIZE - wh.PAGE,
                         pace_s=0.001, batch=32) for d in (a, c)]
    for w in writers:
        w.start()
    worst = 0.0
    n = 0
    deadline = wh.time.monotonic() + LOAD_SECONDS
    while wh.time.monotonic() < deadline:
        src, dst = (a, c) if n % 2 == 0 else (c, a)
        value = n.to_bytes(8, "little") + h.rng.randbytes(8)
        m = wh.Mapping(src.segment)
        m.write(SIZE - 16, value)
        m.close()
        t0 = wh.time.monotonic()
        h.wait_visible([dst], SIZE - 16, value, timeout_s=MARKER_DEADLINE_S)
        worst = max(worst, wh.time.monotonic() - t0)
        n += 1
    overflows = a.log_text().count("overflow")
    wh.log(f"{n} markers between a and c, slowest {worst * 1000:.0f} ms; "
           f"a's log mentions overflow {overflows} times")
    for w in writers:
        w.stop()
    h.wait_converged([a, c], timeout_s=20, expected_size=SIZE)
    h.stop_all_checked()


if __name__ == "__main__":
    wh.run("small_send_queue", body, __doc__)

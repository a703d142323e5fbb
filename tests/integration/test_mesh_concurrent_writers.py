#!/usr/bin/env python3
"""Scenario 1: three daemons in a full mesh, outside writers on all three segments at once,
writing the same pages and the same bytes: the segments are identical after the writers stop."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wmd_harness as wh  # noqa: E402

SIZE = 4 * 1024 * 1024
WRITE_SECONDS = 6


def body(h):
    a, b, c = h.mesh(3, SIZE)
    hot = (64 * 1024, 64 * 1024)  # 8 pages every writer hits half of the time
    writers = []
    for d in (a, b, c):
        for k in range(2):  # two writer threads per segment
            writers.append(wh.Writer(d.segment, h.rng.randrange(1 << 30), hot=hot))
    for w in writers:
        w.start()
    deadline = wh.time.monotonic() + WRITE_SECONDS
    while wh.time.monotonic() < deadline:
        for d in (a, b, c):
            assert d.alive(), f"wmdd {d.id} died while writers were running"
        wh.time.sleep(0.2)
    for w in writers:
        w.stop()
    wh.log(f"writers made {sum(w.ops for w in writers)} writes; waiting for convergence")
    data = h.wait_converged([a, b, c], timeout_s=20, expected_size=SIZE)
    assert any(data), "segments converged to all zeros: the writes were lost"
    h.stop_all_checked()


if __name__ == "__main__":
    wh.run("mesh_concurrent_writers", body, __doc__)

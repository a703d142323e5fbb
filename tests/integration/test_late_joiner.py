#!/usr/bin/env python3
"""Scenario 3: a late joiner with an empty segment catches up. A and B run and hold data
(written while they sync, plus a burst right before C starts); C starts later with an empty
segment and reaches the same bytes; a write made on C afterwards reaches A and B."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wmd_harness as wh  # noqa: E402

SIZE = 8 * 1024 * 1024


def body(h):
    a, b, c = h.mesh(3, SIZE, start=False)
    a.start()
    b.start()
    writers = [wh.Writer(d.segment, h.rng.randrange(1 << 30), pace_s=0.001) for d in (a, b)]
    for w in writers:
        w.start()
    wh.time.sleep(2)  # let the writers produce data (workload duration, not synchronisation)
    for w in writers:
        w.stop()
    # Blocks spread over the whole segment, so that catch-up has pages everywhere.
    m = wh.Mapping(a.segment)
    for page in range(0, SIZE // wh.PAGE, 5):
        m.write(page * wh.PAGE + 123, h.rng.randbytes(3000))
    m.close()
    h.wait_converged([a, b], timeout_s=20, expected_size=SIZE)
    assert not os.path.exists(wh.shm_path(c.segment)), "C's segment should not exist yet"
    t0 = wh.time.monotonic()
    c.start()
    data = h.wait_converged([a, b, c], timeout_s=30, expected_size=SIZE)
    wh.log(f"late joiner caught up {sum(1 for x in data if x)} non-zero bytes in "
           f"{wh.time.monotonic() - t0:.2f} s")
    mc = wh.Mapping(c.segment)
    marker = h.rng.randbytes(16)
    mc.write(SIZE - 4096, marker)
    mc.close()
    h.wait_visible([a, b], SIZE - 4096, marker)
    h.wait_converged([a, b, c], timeout_s=20)
    h.stop_all_checked()


if __name__ == "__main__":
    wh.run("late_joiner", body, __doc__)

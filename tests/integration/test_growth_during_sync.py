#!/usr/bin/env python3
"""Scenario 5: growth during sync. Three daemons share a 4 MiB segment while outside writers
keep writing on A and B.
Phase 1: C is restarted with --size 16 MiB (its segment grows). Every segment grows to 16 MiB
(grow-only maximum), nothing written before is lost, all converge, and bytes written in the new
range on one host reach the others.
Phase 2: a runtime grows A's running segment to 24 MiB through the control object (enlarge the
data object, raise size_bytes, bump generation) while the writers keep going: all grow to
24 MiB, their generation counters move, and all converge."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wmd_harness as wh  # noqa: E402

SMALL = 4 * 1024 * 1024
BIG = 16 * 1024 * 1024
BIGGER = 24 * 1024 * 1024


def file_size(d):
    try:
        return os.stat(wh.shm_path(d.segment)).st_size
    except FileNotFoundError:
        return 0


def body(h):
    a, b, c = h.mesh(3, SMALL, max_size=32 * 1024 * 1024)
    # The writers leave the last 16 pages alone: they hold bytes checked after the growth.
    writers = [wh.Writer(d.segment, h.rng.randrange(1 << 30), limit=SMALL - 16 * wh.PAGE)
               for d in (a, b)]
    for w in writers:
        w.start()
    # Something every host must still hold after the growth.
    keep_offset, keep = SMALL - 5000, wh.nonzero_bytes(h.rng, 777)
    m = wh.Mapping(c.segment)
    m.write(keep_offset, keep)
    m.close()
    h.wait_visible([a, b, c], keep_offset, keep)

    rc = c.stop()
    assert rc == 0, f"c exited with {rc} on SIGTERM"
    c.size = BIG
    c.start()
    wh.log("c restarted with --size 16 MiB while a and b keep writing")
    wh.wait_until(lambda: file_size(c) == BIG, 10, "c's data object to be 16 MiB")
    wh.wait_until(lambda: all(file_size(d) == BIG for d in (a, b)), 20,
                  "a and b to grow to 16 MiB")
    wh.log("a and b grew to 16 MiB")
    wh.time.sleep(1)  # more writes after the growth (workload, not synchronisation)
    for w in writers:
        w.stop()
    data = h.wait_converged([a, b, c], timeout_s=20, expected_size=BIG)
    assert data[keep_offset : keep_offset + len(keep)] == keep, "bytes written before growth lost"

    # The new range replicates in every direction.
    for src in (a, b, c):
        offset = SMALL + h.rng.randrange(0, (BIG - SMALL) // 8 - 512) * 8
        value = wh.nonzero_bytes(h.rng, 4096)
        m = wh.Mapping(src.segment)
        assert m.length == BIG
        m.write(offset, value)
        m.close()
        h.wait_visible([a, b, c], offset, value)
        wh.log(f"a write at {offset} (grown range) on {src.id} reached every host")
    h.wait_converged([a, b, c], timeout_s=20, expected_size=BIG)

    # Phase 2: growth by a runtime, through the control object, while writes flow.
    generations = {d.id: wh.ctl_field(d.segment, wh.CTL_GENERATION) for d in (a, b, c)}
    writers = [wh.Writer(d.segment, h.rng.randrange(1 << 30), limit=SMALL) for d in (b, c)]
    for w in writers:
        w.start()
    wh.grow_via_control(a.segment, BIGGER)
    wh.log("a's segment grown to 24 MiB through the control object")
    wh.wait_until(lambda: all(file_size(d) == BIGGER for d in (b, c)), 20,
                  "b and c to grow to 24 MiB")
    for d in (b, c):
        assert wh.ctl_field(d.segment, wh.CTL_SIZE) == BIGGER, f"{d.id}: control size not raised"
        assert wh.ctl_field(d.segment, wh.CTL_GENERATION) > generations[d.id], \
            f"{d.id}: generation not bumped by the growth from a peer"
    m = wh.Mapping(a.segment)
    offset, value = BIGGER - 3 * wh.PAGE, wh.nonzero_bytes(h.rng, 2 * wh.PAGE)
    m.write(offset, value)
    m.close()
    h.wait_visible([b, c], offset, value)
    for w in writers:
        w.stop()
    h.wait_converged([a, b, c], timeout_s=20, expected_size=BIGGER)
    h.stop_all_checked()


if __name__ == "__main__":
    wh.run("growth_during_sync", body, __doc__)

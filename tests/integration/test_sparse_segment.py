#!/usr/bin/env python3
"""A fresh segment stays sparse: the pages nobody wrote hold no memory in /dev/shm.

Reading a never-written page of a shared-memory object through a mapping backs it with memory,
so a daemon that hashed every page of a fresh 256 MiB segment would cost 256 MiB per host at its
first scan. Two daemons run over fresh segments, a few pages are written on one and replicated
to the other, and every scan in between must have left the rest of both data objects as holes
(checked with st_blocks, the memory the object holds). Reads here go through read(), which
does not back holes."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wmd_harness as wh  # noqa: E402

SIZE = 256 * 1024 * 1024
WRITTEN_PAGES = 8
# The written pages on both sides, plus slack for the kernel's page granularity.
MAX_BACKED_BYTES = 4 * WRITTEN_PAGES * wh.PAGE


def backed_bytes(name):
    return os.stat(wh.shm_path(name)).st_blocks * 512


def body(h):
    a, b = h.mesh(2, SIZE)
    m = wh.Mapping(a.segment)
    pages = sorted(h.rng.sample(range(SIZE // wh.PAGE), WRITTEN_PAGES))
    markers = {}
    for page in pages:
        markers[page] = h.rng.randbytes(32)
        m.write(page * wh.PAGE + 64, markers[page])
    m.close()
    for page in pages:
        h.wait_visible([b], page * wh.PAGE + 64, markers[page], timeout_s=20)
    # Several more scan intervals on both (the tests' interval is 50 ms), then the check.
    wh.time.sleep(0.5)  # workload duration: idle scans are what must not back anything
    for d in (a, b):
        held = backed_bytes(d.segment)
        wh.log(f"{d.id}: data object holds {held} bytes of memory for {SIZE} bytes")
        assert held <= MAX_BACKED_BYTES, (
            f"{d.id}'s fresh segment holds {held} bytes of memory after idle scans; only "
            f"{WRITTEN_PAGES} pages were written")
    h.note(f"{SIZE >> 20} MiB segments, {WRITTEN_PAGES} pages written: "
           f"{backed_bytes(a.segment)} / {backed_bytes(b.segment)} bytes backed")
    h.stop_all_checked()


if __name__ == "__main__":
    wh.run("sparse_segment", body, __doc__)

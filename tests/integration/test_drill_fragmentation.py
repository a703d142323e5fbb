#!/usr/bin/env python3
"""Drill (issue 11, finding 3): version-pool exhaustion by fragmentation. A forged peer sends a
daemon of a three-node mesh (--max-size 16M) page states made of one-byte version runs. Before
the per-peer share of the version pool, 76 such pages exhausted the pool and the whole mesh
stopped converging. Now the page that would take the sender's id past a quarter of the pool is
refused (its frame, then its connection), and an honest write on every node converges within
2 s."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wmd_drills as dr  # noqa: E402
import wmd_frames as wf  # noqa: E402
import wmd_harness as wh  # noqa: E402

SIZE = 1024 * 1024
MAX_SIZE = 16 * 1024 * 1024


def one_byte_runs(runs, peer, lamport):
    """runs one-byte versions alternating between peer and peer2, then one run to the end."""
    out = []
    for k in range(runs - 1):
        out.append((1, lamport + (k % 2), peer))
    out.append((wh.PAGE - (runs - 1), lamport + 5, peer))
    return out


def body(h):
    version = dr.daemon_protocol_version(h)
    nodes = h.mesh(3, SIZE, max_size=MAX_SIZE)
    a, b, c = nodes
    h.wait_converged(nodes, timeout_s=10, expected_size=SIZE)
    failures = []

    # Pages of one-byte runs, 8 pages a frame: the finding's attack (76 pages of 8192 runs).
    mallory = dr.ForgedPeer(h, a, "mallory", SIZE, version)
    for first in range(0, 80, 8):
        pages = [(p, bytes([p % 251]) * wh.PAGE, one_byte_runs(wh.PAGE, "mallory", 1000))
                 for p in range(first, first + 8)]
        mallory.send(wf.page_states(pages))
    closed, error = mallory.closed_with_error()
    if not closed or error is None or "share" not in error:
        failures.append(f"pages of one-byte runs: closed={closed}, error frame {error!r}")

    dr.check_honest_writes(h, nodes, SIZE, failures)
    for d in nodes:
        if "pool exhausted" in d.log_text():
            failures.append(f"{d.id}: the version pool ran out")
    dr.finish(h, "fragmentation", failures, nodes)


if __name__ == "__main__":
    wh.run("drill_fragmentation", body, __doc__)

#!/usr/bin/env python3
"""Drill (issue 11, finding 1): clock poisoning. A forged peer sends a daemon of a three-node
mesh one valid patch stamped 2^62 (and, on another connection, a hello whose clock is 2^62).
Before hybrid logical clocks with a bound, the daemon accepted it, catch-up spread it, and no
later local write on any node replicated. Now each is refused whole: the connection is closed
with an Error naming the skew, nothing of it is stored, and an honest write on every node
converges within 2 s."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wmd_drills as dr  # noqa: E402
import wmd_frames as wf  # noqa: E402
import wmd_harness as wh  # noqa: E402

SIZE = 1024 * 1024
POISON = 1 << 62


def body(h):
    version = dr.daemon_protocol_version(h)
    nodes = h.mesh(3, SIZE)
    a, b, c = nodes
    h.wait_converged(nodes, timeout_s=10, expected_size=SIZE)
    failures = []

    # The attack of the finding: a hello, then one valid patch at 2^62.
    target = (SIZE // 2, b"poisoned")
    mallory = dr.ForgedPeer(h, a, "mallory", SIZE, version)
    mallory.send(wf.patch("mallory", 1, POISON, [target]))
    closed, error = mallory.closed_with_error()
    if not closed or error is None or "ahead" not in error:
        failures.append(f"a far-future patch: closed={closed}, error frame {error!r} "
                        "(wanted one naming the skew)")
    # A hello whose clock is already poisoned is refused before anything else.
    eve = dr.ForgedPeer(h, b, "eve", SIZE, version, lamport=POISON)
    closed, error = eve.closed_with_error()
    if not closed or error is None or "ahead" not in error:
        failures.append(f"a far-future hello clock: closed={closed}, error frame {error!r}")

    dr.check_honest_writes(h, nodes, SIZE, failures)
    for d in nodes:
        data = d.data()
        if data[target[0] : target[0] + len(target[1])] == target[1]:
            failures.append(f"{d.id} stored the poisoned patch's bytes")
    if "more than --max-clock-offset" not in a.log_text():
        failures.append("a's log does not name the clock skew refusal")
    dr.finish(h, "clock poisoning", failures, nodes)


if __name__ == "__main__":
    wh.run("drill_clock_poisoning", body, __doc__)

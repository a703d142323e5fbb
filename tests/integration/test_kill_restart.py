#!/usr/bin/env python3
"""Scenario 4: SIGKILL of one daemon, writes on every host while it is down (on its own
segment too, by an outside writer), restart: all converge, the writes made on the killed host
while its daemon was down reach the peers, and the peers' writes reach it. Then the same under
load: B is killed and restarted three times while writers keep writing on all three hosts
(so the kill lands mid-scan or mid-apply), and all converge once the writers stop."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wmd_harness as wh  # noqa: E402

SIZE = 4 * 1024 * 1024
ROUNDS = 2


def body(h):
    a, b, c = h.mesh(3, SIZE)
    writers = [wh.Writer(d.segment, h.rng.randrange(1 << 30)) for d in (a, b, c)]
    for w in writers:
        w.start()
    wh.time.sleep(1.5)  # workload before the crash
    for w in writers:
        w.stop()
    h.wait_converged([a, b, c], timeout_s=20, expected_size=SIZE)

    for r in range(ROUNDS):
        b.kill()
        wh.log(f"round {r}: b killed with SIGKILL")
        # Writes while b is down: a distinctive block on each host, in pages nobody else writes.
        marks = {}
        for i, d in enumerate((a, b, c)):
            offset = (100 + 10 * r + i) * wh.PAGE + 40
            marks[d.id] = (offset, wh.nonzero_bytes(h.rng, 1000))
            m = wh.Mapping(d.segment)
            m.write(*marks[d.id])
            # scattered 8-byte stores too, on pages shared with the others (not the marked ones)
            for _ in range(50):
                page = h.rng.choice([h.rng.randrange(0, 90), h.rng.randrange(150, SIZE // wh.PAGE)])
                m.write(page * wh.PAGE + h.rng.randrange(0, wh.PAGE // 8) * 8, h.rng.randbytes(8))
            m.close()
        # A and C keep syncing while B is down.
        h.wait_visible([a, c], *marks["a"])
        h.wait_visible([a, c], *marks["c"])
        b.start()
        wh.log(f"round {r}: b restarted")
        h.wait_visible([a, c], *marks["b"], timeout_s=20)
        h.wait_visible([b], *marks["a"], timeout_s=20)
        h.wait_visible([b], *marks["c"], timeout_s=20)
        h.wait_converged([a, b, c], timeout_s=20, expected_size=SIZE)
        wh.log(f"round {r}: converged after restart")

    writers = [wh.Writer(d.segment, h.rng.randrange(1 << 30)) for d in (a, b, c)]
    for w in writers:
        w.start()
    for r in range(3):
        wh.time.sleep(h.rng.uniform(0.2, 0.8))  # a random moment in the write load
        b.kill()
        wh.time.sleep(h.rng.uniform(0.1, 0.5))  # writes while down
        b.start()
        wh.log(f"under load, round {r}: b killed and restarted")
    wh.time.sleep(1)
    for w in writers:
        w.stop()
    h.wait_converged([a, b, c], timeout_s=30, expected_size=SIZE)
    wh.log("converged after the kills under load")
    h.stop_all_checked()


if __name__ == "__main__":
    wh.run("kill_restart", body, __doc__)

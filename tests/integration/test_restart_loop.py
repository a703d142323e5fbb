#!/usr/bin/env python3
"""Fault drill: one of three daemons restarted 20 times under write load (SIGTERM and SIGKILL
alternately), writers running on all three hosts across every restart. After each restart the
three converge byte for byte and every marker written so far is present everywhere. The two
long-lived daemons leak nothing: their open file descriptors return to the count they had after
the first round, and their resident memory grows by a bounded amount over the 20 rounds."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wmd_faults as wf  # noqa: E402
import wmd_harness as wh  # noqa: E402

SIZE = 4 * 1024 * 1024
HOT = (0, 32 * wh.PAGE)
ROUNDS = 20
RSS_GROWTH_LIMIT_KIB = 24 * 1024


def body(h):
    a, b, c = h.mesh(3, SIZE)
    daemons = [a, b, c]
    survivors = [a, c]
    h.wait_converged(daemons, timeout_s=15)
    markers = {}
    baseline = None
    rss_first = None

    for r in range(ROUNDS):
        writers = [wh.Writer(d.segment, h.rng.randrange(1 << 30), limit=HOT[1], hot=HOT,
                             pace_s=0.005) for d in daemons]
        for w in writers:
            w.start()
        time.sleep(0.2)
        how = "SIGKILL" if r % 2 else "SIGTERM"
        if how == "SIGKILL":
            b.kill()
        else:
            assert b.stop() == 0, f"round {r}: b did not exit 0 on SIGTERM"
        # Writes while b is down, on every host (b's own segment by its runtime).
        for i, d in enumerate(daemons):
            offset = (64 + 100 * i + r) * wh.PAGE + 8 * h.rng.randrange(0, 200)
            data = wh.nonzero_bytes(h.rng, 256)
            m = wh.Mapping(d.segment)
            m.write(offset, data)
            m.close()
            markers[offset] = data
        time.sleep(0.1)
        b.start()
        time.sleep(0.3)  # writers keep going while b rejoins
        for w in writers:
            w.stop()
        h.wait_converged(daemons, timeout_s=30, expected_size=SIZE)
        final = a.data()
        lost = [o for o, data in markers.items() if final[o : o + len(data)] != data]
        assert not lost, f"round {r}: {len(lost)} markers lost, first at offset {lost[0]}"
        fds = [wf.open_fds(d.pid()) for d in survivors]
        rss = [wf.rss_kib(d.pid()) for d in survivors]
        if r == 0:
            baseline, rss_first = fds, rss
        wh.log(f"round {r + 1}/{ROUNDS}: b {how}ed and restarted, converged; a,c fds {fds}, "
               f"resident {rss} KiB")

    # Sessions to b close asynchronously: poll for the fd count to settle.
    for d, want in zip(survivors, baseline):
        wh.wait_until(lambda: wf.open_fds(d.pid()) <= want, 10,
                      f"{d.id} to return to {want} open fds (has {wf.open_fds(d.pid())}: "
                      f"{wf.fd_kinds(d.pid())})")
    rss_last = [wf.rss_kib(d.pid()) for d in survivors]
    growth = [last - first for first, last in zip(rss_first, rss_last)]
    h.note(f"{ROUNDS} restarts of b: converged every time, {len(markers)} markers intact; "
           f"a,c fds back to {baseline}; resident growth after round 1: {growth} KiB")
    if wf.is_sanitized(h.wmdd):
        h.note("AddressSanitizer build: resident memory not checked (quarantine)")
    else:
        assert max(growth) < RSS_GROWTH_LIMIT_KIB, f"resident memory grew by {growth} KiB"
    assert b.starts == ROUNDS + 1
    h.stop_all_checked(daemons)


if __name__ == "__main__":
    wh.run("restart_loop", body, __doc__)

#!/usr/bin/env python3
"""Drill (issue 11, honest flush): after a clock-poisoning attempt on every node of a
three-node mesh, `wmdctl flush` on each node exits 0 only when its change went out: the change
is on every other node within 2 s. Before the bound, a poisoned clock left every local change
pending while `wmdctl flush` still exited 0 and nothing was sent. (A flush whose scan leaves a
change it cannot stamp now exits 5, WMD_EPENDING; no hostile peer can cause that any more, so
this drill cannot provoke it from outside: the doorbell unit test covers it.)"""

import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wmd_drills as dr  # noqa: E402
import wmd_frames as wf  # noqa: E402
import wmd_harness as wh  # noqa: E402

SIZE = 1024 * 1024


def body(h):
    wmdctl = os.path.join(os.path.dirname(h.wmdd), "wmdctl")
    version = dr.daemon_protocol_version(h)
    nodes = h.mesh(3, SIZE, **{"scan-interval": 0})  # only flushes scan
    h.wait_converged(nodes, timeout_s=10, expected_size=SIZE)
    for d in nodes:
        mallory = dr.ForgedPeer(h, d, "mallory", SIZE, version)
        mallory.send(wf.patch("mallory", 1, 1 << 62, [(0, b"poisoned")]))
        mallory.closed_with_error()
    failures = []
    for i, d in enumerate(nodes):
        offset = 4096 + 64 * i
        value = h.rng.randbytes(16)
        m = wh.Mapping(d.segment)
        m.write(offset, value)
        m.close()
        run = subprocess.run([wmdctl, "flush", d.segment, "--timeout", "5000"],
                             capture_output=True, text=True, timeout=30)
        if run.returncode != 0:
            failures.append(f"wmdctl flush on {d.id} exited {run.returncode}: {run.stderr.strip()}")
            continue
        try:
            h.wait_visible(nodes, offset, value, timeout_s=dr.HONEST_DEADLINE_S)
        except AssertionError as e:
            failures.append(f"wmdctl flush on {d.id} exited 0 but the change did not arrive: {e}")
    # Without timed scans, the status block rides its own timer (it rides the scans otherwise):
    # it still shows the flushes' scans and both peers.
    def status_published():
        run = subprocess.run([wmdctl, "status", nodes[0].segment, "--json"],
                             capture_output=True, text=True, timeout=30)
        if run.returncode != 0:
            return None
        status = json.loads(run.stdout)
        connected = [p for p in status.get("peers", []) if p.get("state") == "connected"]
        scans = status.get("counters", {}).get("scans", 0)
        return status if scans > 0 and len(connected) >= 2 else None
    try:
        wh.wait_until(status_published, 10, "a's status block with its scans and both peers")
    except AssertionError as e:
        failures.append(f"status block not published without timed scans: {e}")
    dr.finish(h, "flush", failures, nodes)


if __name__ == "__main__":
    wh.run("drill_flush", body, __doc__)

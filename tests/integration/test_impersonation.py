#!/usr/bin/env python3
"""Drill (issue 11, finding 5): without TLS, clients presenting live peers' ids.

Three daemons a, b, c in a full mesh. Four clients keep reconnecting to a, each presenting the
id of b or c (a hello, then a patch from that id), for 4 s. The live sessions must not be
displaced (a refuses the newcomers with an Error and logs it; the forged patches are not
applied), honest writes on every node converge within 2 s during and after the churn, and a
genuinely restarted b (SIGKILL, so its old session on a dies silently) gets back in."""

import os
import signal
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wmd_drill  # noqa: E402
import wmd_frames as wf  # noqa: E402
import wmd_harness as wh  # noqa: E402

SIZE = 1024 * 1024
FORGED = (SIZE - 8 * wh.PAGE, b"forged!!")


def body(h):
    mesh = h.mesh(3, SIZE)
    a, b, c = mesh
    h.wait_converged(mesh)
    wmd_drill.honest_writes_converge(h, mesh, SIZE, what="start-up")
    time.sleep(1.0)  # not synchronisation: the sessions settle (two heartbeat intervals)

    log_before = len(a.log_text())  # start-up tie-breaks between real peers are not displacements
    stop = threading.Event()
    counts = {"connects": 0, "errors": 0}

    def churn(peer_id):
        while not stop.is_set():
            try:
                s = socket.create_connection(("127.0.0.1", a.port), timeout=2)
                s.sendall(wf.hello(h.cluster, peer_id, wh.PAGE, SIZE, lamport=1))
                s.sendall(wf.patch(peer_id, 1, 1 << 40, [FORGED]))
                data, _ = wh.recv_until_closed(s, 0.5)
                s.close()
                counts["connects"] += 1
                frames, _ = wh.split_frames(data)
                counts["errors"] += any(kind == wf.ERROR for kind, _ in frames)
            except OSError:
                pass

    threads = [threading.Thread(target=churn, args=(pid,)) for pid in ("b", "c", "b", "c")]
    for t in threads:
        t.start()
    try:
        deadline = time.monotonic() + 4.0
        while time.monotonic() < deadline:
            wmd_drill.honest_writes_converge(h, mesh, SIZE, what="impersonation churn")
    finally:
        stop.set()
        for t in threads:
            t.join()
    wh.log(f"churn: {counts['connects']} connections as b or c, {counts['errors']} refused")
    assert counts["connects"] > 0 and counts["errors"] == counts["connects"], counts
    assert a.data()[FORGED[0]:FORGED[0] + len(FORGED[1])] != FORGED[1], \
        "a patch from a client presenting a live peer's id was applied"
    assert "that peer has a live session" in a.log_text(), "a did not log the refusals"
    displaced = [line for line in a.log_text()[log_before:].splitlines()
                 if "disconnected from peer b" in line or "disconnected from peer c" in line]
    assert not displaced, f"live sessions were displaced: {displaced[:3]}"
    wmd_drill.honest_writes_converge(h, mesh, SIZE, what="impersonation churn")

    # A genuinely restarted peer: killed, so a's old session to it dies without a goodbye.
    b.signal(signal.SIGKILL)
    b.proc.wait()
    b.start()
    h.wait_converged(mesh, timeout_s=15)
    wmd_drill.honest_writes_converge(h, mesh, SIZE, what="b restarted after SIGKILL")
    h.stop_all_checked(mesh)


if __name__ == "__main__":
    wh.run("impersonation", body, __doc__)

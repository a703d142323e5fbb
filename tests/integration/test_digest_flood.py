#!/usr/bin/env python3
"""A peer that asks for digests (or heartbeats) faster than it reads cannot grow wmdd's memory,
nor keep its engine thread from serving everyone else.

After a valid (forged) hello, a client sends tiny Digests frames (last, reply requested, no
entries) as fast as it can and never reads. Each asks the daemon for its whole digest set
(18 bytes per non-zero page), so without a bound the daemon's send queue to that peer (control
frames are never dropped) grows by the digest set per request. The daemon's resident memory
must stay bounded, and it must stay alive and stop cleanly.

Each such frame is also a complete digest set, whose catch-up round costs the engine thread
O(pages): the daemon runs at most one round per peer per gap (at least 20 ms), the newest set
waiting. During the flood, writes on the flooded daemon and on an honest peer still reach the
other within the usual deadline, and the metrics show the flood coalesced: far fewer catch-up
rounds than requests, at most one per 20 ms."""

import os
import socket
import struct
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wmd_faults as wfa  # noqa: E402
import wmd_frames as wf  # noqa: E402
import wmd_harness as wh  # noqa: E402

SIZE = 16 * 1024 * 1024
FLOOD_SECONDS = 4.0
MAX_GROWTH_KIB = 256 * 1024  # its state (shadow, versions), a 16 MiB inbound backlog, catch-up steps
MIN_ROUND_GAP_S = 0.020  # the digest round limiter's floor (DigestRoundLimits::min_gap)
PROPAGATION_DEADLINE_S = 5.0


def metric(port, name):
    """One unlabelled sample from the daemon's --metrics endpoint, or None if absent."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        for line in response.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    return None


def flood(sock, frames, stop, counts):
    """Sends batches of frames until `stop` is set or the daemon stops reading for 2 s."""
    try:
        while not stop.is_set():
            sock.sendall(frames[0])
            counts["sent"] += frames[1]
    except (socket.timeout, OSError) as e:
        counts["stopped"] = str(e)


def body(h):
    intruder = wh.capture_hello(h, "in", id="intruder")
    (metrics_port,) = wh.free_ports(1)
    a, b = h.mesh(2, SIZE, start=False)
    a.options["metrics"] = f"127.0.0.1:{metrics_port}"
    for d in (a, b):
        d.start()
    m = wh.Mapping(a.segment)
    for page in range(SIZE // wh.PAGE):  # every page non-zero: a full digest set per request
        m.write(page * wh.PAGE, h.rng.randbytes(8) + b"\x01")
    m.close()
    h.wait_converged([a, b], timeout_s=30)
    rounds_before = wh.wait_until(lambda: metric(metrics_port, "wmd_catchups_total"), 15,
                                  "a's metrics endpoint")

    request = wf.frame(wf.DIGESTS, struct.pack("<QB", 0, 0x03) + wf.varint(0))
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", a.port))
    s.settimeout(2)
    flood_started = time.monotonic()
    s.sendall(intruder)
    before_kib = wfa.rss_kib(a.pid())
    counts = {"sent": 0}
    stop = threading.Event()
    flooder = threading.Thread(target=flood, args=(s, (request * 2000, 2000), stop, counts))
    flooder.start()
    try:
        time.sleep(FLOOD_SECONDS / 4)  # a workload duration: let the flood fill a's backlog
        # Everyone else is still served: a write on each side reaches the other.
        ma, mb = wh.Mapping(a.segment), wh.Mapping(b.segment)
        from_b = wh.nonzero_bytes(h.rng, 64)
        from_a = wh.nonzero_bytes(h.rng, 64)
        mb.write(3 * wh.PAGE + 128, from_b)
        ma.write(5 * wh.PAGE + 256, from_a)
        ma.close()
        mb.close()
        marks_written = time.monotonic()
        h.wait_visible([a], 3 * wh.PAGE + 128, from_b, timeout_s=PROPAGATION_DEADLINE_S)
        h.wait_visible([b], 5 * wh.PAGE + 256, from_a, timeout_s=PROPAGATION_DEADLINE_S)
        marks_s = time.monotonic() - marks_written
        assert flooder.is_alive(), f"the flood ended early: {counts}"
        # The rest of the workload.
        time.sleep(max(0.0, FLOOD_SECONDS - (time.monotonic() - flood_started)))
    finally:
        stop.set()
        flooder.join()
    sent = counts["sent"]
    if "stopped" in counts:
        wh.log(f"flood stopped: {counts['stopped']}")
    after_kib = wfa.rss_kib(a.pid())
    wh.log(f"{sent} digest requests; wmdd RSS {before_kib} KiB -> {after_kib} KiB")
    assert a.alive(), "wmdd died under the digest flood"
    assert after_kib - before_kib < MAX_GROWTH_KIB, (
        f"wmdd grew by {after_kib - before_kib} KiB under {sent} digest requests")
    s.close()
    h.note(f"{sent} digest requests from a peer that never reads: RSS +"
           f"{after_kib - before_kib} KiB; writes crossed a<->b in {marks_s:.2f} s meanwhile")

    # The requests were coalesced: the intruder got at most one catch-up round per gap, far
    # fewer than it asked for. (The metrics are published about once a second.)
    coalesced = wh.wait_until(
        lambda: metric(metrics_port, "wmd_digest_rounds_coalesced_total"), 15,
        "a's metrics to show coalesced digest rounds")
    rounds = metric(metrics_port, "wmd_catchups_total") - rounds_before
    elapsed_s = time.monotonic() - flood_started
    max_rounds = elapsed_s / MIN_ROUND_GAP_S + 1 + 4  # the gap's floor; b's rounds besides
    h.note(f"{sent} digest requests: {rounds:.0f} catch-up rounds started, {coalesced:.0f} "
           f"requests coalesced, at most {max_rounds:.0f} rounds allowed in {elapsed_s:.1f} s")
    assert rounds <= max_rounds, (
        f"{rounds} catch-up rounds for {sent} digest requests in {elapsed_s:.1f} s")
    assert rounds * 100 < sent, f"{rounds} catch-up rounds for {sent} digest requests"

    # The same with heartbeat requests, whose replies are control frames too.
    ping = wf.frame(wf.HEARTBEAT, struct.pack("<QB", 1, 0))
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", a.port))
    s.settimeout(2)
    s.sendall(intruder)
    before_kib = wfa.rss_kib(a.pid())
    sent = 0
    deadline = time.monotonic() + FLOOD_SECONDS
    try:
        while time.monotonic() < deadline:
            s.sendall(ping * 5000)
            sent += 5000
    except (socket.timeout, OSError) as e:
        wh.log(f"flood stopped: {e}")
    after_kib = wfa.rss_kib(a.pid())
    wh.log(f"{sent} heartbeat requests; wmdd RSS {before_kib} KiB -> {after_kib} KiB")
    assert a.alive(), "wmdd died under the heartbeat flood"
    assert after_kib - before_kib < MAX_GROWTH_KIB, (
        f"wmdd grew by {after_kib - before_kib} KiB under {sent} heartbeat requests")
    s.close()
    h.note(f"{sent} heartbeat requests from a peer that never reads: RSS +"
           f"{after_kib - before_kib} KiB")
    h.stop_all_checked()


if __name__ == "__main__":
    wh.run("digest_flood", body, __doc__)

#!/usr/bin/env python3
"""Signals during shutdown: a daemon whose only peer is frozen with SIGSTOP holds megabytes in
its send queue. One SIGTERM makes it wait for the (bounded) flush and exit 0; a second SIGTERM
while it waits ends it at once with exit code 1, saying so in its log. Either way the
replication state survives: a restarted daemon resumes it."""

import os
import re
import signal
import sys
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wmd_harness as wh  # noqa: E402

SIZE = 32 * 1024 * 1024
FILL = 24 * 1024 * 1024  # more than loopback socket buffers take: the rest waits in the queue
MIN_QUEUED = 1024 * 1024
EXIT_FLUSH_CUT_SHORT = 1
FIRST_SIGNAL_LINE = "received SIGTERM: final scan, flushing queues"
SECOND_SIGNAL_LINE = "received SIGTERM again: exiting now"


def queue_bytes(metrics_port):
    url = f"http://127.0.0.1:{metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    m = re.search(r"^wmd_queue_bytes (\S+)$", text, re.MULTILINE)
    return float(m.group(1)) if m else 0.0


def stalled_sender(h, ids):
    """A pair of daemons whose receiver is SIGSTOPped with the sender's queue non-empty."""
    (metrics_port,) = wh.free_ports(1)
    # Heartbeats must not drop the frozen peer (and its queue) during the test.
    sender, receiver = h.mesh(2, SIZE, ids=ids, start=False, **{"heartbeat-timeout": 120000})
    sender.options["metrics"] = f"127.0.0.1:{metrics_port}"
    for d in (sender, receiver):
        d.start()
    m = wh.Mapping(sender.segment)
    marker = h.rng.randbytes(8)
    m.write(0, marker)
    h.wait_visible([receiver], 0, marker, timeout_s=15)  # connected and syncing

    receiver.signal(signal.SIGSTOP)
    m.write(wh.PAGE, h.rng.randbytes(FILL))
    m.close()
    queued = wh.wait_until(lambda: queue_bytes(metrics_port) >= MIN_QUEUED and
                           queue_bytes(metrics_port), 30,
                           f"{sender.id}'s send queue to hold {MIN_QUEUED} bytes")
    wh.log(f"{receiver.id} stopped; {sender.id} has {queued:.0f} bytes queued")
    return sender, receiver


def wait_log_line(daemon, text, timeout_s=15):
    wh.wait_until(lambda: text in daemon.log_text(), timeout_s, f"'{text}' in {daemon.id}'s log")


def body(h):
    # --- one SIGTERM: the bounded flush runs out, exit 0 ----------------------------------
    a, b = stalled_sender(h, "ab")
    a.signal(signal.SIGTERM)
    rc = a.wait_exit(timeout_s=30)
    assert rc == 0, f"a single SIGTERM: exit status {rc} (expected 0)"
    log_a = a.log_text()
    assert FIRST_SIGNAL_LINE in log_a, "no shutdown line in a's log"
    assert SECOND_SIGNAL_LINE not in log_a
    h.note("one SIGTERM with a frozen peer: exit 0 after the bounded flush")

    # --- a second SIGTERM while the flush waits: exit 1 at once -------------------------
    c, d = stalled_sender(h, "cd")
    t0 = wh.time.monotonic()
    c.signal(signal.SIGTERM)
    wait_log_line(c, FIRST_SIGNAL_LINE)  # the first one is being handled: the flush waits
    c.signal(signal.SIGTERM)
    rc = c.wait_exit(timeout_s=30)
    elapsed = wh.time.monotonic() - t0
    assert rc == EXIT_FLUSH_CUT_SHORT, (
        f"two SIGTERMs: exit status {rc} (expected {EXIT_FLUSH_CUT_SHORT})")
    log_c = c.log_text()
    assert SECOND_SIGNAL_LINE in log_c, "no line about the second signal in c's log"
    assert "wmdd stopped (flush cut short)" in log_c
    h.note(f"two SIGTERMs with a frozen peer: exit {rc} in {elapsed:.2f} s")

    # --- nothing lost: both senders resume their state and their peers converge -----------
    for sender, receiver in ((a, b), (c, d)):
        receiver.signal(signal.SIGCONT)
        sender.start()
        h.wait_converged([sender, receiver], timeout_s=60, expected_size=SIZE)
        assert "state resumed" in sender.log_text(), f"{sender.id} did not resume its state"
    h.stop_all_checked()


if __name__ == "__main__":
    wh.run("signals", body, __doc__)

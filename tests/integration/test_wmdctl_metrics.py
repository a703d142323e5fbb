#!/usr/bin/env python3
"""Status and metrics: with two daemons syncing, `wmdctl status` (text and --json) shows the
peer connected with its RTT and queue, the clocks, the segment's size, the tracking mode and
counters that moved with the writes; `wmdctl flush` returns 0; the daemon's --metrics endpoint
serves Prometheus text with scans, scan time, changed pages and bytes, per-peer patches and
bytes, catch-ups, connection errors, queue depth and audit findings, and answers 404 elsewhere.
A stopped peer is listed as disconnected. Once the daemon stopped, `wmdctl status` and `flush`
exit 3 (no daemon)."""

import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wmd_harness as wh  # noqa: E402

SIZE = 2 * 1024 * 1024


def wmdctl(h, *args, timeout_s=20):
    exe = os.path.join(os.path.dirname(h.wmdd), "wmdctl")
    result = subprocess.run([exe, *args], capture_output=True, text=True, timeout=timeout_s)
    return result.returncode, result.stdout, result.stderr


def scrape(port, path="/metrics"):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
        return response.status, response.headers.get("Content-Type"), response.read().decode()


def metric(text, name, labels=None):
    """The value of one sample (labels: exact label text inside the braces, or None)."""
    pattern = re.escape(name) + (r"\{" + re.escape(labels) + r"\}" if labels else "") + r" (\S+)$"
    for line in text.splitlines():
        m = re.match(pattern, line)
        if m:
            return float(m.group(1))
    return None


def body(h):
    (metrics_port,) = wh.free_ports(1)
    a, b = h.mesh(2, SIZE, start=False)
    a.options["metrics"] = f"127.0.0.1:{metrics_port}"
    for d in (a, b):
        d.start()

    # Write only once the session has settled, so that the pages travel as a patch (written
    # before the peers meet, they would travel in the catch-up instead).
    def settled():
        rc, out, _ = wmdctl(h, "status", a.segment, "--json")
        peers = json.loads(out)["peers"] if rc == 0 else []
        return bool(peers) and peers[0]["state"] == "connected" and peers[0]["last_catchup_unix_ms"] > 0

    wh.wait_until(settled, 15, "a's session with b connected and caught up")
    m = wh.Mapping(a.segment)
    payload = wh.nonzero_bytes(h.rng, 3 * wh.PAGE)
    m.write(5 * wh.PAGE, payload)
    m.close()
    h.wait_visible([b], 5 * wh.PAGE, payload)

    # --- wmdctl status, JSON --------------------------------------------------------------
    def status_ready():
        rc, out, _ = wmdctl(h, "status", a.segment, "--json")
        if rc != 0:
            return None
        s = json.loads(out)
        peers = s["peers"]
        if (not peers or peers[0]["rtt_us"] == 0 or s["counters"]["pages_changed"] < 3
                or s["clocks"]["lamport"] == 0):
            return None
        return s

    s = wh.wait_until(status_ready, 15, "wmdctl status to show the peer, its RTT and the scan")
    assert s["daemon_running"] and s["daemon_pid"] == a.pid(), s
    assert s["size_bytes"] == SIZE and s["page_size_bytes"] == wh.PAGE, s
    assert s["tracking_mode"] in ("hash", "kernel"), s
    assert s["clocks"]["lamport"] > 0 and s["clocks"]["local_seq"] > 0, s
    peer = s["peers"][0]
    assert peer["peer_id"] == "b" and peer["state"] == "connected", peer
    assert peer["patches_sent"] >= 1, peer
    assert s["counters"]["scans"] > 0 and s["counters"]["bytes_changed"] >= 3 * wh.PAGE - 64, s
    h.note(f"wmdctl status --json: peer b connected, rtt {peer['rtt_us']} us, counters "
           f"{s['counters']}")

    def received_status():
        rc, out, _ = wmdctl(h, "status", b.segment, "--json")
        return rc == 0 and json.loads(out)["counters"]["patches_applied"] >= 1
    wh.wait_until(received_status, 10, "b's status to count the patch it applied")

    rc, out, err = wmdctl(h, "status", a.segment)
    assert rc == 0, (rc, err)
    for needle in ("segment " + a.segment, "daemon: pid", "clocks: lamport", "counters:",
                   "peers: 1", "connected"):
        assert needle in out, f"'{needle}' missing from wmdctl status:\n{out}"
    wh.log("wmdctl status:\n" + out)

    rc, out, err = wmdctl(h, "flush", a.segment, "--timeout", "5000")
    assert rc == 0 and "flushed" in out, (rc, out, err)

    # --- metrics ----------------------------------------------------------------------------
    code, content_type, text = scrape(metrics_port)
    assert code == 200 and content_type.startswith("text/plain"), (code, content_type)
    for name in ("wmd_scans_total", "wmd_scan_seconds_total", "wmd_pages_changed_total",
                 "wmd_bytes_changed_total", "wmd_catchups_total", "wmd_connection_errors_total",
                 "wmd_queue_bytes", "wmd_audit_findings_total", "wmd_patches_sent_total",
                 "wmd_patches_received_total"):
        assert metric(text, name) is not None, f"{name} missing from /metrics:\n{text}"
        assert f"# TYPE {name} " in text, f"no TYPE line for {name}"
    assert metric(text, "wmd_scans_total") > 0
    assert metric(text, "wmd_pages_changed_total") >= 3
    for name in ("wmd_peer_patches_sent_total", "wmd_peer_patches_received_total",
                 "wmd_peer_bytes_sent_total", "wmd_peer_bytes_received_total",
                 "wmd_peer_queue_bytes", "wmd_peer_rtt_seconds"):
        assert metric(text, name, 'peer="b"') is not None, f"{name}{{peer=\"b\"}} missing"
    assert metric(text, "wmd_peer_patches_sent_total", 'peer="b"') >= 1
    assert metric(text, "wmd_peer_bytes_sent_total", 'peer="b"') > 3 * wh.PAGE
    h.note(f"/metrics: {len(text.splitlines())} lines, scans "
           f"{metric(text, 'wmd_scans_total'):.0f}, scan time "
           f"{metric(text, 'wmd_scan_seconds_total'):.4f} s")
    try:
        scrape(metrics_port, "/other")
        raise AssertionError("/other answered 200")
    except urllib.error.HTTPError as e:
        assert e.code == 404, e.code

    # --- a peer goes away: listed as disconnected --------------------------------------------
    h.stop_all_checked([b])

    def b_disconnected():
        rc, out, _ = wmdctl(h, "status", a.segment, "--json")
        peers = json.loads(out)["peers"] if rc == 0 else []
        return [p for p in peers if p["peer_id"] == "b" and p["state"] == "disconnected"]

    gone = wh.wait_until(b_disconnected, 10, "a's status to list b as disconnected")
    assert gone[0]["last_catchup_unix_ms"] > 0, gone
    h.note("stopped peer b listed as disconnected, with its last catch-up time")

    # --- no daemon --------------------------------------------------------------------------
    h.stop_all_checked([a])
    rc, out, _ = wmdctl(h, "status", a.segment)
    assert rc == 3 and "NOT RUNNING" in out, (rc, out)
    rc, _, err = wmdctl(h, "flush", a.segment, "--timeout", "1000")
    assert rc == 3, (rc, err)
    h.note("daemon stopped: wmdctl status and flush exit 3")


if __name__ == "__main__":
    wh.run("wmdctl_metrics", body, __doc__)

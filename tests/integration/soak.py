#!/usr/bin/env python3
"""Soak (opt-in, not part of `make test`): 4 daemons in a full mesh on loopback, continuous
writers on every host for WMD_SOAK_MINUTES minutes (default 10), and a probe that writes a fresh
marker on a random host twice a second and times how long it takes to appear on the other three
(the divergence window). Prints progress every 30 s and, at the end, write and replication
throughput, the largest divergence window seen (with p50/p99), and the daemons' fds and memory
at the start and the end; then stops the writers and checks that all four converge. Exit
status 0 when they converged and every probe arrived.

Run it with `make soak` (scripts/soak), or:
  WMD_SOAK_MINUTES=1 tests/integration/soak.py --wmdd build/bin/wmdd"""

import os
import re
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wmd_faults as wf  # noqa: E402
import wmd_harness as wh  # noqa: E402

SIZE = 16 * 1024 * 1024
WRITE_REGION = SIZE // 2  # writers: the first half; probes: the second half, one slice per host
PROBE_TIMEOUT_S = 30
PROGRESS_S = 30


def scrape_total(port, name):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            text = r.read().decode()
    except OSError:
        return 0.0
    m = re.search(rf"^{name} (\S+)$", text, re.M)
    return float(m.group(1)) if m else 0.0


def percentile(values, q):
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def body(h):
    minutes = float(os.environ.get("WMD_SOAK_MINUTES", "10"))
    metrics_ports = wh.free_ports(4)
    daemons = h.mesh(4, SIZE, start=False, **{"log-level": "info", "stats-interval": 60})
    for d, port in zip(daemons, metrics_ports):
        d.options["metrics"] = f"127.0.0.1:{port}"
        d.start()
    h.wait_converged(daemons, timeout_s=30)
    readers = [wh.Mapping(d.segment) for d in daemons]
    start_fds = [wf.open_fds(d.pid()) for d in daemons]
    start_rss = [wf.rss_kib(d.pid()) for d in daemons]
    writers = [wh.Writer(d.segment, h.rng.randrange(1 << 30), limit=WRITE_REGION,
                         hot=(0, 64 * wh.PAGE), pace_s=0.003) for d in daemons]
    for w in writers:
        w.start()
    wh.log(f"soak: {minutes} min, 4 daemons, {len(writers)} writers, segment {SIZE} bytes")

    windows = []
    missed = 0
    started = time.monotonic()
    end = started + minutes * 60
    next_progress = started + PROGRESS_S
    slice_pages = (SIZE - WRITE_REGION) // wh.PAGE // 4
    probe = 0
    while time.monotonic() < end:
        i = h.rng.randrange(4)
        page = WRITE_REGION // wh.PAGE + i * slice_pages + h.rng.randrange(slice_pages)
        offset = page * wh.PAGE + 8 * h.rng.randrange(wh.PAGE // 8 - 4)
        marker = probe.to_bytes(8, "little") + h.rng.randbytes(8)
        probe += 1
        t0 = time.monotonic()
        readers[i].write(offset, marker)
        others = [r for j, r in enumerate(readers) if j != i]
        while True:
            if all(r.read(offset, 16) == marker for r in others):
                windows.append(time.monotonic() - t0)
                break
            if time.monotonic() - t0 > PROBE_TIMEOUT_S:
                missed += 1
                h.note(f"probe {probe} from {daemons[i].id} not everywhere after "
                       f"{PROBE_TIMEOUT_S} s")
                break
            time.sleep(0.001)
        if time.monotonic() >= next_progress:
            next_progress += PROGRESS_S
            elapsed = time.monotonic() - started
            ops = sum(w.ops for w in writers)
            wh.log(f"{elapsed:6.0f} s: {ops / elapsed:9.0f} writes/s, {len(windows)} probes, "
                   f"divergence window max {max(windows) * 1000:.1f} ms, "
                   f"p99 {percentile(windows, 0.99) * 1000:.1f} ms; "
                   f"all alive: {all(d.alive() for d in daemons)}")
        time.sleep(max(0.0, 0.5 - (time.monotonic() - t0)))

    elapsed = time.monotonic() - started
    for w in writers:
        w.stop()
    ops = sum(w.ops for w in writers)
    changed = sum(scrape_total(p, "wmd_bytes_changed_total") for p in metrics_ports)
    wire = sum(scrape_total(p, "wmd_wire_bytes_sent_total") for p in metrics_ports)
    patches = sum(scrape_total(p, "wmd_patches_sent_total") for p in metrics_ports)
    end_fds = [wf.open_fds(d.pid()) for d in daemons]
    end_rss = [wf.rss_kib(d.pid()) for d in daemons]
    h.wait_converged(daemons, timeout_s=60, expected_size=SIZE)
    for r in readers:
        r.close()

    print("=" * 78)
    print(f"soak: {elapsed / 60:.1f} min, 4 daemons, converged at the end")
    print(f"  writes:                {ops} ({ops / elapsed:.0f}/s over 4 writers)")
    print(f"  bytes changed (scans): {changed / elapsed / 1e6:.2f} MB/s")
    print(f"  patches queued:        {patches / elapsed:.0f}/s; wire {wire / elapsed / 1e6:.2f} MB/s")
    print(f"  divergence window:     max {max(windows) * 1000:.1f} ms, "
          f"p50 {percentile(windows, 0.5) * 1000:.1f} ms, "
          f"p99 {percentile(windows, 0.99) * 1000:.1f} ms over {len(windows)} probes; "
          f"{missed} missed")
    print(f"  fds start/end:         {start_fds} / {end_fds}")
    print(f"  resident KiB start/end: {start_rss} / {end_rss}")
    print("=" * 78)
    assert missed == 0, f"{missed} probes never reached every host"
    assert all(d.alive() for d in daemons), "a daemon died during the soak"
    h.stop_all_checked(daemons)


if __name__ == "__main__":
    wh.run("soak", body, __doc__)

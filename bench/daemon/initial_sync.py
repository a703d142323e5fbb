#!/usr/bin/env python3
"""Initial sync of a late joiner: segment A holds random bytes, B starts with an empty segment;
time from B's start until B's segment equals A's. Baselines measured in the same run: rsync
--whole-file of the same bytes between two /dev/shm files (target, issue 13: <= 1.0x), raw
loopback TCP throughput of iperf3 (one stream), the pwrite floor (backing two fresh copies,
data and shadow, by pwrite()) and the sync's data path alone (wmd-sync-floor, bench/sync_floor.cpp:
the same bytes read, sent over loopback TCP and written twice, between two processes). Wire bytes (A's sent, from its /metrics) against the segment's
non-zero bytes (target <= 1.02x), for the initial sync and for a B that joins while A's writer
is still writing (every byte should cross once).

A is filled through a mapping, then stopped with SIGTERM (its final scan absorbs the bytes) and
restarted, so that its replication state holds the data before B exists. The sync is timed
until B logs A's catch-up round done (after merging its last page state), then the segments are
compared (polling by comparison while the sync ran took 3.2-3.6 s of CPU from the two cores
during a 5.5-7.8 s sync of 1 GiB). B then starts again from nothing, WMD_BENCH_SYNC_RUNS times
in all, and rsync runs as often; the best of each is compared, each run starting after the same
warm_free_memory(). Joining while writing is polled by comparing (a chunk, once equal, stays
equal: A no longer changes by then).

Env: WMD_BENCH_SYNC_BYTES (default 1G), WMD_BENCH_SYNC_RUNS (default 3), WMD_BENCH_JOIN_BYTES
(default 128M), WMD_BENCH_IPERF_SECONDS (default 3), WMD_BENCH_SYNC_SCAN_MS (both daemons'
--scan-interval, default 100, the daemon's default)."""

import json
import mmap
import os
import subprocess
import sys
import time

import bench_common as bc

wh = bc.wh
CHUNK = 16 * bc.MiB
# The sync and rsync each run this many times, the best run of each compared (noise here only
# ever adds time), each run after the same warm_free_memory().
SYNC_RUNS = max(1, bc.env_int("WMD_BENCH_SYNC_RUNS", 3))
PAGE = 4096


def iperf3_bytes_per_s(seconds):
    (port,) = wh.free_ports(1)
    server = subprocess.Popen(["iperf3", "-s", "-1", "-p", str(port)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        wh.wait_until(lambda: wh.is_listening(port), 10, "iperf3 server")
        out = subprocess.run(["iperf3", "-c", "127.0.0.1", "-p", str(port), "-t", str(seconds),
                              "-J"], check=True, capture_output=True, text=True).stdout
        return json.loads(out)["end"]["sum_received"]["bits_per_second"] / 8
    finally:
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def fresh_memory_bytes_per_s(size):
    """What backing fresh shared memory costs here, the cheaper of two ways: writing a new
    /dev/shm object through a mapping (page faults, allocation, zeroing, the copy) and
    pwrite() in 64 MiB chunks (no zeroing, no faults). A receiver must back its data object
    and its shadow copy: two fresh bytes per byte synced, so rate / 2 bounds any initial sync
    on this machine. Returns (best rate, mapping rate, pwrite rate)."""
    chunk = b"\x5a" * (64 * bc.MiB)

    def timed(fill):
        path = "/dev/shm/wmd-bench-fresh-%d" % os.getpid()
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.ftruncate(fd, size)
            warm_free_memory(size)  # as before every timed copy here
            t = time.monotonic()
            fill(fd)
            return size / (time.monotonic() - t)
        finally:
            os.close(fd)
            os.unlink(path)

    def through_mapping(fd):
        m = mmap.mmap(fd, size)
        for off in range(0, size, len(chunk)):
            n = min(len(chunk), size - off)
            m[off:off + n] = chunk[:n]
        m.close()

    def by_pwrite(fd):
        for off in range(0, size, len(chunk)):
            os.pwrite(fd, chunk[:min(len(chunk), size - off)], off)

    # Best of two each: the first write of a run here is sometimes several times slower (128
    # MiB by pwrite: 0.9 GB/s, then 3.2 GB/s, the same preparation before each).
    mapped = max(timed(through_mapping) for _ in range(2))
    written = max(timed(by_pwrite) for _ in range(2))
    return max(mapped, written), mapped, written


def warm_free_memory(size):
    """Writes `size` bytes into a new /dev/shm object and frees it, just before a timed copy, so
    that the copy's fresh pages come from guest memory the hypervisor still backs. This VM hands
    free memory back to its host (free page reporting, page_reporting_order=11 on the kernel
    command line) a few seconds after it is freed; reusing such memory costs a host fault per
    4 KiB, and a cold 1 GiB copy here ran 3-4x slower than a warm one. rsync's second run could
    reuse its first run's freed pages and the pwrite floor ran right after the mapping test freed
    its object, while the sync, after A's restart, found cold memory: each timed copy now gets
    this preparation. It wears off as the kernel reports the freed memory (gradually, from about
    2 s after the free), so the sync, longer than rsync, may still meet some cold pages late in
    its run (the faults printed per run show it). Returns the seconds it took (cold memory makes
    it slow)."""
    path = "/dev/shm/wmd-bench-warm-%d" % os.getpid()
    chunk = b"\x5a" * (4 * bc.MiB)
    t = time.monotonic()
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.ftruncate(fd, size)
        for off in range(0, size, len(chunk)):
            os.pwrite(fd, chunk[:min(len(chunk), size - off)], off)
    finally:
        os.close(fd)
        os.unlink(path)
    return time.monotonic() - t


def fill_random(name, size, on_half=None):
    m = wh.Mapping(name)
    step = min(64 * bc.MiB, max(bc.MiB, size // 8))  # on_half needs a step boundary at half
    for off in range(0, size, step):
        if on_half and off >= size // 2:
            on_half()
            on_half = None
        m.write(off, os.urandom(min(step, size - off)))
    m.close()


def wait_equal(a, b, size, t0, deadline_s=600):
    """Polls until B's segment equals A's (16 MiB chunks); returns seconds since t0. With
    deadline_s=0, one pass: None when the segments differ.

    Light on the daemons it waits for: the files are read with pread() (a hole in B reads as
    zeros without being backed, as a read through a mapping would), one chunk at a time in
    order (pages mostly arrive in order), a chunk in full only once its last page is equal."""
    path_b = wh.shm_path(b.segment)
    wh.wait_until(lambda: os.path.exists(path_b) and os.stat(path_b).st_size == size, 60,
                  "B's segment to exist at full size", interval_s=0.002)
    fd_a = os.open(wh.shm_path(a.segment), os.O_RDONLY)
    fd_b = os.open(path_b, os.O_RDONLY)
    piece = 256 * 1024  # read and compared in pieces: two small buffers, reused
    buffers = {}  # length -> two bytearrays (bytearray == bytearray is one memcmp)

    def equal(off, length):
        for at in range(off, off + length, piece):
            n = min(piece, off + length - at)
            buf_a, buf_b = buffers.setdefault(n, (bytearray(n), bytearray(n)))
            if not (os.preadv(fd_a, [buf_a], at) == n and os.preadv(fd_b, [buf_b], at) == n and
                    buf_a == buf_b):
                return False
        return True

    try:
        pending = list(range(0, size, CHUNK))
        while pending:
            off = pending[0]
            length = min(CHUNK, size - off)
            tail = min(PAGE, length)
            if equal(off + length - tail, tail) and equal(off, length):
                pending.pop(0)
                continue
            if deadline_s == 0:
                return None
            if time.monotonic() > t0 + deadline_s or not b.alive():
                raise AssertionError(f"B did not catch up: {len(pending)} chunks differ, "
                                     f"b alive={b.alive()}")
            time.sleep(0.005)
        return time.monotonic() - t0
    finally:
        os.close(fd_a)
        os.close(fd_b)


def wait_catchup_logged(a, b, t0, log_from=0, deadline_s=600):
    """Polls B's log (from byte log_from: B's earlier runs wrote what comes before) until it
    reports A's catch-up round done ("catch-up from peer <A's id>: received N pages"): B logs it on
    A's CatchupDone, after every page state of the round is merged, so B holds A's bytes from
    then on (the caller checks). Returns seconds since t0. Reading the new lines of a log costs
    next to nothing, unlike comparing the segments while timing."""
    needle = f"catch-up from peer {a.id}: received ".encode()
    seen = log_from
    with open(b.log_path, "rb") as log:
        while True:
            log.seek(seen)
            text = log.read()
            if needle in text:
                return time.monotonic() - t0
            seen += max(0, text.rfind(b"\n") + 1)
            if time.monotonic() > t0 + deadline_s or not b.alive():
                raise AssertionError(f"B did not log A's catch-up done (b alive={b.alive()})")
            time.sleep(0.005)


def rsync_seconds(src_path, warm_bytes):
    """rsync --whole-file of the same bytes into a new /dev/shm file (copying, no delta), after
    the same warm_free_memory() as the sync."""
    dest = "/dev/shm/wmd-bench-rsync-%d" % os.getpid()
    try:
        warm_free_memory(warm_bytes)
        t = time.monotonic()
        subprocess.run(["rsync", "--whole-file", src_path, dest], check=True)
        return time.monotonic() - t
    finally:
        if os.path.exists(dest):
            os.unlink(dest)


def floor_seconds(floor_program, src_path, warm_bytes):
    """wmd-sync-floor (bench/sync_floor.cpp): the sync's data path alone, pread -> loopback TCP
    -> two pwrite() copies, between two processes, after the same warm_free_memory()."""
    copies = ["/dev/shm/wmd-bench-floor-%s-%d" % (kind, os.getpid()) for kind in ("data", "shadow")]
    try:
        warm_free_memory(warm_bytes)
        out = subprocess.run([floor_program, src_path] + copies, check=True, capture_output=True,
                             text=True).stdout
        return float(out.split()[1])  # "floor: SECONDS s for BYTES bytes"
    finally:
        for path in copies:
            if os.path.exists(path):
                os.unlink(path)


def with_metrics(daemons):
    ports = wh.free_ports(len(daemons))
    for d, port in zip(daemons, ports):
        d.options["metrics"] = f"127.0.0.1:{port}"
    return ports


# Peer ids as long as the default one (hostname:listen-port): a catch-up handles a timestamp per
# version run, millions per GiB, and one-letter ids (std::string's small buffer) hid what
# longer ids cost (issue 13: a fifth of both daemons' CPU, until PeerId).
PEER_IDS = ["replica-a.example.internal:7000", "replica-b.example.internal:7000"]


def initial_sync(wmdd, size, raw, written):
    h = bc.harness(wmdd, "sync")
    try:
        # The daemon's default scan interval (the tests' 50 ms would scan 1 GiB twice as often).
        scan_ms = bc.env_int("WMD_BENCH_SYNC_SCAN_MS", 100)
        a, b = h.mesh(2, size, ids=PEER_IDS, start=False, **{"scan-interval": scan_ms})
        port_a, _ = with_metrics([a, b])
        a.start()
        t = time.monotonic()
        fill_random(a.segment, size)
        print(f"  filled A with {size / bc.MiB:.0f} MiB of random bytes in "
              f"{time.monotonic() - t:.1f} s")
        t = time.monotonic()
        rc = a.stop(timeout_s=60)
        assert rc == 0, f"a exited with {rc} on SIGTERM"
        a.start(timeout_s=60)
        print(f"  A stopped (final scan) and restarted in {time.monotonic() - t:.1f} s")
        # B backs data, shadow and version lists: 2.2-2.3x the segment's bytes of fresh memory.
        warm_bytes = 3 * size
        runs = []  # (seconds, wire bytes)
        for run in range(SYNC_RUNS):
            if run > 0:  # B starts again from nothing: an empty segment, no state
                rc = b.stop(timeout_s=60)
                assert rc == 0, f"b exited with {rc} on SIGTERM after sync {run}"
                for path in wh.segment_files(b.segment):
                    if os.path.exists(path):
                        os.unlink(path)
            warm_s = warm_free_memory(warm_bytes)
            sent_before = bc.scrape_metric(port_a, "wmd_wire_bytes_sent_total")
            log_from = os.path.getsize(b.log_path) if os.path.exists(b.log_path) else 0
            cpu_a = bc.thread_cpu(a.pid())
            t0 = time.monotonic()
            b.start(wait_listening=False)
            elapsed = wait_catchup_logged(a, b, t0, log_from)
            # Where the CPU went, per thread, from B's start to the logged end of the round.
            cpu_a = bc.thread_cpu_delta(bc.thread_cpu(a.pid()), cpu_a)
            cpu_b = bc.thread_cpu_delta(bc.thread_cpu(b.pid()))
            if wait_equal(a, b, size, time.monotonic(), deadline_s=0) is None:
                # Another round (after a send-queue overflow, say) still brings pages.
                print("  B's segment was not yet equal to A's when B logged the catch-up done: "
                      "timed to equal segments instead (CPU figures to the first round's end)")
                elapsed = wait_equal(a, b, size, t0)
            time.sleep(0.3)  # the CatchupDone and the last frames are counted
            wire = bc.scrape_metric(port_a, "wmd_wire_bytes_sent_total") - sent_before
            print(f"  sync {run + 1}: {elapsed:.2f} s (memory warmed in {warm_s:.1f} s before); "
                  f"CPU: sender A: {bc.format_thread_cpu(cpu_a)}; receiver B: "
                  f"{bc.format_thread_cpu(cpu_b)}", flush=True)
            runs.append((elapsed, wire))
        b.stop()
        a.stop()
        path_a = wh.shm_path(a.segment)
        nonzero = bc.nonzero_bytes(path_a)
        rsync_s = min(rsync_seconds(path_a, warm_bytes) for _ in range(SYNC_RUNS))
        floor_program = os.path.join(os.path.dirname(wmdd), "wmd-sync-floor")
        path_floor_s = min(floor_seconds(floor_program, path_a, warm_bytes)
                           for _ in range(SYNC_RUNS))
    finally:
        h.close()
    elapsed = min(seconds for seconds, _ in runs)
    wire = max(wire for _, wire in runs)  # every run sends the same bytes; the worst counts
    rate = size / elapsed
    floor_s = 2 * size / written  # data object and shadow copy, both by pwrite
    print(f"  B caught up {size / bc.MiB:.0f} MiB in {elapsed:.2f} s, best of {SYNC_RUNS} (from its "
          f"start, including its start-up; --scan-interval {scan_ms}); rsync --whole-file of the "
          f"same bytes between two /dev/shm files {rsync_s:.2f} s, best of {SYNC_RUNS}; pwrite "
          f"floor (two copies) {floor_s:.2f} s; the sync's data path alone (wmd-sync-floor: "
          f"pread, loopback TCP, two pwrite copies, two processes) {path_floor_s:.2f} s")
    bc.report(f"initial sync {size / bc.MiB:.0f} MiB vs rsync", f"{elapsed:.2f} s",
              f"rsync --whole-file {rsync_s:.2f} s", f"{elapsed / rsync_s:.2f}x", "<= 1.0x",
              elapsed <= rsync_s)
    bc.report(f"initial sync {size / bc.MiB:.0f} MiB vs iperf3", f"{rate / 1e9:.2f} GB/s",
              f"iperf3 loopback {raw / 1e9:.2f} GB/s", f"{rate / raw:.3f}x", ">= 0.5x",
              rate >= 0.5 * raw)
    bc.report(f"initial sync {size / bc.MiB:.0f} MiB vs pwrite", f"{elapsed:.2f} s",
              f"pwrite of 2 copies {floor_s:.2f} s", f"{elapsed / floor_s:.2f}x", "none", True)
    # What any implementation of this design takes here: the target is set against rsync, which
    # backs one copy where a replica backs two (data and shadow).
    bc.report(f"initial sync {size / bc.MiB:.0f} MiB vs its data path", f"{elapsed:.2f} s",
              f"wmd-sync-floor {path_floor_s:.2f} s (rsync / floor {rsync_s / path_floor_s:.2f}x)",
              f"{elapsed / path_floor_s:.2f}x", "none", True)
    bc.report(f"initial sync wire / non-zero bytes", f"{wire:,.0f} B",
              f"non-zero {nonzero:,} B", f"{wire / nonzero:.3f}x", "<= 1.02x",
              wire <= 1.02 * nonzero)


def join_while_writing(wmdd, size):
    """B joins while A's writer is still writing and A absorbing: every byte should cross once."""
    h = bc.harness(wmdd, "join")
    try:
        a, b = h.mesh(2, size, ids=PEER_IDS, start=False, **{"scan-interval": 100})
        port_a, _ = with_metrics([a, b])
        a.start()
        sent_before = bc.scrape_metric(port_a, "wmd_wire_bytes_sent_total")
        t0 = time.monotonic()
        fill_random(a.segment, size, on_half=lambda: b.start(wait_listening=False))
        wait_equal(a, b, size, t0)
        time.sleep(0.3)
        wire = bc.scrape_metric(port_a, "wmd_wire_bytes_sent_total") - sent_before
        b.stop()
        a.stop()
        nonzero = bc.nonzero_bytes(wh.shm_path(a.segment))
    finally:
        h.close()
    bc.report(f"join while writing {size / bc.MiB:.0f} MiB: wire", f"{wire:,.0f} B",
              f"non-zero {nonzero:,} B", f"{wire / nonzero:.3f}x", "<= 1.02x",
              wire <= 1.02 * nonzero)


def main():
    wmdd = bc.find_wmdd(sys.argv)
    size = bc.env_int("WMD_BENCH_SYNC_BYTES", bc.GiB)
    iperf_s = bc.env_int("WMD_BENCH_IPERF_SECONDS", 3)
    raw = iperf3_bytes_per_s(iperf_s)
    print(f"  baseline: iperf3 loopback, one stream, {iperf_s} s: {raw / 1e9:.2f} GB/s")
    fresh, mapped, written = fresh_memory_bytes_per_s(size)
    bound = fresh / 2  # data object and shadow copy: two fresh bytes per byte synced
    print(f"  floor: backing fresh /dev/shm memory: {mapped / 1e9:.2f} GB/s through a mapping, "
          f"{written / 1e9:.2f} GB/s by pwrite; a receiver backs its data and its shadow copy, "
          f"so no sync here can beat {bound / 1e9:.2f} GB/s = {bound / raw:.2f}x of iperf3")
    initial_sync(wmdd, size, raw, written)
    join_while_writing(wmdd, bc.env_int("WMD_BENCH_JOIN_BYTES", 128 * bc.MiB))
    return 0  # targets are reported, not enforced: a benchmark fails only when it cannot run


if __name__ == "__main__":
    sys.exit(main())

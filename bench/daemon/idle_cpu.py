#!/usr/bin/env python3
"""The whole daemon's CPU with an idle registered writer (issue 5): wmdd over a 1 GiB segment
that a libwmd writer (wmd-test-writer, registered with kernel dirty tracking) has filled and
then leaves alone. CPU is wmdd's user + system time from /proc over a measuring window, at
the default 100 ms interval, in the same run for:
  - kernel mode with the default audit (a full hash scan every 10 s),
  - kernel mode without audits (--audit-interval 1 h): the tracking rounds alone,
  - hash mode (the baseline: every page hashed every interval),
  - wmd-idle-floor (bench/idle_floor.cpp): the least any daemon of this design can take idle
    with the same defaults (a shadow resident, a wakeup per scan interval, a full hash per audit
    interval), on this machine, now.
Target (issues 5 and 13): under 1 % of one core for 1 GiB in kernel mode.

Env: WMD_BENCH_IDLE_BYTES (default 1G), WMD_BENCH_IDLE_SECONDS (window, default 30)."""

import os
import subprocess
import sys
import time

import bench_common as bc

wh = bc.wh
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def wakeups(pid):
    """Voluntary context switches of all of pid's threads: how often the daemon slept and woke."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                for line in f:
                    if line.startswith("voluntary_ctxt_switches:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def damon_state():
    """'on' when the kernel's DAMON runs here (kdamond sampling memory, e.g. for proactive
    reclaim): on such machines every wakeup of a process with a large resident set costs far
    more (README: the daemon's idle CPU)."""
    root = "/sys/kernel/mm/damon/admin/kdamonds"
    states = []
    try:
        for k in os.listdir(root):
            if k.isdigit():
                with open(f"{root}/{k}/state") as f:
                    states.append(f.read().strip())
    except OSError:
        return "unknown"
    return "on" if "on" in states else "off"


def measure(h, wmdd_dir, size, seconds, tag, **options):
    (d,) = h.mesh(1, size, ids=tag, **{"scan-interval": 100, "log-level": "info", **options})
    writer = subprocess.Popen([os.path.join(wmdd_dir, "wmd-test-writer"), d.segment, "kernel"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().startswith("ok pid"), "wmd-test-writer did not start"
        writer.stdin.write(f"w 0 {size} 7\n")
        writer.stdin.flush()
        assert writer.stdout.readline().startswith("ok"), "the writer's fill failed"
        bc.wait_idle(d)
        start_cpu, start, start_wakeups = cpu_seconds(d.pid()), time.monotonic(), wakeups(d.pid())
        time.sleep(seconds)
        used = cpu_seconds(d.pid()) - start_cpu
        elapsed = time.monotonic() - start
        percent = used / elapsed * 100
        per_second = (wakeups(d.pid()) - start_wakeups) / elapsed
    finally:
        writer.stdin.close()
        writer.wait(10)
    d.stop()
    return percent, per_second


def floor_percent(wmdd_dir, size, seconds, audit_ms=10_000):
    """wmd-idle-floor's own CPU over the same window, in % of a core, and its line. Its audit
    uses a helper thread where wmdd's does: from 64 MiB (HashChangeDetector's threshold)."""
    threads = 2 if size >= 64 * bc.MiB else 1
    out = subprocess.run([os.path.join(wmdd_dir, "wmd-idle-floor"), str(size), str(seconds),
                          "100", str(audit_ms), str(threads)],
                         check=True, capture_output=True, text=True).stdout.strip()
    return float(out.split()[2]), out  # "idle floor: PERCENT % of a core ..."


def main():
    wmdd = bc.find_wmdd(sys.argv)
    size = bc.env_int("WMD_BENCH_IDLE_BYTES", bc.GiB)
    seconds = bc.env_int("WMD_BENCH_IDLE_SECONDS", 30)
    h = bc.harness(wmdd, "idle")
    try:
        wmdd_dir = os.path.dirname(wmdd)
        kernel, kernel_wakeups = measure(h, wmdd_dir, size, seconds, "k", tracking="kernel")
        rounds, _ = measure(h, wmdd_dir, size, seconds, "r", tracking="kernel",
                            **{"audit-interval": 3_600_000})
        hashed, _ = measure(h, wmdd_dir, size, seconds, "h", tracking="hash")
        floor, floor_line = floor_percent(wmdd_dir, size, seconds)
        floor_rounds, _ = floor_percent(wmdd_dir, size, seconds, audit_ms=3_600_000)
    finally:
        h.close()
    mib = size / bc.MiB
    print(f"  wmdd CPU, idle registered writer, {mib:.0f} MiB, 100 ms interval, {seconds} s "
          f"windows: kernel {kernel:.2f} % of a core (rounds alone {rounds:.2f} %, the 10 s "
          f"audit {kernel - rounds:.2f} %), hash {hashed:.1f} %; kernel mode woke "
          f"{kernel_wakeups:.1f} times a second (all threads); DAMON {damon_state()}")
    # wmdd's figures come from /proc in clock ticks (10 ms): over a 30 s window its rounds alone
    # are a few ticks, so their ratio is coarse; the floor's come from getrusage() in us.
    floor_audit = max(floor - floor_rounds, 1e-9)
    print(f"  wmd-{floor_line}; without audits {floor_rounds:.2f} % (the daemon's rounds: "
          f"{rounds / max(floor_rounds, 1e-9):.1f}x of it; its audit: "
          f"{(kernel - rounds) / floor_audit:.2f}x)")
    bc.report(f"daemon idle CPU {mib:.0f} MiB, kernel", f"{kernel:.2f} % of a core",
              f"hash mode {hashed:.1f} %", f"{kernel / hashed:.3f}x", "< 1 % of a core",
              kernel < 1.0)
    # What no daemon of this design can go below here, whatever its own code does: the target
    # is out of reach on a machine where this is near or above 1 %.
    bc.report(f"daemon idle CPU {mib:.0f} MiB vs its floor", f"{kernel:.2f} % of a core",
              f"wmd-idle-floor {floor:.2f} %", f"{kernel / floor:.2f}x", "none", True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Shared bits of the wmdd benchmarks: finding wmdd, the integration harness, env-var sizes,
and the one-line result format (figure, baseline measured in the same run, ratio, target)."""

import os
import re
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "integration"))
import wmd_harness as wh  # noqa: E402,F401  (re-exported)

MiB = 1024 * 1024
GiB = 1024 * MiB


def env_int(name, default):
    value = os.environ.get(name)
    if not value:
        return default
    suffixes = {"K": 1024, "M": MiB, "G": GiB}
    if value[-1].upper() in suffixes:
        return int(float(value[:-1]) * suffixes[value[-1].upper()])
    return int(value)


def find_wmdd(argv):
    """wmdd from --wmdd PATH, else BUILD/bin/wmdd from the first argument (a build dir)."""
    if "--wmdd" in argv:
        return argv[argv.index("--wmdd") + 1]
    build = argv[1] if len(argv) > 1 and not argv[1].startswith("-") else "build"
    path = os.path.join(build, "bin", "wmdd")
    if not os.access(path, os.X_OK):
        sys.exit(f"wmdd not found at {path} (build it, or pass --wmdd PATH)")
    return path


def harness(wmdd, name):
    seed = env_int("WMD_BENCH_SEED", int(time.time()) % 100000)
    h = wh.Harness(wmdd, name, seed, keep_logs=bool(os.environ.get("WMD_BENCH_KEEP_LOGS")))
    print(f"  ({name}: seed {seed}, logs in {h.tmp})", flush=True)
    return h


results = []


def report(name, figure, baseline, ratio, target_text, met):
    """One benchmark line: the figure, the baseline measured in the same run beside it, their
    ratio, and whether the issue's target is met. All three are preformatted texts."""
    verdict = "MET" if met else "NOT MET"
    results.append((name, met))
    print(f"RESULT {name:<34} {figure:<22} baseline {baseline:<32} ratio {ratio:<10} "
          f"target {target_text}: {verdict}", flush=True)


def thread_cpu(pid):
    """{thread id: (name, CPU seconds, minor page faults)} of a live process (wmdd names its
    threads wmdd, wmdd-engine, wmdd-flush, ...; a thread inherits its creator's name)."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                stat = f.read()
        except FileNotFoundError:
            continue  # the thread ended while listing
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        cpu = (int(fields[11]) + int(fields[12])) / tick  # utime, stime
        faults = int(fields[7])  # minflt
        out[int(tid)] = (name, cpu, faults)
    return out


def thread_cpu_delta(after, before=None):
    """{thread name: (CPU seconds, faults)} from `before` to `after` (both thread_cpu()), each
    thread counted against its own earlier figures and threads of one name summed. A thread
    that ended in between is missing from `after`: its share is left out (the sums by name
    once went negative when a start-up thread named like the engine ended during a sync)."""
    before = before or {}
    out = {}
    for tid, (name, cpu, faults) in after.items():
        _, cpu_was, faults_was = before.get(tid, (name, 0.0, 0))
        prev = out.get(name, (0.0, 0))
        out[name] = (prev[0] + cpu - cpu_was, prev[1] + faults - faults_was)
    return out


def format_thread_cpu(delta):
    return ", ".join(f"{name} {cpu:.2f} s/{faults:,} faults"
                     for name, (cpu, faults) in sorted(delta.items()) if cpu > 0 or faults > 0)


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, int(round(p / 100 * (len(sorted_values) - 1)))))
    return sorted_values[k]


def scrape_metric(port, name):
    """One value of a daemon's /metrics (--metrics 127.0.0.1:PORT); 0 when absent."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    m = re.search(rf"^{name} (\S+)$", text, re.M)
    return float(m.group(1)) if m else 0.0


def nonzero_bytes(path, chunk=64 * MiB):
    """Bytes of a file that are not zero."""
    total = 0
    with open(path, "rb") as f:
        while True:
            block = f.read(chunk)
            if not block:
                return total
            total += len(block) - block.count(0)


def wait_idle(daemon, timeout_s=300):
    """Waits until a daemon's periodic stats line (--stats-interval, 5 s in the harness) reports
    at least 20 scans and no changed page: the daemon has absorbed its workload and runs its
    timed rounds again. A round that absorbed a large fill holds the next one back (3x its
    duration), so a fixed sleep can measure a window without any round in it."""
    pattern = re.compile(r"stats: (\d+) scans, (\d+) pages changed")

    def idle():
        lines = pattern.findall(daemon.log_text())
        return bool(lines) and int(lines[-1][0]) >= 20 and int(lines[-1][1]) == 0

    wh.wait_until(idle, timeout_s, f"{daemon.id} idle (stats: >= 20 scans, none changed)",
                  interval_s=0.5)

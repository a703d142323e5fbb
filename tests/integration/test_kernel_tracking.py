#!/usr/bin/env python3
"""Kernel dirty tracking in wmdd (issue 5): two daemons with --tracking kernel and a short
--audit-interval, and writer processes registered through libwmd (wmd-test-writer).
- A registered writer's pages reach the peer byte for byte, found by the kernel path: the daemon
  reports tracking mode "kernel" (wmdctl status --json) and its stats lines count the pages the
  kernel reported; the audit finds nothing behind it.
- An unregistered writer (a python mmap of /dev/shm/NAME) next to the registered one is caught
  by the periodic audit scan, counted as audit findings (log warning and /metrics) and
  replicated.
- A writer killed with SIGKILL is logged as gone; with no registered writer left, every scan
  is a hash scan again (status mode "hash") and unregistered writes replicate.
- --tracking hash: the start-up line says so, registered writers are never asked about, the
  mode stays "hash" and writes replicate as before.
(--tracking kernel on a kernel without PAGEMAP_SCAN cannot be tested on a kernel that has it.)"""

import json
import os
import re
import signal
import subprocess
import sys
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wmd_harness as wh  # noqa: E402

SIZE = 2 * 1024 * 1024
AUDIT_MS = 500


class TestWriter:
    """A wmd-test-writer process: registers with libwmd, then writes what we tell it."""

    def __init__(self, h, segment, registration="kernel"):
        exe = os.path.join(os.path.dirname(h.wmdd), "wmd-test-writer")
        self.proc = subprocess.Popen([exe, segment, registration], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, bufsize=1,
                                     preexec_fn=wh._die_with_parent)
        self.pid = self.proc.pid
        first = self.proc.stdout.readline().strip()
        assert first.startswith("ok pid"), f"wmd-test-writer did not start: {first!r}"

    def command(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        reply = self.proc.stdout.readline().strip()
        assert reply.startswith("ok"), f"wmd-test-writer: {line!r} -> {reply!r}"

    def fill(self, offset, length, value):
        self.command(f"w {offset} {length} {value}")

    def quit(self):
        if self.proc.poll() is None:
            self.proc.stdin.write("q\n")
            self.proc.stdin.flush()
        self.proc.wait(10)

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)


def wmdctl_status(h, segment):
    exe = os.path.join(os.path.dirname(h.wmdd), "wmdctl")
    result = subprocess.run([exe, "status", segment, "--json"], capture_output=True, text=True,
                            timeout=20)
    assert result.returncode == 0, f"wmdctl status: {result.returncode} {result.stderr}"
    return json.loads(result.stdout)


def scrape_metric(port, name):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    for line in text.splitlines():
        m = re.match(re.escape(name) + r"(\{[^}]*\})? (\S+)$", line)
        if m:
            return float(m.group(2))
    raise AssertionError(f"{name} missing from /metrics")


def kernel_pages_reported(daemon):
    """Pages the kernel path reported, summed over the daemon's stats lines so far."""
    counts = re.findall(r"stats: tracking \w+: \d+ kernel rounds \((\d+) pages reported\)",
                        daemon.log_text())
    return sum(int(c) for c in counts)


def wait_log(daemon, needle, what, timeout_s=10):
    wh.wait_until(lambda: needle in daemon.log_text(), timeout_s, what)


def kernel_mode(h, daemon):
    return wmdctl_status(h, daemon.segment).get("tracking_mode")


def pattern(value, length):
    return bytes([value]) * length


def body(h):
    (metrics_port,) = wh.free_ports(1)
    a, b = h.mesh(2, SIZE, start=False, tracking="kernel", audit_interval=AUDIT_MS,
                  stats_interval=1)
    a.options["metrics"] = f"127.0.0.1:{metrics_port}"
    for d in (a, b):
        d.start()
    for d in (a, b):
        wait_log(d, "tracking: kernel (--tracking kernel)", f"{d.id}'s start-up tracking line")
    h.wait_converged([a, b])

    # --- a registered writer: the kernel path finds its pages ---------------------------------
    writer = TestWriter(h, a.segment, "kernel")
    wait_log(a, f"writer pid {writer.pid} (slot", "the daemon to pick up the registered writer")
    assert re.search(rf"writer pid {writer.pid} \(slot \d+\): kernel dirty tracking",
                     a.log_text()), "the registered writer is not kernel-tracked"
    wh.wait_until(lambda: kernel_mode(h, a) == "kernel", 10, "status tracking mode 'kernel'")
    reported_before = kernel_pages_reported(a)
    pages = sorted(h.rng.sample(range(SIZE // wh.PAGE), 12))
    for i, page in enumerate(pages):
        writer.fill(page * wh.PAGE + 100, 3000, 1 + i)
    for i, page in enumerate(pages):
        h.wait_visible([b], page * wh.PAGE + 100, pattern(1 + i, 3000))
    h.wait_converged([a, b])
    wh.wait_until(lambda: kernel_pages_reported(a) - reported_before >= len(pages), 10,
                  f"a's stats lines to count {len(pages)} pages reported by the kernel")
    assert kernel_mode(h, a) == "kernel"
    assert scrape_metric(metrics_port, "wmd_audit_findings_total") == 0, \
        "the audit found pages behind a registered writer"
    h.note(f"registered writer: {len(pages)} pages replicated, "
           f"{kernel_pages_reported(a) - reported_before} pages reported by the kernel, "
           "no audit findings")

    # --- an unregistered writer next to it: the audit catches it -----------------------------
    m = wh.Mapping(a.segment)
    hidden = [p for p in range(SIZE // wh.PAGE) if p not in pages][:5]
    for i, page in enumerate(hidden):
        m.write(page * wh.PAGE + 7, pattern(0x80 + i, 500))
    for i, page in enumerate(hidden):
        h.wait_visible([b], page * wh.PAGE + 7, pattern(0x80 + i, 500))
    wait_log(a, "audit found", "the audit's warning")
    wh.wait_until(lambda: scrape_metric(metrics_port, "wmd_audit_findings_total") >= len(hidden),
                  10, f"{len(hidden)} audit findings in /metrics")
    h.wait_converged([a, b])
    h.note(f"unregistered writer: {len(hidden)} pages caught by the audit and replicated")

    # --- the registered writer dies: gone, hash scans again ----------------------------------
    writer.kill()
    wh.wait_until(lambda: re.search(rf"writer pid {writer.pid} \(slot \d+\): gone", a.log_text()),
                  10, "the dead writer to be logged as gone")
    wh.wait_until(lambda: kernel_mode(h, a) == "hash", 10, "status tracking mode 'hash'")
    m.write(SIZE - wh.PAGE, pattern(0x55, wh.PAGE))
    h.wait_visible([b], SIZE - wh.PAGE, pattern(0x55, wh.PAGE))
    m.close()
    h.wait_converged([a, b])
    h.note("dead writer: logged as gone, hash scans replicate the rest")

    # --- --tracking hash: as before -----------------------------------------------------------
    c, d = h.mesh(2, SIZE, ids="cd", tracking="hash")
    wait_log(c, "tracking: hash (--tracking hash)", "c's start-up tracking line")
    plain = TestWriter(h, c.segment, "kernel")
    plain.fill(3 * wh.PAGE, 2 * wh.PAGE, 0x33)
    h.wait_visible([d], 3 * wh.PAGE, pattern(0x33, 2 * wh.PAGE))
    plain.quit()
    h.wait_converged([c, d])
    wh.wait_until(lambda: kernel_mode(h, c) == "hash", 10, "c's status tracking mode 'hash'")
    assert "kernel dirty tracking" not in c.log_text().split("tracking: hash")[-1], \
        "--tracking hash asked the kernel about a writer"
    h.note("--tracking hash: registered writer hash-scanned, replicated")

    h.stop_all_checked()


if __name__ == "__main__":
    wh.run("kernel_tracking", body, __doc__)

#!/usr/bin/env python3
"""systemd: the unit systemd/wmdd@.service passes `systemd-analyze verify` (with ExecStart
pointing at the built wmdd) without a warning about the unit, keeps the hardening and /dev/shm
promises of issue 6, and wmdd speaks the notify protocol: READY=1 once it listens with the
segment mapped, STATUS= lines, WATCHDOG=1 when the watchdog is enabled and STOPPING=1 on
SIGTERM (checked on a notify socket of our own, as systemd would provide). The example
config file is accepted by wmdd as it is.

Where systemd-analyze is missing, the verify step is skipped with a message; the rest runs."""

import os
import shutil
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wmd_harness as wh  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
UNIT = os.path.join(REPO, "systemd", "wmdd@.service")
EXAMPLE = os.path.join(REPO, "systemd", "wmdd.conf.example")


def unit_settings(text):
    settings = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or line.startswith("["):
            continue
        key, _, value = line.partition("=")
        settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def check_unit_text(h):
    text = open(UNIT).read()
    s = unit_settings(text)
    expected = {
        "Type": "notify",
        "Restart": "on-failure",
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "ReadWritePaths": "/dev/shm",
        "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
    }
    for key, value in expected.items():
        assert value in s.get(key, []), f"{key}={value} missing from the unit (has {s.get(key)})"
    exec_start = s["ExecStart"][0]
    assert "--config /etc/wmdd/%i.conf" in exec_start, exec_start
    assert "--segment /%i" in exec_start, exec_start
    # Settings that would hide or isolate /dev/shm from the runtimes sharing the segment.
    for key in ("PrivateDevices", "PrivateIPC", "InaccessiblePaths"):
        assert key not in s or s[key] == ["no"], f"{key} would hide /dev/shm: {s[key]}"
    h.note("unit text: Type=notify, restart on failure, hardening and /dev/shm access present")


def verify_unit(h):
    if shutil.which("systemd-analyze") is None:
        h.note("SKIPPED systemd-analyze verify: systemd-analyze not installed (apt-get install "
               "systemd); the unit's text was still checked")
        return
    unit_dir = os.path.join(h.tmp, "units")
    os.makedirs(unit_dir)
    text = open(UNIT).read().replace("/usr/bin/wmdd", h.wmdd)
    with open(os.path.join(unit_dir, "wmdd@.service"), "w") as f:
        f.write(text)
    instance = os.path.join(unit_dir, "wmdd@wasm0.service")
    result = subprocess.run(["systemd-analyze", "verify", "--man=no", instance],
                            capture_output=True, text=True, timeout=60)
    output = (result.stdout + result.stderr).strip()
    wh.log(f"systemd-analyze verify: exit {result.returncode}; output: {output or '(none)'}")
    # verify exits 0 on unknown keys and only warns: any line about our unit is a failure.
    about_unit = [line for line in output.splitlines() if "wmdd@" in line]
    assert result.returncode == 0 and not about_unit, f"systemd-analyze verify: {output}"
    h.note("systemd-analyze verify passed without warnings")


class NotifySocket:
    """A unix datagram socket standing in for systemd's $NOTIFY_SOCKET."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(0.05)
        self.messages = []

    def poll(self):
        while True:
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                return self.messages
            for line in data.decode().splitlines():
                self.messages.append(line)

    def has(self, prefix):
        return any(m.startswith(prefix) for m in self.poll())

    def close(self):
        self.sock.close()


def check_notify(h):
    notify = NotifySocket(os.path.join(h.tmp, "notify.sock"))
    try:
        (port,) = wh.free_ports(1)
        d = h.daemon("n1", h.segment_name("notify"), port, size=1024 * 1024)
        env = dict(os.environ, NOTIFY_SOCKET=notify.path, WATCHDOG_USEC="400000")
        env.pop("WATCHDOG_PID", None)  # no pid: the watchdog is meant for whoever reads it
        d.start(wait_listening=False, env=env)
        wh.wait_until(lambda: notify.has("READY=1"), 15, "READY=1 on the notify socket")
        assert wh.is_listening(port), "READY=1 came before the daemon listened"
        assert os.path.exists(wh.shm_path(d.segment) + ".ctl"), "READY=1 before the segment"
        wh.wait_until(lambda: notify.has("STATUS="), 10, "a STATUS= line")
        # WATCHDOG_USEC=400 ms: pings at least every 200 ms, so several within 2 s.
        wh.wait_until(lambda: sum(m == "WATCHDOG=1" for m in notify.poll()) >= 3, 5,
                      "three WATCHDOG=1 pings")
        assert d.stop() == 0, "wmdd did not exit 0 on SIGTERM"
        wh.wait_until(lambda: notify.has("STOPPING=1"), 5, "STOPPING=1 after SIGTERM")
        statuses = [m for m in notify.poll() if m.startswith("STATUS=")]
        h.note(f"notify protocol: READY=1, {len(statuses)} STATUS lines (first: "
               f"{statuses[0] if statuses else '-'}), WATCHDOG=1 pings, STOPPING=1")
    finally:
        notify.close()


def check_example_config(h):
    (port,) = wh.free_ports(1)
    # The command line wins over the file: our own segment, port and no TLS files or peers.
    d = h.daemon("ex", h.segment_name("example"), port, size=1024 * 1024, config=EXAMPLE)
    d.start()
    assert d.stop() == 0
    h.note("wmdd accepts systemd/wmdd.conf.example")


def body(h):
    check_unit_text(h)
    verify_unit(h)
    check_example_config(h)
    check_notify(h)


if __name__ == "__main__":
    wh.run("systemd_unit", body, __doc__)

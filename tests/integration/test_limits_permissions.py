#!/usr/bin/env python3
"""Segment permissions and connection limits.

Permissions: a segment wmdd creates (data, control and state objects) is mode 0600 and owned by
the daemon's user, or exactly --segment-mode (the state object, private, stays 0600); a segment other users can write (mode 0666) or
owned by another user is refused at start-up with a clear error (exit 1, files untouched) unless
--allow-foreign-writable is given.

Limits: with --max-connections 4, further inbound connections are closed at once, with a log
line, without a byte; a connection that sends nothing is closed after --handshake-timeout; the
daemon keeps serving real peers throughout. (Frame size and growth maximum: hostile_input;
send queue size: stopped_peer.)"""

import os
import socket
import stat
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wmd_harness as wh  # noqa: E402

SIZE = 1024 * 1024
NOBODY = 65534


def modes(name):
    return {os.path.basename(p): stat.S_IMODE(os.stat(p).st_mode) for p in wh.segment_files(name)}


def snapshot(name):
    """Mode, owner, size and mtime of the three objects, and the bytes of data and control (the
    state object is sparse and gigabytes long: its mtime stands for its contents)."""
    out = {}
    for p in wh.segment_files(name):
        st = os.stat(p)
        out[p] = (st.st_mode, st.st_uid, st.st_size, st.st_mtime_ns)
        if not p.endswith(".state"):
            out[p] += (wh.read_file(p),)
    return out


def expect_refused(h, d, needle):
    before = snapshot(d.segment)
    d.start(wait_listening=False)
    rc = d.wait_exit(15)
    assert rc == 1, f"wmdd {d.id} exit status {rc}, expected 1 (refused)"
    tail = d.log_text().splitlines()[-3:]
    assert any(needle in line for line in tail), f"no '{needle}' in the error: {tail}"
    assert snapshot(d.segment) == before, "a refused segment was modified"
    return tail[-1]


def check_permissions(h):
    (port,) = wh.free_ports(1)
    d = h.daemon("perm", h.segment_name("perm"), port, size=SIZE)
    d.start()
    assert h.stop_all_checked([d]) is None
    got = modes(d.segment)
    assert set(got.values()) == {0o600}, f"created with modes {got}, expected 0600"
    for path in wh.segment_files(d.segment):
        assert os.stat(path).st_uid == os.geteuid(), f"{path} not owned by the daemon's user"

    (port2,) = wh.free_ports(1)
    g = h.daemon("perm-g", h.segment_name("permg"), port2, size=SIZE, **{"segment-mode": "0640"})
    g.start()
    h.stop_all_checked([g])
    got = modes(g.segment)
    state = os.path.basename(wh.shm_path(g.segment)) + ".state"
    assert got.pop(state) == 0o600, f"--segment-mode 0640 widened the private state: {got}"
    assert set(got.values()) == {0o640}, f"--segment-mode 0640 gave {got}"
    h.note("created 0600 by default (data, control, state), exactly --segment-mode otherwise "
           "(the private state stays 0600)")

    # Writable by others: refused, then accepted when allowed.
    data = wh.shm_path(d.segment)
    os.chmod(data, 0o666)
    line = expect_refused(h, d, "writable by group or others")
    h.note(f"mode 0666 refused: {line.split(' ', 2)[-1]}")
    d.options["allow-foreign-writable"] = True
    d.start()
    h.stop_all_checked([d])
    del d.options["allow-foreign-writable"]
    os.chmod(data, 0o600)

    # Owned by another user.
    if os.geteuid() != 0:
        h.note("SKIPPED foreign owner: chown needs root")
        return
    os.chown(data, NOBODY, NOBODY)
    line = expect_refused(h, d, "owned by uid")
    h.note(f"foreign owner refused: {line.split(' ', 2)[-1]}")
    d.options["allow-foreign-writable"] = True
    d.start()
    h.stop_all_checked([d])
    os.chown(data, 0, 0)
    h.note("--allow-foreign-writable accepts both")


def check_limits(h):
    a, b = h.mesh(2, SIZE, start=False)
    a.options["max-connections"] = 4
    a.options["handshake-timeout"] = 600
    for d in (a, b):
        d.start()
    h.wait_converged([a, b])
    m = wh.Mapping(a.segment)
    marker = wh.nonzero_bytes(h.rng, 32)
    m.write(100, marker)
    h.wait_visible([b], 100, marker)

    # b holds one (or, during tie-breaks, two) of the 4; fill the rest with silent sockets.
    silent = []
    refused = 0
    for _ in range(8):
        s = socket.create_connection(("127.0.0.1", a.port), timeout=5)
        s.settimeout(0.3)
        try:
            data = s.recv(1)
        except socket.timeout:
            silent.append(s)  # accepted: it will get a hello, then the handshake timeout
            continue
        if data == b"":
            refused += 1
            s.close()
        else:
            silent.append(s)
    assert refused >= 8 - 3, f"only {refused} of 8 extra connections were refused at once"
    assert "refusing connection from" in a.log_text() and "--max-connections 4" in a.log_text()
    h.note(f"--max-connections 4: {refused} of 8 extra connections closed at once")

    # Accepted silent sockets are closed by the handshake timeout (600 ms).
    started = time.monotonic()
    for s in silent:
        data, closed = wh.recv_until_closed(s, 5)
        assert closed, "a silent connection outlived the handshake timeout"
        s.close()
    took = time.monotonic() - started
    assert "no handshake within 600 ms" in a.log_text()
    h.note(f"silent connections closed by the handshake timeout (all within {took:.1f} s)")

    # The daemon kept serving its peer.
    marker = wh.nonzero_bytes(h.rng, 32)
    m.write(200, marker)
    m.close()
    h.wait_visible([b], 200, marker)
    h.stop_all_checked([a, b])


def body(h):
    check_permissions(h)
    check_limits(h)


if __name__ == "__main__":
    wh.run("limits_permissions", body, __doc__)

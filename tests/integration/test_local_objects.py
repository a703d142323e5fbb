#!/usr/bin/env python3
"""Drill (issue 11, finding 7): a local process tampers with a served segment's objects.

Three daemons in a full mesh. On node a, in turn: the data object is truncated while a runs;
the control object is truncated while a runs; a is stopped, its control object truncated and a
started again; the control object's daemon_pid is zeroed and a second wmdd is started on the
same segment; the state object is truncated while a runs. Expected: a survives the first two
(sizes restored, control header rebuilt, the events logged), starts again on a truncated control
object (rebuilt), refuses the second daemon (the serving lock), and on the truncated state exits
non-zero with a clear message (a restart starts afresh). A daemon started with
--segment-mode 0660 keeps its state object at 0600. After each step an honest write on every
node converges within 2 s."""

import os
import re
import stat
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wmd_drill  # noqa: E402
import wmd_harness as wh  # noqa: E402

SIZE = 1024 * 1024


def truncate(path, size):
    fd = os.open(path, os.O_RDWR)
    try:
        os.ftruncate(fd, size)
    finally:
        os.close(fd)


def body(h):
    mesh = h.mesh(3, SIZE, **{"segment-mode": "0660"})
    a = mesh[0]
    data_path = wh.shm_path(a.segment)
    ctl_path = data_path + ".ctl"
    state_path = data_path + ".state"
    h.wait_converged(mesh)
    wmd_drill.honest_writes_converge(h, mesh, SIZE, what="start-up")

    def log_says(pattern, what, timeout_s=5):
        wh.wait_until(lambda: re.search(pattern, a.log_text(), re.IGNORECASE), timeout_s,
                      f"a's log to say {what} (/{pattern}/)")

    # --segment-mode widens the segment's objects, never the private state.
    mode = stat.S_IMODE(os.stat(state_path).st_mode)
    assert mode == 0o600, f"state object mode {mode:o} with --segment-mode 0660, want 600"
    assert stat.S_IMODE(os.stat(data_path).st_mode) == 0o660

    # 1. The data object shrinks under the running daemon.
    truncate(data_path, SIZE // 4)
    log_says(r"data object .* truncated", "the data object was truncated")
    assert a.alive(), f"a died after its data object was truncated ({a.proc.returncode})"
    assert os.stat(data_path).st_size == SIZE, "data object size not restored"
    # The lost range reads as zeros on a and replicates like a local write of a's: the writes
    # start-up left there become zeros everywhere. Waited for before the honest writes, which
    # land in that range: a write on b or c made before a's scan stamps the zeros would lose
    # to them (a's change is stamped when a's scan finds it), as any concurrent write may.
    h.wait_converged(mesh)
    startup_offset = SIZE - wh.PAGE + 128
    for d in mesh:
        m = wh.Mapping(d.segment)
        lost = m.read(startup_offset, 16)
        m.close()
        assert lost == bytes(16), f"{d.id} kept {lost.hex()} in the range a lost"
    wmd_drill.honest_writes_converge(h, mesh, SIZE, what="data truncation")

    # 2. The control object shrinks under the running daemon.
    truncate(ctl_path, 0)
    log_says(r"control object .* truncated", "the control object was truncated")
    assert a.alive(), f"a died after its control object was truncated ({a.proc.returncode})"
    wh.wait_until(lambda: wh.ctl_field(a.segment, wh.CTL_SIZE) == SIZE, 5,
                  "the control header to be rebuilt")
    wmd_drill.honest_writes_converge(h, mesh, SIZE, what="control truncation")

    # 3. A control object truncated while the daemon is stopped: rebuilt at start-up.
    assert a.stop() == 0
    truncate(ctl_path, 100)
    a.start()
    log_says(r"rebuilt", "the control object was rebuilt")
    wmd_drill.honest_writes_converge(h, mesh, SIZE, what="control truncation while stopped")

    # 4. daemon_pid zeroed: a second daemon on the same segment is still refused.
    fd = os.open(ctl_path, os.O_RDWR)
    os.pwrite(fd, (0).to_bytes(4, "little"), 40)  # wmd_ctl.daemon_pid
    os.close(fd)
    (port,) = wh.free_ports(1)
    second = h.daemon("a2", a.segment, port, [], None, **{"max-size": SIZE})
    second.start(wait_listening=False)
    rc = second.wait_exit(15)
    if rc is None:
        second.kill()
        raise AssertionError("a second wmdd served a segment already served (daemon_pid 0)")
    assert rc != 0 and re.search(r"another wmdd serves", second.log_text()), \
        f"second wmdd exited {rc} without naming the lock:\n{second.log_text()}"
    assert a.alive()
    wmd_drill.honest_writes_converge(h, mesh, SIZE, what="a second daemon on the segment")

    # 5. The state object shrinks under the running daemon: exit non-zero, loudly.
    truncate(state_path, 4096)
    rc = a.wait_exit(10)
    assert rc is not None and rc != 0, f"a did not exit after its state was truncated (rc {rc})"
    assert re.search(r"state object .* truncated", a.log_text()), "exit without a clear message"
    a.start()  # as systemd's Restart=on-failure would
    h.wait_converged(mesh, timeout_s=15)
    wmd_drill.honest_writes_converge(h, mesh, SIZE, what="state truncation and restart")
    h.stop_all_checked(mesh)


if __name__ == "__main__":
    wh.run("local_objects", body, __doc__)

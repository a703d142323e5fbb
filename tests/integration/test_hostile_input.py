#!/usr/bin/env python3
"""Scenario 7: hostile bytes at a daemon's port while it syncs with a good peer.

A and B sync under an outside write load. Meanwhile A's port receives: random garbage, a frame
with a huge length prefix, real hellos (captured from real wmdd processes) of a wrong cluster
and of a wrong page size, a forged hello of an unknown protocol version, frames after a valid
(forged) hello that name an offset beyond the maximum size, a growth beyond --max-size and an
unknown message type, a connection that stalls mid-frame before the handshake, one that stalls
mid-frame after a valid hello, and two real daemons of a wrong cluster and a wrong page size
that keep dialling. A well-formed patch from a forged client is applied (proving the forged
frames are understood), the bad ones change nothing (segment sizes stay).
Each bad connection must be closed by A (with an error frame after a
refused hello); A keeps syncing with B throughout (markers cross within seconds), stays alive,
and its log names the errors."""

import os
import re
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wmd_frames as wf  # noqa: E402
import wmd_harness as wh  # noqa: E402

SIZE = 4 * 1024 * 1024
ERROR_FRAME = 8
HELLO_FRAME = 1
CLOSE_DEADLINE_S = 10


def body(h):
    failures = []
    # Hellos from real daemons, before the test's own daemons exist.
    wrong_cluster = wh.capture_hello(h, "wc", cluster="not-" + h.cluster)
    wrong_page = wh.capture_hello(h, "wp", **{"page-size": 4096})
    intruder = wh.capture_hello(h, "in", id="intruder")
    assert wrong_cluster[4] == HELLO_FRAME, \
        f"first frame of a dialling wmdd has type {wrong_cluster[4]}"
    wh.log(f"captured hellos: {len(wrong_cluster)}, {len(wrong_page)}, {len(intruder)} bytes")
    seen = wf.parse_hello(wrong_cluster[5:])
    assert seen["cluster"] == "not-" + h.cluster and seen["page_size"] == wh.PAGE, \
        f"captured hello decodes as {seen}: the forged frames below would be wrong"

    a, b = h.mesh(2, SIZE)
    # Real daemons of a wrong cluster / page size dialling A for the whole test.
    p1, p2 = wh.free_ports(2)
    bad_cluster = h.daemon("bad-cluster", h.segment_name("bc"), p1, [a.port], SIZE,
                           cluster="evil", **{"max-size": SIZE}).start()
    bad_page = h.daemon("bad-page", h.segment_name("bp"), p2, [a.port], SIZE,
                        **{"page-size": 4096, "max-size": SIZE}).start()
    writers = [wh.Writer(d.segment, h.rng.randrange(1 << 30), limit=SIZE - wh.PAGE)
               for d in (a, b)]
    for w in writers:
        w.start()

    marker_count = [0]

    def still_syncing(what):
        marker_count[0] += 1
        value = marker_count[0].to_bytes(8, "little") + h.rng.randbytes(8)
        m = wh.Mapping(a.segment)
        m.write(SIZE - 16, value)
        m.close()
        try:
            h.wait_visible([b], SIZE - 16, value, timeout_s=5)
        except AssertionError:
            failures.append(f"A stopped syncing with B during: {what}")
        if not a.alive():
            raise AssertionError(f"wmdd a died during: {what} (exit {a.proc.returncode})")

    def connect():
        s = socket.create_connection(("127.0.0.1", a.port), timeout=5)
        return s

    def expect_closed(s, what, want_error_frame=False, deadline_s=CLOSE_DEADLINE_S):
        data, closed = wh.recv_until_closed(s, deadline_s)
        frames, _ = wh.split_frames(data)
        types = [t for t, _ in frames]
        if not closed:
            failures.append(f"{what}: A did not close the connection within {deadline_s} s "
                            f"(frames received: {types})")
        elif want_error_frame and ERROR_FRAME not in types:
            failures.append(f"{what}: closed without an error frame (frame types {types})")
        else:
            wh.log(f"{what}: closed by A (frame types received: {types})")
        s.close()

    # 1. Random garbage.
    s = connect()
    try:
        s.sendall(h.rng.randbytes(64 * 1024))
    except OSError:
        pass
    expect_closed(s, "random garbage")
    still_syncing("random garbage")

    # 2. A huge length prefix.
    s = connect()
    s.sendall(b"\xff\xff\xff\xff" + bytes([HELLO_FRAME]) + h.rng.randbytes(100))
    expect_closed(s, "huge length prefix")
    still_syncing("huge length prefix")

    # 3. Valid-looking hellos of a wrong cluster and of a wrong page size.
    for what, hello in (("hello with a wrong cluster", wrong_cluster),
                        ("hello with a wrong page size", wrong_page)):
        s = connect()
        s.sendall(hello)
        expect_closed(s, what, want_error_frame=True)
        still_syncing(what)

    # 4. Frames after a valid, forged hello. A well-formed patch first: it must be applied.
    def forged_client(n, version=wf.PROTOCOL_VERSION):
        s = connect()
        s.sendall(wf.hello(h.cluster, f"forger-{n}", wh.PAGE, SIZE, lamport=1, version=version))
        return s

    # Daemons do not relay patches (each origin sends to every peer), so the forged origin
    # sends its patch to both daemons, as a real mesh member would.
    good = (SIZE - wh.PAGE + 64, b"forged!!")
    s = forged_client(0)
    s.sendall(wf.patch("forger-0", 1, 1_000_000, [good]))
    s_b = socket.create_connection(("127.0.0.1", b.port), timeout=5)
    s_b.sendall(wf.hello(h.cluster, "forger-0", wh.PAGE, SIZE, lamport=1))
    s_b.sendall(wf.patch("forger-0", 1, 1_000_000, [good]))
    try:
        h.wait_visible([a, b], *good, timeout_s=10)
        wh.log("a well-formed patch from a forged client was applied by a and b")
    except AssertionError:
        failures.append("a well-formed patch from a forged client was not applied "
                        "(or the forged frames are not understood)")
    s.close()
    s_b.close()

    bad_frames = (
        ("patch with an offset beyond the maximum size",
         wf.patch("forger-1", 1, 1_000_001, [(SIZE, b"12345678")])),
        ("patch whose run crosses the maximum size",
         wf.patch("forger-2", 1, 1_000_001, [(SIZE - 4, b"12345678")])),
        ("growth beyond --max-size", wf.growth(SIZE * 1024)),
        ("patch of an origin other than the sender (patches are never relayed)",
         wf.patch("someone-else", 1, 1_000_002, [(0, b"relayed!")])),
        ("unknown message type 200", wf.frame(200, b"\x00" * 16)),
        ("patch with a run count larger than the frame", wf.frame(
            wf.PATCH, wf.short_string("forger-3") + wf.varint(1) + wf.varint(1)
            + wf.varint(1 << 40))),
    )
    for n, (what, data) in enumerate(bad_frames, start=1):
        s = forged_client(n)
        s.sendall(data)
        expect_closed(s, what)
        still_syncing(what)
    s = forged_client(9, version=99)
    expect_closed(s, "hello with protocol version 99", want_error_frame=True)
    still_syncing("hello with protocol version 99")
    for d in (a, b):
        size_now = os.stat(wh.shm_path(d.segment)).st_size
        if size_now != SIZE:
            failures.append(f"{d.id}'s segment is {size_now} bytes after the hostile frames")

    # 5. A stream that stalls mid-frame before the handshake (3 bytes of a hello, then silence),
    #    and one that stalls inside a frame after a valid hello. Both held open together.
    s1 = connect()
    s1.sendall(intruder[:3])
    s2 = connect()
    s2.sendall(intruder)
    s2.sendall((1000).to_bytes(4, "little") + bytes([2]) + b"\x00" * 10)
    still_syncing("two connections stalled mid-frame")
    expect_closed(s1, "stall mid-frame before the handshake")
    expect_closed(s2, "stall mid-frame after a valid hello")
    still_syncing("after the stalled connections")

    for w in writers:
        w.stop()
    h.wait_converged([a, b], timeout_s=20, expected_size=SIZE)
    assert a.alive() and b.alive()

    # The log must name each refusal on a line that reads as an error, not merely mention the
    # word (the start-up line names the cluster and the page size too).
    error_line = re.compile(r"error|refus|reject|mismatch|drop|clos|invalid|malformed|bad",
                            re.IGNORECASE)
    lines = [line for line in a.log_text().splitlines() if error_line.search(line)]
    for pattern, what in ((r"cluster", "the wrong cluster"),
                          (r"page.?size", "the wrong page size"),
                          (r"too large|too big|oversize|frame|malformed|invalid|unknown|length",
                           "the malformed/oversized frames"),
                          (r"max|beyond|limit|range|bound",
                           "the offsets/growth beyond the maximum")):
        if not any(re.search(pattern, line, re.IGNORECASE) for line in lines):
            failures.append(f"A's log has no error line mentioning {what} (/{pattern}/)")
    if failures:
        raise AssertionError("hostile input:\n  " + "\n  ".join(failures))
    h.stop_all_checked([a, b])
    bad_cluster.stop()
    bad_page.stop()


if __name__ == "__main__":
    wh.run("hostile_input", body, __doc__)

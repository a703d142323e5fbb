#!/usr/bin/env python3
"""Checks the integration harness itself, without wmdd: the difference report, frame
splitting, the counting relay, outside writers on a /dev/shm object, and shm cleanup."""

import os
import socket
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wmd_harness as wh  # noqa: E402


def check_describe_difference():
    a = bytes(20000)
    b = bytearray(a)
    b[9000] = 7
    b[19999] = 1
    text = wh.describe_difference(a, bytes(b))
    assert "2 differing bytes" in text and "offset 9000 (page 1, +808)" in text, text
    assert wh.describe_difference(a, a) == "identical"
    assert "sizes differ" in wh.describe_difference(a, a + b"x")


def check_split_frames():
    stream = (3).to_bytes(4, "little") + b"\x01abc" + (0).to_bytes(4, "little") + b"\x07"
    frames, rest = wh.split_frames(stream + b"\x05\x00")
    assert frames == [(1, b"abc"), (7, b"")] and rest == b"\x05\x00", (frames, rest)


def check_relay_counts_both_directions():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def echo():
        conn, _ = server.accept()
        while True:
            data = conn.recv(65536)
            if not data:
                break
            conn.sendall(data[:10])  # answers 10 bytes per chunk
        conn.close()

    t = threading.Thread(target=echo, daemon=True)
    t.start()
    relay = wh.CountingRelay(server.getsockname()[1])
    c = socket.create_connection(("127.0.0.1", relay.port))
    payload = os.urandom(300_000)
    c.sendall(payload)
    wh.wait_until(lambda: relay.counts()[0] == len(payload), 5, "relay to count upstream bytes")
    c.shutdown(socket.SHUT_WR)
    got, closed = wh.recv_until_closed(c, 5)
    assert closed
    up, down = relay.counts()
    assert up == len(payload) and down == len(got) and down > 0, (up, down, len(got))
    relay.close()
    server.close()


def check_writers_and_cleanup():
    h = wh.Harness(None, "selftest", 1)
    name = h.segment_name("w")
    path = wh.shm_path(name)
    with open(path, "wb") as f:
        f.truncate(1 << 20)
    w = wh.Writer(name, 5, hot=(8192, 8192))
    w.start()
    wh.wait_until(lambda: w.ops > 1000, 10, "the writer to write")
    w.stop()
    assert any(wh.read_segment(name)), "the writer wrote nothing"
    assert wh.free_ports(3)[0] > 0
    h.close()
    assert not os.path.exists(path), "Harness.close() left the shm object behind"


def main():
    for check in (check_describe_difference, check_split_frames,
                  check_relay_counts_both_directions, check_writers_and_cleanup):
        check()
        wh.log(f"{check.__name__}: ok")


if __name__ == "__main__":
    main()

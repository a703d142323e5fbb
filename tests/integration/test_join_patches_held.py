#!/usr/bin/env python3
"""Issue 13: each page crosses once to a joining peer. A patch the daemon absorbs between a
peer's handshake and the start of that peer's first catch-up round is not sent to it: the
round, planned from the peer's digests, sends the page's state anyway. A raw peer joins A (of a
two-daemon mesh), waits for A's digests (A has registered the session), and holds its own back
while a write on A reaches B as a patch. Then it sends its (empty) digests: it must get the
written pages as page states, each once, and no patch of them; a later write on A must reach it
as a patch (patches are released once the round started). Patches go out in the order they
were queued, so the later patch arriving proves that no earlier one is still on its way.
The written pages come first in the round, ahead of pages A held before the joiner came (lower
in page order): a write made while a peer joins does not wait for its page's turn."""

import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wmd_frames as wf  # noqa: E402
import wmd_harness as wh  # noqa: E402

SIZE = 4 * 1024 * 1024
OLDER_PAGES = range(0, 2)  # written before the joiner comes: planned ahead of WRITTEN_PAGES
WRITTEN_PAGES = range(2, 10)
MARKER_OFFSET = 20 * wh.PAGE + 100


class RawPeer:
    """A peer speaking real frames: answers A's heartbeats, collects everything else."""

    def __init__(self, h, daemon, peer_id):
        self.sock = socket.create_connection(("127.0.0.1", daemon.port), timeout=5)
        self.sock.sendall(wf.hello(h.cluster, peer_id, wh.PAGE, SIZE, lamport=1))
        self.buffer = b""
        self.frames = []  # (type, body) in arrival order, heartbeats left out

    def read_until(self, done, what, timeout_s=15):
        """Reads frames until done(frames) holds; fails after timeout_s."""
        deadline = time.monotonic() + timeout_s
        while not done(self.frames):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"the raw peer did not receive {what} in {timeout_s} s")
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(1 << 20)
            except socket.timeout:
                continue
            if not chunk:
                raise AssertionError(f"A closed the raw peer's connection before {what}")
            frames, self.buffer = wh.split_frames(self.buffer + chunk)
            for kind, body in frames:
                if kind == wf.HEARTBEAT:
                    token, reply = struct.unpack("<QB", body)
                    if reply == 0:
                        self.sock.sendall(wf.frame(wf.HEARTBEAT, struct.pack("<QB", token, 1)))
                    continue
                self.frames.append((kind, body))

    def close(self):
        self.sock.close()


def has(kind, pred=lambda body: True):
    return lambda frames: any(k == kind and pred(body) for k, body in frames)


def body(h):
    a, b = h.mesh(2, SIZE)
    older = {page: h.rng.randbytes(wh.PAGE) for page in OLDER_PAGES}
    m = wh.Mapping(a.segment)
    for page, data in older.items():
        m.write(page * wh.PAGE, data)
    m.close()
    h.wait_visible([b], max(older) * wh.PAGE, older[max(older)])
    joiner = RawPeer(h, a, "joiner")
    try:
        # A's digests (its first round) come from its engine thread once it has registered the
        # session: from then on, without the hold, A's patches would be sent to the joiner.
        joiner.read_until(has(wf.HELLO), "A's hello")
        joiner.read_until(has(wf.DIGESTS, lambda body: body[8] & 1), "A's last digests chunk")

        written = {page: h.rng.randbytes(wh.PAGE) for page in WRITTEN_PAGES}
        m = wh.Mapping(a.segment)
        for page, data in written.items():
            m.write(page * wh.PAGE, data)
        last_page = max(written)
        h.wait_visible([b], last_page * wh.PAGE, written[last_page])  # absorbed, patch sent

        joiner.sock.sendall(wf.digests(SIZE, (), last=True))
        joiner.read_until(has(wf.CATCHUP_DONE), "A's catch-up round")
        marker = h.rng.randbytes(64)
        m.write(MARKER_OFFSET, marker)
        m.close()

        def marker_patch(body):  # (a zero byte of the marker over zero memory splits runs)
            return any(offset < MARKER_OFFSET + len(marker) and offset + len(data) > MARKER_OFFSET
                       for offset, data in wf.parse_patch(body)[1])

        joiner.read_until(has(wf.PATCH, marker_patch), "the patch of the write after the round")
    finally:
        joiner.close()

    states = {}  # in arrival order
    for kind, frame_body in joiner.frames:
        if kind == wf.PAGE_STATES:
            for page, data in wf.parse_page_states(frame_body, wh.PAGE).items():
                assert page not in states, f"page {page} was sent twice as a page state"
                states[page] = data
    expected = {**older, **written}
    assert sorted(states) == sorted(expected), (
        f"the round sent pages {sorted(states)}, expected {sorted(expected)}")
    for page, data in expected.items():
        assert states[page] == data, f"page {page}'s state does not hold the written bytes"
    order = list(states)
    assert set(order[:len(written)]) == set(written), (
        f"the round sent pages in the order {order}: the pages written while the joiner joined "
        f"({sorted(written)}) should come first")
    early = [wf.parse_patch(body)[1] for kind, body in joiner.frames
             if kind == wf.PATCH and not marker_patch(body)]
    early_bytes = sum(len(data) for runs in early for _, data in runs)
    assert not early, (
        f"{len(early)} patches ({early_bytes} bytes) reached the joiner before its first round "
        f"started: their pages crossed twice")
    wh.log(f"the joiner got {len(states)} page states, each once, and no early patch")
    h.wait_converged([a, b], timeout_s=20, expected_size=SIZE)
    h.stop_all_checked()


if __name__ == "__main__":
    wh.run("join_patches_held", body, __doc__)

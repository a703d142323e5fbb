"""Helpers for the hostile-peer drills (issue 11): a forged peer speaking real frames to one
daemon of a three-daemon mesh, and the check every drill ends with: an honest write on every
node reaches every other node within a deadline (polled, never slept)."""

import socket

import wmd_drill
import wmd_frames as wf
import wmd_harness as wh

HONEST_DEADLINE_S = wmd_drill.HONEST_BOUND_S


def daemon_protocol_version(h):
    """The protocol version the wmdd under test speaks, read from a hello it sends (so a drill
    run against an older build attacks it in its own version)."""
    return wf.parse_hello(wh.capture_hello(h, "proto")[5:])["version"]


class ForgedPeer:
    """A hostile client: a valid hello under a made-up id, then whatever frames it is told."""

    def __init__(self, h, daemon, peer_id, size, version, lamport=0):
        self.peer_id = peer_id
        self.sock = socket.create_connection(("127.0.0.1", daemon.port), timeout=5)
        self.sock.sendall(wf.hello(h.cluster, peer_id, wh.PAGE, size, lamport=lamport,
                                   version=version))

    def send(self, data):
        try:
            self.sock.sendall(data)
        except OSError:
            pass  # closed by the daemon already: what a drill expects

    def closed_with_error(self, timeout_s=5):
        """(closed, error text or None): waits for the daemon to close the connection."""
        data, closed = wh.recv_until_closed(self.sock, timeout_s)
        self.sock.close()
        frames, _ = wh.split_frames(data)
        errors = [wf.parse_error(body)[1] for kind, body in frames if kind == wf.ERROR]
        return closed, (errors[0] if errors else None)


def check_honest_writes(h, daemons, size, failures):
    """An honest write on every node must reach every other node within 2 s (the check of
    wmd_drill, shared with the other issue-11 drills); a failure is appended to failures."""
    try:
        wmd_drill.honest_writes_converge(h, daemons, size, what="the attack")
    except AssertionError as e:
        failures.append(str(e))


def finish(h, drill, failures, daemons):
    """Fails the drill with every failure listed, or stops the daemons checked."""
    if failures:
        raise AssertionError(f"{drill} drill:\n  " + "\n  ".join(failures))
    h.stop_all_checked(daemons)

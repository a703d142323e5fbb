#!/usr/bin/env python3
"""WebSocket endpoint (--ws-listen): a client speaking RFC 6455 (as a browser tab would) joins
daemon a of a two-daemon mesh a-b as a normal peer session: it completes the handshake, learns
a's pages by catch-up, hears a's local writes live, and sends a patch that a applies and that
converges to b byte for byte. Refused: no token, a wrong token (HTTP 401), a request that is
not an upgrade (426). Every limit of the TCP side holds: an oversized message, a text message
and a client silent in the handshake or after it close only their own connection while the
mesh keeps syncing. wss:// with --tls-cert: a client without a certificate (as a browser) is
accepted after the token check."""

import os
import socket
import ssl
import subprocess
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wmd_frames as wf  # noqa: E402
import wmd_harness as wh  # noqa: E402
import wmd_websocket as ws  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SIZE = 1024 * 1024
MAX_FRAME = 1024 * 1024
HEARTBEAT_TIMEOUT = 20  # errc::heartbeat_timeout on the wire
HANDSHAKE_TIMEOUT = 19


class Session:
    """A wmd peer session over a WebSocket client: answers heartbeats, checks that every
    message from the daemon holds exactly one frame, and collects the rest."""

    def __init__(self, client):
        self.client = client
        self.frames = []

    def send(self, frame):
        self.client.send(frame)

    def pump_until(self, found, timeout_s, what):
        """Reads messages until found(frames) returns something truthy; returns it."""
        def step():
            result = found(self.frames)
            if result:
                return result
            opcode, payload = self.client.recv(timeout_s=timeout_s)
            assert opcode == ws.OP_BINARY, f"a non-binary message (opcode {opcode})"
            frames, rest = wh.split_frames(payload)
            assert len(frames) == 1 and not rest, \
                f"a message holding {len(frames)} frames and {len(rest)} stray bytes"
            kind, body = frames[0]
            if kind == wf.HEARTBEAT and body[8] == 0:
                self.send(wf.frame(wf.HEARTBEAT, body[:8] + b"\x01"))
            self.frames.append((kind, body))
            return found(self.frames)

        result = None
        deadline = wh.time.monotonic() + timeout_s
        while not result:
            if wh.time.monotonic() > deadline:
                raise AssertionError(f"WebSocket client: no {what} within {timeout_s} s")
            result = step()
        return result


def first(kind, predicate=lambda body: True):
    def find(frames):
        for k, body in frames:
            if k == kind and predicate(body):
                return body
        return None
    return find


def expect_refused(port, target, status, headers=None, upgrade=True, what=""):
    try:
        ws.Client(port, target, headers=headers, upgrade=upgrade).close()
    except ws.Refused as e:
        assert e.status == status, f"{what}: HTTP {e.status} instead of {status} ({e.text!r})"
        return e
    raise AssertionError(f"{what}: the upgrade was accepted")


def expect_closed(client, what, timeout_s=10):
    """Reads until the daemon ends the connection; returns the wmd Error code it sent, if any."""
    error_code = None
    try:
        while True:
            opcode, payload = client.recv(timeout_s=timeout_s)
            frames, _ = wh.split_frames(payload)
            for kind, body in frames:
                if kind == wf.ERROR:
                    error_code = wf.parse_error(body)[0]
    except ws.Closed:
        pass
    except (ConnectionResetError, BrokenPipeError):
        pass
    except socket.timeout:
        raise AssertionError(f"{what}: the connection stayed open for {timeout_s} s") from None
    client.sock.close()
    return error_code


def hello_session(h, port, token, peer_id, ssl_context=None):
    client = ws.Client(port, "/?token=" + urllib.parse.quote(token, safe=""),
                       ssl_context=ssl_context, headers={"Sec-WebSocket-Protocol": "wmd"})
    assert client.headers.get("sec-websocket-protocol") == "wmd", client.headers
    session = Session(client)
    session.send(wf.hello(h.cluster, peer_id, wh.PAGE, SIZE, lamport=1))
    hello = session.pump_until(first(wf.HELLO), 10, "hello")
    return session, wf.parse_hello(hello)


def write_token(h, name, text):
    path = os.path.join(h.tmp, name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.write(fd, (text + "\n").encode())
    os.close(fd)
    return path


def check_wss(h, token):
    certs = os.path.join(h.tmp, "certs")
    subprocess.run([os.path.join(REPO, "scripts", "make-test-certs"), certs, "wss"],
                   check=True, capture_output=True, timeout=60)
    port, ws_port = wh.free_ports(2)
    c = h.daemon("wss", h.segment_name("wss"), port, size=SIZE, **{
        "max-size": SIZE, "ws-listen": f"127.0.0.1:{ws_port}",
        "ws-token-file": write_token(h, "wss.token", token),
        "tls-cert": f"{certs}/wss.crt", "tls-key": f"{certs}/wss.key",
        "tls-ca": f"{certs}/ca.crt"})
    c.start()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(f"{certs}/ca.crt")  # verifies the daemon; presents nothing
    session, hello = hello_session(h, ws_port, token, "wss-client", ssl_context=context)
    assert hello["peer_id"] == "wss", hello
    session.client.close()
    # Plain ws:// on a wss:// port never gets an answer: the TLS handshake fails first.
    try:
        ws.Client(ws_port, "/?token=" + token, timeout_s=5).close()
        raise AssertionError("plain ws:// was accepted on a wss:// endpoint")
    except (ws.Refused, OSError) as e:
        assert not isinstance(e, ws.Refused) or e.status == 0, e
    c.stop()
    h.note("wss:// with --tls-cert: a browser-like client without a certificate is accepted "
           "with the token; plaintext is refused")


def check_configuration(h):
    """A token file that cannot be used stops wmdd at start-up with exit status 2, naming it,
    before any segment exists."""
    empty = write_token(h, "empty.token", "")
    for path, why in ((os.path.join(h.tmp, "missing.token"), "cannot read"), (empty, "empty")):
        name = h.segment_name("cfg")
        out = subprocess.run([h.wmdd, "--segment", name, "--size", "1M", "--listen",
                              "127.0.0.1:%d" % wh.free_ports(1)[0], "--ws-listen",
                              str(wh.free_ports(1)[0]), "--ws-token-file", path],
                             capture_output=True, timeout=30, text=True)
        assert out.returncode == 2, (out.returncode, out.stdout, out.stderr)
        assert path in out.stdout + out.stderr and why in out.stdout + out.stderr, out
        assert not os.path.exists(wh.shm_path(name)), "the segment was created"
    h.note("an unreadable or empty token file: exit 2 naming it, no segment created")


def body(h):
    check_configuration(h)
    token = "t0k+en/" + "%032x" % h.rng.getrandbits(128)  # '+' and '/' %-encoded in URLs
    ws_port, = wh.free_ports(1)
    a, b = h.mesh(2, SIZE, start=False)
    a.options.update({"ws-listen": str(ws_port), "ws-token-file": write_token(h, "a.token", token),
                      "max-frame": MAX_FRAME})
    for d in (a, b):
        d.start()
    wh.wait_until(lambda: wh.is_listening(ws_port), 15, "the WebSocket port to listen")
    h.wait_converged([a, b])
    assert "WebSocket clients at ws://127.0.0.1:" in a.log_text(), "a bare port means loopback"

    # Something for catch-up to teach the client: a page written on b, already at a.
    from_b = (3 * wh.PAGE + 100, b"written on b")
    mb = wh.Mapping(b.segment)
    mb.write(*from_b)
    h.wait_visible([a, b], *from_b)

    # --- refusals ---------------------------------------------------------------------------
    e = expect_refused(ws_port, "/", 401, what="no token")
    assert "token" in e.text, e.text
    expect_refused(ws_port, "/?token=wrong", 401, what="a wrong token")
    expect_refused(ws_port, "/?token=" + token[:-1], 401, what="a token one byte short")
    expect_refused(ws_port, "/?token=" + urllib.parse.quote(token, safe=""), 426,
                   upgrade=False, what="a plain GET")
    ws.Client(ws_port, "/", headers={"Authorization": "Bearer " + token}).close()
    h.note("no or wrong token: 401; plain GET: 426; the token as a bearer header: accepted")

    # --- a session: handshake, catch-up, live patches both ways ------------------------------
    session, hello = hello_session(h, ws_port, token, "ws-client")
    assert hello["peer_id"] == "a" and hello["cluster"] == h.cluster and hello["size"] == SIZE
    session.send(wf.digests(SIZE))  # "I hold nothing": a sends its pages
    states = session.pump_until(first(wf.PAGE_STATES), 10, "page states")
    pages = wf.parse_page_states(states, wh.PAGE)
    page = from_b[0] // wh.PAGE
    assert page in pages, sorted(pages)
    offset = from_b[0] % wh.PAGE
    assert pages[page][offset : offset + len(from_b[1])] == from_b[1]
    session.pump_until(first(wf.CATCHUP_DONE), 10, "catch-up done")
    h.note("the WebSocket client caught up with a (b's write included)")

    from_a = (7 * wh.PAGE + 9, b"written on a, heard live")
    ma = wh.Mapping(a.segment)
    ma.write(*from_a)

    def has_from_a(body):
        return any(off <= from_a[0] and from_a[0] + len(from_a[1]) <= off + len(data)
                   and data[from_a[0] - off : from_a[0] - off + len(from_a[1])] == from_a[1]
                   for off, data in wf.parse_patch(body)[1])

    session.pump_until(first(wf.PATCH, has_from_a), 10, "a's live patch")
    h.note("a's local write reached the WebSocket client as a patch")

    from_client = (11 * wh.PAGE + 3, bytes(h.rng.randrange(1, 256) for _ in range(300)))
    session.send(wf.patch("ws-client", 1, 1_000_000, [from_client]))
    h.wait_visible([a], *from_client)
    # A WebSocket client is a peer of a alone; what it sent spreads to the rest of the mesh
    # by the catch-up round a runs with its other peers when the client leaves.
    session.client.close()
    h.wait_visible([b], *from_client, timeout_s=15)
    h.wait_converged([a, b])
    h.note("the client's patch converged to b byte for byte")

    # --- limits: each costs only its own connection ------------------------------------------
    def still_syncing(what, n=[0]):
        n[0] += 1
        marker = (20 * wh.PAGE + 16 * n[0], f"alive {n[0]}".encode())
        mb.write(*marker)
        h.wait_visible([a, b], *marker)
        assert a.alive() and b.alive(), f"a daemon died after {what}"

    big, _ = hello_session(h, ws_port, token, "ws-big")
    big.client.send_frame(ws.OP_BINARY, b"\x00" * 1024, length_override=MAX_FRAME + 6)
    expect_closed(big.client, "an oversized message")
    still_syncing("an oversized message")
    wh.wait_until(lambda: "a message larger than" in a.log_text(), 10, "a's log of the big message")

    text, _ = hello_session(h, ws_port, token, "ws-text")
    text.client.send_frame(ws.OP_TEXT, b"hello?")
    expect_closed(text.client, "a text message")
    still_syncing("a text message")

    silent = socket.create_connection(("127.0.0.1", ws_port), timeout=5)
    data, closed = wh.recv_until_closed(silent, 10)
    assert closed and data == b"", (closed, data)
    silent.close()
    still_syncing("a client silent before its upgrade")

    quiet = ws.Client(ws_port, "/?token=" + urllib.parse.quote(token, safe=""))
    code = expect_closed(quiet, "a client silent after its upgrade")
    assert code == HANDSHAKE_TIMEOUT, code
    mute, _ = hello_session(h, ws_port, token, "ws-mute")
    code = expect_closed(mute.client, "a client silent after its hello")
    assert code == HEARTBEAT_TIMEOUT, code
    still_syncing("silent clients")
    h.note("oversized and text messages, silent clients: only their connection closed")
    mb.close()
    ma.close()

    check_wss(h, token)
    h.stop_all_checked()


if __name__ == "__main__":
    wh.run("websocket", body, __doc__)

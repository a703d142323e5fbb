#!/usr/bin/env python3
"""Mutual TLS: two daemons with certificates from the same CA (scripts/make-test-certs) sync
over TLS; a daemon whose certificate comes from another CA, a daemon speaking plaintext, a
client with no certificate and a raw plaintext client sending a valid hello are all refused
during the TLS handshake, before any wmd byte: they receive none of our hello (no cluster name,
no peer id) and their segments receive nothing. A client with a good certificate does receive
the hello over TLS (so the test would see bytes if there were any to see)."""

import os
import socket
import ssl
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wmd_frames as wf  # noqa: E402
import wmd_harness as wh  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SIZE = 1024 * 1024


def make_certs(h, subdir, ca_name, nodes):
    out = os.path.join(h.tmp, subdir)
    subprocess.run([os.path.join(REPO, "scripts", "make-test-certs"), out, *nodes],
                   env=dict(os.environ, CA_NAME=ca_name), check=True, capture_output=True,
                   timeout=60)
    return out


def tls_options(certs, node):
    return {"tls-cert": f"{certs}/{node}.crt", "tls-key": f"{certs}/{node}.key",
            "tls-ca": f"{certs}/ca.crt"}


def read_for(sock, seconds):
    data, closed = wh.recv_until_closed(sock, seconds)
    return data, closed


def assert_no_wmd_bytes(h, data, what):
    for secret in (h.cluster.encode(), b"tls-a"):
        assert secret not in data, f"{what}: received wmd bytes ({data[:64]!r})"


def client_context(certs=None, node=None, ca=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.load_verify_locations(ca)
    if certs:
        ctx.load_cert_chain(f"{certs}/{node}.crt", f"{certs}/{node}.key")
    return ctx


def tls_client_read(port, ctx, seconds=3):
    """Connects over TLS and reads what the daemon sends; (data, error text)."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        s = ctx.wrap_socket(raw, server_hostname="localhost")
    except (ssl.SSLError, OSError) as e:
        raw.close()
        return b"", f"handshake: {e}"
    try:
        data = b""
        s.settimeout(seconds)
        try:
            while len(data) < 4096:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        except (ssl.SSLError, OSError) as e:
            return data, f"after handshake: {e}"
        return data, None
    finally:
        s.close()


def run_briefly(h, tag, extra, wait_for=None):
    """Runs wmdd directly (its own argv) until it exits or logs wait_for; (exit code, output)."""
    (port,) = wh.free_ports(1)
    argv = [h.wmdd, "--segment", h.segment_name(tag), "--size", "1M", "--id", tag,
            "--cluster", h.cluster, *extra]
    if not any(x == "--listen" for x in extra):
        argv += ["--listen", f"127.0.0.1:{port}"]
    log_path = os.path.join(h.tmp, f"{tag}.log")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    try:
        def done():
            text = open(log_path, errors="replace").read()
            return proc.poll() is not None or (wait_for is not None and wait_for in text)
        wh.wait_until(done, 15, f"wmdd {tag} to exit or log '{wait_for}'")
    finally:
        if proc.poll() is None:
            proc.terminate()
        proc.wait(10)
    return proc.returncode, open(log_path, errors="replace").read()


def check_configuration(h, good, foreign):
    # Bad TLS files are configuration errors: exit 2, naming the file and the reason.
    rc, out = run_briefly(h, "badcert", ["--tls-cert", f"{good}/missing.crt", "--tls-key",
                                         f"{good}/tls-a.key", "--tls-ca", f"{good}/ca.crt"])
    assert rc == 2 and "missing.crt" in out, (rc, out)
    rc, out = run_briefly(h, "badkey", ["--tls-cert", f"{good}/tls-a.crt", "--tls-key",
                                        f"{good}/tls-b.key", "--tls-ca", f"{good}/ca.crt"])
    assert rc == 2 and "tls-b.key" in out and "mismatch" in out, (rc, out)
    assert "wmdd starting" not in out, "TLS files are checked after the segment was opened"
    h.note("missing certificate and mismatched key: exit 2 with the file named")
    # Without TLS: a warning when listening beyond loopback, none on loopback.
    (port,) = wh.free_ports(1)
    rc, out = run_briefly(h, "wide", ["--listen", f"0.0.0.0:{port}"], wait_for="WITHOUT TLS")
    assert "WITHOUT TLS" in out, out
    rc, out = run_briefly(h, "narrow", [], wait_for="wmdd starting")
    assert "WITHOUT TLS" not in out, out
    h.note("plaintext on 0.0.0.0 warns at start-up; plaintext on 127.0.0.1 does not")


def body(h):
    good = make_certs(h, "good", "wmd test CA", ["tls-a", "tls-b", "client"])
    foreign = make_certs(h, "foreign", "some other CA", ["tls-x"])
    check_configuration(h, good, foreign)
    ports = wh.free_ports(4)
    a = h.daemon("tls-a", h.segment_name("a"), ports[0], [ports[1]], SIZE,
                 **tls_options(good, "tls-a"))
    b = h.daemon("tls-b", h.segment_name("b"), ports[1], [ports[0]], SIZE,
                 **tls_options(good, "tls-b"))
    a.start()
    b.start()

    # --- two daemons of one CA sync over TLS ------------------------------------------------
    payload = wh.nonzero_bytes(h.rng, 5000)
    m = wh.Mapping(a.segment)
    m.write(3 * wh.PAGE + 17, payload)
    m.close()
    h.wait_visible([b], 3 * wh.PAGE + 17, payload, timeout_s=15)
    h.wait_converged([a, b], timeout_s=15)
    assert "mutual TLS on every peer connection" in a.log_text()
    h.note("a and b (same CA) synced over TLS")

    # --- a daemon with a certificate from another CA ---------------------------------------
    x = h.daemon("tls-x", h.segment_name("x"), ports[2], [ports[0]], SIZE,
                 **tls_options(foreign, "tls-x"))
    x.start()
    wh.wait_until(lambda: "TLS handshake" in x.log_text() and "failed" in x.log_text(), 15,
                  "x to log its refused TLS handshake")
    wh.wait_until(lambda: "TLS handshake from" in a.log_text(), 10,
                  "a to log the refused handshake from x")
    # --- a daemon speaking plaintext --------------------------------------------------------
    p = h.daemon("tls-p", h.segment_name("p"), ports[3], [ports[0]], SIZE)
    p.start()
    # Let both outsiders retry a few times while a keeps writing: nothing may reach them.
    m = wh.Mapping(a.segment)
    marker = wh.nonzero_bytes(h.rng, 64)
    m.write(9 * wh.PAGE, marker)
    m.close()
    h.wait_visible([b], 9 * wh.PAGE, marker)
    wh.time.sleep(2.0)  # not synchronisation: a window in which a leak would show
    for d in (x, p):
        data = d.data()
        assert data is not None and data.count(0) == len(data), \
            f"{d.id} received replicated bytes through a refused connection"
        assert f"connected to peer tls-a" not in d.log_text(), f"{d.id} completed a wmd handshake"
    assert "connected to peer tls-x" not in a.log_text()
    assert "connected to peer tls-p" not in a.log_text()
    h.note("foreign-CA daemon and plaintext daemon refused; their segments stayed empty")

    # --- raw clients ------------------------------------------------------------------------
    # Plaintext: a valid hello, as a wmd peer would send it.
    s = socket.create_connection(("127.0.0.1", ports[0]), timeout=5)
    s.sendall(wf.hello(h.cluster, "raw-plain", wh.PAGE, SIZE))
    data, closed = read_for(s, 5)
    s.close()
    assert closed, "a plaintext client was not disconnected"
    assert_no_wmd_bytes(h, data, "plaintext client")
    # TLS without a client certificate.
    data, error = tls_client_read(ports[0], client_context(ca=f"{good}/ca.crt"))
    assert error is not None, "a client without a certificate was not refused"
    assert_no_wmd_bytes(h, data, "client without certificate")
    # TLS with a certificate of the foreign CA.
    data, error = tls_client_read(ports[0],
                                  client_context(foreign, "tls-x", ca=f"{good}/ca.crt"))
    assert error is not None, "a client with a foreign certificate was not refused"
    assert_no_wmd_bytes(h, data, "client with a foreign certificate")
    # A good certificate: the daemon's hello arrives (this is what the refusals did not get).
    data, error = tls_client_read(ports[0], client_context(good, "client", ca=f"{good}/ca.crt"))
    frames, _ = wh.split_frames(data)
    assert frames and frames[0][0] == wf.HELLO, f"no hello over TLS ({error}, {data[:32]!r})"
    hello = wf.parse_hello(frames[0][1])
    assert hello["peer_id"] == "tls-a" and hello["cluster"] == h.cluster, hello
    h.note("raw clients: plaintext, no certificate and foreign certificate got no wmd byte; "
           "a good certificate got the hello")
    # A client that never starts the TLS handshake is closed by the handshake timeout.
    s = socket.create_connection(("127.0.0.1", ports[0]), timeout=5)
    timeout_s = h.default_options()["handshake-timeout"] / 1000
    data, closed = read_for(s, timeout_s + 3)
    s.close()
    assert closed and data == b"", f"a silent client was not closed ({data[:32]!r})"
    wh.wait_until(lambda: "no handshake within" in a.log_text(), 5, "the handshake timeout log")
    h.note("a client silent before the TLS handshake was closed by the handshake timeout")

    # a and b are still syncing.
    m = wh.Mapping(b.segment)
    marker = wh.nonzero_bytes(h.rng, 64)
    m.write(11 * wh.PAGE, marker)
    m.close()
    h.wait_visible([a], 11 * wh.PAGE, marker)
    h.stop_all_checked([a, b, x, p])


if __name__ == "__main__":
    wh.run("tls", body, __doc__)

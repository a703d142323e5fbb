#!/usr/bin/env python3
"""Drill (issue 11, finding 4): under mutual TLS a peer id is bound to the certificate.

Three daemons n1, n2, n3 in a full TLS mesh (certificates from scripts/make-test-certs, each
named after its node). Then node n3's certificate is used to speak as n1: a wmdd started with
--id n1 and n3's certificate, and a raw TLS client with n3's certificate sending a hello as n1
and a patch from n1. Both are refused with an Error naming the certificate (logged by the
daemon they reach), the patch is not applied, and the real n1 keeps its session. After that an
honest write on every node converges within 2 s."""

import os
import socket
import ssl
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wmd_drill  # noqa: E402
import wmd_frames as wf  # noqa: E402
import wmd_harness as wh  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SIZE = 1024 * 1024
NODES = ["n1", "n2", "n3"]


def tls_options(certs, node):
    return {"tls-cert": f"{certs}/{node}.crt", "tls-key": f"{certs}/{node}.key",
            "tls-ca": f"{certs}/ca.crt"}


def body(h):
    certs = os.path.join(h.tmp, "certs")
    subprocess.run([os.path.join(REPO, "scripts", "make-test-certs"), certs, *NODES],
                   check=True, capture_output=True, timeout=60)
    ports = wh.free_ports(4)
    mesh = []
    for i, node in enumerate(NODES):
        peers = [p for j, p in enumerate(ports[:3]) if j != i]
        mesh.append(h.daemon(node, h.segment_name(node), ports[i], peers, SIZE,
                             **{"max-size": SIZE}, **tls_options(certs, node)))
    for d in mesh:
        d.start()
    n1, n2 = mesh[0], mesh[1]
    h.wait_converged(mesh)
    wmd_drill.honest_writes_converge(h, mesh, SIZE, what="start-up over TLS")

    # 1. A wmdd presenting id n1 with n3's certificate, dialling n2.
    impostor = h.daemon("n1", h.segment_name("imp"), ports[3], [n2.port], SIZE,
                        **{"max-size": SIZE}, **tls_options(certs, "n3"))
    impostor.log_path = os.path.join(h.tmp, "wmdd-impostor.log")
    impostor.start()
    wh.wait_until(lambda: "not a name of its certificate" in n2.log_text(), 10,
                  "n2 to log that it refused id n1 on n3's certificate")
    wh.wait_until(lambda: "not a name of its certificate" in impostor.log_text(), 10,
                  "the impostor to be told why it was refused")
    impostor.stop()

    # 2. A raw TLS client with n3's certificate: hello as n1, then a patch from n1.
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.load_verify_locations(f"{certs}/ca.crt")
    ctx.load_cert_chain(f"{certs}/n3.crt", f"{certs}/n3.key")
    raw = socket.create_connection(("127.0.0.1", n2.port), timeout=5)
    s = ctx.wrap_socket(raw, server_hostname="n2")
    forged = (SIZE - wh.PAGE + 8, b"as n1!!!")
    s.sendall(wf.hello(h.cluster, "n1", wh.PAGE, SIZE, lamport=1))
    s.sendall(wf.patch("n1", 1, 1 << 40, [forged]))
    data, closed = wh.recv_until_closed(s, 10)
    s.close()
    frames, _ = wh.split_frames(data)
    errors = [wf.parse_error(body) for kind, body in frames if kind == wf.ERROR]
    assert closed and errors, f"n2 did not refuse a hello as n1 on n3's certificate ({frames})"
    wh.log(f"refused with: {errors[0]}")
    assert n2.data()[forged[0]:forged[0] + len(forged[1])] != forged[1], \
        "the patch sent as n1 on n3's certificate was applied"
    assert "disconnected from peer n1" not in n2.log_text(), "the real n1 lost its session"
    wmd_drill.honest_writes_converge(h, mesh, SIZE, what="ids on foreign certificates")
    h.stop_all_checked(mesh)


if __name__ == "__main__":
    wh.run("certified_ids", body, __doc__)

#!/usr/bin/env python3
"""Drill (issue 11, finding 2): peer-table exhaustion. Forged peers under made-up ids, one
connection each (a hello and an 8-byte patch), fill a daemon's peer table (--max-peers 24 here,
1024 by default), and resync spreads them to the others. Before slots were reclaimed, a ghost
id kept its slot even after its bytes were overwritten, so a node that joined later was locked
out for good. Now the honest overwrite frees every ghost's slot: a new node joins, and an honest
write on every node converges within 2 s. A page state naming more new ids than a session may
introduce (64) is refused before anything of it is merged. With --members, made-up ids are
refused outright."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wmd_drills as dr  # noqa: E402
import wmd_frames as wf  # noqa: E402
import wmd_harness as wh  # noqa: E402

SIZE = 1024 * 1024
MAX_PEERS = 24
GHOSTS = 40
GHOST_PAGE = 4  # the ghosts' bytes all land on this page
MINTED_IDS = 65  # one more than a session may introduce
MINT_PAGE = 9  # never written by anyone else


def body(h):
    version = dr.daemon_protocol_version(h)
    nodes = h.mesh(3, SIZE, **{"max-peers": MAX_PEERS})
    a, b, c = nodes
    h.wait_converged(nodes, timeout_s=10, expected_size=SIZE)
    failures = []

    for n in range(GHOSTS):
        ghost = dr.ForgedPeer(h, a, f"ghost-{n}", SIZE, version)
        offset = GHOST_PAGE * wh.PAGE + 8 * n
        ghost.send(wf.patch(f"ghost-{n}", 1, 1 + n, [(offset, b"ghost!!!")]))
        ghost.closed_with_error(timeout_s=0.2)  # the ghost leaves (or is refused)
    # The ghosts that got a slot on a wrote their bytes there.
    h.wait_visible([a], GHOST_PAGE * wh.PAGE, b"ghost!!!", timeout_s=5)

    # An honest write covers every ghost byte: the ghosts own nothing any more.
    m = wh.Mapping(a.segment)
    m.write(GHOST_PAGE * wh.PAGE, h.rng.randbytes(wh.PAGE))
    m.close()
    h.wait_converged(nodes, timeout_s=10, expected_size=SIZE)

    # A node that was never in the table joins (it dials the others) and is not locked out.
    (port,) = wh.free_ports(1)
    d = h.daemon("newcomer", h.segment_name("d"), port, [x.port for x in nodes], SIZE,
                 **{"max-size": SIZE, "max-peers": MAX_PEERS}).start()
    everyone = nodes + [d]
    try:
        h.wait_converged(everyone, timeout_s=10, expected_size=SIZE)
    except AssertionError as e:
        failures.append(f"the new node did not catch up: {e}")
    dr.check_honest_writes(h, everyone, SIZE, failures)

    # A session may introduce at most 64 ids other than its own: one page state naming 65
    # made-up ids costs the sender its connection before any of the frame is merged.
    minter = dr.ForgedPeer(h, b, "minter", SIZE, version)
    length = wh.PAGE // MINTED_IDS
    runs = [(length, 5, f"minted-{k:02d}") for k in range(MINTED_IDS - 1)]
    runs.append((wh.PAGE - length * (MINTED_IDS - 1), 5, f"minted-{MINTED_IDS - 1:02d}"))
    minter.send(wf.page_states([(MINT_PAGE, b"M" * wh.PAGE, runs)]))
    closed, error = minter.closed_with_error()
    if not closed or error is None or "new id" not in error:
        failures.append(f"65 new ids in one page state: closed={closed}, error {error!r}")
    if b.data()[MINT_PAGE * wh.PAGE:(MINT_PAGE + 1) * wh.PAGE] != bytes(wh.PAGE):
        failures.append("the page state naming 65 new ids was merged")
    dr.check_honest_writes(h, everyone, SIZE, failures)

    # Under --members a made-up id is refused before it can take anything.
    (port,) = wh.free_ports(1)
    e = h.daemon("e", h.segment_name("e"), port, [], SIZE,
                 **{"max-size": SIZE, "members": "a,b,c"}).start()
    intruder = dr.ForgedPeer(h, e, "intruder", SIZE, version)
    intruder.send(wf.patch("intruder", 1, 1, [(0, b"intruder")]))
    closed, error = intruder.closed_with_error()
    if not closed or error is None or "member" not in error:
        failures.append(f"--members: a made-up id's patch: closed={closed}, error {error!r}")
    if e.data()[:8] == b"intruder":
        failures.append("--members: the made-up id's bytes were stored")
    dr.finish(h, "peer table", failures, everyone + [e])


if __name__ == "__main__":
    wh.run("drill_peer_table", body, __doc__)

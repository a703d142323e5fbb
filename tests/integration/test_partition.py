#!/usr/bin/env python3
"""Fault drill: a partition between two of three daemons while all keep writing, then healed.

Every link goes through a cuttable relay (a dials b and c, b dials c). The a-b link is cut
(connections reset, reconnects refused) while outside writers keep writing on all three hosts:
random writes in a region every host writes (conflicts), and on each host a series of markers
in pages only that host writes. a-c and b-c keep syncing during the cut. After the heal all three
converge byte for byte, and every marker is present everywhere: no write any daemon had detected
was lost (markers are never overwritten, so each must survive). Two rounds: a short cut and one
longer than the heartbeat timeout."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wmd_faults as wf  # noqa: E402
import wmd_harness as wh  # noqa: E402

SIZE = 4 * 1024 * 1024
HOT = (0, 64 * wh.PAGE)  # written by every host
MARKER_BYTES = 200


def marker_page(host_index, round_index, k):
    # Disjoint per host: pages 128.. for a, 256.. for b, 384.. for c.
    return 128 * (host_index + 1) + round_index * 40 + k


def body(h):
    ports = wh.free_ports(3)
    relay_ab = wf.CuttableRelay(ports[1])
    relay_ac = wf.CuttableRelay(ports[2])
    relay_bc = wf.CuttableRelay(ports[2])
    segs = [h.segment_name(x) for x in "abc"]
    a = h.daemon("a", segs[0], ports[0], [relay_ab.port, relay_ac.port], SIZE)
    b = h.daemon("b", segs[1], ports[1], [relay_bc.port], SIZE)
    c = h.daemon("c", segs[2], ports[2], [], SIZE)
    daemons = [a, b, c]
    for d in daemons:
        d.start()
    h.wait_converged(daemons, timeout_s=15)
    mappings = [wh.Mapping(d.segment) for d in daemons]
    markers = {}  # (offset) -> bytes

    for r, cut_s in enumerate((1.0, 4.0)):
        writers = [wh.Writer(d.segment, h.rng.randrange(1 << 30), limit=HOT[1], hot=HOT)
                   for d in daemons]
        for w in writers:
            w.start()
        time.sleep(0.5)
        relay_ab.cut()
        wh.log(f"round {r}: a-b cut for {cut_s} s, writers running on a, b, c")
        deadline = time.monotonic() + cut_s
        k = 0
        while time.monotonic() < deadline and k < 40:
            for i, m in enumerate(mappings):
                offset = marker_page(i, r, k) * wh.PAGE + 8 * h.rng.randrange(0, 100)
                data = wh.nonzero_bytes(h.rng, MARKER_BYTES)
                m.write(offset, data)
                markers[offset] = data
            k += 1
            time.sleep(cut_s / 12)
        # During the cut, a and b still reach c.
        last_a = max(o for o in markers if o // wh.PAGE < 256)
        h.wait_visible([c], last_a, markers[last_a], timeout_s=10)
        refused = relay_ab.refused
        relay_ab.heal()
        wh.log(f"round {r}: healed ({refused} reconnects refused during the cut, {k} markers "
               f"per host)")
        time.sleep(0.5)  # writers keep going across the heal
        for w in writers:
            w.stop()
        h.wait_converged(daemons, timeout_s=30, expected_size=SIZE)
        final = daemons[0].data()
        lost = [o for o, data in markers.items() if final[o : o + len(data)] != data]
        assert not lost, f"{len(lost)} markers lost after the heal, first at offset {lost[0]}"
        h.note(f"round {r}: converged after a {cut_s} s partition, {len(markers)} markers intact "
               f"({sum(w.ops for w in writers)} random writes)")
        assert relay_ab.refused > 0 or cut_s < 1.5, "the cut link was never retried"
    for m in mappings:
        m.close()
    for relay in (relay_ab, relay_ac, relay_bc):
        relay.close()
    h.stop_all_checked(daemons)


if __name__ == "__main__":
    wh.run("partition", body, __doc__)

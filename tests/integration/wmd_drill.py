"""Shared by the hostile-peer drills (issue 11): after each attack, an honest write on every
node of the mesh must reach every other node within a short bound."""

import wmd_harness as wh

HONEST_BOUND_S = 2.0


def honest_writes_converge(h, daemons, size, timeout_s=HONEST_BOUND_S, what="attack"):
    """Each daemon's segment gets one fresh 16-byte write at its own offset near the end (a
    runtime's ordinary write); every value must be visible on every daemon within timeout_s."""
    writes = []
    for i, d in enumerate(daemons):
        offset = size - (i + 1) * wh.PAGE + 128
        value = h.rng.randbytes(16)
        m = wh.Mapping(d.segment)
        m.write(offset, value)
        m.close()
        writes.append((d, offset, value))
    for d, offset, value in writes:
        try:
            h.wait_visible(daemons, offset, value, timeout_s=timeout_s)
        except AssertionError as e:
            raise AssertionError(f"after {what}: an honest write on {d.id} did not converge "
                                 f"within {timeout_s} s: {e}") from None
    wh.log(f"after {what}: honest writes on {','.join(d.id for d in daemons)} converged")

#!/usr/bin/env python3
"""Scenario 2: two hosts write disjoint bytes of the same page at the same time (even bytes on
one host, odd bytes on the other, several rounds): both hosts' bytes survive on every host."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wmd_harness as wh  # noqa: E402

SIZE = 1024 * 1024
ROUNDS = 5
PAGES = (0, 7, 100)  # the shared pages


def body(h):
    a, b, c = h.mesh(3, SIZE)
    ma, mb = wh.Mapping(a.segment), wh.Mapping(b.segment)
    expected = bytearray(SIZE)
    try:
        for r in range(ROUNDS):
            # Both hosts write their half of each page before either daemon's next scan can see
            # only one half: the writes are as concurrent as two hosts can make them.
            for page in PAGES:
                base = page * wh.PAGE
                even = wh.nonzero_bytes(h.rng, wh.PAGE // 2)
                odd = wh.nonzero_bytes(h.rng, wh.PAGE // 2)
                for i in range(wh.PAGE // 2):
                    expected[base + 2 * i] = even[i]
                    expected[base + 2 * i + 1] = odd[i]
                pa = bytearray(ma.read(base, wh.PAGE))
                pb = bytearray(mb.read(base, wh.PAGE))
                pa[0::2] = even
                pb[1::2] = odd
                # Write only the bytes each host owns: stores of single bytes, interleaved.
                for i in range(0, wh.PAGE, 2):
                    ma.mm[base + i] = pa[i]
                    mb.mm[base + i + 1] = pb[i + 1]
            want = bytes(expected)

            def all_have_both():
                return all(d.data() == want for d in (a, b, c))

            try:
                wh.wait_until(all_have_both, 20, f"round {r}: both hosts' bytes on every host")
            except AssertionError:
                for d in (a, b, c):
                    print(f"{d.id} vs expected: {wh.describe_difference(d.data(), want)}")
                raise
            wh.log(f"round {r}: both halves of pages {PAGES} present on a, b and c")
    finally:
        ma.close()
        mb.close()
    h.stop_all_checked()


if __name__ == "__main__":
    wh.run("false_sharing", body, __doc__)

#!/usr/bin/env python3
"""Scenario 8: a segment that is not what the daemon expects at start-up is refused: a control
object of random bytes, a real segment whose magic was altered, one with an unknown layout
version, and one made with another page size. wmdd prints a clear error, exits non-zero, and
leaves the segment's files (data, control, state) byte for byte as they were."""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wmd_harness as wh  # noqa: E402

SIZE = 1024 * 1024


def snapshot(name):
    out = {}
    for path in wh.segment_files(name):
        if os.path.exists(path):
            st = os.stat(path)
            out[path] = (st.st_mode, st.st_size, wh.read_file(path))
    return out


def compare_snapshots(before, after):
    problems = []
    for path in sorted(set(before) | set(after)):
        if path not in after:
            problems.append(f"{path} was removed")
        elif path not in before:
            problems.append(f"{path} was created")
        elif before[path] != after[path]:
            mb, sb, db = before[path]
            ma, sa, da = after[path]
            problems.append(f"{path} changed: mode {mb:o}->{ma:o}, size {sb}->{sa}; "
                            + wh.describe_difference(db, da))
    return problems


def expect_refused(h, d, what, words):
    """Starts d, expects a non-zero exit within 15 s and an error naming one of `words`."""
    before = snapshot(d.segment)
    d.start(wait_listening=False)
    rc = d.wait_exit(15)
    failures = []
    if rc is None:
        failures.append(f"{what}: wmdd still running after 15 s "
                        f"(listening={wh.is_listening(d.port)})")
        d.kill()
    elif rc == 0:
        failures.append(f"{what}: wmdd exited with status 0")
    text = d.log_text().split("===== start")[-1]
    if not re.search(words, text, re.IGNORECASE):
        failures.append(f"{what}: the output does not name the problem (/{words}/):\n{text}")
    failures += [f"{what}: {p}" for p in compare_snapshots(before, snapshot(d.segment))]
    if not failures:
        wh.log(f"{what}: refused with exit status {rc}; files untouched; said: "
               + " | ".join(line for line in text.splitlines()[1:] if line)[:300])
    return failures


def body(h):
    failures = []
    (port,) = wh.free_ports(1)

    # 1. Wrong magic: data and control objects full of random bytes.
    seg = h.segment_name("magic")
    data_path, ctl_path, _ = wh.segment_files(seg)
    for path, n in ((data_path, SIZE), (ctl_path, 64 * 1024)):
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
        os.write(fd, h.rng.randbytes(n))
        os.close(fd)
    d = h.daemon("magic", seg, port, size=SIZE, **{"max-size": SIZE})
    failures += expect_refused(h, d, "control object with a wrong magic", r"magic")

    # 2.-4. Real segments made (and written) by a daemon with 8 KiB pages, then altered.
    def make_segment(tag):
        seg = h.segment_name(tag)
        good = h.daemon(f"maker-{tag}", seg, port, size=SIZE, **{"max-size": SIZE}).start()
        m = wh.Mapping(seg)
        m.write(1000, h.rng.randbytes(5000))
        m.close()
        rc = good.stop()
        if rc != 0:  # not this scenario's subject, but a failure all the same
            failures.append(f"the daemon that made segment {tag} exited with {rc} on SIGTERM")
        return seg

    def patch_ctl(seg, offset, value):
        with open(wh.shm_path(seg) + ".ctl", "r+b") as f:
            f.seek(offset)
            f.write(value)

    seg = make_segment("flipped")
    patch_ctl(seg, wh.CTL_MAGIC, b"NOTWMD!!")
    d = h.daemon("flipped", seg, port, size=SIZE, **{"max-size": SIZE})
    failures += expect_refused(h, d, "real segment with its magic altered", r"magic")

    seg = make_segment("layout")
    patch_ctl(seg, wh.CTL_LAYOUT_VERSION, (99).to_bytes(4, "little"))
    d = h.daemon("layout", seg, port, size=SIZE, **{"max-size": SIZE})
    failures += expect_refused(h, d, "segment with layout version 99", r"layout|version")

    seg = make_segment("pagesize")
    d = h.daemon("pagesize", seg, port, size=SIZE, **{"max-size": SIZE, "page-size": 4096})
    failures += expect_refused(h, d, "segment made with 8 KiB pages, daemon with 4 KiB",
                               r"page.?size")

    if failures:
        raise AssertionError("\n".join(failures))


if __name__ == "__main__":
    wh.run("bad_segment_startup", body, __doc__)

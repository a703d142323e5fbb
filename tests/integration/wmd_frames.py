"""Encoder/decoder for the few wmd frames the hostile-input test forges (proto/PROTOCOL.md):
frame = u32 LE body length | u8 type | body; varints are LEB128; strings are u8 length + bytes.
Only what the tests need; the real codec is proto/."""

import struct

HELLO, PATCH, GROWTH, DIGESTS, PAGE_STATES, CATCHUP_DONE, HEARTBEAT, ERROR = range(1, 9)
PROTOCOL_VERSION = 3


def varint(v):
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def short_string(s):
    data = s.encode()
    assert len(data) <= 255
    return bytes([len(data)]) + data


def frame(kind, body):
    return struct.pack("<IB", len(body), kind) + body


def hello(cluster, peer_id, page_size, size, lamport=0, clock=None, version=PROTOCOL_VERSION):
    body = struct.pack("<H", version) + short_string(cluster) + short_string(peer_id)
    body += struct.pack("<IQQ", page_size, size, lamport)
    clock = clock or {}
    body += varint(len(clock))
    for peer in sorted(clock):
        body += short_string(peer) + varint(clock[peer])
    return frame(HELLO, body)


def patch(origin, seq, lamport, runs):
    """runs: sorted list of (offset, bytes)."""
    body = short_string(origin) + varint(seq) + varint(lamport) + varint(len(runs))
    previous_end = 0
    payload = b""
    for offset, data in runs:
        body += varint(offset - previous_end) + varint(len(data))
        previous_end = offset + len(data)
        payload += data
    return frame(PATCH, body + payload)


def growth(size):
    return frame(GROWTH, struct.pack("<Q", size))


def parse_hello(body):
    """Decodes a hello body into a dict (cluster, peer_id, page_size, size)."""
    pos = 2
    (version,) = struct.unpack_from("<H", body, 0)
    n = body[pos]
    cluster = body[pos + 1 : pos + 1 + n].decode()
    pos += 1 + n
    n = body[pos]
    peer_id = body[pos + 1 : pos + 1 + n].decode()
    pos += 1 + n
    page_size, size, lamport = struct.unpack_from("<IQQ", body, pos)
    return {"version": version, "cluster": cluster, "peer_id": peer_id,
            "page_size": page_size, "size": size, "lamport": lamport}


def parse_error(body):
    code, n = struct.unpack_from("<HH", body, 0)
    return code, body[4 : 4 + n].decode(errors="replace")


def digests(size, entries=(), last=True, reply_requested=False):
    """entries: sorted (page_index, digest) pairs."""
    body = struct.pack("<QB", size, (1 if last else 0) | (2 if reply_requested else 0))
    body += varint(len(entries))
    previous = -1
    for index, digest in entries:
        body += varint(index - previous - 1) + struct.pack("<Q", digest)
        previous = index
    return frame(DIGESTS, body)


def read_varint(data, pos):
    value, shift = 0, 0
    while True:
        b = data[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, pos
        shift += 7


def parse_page_states(body, page_size):
    """{page_index: page bytes} of a PageStates body (tables and version runs skipped)."""
    count, pos = read_varint(body, 0)
    for _ in range(count):
        pos += 1 + body[pos]
    count, pos = read_varint(body, pos)
    for _ in range(2 * count):
        _, pos = read_varint(body, pos)
    pages = {}
    count, pos = read_varint(body, pos)
    for _ in range(count):
        index, pos = read_varint(body, pos)
        pages[index] = body[pos : pos + page_size]
        pos += page_size
        runs, pos = read_varint(body, pos)
        for _ in range(2 * runs):
            _, pos = read_varint(body, pos)
    return pages


def parse_patch(body):
    """(origin, [(offset, bytes)]) of a Patch body."""
    n = body[0]
    origin = body[1 : 1 + n].decode()
    pos = 1 + n
    _, pos = read_varint(body, pos)  # seq
    _, pos = read_varint(body, pos)  # lamport
    count, pos = read_varint(body, pos)
    spans, end = [], 0
    for _ in range(count):
        gap, pos = read_varint(body, pos)
        length, pos = read_varint(body, pos)
        spans.append((end + gap, length))
        end += gap + length
    runs = []
    for offset, length in spans:
        runs.append((offset, body[pos : pos + length]))
        pos += length
    return origin, runs


def wire_runs(data, runs):
    """The canonical wire runs (length, sparse, timestamp) of one page (PROTOCOL.md 3.5): a run
    of timestamp T with non-zero bytes swallows each following (never-written zero bytes, run of
    T with non-zero bytes) pair."""
    spans, start = [], 0
    for length, lamport, peer in runs:
        spans.append((start, start + length, (lamport, peer)))
        start += length
    zero = (0, "")
    out, i = [], 0
    while i < len(spans):
        begin, end, ts = spans[i]
        j, sparse = i + 1, False
        if ts != zero and 0 not in data[begin:end]:
            while (j + 1 < len(spans) and spans[j][2] == zero
                   and not any(data[spans[j][0]:spans[j][1]]) and spans[j + 1][2] == ts
                   and 0 not in data[spans[j + 1][0]:spans[j + 1][1]]):
                end, j, sparse = spans[j + 1][1], j + 2, True
        out.append((end - begin, sparse, ts))
        i = j
    return out


def page_states(pages):
    """pages: list of (page_index, page bytes, runs) with runs a list of (length, lamport, peer
    id or "" for the zero timestamp), canonical (see PROTOCOL.md 3.5)."""
    stamps = sorted({(lamport, peer) for _, _, runs in pages for _, lamport, peer in runs if peer})
    peers = sorted({peer for _, peer in stamps})
    peer_ref = {peer: i + 1 for i, peer in enumerate(peers)}
    stamp_ref = {ts: i + 1 for i, ts in enumerate(stamps)}
    body = varint(len(peers)) + b"".join(short_string(p) for p in peers) + varint(len(stamps))
    previous = 0
    for lamport, peer in stamps:
        body += varint(lamport - previous) + varint(peer_ref[peer])
        previous = lamport
    body += varint(len(pages))
    for index, data, runs in pages:
        wire = wire_runs(data, runs)
        body += varint(index) + data + varint(len(wire))
        for length, sparse, ts in wire:
            body += varint(length << 1 | int(sparse)) + varint(stamp_ref.get(ts, 0))
    return frame(PAGE_STATES, body)

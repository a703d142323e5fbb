"""Encoder/decoder for the few wmd frames the hostile-input test forges (proto/PROTOCOL.md):
frame = u32 LE body length | u8 type | body; varints are LEB128; strings are u8 length + bytes.
Only what the tests need; the real codec is proto/."""

import struct

HELLO, PATCH, GROWTH, DIGESTS, PAGE_STATES, CATCHUP_DONE, HEARTBEAT, ERROR = range(1, 9)
PROTOCOL_VERSION = 2


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
    """{page_index: page bytes} of a PageStates body (version runs skipped)."""
    count, pos = read_varint(body, 0)
    for _ in range(count):
        pos += 1 + body[pos]
    pages = {}
    count, pos = read_varint(body, pos)
    for _ in range(count):
        index, pos = read_varint(body, pos)
        pages[index] = body[pos : pos + page_size]
        pos += page_size
        runs, pos = read_varint(body, pos)
        for _ in range(3 * runs):
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


def page_states(pages):
    """pages: list of (page_index, page bytes, runs) with runs a list of (length, lamport, peer
    id or "" for the zero timestamp), canonical (see PROTOCOL.md 3.5)."""
    peers = sorted({peer for _, _, runs in pages for _, _, peer in runs if peer})
    ref = {peer: i + 1 for i, peer in enumerate(peers)}
    body = varint(len(peers)) + b"".join(short_string(p) for p in peers) + varint(len(pages))
    for index, data, runs in pages:
        body += varint(index) + data + varint(len(runs))
        for length, lamport, peer in runs:
            body += varint(length) + varint(lamport) + varint(ref.get(peer, 0))
    return frame(PAGE_STATES, body)

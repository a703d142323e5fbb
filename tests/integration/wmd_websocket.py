"""A minimal RFC 6455 WebSocket client for the integration tests (Python has none in its
standard library): the HTTP upgrade, masked client frames, reassembly of fragmented messages,
answers to pings, and the closing handshake. Enough to act as a browser tab talking to
`wmdd --ws-listen`; not a general-purpose client (no extensions, no text helpers)."""

import base64
import hashlib
import os
import socket
import struct

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10


class Refused(Exception):
    """The server answered the upgrade with something other than 101."""

    def __init__(self, status, text):
        super().__init__(f"HTTP {status}: {text!r}")
        self.status = status
        self.text = text


class Closed(Exception):
    """The server closed the connection (close frame or EOF). code: the close code or None."""

    def __init__(self, code):
        super().__init__(f"closed (code {code})")
        self.code = code


def _read_http_head(sock):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
        if len(data) > 65536:
            raise AssertionError("HTTP response head too long")
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode(errors="replace").split("\r\n")
    status = int(lines[0].split()[1]) if lines and len(lines[0].split()) > 1 else 0
    headers = {}
    for line in lines[1:]:
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()
    return status, headers, rest


class Client:
    def __init__(self, port, target="/", headers=None, upgrade=True, timeout_s=10,
                 ssl_context=None, seed=0):
        raw = socket.create_connection(("127.0.0.1", port), timeout=timeout_s)
        self.sock = ssl_context.wrap_socket(raw, server_hostname="127.0.0.1") if ssl_context \
            else raw
        self.buffer = b""
        self.mask_counter = seed
        key = base64.b64encode(os.urandom(16))
        lines = [f"GET {target} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
        if upgrade:
            lines += ["Upgrade: websocket", "Connection: Upgrade",
                      f"Sec-WebSocket-Key: {key.decode()}", "Sec-WebSocket-Version: 13"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        status, reply_headers, rest = _read_http_head(self.sock)
        if status != 101:
            body = rest
            try:
                while len(body) < int(reply_headers.get("content-length", "0")):
                    chunk = self.sock.recv(4096)
                    if not chunk:
                        break
                    body += chunk
            except OSError:
                pass
            self.sock.close()
            raise Refused(status, body.decode(errors="replace"))
        expected = base64.b64encode(hashlib.sha1(key + GUID).digest()).decode()
        assert reply_headers.get("sec-websocket-accept") == expected, reply_headers
        self.headers = reply_headers
        self.buffer = rest

    # -- frames

    def send_frame(self, opcode, payload, fin=True, length_override=None):
        """Sends one masked frame. length_override: claim another payload length in the header
        (to forge oversized messages) while sending `payload` as is."""
        length = len(payload) if length_override is None else length_override
        head = bytes([(0x80 if fin else 0) | opcode])
        if length < 126:
            head += bytes([0x80 | length])
        elif length < 65536:
            head += bytes([0x80 | 126]) + struct.pack(">H", length)
        else:
            head += bytes([0x80 | 127]) + struct.pack(">Q", length)
        self.mask_counter += 1
        mask = hashlib.sha256(str(self.mask_counter).encode()).digest()[:4]
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(head + mask + masked)

    def send(self, data):
        """One binary message."""
        self.send_frame(OP_BINARY, data)

    def _need(self, n):
        while len(self.buffer) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise Closed(None)
            self.buffer += chunk
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def _read_frame(self):
        b0, b1 = self._need(2)
        assert not b1 & 0x80, "a server must not mask its frames"
        length = b1 & 0x7F
        if length == 126:
            (length,) = struct.unpack(">H", self._need(2))
        elif length == 127:
            (length,) = struct.unpack(">Q", self._need(8))
        return bool(b0 & 0x80), b0 & 0x0F, self._need(length)

    def recv(self, timeout_s=10):
        """The next data message as (opcode, payload); answers pings; raises Closed."""
        self.sock.settimeout(timeout_s)
        opcode, parts = None, []
        while True:
            fin, op, payload = self._read_frame()
            if op == OP_PING:
                self.send_frame(OP_PONG, payload)
                continue
            if op == OP_PONG:
                continue
            if op == OP_CLOSE:
                code = struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else None
                try:
                    self.send_frame(OP_CLOSE, payload[:2])
                except OSError:
                    pass
                raise Closed(code)
            if op != OP_CONT:
                opcode = op
            parts.append(payload)
            if fin:
                return opcode, b"".join(parts)

    def close(self):
        try:
            self.send_frame(OP_CLOSE, struct.pack(">H", 1000))
        except OSError:
            pass
        self.sock.close()

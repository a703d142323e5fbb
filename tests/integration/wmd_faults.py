"""Fault injection for the drills: a TCP relay that can cut, refuse, truncate and heal a link,
and /proc readings (open file descriptors, resident memory) for leak checks.

Python 3 standard library only. Thread-safety: a CuttableRelay is driven from the test's main
thread; its own threads only pump bytes and take its lock to count them.
"""

import os
import socket
import threading


class CuttableRelay:
    """127.0.0.1:port -> 127.0.0.1:target_port. cut() closes every relayed connection and
    refuses new ones (accepted, then closed at once) until heal(). cut_after(n) lets the next
    connection carry n bytes towards the dialer (target -> client), then cuts that connection
    in the middle of whatever it was carrying (a frame, a catch-up)."""

    def __init__(self, target_port):
        self.target_port = target_port
        self.lock = threading.Lock()
        self.down = False
        self.budget = None  # bytes target -> client before the next connection is cut
        self.pairs = []
        self.accepted = 0
        self.refused = 0
        self.truncated = 0
        self.bytes_down = 0
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.closing = False
        threading.Thread(target=self._accept_loop, daemon=True).start()

    # -- control

    def cut(self):
        with self.lock:
            self.down = True
            pairs, self.pairs = self.pairs, []
        for pair in pairs:
            _close_pair(pair)

    def heal(self):
        with self.lock:
            self.down = False

    def cut_after(self, n_bytes):
        with self.lock:
            self.budget = n_bytes

    def close(self):
        self.closing = True
        self.cut()
        self.sock.close()

    # -- relaying

    def _accept_loop(self):
        while not self.closing:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                down = self.down
            if down:
                with self.lock:
                    self.refused += 1
                _close_socket(client)
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
                upstream.settimeout(None)
            except OSError:
                _close_socket(client)
                continue
            for s in (client, upstream):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            pair = [client, upstream]
            with self.lock:
                self.accepted += 1
                budget, self.budget = self.budget, None
                self.pairs.append(pair)
            state = {"budget": budget}
            threading.Thread(target=self._pump, args=(client, upstream, pair, None),
                             daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, pair, state),
                             daemon=True).start()

    def _pump(self, src, dst, pair, state):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    dst.shutdown(socket.SHUT_WR)
                    return
                if state is not None and state["budget"] is not None:
                    if len(data) >= state["budget"]:
                        dst.sendall(data[: state["budget"]])
                        with self.lock:
                            self.truncated += 1
                        _close_pair(pair)
                        return
                    state["budget"] -= len(data)
                dst.sendall(data)
                if state is not None:
                    with self.lock:
                        self.bytes_down += len(data)
        except OSError:
            _close_pair(pair)


def _close_socket(s):
    try:
        # RST rather than FIN: the far side learns at once, as after a network failure.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    except OSError:
        pass
    try:
        s.close()
    except OSError:
        pass


def _close_pair(pair):
    for s in pair:
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        _close_socket(s)


# ----------------------------------------------------------------------------------------------
# /proc readings


def open_fds(pid):
    """Number of open file descriptors of process pid."""
    return len(os.listdir(f"/proc/{pid}/fd"))


def rss_kib(pid):
    """Resident set size of process pid in KiB (VmRSS)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def fd_kinds(pid):
    """Counts of fd targets by kind (socket, anon_inode, /dev/shm, ...), for leak reports."""
    kinds = {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        kind = target.split(":")[0] if ":" in target else os.path.dirname(target)
        kinds[kind] = kinds.get(kind, 0) + 1
    return kinds


def is_sanitized(binary):
    """True when binary was built with AddressSanitizer, whose quarantine holds freed memory
    (resident memory then says nothing about leaks; LeakSanitizer checks them at exit)."""
    with open(binary, "rb") as f:
        return b"__asan_init" in f.read()

"""Harness for wmdd integration tests and daemon benchmarks: real wmdd processes on 127.0.0.1.

What it guarantees, so that scenario files stay short:
- unique shm names per test (they carry the test's pid), free ports found by binding port 0;
- every daemon it starts is stopped (SIGTERM, then SIGKILL after a bound) when the test ends,
  and is also killed by the kernel if the test process dies (PR_SET_PDEATHSIG);
- every /dev/shm object it named is unlinked; objects left by dead test processes are swept;
- each daemon's output is captured in a temp dir and printed when the test fails;
- waiting is polling a condition against a deadline, never sleeping as synchronisation;
- randomness is seeded and the seed printed.

Python 3 standard library only. Thread-safety: a Harness is used from the main thread; Writer
threads only touch their own mapping.
"""

import argparse
import atexit
import ctypes
import fcntl
import mmap
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

SHM_DIR = "/dev/shm"
SHM_PREFIX = "wmdit-"  # every object this harness names starts with this
PAGE = 8192


# ----------------------------------------------------------------------------------------------
# Small utilities


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def wait_until(cond, timeout_s, what, interval_s=0.02):
    """Polls cond() until it returns a truthy value; raises AssertionError after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout_s:.1f} s waiting for {what}")
        time.sleep(interval_s)


def free_ports(count):
    """Ports the kernel just handed out for port 0 (all held open together so they differ)."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def is_listening(port):
    """True when a socket listens on port at a loopback or wildcard address (read from /proc,
    so that checking does not open a connection the daemon would have to handle)."""
    hosts = {"0100007F", "00000000", "0" * 32, "0" * 24 + "01000000", "0" * 16 + "FFFF00000100007F"}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    host, _, hex_port = fields[1].partition(":")
                    if fields[3] == "0A" and int(hex_port, 16) == port and host in hosts:
                        return True
        except OSError:
            pass
    return False


def shm_path(name):
    return os.path.join(SHM_DIR, name.lstrip("/"))


def segment_files(name):
    """Paths of the data, control and state objects of segment /NAME."""
    base = shm_path(name)
    return [base, base + ".ctl", base + ".state"]


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


def read_segment(name):
    try:
        return read_file(shm_path(name))
    except FileNotFoundError:
        return None


def describe_difference(a, b, max_items=8):
    """Human-readable summary of how two byte strings differ: sizes, count, first offsets."""
    if a is None or b is None:
        return f"missing segment (a is None: {a is None}, b is None: {b is None})"
    lines = []
    if len(a) != len(b):
        lines.append(f"sizes differ: {len(a)} vs {len(b)}")
    n = min(len(a), len(b))
    chunk = 4096
    first = []
    differing = 0
    for base in range(0, n, chunk):
        if a[base : base + chunk] == b[base : base + chunk]:
            continue
        for i in range(base, min(base + chunk, n)):
            if a[i] != b[i]:
                differing += 1
                if len(first) < max_items:
                    first.append(i)
    if differing:
        lines.append(f"{differing} differing bytes in the common {n} bytes; first offsets:")
        for off in first:
            lines.append(
                f"  offset {off} (page {off // PAGE}, +{off % PAGE}): "
                f"{a[off]:#04x} vs {b[off]:#04x}"
            )
    return "\n".join(lines) if lines else "identical"


def sweep_stale_objects():
    """Unlinks /dev/shm objects left behind by test processes that no longer exist."""
    pattern = re.compile(re.escape(SHM_PREFIX) + r"(\d+)-")
    for entry in os.listdir(SHM_DIR):
        m = pattern.match(entry)
        if not m:
            continue
        pid = int(m.group(1))
        if pid == os.getpid() or os.path.exists(f"/proc/{pid}"):
            continue
        try:
            os.unlink(os.path.join(SHM_DIR, entry))
        except OSError:
            pass


_libc = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1


def _die_with_parent():
    # Runs in the child between fork and exec: if the test process dies (ctest timeout kills
    # it with SIGKILL), the kernel kills the daemon too, so no daemon outlives its test.
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


# ----------------------------------------------------------------------------------------------
# Daemons


class Daemon:
    """One wmdd process (possibly restarted several times) with its log file."""

    def __init__(self, harness, peer_id, segment, port, peers, size, options):
        self.h = harness
        self.id = peer_id
        self.segment = segment
        self.port = port
        self.peers = list(peers)  # ports
        self.size = size
        self.options = dict(options)
        self.proc = None
        self.log_path = os.path.join(harness.tmp, f"wmdd-{peer_id}.log")
        self.starts = 0

    def argv(self):
        argv = [self.h.wmdd, "--segment", self.segment, "--listen", f"127.0.0.1:{self.port}"]
        argv += ["--id", self.id]
        if self.size is not None:
            argv += ["--size", str(self.size)]
        if self.peers:
            argv += ["--peers", ",".join(f"127.0.0.1:{p}" for p in self.peers)]
        for key, value in self.options.items():
            if value is None:
                continue
            if value is True:  # a flag without a value
                argv.append(f"--{key}")
                continue
            argv += [f"--{key}", str(value)]
        return argv

    def start(self, wait_listening=True, timeout_s=15, env=None):
        assert self.proc is None or self.proc.poll() is not None, f"{self.id} already running"
        self.starts += 1
        argv = self.argv()
        with open(self.log_path, "ab") as f:
            f.write(f"===== start #{self.starts}: {' '.join(argv)}\n".encode())
        logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            argv, stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent, env=env)
        logf.close()
        if wait_listening:
            self.wait_listening(timeout_s)
        return self

    def wait_listening(self, timeout_s=15):
        def ready():
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"wmdd {self.id} exited with {self.proc.returncode} during start-up")
            return is_listening(self.port)

        wait_until(ready, timeout_s, f"wmdd {self.id} to listen on port {self.port}")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def pid(self):
        return self.proc.pid

    def signal(self, sig):
        if self.alive():
            self.proc.send_signal(sig)

    def stop(self, timeout_s=10):
        """SIGTERM, then SIGKILL after timeout_s. Returns the exit code (None if killed)."""
        if self.proc is None:
            return None
        if self.proc.poll() is not None:
            return self.proc.returncode
        self.proc.send_signal(signal.SIGCONT)  # a SIGSTOPped daemon cannot handle SIGTERM
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.h.note(f"wmdd {self.id} ignored SIGTERM for {timeout_s} s: SIGKILL")
            self.proc.kill()
            self.proc.wait()
            return None

    def kill(self):
        if self.alive():
            self.proc.kill()
        if self.proc is not None:
            self.proc.wait()

    def wait_exit(self, timeout_s):
        try:
            return self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            return None

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def data(self):
        return read_segment(self.segment)


class Harness:
    """Owns the daemons, shm names and temp dir of one test."""

    def __init__(self, wmdd, test_name, seed, keep_logs=False):
        self.wmdd = os.path.abspath(wmdd) if wmdd else None
        self.name = test_name
        self.seed = seed
        self.rng = random.Random(seed)
        self.keep_logs = keep_logs
        self.tmp = tempfile.mkdtemp(prefix=f"wmd-{test_name}-")
        self.daemons = []
        self.segments = []
        self.notes = []
        self.cluster = f"it{os.getpid()}"
        self.closed = False
        sweep_stale_objects()
        atexit.register(self.close)

    # -- names and processes

    def segment_name(self, tag):
        name = f"/{SHM_PREFIX}{os.getpid()}-{self.name}-{tag}"
        self.segments.append(name)
        return name

    def note(self, text):
        self.notes.append(text)
        log(text)

    def default_options(self):
        return {
            "cluster": self.cluster,
            "page-size": PAGE,
            "scan-interval": 50,
            "heartbeat-interval": 200,
            "heartbeat-timeout": 2000,
            "handshake-timeout": 2000,
            "stats-interval": 5,
            "log-level": "debug",
        }

    def daemon(self, peer_id, segment, port, peers=(), size=None, **options):
        opts = self.default_options()
        opts.update({k.replace("_", "-"): v for k, v in options.items()})
        d = Daemon(self, peer_id, segment, port, peers, size, opts)
        self.daemons.append(d)
        return d

    def mesh(self, count, size, max_size=None, ids="abcdefgh", start=True, **options):
        """`count` daemons, each dialling all the others, each with its own segment."""
        ports = free_ports(count)
        result = []
        for i in range(count):
            peers = [p for j, p in enumerate(ports) if j != i]
            seg = self.segment_name(ids[i])
            result.append(self.daemon(ids[i], seg, ports[i], peers, size,
                                      **{"max-size": max_size or size}, **options))
        if start:
            for d in result:
                d.start()
        return result

    def stop_all_checked(self, daemons=None):
        """Stops the daemons with SIGTERM and asserts each exited with status 0."""
        bad = []
        for d in daemons or self.daemons:
            if d.proc is None or (d.proc.poll() is not None and d.proc.returncode != 0):
                if d.proc is not None:
                    bad.append(f"{d.id} had already exited with {d.proc.returncode}")
                continue
            rc = d.stop()
            if rc != 0:
                bad.append(f"{d.id} exit status {rc} after SIGTERM")
        if bad:
            raise AssertionError("unclean daemon exits: " + "; ".join(bad))

    def close(self, failed=False):
        if self.closed:
            return
        self.closed = True
        for d in self.daemons:
            try:
                d.stop(timeout_s=5)
            except Exception:  # noqa: BLE001 - cleanup must go on
                traceback.print_exc()
        for name in self.segments:
            for path in segment_files(name):
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass
        if failed or self.keep_logs:
            log(f"logs kept in {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def dump_logs(self, tail_lines=150):
        for d in self.daemons:
            text = d.log_text().splitlines()
            print(f"----- wmdd {d.id} log ({d.log_path}), last {tail_lines} of {len(text)} lines")
            for line in text[-tail_lines:]:
                print(line)
        sys.stdout.flush()

    # -- convergence

    def wait_converged(self, daemons, timeout_s=20, expected_size=None):
        """Waits until the data objects of `daemons` are byte-identical (and of expected_size)."""
        state = {}

        def converged():
            datas = [d.data() for d in daemons]
            state["datas"] = datas
            if any(x is None for x in datas):
                return False
            if expected_size is not None and any(len(x) != expected_size for x in datas):
                return False
            return all(x == datas[0] for x in datas[1:])

        try:
            wait_until(converged, timeout_s, "segments to converge", interval_s=0.05)
        except AssertionError:
            datas = state.get("datas", [])
            lines = [f"segments did not converge within {timeout_s} s"]
            for d, x in zip(daemons, datas):
                lines.append(f"  {d.id}: {None if x is None else len(x)} bytes, alive={d.alive()}")
            for d, x in zip(daemons[1:], datas[1:]):
                lines.append(f"{daemons[0].id} vs {d.id}: " + describe_difference(datas[0], x))
            raise AssertionError("\n".join(lines)) from None
        return state["datas"][0]

    def wait_visible(self, daemons, offset, value, timeout_s=10):
        """Waits until `value` is at `offset` in every daemon's segment."""
        def visible():
            for d in daemons:
                data = d.data()
                if data is None or data[offset : offset + len(value)] != value:
                    return False
            return True

        wait_until(visible, timeout_s, f"{value.hex()} at offset {offset} on "
                   + ",".join(d.id for d in daemons))


# ----------------------------------------------------------------------------------------------
# Outside writers


class Mapping:
    """A read-write MAP_SHARED mapping of a segment's data object, as any runtime would make."""

    def __init__(self, name, length=None):
        path = shm_path(name)
        self.fd = os.open(path, os.O_RDWR)
        size = os.fstat(self.fd).st_size
        self.length = size if length is None else min(length, size)
        self.mm = mmap.mmap(self.fd, self.length, mmap.MAP_SHARED,
                            mmap.PROT_READ | mmap.PROT_WRITE)

    def write(self, offset, data):
        self.mm[offset : offset + len(data)] = data

    def read(self, offset, length):
        return self.mm[offset : offset + length]

    def close(self):
        self.mm.close()
        os.close(self.fd)


# Offsets in struct wmd_ctl (shm/include/wmd/segment_layout.h).
CTL_MAGIC = 0
CTL_LAYOUT_VERSION = 8
CTL_PAGE_SIZE = 12
CTL_SIZE = 16
CTL_MAX_SIZE = 24
CTL_GENERATION = 32


def ctl_field(name, offset, width=8):
    with open(shm_path(name) + ".ctl", "rb") as f:
        f.seek(offset)
        return int.from_bytes(f.read(width), "little")


def grow_via_control(name, new_size):
    """Grows segment /NAME the way a runtime does (segment_layout.h's growth protocol): flock the
    data object, enlarge it, raise size_bytes in the control object, bump generation."""
    fd = os.open(shm_path(name), os.O_RDWR)
    cfd = os.open(shm_path(name) + ".ctl", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        if os.fstat(fd).st_size < new_size:
            os.ftruncate(fd, new_size)
        cmm = mmap.mmap(cfd, 4096, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        try:
            # Aligned 8-byte loads and stores through ctypes: single instructions on x86-64.
            size = ctypes.c_uint64.from_buffer(cmm, CTL_SIZE)
            generation = ctypes.c_uint64.from_buffer(cmm, CTL_GENERATION)
            if size.value < new_size:
                size.value = new_size
            generation.value += 1
            del size, generation
        finally:
            cmm.close()
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
        os.close(cfd)


_ZERO_TO_ONE = bytes([1]) + bytes(range(1, 256))


def nonzero_bytes(rng, n):
    """Random bytes none of which is zero (so each one changes an all-zero segment)."""
    return rng.randbytes(n).translate(_ZERO_TO_ONE)


_libc.memcmp.restype = ctypes.c_int
_libc.memcmp.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t]


def mapping_address(mm):
    """Address of an mmap's first byte (for memcmp). The mmap must outlive the use."""
    holder = ctypes.c_char.from_buffer(mm)
    address = ctypes.addressof(holder)
    del holder
    return address


def ranges_equal(addr_a, addr_b, offset, length):
    """memcmp of two mappings' ranges: tens of GB/s, unlike comparing Python slices."""
    return _libc.memcmp(addr_a + offset, addr_b + offset, length) == 0


class Writer(threading.Thread):
    """Writes into one segment until stopped: random bytes at random offsets, aligned 8-byte
    stores and 4 KiB blocks. `hot` = (offset, length) of a region written more often, so that
    writers on different hosts overlap pages and bytes."""

    def __init__(self, name, seed, limit=None, hot=None, pace_s=0.002, batch=16):
        super().__init__(daemon=True)
        self.segment = name
        self.rng = random.Random(seed)
        self.limit = limit
        self.hot = hot
        self.pace_s = pace_s
        self.batch = batch
        self.stop_event = threading.Event()
        self.ops = 0
        self.error = None

    def run(self):
        try:
            m = Mapping(self.segment, self.limit)
            try:
                while not self.stop_event.is_set():
                    for _ in range(self.batch):
                        self.one_write(m)
                    time.sleep(self.pace_s)  # pacing, to leave CPU for the daemons
            finally:
                m.close()
        except Exception as e:  # noqa: BLE001 - reported by stop()
            self.error = e

    def one_write(self, m):
        rng = self.rng
        lo, length = (0, m.length)
        if self.hot and rng.random() < 0.5:
            lo, length = self.hot
        kind = rng.random()
        if kind < 0.4:
            n = rng.randrange(1, 64)
            off = lo + rng.randrange(0, length - n)
            m.write(off, rng.randbytes(n))
        elif kind < 0.9:
            off = lo + rng.randrange(0, length // 8) * 8
            m.write(off, rng.randbytes(8))
        else:
            off = lo + rng.randrange(0, length // 4096) * 4096
            m.write(off, rng.randbytes(4096))
        self.ops += 1

    def stop(self):
        self.stop_event.set()
        self.join(10)
        if self.error:
            raise AssertionError(f"writer on {self.segment} failed: {self.error!r}")


# ----------------------------------------------------------------------------------------------
# Raw sockets and a counting relay


def recv_until_closed(sock, timeout_s):
    """Reads until the peer closes (returns (data, True)) or timeout_s passes ((data, False))."""
    deadline = time.monotonic() + timeout_s
    chunks = []
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return b"".join(chunks), False
        sock.settimeout(remaining)
        try:
            data = sock.recv(65536)
        except socket.timeout:
            return b"".join(chunks), False
        except (ConnectionResetError, BrokenPipeError):
            return b"".join(chunks), True
        if not data:
            return b"".join(chunks), True
        chunks.append(data)


def split_frames(data):
    """Splits a wmd byte stream into (type, body) frames: u32 LE body length, u8 type, body.
    Returns (frames, leftover_bytes)."""
    frames = []
    pos = 0
    while len(data) - pos >= 5:
        length = int.from_bytes(data[pos : pos + 4], "little")
        if len(data) - pos - 5 < length:
            break
        frames.append((data[pos + 4], data[pos + 5 : pos + 5 + length]))
        pos += 5 + length
    return frames, data[pos:]


class CountingRelay:
    """A TCP relay 127.0.0.1:listen_port -> 127.0.0.1:target_port that counts the payload bytes
    in each direction. One thread per direction per connection."""

    def __init__(self, target_port):
        self.target_port = target_port
        self.lock = threading.Lock()
        self.up_bytes = 0  # client -> target
        self.down_bytes = 0  # target -> client
        self.connections = 0
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.closing = False
        self.open_sockets = []
        threading.Thread(target=self._accept_loop, daemon=True).start()

    def total(self):
        with self.lock:
            return self.up_bytes + self.down_bytes

    def counts(self):
        with self.lock:
            return self.up_bytes, self.down_bytes

    def _accept_loop(self):
        while not self.closing:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            for s in (client, upstream):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self.lock:
                self.connections += 1
                self.open_sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, src, dst, up):
        buf = bytearray(1 << 20)
        view = memoryview(buf)
        try:
            while True:
                n = src.recv_into(buf)
                if n == 0:
                    dst.shutdown(socket.SHUT_WR)  # pass the half-close on
                    return
                dst.sendall(view[:n])
                with self.lock:
                    if up:
                        self.up_bytes += n
                    else:
                        self.down_bytes += n
        except OSError:
            for s in (src, dst):  # a reset on one side resets the relayed connection
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self):
        self.closing = True
        self.sock.close()
        with self.lock:
            for s in self.open_sockets:
                try:
                    s.close()
                except OSError:
                    pass


# ----------------------------------------------------------------------------------------------
# Entry point shared by the scenario files


def parse_args(description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--wmdd", required=True, help="path of the wmdd binary")
    p.add_argument("--seed", type=int, default=None, help="random seed (default: time-based)")
    p.add_argument("--keep-logs", action="store_true", help="keep the temp dir with daemon logs")
    return p.parse_args()


def run(test_name, body, description=""):
    """Runs body(harness) with cleanup, printing the seed, and the logs on failure."""
    args = parse_args(description or test_name)
    seed = args.seed if args.seed is not None else int(time.time() * 1000) % 1_000_000_007
    log(f"{test_name}: seed {seed} (rerun with --seed {seed})")
    h = Harness(args.wmdd, test_name, seed, args.keep_logs)

    def on_sigterm(signum, frame):  # ctest or a user stopping us: clean up like a failure
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_sigterm)
    started = time.monotonic()
    try:
        body(h)
    except BaseException:  # noqa: BLE001 - report everything, then fail
        traceback.print_exc()
        for text in h.notes:
            print(f"note: {text}")
        h.dump_logs()
        log(f"{test_name}: FAILED after {time.monotonic() - started:.1f} s (seed {seed})")
        h.close(failed=True)
        sys.exit(1)
    h.close()
    log(f"{test_name}: passed in {time.monotonic() - started:.1f} s")


def capture_hello(h, tag, **options):
    """Starts a throwaway wmdd that dials a socket of ours and returns the first frame it sends
    (its hello) as raw bytes. `options` override the daemon's flags (cluster, page-size, id)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    (own_port,) = free_ports(1)
    peer_id = options.pop("id", f"capture-{tag}")
    d = h.daemon(peer_id, h.segment_name(f"cap{tag}"), own_port,
                 peers=[listener.getsockname()[1]], size=1024 * 1024, **options)
    d.start()
    try:
        listener.settimeout(15)
        conn, _ = listener.accept()
        conn.settimeout(10)
        data = b""
        while True:
            frames, _ = split_frames(data)
            if frames:
                length = int.from_bytes(data[:4], "little")
                return data[: 5 + length]
            chunk = conn.recv(65536)
            if not chunk:
                raise AssertionError(f"wmdd {peer_id} closed before sending a whole hello")
            data += chunk
    finally:
        listener.close()
        d.stop()

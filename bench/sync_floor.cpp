// wmd-sync-floor: the initial sync's data path alone, done the cheapest way, to set beside a
// measured sync (bench/daemon/initial_sync.py runs it in the same run).
//
// A sync moves every byte of the source segment through the same system calls whatever the
// engine does around them: the sender reads it from shared memory (preadv) and writes it to a
// loopback TCP connection; the receiver reads the connection and backs two fresh copies, its
// data object and its shadow (pwrite). This program does exactly that and nothing else: two
// processes (the kernel's loopback work is charged to both, as between two daemons), 256 KiB
// chunks, no framing, no hashing, no bookkeeping. Its time is the floor of the design on this
// machine: what no implementation of it can beat here, however little CPU its own code takes.
//
// Usage: wmd-sync-floor SOURCE DATA_COPY SHADOW_COPY
//   SOURCE is read whole; the two copies are created (they must not exist) and left in place.
// Prints "floor: SECONDS s for BYTES bytes" on success; exits 1 with a message otherwise.
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

constexpr std::size_t kChunkBytes = 256 * 1024;

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "wmd-sync-floor: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

// Sends [0, size) of source to the connection.
void send_all(int source, std::uint64_t size, int connection) {
  std::vector<char> buffer(kChunkBytes);
  for (std::uint64_t offset = 0; offset < size;) {
    const std::size_t want =
        static_cast<std::size_t>(std::min<std::uint64_t>(kChunkBytes, size - offset));
    const ssize_t got = pread(source, buffer.data(), want, static_cast<off_t>(offset));
    if (got <= 0) die(got == 0 ? "source shorter than its size" : "pread");
    for (ssize_t sent = 0; sent < got;) {
      const ssize_t n =
          send(connection, buffer.data() + sent, static_cast<std::size_t>(got - sent), 0);
      if (n < 0) {
        if (errno == EINTR) continue;
        die("send");
      }
      sent += n;
    }
    offset += static_cast<std::uint64_t>(got);
  }
}

void write_all(int fd, const char* data, std::size_t length, std::uint64_t offset) {
  while (length > 0) {
    const ssize_t n = pwrite(fd, data, length, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      die("pwrite");
    }
    data += n;
    length -= static_cast<std::size_t>(n);
    offset += static_cast<std::uint64_t>(n);
  }
}

// Receives the connection to its end, each chunk written to both copies; returns the bytes.
std::uint64_t receive_all(int connection, int data_copy, int shadow_copy) {
  std::vector<char> buffer(kChunkBytes);
  std::uint64_t offset = 0;
  for (;;) {
    std::size_t filled = 0;
    while (filled < buffer.size()) {
      const ssize_t n = recv(connection, buffer.data() + filled, buffer.size() - filled, 0);
      if (n < 0) {
        if (errno == EINTR) continue;
        die("recv");
      }
      if (n == 0) break;
      filled += static_cast<std::size_t>(n);
    }
    if (filled == 0) return offset;
    write_all(data_copy, buffer.data(), filled, offset);
    write_all(shadow_copy, buffer.data(), filled, offset);
    offset += filled;
    if (filled < buffer.size()) return offset;
  }
}

int create_copy(const char* path) {
  const int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) die(path);
  return fd;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: wmd-sync-floor SOURCE DATA_COPY SHADOW_COPY\n");
    return 2;
  }
  const int source = open(argv[1], O_RDONLY | O_CLOEXEC);
  if (source < 0) die(argv[1]);
  struct stat st {};
  if (fstat(source, &st) != 0) die("fstat");
  const auto size = static_cast<std::uint64_t>(st.st_size);
  const int data_copy = create_copy(argv[2]);
  const int shadow_copy = create_copy(argv[3]);
  // Sized like a receiver's objects before the sync: the bytes still need backing.
  if (ftruncate(data_copy, st.st_size) != 0 || ftruncate(shadow_copy, st.st_size) != 0) {
    die("ftruncate");
  }

  const int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listener < 0) die("socket");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t address_length = sizeof address;
  if (bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      listen(listener, 1) != 0 ||
      getsockname(listener, reinterpret_cast<sockaddr*>(&address), &address_length) != 0) {
    die("listen on 127.0.0.1");
  }

  const auto start = std::chrono::steady_clock::now();
  const pid_t receiver = fork();
  if (receiver < 0) die("fork");
  if (receiver == 0) {
    const int connection = accept(listener, nullptr, nullptr);
    if (connection < 0) die("accept");
    std::_Exit(receive_all(connection, data_copy, shadow_copy) == size ? 0 : 1);
  }
  const int connection = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (connection < 0) die("socket");
  if (connect(connection, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    die("connect");
  }
  send_all(source, size, connection);
  if (shutdown(connection, SHUT_WR) != 0) die("shutdown");
  int status = 0;
  if (waitpid(receiver, &status, 0) != receiver) die("waitpid");
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "wmd-sync-floor: the receiver failed\n");
    return 1;
  }
  std::printf("floor: %.3f s for %llu bytes\n", seconds, static_cast<unsigned long long>(size));
  return 0;
}

// wmd-bench-flush-latency: how long a write made by a runtime takes to become visible in a
// peer's segment when the runtime asks for it (wmd_flush), through two real wmdd on loopback.
//
//   write 8 bytes in segment A -> wmd_flush(A) -> wmdd A scans, sends -> wmdd B applies to
//   segment B -> the reader sees the bytes (woken by wmd_wait(B))
//
// The daemons scan on their timer only every 10 s, so every sample travels the flush path.
// Baseline, measured in the same run: one-way latency of an 8-byte message over loopback TCP
// (half a ping-pong round trip between two threads). Target: p50 under 1 ms.
//
// Usage: wmd-bench-flush-latency [SAMPLES]   (wmdd is looked for beside this executable)
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>
#include <wmd/wmd.hpp>

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::uint64_t kSegmentBytes = 1 << 20;

double micros(Clock::duration d) {
  return std::chrono::duration<double, std::micro>(d).count();
}

struct Percentiles {
  double p50 = 0, p90 = 0, p99 = 0, max = 0;
};

Percentiles percentiles(std::vector<double> samples) {
  std::sort(samples.begin(), samples.end());
  auto at = [&](double q) { return samples[static_cast<std::size_t>(q * (samples.size() - 1))]; };
  return {at(0.5), at(0.9), at(0.99), samples.back()};
}

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length) != 0) {
    throw std::runtime_error("cannot find a free port");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

// A wmdd child process, stopped with SIGTERM on destruction.
class Daemon {
 public:
  Daemon(const std::string& wmdd, const std::string& segment, int port, int peer_port,
         const std::string& id) {
    std::vector<std::string> args = {wmdd,
                                     "--segment",
                                     segment,
                                     "--size",
                                     std::to_string(kSegmentBytes),
                                     "--listen",
                                     "127.0.0.1:" + std::to_string(port),
                                     "--peers",
                                     "127.0.0.1:" + std::to_string(peer_port),
                                     "--id",
                                     id,
                                     "--scan-interval",
                                     "10000",
                                     "--stats-interval",
                                     "0",
                                     "--log-level",
                                     "warn"};
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    if (::posix_spawn(&pid_, wmdd.c_str(), nullptr, nullptr, argv.data(), environ) != 0) {
      throw std::runtime_error("cannot start " + wmdd);
    }
  }
  ~Daemon() {
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

 private:
  pid_t pid_ = 0;
};

bool connected(const wmd::Segment& segment) {
  wmd_status_info status{};
  if (wmd_status(segment.handle(), &status) != WMD_OK || status.daemon_pid == 0) return false;
  for (std::uint32_t i = 0; i < status.peer_count && i < WMD_MAX_PEERS; ++i) {
    if (status.peers[i].connected) return true;
  }
  return false;
}

std::vector<double> measure_flush(wmd::Segment& a, wmd::Segment& b, int samples) {
  auto* bytes_a = static_cast<volatile std::uint64_t*>(a.base());
  auto* bytes_b = static_cast<volatile std::uint64_t*>(b.base());
  const std::uint64_t words = kSegmentBytes / sizeof(std::uint64_t);
  std::vector<double> latencies;
  for (int i = 0; i < samples; ++i) {
    // A different page each time, at a different place in it.
    const std::uint64_t index = (static_cast<std::uint64_t>(i) * 1031 + 7 * (i % 13)) % words;
    const std::uint64_t value = 0x5eed000000000000ull + static_cast<std::uint64_t>(i);
    const auto start = Clock::now();
    bytes_a[index] = value;
    if (a.flush(std::chrono::milliseconds(2000)) != wmd::WaitOutcome::done) {
      throw std::runtime_error("wmd_flush did not complete");
    }
    const auto deadline = start + std::chrono::seconds(2);
    while (bytes_b[index] != value) {
      if (Clock::now() > deadline) throw std::runtime_error("the write never reached segment B");
      b.wait(std::chrono::milliseconds(5));
    }
    latencies.push_back(micros(Clock::now() - start));
  }
  return latencies;
}

// One-way latency of an 8-byte message over loopback TCP: half a ping-pong round trip.
std::vector<double> measure_tcp(int samples) {
  int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof addr;
  ::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &length);
  ::listen(listener, 1);
  std::thread echo([&] {
    int fd = ::accept(listener, nullptr, nullptr);
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::uint64_t word = 0;
    while (::recv(fd, &word, sizeof word, MSG_WAITALL) == sizeof word)
      ::send(fd, &word, sizeof word, 0);
    ::close(fd);
  });
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    throw std::runtime_error("loopback connect failed");
  }
  std::vector<double> latencies;
  for (int i = 0; i < samples + 20; ++i) {
    std::uint64_t word = static_cast<std::uint64_t>(i);
    const auto start = Clock::now();
    ::send(fd, &word, sizeof word, 0);
    ::recv(fd, &word, sizeof word, MSG_WAITALL);
    if (i >= 20) latencies.push_back(micros(Clock::now() - start) / 2);
  }
  ::close(fd);
  echo.join();
  ::close(listener);
  return latencies;
}

void print_row(const char* what, const Percentiles& p) {
  std::printf("  %-44s %9.1f %9.1f %9.1f %9.1f\n", what, p.p50, p.p90, p.p99, p.max);
}

}  // namespace

int main(int argc, char** argv) {
  const int samples = argc > 1 ? std::max(10, std::atoi(argv[1])) : 1000;
  const std::string wmdd =
      (std::filesystem::canonical("/proc/self/exe").parent_path() / "wmdd").string();
  if (!std::filesystem::exists(wmdd)) {
    std::fprintf(stderr, "wmd-bench-flush-latency: %s not built; skipping\n", wmdd.c_str());
    return 0;
  }
  const std::string tag = "/wmd-bench-flush-" + std::to_string(::getpid());
  const std::string name_a = tag + "-A";
  const std::string name_b = tag + "-B";
  int status = 0;
  try {
    const int port_a = free_port();
    int port_b = free_port();
    while (port_b == port_a) port_b = free_port();
    wmd::OpenOptions options;
    options.create = true;
    options.min_size_bytes = kSegmentBytes;
    wmd::Segment a(name_a, options);
    wmd::Segment b(name_b, options);
    Daemon daemon_a(wmdd, name_a, port_a, port_b, "bench-A");
    Daemon daemon_b(wmdd, name_b, port_b, port_a, "bench-B");
    const auto deadline = Clock::now() + std::chrono::seconds(15);
    while (!connected(a) || !connected(b)) {
      if (Clock::now() > deadline) throw std::runtime_error("the daemons did not connect in 15 s");
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    measure_flush(a, b, 20);  // warm-up: connections, page tables, caches
    const Percentiles flushed = percentiles(measure_flush(a, b, samples));
    const Percentiles tcp = percentiles(measure_tcp(samples));

    std::printf(
        "== libwmd: flush round trip (write in segment A -> visible in segment B), %d samples\n",
        samples);
    std::printf("  %-44s %9s %9s %9s %9s\n", "microseconds", "p50", "p90", "p99", "max");
    print_row("flushed write, two wmdd on loopback", flushed);
    print_row("baseline: loopback TCP one-way (8 bytes)", tcp);
    std::printf("  ratio p50 flushed / TCP one-way: %.1fx\n", flushed.p50 / tcp.p50);
    const bool met = flushed.p50 < 1000.0;
    std::printf("  target p50 < 1000 us: %s (%.1f us)\n", met ? "met" : "NOT met", flushed.p50);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "wmd-bench-flush-latency: %s\n", error.what());
    status = 1;
  }
  wmd_unlink(name_a.c_str());
  wmd_unlink(name_b.c_str());
  return status;
}

// wmd-idle-floor: the least CPU an idle daemon of this design can take, to set beside wmdd's
// idle CPU (bench/daemon/idle_cpu.py runs it in the same run).
//
// Idle, with a registered writer and the default settings, every daemon of this design must
// still do three things: hold the segment mapped and a shadow copy of it resident (the shadow
// is what byte-level patches are cut from), wake once per scan interval to ask whether the
// writer wrote (wmdd reads the writer's fault count from /proc/PID/stat), and hash the whole
// segment once per audit interval (the safety net for writers that never register; a writer
// that maps, writes and unmaps between two checks leaves no other trace). This program does
// exactly that and nothing else: one thread and its sleep (plus the audit's helper), no
// network, no page-table walk (wmdd walks an idle writer's range once a second, to catch
// writes that do not fault; the floor leaves even that out). What it costs on a machine is the
// floor of the design's idle CPU there.
//
// Usage: wmd-idle-floor BYTES SECONDS [SCAN_INTERVAL_MS [AUDIT_INTERVAL_MS [AUDIT_THREADS]]]
//   Creates a shared-memory object of BYTES (filled with non-zero bytes, unlinked at once),
//   maps it, copies it to a shadow, hashes it once, then measures SECONDS of idling.
//   Defaults: 100 ms and 10000 ms, wmdd's --scan-interval and --audit-interval, and two audit
//   threads as wmdd uses at this size (1 or 2).
// Prints "idle floor: PERCENT % of a core over SECONDS s, AUDITS audits of MS ms each".
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>
#if defined(__x86_64__)
#include <xxh_x86dispatch.h>  // the widest vector unit, as the engine hashes
#endif

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr std::size_t kPageBytes = 8192;  // wmdd's default --page-size

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "wmd-idle-floor: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

double cpu_seconds() {
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) != 0) die("getrusage");
  const auto seconds = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

std::uint64_t parse_positive(const char* text, const char* what) {
  char* end = nullptr;
  const unsigned long long value = std::strtoull(text, &end, 10);
  if (end == text || *end != '\0' || value == 0) {
    std::fprintf(stderr, "wmd-idle-floor: %s must be a positive integer, got '%s'\n", what, text);
    std::exit(2);
  }
  return value;
}

// Maps a fresh shared-memory object of `bytes`, filled with a non-zero pattern.
std::uint8_t* map_filled_object(std::size_t bytes) {
  const std::string name = "/wmd-idle-floor-" + std::to_string(getpid());
  const int fd = shm_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) die("shm_open");
  shm_unlink(name.c_str());  // nothing is left behind, however the program ends
  if (ftruncate(fd, static_cast<off_t>(bytes)) != 0) die("ftruncate");
  void* data = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (data == MAP_FAILED) die("mmap");
  close(fd);
  auto* bytes_of = static_cast<std::uint8_t*>(data);
  std::uint64_t state = 0x9E3779B97F4A7C15u;
  for (std::size_t i = 0; i + sizeof state <= bytes; i += sizeof state) {
    state = state * 6364136223846793005u + 1442695040888963407u;
    const std::uint64_t word = state | 1;  // never a zero page: wmdd hashes every written page
    std::memcpy(bytes_of + i, &word, sizeof word);
  }
  return bytes_of;
}

// Hashes pages [first, end); returns how many differ from `hashes` (and stores the new ones).
std::size_t audit_range(const std::uint8_t* data, std::size_t first, std::size_t end,
                        std::uint64_t* hashes) {
  std::size_t changed = 0;
  for (std::size_t page = first; page < end; ++page) {
    const std::uint64_t hash = XXH3_64bits(data + page * kPageBytes, kPageBytes);
    if (hash != hashes[page]) {
      hashes[page] = hash;
      ++changed;
    }
  }
  return changed;
}

// The whole segment, in two halves on two threads as wmdd's audit does (one thread when
// `threads` is 1); returns the pages that changed.
std::size_t audit(const std::uint8_t* data, std::size_t pages, std::vector<std::uint64_t>& hashes,
                  std::uint64_t threads) {
  if (threads == 1) return audit_range(data, 0, pages, hashes.data());
  const std::size_t middle = pages / 2;
  std::size_t second_half = 0;
  std::thread helper([&] { second_half = audit_range(data, middle, pages, hashes.data()); });
  const std::size_t first_half = audit_range(data, 0, middle, hashes.data());
  helper.join();
  return first_half + second_half;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3 || argc > 6) {
    std::fprintf(stderr,
                 "usage: wmd-idle-floor BYTES SECONDS [SCAN_INTERVAL_MS [AUDIT_INTERVAL_MS "
                 "[AUDIT_THREADS]]]\n");
    return 2;
  }
  const std::uint64_t pages = parse_positive(argv[1], "BYTES") / kPageBytes;
  const std::uint64_t seconds = parse_positive(argv[2], "SECONDS");
  const std::uint64_t scan_ms = argc > 3 ? parse_positive(argv[3], "SCAN_INTERVAL_MS") : 100;
  const std::uint64_t audit_ms = argc > 4 ? parse_positive(argv[4], "AUDIT_INTERVAL_MS") : 10000;
  const std::uint64_t threads = argc > 5 ? parse_positive(argv[5], "AUDIT_THREADS") : 2;
  if (threads > 2) {
    std::fprintf(stderr, "wmd-idle-floor: AUDIT_THREADS is 1 or 2\n");
    return 2;
  }
  if (pages == 0) {
    std::fprintf(stderr, "wmd-idle-floor: BYTES must hold at least one %zu-byte page\n",
                 kPageBytes);
    return 2;
  }
  const std::size_t bytes = pages * kPageBytes;

  const std::uint8_t* data = map_filled_object(bytes);
  void* shadow = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (shadow == MAP_FAILED) die("mmap shadow");
  std::memcpy(shadow, data, bytes);
  std::vector<std::uint64_t> hashes(pages, 0);
  audit(data, pages, hashes, threads);
  const int own_stat = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
  if (own_stat < 0) die("/proc/self/stat");
  char stat_line[1024];

  const double cpu_start = cpu_seconds();
  const auto start = std::chrono::steady_clock::now();
  const auto end = start + std::chrono::seconds(seconds);
  auto next_audit = start + std::chrono::milliseconds(audit_ms);
  std::uint64_t audits = 0;
  std::chrono::duration<double, std::milli> audit_time{0};
  timespec wake{};
  clock_gettime(CLOCK_MONOTONIC, &wake);
  for (;;) {
    wake.tv_nsec += static_cast<long>(scan_ms % 1000) * 1000000;
    wake.tv_sec += static_cast<time_t>(scan_ms / 1000) + wake.tv_nsec / 1000000000;
    wake.tv_nsec %= 1000000000;
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &wake, nullptr) == EINTR) {
    }
    const auto now = std::chrono::steady_clock::now();
    // The round's question to the kernel: wmdd asks the writer's fault count this way.
    if (pread(own_stat, stat_line, sizeof stat_line, 0) < 0) die("pread /proc/self/stat");
    // Audits are due at every whole audit interval of the window, its end included: a window
    // of SECONDS holds as many as a daemon's window of the same length does on average.
    if (now >= next_audit && next_audit <= end) {
      const auto audit_start = std::chrono::steady_clock::now();
      if (audit(data, pages, hashes, threads) != 0) {
        std::fprintf(stderr, "wmd-idle-floor: the audit found a change nobody made\n");
        return 1;
      }
      audit_time += std::chrono::steady_clock::now() - audit_start;
      ++audits;
      next_audit += std::chrono::milliseconds(audit_ms);
    }
    if (now >= end) break;
  }
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double percent = (cpu_seconds() - cpu_start) / elapsed * 100;
  std::printf("idle floor: %.3f %% of a core over %.1f s, %llu audits of %.1f ms each\n", percent,
              elapsed, static_cast<unsigned long long>(audits),
              audits ? audit_time.count() / static_cast<double>(audits) : 0.0);
  return 0;
}

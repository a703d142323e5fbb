// wmdctl: the operator's view of a segment and its daemon, read from the segment's control
// object through libwmd (no network, no daemon round trip except for flush).
//
//   wmdctl status /wasm0 [--json]      peers, clocks, sizes, tracking mode, counters
//   wmdctl flush /wasm0 [--timeout MS] asks the daemon to scan and queue changes now
//
// Exit status: 0 done; 1 error (no such segment, refused); 2 bad arguments; 3 no live daemon
// serves the segment; 4 flush timed out; 5 flush left a local change pending (not stamped).
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <wmd/wmd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace {

constexpr int kExitError = 1;
constexpr int kExitUsage = 2;
constexpr int kExitNoDaemon = 3;
constexpr int kExitTimeout = 4;
constexpr int kExitPending = 5;

// Opens the segment without creating or changing it.
wmd_segment* open_segment(const std::string& name) {
  wmd_options options;
  wmd_options_init(&options);
  wmd_segment* segment = nullptr;
  if (const int rc = wmd_open(name.c_str(), &options, &segment); rc != WMD_OK) {
    std::fprintf(stderr, "wmdctl: cannot open segment %s: %s (%s)\n", name.c_str(),
                 wmd_strerror(rc), wmd_last_error_text());
    return nullptr;
  }
  return segment;
}

// The daemon's totals (wmd_ctl_counters) are not part of wmd_status(): they are read straight
// from a read-only mapping of the control object, after the same magic and version checks.
std::optional<wmd_ctl_counters> read_counters(const std::string& name) {
  const std::string path = "/dev/shm" + name + WMD_CTL_SUFFIX;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  void* memory = ::mmap(nullptr, sizeof(wmd_ctl), PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  if (memory == MAP_FAILED) return std::nullopt;
  const auto* ctl = static_cast<const wmd_ctl*>(memory);
  std::optional<wmd_ctl_counters> result;
  if (__atomic_load_n(&ctl->magic, __ATOMIC_ACQUIRE) == WMD_CTL_MAGIC &&
      __atomic_load_n(&ctl->layout_version, __ATOMIC_RELAXED) == WMD_LAYOUT_VERSION) {
    wmd_ctl_counters c{};
    c.scans = __atomic_load_n(&ctl->counters.scans, __ATOMIC_RELAXED);
    c.pages_changed = __atomic_load_n(&ctl->counters.pages_changed, __ATOMIC_RELAXED);
    c.bytes_changed = __atomic_load_n(&ctl->counters.bytes_changed, __ATOMIC_RELAXED);
    c.patches_applied = __atomic_load_n(&ctl->counters.patches_applied, __ATOMIC_RELAXED);
    c.catchups = __atomic_load_n(&ctl->counters.catchups, __ATOMIC_RELAXED);
    c.connection_errors = __atomic_load_n(&ctl->counters.connection_errors, __ATOMIC_RELAXED);
    result = c;
  }
  ::munmap(memory, sizeof(wmd_ctl));
  return result;
}

std::uint64_t now_unix_ms() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

// "2026-11-24T04:50:01Z (3.2 s ago)", or "never".
std::string describe_time(std::uint64_t unix_ms) {
  if (unix_ms == 0) return "never";
  const std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
  const std::uint64_t now = now_unix_ms();
  const double ago_s = now > unix_ms ? static_cast<double>(now - unix_ms) / 1000.0 : 0.0;
  char text[80];
  std::snprintf(text, sizeof text, "%s (%.1f s ago)", stamp, ago_s);
  return text;
}

std::string human_bytes(std::uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024.0 && unit < 4) {
    value /= 1024.0;
    ++unit;
  }
  char text[32];
  if (unit == 0) {
    std::snprintf(text, sizeof text, "%llu B", static_cast<unsigned long long>(bytes));
  } else {
    std::snprintf(text, sizeof text, "%.1f %s", value, units[unit]);
  }
  return text;
}

nlohmann::ordered_json status_json(const std::string& name, const wmd_segment* segment,
                                   const wmd_status_info& s,
                                   const std::optional<wmd_ctl_counters>& c,
                                   std::uint64_t pending_pages) {
  nlohmann::ordered_json j;
  j["segment"] = name;
  j["daemon_pid"] = s.daemon_pid;
  j["daemon_running"] = s.daemon_pid != 0;
  j["size_bytes"] = s.size_bytes;
  j["max_size_bytes"] = s.max_size_bytes;
  j["page_size_bytes"] = wmd_page_size(segment);
  j["generation"] = s.generation;
  j["tracking_mode"] = s.tracking_mode;
  j["clocks"] = {{"lamport", s.lamport}, {"local_seq", s.local_seq}};
  j["last_sync_unix_ms"] = s.last_sync_unix_ms;
  j["pending_pages"] = pending_pages;
  nlohmann::ordered_json counters;
  counters["errors"] = s.errors;
  if (c) {
    counters["scans"] = c->scans;
    counters["pages_changed"] = c->pages_changed;
    counters["bytes_changed"] = c->bytes_changed;
    counters["patches_applied"] = c->patches_applied;
    counters["catchups"] = c->catchups;
    counters["connection_errors"] = c->connection_errors;
  }
  j["counters"] = counters;
  j["last_error"] = s.last_error;
  auto peers = nlohmann::ordered_json::array();
  for (std::uint32_t i = 0; i < s.peer_count && i < WMD_MAX_PEERS; ++i) {
    const wmd_peer_info& p = s.peers[i];
    peers.push_back({{"peer_id", p.peer_id},
                     {"state", p.connected ? "connected" : "disconnected"},
                     {"rtt_us", p.rtt_us},
                     {"queue_bytes", p.queue_bytes},
                     {"last_catchup_unix_ms", p.last_catchup_unix_ms},
                     {"patches_sent", p.patches_sent},
                     {"patches_received", p.patches_received}});
  }
  j["peers"] = peers;
  return j;
}

void print_status(const std::string& name, const wmd_segment* segment, const wmd_status_info& s,
                  const std::optional<wmd_ctl_counters>& c, std::uint64_t pending_pages) {
  std::printf("segment %s: size %s (%llu bytes), max %s, page %u bytes, generation %llu\n",
              name.c_str(), human_bytes(s.size_bytes).c_str(),
              static_cast<unsigned long long>(s.size_bytes), human_bytes(s.max_size_bytes).c_str(),
              wmd_page_size(segment), static_cast<unsigned long long>(s.generation));
  if (s.daemon_pid == 0) {
    std::printf("daemon: NOT RUNNING (the figures below are the last ones published)\n");
  } else {
    std::printf("daemon: pid %d, tracking %s\n", s.daemon_pid,
                s.tracking_mode[0] != '\0' ? s.tracking_mode : "?");
  }
  std::printf("clocks: lamport %llu, local seq %llu; last remote changes applied %s\n",
              static_cast<unsigned long long>(s.lamport),
              static_cast<unsigned long long>(s.local_seq),
              describe_time(s.last_sync_unix_ms).c_str());
  if (c) {
    std::printf(
        "counters: %llu scans, %llu pages changed (%s), %llu patches applied, %llu catch-ups, "
        "%llu connection errors, %llu errors\n",
        static_cast<unsigned long long>(c->scans),
        static_cast<unsigned long long>(c->pages_changed), human_bytes(c->bytes_changed).c_str(),
        static_cast<unsigned long long>(c->patches_applied),
        static_cast<unsigned long long>(c->catchups),
        static_cast<unsigned long long>(c->connection_errors),
        static_cast<unsigned long long>(s.errors));
  } else {
    std::printf("counters: %llu errors\n", static_cast<unsigned long long>(s.errors));
  }
  std::printf("peers: %u\n", s.peer_count);
  if (s.peer_count > 0) {
    std::printf("  %-24s %-12s %10s %12s %11s/%-9s  %s\n", "PEER", "STATE", "RTT", "QUEUE",
                "PATCHES OUT", "IN", "LAST CATCH-UP");
  }
  for (std::uint32_t i = 0; i < s.peer_count && i < WMD_MAX_PEERS; ++i) {
    const wmd_peer_info& p = s.peers[i];
    char rtt[32];
    std::snprintf(rtt, sizeof rtt, "%.2f ms", static_cast<double>(p.rtt_us) / 1000.0);
    std::printf("  %-24s %-12s %10s %12s %11llu/%-9llu  %s\n", p.peer_id,
                p.connected ? "connected" : "disconnected", rtt, human_bytes(p.queue_bytes).c_str(),
                static_cast<unsigned long long>(p.patches_sent),
                static_cast<unsigned long long>(p.patches_received),
                describe_time(p.last_catchup_unix_ms).c_str());
  }
  if (pending_pages > 0) {
    std::printf("PENDING: %llu changed pages could not be stamped at the last scan\n",
                static_cast<unsigned long long>(pending_pages));
  }
  if (s.last_error[0] != '\0') std::printf("last error: %s\n", s.last_error);
}

int status_command(const std::string& name, bool json) {
  wmd_segment* segment = open_segment(name);
  if (segment == nullptr) return kExitError;
  wmd_status_info info{};
  int rc = WMD_EBUSY;
  for (int attempt = 0; attempt < 10 && rc == WMD_EBUSY; ++attempt) rc = wmd_status(segment, &info);
  if (rc != WMD_OK) {
    std::fprintf(stderr, "wmdctl: cannot read the status of %s: %s (%s)\n", name.c_str(),
                 wmd_strerror(rc), wmd_last_error_text());
    wmd_close(segment);
    return kExitError;
  }
  const auto counters = read_counters(name);
  std::uint64_t pending = 0;
  if (wmd_pending_pages(segment, &pending) != WMD_OK) pending = 0;  // busy: shown as none
  if (json) {
    std::printf("%s\n", status_json(name, segment, info, counters, pending).dump(2).c_str());
  } else {
    print_status(name, segment, info, counters, pending);
  }
  wmd_close(segment);
  return info.daemon_pid != 0 ? 0 : kExitNoDaemon;
}

int flush_command(const std::string& name, std::int64_t timeout_ms) {
  wmd_segment* segment = open_segment(name);
  if (segment == nullptr) return kExitError;
  const auto started = std::chrono::steady_clock::now();
  const int rc = wmd_flush(segment, timeout_ms);
  const auto took_us = std::chrono::duration_cast<std::chrono::microseconds>(
                           std::chrono::steady_clock::now() - started)
                           .count();
  wmd_close(segment);
  if (rc == WMD_OK) {
    std::printf("flushed %s: changes queued to every connected peer in %.2f ms\n", name.c_str(),
                static_cast<double>(took_us) / 1000.0);
    return 0;
  }
  std::fprintf(stderr, "wmdctl: flush of %s failed: %s\n", name.c_str(), wmd_strerror(rc));
  if (rc == WMD_ENODAEMON) return kExitNoDaemon;
  if (rc == WMD_ETIMEDOUT) return kExitTimeout;
  if (rc == WMD_EPENDING) {
    std::fprintf(stderr, "wmdctl: %s\n", wmd_last_error_text());
    return kExitPending;
  }
  return kExitError;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"wmdctl: status and flush of a wmd segment served by wmdd"};
  app.require_subcommand(1);
  std::string name;
  bool json = false;
  std::int64_t timeout_ms = 5000;
  auto* status = app.add_subcommand("status", "print the daemon's status for the segment");
  status->add_option("segment", name, "segment name, e.g. /wasm0")->required();
  status->add_flag("--json", json, "machine-readable output");
  auto* flush = app.add_subcommand("flush", "scan now and wait until changes are queued");
  flush->add_option("segment", name, "segment name, e.g. /wasm0")->required();
  flush->add_option("--timeout", timeout_ms, "milliseconds to wait (negative: no limit)")
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : kExitUsage;
  }
  if (name.empty() || name.front() != '/') name = "/" + name;
  if (status->parsed()) return status_command(name, json);
  return flush_command(name, timeout_ms);
}

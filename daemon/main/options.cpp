#include "daemon/main/options.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <functional>
#include <variant>

#include "daemon/tracker/kernel/tracking_mode.hpp"
#include "engine/types.hpp"
#include "proto/message.hpp"

namespace wmd::daemon {
namespace {

enum class Kind {
  text,
  size,
  count,
  octal,
  host_port,
  host_port_or_port,  // "HOST:PORT", or a bare "PORT" meaning 127.0.0.1:PORT
  host_port_list,
  log_level,
  tracking,
  flag
};

using Target =
    std::variant<std::string Options::*, std::uint64_t Options::*, std::uint32_t Options::*,
                 std::optional<std::uint64_t> Options::*, net::HostPort Options::*,
                 std::vector<net::HostPort> Options::*, bool Options::*>;

// One option: its flag (--name) is also its config-file key.
struct OptionSpec {
  const char* name;
  const char* value_name;
  const char* default_text;  // nullptr: no default
  const char* help;
  Kind kind;
  std::uint64_t min;  // numbers: bounds; text: min..max length
  std::uint64_t max;
  bool required;
  Target target;
};

constexpr std::uint64_t KiB = 1024;
constexpr std::uint64_t MiB = 1024 * KiB;
constexpr std::uint64_t GiB = 1024 * MiB;
constexpr std::uint64_t TiB = 1024 * GiB;

// The table. Defaults are written as the user would type them.
const std::array kOptions{
    OptionSpec{"segment", "NAME", nullptr,
               "POSIX shared-memory segment to replicate, e.g. /wasm0 (data in /dev/shm/NAME)",
               Kind::text, 2, 250, true, &Options::segment},
    OptionSpec{"size", "BYTES", nullptr,
               "create the segment with this size when missing, grow it when smaller "
               "(suffixes K, M, G, T / KiB, MiB, GiB, TiB; powers of 1024)",
               Kind::size, 1, 1 * TiB, false, &Options::size_bytes},
    OptionSpec{"segment-mode", "OCTAL", "0600",
               "permissions of segment objects this daemon creates", Kind::octal, 0, 0777, false,
               &Options::segment_mode},
    OptionSpec{"listen", "HOST:PORT", "0.0.0.0:7411", "address to accept peers on", Kind::host_port,
               0, 0, false, &Options::listen},
    OptionSpec{
        "peers", "HOST:PORT[,...]", nullptr,
        "peers to dial (repeatable, comma-separated); an entry naming this daemon is ignored",
        Kind::host_port_list, 0, 0, false, &Options::peers},
    OptionSpec{"id", "ID", nullptr,
               "this daemon's peer id, 1-64 printable characters (default: hostname:listen-port)",
               Kind::text, 1, kMaxPeerIdBytes, false, &Options::id},
    OptionSpec{"cluster", "NAME", "wmd", "cluster name; peers of another cluster are refused",
               Kind::text, 0, proto::kMaxClusterNameBytes, false, &Options::cluster},
    OptionSpec{"page-size", "BYTES", "8192",
               "tracking page size, a power of two from 4 KiB to 1 MiB; all peers must agree",
               Kind::size, 4 * KiB, 1 * MiB, false, &Options::page_size_bytes},
    OptionSpec{"scan-interval", "MS", "100",
               "milliseconds between change scans; 0 scans only when a client asks (flush)",
               Kind::count, 0, 3600 * 1000, false, &Options::scan_interval_ms},
    OptionSpec{"max-size", "BYTES", "4GiB",
               "largest size the segment may grow to (an existing segment's recorded maximum "
               "wins)",
               Kind::size, 4 * KiB, 1 * TiB, false, &Options::max_size_bytes},
    OptionSpec{"max-frame", "BYTES", "16MiB", "largest wire frame sent or accepted", Kind::size,
               proto::kMinMaxFrameBytes, 1 * GiB, false, &Options::max_frame_bytes},
    OptionSpec{"send-queue", "BYTES", "64MiB",
               "bytes of patches queued per peer before its queue is dropped and it is resynced",
               Kind::size, 64 * KiB, 64 * GiB, false, &Options::send_queue_bytes},
    OptionSpec{"heartbeat-interval", "MS", "1000", "milliseconds between heartbeats", Kind::count,
               10, 3600 * 1000, false, &Options::heartbeat_interval_ms},
    OptionSpec{"heartbeat-timeout", "MS", "5000",
               "close a connection that received nothing for this long", Kind::count, 20,
               3600 * 1000, false, &Options::heartbeat_timeout_ms},
    OptionSpec{"handshake-timeout", "MS", "5000", "close a connection whose handshake takes longer",
               Kind::count, 10, 3600 * 1000, false, &Options::handshake_timeout_ms},
    OptionSpec{"stats-interval", "S", "10", "seconds between stats log lines; 0 disables them",
               Kind::count, 0, 86400, false, &Options::stats_interval_s},
    OptionSpec{"tracking", "MODE", "auto",
               "change detection: kernel (dirty pages from the kernel, Linux 6.7+; refuse to "
               "start without it), hash (hash every page each interval) or auto (kernel where "
               "it works, else hash); writers that do not register are hash-scanned",
               Kind::tracking, 0, 0, false, &Options::tracking},
    OptionSpec{"audit-interval", "MS", "10000",
               "kernel tracking: milliseconds between full hash scans that catch writers the "
               "kernel does not report (at least --scan-interval)",
               Kind::count, 1, 3600 * 1000, false, &Options::audit_interval_ms},
    OptionSpec{"log-level", "LEVEL", "info", "trace, debug, info, warn or error", Kind::log_level,
               0, 0, false, &Options::log_level},
    OptionSpec{"allow-foreign-writable", "", nullptr,
               "accept a segment owned by another user or writable by group/others beyond "
               "--segment-mode (refused by default)",
               Kind::flag, 0, 0, false, &Options::allow_foreign_writable},
    OptionSpec{"max-connections", "N", "64",
               "peer connections open at once; further inbound ones are closed at once",
               Kind::count, 1, 65535, false, &Options::max_connections},
    OptionSpec{"max-pending-connections", "N", "8",
               "inbound connections still in their handshake at once; further ones are closed at "
               "once (idle sockets cannot take every --max-connections slot)",
               Kind::count, 1, 65535, false, &Options::max_pending_connections},
    OptionSpec{"max-buffered", "BYTES", "256MiB",
               "bytes of unfinished frames buffered across all connections; a connection whose "
               "read goes beyond it is closed (at least --max-frame)",
               Kind::size, 64 * KiB, 64 * GiB, false, &Options::max_buffered_bytes},
    OptionSpec{"catchup-rate", "BYTES", "32MiB",
               "catch-up bytes sent per second to one peer, after its first round on a connection "
               "(which runs at full speed)",
               Kind::size, 64 * KiB, 64 * GiB, false, &Options::catchup_rate_bytes},
    OptionSpec{"max-clock-offset", "MS", "500",
               "refuse a peer whose timestamps run more than this many milliseconds ahead of "
               "this host's wall clock (frames refused, connection closed); keep clocks in sync "
               "(NTP) well within it",
               Kind::count, 1, 3600 * 1000, false, &Options::max_clock_offset_ms},
    OptionSpec{"max-peers", "N", "1024",
               "peer ids the replication state records (ids that own bytes; an id whose bytes "
               "were all overwritten gives its slot back); fixed when the state is created",
               Kind::count, 2, 65536, false, &Options::max_peers},
    OptionSpec{"members", "ID[,...]", nullptr,
               "the only peer ids that may own bytes (this daemon's own id is always one): a "
               "patch or page state naming another is refused and its connection closed",
               Kind::text, 1, 65536, false, &Options::members},
    OptionSpec{"tls-cert", "FILE", nullptr,
               "PEM certificate of this node: with --tls-key and --tls-ca, every peer connection "
               "uses mutual TLS and plaintext or unknown peers are refused",
               Kind::text, 1, 4096, false, &Options::tls_cert},
    OptionSpec{"tls-key", "FILE", nullptr, "PEM private key of --tls-cert", Kind::text, 1, 4096,
               false, &Options::tls_key},
    OptionSpec{"tls-ca", "FILE", nullptr,
               "PEM certificate(s) of the CA that signs every node's certificate", Kind::text, 1,
               4096, false, &Options::tls_ca},
    OptionSpec{"metrics", "HOST:PORT", nullptr,
               "serve Prometheus metrics at http://HOST:PORT/metrics", Kind::host_port, 0, 0, false,
               &Options::metrics},
    OptionSpec{"ws-listen", "[HOST:]PORT", nullptr,
               "also accept peers over WebSocket (browsers, Node without the addon) at "
               "ws://HOST:PORT/ (wss:// with --tls-cert); a bare PORT listens on 127.0.0.1; "
               "needs --ws-token-file",
               Kind::host_port_or_port, 0, 0, false, &Options::ws_listen},
    OptionSpec{"ws-token-file", "FILE", nullptr,
               "file holding the token WebSocket clients must present (ws://HOST:PORT/?token=... "
               "or Authorization: Bearer); others get HTTP 401",
               Kind::text, 1, 4096, false, &Options::ws_token_file},
};

[[noreturn]] void fail(const std::string& message) {
  throw OptionsError(2, message);
}

std::optional<std::uint64_t> parse_unsigned(std::string_view text, int base) {
  std::uint64_t value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value, base);
  if (text.empty() || ec != std::errc{} || ptr != end) return std::nullopt;
  return value;
}

template <typename T>
void assign_number(Options& options, const Target& target, std::uint64_t value) {
  if (auto* member = std::get_if<T Options::*>(&target)) {
    options.*(*member) = static_cast<T>(value);
  }
}

void apply_one(Options& options, const OptionSpec& spec, const std::string& raw) {
  const std::string flag = std::string("--") + spec.name;
  switch (spec.kind) {
    case Kind::text:
    case Kind::log_level:
    case Kind::tracking: {
      if (spec.kind == Kind::tracking) {
        if (!kernel::parse_tracking_mode(raw)) {
          fail(flag + ": '" + raw + "' is not one of auto, hash, kernel");
        }
      } else if (spec.kind == Kind::log_level) {
        static const std::array levels{"trace", "debug", "info", "warn", "error"};
        if (std::find(levels.begin(), levels.end(), raw) == levels.end()) {
          fail(flag + ": '" + raw + "' is not one of trace, debug, info, warn, error");
        }
      } else if (raw.size() < spec.min || raw.size() > spec.max) {
        fail(flag + ": '" + raw + "' must be " + std::to_string(spec.min) + " to " +
             std::to_string(spec.max) + " characters");
      }
      options.*std::get<std::string Options::*>(spec.target) = raw;
      return;
    }
    case Kind::host_port:
    case Kind::host_port_or_port: {
      const bool bare_port = spec.kind == Kind::host_port_or_port && !raw.empty() &&
                             raw.find_first_not_of("0123456789") == std::string::npos;
      auto parsed = net::parse_host_port(bare_port ? "127.0.0.1:" + raw : raw);
      if (!parsed.ok()) fail(flag + ": '" + raw + "' is not HOST:PORT (port 1-65535)");
      options.*std::get<net::HostPort Options::*>(spec.target) = *parsed;
      return;
    }
    case Kind::host_port_list:
    case Kind::flag:
      return;  // handled by the caller
    case Kind::size:
    case Kind::count:
    case Kind::octal: {
      std::optional<std::uint64_t> value;
      const char* what = "a number";
      if (spec.kind == Kind::size) {
        value = parse_size(raw);
        what = "a byte count (e.g. 4096, 64M, 1GiB)";
      } else if (spec.kind == Kind::count) {
        value = parse_unsigned(raw, 10);
      } else {
        value = parse_unsigned(raw, 8);
        what = "an octal mode (e.g. 0600)";
      }
      if (!value) fail(flag + ": '" + raw + "' is not " + what);
      if (*value < spec.min || *value > spec.max) {
        fail(flag + ": " + raw + " is out of range (" + std::to_string(spec.min) + " to " +
             std::to_string(spec.max) + ")");
      }
      if (auto* optional = std::get_if<std::optional<std::uint64_t> Options::*>(&spec.target)) {
        options.*(*optional) = *value;
      }
      assign_number<std::uint64_t>(options, spec.target, *value);
      assign_number<std::uint32_t>(options, spec.target, *value);
      return;
    }
  }
}

// Checks that involve several options.
void check_together(const Options& options) {
  const auto& segment = options.segment;
  if (segment.front() != '/' || segment.find('/', 1) != std::string::npos) {
    fail("--segment: '" + segment + "' must be one '/' followed by a name, e.g. /wasm0");
  }
  const auto page = options.page_size_bytes;
  if ((page & (page - 1)) != 0) {
    fail("--page-size: " + std::to_string(page) + " is not a power of two");
  }
  if (options.max_size_bytes < page) fail("--max-size: smaller than the page size");
  if (options.size_bytes && *options.size_bytes > options.max_size_bytes) {
    fail("--size: " + std::to_string(*options.size_bytes) + " is larger than --max-size " +
         std::to_string(options.max_size_bytes));
  }
  if (options.max_frame_bytes < 4ull * page) {
    fail("--max-frame: must be at least 4 pages (" + std::to_string(4ull * page) + " bytes)");
  }
  if (options.max_buffered_bytes < options.max_frame_bytes) {
    fail("--max-buffered: smaller than --max-frame " + std::to_string(options.max_frame_bytes));
  }
  if (options.audit_interval_ms < options.scan_interval_ms) {
    fail("--audit-interval: " + std::to_string(options.audit_interval_ms) +
         " is shorter than --scan-interval " + std::to_string(options.scan_interval_ms));
  }
  if (options.heartbeat_timeout_ms <= options.heartbeat_interval_ms) {
    fail("--heartbeat-timeout: must be longer than --heartbeat-interval");
  }
  const int tls_files =
      !options.tls_cert.empty() + !options.tls_key.empty() + !options.tls_ca.empty();
  if (tls_files != 0 && tls_files != 3) {
    fail("--tls-cert, --tls-key and --tls-ca go together: give all three or none");
  }
  if (options.ws_listen.port != 0 && options.ws_token_file.empty()) {
    fail(
        "--ws-listen: needs --ws-token-file (any web page the user opens can reach a "
        "WebSocket port, loopback included)");
  }
  if (options.ws_listen.port == 0 && !options.ws_token_file.empty()) {
    fail("--ws-token-file: only with --ws-listen");
  }
  if (!is_valid_peer_id(options.id)) {
    fail("--id: '" + options.id + "' must be 1-64 printable ASCII characters without spaces");
  }
  for (const std::string& member : member_ids(options)) {
    if (!is_valid_peer_id(member)) {
      fail("--members: '" + member + "' must be 1-64 printable ASCII characters without spaces");
    }
  }
}

}  // namespace

std::vector<std::string> member_ids(const Options& options) {
  std::vector<std::string> ids;
  if (options.members.empty()) return ids;
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = options.members.find(',', start);
    ids.push_back(options.members.substr(start, comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return ids;
}

std::optional<std::uint64_t> parse_size(std::string_view text) {
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0) return std::nullopt;
  const auto number = parse_unsigned(text.substr(0, digits), 10);
  if (!number) return std::nullopt;
  std::string suffix(text.substr(digits));
  for (auto& c : suffix) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  std::uint64_t unit = 1;
  if (suffix.empty() || suffix == "B") {
    unit = 1;
  } else if (suffix == "K" || suffix == "KB" || suffix == "KIB") {
    unit = KiB;
  } else if (suffix == "M" || suffix == "MB" || suffix == "MIB") {
    unit = MiB;
  } else if (suffix == "G" || suffix == "GB" || suffix == "GIB") {
    unit = GiB;
  } else if (suffix == "T" || suffix == "TB" || suffix == "TIB") {
    unit = TiB;
  } else {
    return std::nullopt;
  }
  if (*number > UINT64_MAX / unit) return std::nullopt;
  return *number * unit;
}

Options parse_options(std::span<const std::string> args, const std::string& hostname) {
  CLI::App app{
      "wmdd: replicates a shared-memory segment (WebAssembly linear memory) with peer daemons",
      args.empty() ? "wmdd" : args[0]};
  app.get_formatter()->column_width(34);
  std::vector<std::string> raw(kOptions.size());
  std::vector<std::vector<std::string>> raw_lists(kOptions.size());
  std::vector<char> raw_flags(kOptions.size(), 0);
  std::vector<CLI::Option*> cli(kOptions.size());
  for (std::size_t i = 0; i < kOptions.size(); ++i) {
    const auto& spec = kOptions[i];
    const std::string flag = std::string("--") + spec.name;
    CLI::Option* option = nullptr;
    if (spec.kind == Kind::host_port_list) {
      option = app.add_option(flag, raw_lists[i], spec.help)->delimiter(',');
    } else if (spec.kind == Kind::flag) {
      option = app.add_flag_callback(
          flag, [&raw_flags, i] { raw_flags[i] = 1; }, spec.help);
    } else {
      option = app.add_option(flag, raw[i], spec.help);
    }
    option->type_name(spec.value_name);
    if (spec.default_text != nullptr) option->default_str(spec.default_text);
    if (spec.required) option->required();
    cli[i] = option;
  }
  app.set_config("--config", "", "read options from FILE: `key = value` lines, keys as above")
      ->type_name("FILE");
  app.allow_config_extras(false);

  std::vector<const char*> argv;
  for (const auto& arg : args) argv.push_back(arg.c_str());
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::CallForHelp&) {
    throw OptionsError(0, app.help());
  } catch (const CLI::ParseError& e) {
    throw OptionsError(2, std::string(e.what()) + "\nRun with --help for more information.");
  }

  Options options;
  for (std::size_t i = 0; i < kOptions.size(); ++i) {
    const auto& spec = kOptions[i];
    if (spec.kind == Kind::host_port_list) {
      auto& list = options.*std::get<std::vector<net::HostPort> Options::*>(spec.target);
      for (const auto& item : raw_lists[i]) {
        if (item.empty()) continue;
        auto parsed = net::parse_host_port(item);
        if (!parsed.ok()) {
          fail(std::string("--") + spec.name + ": '" + item + "' is not HOST:PORT (port 1-65535)");
        }
        list.push_back(*parsed);
      }
      continue;
    }
    if (spec.kind == Kind::flag) {
      options.*std::get<bool Options::*>(spec.target) = raw_flags[i] != 0;
      continue;
    }
    if (cli[i]->count() > 0) {
      apply_one(options, spec, raw[i]);
    } else if (spec.default_text != nullptr) {
      apply_one(options, spec, spec.default_text);
    }
  }
  if (auto* config = app.get_config_ptr(); config != nullptr && config->count() > 0) {
    options.config_file = config->as<std::string>();
  }
  if (options.id.empty()) options.id = hostname + ":" + std::to_string(options.listen.port);
  check_together(options);
  return options;
}

}  // namespace wmd::daemon

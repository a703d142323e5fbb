// wmdd: the sync daemon. Parses options, opens the segment and the persistent engine state,
// then runs the mesh on this (network) thread and the replicator on its engine thread until
// SIGTERM/SIGINT, when it scans one last time, flushes the queues (bounded) and exits 0. A
// second SIGTERM/SIGINT during that flush ends it at once with exit code 1 (what was still
// queued is not sent; the replication state is crash-safe and the peers catch up).
#include <malloc.h>
#include <pthread.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <fmt/ranges.h>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <csignal>
#include <cstdio>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "daemon/main/local_object_watch.hpp"
#include "daemon/main/metrics.hpp"
#include "daemon/main/options.hpp"
#include "daemon/main/replicator.hpp"
#include "daemon/main/systemd_notifier.hpp"
#include "daemon/net/mesh.hpp"
#include "daemon/net/metrics_server.hpp"
#include "daemon/net/tls_context.hpp"
#include "daemon/net/ws_upgrade.hpp"
#include "daemon/segment/segment.hpp"
#include "daemon/segment/serving_lock.hpp"
#include "daemon/tracker/kernel/kernel_probe.hpp"
#include "daemon/tracker/kernel/tracking_mode.hpp"
#include "engine/engine.hpp"

namespace {

namespace asio = boost::asio;
using wmd::daemon::Options;

constexpr auto kShutdownFlushTimeout = std::chrono::milliseconds(2000);
// Longest sleep of the flush doorbell's thread. Clients wake it when they ring (the layout's
// contract), so this only bounds the wait of a ring whose wake never came; an idle daemon pays
// for every wakeup of every thread (README: the daemon's idle CPU).
constexpr auto kDoorbellPoll = std::chrono::seconds(10);
constexpr auto kSystemdStatusInterval = std::chrono::seconds(5);
// Least time between two checks of the segment's objects for truncation by another process
// (inotify starts them; without it, the polling period). An access to a truncated object is
// caught at once anyway, see segment/truncation_guard.hpp.
constexpr auto kLocalObjectCheckInterval = std::chrono::milliseconds(250);
// The replication state is this daemon's alone, whatever --segment-mode grants the segment.
constexpr std::uint32_t kStateMode = 0600;
constexpr int kExitConfig = 2;  // as for bad options: systemd does not restart it
// A second SIGTERM/SIGINT cut the shutdown flush short: queued patches were dropped.
constexpr int kExitFlushCutShort = 1;

const char* signal_name(int signal_number) {
  return signal_number == SIGTERM ? "SIGTERM" : "SIGINT";
}

// True for 127.0.0.0/8, ::1 and "localhost": addresses no other machine can reach.
bool is_loopback(const std::string& host) {
  if (host == "localhost") return true;
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  return !ec && address.is_loopback();
}

std::string systemd_status(const Options& options, const wmd::net::MeshSnapshot& mesh,
                           std::uint64_t size_bytes) {
  return fmt::format("serving {}: {} peer(s) connected, size {} bytes, {} bytes queued",
                     options.segment, mesh.peers.size(), size_bytes, mesh.queue_bytes);
}

std::string host_name() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "localhost";
  return name;
}

std::string describe_peers(const Options& options) {
  std::vector<std::string> peers;
  for (const auto& peer : options.peers) peers.push_back(peer.to_string());
  return peers.empty() ? std::string("none") : fmt::format("{}", fmt::join(peers, ","));
}

// Waits on the segment's flush doorbell and hands each request to the replicator.
class FlushDoorbell {
 public:
  FlushDoorbell(wmd::Segment& segment, wmd::daemon::Replicator& replicator)
      : segment_(segment), replicator_(replicator) {
    thread_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "wmdd-flush");
      run();
    });
  }
  ~FlushDoorbell() {
    stop_ = true;
    // A wake landing just before the waiter sleeps is missed (see Segment::wake_flush_waiter):
    // repeat it until the thread is out, rather than wait out its sleep.
    while (!exited_.load(std::memory_order_acquire)) {
      segment_.wake_flush_waiter();
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    thread_.join();
  }

 private:
  void run() {
    std::uint32_t seen = 0;
    while (!stop_) {
      segment_.wait_flush_request(seen, kDoorbellPoll);
      const std::uint32_t ticket = segment_.flush_requested();
      if (ticket != seen && !stop_) {
        seen = ticket;
        replicator_.request_flush(ticket);
      }
    }
    exited_.store(true, std::memory_order_release);
  }

  wmd::Segment& segment_;
  wmd::daemon::Replicator& replicator_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> exited_{false};
  std::thread thread_;
};

// A start-up step failed and said why in the log; main exits with exit_code.
struct StartupFailure {
  int exit_code = 1;
};

// Transport security: first, so that a bad file leaves no segment behind. Null: plaintext.
std::shared_ptr<asio::ssl::context> make_tls(const Options& options) {
  if (options.tls_cert.empty()) {
    if (!is_loopback(options.listen.host)) {
      spdlog::warn(
          "listening on {} WITHOUT TLS: anyone who can reach this port can read and change the "
          "segment; give --tls-cert, --tls-key and --tls-ca (see scripts/make-test-certs), or "
          "listen on 127.0.0.1",
          options.listen.to_string());
    }
    return nullptr;
  }
  auto context = wmd::net::make_tls_context({options.tls_cert, options.tls_key, options.tls_ca});
  if (!context.ok()) {
    spdlog::error("cannot set up TLS: {}", context.error().detail());
    throw StartupFailure{kExitConfig};
  }
  spdlog::info("mutual TLS on every peer connection (CA {}); plaintext peers are refused",
               options.tls_ca);
  return std::move(context).value();
}

// The WebSocket endpoint (--ws-listen): its token and, with --tls-cert, a server-only TLS
// context. Like TLS, before the segment. Port 0: none.
struct WebSocketEndpoint {
  wmd::net::HostPort listen;
  std::shared_ptr<const wmd::net::WsToken> token;
  std::shared_ptr<asio::ssl::context> tls;
};

WebSocketEndpoint make_websocket(const Options& options) {
  if (options.ws_listen.port == 0) return {};
  auto token = wmd::net::WsToken::from_file(options.ws_token_file);
  if (!token.ok()) {
    spdlog::error("cannot set up the WebSocket endpoint: {}", token.error().detail());
    throw StartupFailure{kExitConfig};
  }
  WebSocketEndpoint endpoint{options.ws_listen,
                             std::make_shared<const wmd::net::WsToken>(std::move(token).value()),
                             nullptr};
  if (!options.tls_cert.empty()) {
    auto context = wmd::net::make_tls_server_context({options.tls_cert, options.tls_key, ""});
    if (!context.ok()) {
      spdlog::error("cannot set up TLS for WebSocket clients: {}", context.error().detail());
      throw StartupFailure{kExitConfig};
    }
    endpoint.tls = std::move(context).value();
  } else if (!is_loopback(options.ws_listen.host)) {
    spdlog::warn(
        "WebSocket clients at ws://{}/ WITHOUT TLS: the token and the segment's bytes cross the "
        "network in clear; give --tls-cert and --tls-key for wss://, or listen on 127.0.0.1",
        options.ws_listen.to_string());
  }
  return endpoint;
}

// Change detection: before the segment, so that a refusal leaves nothing behind.
wmd::kernel::TrackingDecision decide_change_detection(const Options& options) {
  const auto tracking_mode = wmd::kernel::parse_tracking_mode(options.tracking);
  if (!tracking_mode) {  // parse_options validated it
    spdlog::error("--tracking: '{}' is not one of auto, hash, kernel", options.tracking);
    throw StartupFailure{kExitConfig};
  }
  wmd::kernel::KernelProbe probe;
  if (*tracking_mode != wmd::kernel::TrackingMode::hash) {
    probe = wmd::kernel::probe_kernel_tracking();
  }
  auto tracking = wmd::kernel::decide_tracking(
      *tracking_mode, probe, std::chrono::milliseconds(options.audit_interval_ms));
  if (tracking.refuse_start) {
    spdlog::error("{}", tracking.log_line);
    throw StartupFailure{};
  }
  spdlog::info("{}", tracking.log_line);
  return tracking;
}

// The lock that makes this the one daemon serving the segment: taken before anything is opened.
std::unique_ptr<wmd::ServingLock> lock_segment(const Options& options) {
  auto serving = wmd::ServingLock::acquire(options.segment);
  if (!serving.ok()) {
    spdlog::error("cannot serve segment {}: {}", options.segment, serving.error().detail());
    throw StartupFailure{};
  }
  return std::move(serving).value();
}

// REQUIRES: the caller holds the segment's ServingLock (a damaged control object is rebuilt).
std::unique_ptr<wmd::Segment> open_segment(const Options& options) {
  wmd::SegmentConfig config;
  config.name = options.segment;
  config.size_bytes = options.size_bytes.value_or(0);
  config.max_size_bytes = options.max_size_bytes;
  config.page_size_bytes = options.page_size_bytes;
  config.mode = options.segment_mode;
  config.allow_foreign_writable = options.allow_foreign_writable;
  config.rebuild_damaged_control = true;
  auto opened = wmd::Segment::open(config);
  if (!opened.ok()) {
    spdlog::error("cannot open segment {}: {}", options.segment, opened.error().message());
    throw StartupFailure{};
  }
  auto segment = std::move(opened).value();
  if (!segment->repair_note().empty()) {
    spdlog::warn("segment {}: {}", options.segment, segment->repair_note());
  }
  segment->guard_against_truncation();
  if (segment->max_size_bytes() != options.max_size_bytes) {
    spdlog::warn("segment {} records a maximum size of {} bytes; --max-size {} is ignored",
                 options.segment, segment->max_size_bytes(), options.max_size_bytes);
  }
  return segment;
}

// The engine over the segment, and its persistent state (which must outlive it).
struct Replication {
  std::unique_ptr<wmd::StateStore> state;
  std::unique_ptr<wmd::Engine> engine;
};

Replication open_engine(const Options& options, wmd::Segment& segment) {
  wmd::EngineConfig config;
  config.page_size_bytes = segment.page_size_bytes();
  config.peer_id = options.id;
  config.max_size_bytes = segment.max_size_bytes();
  config.max_patch_bytes = std::min<std::uint32_t>(1u << 20, options.max_frame_bytes / 8);
  // Version runs live in a pool of the sparse state object. Small segments get a floor of
  // 16384 blocks (4 MiB): a page written byte-interleaved by two hosts alone needs ~550.
  config.version_pool_blocks =
      static_cast<std::uint32_t>(std::max<std::uint64_t>(16384, config.max_size_bytes / 512));
  config.wall_clock_ms = [] {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count());
  };
  config.max_clock_offset_ms = options.max_clock_offset_ms;
  config.members = wmd::daemon::member_ids(options);
  config.max_peers = static_cast<std::uint32_t>(options.max_peers);
  auto state_bytes = wmd::Engine::state_bytes_required(config);
  if (!state_bytes.ok()) {
    spdlog::error("invalid engine configuration: {}", state_bytes.error().message());
    throw StartupFailure{};
  }
  auto state = wmd::StateStore::open(options.segment, *state_bytes, kStateMode);
  if (!state.ok()) {
    spdlog::error("cannot open replication state {}.state: {}", options.segment,
                  state.error().message());
    throw StartupFailure{};
  }
  Replication replication{std::move(state).value(), nullptr};
  replication.state->guard_against_truncation();
  auto engine = wmd::Engine::create(
      config, segment.bytes(), replication.state->bytes(),
      [&segment](std::uint64_t size_bytes) { return segment.grow(size_bytes); });
  if (!engine.ok() && engine.error() == wmd::errc::bad_layout_version) {
    spdlog::error(
        "cannot use replication state {}.state: it was written by an older wmdd (Lamport "
        "timestamps; this one stamps with hybrid logical clocks and cannot convert them): remove "
        "/dev/shm{}.state and restart; the daemon catches up from its peers",
        options.segment, options.segment);
    throw StartupFailure{};
  }
  if (!engine.ok()) {
    spdlog::error(
        "cannot use replication state {}.state: {} (it belongs to another peer id, page size or "
        "maximum size; remove /dev/shm{}.state to start afresh and catch up from peers)",
        options.segment, engine.error().message(), options.segment);
    throw StartupFailure{};
  }
  replication.engine = std::move(engine).value();
  // Never-written pages stay holes in /dev/shm: scans skip them instead of backing them.
  replication.engine->set_backing_probe([&segment](std::uint64_t page, std::uint64_t end_page) {
    const std::uint64_t page_bytes = segment.page_size_bytes();
    const wmd::DataExtent extent = segment.data_extent(page * page_bytes, end_page * page_bytes);
    return wmd::BackingExtent{extent.holds_memory, extent.end_bytes / page_bytes};
  });
  // ... and page states for them are written by pwritev(), not faulted in through the mappings.
  replication.engine->set_bulk_page_writer(
      [&segment, store = replication.state.get()](wmd::Storage storage,
                                                  std::span<const wmd::StorageWrite> writes) {
        return storage == wmd::Storage::memory ? segment.write_data(writes) : store->write(writes);
      });
  // Catch-up exports read the shadow copy by preadv(), a batch of pages a call, not through the
  // mapping (only the state object is asked: the engine exports from its shadow).
  replication.engine->set_page_reader(
      [store = replication.state.get()](wmd::Storage storage,
                                        std::span<const wmd::StorageRead> reads) -> wmd::Status {
        if (storage != wmd::Storage::state) return wmd::Error(wmd::errc::invalid_config, "");
        return store->read(reads);
      });
  return replication;
}

void log_starting(const Options& options, const wmd::Engine& engine,
                  const wmd::kernel::TrackingDecision& tracking) {
  const auto& recovery = engine.recovery_stats();
  spdlog::info(
      "wmdd starting: segment {} size {} bytes, max {} bytes, page {} bytes; listen {}; peers {}; "
      "id {}; cluster '{}'; scan every {} ms; tracking={}{}; state {} (torn pages repaired {}, "
      "corrupt pages reset {}, previous shutdown {})",
      options.segment, engine.size_bytes(), engine.max_size_bytes(), engine.page_size(),
      options.listen.to_string(), describe_peers(options), options.id, options.cluster,
      options.scan_interval_ms, tracking.use_kernel ? "kernel" : "hash",
      tracking.use_kernel ? fmt::format(" (audit every {} ms)", options.audit_interval_ms) : "",
      recovery.resumed ? "resumed" : "fresh", recovery.torn_pages, recovery.corrupt_pages,
      !recovery.resumed ? "n/a" : (recovery.clean_shutdown ? "clean" : "unclean"));
}

wmd::daemon::ReplicatorConfig replicator_config(const Options& options,
                                                const wmd::kernel::TrackingDecision& tracking) {
  wmd::daemon::ReplicatorConfig config;
  config.scan_interval = std::chrono::milliseconds(options.scan_interval_ms);
  config.max_frame_bytes = options.max_frame_bytes;
  config.catchup_rate_bytes = options.catchup_rate_bytes;
  config.stats_interval = std::chrono::seconds(options.stats_interval_s);
  config.kernel_tracking = tracking.use_kernel;
  config.audit_interval = std::chrono::milliseconds(options.audit_interval_ms);
  return config;
}

wmd::daemon::SegmentHooks segment_hooks(wmd::Segment& seg) {
  wmd::daemon::SegmentHooks hooks;
  hooks.control_size_bytes = [&seg] { return seg.control_size_bytes(); };
  hooks.notify_remote_applied = [&seg] { seg.notify_remote_applied(); };
  hooks.publish_status = [&seg](const wmd::SegmentStatus& status) { seg.publish_status(status); };
  hooks.flush_completed = [&seg](std::uint32_t ticket, bool changes_pending) {
    seg.flush_completed(ticket, changes_pending);
  };
  hooks.writers = [&seg] { return seg.writers(); };
  return hooks;
}

wmd::net::MeshConfig mesh_config(const Options& options, const wmd::Engine& engine,
                                 std::shared_ptr<asio::ssl::context> tls,
                                 WebSocketEndpoint websocket) {
  wmd::net::MeshConfig config;
  config.identity = {options.id, options.cluster, engine.page_size(), engine.max_size_bytes()};
  config.listen = options.listen;
  config.peers = options.peers;
  config.max_frame_bytes = options.max_frame_bytes;
  config.send_queue_bytes = options.send_queue_bytes;
  config.heartbeat_interval = std::chrono::milliseconds(options.heartbeat_interval_ms);
  config.heartbeat_timeout = std::chrono::milliseconds(options.heartbeat_timeout_ms);
  config.handshake_timeout = std::chrono::milliseconds(options.handshake_timeout_ms);
  config.tls = std::move(tls);
  config.max_connections = options.max_connections;
  config.ws_listen = websocket.listen;
  config.ws_token = std::move(websocket.token);
  config.ws_tls = std::move(websocket.tls);
  config.max_pending_connections = options.max_pending_connections;
  config.max_buffered_bytes = options.max_buffered_bytes;
  config.seed =
      static_cast<std::uint64_t>(getpid()) ^
      static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  return config;
}

// Null when --metrics is off.
std::unique_ptr<wmd::net::MetricsServer> start_metrics(const Options& options,
                                                       asio::io_context& net_io,
                                                       const wmd::daemon::Replicator& replicator,
                                                       const wmd::net::Mesh& mesh) {
  if (options.metrics.port == 0) return nullptr;
  const wmd::daemon::MetricsIdentity identity{options.segment, options.id, WMD_VERSION_STRING};
  auto metrics = std::make_unique<wmd::net::MetricsServer>(net_io, [&, identity] {
    return wmd::daemon::render_prometheus(identity, replicator.counters(), mesh.snapshot());
  });
  if (auto started = metrics->start(options.metrics); !started.ok()) {
    spdlog::error("{}", started.error().detail());
    throw StartupFailure{};
  }
  spdlog::info("metrics at http://{}/metrics", options.metrics.to_string());
  return metrics;
}

// systemd's status line, now and then, until stop().
class SystemdStatusTimer {
 public:
  SystemdStatusTimer(asio::io_context& io, std::function<void()> update)
      : timer_(io), update_(std::move(update)) {
    schedule();
  }
  void stop() {
    boost::system::error_code ignored;
    timer_.cancel(ignored);
  }

 private:
  void schedule() {
    timer_.expires_after(kSystemdStatusInterval);
    timer_.async_wait([this](boost::system::error_code ec) {
      if (ec) return;
      update_();
      schedule();
    });
  }
  asio::steady_timer timer_;
  std::function<void()> update_;
};

// Threads: network on this one, engine on the replicator's. Returns the exit code.
int serve(const Options& options, wmd::Segment& segment, wmd::Engine& engine,
          std::shared_ptr<asio::ssl::context> tls, WebSocketEndpoint websocket,
          const wmd::kernel::TrackingDecision& tracking) {
  const bool wss = websocket.tls != nullptr;
  asio::io_context net_io(1);
  // Registered before we listen: a SIGTERM that arrives while starting up is queued for the
  // handler below instead of killing the process with the default action.
  asio::signal_set signals(net_io, SIGINT, SIGTERM);
  wmd::daemon::SystemdNotifier systemd(net_io);
  wmd::daemon::LocalObjectWatch object_watch(net_io, segment, kLocalObjectCheckInterval);
  wmd::daemon::Replicator replicator(engine, net_io, replicator_config(options, tracking),
                                     segment_hooks(segment));
  wmd::net::Mesh mesh(net_io, mesh_config(options, engine, std::move(tls), std::move(websocket)),
                      replicator.mesh_callbacks());
  mesh.set_hello(replicator.initial_hello());
  replicator.attach(mesh);
  if (auto started = mesh.start(); !started.ok()) {
    spdlog::error("{}", started.error().detail());
    return 1;
  }
  if (mesh.ws_listen_port() != 0) {
    spdlog::info("WebSocket clients at {}://{}/?token=... (token from {})", wss ? "wss" : "ws",
                 options.ws_listen.to_string(), options.ws_token_file);
  }
  auto metrics = start_metrics(options, net_io, replicator, mesh);
  segment.set_daemon_pid(static_cast<std::int32_t>(getpid()));

  // systemd: ready once we listen with the segment mapped; then a status line now and then.
  systemd.ready(systemd_status(options, mesh.snapshot(), engine.size_bytes()));
  // Only for a service manager: outside one, the timer would only wake an idle daemon.
  std::optional<SystemdStatusTimer> status_timer;
  if (systemd.under_service_manager()) {
    status_timer.emplace(net_io, [&] {
      systemd.status(systemd_status(options, mesh.snapshot(), replicator.counters().size_bytes));
    });
  }

  // The first signal starts a graceful stop; the handler stays armed so that a second one (an
  // operator or a service manager out of patience) ends the flush wait at once.
  bool stopping = false;
  int exit_code = 0;
  std::function<void(boost::system::error_code, int)> on_signal = [&](boost::system::error_code ec,
                                                                      int signal_number) {
    if (ec) return;
    if (stopping) {
      spdlog::warn(
          "received {} again: exiting now without waiting for the flush ({} bytes still "
          "queued are dropped; the replication state is crash-safe, peers catch up on "
          "reconnect)",
          signal_name(signal_number), mesh.snapshot().queue_bytes);
      exit_code = kExitFlushCutShort;
      net_io.stop();
      return;
    }
    stopping = true;
    signals.async_wait(on_signal);
    if (status_timer) status_timer->stop();
    object_watch.stop();
    if (metrics) metrics->stop();
    systemd.stopping("stopping: final scan and flushing queues");
    spdlog::info("received {}: final scan, flushing queues, exiting (a second one exits at once)",
                 signal_name(signal_number));
    replicator.final_scan([&] { mesh.shutdown(kShutdownFlushTimeout, [&] { net_io.stop(); }); });
  };
  signals.async_wait(on_signal);

  replicator.start();
  {
    FlushDoorbell doorbell(segment, replicator);
    net_io.run();
  }
  // The engine thread may still be finishing the final scan: give SIGTERM/SIGINT their default
  // action back, so that one more ends the process at once (the state is crash-safe).
  boost::system::error_code ignored;
  signals.clear(ignored);
  replicator.stop();
  segment.set_daemon_pid(0);
  spdlog::info("wmdd stopped{}", exit_code == 0 ? "" : " (flush cut short)");
  return exit_code;
}

int run(const Options& options) {
  try {
    auto tls = make_tls(options);
    auto websocket = make_websocket(options);
    const auto tracking = decide_change_detection(options);
    const auto serving = lock_segment(options);
    auto segment = open_segment(options);
    auto replication = open_engine(options, *segment);
    log_starting(options, *replication.engine, tracking);
    return serve(options, *segment, *replication.engine, std::move(tls), std::move(websocket),
                 tracking);
  } catch (const StartupFailure& failure) {
    return failure.exit_code;
  }
}

// Catch-up moves megabytes per step through frame buffers that are freed as soon as they are
// written. With glibc's defaults those come from mmap() and go back by munmap() (and the heap
// top is trimmed), so every step faults fresh pages in again: measured on an initial sync of
// 256 MiB, the sender's network thread spent 0.8-1.9 s of CPU, 0.27 s with the memory kept.
// Keeping up to 64 MiB of freed heap costs little next to a segment's size.
void keep_freed_buffers() {
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
}

}  // namespace

int main(int argc, char** argv) {
  keep_freed_buffers();
  std::signal(SIGPIPE, SIG_IGN);
  std::vector<std::string> args(argv, argv + argc);
  Options options;
  try {
    options = wmd::daemon::parse_options(args, host_name());
  } catch (const wmd::daemon::OptionsError& e) {
    std::fputs(e.what(), e.exit_code() == 0 ? stdout : stderr);
    std::fputc('\n', e.exit_code() == 0 ? stdout : stderr);
    return e.exit_code();
  }
  spdlog::set_level(spdlog::level::from_str(options.log_level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  spdlog::flush_on(spdlog::level::trace);
  try {
    return run(options);
  } catch (const std::exception& e) {
    spdlog::critical("fatal: {}", e.what());
    return 1;
  }
}

// Two replicators with heap memory, their meshes on one network thread, over 127.0.0.1.
#include <doctest/doctest.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <random>
#include <thread>

#include "daemon/main/replicator.hpp"
#include "daemon/net/mesh.hpp"

namespace wmd::daemon {
namespace {

namespace asio = boost::asio;
constexpr std::uint32_t kPage = 8192;
constexpr std::uint64_t kMax = 64 * kPage;

// One daemon without a segment: heap memory sized for the maximum, so growth never moves it.
struct Node {
  // writers: with kernel tracking, the registry the replicator sees (none registered: {}).
  Node(const std::string& id, std::uint64_t size_bytes, asio::io_context& net_io,
       std::optional<std::vector<WriterRecord>> writers = std::nullopt)
      : memory(kMax, 0) {
    EngineConfig config;
    config.page_size_bytes = kPage;
    config.peer_id = id;
    config.max_size_bytes = kMax;
    state.resize(Engine::state_bytes_required(config).value());
    engine = Engine::create(config, std::span(memory.data(), size_bytes), state,
                            [this](std::uint64_t n) -> Result<std::span<std::uint8_t>> {
                              return std::span(memory.data(), n);
                            })
                 .value();
    ReplicatorConfig rc;
    rc.scan_interval = std::chrono::milliseconds(10);
    rc.stats_interval = std::chrono::seconds(0);
    SegmentHooks hooks;
    if (writers) {
      rc.kernel_tracking = true;
      rc.audit_interval = std::chrono::hours(1);  // an audit must not be what finds the writes
      hooks.writers = [registry = *writers] { return registry; };
    }
    replicator = std::make_unique<Replicator>(*engine, net_io, rc, std::move(hooks));
  }

  // Listens on 127.0.0.1 port 0 (any free port; mesh->listen_port() tells which).
  void start_mesh(asio::io_context& net_io, std::vector<net::HostPort> peers) {
    net::MeshConfig mc;
    mc.identity = {engine->peer_id(), "test", kPage, kMax};
    mc.listen = {"127.0.0.1", 0};
    mc.peers = std::move(peers);
    mc.heartbeat_interval = std::chrono::milliseconds(100);
    mc.heartbeat_timeout = std::chrono::milliseconds(2000);
    mc.handshake_timeout = std::chrono::milliseconds(2000);
    mesh = std::make_unique<net::Mesh>(net_io, mc, replicator->mesh_callbacks());
    mesh->set_hello(replicator->initial_hello());
    replicator->attach(*mesh);
    REQUIRE(mesh->start().ok());
    replicator->start();
    started = true;
  }

  std::vector<std::uint8_t> snapshot() {
    std::vector<std::uint8_t> copy;
    replicator->run_on_engine_thread([&](Engine& e) {
      copy.assign(memory.begin(), memory.begin() + static_cast<std::ptrdiff_t>(e.size_bytes()));
    });
    return copy;
  }

  void write(std::uint64_t offset, std::span<const std::uint8_t> bytes) {
    if (!started) {
      std::copy(bytes.begin(), bytes.end(), memory.begin() + static_cast<std::ptrdiff_t>(offset));
      return;
    }
    replicator->run_on_engine_thread([&](Engine&) {
      std::copy(bytes.begin(), bytes.end(), memory.begin() + static_cast<std::ptrdiff_t>(offset));
    });
  }

  std::vector<std::uint8_t> memory;
  std::vector<std::uint8_t> state;
  std::unique_ptr<Engine> engine;
  std::unique_ptr<Replicator> replicator;
  std::unique_ptr<net::Mesh> mesh;
  std::atomic<bool> started{false};
};

template <typename Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return pred();
}

// Runs on the network thread and waits.
template <typename Fn>
auto on_net(asio::io_context& io, Fn fn) {
  std::promise<decltype(fn())> result;
  asio::post(io, [&] { result.set_value(fn()); });
  return result.get_future().get();
}

}  // namespace

TEST_CASE("two replicators over loopback converge: catch-up, live patches, growth") {
  const std::uint64_t seed = 20261124;
  CAPTURE(seed);
  std::mt19937_64 rng(seed);
  asio::io_context net_io;
  auto work = asio::make_work_guard(net_io);
  std::thread net_thread([&] { net_io.run(); });

  Node a("a", 8 * kPage, net_io);
  Node b("b", 4 * kPage, net_io);
  // Written before they meet: reaches b by catch-up, with growth to a's size.
  std::vector<std::uint8_t> early(3 * kPage);
  for (auto& byte : early) byte = static_cast<std::uint8_t>(rng() | 1);
  a.write(2 * kPage, early);

  on_net(net_io, [&] {
    a.start_mesh(net_io, {});
    return 0;
  });
  const auto a_port = on_net(net_io, [&] { return a.mesh->listen_port(); });
  on_net(net_io, [&] {
    b.start_mesh(net_io, {net::HostPort{"127.0.0.1", a_port}});
    return 0;
  });

  CHECK(eventually([&] { return a.snapshot() == b.snapshot(); }));
  CHECK(b.snapshot().size() == 8 * kPage);

  // Live: disjoint bytes of one page written on both sides survive on both.
  const std::vector<std::uint8_t> x{1, 2, 3, 4};
  const std::vector<std::uint8_t> y{9, 8, 7, 6};
  a.write(5 * kPage + 10, x);
  b.write(5 * kPage + 100, y);
  CHECK(eventually([&] {
    const auto sa = a.snapshot();
    return sa == b.snapshot() && sa[5 * kPage + 10] == 1 && sa[5 * kPage + 100] == 9;
  }));

  // Growth on one side reaches the other.
  a.replicator->run_on_engine_thread([](Engine& e) { REQUIRE(e.resize(16 * kPage).ok()); });
  a.write(15 * kPage, x);
  CHECK(eventually([&] {
    const auto sb = b.snapshot();
    return sb.size() == 16 * kPage && sb == a.snapshot();
  }));

  const auto peers = on_net(net_io, [&] { return a.mesh->snapshot().peers.size(); });
  CHECK(peers == 1);

  std::promise<void> a_down;
  std::promise<void> b_down;
  asio::post(net_io, [&] {
    a.mesh->shutdown(std::chrono::milliseconds(500), [&] { a_down.set_value(); });
    b.mesh->shutdown(std::chrono::milliseconds(500), [&] { b_down.set_value(); });
  });
  a_down.get_future().wait();
  b_down.get_future().wait();
  a.replicator->stop();
  b.replicator->stop();
  work.reset();
  net_io.stop();
  net_thread.join();
}

TEST_CASE(
    "with kernel tracking and no registered writer (or one not kernel-tracked), every "
    "scan hashes every page, so writers that never register replicate at once") {
  asio::io_context net_io;
  auto work = asio::make_work_guard(net_io);
  std::thread net_thread([&] { net_io.run(); });

  WriterRecord plain;  // registered without kernel tracking: this process, so it is alive
  plain.slot = 0;
  plain.pid = static_cast<std::int32_t>(getpid());
  plain.address = 0x10000000;
  plain.length_bytes = 8 * kPage;
  Node a("a", 8 * kPage, net_io, std::vector<WriterRecord>{});
  Node b("b", 8 * kPage, net_io, std::vector<WriterRecord>{plain});
  on_net(net_io, [&] {
    a.start_mesh(net_io, {});
    return 0;
  });
  const auto a_port = on_net(net_io, [&] { return a.mesh->listen_port(); });
  on_net(net_io, [&] {
    b.start_mesh(net_io, {net::HostPort{"127.0.0.1", a_port}});
    return 0;
  });
  CHECK(eventually([&] { return a.snapshot() == b.snapshot(); }));

  const std::vector<std::uint8_t> x{1, 2, 3, 4};
  const std::vector<std::uint8_t> y{9, 8, 7, 6};
  a.write(3 * kPage + 10, x);
  b.write(6 * kPage + 100, y);
  // Well within the (one hour) audit interval: found by the hash scans of every interval.
  CHECK(eventually(
      [&] {
        const auto sa = a.snapshot();
        return sa == b.snapshot() && sa[3 * kPage + 10] == 1 && sa[6 * kPage + 100] == 9;
      },
      std::chrono::seconds(5)));
  CHECK(a.replicator->counters().tracking_mode != "kernel");

  std::promise<void> a_down;
  std::promise<void> b_down;
  asio::post(net_io, [&] {
    a.mesh->shutdown(std::chrono::milliseconds(500), [&] { a_down.set_value(); });
    b.mesh->shutdown(std::chrono::milliseconds(500), [&] { b_down.set_value(); });
  });
  a_down.get_future().wait();
  b_down.get_future().wait();
  a.replicator->stop();
  b.replicator->stop();
  work.reset();
  net_io.stop();
  net_thread.join();
}

TEST_CASE("two daemons dialing each other keep exactly one connection, dialed by the smaller id") {
  asio::io_context net_io;
  auto work = asio::make_work_guard(net_io);
  std::thread net_thread([&] { net_io.run(); });
  Node a("a", 4 * kPage, net_io);
  Node b("b", 4 * kPage, net_io);
  // Both listen on port 0 (no port picked in advance can be taken meanwhile); each dials the
  // other's bound port as soon as both are known, in the same network-thread turn.
  on_net(net_io, [&] {
    a.start_mesh(net_io, {});
    b.start_mesh(net_io, {});
    a.mesh->add_peer({"127.0.0.1", b.mesh->listen_port()});
    b.mesh->add_peer({"127.0.0.1", a.mesh->listen_port()});
    return 0;
  });
  auto snapshot_of = [&](Node& n) { return on_net(net_io, [&] { return n.mesh->snapshot(); }); };
  net::SessionId kept = 0;
  CHECK(eventually([&] {
    const auto sa = snapshot_of(a);
    const auto sb = snapshot_of(b);
    // a's surviving connection is the one a dialed; b sees it as accepted. b's dialer has
    // learned a's id and stands by: it dials again only once that session ends, so from here
    // on nothing can replace the session.
    if (sa.peers.size() != 1 || sb.peers.size() != 1) return false;
    kept = sa.peers[0].id;
    return sa.peers[0].outbound && !sb.peers[0].outbound && sb.dialers_standing_by == 1 &&
           sa.dialers_standing_by == 0;
  }));

  const std::vector<std::uint8_t> x{5, 6, 7};
  b.write(kPage + 1, x);
  CHECK(eventually([&] { return a.snapshot() == b.snapshot(); }));
  // The same session carried the write: it was never replaced.
  const auto after = snapshot_of(a);
  REQUIRE(after.peers.size() == 1);
  CHECK(after.peers[0].id == kept);
  CHECK(after.peers[0].outbound);

  std::promise<void> a_down;
  std::promise<void> b_down;
  asio::post(net_io, [&] {
    a.mesh->shutdown(std::chrono::milliseconds(500), [&] { a_down.set_value(); });
    b.mesh->shutdown(std::chrono::milliseconds(500), [&] { b_down.set_value(); });
  });
  a_down.get_future().wait();
  b_down.get_future().wait();
  a.replicator->stop();
  b.replicator->stop();
  work.reset();
  net_io.stop();
  net_thread.join();
}

}  // namespace wmd::daemon

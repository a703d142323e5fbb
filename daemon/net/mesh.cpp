#include "daemon/net/mesh.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>

#include "daemon/net/connection.hpp"
#include "proto/catchup.hpp"
#include "proto/codec.hpp"

namespace wmd::net {
namespace {

// The pages a Patch touches (its runs are sorted), for resyncing them if the patch is dropped;
// null for other messages.
FramePages pages_of(const proto::Message& message, std::uint32_t page_size) {
  const auto* patch = std::get_if<Patch>(&message);
  if (patch == nullptr || page_size == 0) return nullptr;
  std::vector<std::uint64_t> pages;
  for (const Run& run : patch->runs) {
    if (run.length == 0) continue;
    const std::uint64_t last = (run.offset + run.length - 1) / page_size;
    for (std::uint64_t page = run.offset / page_size; page <= last; ++page) {
      if (pages.empty() || pages.back() < page) pages.push_back(page);
    }
  }
  return std::make_shared<const std::vector<std::uint64_t>>(std::move(pages));
}

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

constexpr auto kShutdownPoll = std::chrono::milliseconds(10);
// After a failed accept (out of descriptors, say): the listening socket stays readable, so
// accepting again at once would spin the network thread and flood the log.
constexpr auto kAcceptRetryDelay = std::chrono::milliseconds(100);

}  // namespace

// A listening socket and what its connections carry.
struct Mesh::Listener {
  Listener(asio::io_context& io, Transport t) : acceptor(io), retry_timer(io), transport(t) {}

  tcp::acceptor acceptor;
  // Delays the next accept after a failed one (EMFILE would otherwise fail again at once).
  asio::steady_timer retry_timer;
  Transport transport;
};

// One --peers entry: resolves, connects, and after a disconnect waits with backoff.
struct Mesh::Dialer {
  Dialer(asio::io_context& io, HostPort to, Backoff b)
      : address(std::move(to)), backoff(b), timer(io), resolver(io) {}

  HostPort address;
  Backoff backoff;
  asio::steady_timer timer;
  tcp::resolver resolver;
  std::optional<std::string> peer_id;  // learned from its Hello
  std::shared_ptr<tcp::socket> connecting;
  bool busy = false;         // resolving, connecting, or a connection is live
  bool is_self = false;      // it leads to ourselves: never dialed again
  std::string last_failure;  // logged once until it changes
};

Mesh::Mesh(asio::io_context& io, MeshConfig config, MeshCallbacks callbacks)
    : io_(io),
      config_(std::move(config)),
      callbacks_(std::move(callbacks)),
      listener_(std::make_unique<Listener>(io, Transport::tcp)),
      ws_listener_(std::make_unique<Listener>(io, Transport::websocket)),
      shutdown_timer_(io) {
  for (const auto& peer : config_.peers) add_dialer(peer);
  hello_.cluster = config_.identity.cluster;
  hello_.peer_id = config_.identity.peer_id;
  hello_.page_size_bytes = config_.identity.page_size_bytes;
}

Mesh::~Mesh() = default;

bool Mesh::add_dialer(const HostPort& peer) {
  const auto own_address = config_.listen.to_string();
  if (peer.to_string() == own_address) {
    spdlog::info("ignoring peer {}: it is our own listen address", own_address);
    return false;
  }
  // Each dialer's jitter has its own seed, derived from the mesh's.
  const std::uint64_t seed = (config_.seed + dialers_.size() + 1) * 0x9e3779b97f4a7c15ull;
  dialers_.push_back(std::make_unique<Dialer>(
      io_, peer, Backoff(config_.backoff_initial, config_.backoff_max, seed)));
  return true;
}

void Mesh::add_peer(const HostPort& peer) {
  if (stopping_) return;
  if (!add_dialer(peer)) return;
  config_.peers.push_back(peer);
  if (listener_->acceptor.is_open()) schedule_dial(*dialers_.back(), std::chrono::milliseconds(0));
}

Status Mesh::start() {
  if (auto opened = open_listener(*listener_, config_.listen, "listen"); !opened.ok()) {
    return opened;
  }
  if (config_.ws_listen.port != 0) {
    if (auto opened = open_listener(*ws_listener_, config_.ws_listen, "accept WebSocket clients");
        !opened.ok()) {
      return opened;
    }
  }
  start_accept(*listener_);
  if (ws_listener_->acceptor.is_open()) start_accept(*ws_listener_);
  for (auto& dialer : dialers_) schedule_dial(*dialer, std::chrono::milliseconds(0));
  return {};
}

Status Mesh::open_listener(Listener& listener, const HostPort& where, const char* what) {
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(where.host, ec);
  tcp::endpoint endpoint;
  if (ec) {
    tcp::resolver resolver(io_);
    auto results = resolver.resolve(where.host, std::to_string(where.port), ec);
    if (ec || results.empty()) {
      return Error(errc::io_error, std::string("cannot resolve the address to ") + what + " on " +
                                       where.to_string() + ": " +
                                       (ec ? ec.message() : "no address"));
    }
    endpoint = results.begin()->endpoint();
  } else {
    endpoint = tcp::endpoint(address, where.port);
  }
  auto& acceptor = listener.acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Error(errc::io_error,
                 std::string("cannot ") + what + " on " + where.to_string() + ": " + ec.message());
  }
  return {};
}

std::uint16_t Mesh::listen_port() const {
  boost::system::error_code ec;
  const auto endpoint = listener_->acceptor.local_endpoint(ec);
  return ec ? 0 : endpoint.port();
}

std::uint16_t Mesh::ws_listen_port() const {
  boost::system::error_code ec;
  const auto endpoint = ws_listener_->acceptor.local_endpoint(ec);
  return ec ? 0 : endpoint.port();
}

void Mesh::set_hello(proto::Hello hello) {
  hello.protocol_version = proto::kProtocolVersion;
  hello.cluster = config_.identity.cluster;
  hello.peer_id = config_.identity.peer_id;
  hello.page_size_bytes = config_.identity.page_size_bytes;
  hello_ = std::move(hello);
}

Frame Mesh::hello_frame() const {
  return encode_frame(hello_);
}

std::string Mesh::why_full() const {
  if (connections_.size() >= config_.max_connections) {
    return fmt::format("{} connections open (--max-connections {})", connections_.size(),
                       config_.max_connections);
  }
  std::size_t pending = 0;
  for (const auto& [id, connection] : connections_) {
    if (!connection->outbound() && !connection->established()) ++pending;
  }
  if (pending >= config_.max_pending_connections) {
    return fmt::format("{} inbound connections in their handshake (--max-pending-connections {})",
                       pending, config_.max_pending_connections);
  }
  return {};
}

void Mesh::start_accept(Listener& listener) {
  listener.acceptor.async_accept(
      [this, &listener](boost::system::error_code ec, tcp::socket socket) {
        if (ec == asio::error::operation_aborted || stopping_) return;
        if (ec) {
          spdlog::warn("accept failed: {}; accepting again in {} ms", ec.message(),
                       kAcceptRetryDelay.count());
          listener.retry_timer.expires_after(kAcceptRetryDelay);
          listener.retry_timer.async_wait([this, &listener](boost::system::error_code timer_ec) {
            if (!timer_ec && !stopping_) start_accept(listener);
          });
          return;
        }
        const std::string full = why_full();
        if (!full.empty()) {
          ++closed_totals_.connections_rejected;
          boost::system::error_code peer_ec;
          const auto remote = socket.remote_endpoint(peer_ec);
          spdlog::warn("refusing {}connection from {}: {}",
                       listener.transport == Transport::websocket ? "WebSocket " : "",
                       peer_ec ? std::string("?")
                               : HostPort{remote.address().to_string(), remote.port()}.to_string(),
                       full);
          boost::system::error_code ignored;
          socket.close(ignored);
        } else {
          auto connection = std::make_shared<Connection>(
              *this, std::move(socket), next_session_id_++, false, -1, listener.transport);
          register_connection(connection);
        }
        start_accept(listener);
      });
}

void Mesh::register_connection(const std::shared_ptr<Connection>& connection) {
  connections_[connection->id()] = connection;
  connection->start();
}

void Mesh::schedule_dial(Dialer& dialer, std::chrono::milliseconds delay) {
  if (stopping_ || dialer.is_self) return;
  dialer.timer.expires_after(delay);
  dialer.timer.async_wait([this, &dialer](boost::system::error_code ec) {
    if (!ec) dial(dialer);
  });
}

void Mesh::dial(Dialer& dialer) {
  if (stopping_ || dialer.is_self || dialer.busy) return;
  // Already connected to that peer through an inbound connection: look again later (the
  // connection closing wakes us sooner).
  if (dialer.peer_id && established_.count(*dialer.peer_id) != 0) {
    schedule_dial(dialer, config_.backoff_max);
    return;
  }
  dialer.busy = true;
  dialer.resolver.async_resolve(
      dialer.address.host, std::to_string(dialer.address.port),
      [this, &dialer](boost::system::error_code ec, tcp::resolver::results_type results) {
        if (ec == asio::error::operation_aborted || stopping_) {
          dialer.busy = false;
          return;
        }
        if (ec) {
          dial_failed(dialer, "cannot resolve: " + ec.message());
          return;
        }
        auto socket = std::make_shared<tcp::socket>(io_);
        dialer.connecting = socket;
        // Bound the connect like a handshake: a black-holed address would take minutes.
        dialer.timer.expires_after(config_.handshake_timeout);
        dialer.timer.async_wait([socket](boost::system::error_code timer_ec) {
          if (!timer_ec) {
            boost::system::error_code ignored;
            socket->close(ignored);
          }
        });
        asio::async_connect(
            *socket, results,
            [this, &dialer, socket](boost::system::error_code connect_ec, const tcp::endpoint&) {
              dialer.connecting.reset();
              boost::system::error_code ignored;
              dialer.timer.cancel(ignored);
              if (stopping_) {
                dialer.busy = false;
                return;
              }
              if (connect_ec) {
                dial_failed(dialer, connect_ec == asio::error::operation_aborted
                                        ? std::string("connect timed out")
                                        : connect_ec.message());
                return;
              }
              int dialer_index = -1;
              for (std::size_t i = 0; i < dialers_.size(); ++i) {
                if (dialers_[i].get() == &dialer) dialer_index = static_cast<int>(i);
              }
              auto connection = std::make_shared<Connection>(
                  *this, std::move(*socket), next_session_id_++, true, dialer_index);
              register_connection(connection);
            });
      });
}

void Mesh::dial_failed(Dialer& dialer, const std::string& why) {
  dialer.busy = false;
  const auto delay = dialer.backoff.next_delay();
  if (why != dialer.last_failure) {
    spdlog::info("cannot connect to {}: {} (retrying with backoff)", dialer.address.to_string(),
                 why);
    dialer.last_failure = why;
  } else {
    spdlog::debug("cannot connect to {}: {}; next attempt in {} ms", dialer.address.to_string(),
                  why, delay.count());
  }
  schedule_dial(dialer, delay);
}

void Mesh::wake_dialers_of(const std::string& peer_id) {
  for (auto& dialer : dialers_) {
    if (dialer->peer_id == peer_id && !dialer->busy) {
      schedule_dial(*dialer, dialer->backoff.next_delay());
    }
  }
}

void Mesh::connection_hello(const std::shared_ptr<Connection>& connection,
                            const proto::Hello& hello) {
  auto decision = check_hello(config_.identity, hello);
  // A TCP peer under TLS proves its id with its certificate. A WebSocket client has none
  // (browsers present no client certificate): the token file is its credential.
  if (decision.verdict == HelloVerdict::accept && connection->is_tls() &&
      !connection->is_websocket()) {
    decision = check_certified_id(hello.peer_id, connection->certificate_names());
  }
  Dialer* dialer = connection->dialer_index() >= 0
                       ? dialers_[static_cast<std::size_t>(connection->dialer_index())].get()
                       : nullptr;
  if (decision.verdict == HelloVerdict::self) {
    if (dialer != nullptr && !dialer->is_self) {
      spdlog::info("peer address {} is this daemon itself; not dialing it again",
                   dialer->address.to_string());
      dialer->is_self = true;
    }
    connection->close(make_error_code(errc::invalid_config));
    return;
  }
  if (decision.verdict == HelloVerdict::refuse) {
    spdlog::warn("refusing peer {} at {}: {}", hello.peer_id, connection->address(),
                 decision.detail);
    connection->close_with_error(decision.reason, decision.detail);
    return;
  }
  if (dialer != nullptr) dialer->peer_id = hello.peer_id;

  if (auto it = established_.find(hello.peer_id); it != established_.end()) {
    auto existing = connections_.at(it->second);
    const auto now = std::chrono::steady_clock::now();
    const ExistingSession session{existing->outbound(), now - existing->established_at(),
                                  now - existing->last_received()};
    // Settled: past the window in which both sides dial each other at once. Dead: two
    // heartbeats missed.
    const auto settle = 2 * config_.heartbeat_interval;
    const bool settled = session.age >= settle;
    const bool keep_new =
        keeps_newcomer(config_.identity.peer_id, hello.peer_id, session, connection->outbound(),
                       settle, 2 * config_.heartbeat_interval);
    auto& loser = keep_new ? existing : connection;
    if (settled && !keep_new) {
      // Logged at 1, 10, 100, ... refusals per peer id: a reconnecting impostor cannot flood
      // the log (the map holds established peer ids only).
      const std::uint64_t refused = ++impostors_refused_[hello.peer_id];
      std::uint64_t power = 1;
      while (power * 10 <= refused) power *= 10;
      if (refused == power) {
        spdlog::warn(
            "refusing a connection from {} presenting peer id {}: that peer has a live session "
            "(session {}, last heard {} ms ago); {} such connection(s) refused so far",
            connection->address(), hello.peer_id, existing->id(),
            std::chrono::duration_cast<std::chrono::milliseconds>(session.silence).count(),
            refused);
      }
      loser->close_with_error(errc::duplicate_connection,
                              "peer id " + hello.peer_id + " already has a live session here");
      return;
    }
    spdlog::debug("peer {}: two connections, closing the {} one (session {})", hello.peer_id,
                  loser->outbound() ? "outbound" : "inbound", loser->id());
    loser->close_with_error(errc::duplicate_connection,
                            settled ? std::string("replaced: the session had gone silent")
                                    : std::string("duplicate connection; keeping the one "
                                                  "dialed by the smaller id"));
    if (!keep_new) return;
    // close_with_error defers the close; unregister the old session now.
    established_.erase(hello.peer_id);
    if (callbacks_.on_closed) callbacks_.on_closed(existing->id());
  }

  connection->mark_established(hello.peer_id);
  // Until the session's first catch-up round starts, the round will send every page on which
  // the peer differs from us, patches of this time included: sent now, they would cross twice.
  // Not when a page state may not fit a frame: the round leaves such pages to patches.
  connection->patches_held =
      proto::every_page_state_fits(config_.identity.page_size_bytes, config_.max_frame_bytes);
  established_[hello.peer_id] = connection->id();
  if (dialer != nullptr) {
    dialer->backoff.reset();
    dialer->last_failure.clear();
  }
  if (!connection->outbound() &&
      keeps_connection(config_.identity.peer_id, hello.peer_id, /*outbound=*/true)) {
    // If one of our dialers leads to this peer, its connection will win the tie-break and
    // replace this one: let that happen now rather than after a backoff, before a catch-up
    // round gets far on this connection.
    for (auto& d : dialers_) {
      if (!d->peer_id && !d->busy && !d->is_self) schedule_dial(*d, std::chrono::milliseconds(0));
    }
  }
  spdlog::info("connected to peer {} at {} ({}, its size {} bytes)", hello.peer_id,
               connection->address(), connection->outbound() ? "dialed" : "accepted",
               hello.size_bytes);
  SessionInfo info{connection->id(), hello.peer_id, connection->address(), connection->outbound()};
  if (callbacks_.on_established) callbacks_.on_established(info, hello);
}

void Mesh::connection_message(Connection& connection, proto::Message message,
                              std::uint64_t frame_bytes) {
  if (callbacks_.on_message)
    callbacks_.on_message(connection.id(), std::move(message), frame_bytes);
}

bool Mesh::buffered_changed(std::uint64_t before, std::uint64_t after) {
  buffered_bytes_ = buffered_bytes_ - before + after;
  return after <= before || buffered_bytes_ <= config_.max_buffered_bytes;
}

bool Mesh::inbound_backlogged() const {
  return callbacks_.inbound_backlog_bytes &&
         callbacks_.inbound_backlog_bytes() > config_.inbound_backlog_limit_bytes;
}

void Mesh::connection_closed(Connection& connection, std::error_code reason) {
  const auto& counters = connection.counters();
  closed_totals_.patches_sent += counters.patches_sent;
  closed_totals_.patches_received += counters.patches_received;
  closed_totals_.bytes_sent += counters.bytes_sent;
  closed_totals_.bytes_received += counters.bytes_received;
  closed_totals_.overflows += connection.send_queue().overflows();
  if (connection.established()) {
    auto& history = peer_history_[connection.peer_id()];
    history.frames_sent += counters.frames_sent;
    history.frames_received += counters.frames_received;
    history.patches_sent += counters.patches_sent;
    history.patches_received += counters.patches_received;
    history.bytes_sent += counters.bytes_sent;
    history.bytes_received += counters.bytes_received;
  }
  const auto is = [&reason](boost::system::error_code what) {
    return reason == std::error_code(what);
  };
  if (!stopping_ && reason != errc::duplicate_connection && reason != errc::invalid_config &&
      !is(asio::error::operation_aborted) && !is(asio::error::eof)) {
    ++closed_totals_.connection_errors;
  }

  const bool was_registered = connection.established() &&
                              established_.count(connection.peer_id()) != 0 &&
                              established_.at(connection.peer_id()) == connection.id();
  if (was_registered) {
    established_.erase(connection.peer_id());
    const bool quiet = stopping_ || reason == errc::duplicate_connection;
    if (quiet) {
      spdlog::debug("disconnected from peer {} at {}: {}", connection.peer_id(),
                    connection.address(), reason.message());
    } else {
      spdlog::info("disconnected from peer {} at {}: {}", connection.peer_id(),
                   connection.address(), reason.message());
    }
    if (callbacks_.on_closed) callbacks_.on_closed(connection.id());
  } else if (!connection.established() && reason != errc::invalid_config) {
    spdlog::debug("connection {} at {} closed before the handshake: {}", connection.id(),
                  connection.address(), reason.message());
  }
  const auto peer_id = connection.peer_id();
  const int dialer_index = connection.dialer_index();
  connections_.erase(connection.id());  // the connection keeps itself alive during close()

  if (dialer_index >= 0 && !stopping_) {
    auto& dialer = *dialers_[static_cast<std::size_t>(dialer_index)];
    dialer.busy = false;
    if (!dialer.is_self) {
      const auto delay = dialer.backoff.next_delay();
      if (!connection.established() && reason != errc::duplicate_connection &&
          reason.message() != dialer.last_failure) {
        dialer.last_failure = reason.message();
        spdlog::info("connection to {} failed before the handshake: {} (retrying with backoff)",
                     dialer.address.to_string(), reason.message());
      }
      schedule_dial(dialer, delay);
    }
  }
  if (was_registered && !stopping_) wake_dialers_of(peer_id);
}

void Mesh::broadcast(const proto::Message& message, std::span<const MessageOverride> overrides) {
  if (established_.empty()) return;
  const std::uint32_t page_size = config_.identity.page_size_bytes;
  const Frame frame = encode_frame(message);
  const FramePages pages = pages_of(message, page_size);
  const proto::MessageType type = proto::type_of(message);
  for (const auto& [peer_id, session] : established_) {
    auto& connection = *connections_.at(session);
    if (type == proto::MessageType::patch && connection.patches_held) continue;
    Frame to_send = frame;
    FramePages to_send_pages = pages;
    for (const MessageOverride& o : overrides) {
      if (o.session != session) continue;
      to_send = o.message ? encode_frame(*o.message) : Frame{};
      to_send_pages = o.message ? pages_of(*o.message, page_size) : FramePages{};
    }
    if (!to_send) continue;
    if (type == proto::MessageType::patch) connection.count_patch_sent();
    const auto result = connection.queue(
        QueuedFrame{std::move(to_send), FrameClass::broadcast, {}, std::move(to_send_pages)});
    if (result != PushResult::overflowed) continue;
    if (!connection.resync_pending) {
      connection.resync_pending = true;
      spdlog::warn(
          "send queue to peer {} overflowed (limit {} bytes): its pending patches were dropped "
          "({} frames so far), resyncing the pages they touched by catch-up",
          peer_id, connection.send_queue().limit_bytes(), connection.send_queue().dropped_frames());
    }
    if (callbacks_.on_overflow) callbacks_.on_overflow(session, connection.take_dropped());
  }
}

void Mesh::release_patches(SessionId id) {
  auto it = connections_.find(id);
  if (it != connections_.end()) it->second->patches_held = false;
}

void Mesh::drop_patches_within(SessionId id, const std::vector<std::uint64_t>& pages) {
  auto it = connections_.find(id);
  if (it == connections_.end() || !it->second->established()) return;
  const std::size_t dropped = it->second->drop_patches_within(pages);
  if (dropped > 0) {
    spdlog::debug("peer {}: {} queued patches dropped, the catch-up round sends their pages",
                  it->second->peer_id(), dropped);
  }
}

void Mesh::send(SessionId id, const std::vector<proto::Message>& messages,
                std::function<void()> on_sent) {
  auto it = connections_.find(id);
  if (it == connections_.end() || !it->second->established() || messages.empty()) return;
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const bool last = i + 1 == messages.size();
    it->second->queue(QueuedFrame{encode_frame(messages[i]), FrameClass::control,
                                  last ? std::move(on_sent) : std::function<void()>{}});
  }
}

void Mesh::close_session(SessionId id, errc reason, const std::string& detail) {
  auto it = connections_.find(id);
  if (it == connections_.end()) return;
  auto connection = it->second;
  spdlog::warn("closing connection to peer {} at {}: {}", connection->peer_id(),
               connection->address(), detail);
  connection->close_with_error(reason, detail);
}

void Mesh::shutdown(std::chrono::milliseconds flush_timeout, std::function<void()> done) {
  stopping_ = true;
  shutdown_done_ = std::move(done);
  shutdown_deadline_ = Clock::now() + flush_timeout;
  boost::system::error_code ignored;
  for (auto* listener : {listener_.get(), ws_listener_.get()}) {
    listener->acceptor.close(ignored);
    listener->retry_timer.cancel(ignored);
  }
  for (auto& dialer : dialers_) {
    dialer->timer.cancel(ignored);
    dialer->resolver.cancel();
    if (dialer->connecting) dialer->connecting->close(ignored);
  }
  // Connections still in their handshake have nothing to flush.
  std::vector<std::shared_ptr<Connection>> unestablished;
  for (auto& [id, connection] : connections_) {
    if (!connection->established()) unestablished.push_back(connection);
  }
  for (auto& connection : unestablished)
    connection->close(boost::system::error_code(asio::error::operation_aborted));
  finish_shutdown();
}

void Mesh::finish_shutdown() {
  bool flushed = true;
  for (auto& [id, connection] : connections_) {
    if (!connection->send_queue().empty()) flushed = false;
  }
  if (!flushed && Clock::now() < shutdown_deadline_) {
    shutdown_timer_.expires_after(kShutdownPoll);
    shutdown_timer_.async_wait([this](boost::system::error_code ec) {
      if (!ec) finish_shutdown();
    });
    return;
  }
  if (!flushed) spdlog::warn("shutdown: some queued frames were not written in time");
  auto remaining = connections_;
  for (auto& [id, connection] : remaining)
    connection->close(boost::system::error_code(asio::error::operation_aborted));
  if (auto done = std::move(shutdown_done_)) done();
}

MeshSnapshot Mesh::snapshot() const {
  MeshSnapshot snap = closed_totals_;
  snap.buffered_bytes = buffered_bytes_;
  snap.peers.clear();
  for (const auto& [id, connection] : connections_) {
    const auto& c = connection->counters();
    snap.patches_sent += c.patches_sent;
    snap.patches_received += c.patches_received;
    snap.bytes_sent += c.bytes_sent;
    snap.bytes_received += c.bytes_received;
    snap.queue_bytes += connection->send_queue().bytes();
    snap.overflows += connection->send_queue().overflows();
    const auto registered = established_.find(connection->peer_id());
    if (!connection->established() || connection->closed() || registered == established_.end() ||
        registered->second != id) {
      continue;  // in its handshake, or a duplicate on its way out
    }
    // Counters accumulate over every session with this peer (counters never go backwards).
    Traffic earlier;
    if (auto h = peer_history_.find(connection->peer_id()); h != peer_history_.end()) {
      earlier = h->second;
    }
    PeerSnapshot peer;
    peer.id = id;
    peer.peer_id = connection->peer_id();
    peer.address = connection->address();
    peer.outbound = connection->outbound();
    peer.rtt_us = c.rtt_us;
    peer.queue_bytes = connection->send_queue().bytes();
    peer.frames_sent = earlier.frames_sent + c.frames_sent;
    peer.frames_received = earlier.frames_received + c.frames_received;
    peer.patches_sent = earlier.patches_sent + c.patches_sent;
    peer.patches_received = earlier.patches_received + c.patches_received;
    peer.bytes_sent = earlier.bytes_sent + c.bytes_sent;
    peer.bytes_received = earlier.bytes_received + c.bytes_received;
    peer.dropped_frames = connection->send_queue().dropped_frames();
    snap.peers.push_back(std::move(peer));
  }
  snap.disconnected.clear();
  for (const auto& dialer : dialers_) {
    if (dialer->is_self) continue;
    if (dialer->peer_id && established_.count(*dialer->peer_id) != 0) {
      if (!dialer->busy) ++snap.dialers_standing_by;
      continue;
    }
    snap.disconnected.push_back(
        {dialer->address.to_string(), dialer->peer_id.value_or(""), dialer->last_failure});
  }
  return snap;
}

}  // namespace wmd::net

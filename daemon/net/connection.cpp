#include "daemon/net/connection.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/write.hpp>

#include "daemon/net/mesh.hpp"
#include "daemon/net/peer_stream.hpp"

namespace wmd::net {
namespace {

using Clock = std::chrono::steady_clock;
namespace asio = boost::asio;

// Frames gathered into one socket write.
constexpr std::size_t kMaxFramesPerWrite = 64;
constexpr std::uint64_t kMaxBytesPerWrite = 4 << 20;
// How long a closing connection waits for its Error frame to be written.
constexpr auto kErrorFlushTimeout = std::chrono::milliseconds(1000);
// Heartbeat replies queued and not yet written; requests beyond that go unanswered.
constexpr int kMaxHeartbeatRepliesQueued = 4;
// Tick while reading is paused for backlog, to resume promptly.
constexpr auto kPausedTick = std::chrono::milliseconds(5);
// One read's room in the frame reader: large reads keep a catch-up's syscalls few.
constexpr std::size_t kReadChunkBytes = 256 * 1024;

std::uint64_t now_us() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch())
          .count());
}

proto::Limits handshake_limits(const MeshConfig& config) {
  proto::Limits limits;
  limits.max_frame_bytes = std::min(config.max_frame_bytes, kMaxHandshakeFrameBytes);
  limits.page_size_bytes = 0;
  limits.max_size_bytes = config.identity.max_size_bytes;
  limits.stamped_page_states = true;  // what Engine::merge_pages() takes without expanding
  return limits;
}

PeerStream make_stream(const MeshConfig& config, asio::ip::tcp::socket socket,
                       Transport transport) {
  if (transport == Transport::websocket) {
    // A message holds at most one whole frame (header included) when clients follow the
    // protocol; anything larger is refused before it is buffered.
    WsServerSettings settings{config.ws_token,
                              std::uint64_t{config.max_frame_bytes} + proto::kFrameHeaderBytes,
                              config.handshake_timeout};
    return PeerStream(std::move(socket), std::move(settings), config.ws_tls);
  }
  if (config.tls) return PeerStream(std::move(socket), config.tls);
  return PeerStream(std::move(socket));
}

}  // namespace

Connection::Connection(Mesh& mesh, asio::ip::tcp::socket socket, std::uint64_t session_id,
                       bool outbound, int dialer_index, Transport transport)
    : mesh_(mesh),
      stream_(make_stream(mesh.config(), std::move(socket), transport)),
      timer_(stream_.socket().get_executor()),
      id_(session_id),
      outbound_(outbound),
      dialer_index_(dialer_index),
      reader_(handshake_limits(mesh.config())),
      send_queue_(mesh.config().send_queue_bytes) {
  boost::system::error_code ec;
  const auto remote = stream_.socket().remote_endpoint(ec);
  address_ =
      ec ? std::string("?") : HostPort{remote.address().to_string(), remote.port()}.to_string();
  if (transport == Transport::websocket) address_ = (stream_.is_tls() ? "wss:" : "ws:") + address_;
}

void Connection::start() {
  boost::system::error_code ignored;
  stream_.socket().set_option(asio::ip::tcp::no_delay(true), ignored);
  started_ = last_received_ = last_heartbeat_sent_ = Clock::now();
  schedule_tick();  // the handshake timeout covers the TLS and WebSocket handshakes too
  if (!stream_.has_handshake()) {
    begin_protocol();
    return;
  }
  transport_pending_ = true;
  stream_.async_handshake(outbound_, [self = shared_from_this()](boost::system::error_code ec) {
    if (self->closed_) return;
    const char* what = self->stream_.is_websocket() ? "WebSocket" : "TLS";
    if (ec) {
      spdlog::warn("{} handshake {} {} failed: {}; connection refused", what,
                   self->outbound_ ? "to" : "from", self->address_,
                   self->stream_.describe_handshake_error(ec));
      self->close(ec);
      return;
    }
    self->transport_pending_ = false;
    if (self->stream_.is_websocket()) {
      spdlog::debug("WebSocket session from {} accepted", self->address_);
    } else {
      spdlog::debug("TLS established {} {} (peer certificate {})", self->outbound_ ? "to" : "from",
                    self->address_, self->stream_.peer_subject());
    }
    self->begin_protocol();
  });
}

void Connection::begin_protocol() {
  queue(QueuedFrame{mesh_.hello_frame(), FrameClass::control, {}});
  read_some();
}

PushResult Connection::queue(QueuedFrame item) {
  if (closed_ || closing_) return PushResult::queued;  // dropped silently: we are going away
  const auto result = send_queue_.push(std::move(item));
  write_some();
  return result;
}

void Connection::mark_established(std::string peer_id) {
  established_ = true;
  established_at_ = Clock::now();
  peer_id_ = std::move(peer_id);
  auto limits = handshake_limits(mesh_.config());
  limits.max_frame_bytes = mesh_.config().max_frame_bytes;
  limits.page_size_bytes = mesh_.config().identity.page_size_bytes;
  reader_.set_limits(limits);
}

void Connection::close_with_error(std::error_code reason, const std::string& detail) {
  if (closed_ || closing_) return;
  if (transport_pending_) {  // no channel for an Error frame yet
    close(reason);
    return;
  }
  closing_ = true;
  send_queue_.clear_pending();
  proto::Error error;
  error.code = reason.category() == wmd_category() ? static_cast<std::uint16_t>(reason.value())
                                                   : static_cast<std::uint16_t>(errc::io_error);
  error.message = detail.substr(0, proto::kMaxErrorTextBytes);
  close_deadline_ = Clock::now() + kErrorFlushTimeout;
  // Queue directly: queue() refuses frames once closing.
  send_queue_.push(
      QueuedFrame{encode_frame(error), FrameClass::control, [weak = weak_from_this(), reason] {
                    if (auto self = weak.lock()) self->close(reason);
                  }});
  close_reason_ = reason;
  write_some();
}

void Connection::close(std::error_code reason) {
  if (closed_) return;
  auto keep_alive = shared_from_this();
  closed_ = true;
  mesh_.buffered_changed(buffered_accounted_, 0);
  buffered_accounted_ = 0;
  boost::system::error_code ignored;
  timer_.cancel(ignored);
  stream_.close();
  send_queue_.clear_pending();
  mesh_.connection_closed(*this, reason);
}

void Connection::read_some() {
  if (closed_ || closing_) return;
  if (mesh_.inbound_backlogged()) {
    read_paused_ = true;
    schedule_tick();  // re-armed at the short paused period, to resume promptly
    return;
  }
  // Into the reader's own buffer: no copy between a socket buffer and the reader's (a whole
  // catch-up's bytes on a joining replica). Nothing else calls reader_ until this completes:
  // frames are processed from on_read(), or from on_tick() while reads are paused.
  const std::span<std::uint8_t> room = reader_.prepare(kReadChunkBytes);
  stream_.async_read_some(asio::buffer(room.data(), room.size()),
                          [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
                            self->on_read(ec, n);
                          });
}

void Connection::on_read(boost::system::error_code ec, std::size_t n) {
  if (closed_ || closing_) return;
  if (ec) {
    if (const auto why = stream_.read_failure(); !why.empty()) {
      spdlog::warn("closing WebSocket connection {} {}: {}", peer_id_.empty() ? "from" : "to peer",
                   peer_id_.empty() ? address_ : peer_id_ + " at " + address_, why);
    }
    close(ec);
    return;
  }
  last_received_ = Clock::now();
  counters_.bytes_received += n;
  reader_.commit(n);
  if (!account_buffered()) return;
  const bool more = process_frames();
  account_buffered();
  if (more) read_some();
}

bool Connection::account_buffered() {
  if (closed_) return false;
  const std::uint64_t now = reader_.buffered_bytes();
  const bool within = mesh_.buffered_changed(buffered_accounted_, now);
  buffered_accounted_ = now;
  if (within) return true;
  spdlog::warn(
      "closing connection to peer {} at {}: its unfinished frame ({} bytes) takes the bytes "
      "buffered across connections beyond --max-buffered {}",
      peer_id_.empty() ? "?" : peer_id_, address_, now, mesh_.config().max_buffered_bytes);
  close_with_error(errc::frame_too_large, "over the daemon's budget for unfinished frames");
  // Its bytes are never decoded: give them back now rather than when the Error is written.
  mesh_.buffered_changed(buffered_accounted_, 0);
  buffered_accounted_ = 0;
  reader_.release();
  return false;
}

bool Connection::process_frames() {
  while (!closed_ && !closing_) {
    const std::size_t before = reader_.buffered_bytes();
    auto next = reader_.next();
    if (!next.ok()) {
      spdlog::warn("closing connection to peer {} at {}: bad frame: {}",
                   peer_id_.empty() ? "?" : peer_id_, address_, next.error().message());
      close_with_error(next.error().code(), "bad frame: " + next.error().message());
      return false;
    }
    if (!next.value()) return true;
    handle(std::move(*next.value()), before - reader_.buffered_bytes());
  }
  return false;
}

void Connection::handle(proto::Message message, std::uint64_t frame_bytes) {
  ++counters_.frames_received;
  if (auto* error = std::get_if<proto::Error>(&message)) {
    const auto reason = make_error_code(static_cast<errc>(error->code));
    if (reason == errc::duplicate_connection) {
      spdlog::debug("peer {} at {} closed a duplicate connection", peer_id_, address_);
    } else {
      spdlog::warn("peer {} at {} refused us: {} ({})", peer_id_.empty() ? "?" : peer_id_, address_,
                   error->message, reason.message());
    }
    close(reason);
    return;
  }
  if (auto* hello = std::get_if<proto::Hello>(&message)) {
    if (hello_received_) {
      spdlog::warn("closing connection to peer {} at {}: a second hello", peer_id_, address_);
      close_with_error(errc::malformed, "a second hello");
      return;
    }
    hello_received_ = true;
    mesh_.connection_hello(shared_from_this(), *hello);
    return;
  }
  if (!hello_received_) {
    spdlog::warn("closing connection from {}: expected a hello, got {}", address_,
                 proto::to_string(proto::type_of(message)));
    close_with_error(errc::malformed, std::string("expected hello, got ") +
                                          proto::to_string(proto::type_of(message)));
    return;
  }
  if (!established_) return;  // refused; closing
  if (auto* heartbeat = std::get_if<proto::Heartbeat>(&message)) {
    if (heartbeat->reply) {
      const auto now = now_us();
      counters_.rtt_us = now > heartbeat->token ? now - heartbeat->token : 0;
    } else if (heartbeat_replies_queued_ < kMaxHeartbeatRepliesQueued) {
      // Replies are control frames, never dropped by the queue: a peer that sends requests
      // and never reads would otherwise grow our queue without bound.
      ++heartbeat_replies_queued_;
      queue(QueuedFrame{encode_frame(proto::Heartbeat{heartbeat->token, true}), FrameClass::control,
                        [this] { --heartbeat_replies_queued_; }});
    }
    return;
  }
  if (std::holds_alternative<Patch>(message)) ++counters_.patches_received;
  mesh_.connection_message(*this, std::move(message), frame_bytes);
}

void Connection::send_heartbeat(std::uint64_t token, bool reply) {
  queue(QueuedFrame{encode_frame(proto::Heartbeat{token, reply}), FrameClass::control, {}});
}

void Connection::write_some() {
  if (closed_ || transport_pending_ || send_queue_.writing() || !send_queue_.has_pending()) return;
  const auto batch = send_queue_.start_write(kMaxFramesPerWrite, kMaxBytesPerWrite);
  std::vector<asio::const_buffer> buffers;
  buffers.reserve(batch.size());
  for (const QueuedFrame* item : batch) buffers.emplace_back(asio::buffer(*item->frame));
  stream_.async_write(buffers,
                      [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
                        if (self->closed_) return;
                        auto done = self->send_queue_.finish_write();
                        if (ec) {
                          self->close(ec);
                          return;
                        }
                        self->counters_.bytes_sent += n;
                        self->counters_.frames_sent += done.size();
                        for (auto& item : done) {
                          if (item.on_sent) item.on_sent();
                        }
                        if (self->send_queue_.empty()) self->resync_pending = false;
                        self->write_some();
                      });
}

void Connection::schedule_tick() {
  if (closed_) return;
  const auto& config = mesh_.config();
  auto period = std::min(
      {config.heartbeat_interval, config.heartbeat_timeout / 4, config.handshake_timeout / 4});
  period = std::clamp(period, std::chrono::milliseconds(10), std::chrono::milliseconds(1000));
  if (read_paused_) period = kPausedTick;
  timer_.expires_after(period);
  timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (!ec) self->on_tick();
  });
}

void Connection::on_tick() {
  if (closed_) return;
  const auto now = Clock::now();
  const auto& config = mesh_.config();
  if (closing_) {
    if (now >= close_deadline_) {
      close(close_reason_);
      return;
    }
    schedule_tick();
    return;
  }
  if (read_paused_) {
    last_received_ = now;  // we are the ones not reading
    if (!mesh_.inbound_backlogged()) {
      read_paused_ = false;
      const bool more = process_frames();
      account_buffered();
      if (more) read_some();
      if (closed_ || closing_) {
        schedule_tick();
        return;
      }
    }
  }
  if (!established_ && now - started_ > config.handshake_timeout) {
    spdlog::info("closing connection {} {}: no handshake within {} ms", outbound_ ? "to" : "from",
                 address_, config.handshake_timeout.count());
    close_with_error(
        errc::handshake_timeout,
        "no handshake within " + std::to_string(config.handshake_timeout.count()) + " ms");
  } else if (now - last_received_ > config.heartbeat_timeout) {
    close_with_error(errc::heartbeat_timeout,
                     "nothing received for " +
                         std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                            now - last_received_)
                                            .count()) +
                         " ms");
  } else if (established_ && now - last_heartbeat_sent_ >= config.heartbeat_interval) {
    last_heartbeat_sent_ = now;
    send_heartbeat(now_us(), false);
  }
  schedule_tick();
}

}  // namespace wmd::net

// Connection: one connection to a peer: TCP (over TLS when the mesh has a TLS context) or an
// inbound WebSocket (--ws-listen). The transport's handshake (TLS, WebSocket upgrade) comes
// first, and a failed one closes the connection before any wmd byte. Sends our Hello first,
// then runs one read loop
// (bytes -> proto::FrameReader -> messages to the Mesh) and one write loop (SendQueue ->
// socket, several frames per write), plus one timer for the handshake timeout, heartbeats and
// the heartbeat timeout. Keeps itself alive with shared_from_this while operations are
// pending; operation_aborted is the normal way a loop stops.
//
// Thread-safety: not thread-safe; lives on the network thread with its Mesh.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <system_error>

#include "daemon/net/peer_stream.hpp"
#include "daemon/net/send_queue.hpp"
#include "proto/codec.hpp"

namespace wmd::net {

class Mesh;

// What carries a connection's frames. WebSocket connections are inbound only.
enum class Transport { tcp, websocket };

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  // REQUIRES: mesh outlives every handler of this connection that can still run (the mesh is
  // destroyed only after its io_context stopped running).
  // REQUIRES: for Transport::websocket, !outbound and mesh.config().ws_token non-null.
  Connection(Mesh& mesh, boost::asio::ip::tcp::socket socket, std::uint64_t session_id,
             bool outbound, int dialer_index, Transport transport = Transport::tcp);

  void start();
  // Queues a frame; returns overflowed when broadcast frames had to be dropped.
  PushResult queue(QueuedFrame item);
  // Sends an Error frame (when possible), then closes.
  void close_with_error(std::error_code reason, const std::string& detail);
  // Closes now, without an Error frame.
  void close(std::error_code reason);
  // Called after the handshake was accepted: page-sized limits from now on.
  void mark_established(std::string peer_id);

  std::uint64_t id() const noexcept { return id_; }
  bool outbound() const noexcept { return outbound_; }
  int dialer_index() const noexcept { return dialer_index_; }
  bool established() const noexcept { return established_; }
  bool closed() const noexcept { return closed_; }
  const std::string& peer_id() const noexcept { return peer_id_; }
  const std::string& address() const noexcept { return address_; }
  const SendQueue& send_queue() const noexcept { return send_queue_; }
  DroppedBroadcasts take_dropped() { return send_queue_.take_dropped(); }
  std::size_t drop_patches_within(const std::vector<std::uint64_t>& pages) {
    return send_queue_.drop_patches_within(pages);
  }
  bool is_tls() const noexcept { return stream_.is_tls(); }
  bool is_websocket() const noexcept { return stream_.is_websocket(); }
  // When the handshake was accepted, and when the last byte arrived.
  std::chrono::steady_clock::time_point established_at() const noexcept { return established_at_; }
  std::chrono::steady_clock::time_point last_received() const noexcept { return last_received_; }
  // Names the peer's certificate allows as its id (TLS only).
  std::vector<std::string> certificate_names() const { return stream_.peer_names(); }
  bool resync_pending = false;  // an overflow resync was requested and the queue not drained
  // Broadcast patches are not sent until the session's first catch-up round starts (see
  // Mesh::release_patches).
  bool patches_held = false;

  struct Counters {
    std::uint64_t frames_sent = 0;
    std::uint64_t frames_received = 0;
    std::uint64_t patches_sent = 0;
    std::uint64_t patches_received = 0;
    std::uint64_t bytes_sent = 0;
    std::uint64_t bytes_received = 0;
    std::uint64_t rtt_us = 0;
  };
  const Counters& counters() const noexcept { return counters_; }
  void count_patch_sent() { ++counters_.patches_sent; }

 private:
  void begin_protocol();  // after the TLS handshake, or at once without TLS
  void read_some();
  void on_read(boost::system::error_code ec, std::size_t n);
  bool process_frames();  // false: the connection closed or reading must pause
  // Reports the reader's buffered bytes to the mesh; false (and closing) when the mesh-wide
  // budget is exceeded.
  bool account_buffered();
  void handle(proto::Message message, std::uint64_t frame_bytes);
  void write_some();
  void on_tick();
  void schedule_tick();
  void send_heartbeat(std::uint64_t token, bool reply);

  Mesh& mesh_;
  PeerStream stream_;
  boost::asio::steady_timer timer_;
  const std::uint64_t id_;
  const bool outbound_;
  const int dialer_index_;  // -1 for inbound
  std::string address_;
  std::string peer_id_;
  bool transport_pending_ = false;  // the TLS or WebSocket handshake has not completed yet
  bool established_ = false;
  bool hello_received_ = false;
  bool closing_ = false;  // an Error frame is on its way; then close
  bool closed_ = false;
  bool read_paused_ = false;
  int heartbeat_replies_queued_ = 0;  // written replies call back to decrement
  proto::FrameReader reader_;
  std::uint64_t buffered_accounted_ = 0;  // reader_'s bytes as last reported to the mesh
  SendQueue send_queue_;
  std::chrono::steady_clock::time_point started_;
  std::chrono::steady_clock::time_point last_received_;
  std::chrono::steady_clock::time_point established_at_;
  std::chrono::steady_clock::time_point last_heartbeat_sent_;
  std::chrono::steady_clock::time_point close_deadline_;
  std::error_code close_reason_;
  Counters counters_;
};

}  // namespace wmd::net

// Mesh: the daemon's TCP full mesh. Listens for peers (and, with --ws-listen, for WebSocket
// clients, which become peer sessions like any other), dials every configured peer (with
// exponential backoff and jitter), runs the handshake and keeps exactly one connection per
// peer pair, and moves encoded frames between the connections and the replicator. It never
// decides bytes: everything that is not handshake or heartbeat goes to MeshCallbacks.
//
// Thread-safety: not thread-safe. Every call, and every callback, happens on the thread that
// runs the io_context given to the constructor (the network thread). Other threads reach it
// through boost::asio::post.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "daemon/net/backoff.hpp"
#include "daemon/net/handshake.hpp"
#include "daemon/net/host_port.hpp"
#include "daemon/net/send_queue.hpp"
#include "engine/result.hpp"
#include "proto/message.hpp"

namespace boost::asio::ssl {
class context;
}

namespace wmd::net {

class Connection;
class WsToken;
enum class Transport;
using SessionId = std::uint64_t;

struct MeshConfig {
  LocalIdentity identity;
  HostPort listen;
  std::vector<HostPort> peers;
  std::uint32_t max_frame_bytes = proto::kDefaultMaxFrameBytes;
  std::uint64_t send_queue_bytes = 64ull << 20;
  std::chrono::milliseconds heartbeat_interval{1000};
  std::chrono::milliseconds heartbeat_timeout{5000};
  std::chrono::milliseconds handshake_timeout{5000};
  std::chrono::milliseconds backoff_initial{100};
  std::chrono::milliseconds backoff_max{5000};
  // While the replicator holds more received bytes than this unprocessed, reading pauses.
  std::uint64_t inbound_backlog_limit_bytes = 16ull << 20;
  std::uint64_t seed = 0;  // jitter
  // Mutual TLS on every connection when set (make_tls_context); plaintext otherwise.
  std::shared_ptr<boost::asio::ssl::context> tls;
  // Live connections (both directions) above which inbound ones are closed at once.
  std::size_t max_connections = 64;
  // WebSocket endpoint (port 0: none). Clients must present ws_token; every limit above
  // applies to them as to TCP peers.
  HostPort ws_listen;
  std::shared_ptr<const WsToken> ws_token;  // REQUIRES: non-null when ws_listen.port != 0
  // wss:// when set: a server-only context (make_tls_server_context), browsers have no
  // client certificate.
  std::shared_ptr<boost::asio::ssl::context> ws_tls;
  // Inbound connections still in their handshake above which further ones are closed at once:
  // idle sockets cannot take every slot and lock real peers out.
  std::size_t max_pending_connections = 8;
  // Bytes of unfinished frames buffered across all connections; a read that would take the
  // total beyond it closes its connection (each connection alone is bounded by
  // max_frame_bytes, before the handshake by kMaxHandshakeFrameBytes).
  std::uint64_t max_buffered_bytes = 256ull << 20;
};

// Largest frame accepted before the handshake completes: a Hello (or an Error) is far smaller,
// so an unauthenticated socket cannot make us buffer a max-sized frame.
inline constexpr std::uint32_t kMaxHandshakeFrameBytes = proto::kMinMaxFrameBytes;

struct SessionInfo {
  SessionId id = 0;
  std::string peer_id;
  std::string address;  // remote endpoint "ip:port"
  bool outbound = false;
};

// Called on the network thread. The replicator posts them to its own thread.
struct MeshCallbacks {
  // A connection completed its handshake and is registered for broadcasts.
  std::function<void(const SessionInfo&, const proto::Hello&)> on_established;
  // Any message after the handshake except Heartbeat and Error. frame_bytes: its size on the
  // wire, for backlog accounting.
  std::function<void(SessionId, proto::Message, std::uint64_t frame_bytes)> on_message;
  // An established session ended (whatever the reason).
  std::function<void(SessionId)> on_closed;
  // A session's send queue overflowed and its pending broadcasts were dropped: resync it (the
  // pages of the dropped patches, or a whole round when `dropped.unpaged`).
  std::function<void(SessionId, DroppedBroadcasts dropped)> on_overflow;
  // Bytes handed to on_message and not yet processed; reading pauses above the limit.
  std::function<std::uint64_t()> inbound_backlog_bytes;
};

// One established peer. Frame, patch and byte counters cover every session with this peer id
// since the daemon started; rtt and queue bytes are the current session's.
struct PeerSnapshot {
  SessionId id = 0;
  std::string peer_id;
  std::string address;
  bool outbound = false;
  std::uint64_t rtt_us = 0;
  std::uint64_t queue_bytes = 0;
  std::uint64_t frames_sent = 0;
  std::uint64_t frames_received = 0;
  std::uint64_t patches_sent = 0;
  std::uint64_t patches_received = 0;
  std::uint64_t bytes_sent = 0;
  std::uint64_t bytes_received = 0;
  std::uint64_t dropped_frames = 0;
};

// A configured peer (--peers) with no established session.
struct DialerSnapshot {
  std::string address;       // as configured, "host:port"
  std::string peer_id;       // learned from an earlier hello; "" when never reached
  std::string last_failure;  // why the last attempt failed; "" when none yet
};

struct MeshSnapshot {
  std::vector<PeerSnapshot> peers;  // established sessions
  std::vector<DialerSnapshot> disconnected;
  // Totals over the mesh's lifetime, closed sessions included.
  std::uint64_t patches_sent = 0;
  std::uint64_t patches_received = 0;
  std::uint64_t bytes_sent = 0;
  std::uint64_t bytes_received = 0;
  std::uint64_t queue_bytes = 0;
  std::uint64_t overflows = 0;
  // Connections that ended in an error: refused, failed TLS or wmd handshake, bad frame,
  // timeout, reset (not: our shutdown, a duplicate resolved, a peer closing cleanly).
  std::uint64_t connection_errors = 0;
  std::uint64_t connections_rejected = 0;  // inbound, over max_connections or max_pending
  std::uint64_t buffered_bytes = 0;        // of unfinished frames, all connections
  // Dialers at rest: each knows its peer's id and that peer is connected through a session
  // the dialer does not hold (the tie-break kept the other direction), so it does not dial
  // again until that session ends.
  std::uint64_t dialers_standing_by = 0;
};

class Mesh {
 public:
  // REQUIRES: io outlives the mesh; config.identity.peer_id is valid.
  Mesh(boost::asio::io_context& io, MeshConfig config, MeshCallbacks callbacks);
  ~Mesh();
  Mesh(const Mesh&) = delete;
  Mesh& operator=(const Mesh&) = delete;

  // Binds the listening sockets (TCP, and WebSocket when configured) and starts dialing.
  // Errors: io_error (bind/listen failed; the detail says which address and why).
  Status start();
  std::uint16_t listen_port() const;
  std::uint16_t ws_listen_port() const;  // 0 when there is no WebSocket endpoint

  // Dials one more peer as if config.peers had held it: at once when started, else from
  // start(). For a peer whose port is known only once it listens (port 0). Ignored while
  // shutting down, and for our own configured listen address.
  void add_peer(const HostPort& peer);

  // The replicated part of our Hello (size, lamport, clock); identity fields are ours.
  void set_hello(proto::Hello hello);

  // A session that gets another message than the broadcast one, or none (nullopt).
  struct MessageOverride {
    SessionId session = 0;
    std::optional<proto::Message> message;
  };
  // Queues one Patch or Growth to every established session (encoded once), except that the
  // sessions named in `overrides` get their own message instead, or nothing. A session gets no
  // Patch from its handshake until release_patches(): its first catch-up round, planned from
  // the peer's digests, sends the pages those patches touched (each page crosses once). Not
  // held when a page state may not fit a frame (such pages travel by patch only).
  void broadcast(const proto::Message& message, std::span<const MessageOverride> overrides = {});
  // The session's first catch-up round has started: patches go to it again.
  void release_patches(SessionId id);
  // A catch-up round to this session will send the states of `pages` (sorted): the patches
  // still queued to it that touch only those pages need not go (the states carry them).
  void drop_patches_within(SessionId id, const std::vector<std::uint64_t>& pages);
  // Queues control messages to one session; on_sent runs on this thread once the last one has
  // been written (never, if the session closes first). Unknown sessions are ignored.
  void send(SessionId id, const std::vector<proto::Message>& messages,
            std::function<void()> on_sent = {});
  // Sends an Error frame to the session and closes it.
  void close_session(SessionId id, errc reason, const std::string& detail);

  // Stops accepting and dialing, waits until every queue is written or flush_timeout passed,
  // closes every connection, then calls done.
  void shutdown(std::chrono::milliseconds flush_timeout, std::function<void()> done);

  MeshSnapshot snapshot() const;

  // --- for Connection ---------------------------------------------------------------------
  const MeshConfig& config() const noexcept { return config_; }
  Frame hello_frame() const;
  void connection_hello(const std::shared_ptr<Connection>& connection, const proto::Hello& hello);
  void connection_message(Connection& connection, proto::Message message,
                          std::uint64_t frame_bytes);
  void connection_closed(Connection& connection, std::error_code reason);
  bool inbound_backlogged() const;
  // A connection's buffered bytes went from `before` to `after`; false when the total is now
  // beyond max_buffered_bytes (the caller closes itself, which accounts its bytes back).
  bool buffered_changed(std::uint64_t before, std::uint64_t after);

 private:
  struct Dialer;

  // Appends a dialer for peer unless it is our own listen address; false when it was.
  bool add_dialer(const HostPort& peer);
  struct Listener;
  Status open_listener(Listener& listener, const HostPort& where, const char* what);
  void start_accept(Listener& listener);
  // Why an inbound connection must be refused now (empty: it may be accepted).
  std::string why_full() const;
  void schedule_dial(Dialer& dialer, std::chrono::milliseconds delay);
  void dial(Dialer& dialer);
  void dial_failed(Dialer& dialer, const std::string& why);
  void register_connection(const std::shared_ptr<Connection>& connection);
  void wake_dialers_of(const std::string& peer_id);
  void finish_shutdown();

  boost::asio::io_context& io_;
  MeshConfig config_;
  MeshCallbacks callbacks_;
  std::unique_ptr<Listener> listener_;     // peers (--listen)
  std::unique_ptr<Listener> ws_listener_;  // WebSocket clients (--ws-listen); may stay closed
  std::vector<std::unique_ptr<Dialer>> dialers_;
  std::map<SessionId, std::shared_ptr<Connection>> connections_;  // every live connection
  std::map<std::string, SessionId> established_;                  // peer id -> its session
  SessionId next_session_id_ = 1;
  proto::Hello hello_;
  bool stopping_ = false;
  std::uint64_t buffered_bytes_ = 0;  // sum over connections of their unfinished frames
  // Connections refused for presenting the id of a peer with a live session, per that id.
  std::map<std::string, std::uint64_t> impostors_refused_;
  std::function<void()> shutdown_done_;
  std::chrono::steady_clock::time_point shutdown_deadline_;
  boost::asio::steady_timer shutdown_timer_;
  // Totals of closed sessions, for snapshot().
  MeshSnapshot closed_totals_;
  // Per peer id, the counters of its closed sessions (bounded by the peers we ever talked to).
  struct Traffic {
    std::uint64_t frames_sent = 0;
    std::uint64_t frames_received = 0;
    std::uint64_t patches_sent = 0;
    std::uint64_t patches_received = 0;
    std::uint64_t bytes_sent = 0;
    std::uint64_t bytes_received = 0;
  };
  std::map<std::string, Traffic> peer_history_;
};

}  // namespace wmd::net

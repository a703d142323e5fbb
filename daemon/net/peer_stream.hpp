// PeerStream: the byte stream under a peer Connection: a plain TCP socket, TLS over it
// (Boost.Asio SSL), or the server side of a WebSocket (WsServerStream, ws:// or wss://), so
// that Connection has one read loop and one write loop for all of them. With TLS or
// WebSocket, the transport's handshake runs first and nothing of wmd's protocol is sent or
// read before it succeeded: a peer without a certificate from our CA, speaking plaintext, or
// a WebSocket client without the token never gets a wmd byte.
//
// Thread-safety: not thread-safe; used from the network thread only. At most one read and one
// write may be outstanding at a time (as for any Asio stream).
#pragma once

#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "daemon/net/ws_stream.hpp"

namespace boost::asio::ssl {
class context;
}

namespace wmd::net {

class PeerStream {
 public:
  using IoHandler = std::function<void(boost::system::error_code, std::size_t)>;
  using HandshakeHandler = std::function<void(boost::system::error_code)>;

  // A plaintext stream.
  explicit PeerStream(boost::asio::ip::tcp::socket socket);
  // TLS over socket. REQUIRES: context non-null, configured by make_tls_context.
  PeerStream(boost::asio::ip::tcp::socket socket,
             std::shared_ptr<boost::asio::ssl::context> context);
  // WebSocket server side over socket; wss:// when tls is non-null (a server-only context:
  // browsers present no certificate). REQUIRES: settings.token non-null.
  PeerStream(boost::asio::ip::tcp::socket socket, WsServerSettings settings,
             std::shared_ptr<boost::asio::ssl::context> tls);
  PeerStream(PeerStream&&) noexcept;
  PeerStream& operator=(PeerStream&&) noexcept;
  ~PeerStream();

  bool is_tls() const noexcept;
  bool is_websocket() const noexcept;
  // TLS or WebSocket: async_handshake must complete before any wmd byte moves.
  bool has_handshake() const noexcept { return is_tls() || is_websocket(); }
  // The TCP layer: options, endpoints, shutdown and close.
  boost::asio::ip::tcp::socket& socket() noexcept;

  // TLS: the handshake, as client when outbound (both sides verify the other's certificate).
  // WebSocket: the TLS handshake (wss), then the upgrade request and its token check.
  // Plain: done(success) is posted. done runs once.
  void async_handshake(bool outbound, HandshakeHandler done);
  void async_read_some(boost::asio::mutable_buffer buffer, IoHandler handler);
  // Writes every buffer (TLS: gathered into one contiguous copy first, so that small frames
  // share records; WebSocket: one message per buffer). REQUIRES: no other write outstanding;
  // the bytes stay valid until handler.
  void async_write(const std::vector<boost::asio::const_buffer>& buffers, IoHandler handler);
  // The peer certificate's subject after a TLS handshake ("/CN=node1"); "" otherwise.
  std::string peer_subject() const;
  // The certificate's common name(s) and DNS subjectAltNames after a TLS handshake; empty
  // otherwise (see peer_certificate_names).
  std::vector<std::string> peer_names() const;
  // Closes the TCP socket (no TLS close_notify: the wmd Error frame already said goodbye).
  void close() noexcept;
  // Why async_handshake failed, for the log ("certificate verify failed", "401: no valid
  // token", ...).
  std::string describe_handshake_error(const boost::system::error_code& ec) const;
  // Why a read failed when the transport knows more than ec (a WebSocket text message); "" when
  // ec says it all.
  std::string read_failure() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A readable reason for a failed TLS handshake ("certificate verify failed", "wrong version
// number" for a plaintext peer, ...).
std::string describe_tls_error(const boost::system::error_code& ec);

}  // namespace wmd::net

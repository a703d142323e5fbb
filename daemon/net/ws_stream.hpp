// WsServerStream: the server side of a WebSocket connection (`--ws-listen`), over plain TCP or
// over TLS (wss, when the daemon has a certificate), presented as the byte stream a peer
// Connection reads and writes (PeerStream holds one). Its handshake is the transport's: TLS
// first when configured, then the HTTP upgrade request, checked by check_upgrade (a wrong or
// missing token is answered with 401, a request that is not an upgrade with 426, and the
// connection fails); only then does the wmd protocol start.
//
// Framing (proto/PROTOCOL.md, "WebSocket transport"): every wmd frame we send is one binary
// message; the payloads of the binary messages we receive are concatenated into the frame
// stream, so a client may split or batch frames freely. A text message, or a message larger
// than max_message_bytes, fails the read (the connection closes).
//
// Thread-safety: not thread-safe; used from the network thread only. At most one read and one
// write may be outstanding at a time.
#pragma once

#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

namespace boost::asio::ssl {
class context;
}

namespace wmd::net {

class WsToken;

struct WsServerSettings {
  std::shared_ptr<const WsToken> token;  // required of every client
  std::uint64_t max_message_bytes = 0;   // a larger incoming message closes the connection
  // Bounds the WebSocket closing handshake (and the upgrade, which the connection's own
  // handshake timeout bounds as well).
  std::chrono::milliseconds close_timeout{5000};
};

class WsServerStream {
 public:
  using IoHandler = std::function<void(boost::system::error_code, std::size_t)>;
  using HandshakeHandler = std::function<void(boost::system::error_code)>;

  // ws:// over socket. REQUIRES: settings.token non-null.
  WsServerStream(boost::asio::ip::tcp::socket socket, WsServerSettings settings);
  // wss:// over socket. REQUIRES: settings.token and tls non-null; tls has a certificate.
  WsServerStream(boost::asio::ip::tcp::socket socket, WsServerSettings settings,
                 std::shared_ptr<boost::asio::ssl::context> tls);
  ~WsServerStream();
  WsServerStream(const WsServerStream&) = delete;
  WsServerStream& operator=(const WsServerStream&) = delete;

  bool is_tls() const noexcept;
  boost::asio::ip::tcp::socket& socket() noexcept;

  // TLS handshake (wss), the upgrade request, its check and our answer. done runs once; on
  // failure refusal() says why ("401: no valid token", ...).
  void async_accept(HandshakeHandler done);
  // Reads payload bytes of binary messages. REQUIRES: async_accept succeeded. A close by the
  // client completes with eof; a protocol violation (text or oversized message, bad framing)
  // with an error that refusal() then describes.
  void async_read_some(boost::asio::mutable_buffer buffer, IoHandler handler);
  // Sends each buffer as one binary message, in order. REQUIRES: no other write outstanding;
  // the bytes stay valid until handler (the vector itself may go at once).
  void async_write(const std::vector<boost::asio::const_buffer>& buffers, IoHandler handler);
  // Closes the TCP socket; pending operations complete with operation_aborted.
  void close() noexcept;
  // Why the upgrade failed or the connection's reads were refused; "" when neither happened.
  const std::string& refusal() const noexcept;

 private:
  struct Impl;
  template <typename NextLayer>
  struct ImplFor;
  std::unique_ptr<Impl> impl_;
};

}  // namespace wmd::net

// PeerStream: the byte stream under a peer Connection, either a plain TCP socket or TLS over
// it (Boost.Asio SSL), so that Connection has one read loop and one write loop for both. With
// TLS, the handshake runs first and nothing of wmd's protocol is sent or read before it
// succeeded: a peer without a certificate from our CA, or speaking plaintext, never gets a
// wmd byte.
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
  PeerStream(PeerStream&&) noexcept;
  PeerStream& operator=(PeerStream&&) noexcept;
  ~PeerStream();

  bool is_tls() const noexcept;
  // The TCP layer: options, endpoints, shutdown and close.
  boost::asio::ip::tcp::socket& socket() noexcept;

  // TLS: the handshake, as client when outbound (both sides verify the other's certificate).
  // Plain: done(success) is posted. done runs once.
  void async_handshake(bool outbound, HandshakeHandler done);
  void async_read_some(boost::asio::mutable_buffer buffer, IoHandler handler);
  // Writes every buffer (TLS: gathered into one contiguous copy first, so that small frames
  // share records). REQUIRES: no other write outstanding; buffers stay valid until handler.
  void async_write(const std::vector<boost::asio::const_buffer>& buffers, IoHandler handler);
  // The peer certificate's subject after a TLS handshake ("/CN=node1"); "" otherwise.
  std::string peer_subject() const;
  // The certificate's common name(s) and DNS subjectAltNames after a TLS handshake; empty
  // otherwise (see peer_certificate_names).
  std::vector<std::string> peer_names() const;
  // Closes the TCP socket (no TLS close_notify: the wmd Error frame already said goodbye).
  void close() noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A readable reason for a failed TLS handshake ("certificate verify failed", "wrong version
// number" for a plaintext peer, ...).
std::string describe_tls_error(const boost::system::error_code& ec);

}  // namespace wmd::net

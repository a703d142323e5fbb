#include "daemon/net/peer_stream.hpp"

#include <openssl/err.h>

#include <array>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <cstring>
#include <optional>

#include "daemon/net/tls_context.hpp"

namespace wmd::net {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

// Exactly one of plain, tls and ws is set.
struct PeerStream::Impl {
  explicit Impl(tcp::socket s) : plain(std::move(s)) {}
  Impl(tcp::socket s, std::shared_ptr<ssl::context> c)
      : context(std::move(c)), tls(std::in_place, std::move(s), *context) {}
  Impl(tcp::socket s, WsServerSettings settings, std::shared_ptr<ssl::context> c)
      : ws(c ? std::make_unique<WsServerStream>(std::move(s), std::move(settings), std::move(c))
             : std::make_unique<WsServerStream>(std::move(s), std::move(settings))) {}

  tcp::socket& socket() {
    if (ws) return ws->socket();
    return tls ? tls->next_layer() : *plain;
  }

  std::optional<tcp::socket> plain;
  std::shared_ptr<ssl::context> context;  // outlives the stream that uses it
  std::optional<ssl::stream<tcp::socket>> tls;
  std::vector<std::uint8_t> gathered;  // TLS write buffer
  std::unique_ptr<WsServerStream> ws;
};

PeerStream::PeerStream(tcp::socket socket) : impl_(std::make_unique<Impl>(std::move(socket))) {}

PeerStream::PeerStream(tcp::socket socket, std::shared_ptr<ssl::context> context)
    : impl_(std::make_unique<Impl>(std::move(socket), std::move(context))) {}

PeerStream::PeerStream(tcp::socket socket, WsServerSettings settings,
                       std::shared_ptr<ssl::context> tls)
    : impl_(std::make_unique<Impl>(std::move(socket), std::move(settings), std::move(tls))) {}

PeerStream::PeerStream(PeerStream&&) noexcept = default;
PeerStream& PeerStream::operator=(PeerStream&&) noexcept = default;
PeerStream::~PeerStream() = default;

bool PeerStream::is_tls() const noexcept {
  return impl_->tls.has_value() || (impl_->ws && impl_->ws->is_tls());
}

bool PeerStream::is_websocket() const noexcept {
  return impl_->ws != nullptr;
}

tcp::socket& PeerStream::socket() noexcept {
  return impl_->socket();
}

void PeerStream::async_handshake(bool outbound, HandshakeHandler done) {
  if (impl_->ws) {
    impl_->ws->async_accept(std::move(done));
    return;
  }
  if (!impl_->tls) {
    asio::post(impl_->socket().get_executor(),
               [done = std::move(done)] { done(boost::system::error_code{}); });
    return;
  }
  impl_->tls->async_handshake(outbound ? ssl::stream_base::client : ssl::stream_base::server,
                              std::move(done));
}

void PeerStream::async_read_some(asio::mutable_buffer buffer, IoHandler handler) {
  if (impl_->ws) {
    impl_->ws->async_read_some(buffer, std::move(handler));
  } else if (impl_->tls) {
    impl_->tls->async_read_some(buffer, std::move(handler));
  } else {
    impl_->plain->async_read_some(buffer, std::move(handler));
  }
}

void PeerStream::async_write(const std::vector<asio::const_buffer>& buffers, IoHandler handler) {
  if (impl_->ws) {
    impl_->ws->async_write(buffers, std::move(handler));
    return;
  }
  if (!impl_->tls) {
    asio::async_write(*impl_->plain, buffers, std::move(handler));
    return;
  }
  // An SSL stream writes one buffer per record: gather the frames so that a batch of small
  // patches costs one record and one system call, not one each.
  auto& gathered = impl_->gathered;
  gathered.resize(asio::buffer_size(buffers));
  std::size_t at = 0;
  for (const auto& b : buffers) {
    std::memcpy(gathered.data() + at, b.data(), b.size());
    at += b.size();
  }
  asio::async_write(*impl_->tls, asio::buffer(gathered), std::move(handler));
}

std::string PeerStream::peer_subject() const {
  return impl_->tls ? peer_certificate_subject(impl_->tls->native_handle()) : std::string();
}

std::string PeerStream::describe_handshake_error(const boost::system::error_code& ec) const {
  if (impl_->ws) return impl_->ws->refusal();
  return describe_tls_error(ec);
}

std::string PeerStream::read_failure() const {
  return impl_->ws ? impl_->ws->refusal() : std::string();
}

std::vector<std::string> PeerStream::peer_names() const {
  return impl_->tls ? peer_certificate_names(impl_->tls->native_handle())
                    : std::vector<std::string>();
}

void PeerStream::close() noexcept {
  boost::system::error_code ignored;
  impl_->socket().shutdown(tcp::socket::shutdown_both, ignored);
  impl_->socket().close(ignored);
}

std::string describe_tls_error(const boost::system::error_code& ec) {
  if (ec.category() == asio::error::get_ssl_category()) {
    const char* reason = ERR_reason_error_string(static_cast<unsigned long>(ec.value()));
    if (reason != nullptr) return reason;
  }
  if (ec == ssl::error::stream_truncated) return "the peer closed during the TLS handshake";
  if (ec == asio::error::eof) return "the peer closed during the TLS handshake";
  return ec.message();
}

}  // namespace wmd::net

#include "daemon/net/ws_stream.hpp"

#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <optional>
#include <type_traits>

#include "daemon/net/ws_upgrade.hpp"

namespace wmd::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

// An upgrade request is a few hundred bytes; the token may make it a few KiB.
constexpr std::uint32_t kMaxRequestHeaderBytes = 16 * 1024;
// The subprotocol a client may offer; echoed so that browsers that offer it accept us.
constexpr const char* kSubprotocol = "wmd";

bool offers_subprotocol(std::string_view header) {
  while (!header.empty()) {
    const auto comma = header.find(',');
    auto item = header.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item == kSubprotocol) return true;
    header = comma == std::string_view::npos ? std::string_view() : header.substr(comma + 1);
  }
  return false;
}

}  // namespace

struct WsServerStream::Impl {
  virtual ~Impl() = default;
  virtual bool is_tls() const noexcept = 0;
  virtual tcp::socket& socket() noexcept = 0;
  virtual void async_accept(HandshakeHandler done) = 0;
  virtual void async_read_some(asio::mutable_buffer buffer, IoHandler handler) = 0;
  virtual void async_write(const std::vector<asio::const_buffer>& buffers, IoHandler handler) = 0;
  std::string refusal;
};

template <typename NextLayer>
struct WsServerStream::ImplFor final : WsServerStream::Impl {
  static constexpr bool kTls = !std::is_same_v<NextLayer, tcp::socket>;

  ImplFor(tcp::socket s, WsServerSettings config, std::shared_ptr<asio::ssl::context> context)
      : settings(std::move(config)), tls(std::move(context)), ws(make_next(std::move(s), tls)) {}

  static NextLayer make_next(tcp::socket s, const std::shared_ptr<asio::ssl::context>& context) {
    if constexpr (kTls) {
      return NextLayer(std::move(s), *context);
    } else {
      return NextLayer(std::move(s));
    }
  }

  bool is_tls() const noexcept override { return kTls; }
  tcp::socket& socket() noexcept override { return beast::get_lowest_layer(ws); }

  void async_accept(HandshakeHandler done) override {
    if constexpr (kTls) {
      ws.next_layer().async_handshake(
          asio::ssl::stream_base::server,
          [this, done = std::move(done)](boost::system::error_code ec) mutable {
            if (ec) {
              refusal = "TLS handshake failed: " + ec.message();
              done(ec);
              return;
            }
            read_request(std::move(done));
          });
    } else {
      read_request(std::move(done));
    }
  }

  void read_request(HandshakeHandler done) {
    parser.emplace();
    parser->header_limit(kMaxRequestHeaderBytes);
    parser->body_limit(0);
    http::async_read(ws.next_layer(), buffer, *parser,
                     [this, done = std::move(done)](boost::system::error_code ec, std::size_t) {
                       if (ec) {
                         refusal = "no valid HTTP upgrade request: " + ec.message();
                         done(ec);
                         return;
                       }
                       answer(std::move(done));
                     });
  }

  void answer(HandshakeHandler done) {
    const auto& request = parser->get();
    const auto authorization = request[http::field::authorization];
    const UpgradeRequest upgrade{websocket::is_upgrade(request),
                                 std::string_view(request.target().data(), request.target().size()),
                                 std::string_view(authorization.data(), authorization.size())};
    const auto verdict = check_upgrade(upgrade, *settings.token);
    if (verdict != UpgradeVerdict::accept) {
      refuse(verdict, request.version(), std::move(done));
      return;
    }
    const auto offered = request[http::field::sec_websocket_protocol];
    const bool echo = offers_subprotocol(std::string_view(offered.data(), offered.size()));
    ws.set_option(websocket::stream_base::decorator([echo](websocket::response_type& answer) {
      answer.set(http::field::server, "wmdd");
      if (echo) answer.set(http::field::sec_websocket_protocol, kSubprotocol);
    }));
    ws.set_option(websocket::stream_base::timeout{settings.close_timeout,
                                                  websocket::stream_base::none(), false});
    ws.read_message_max(static_cast<std::size_t>(settings.max_message_bytes));
    ws.auto_fragment(false);
    ws.binary(true);
    ws.async_accept(request, [this, done = std::move(done)](boost::system::error_code ec) {
      if (ec) refusal = "WebSocket upgrade failed: " + ec.message();
      done(ec);
    });
  }

  void refuse(UpgradeVerdict verdict, unsigned version, HandshakeHandler done) {
    const bool unauthorized = verdict == UpgradeVerdict::unauthorized;
    response.emplace(unauthorized ? http::status::unauthorized : http::status::upgrade_required,
                     version);
    response->set(http::field::server, "wmdd");
    response->set(http::field::content_type, "text/plain");
    response->set(http::field::connection, "close");
    if (unauthorized) {
      response->set(http::field::www_authenticate, "Bearer");
      response->body() = "wmdd: a valid token is required (ws://HOST:PORT/?token=...)\n";
      refusal = "401: no valid token";
    } else {
      response->set(http::field::upgrade, "websocket");
      response->body() = "wmdd: this port speaks WebSocket only\n";
      refusal = "426: not a WebSocket upgrade request";
    }
    response->prepare_payload();
    http::async_write(ws.next_layer(), *response,
                      [done = std::move(done)](boost::system::error_code, std::size_t) {
                        done(make_error_code(boost::system::errc::permission_denied));
                      });
  }

  void async_read_some(asio::mutable_buffer target, IoHandler handler) override {
    ws.async_read_some(
        target, [this, handler = std::move(handler)](boost::system::error_code ec, std::size_t n) {
          if (!ec && ws.got_text()) {
            ec = make_error_code(boost::system::errc::protocol_error);
            refusal = "a text message (wmd frames travel in binary messages)";
          } else if (ec == websocket::error::message_too_big) {
            refusal = "a message larger than " + std::to_string(settings.max_message_bytes) +
                      " bytes (--max-frame plus the frame header)";
          } else if (ec && ws.reason().code != websocket::close_code::none) {
            ec = asio::error::eof;  // the client closed: whatever the teardown reported after that
          } else if (ec && ec.category() ==
                               websocket::make_error_code(websocket::error::closed).category()) {
            refusal = "a WebSocket protocol violation: " + ec.message();
          }
          handler(ec, n);
        });
  }

  void async_write(const std::vector<asio::const_buffer>& buffers, IoHandler handler) override {
    pending = buffers;
    next_write = 0;
    written = 0;
    write_handler = std::move(handler);
    write_next();
  }

  void write_next() {
    if (next_write == pending.size()) {
      pending.clear();
      auto handler = std::move(write_handler);
      handler(boost::system::error_code{}, written);
      return;
    }
    ws.async_write(pending[next_write++], [this](boost::system::error_code ec, std::size_t n) {
      written += n;
      if (ec) {
        pending.clear();
        auto handler = std::move(write_handler);
        handler(ec, written);
        return;
      }
      write_next();
    });
  }

  WsServerSettings settings;
  std::shared_ptr<asio::ssl::context> tls;  // outlives the stream that uses it
  websocket::stream<NextLayer> ws;
  beast::flat_buffer buffer{kMaxRequestHeaderBytes};
  std::optional<http::request_parser<http::empty_body>> parser;
  std::optional<http::response<http::string_body>> response;
  std::vector<asio::const_buffer> pending;  // the messages of the write in progress
  std::size_t next_write = 0;
  std::size_t written = 0;
  IoHandler write_handler;
};

WsServerStream::WsServerStream(tcp::socket socket, WsServerSettings settings)
    : impl_(std::make_unique<ImplFor<tcp::socket>>(std::move(socket), std::move(settings),
                                                   nullptr)) {}

WsServerStream::WsServerStream(tcp::socket socket, WsServerSettings settings,
                               std::shared_ptr<asio::ssl::context> tls)
    : impl_(std::make_unique<ImplFor<asio::ssl::stream<tcp::socket>>>(
          std::move(socket), std::move(settings), std::move(tls))) {}

WsServerStream::~WsServerStream() = default;

bool WsServerStream::is_tls() const noexcept {
  return impl_->is_tls();
}

tcp::socket& WsServerStream::socket() noexcept {
  return impl_->socket();
}

void WsServerStream::async_accept(HandshakeHandler done) {
  impl_->async_accept(std::move(done));
}

void WsServerStream::async_read_some(asio::mutable_buffer buffer, IoHandler handler) {
  impl_->async_read_some(buffer, std::move(handler));
}

void WsServerStream::async_write(const std::vector<asio::const_buffer>& buffers,
                                 IoHandler handler) {
  impl_->async_write(buffers, std::move(handler));
}

void WsServerStream::close() noexcept {
  boost::system::error_code ignored;
  impl_->socket().shutdown(tcp::socket::shutdown_both, ignored);
  impl_->socket().close(ignored);
}

const std::string& WsServerStream::refusal() const noexcept {
  return impl_->refusal;
}

}  // namespace wmd::net

#include "daemon/net/metrics_server.hpp"

#include <spdlog/spdlog.h>

#include <array>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

namespace wmd::net {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

std::string response(std::string_view status, std::string_view content_type,
                     const std::string& body) {
  std::string out;
  out.reserve(body.size() + 160);
  out += "HTTP/1.1 ";
  out += status;
  out += "\r\nContent-Type: ";
  out += content_type;
  out += "\r\nContent-Length: " + std::to_string(body.size());
  out += "\r\nConnection: close\r\n\r\n";
  out += body;
  return out;
}

}  // namespace

HttpRequestLine parse_request_line(std::string_view head) {
  const auto line_end = head.find("\r\n");
  const std::string_view line = head.substr(0, line_end);
  const auto first_space = line.find(' ');
  if (first_space == std::string_view::npos || first_space == 0) return {};
  const auto second_space = line.find(' ', first_space + 1);
  if (second_space == std::string_view::npos) return {};
  const auto version = line.substr(second_space + 1);
  if (version.substr(0, 5) != "HTTP/") return {};
  std::string_view target = line.substr(first_space + 1, second_space - first_space - 1);
  if (target.empty() || target.front() != '/') return {};
  target = target.substr(0, target.find('?'));
  return {std::string(line.substr(0, first_space)), std::string(target)};
}

std::string http_response_for(const HttpRequestLine& request,
                              const std::function<std::string()>& render) {
  if (request.method.empty()) {
    return response("400 Bad Request", "text/plain; charset=utf-8", "bad request\n");
  }
  if (request.path != "/metrics") {
    return response("404 Not Found", "text/plain; charset=utf-8", "try /metrics\n");
  }
  if (request.method != "GET" && request.method != "HEAD") {
    return response("405 Method Not Allowed", "text/plain; charset=utf-8", "GET only\n");
  }
  auto out = response("200 OK", "text/plain; version=0.0.4; charset=utf-8", render());
  if (request.method == "HEAD") out.resize(out.find("\r\n\r\n") + 4);
  return out;
}

// One scrape: read the request head, write the response, close.
class MetricsServer::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, std::shared_ptr<const std::function<std::string()>> render,
          std::shared_ptr<int> live)
      : socket_(std::move(socket)),
        timer_(socket_.get_executor()),
        render_(std::move(render)),
        live_(std::move(live)) {
    ++*live_;
  }
  ~Session() { --*live_; }

  void start() {
    timer_.expires_after(kConnectionTimeout);
    timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (!ec) self->close();
    });
    read();
  }

 private:
  void read() {
    socket_.async_read_some(asio::buffer(buffer_),
                            [self = shared_from_this()](boost::system::error_code ec,
                                                        std::size_t n) { self->on_read(ec, n); });
  }

  void on_read(boost::system::error_code ec, std::size_t n) {
    if (ec) {
      close();
      return;
    }
    head_.append(buffer_.data(), n);
    if (head_.find("\r\n\r\n") == std::string::npos) {
      if (head_.size() >= kMaxHeadBytes) {
        reply(response("431 Request Header Fields Too Large", "text/plain", "too large\n"));
      } else {
        read();
      }
      return;
    }
    reply(http_response_for(parse_request_line(head_), *render_));
  }

  void reply(std::string text) {
    out_ = std::move(text);
    asio::async_write(
        socket_, asio::buffer(out_),
        [self = shared_from_this()](boost::system::error_code, std::size_t) { self->close(); });
  }

  void close() {
    boost::system::error_code ignored;
    timer_.cancel(ignored);
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

  tcp::socket socket_;
  asio::steady_timer timer_;
  std::shared_ptr<const std::function<std::string()>> render_;
  std::shared_ptr<int> live_;
  std::array<char, 2048> buffer_{};
  std::string head_;
  std::string out_;
};

MetricsServer::MetricsServer(asio::io_context& io, std::function<std::string()> render)
    : io_(io),
      render_(std::make_shared<const std::function<std::string()>>(std::move(render))),
      acceptor_(io),
      live_sessions_(std::make_shared<int>(0)),
      accept_retry_timer_(io) {}

MetricsServer::~MetricsServer() {
  stop();
}

Status MetricsServer::start(const HostPort& address) {
  boost::system::error_code ec;
  tcp::resolver resolver(io_);
  auto results = resolver.resolve(address.host, std::to_string(address.port),
                                  tcp::resolver::numeric_service, ec);
  if (ec || results.empty()) {
    return Error(errc::io_error, "cannot resolve metrics address " + address.to_string() + ": " +
                                     (ec ? ec.message() : "no address"));
  }
  const tcp::endpoint endpoint = results.begin()->endpoint();
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    return Error(errc::io_error,
                 "cannot listen for metrics on " + address.to_string() + ": " + ec.message());
  }
  accept();
  return {};
}

void MetricsServer::stop() {
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  accept_retry_timer_.cancel(ignored);
}

std::uint16_t MetricsServer::port() const {
  boost::system::error_code ec;
  const auto endpoint = acceptor_.local_endpoint(ec);
  return ec ? 0 : endpoint.port();
}

void MetricsServer::accept() {
  acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (ec) {
      // The listening socket stays readable (out of descriptors, say): retrying at once
      // would spin the network thread.
      spdlog::warn("metrics: accept failed: {}", ec.message());
      accept_retry_timer_.expires_after(std::chrono::milliseconds(100));
      accept_retry_timer_.async_wait([this](boost::system::error_code timer_ec) {
        if (!timer_ec && acceptor_.is_open()) accept();
      });
      return;
    }
    if (*live_sessions_ >= kMaxConnections) {
      spdlog::warn("metrics: {} scrapes in progress; closing another connection at once",
                   *live_sessions_);
      boost::system::error_code ignored;
      socket.close(ignored);
    } else {
      std::make_shared<Session>(std::move(socket), render_, live_sessions_)->start();
    }
    accept();
  });
}

}  // namespace wmd::net

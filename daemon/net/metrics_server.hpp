// MetricsServer: a minimal HTTP/1.x server for Prometheus scrapes (`--metrics HOST:PORT`). It
// answers `GET /metrics` with whatever the render function returns (Prometheus text format),
// anything else with 404/405/400, and closes every connection after one response. It runs on
// the daemon's network io_context; a scrape costs one render call there. Limits: 8 KiB of
// request head, 5 s per connection, 16 connections at once (more are closed on accept).
//
// Thread-safety: not thread-safe; every call and the render callback happen on the thread that
// runs the io_context.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "daemon/net/host_port.hpp"
#include "engine/result.hpp"

namespace wmd::net {

// The request line of an HTTP request head, parsed apart from the I/O.
struct HttpRequestLine {
  std::string method;
  std::string path;  // without the query string
};

// Parses the first line of `head` ("GET /metrics?x HTTP/1.1"); the method is empty when the
// line is malformed.
HttpRequestLine parse_request_line(std::string_view head);

// The full HTTP response (status line, headers, body) for a request line.
std::string http_response_for(const HttpRequestLine& request,
                              const std::function<std::string()>& render);

class MetricsServer {
 public:
  static constexpr std::size_t kMaxHeadBytes = 8192;
  static constexpr int kMaxConnections = 16;
  static constexpr auto kConnectionTimeout = std::chrono::seconds(5);

  // REQUIRES: io outlives the server; render returns Prometheus text (UTF-8).
  MetricsServer(boost::asio::io_context& io, std::function<std::string()> render);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // Binds and starts accepting. Errors: io_error (the detail says which address and why).
  Status start(const HostPort& address);
  // Stops accepting; connections in progress finish or time out. Idempotent.
  void stop();
  std::uint16_t port() const;

 private:
  class Session;
  void accept();

  boost::asio::io_context& io_;
  // Shared with sessions, which may outlive the server while the io_context runs.
  std::shared_ptr<const std::function<std::string()>> render_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::shared_ptr<int> live_sessions_;  // sessions in progress
  // Delays the next accept after a failed one (EMFILE would otherwise fail again at once).
  boost::asio::steady_timer accept_retry_timer_;
};

}  // namespace wmd::net

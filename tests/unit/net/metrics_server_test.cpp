#include "daemon/net/metrics_server.hpp"

#include <doctest/doctest.h>

#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <string>
#include <thread>

namespace wmd::net {
namespace {

namespace asio = boost::asio;

std::string render_fixed() {
  return "wmd_scans_total 7\n";
}

// Sends `request` to the server on 127.0.0.1:port and reads until the server closes.
std::string exchange(std::uint16_t port, const std::string& request) {
  asio::io_context io;
  asio::ip::tcp::socket socket(io);
  socket.connect({asio::ip::make_address("127.0.0.1"), port});
  asio::write(socket, asio::buffer(request));
  std::string response;
  boost::system::error_code ec;
  asio::read(socket, asio::dynamic_buffer(response), ec);
  return response;
}

TEST_CASE("a request line is split into method and path, without the query string") {
  const auto line = parse_request_line("GET /metrics?name=x HTTP/1.1\r\nHost: a\r\n\r\n");
  CHECK(line.method == "GET");
  CHECK(line.path == "/metrics");
}

TEST_CASE("malformed request lines have no method") {
  CHECK(parse_request_line("").method.empty());
  CHECK(parse_request_line("GET\r\n").method.empty());
  CHECK(parse_request_line("GET /metrics\r\n").method.empty());
  CHECK(parse_request_line("GET metrics HTTP/1.1\r\n").method.empty());
  CHECK(parse_request_line("GET /metrics SMTP\r\n").method.empty());
}

TEST_CASE("GET /metrics answers 200 with the rendered text; other paths 404, other methods 405") {
  const auto ok = http_response_for({"GET", "/metrics"}, render_fixed);
  CHECK(ok.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(ok.find("Content-Type: text/plain; version=0.0.4") != std::string::npos);
  CHECK(ok.find("Content-Length: 18\r\n") != std::string::npos);
  CHECK(ok.substr(ok.size() - 18) == render_fixed());
  CHECK(http_response_for({"GET", "/"}, render_fixed).rfind("HTTP/1.1 404", 0) == 0);
  CHECK(http_response_for({"POST", "/metrics"}, render_fixed).rfind("HTTP/1.1 405", 0) == 0);
  CHECK(http_response_for({}, render_fixed).rfind("HTTP/1.1 400", 0) == 0);
  const auto head = http_response_for({"HEAD", "/metrics"}, render_fixed);
  CHECK(head.size() == head.find("\r\n\r\n") + 4);
}

TEST_CASE("the server answers a scrape over TCP and closes the connection") {
  asio::io_context io;
  MetricsServer server(io, render_fixed);
  REQUIRE(server.start({"127.0.0.1", 0}).ok());  // port 0: any free port
  REQUIRE(server.port() != 0);
  std::thread runner([&io] { io.run(); });
  const auto ok = exchange(server.port(), "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  const auto missing = exchange(server.port(), "GET /nothing HTTP/1.0\r\n\r\n");
  const auto oversized =
      exchange(server.port(), std::string(MetricsServer::kMaxHeadBytes + 10, 'a'));
  asio::post(io, [&server] { server.stop(); });
  runner.join();  // returns once the acceptor and every session are gone
  CHECK(ok.rfind("HTTP/1.1 200 OK", 0) == 0);
  CHECK(ok.find("wmd_scans_total 7\n") != std::string::npos);
  CHECK(missing.rfind("HTTP/1.1 404", 0) == 0);
  CHECK(oversized.rfind("HTTP/1.1 431", 0) == 0);
}

TEST_CASE("a metrics address already in use is reported, naming the address") {
  asio::io_context io;
  MetricsServer first(io, render_fixed);
  REQUIRE(first.start({"127.0.0.1", 0}).ok());
  MetricsServer second(io, render_fixed);
  const auto started = second.start({"127.0.0.1", first.port()});
  CHECK_FALSE(started.ok());
  CHECK(started.error().detail().find("127.0.0.1:" + std::to_string(first.port())) !=
        std::string::npos);
}

}  // namespace
}  // namespace wmd::net

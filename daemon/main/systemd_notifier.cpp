#include "daemon/main/systemd_notifier.hpp"

#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include <cstdint>
#include <cstdlib>

namespace wmd::daemon {
namespace {

void notify(const std::string& text) {
  // unset_environment = 0: our own children (none today) could still notify; harmless.
  const int rc = sd_notify(0, text.c_str());
  if (rc < 0) spdlog::debug("sd_notify({}) failed: {}", text, rc);
}

std::string one_line(const std::string& text) {
  std::string out = text;
  for (auto& c : out) {
    if (c == '\n') c = ' ';
  }
  return out;
}

}  // namespace

SystemdNotifier::SystemdNotifier(boost::asio::io_context& io) : timer_(io) {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  under_service_manager_ = socket != nullptr && socket[0] != '\0';
  std::uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
    watchdog_interval_ = std::chrono::microseconds(usec);
  }
}

SystemdNotifier::~SystemdNotifier() {
  boost::system::error_code ignored;
  timer_.cancel(ignored);
}

void SystemdNotifier::ready(const std::string& status) {
  notify("READY=1\nSTATUS=" + one_line(status));
  if (watchdog_interval_.count() > 0) {
    spdlog::info("systemd watchdog enabled: pinging every {} ms",
                 watchdog_interval_.count() / 2000);
    ping();
  }
}

void SystemdNotifier::status(const std::string& status) {
  notify("STATUS=" + one_line(status));
}

void SystemdNotifier::stopping(const std::string& status) {
  notify("STOPPING=1\nSTATUS=" + one_line(status));
}

void SystemdNotifier::ping() {
  notify("WATCHDOG=1");
  // Half the period, as sd_watchdog_enabled(3) recommends.
  timer_.expires_after(watchdog_interval_ / 2);
  timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) ping();
  });
}

}  // namespace wmd::daemon

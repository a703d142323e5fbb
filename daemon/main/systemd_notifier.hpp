// SystemdNotifier: wmdd's side of systemd's notify protocol (Type=notify), through libsystemd's
// sd_notify: READY=1 once the daemon listens with its segment mapped, STATUS= lines for
// `systemctl status`, STOPPING=1 on shutdown, and WATCHDOG=1 from a timer on the network
// io_context when the service manager enabled the watchdog (WatchdogSec=), so a wedged event
// loop stops the pings. Outside systemd ($NOTIFY_SOCKET unset) every call does nothing.
//
// Thread-safety: not thread-safe; used from the network thread (the timer runs there).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <string>

namespace wmd::daemon {

class SystemdNotifier {
 public:
  // REQUIRES: io outlives the notifier.
  explicit SystemdNotifier(boost::asio::io_context& io);
  ~SystemdNotifier();
  SystemdNotifier(const SystemdNotifier&) = delete;
  SystemdNotifier& operator=(const SystemdNotifier&) = delete;

  // READY=1 with a first STATUS=, and starts the watchdog pings if enabled.
  void ready(const std::string& status);
  void status(const std::string& status);
  // STOPPING=1; the watchdog pings go on until the io_context stops (stopping can take a while).
  void stopping(const std::string& status);

  // $NOTIFY_SOCKET was set at construction: someone listens to status().
  bool under_service_manager() const noexcept { return under_service_manager_; }

  // The watchdog period systemd asked for (0: disabled).
  std::chrono::microseconds watchdog_interval() const noexcept { return watchdog_interval_; }

 private:
  void ping();

  boost::asio::steady_timer timer_;
  std::chrono::microseconds watchdog_interval_{0};
  bool under_service_manager_ = false;
};

}  // namespace wmd::daemon

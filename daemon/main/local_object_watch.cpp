#include "daemon/main/local_object_watch.hpp"

#include <spdlog/spdlog.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <unistd.h>

#include <boost/asio/buffer.hpp>
#include <cerrno>
#include <cstring>
#include <string>

#include <wmd/segment_layout.h>
#include <cstdlib>

#include "daemon/segment/truncation_guard.hpp"

namespace wmd::daemon {

LocalObjectWatch::LocalObjectWatch(boost::asio::io_context& io, Segment& segment,
                                   std::chrono::milliseconds interval)
    : segment_(segment), interval_(interval), timer_(io), events_(io) {
  const bool watching = watch_objects();
  check();  // whatever happened before the watch began
  if (watching) {
    wait_for_event();
  } else {
    schedule_poll();
  }
}

void LocalObjectWatch::stop() {
  stopped_ = true;  // a completion already queued must not re-arm anything
  timer_.cancel();
  boost::system::error_code ignored;
  events_.close(ignored);
}

bool LocalObjectWatch::watch_objects() {
  const int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) {
    spdlog::info(
        "no inotify instance ({}): checking the segment's objects for truncation every "
        "{} ms instead",
        std::strerror(errno), interval_.count());
    return false;
  }
  for (GuardedObject object : {GuardedObject::data, GuardedObject::control, GuardedObject::state}) {
    const int object_fd = guarded_descriptor(object);
    if (object_fd < 0) continue;
    // The descriptor's own link: the very object mapped, whatever its name now.
    const std::string path = "/proc/self/fd/" + std::to_string(object_fd);
    if (::inotify_add_watch(fd, path.c_str(), IN_MODIFY | IN_ATTRIB) < 0) {
      spdlog::info(
          "cannot watch {} by inotify ({}): checking the segment's objects for "
          "truncation every {} ms instead",
          path, std::strerror(errno), interval_.count());
      ::close(fd);
      return false;
    }
  }
  events_.assign(fd);
  return true;
}

void LocalObjectWatch::wait_for_event() {
  events_.async_read_some(boost::asio::buffer(event_buffer_),
                          [this](boost::system::error_code ec, std::size_t) { on_events(ec); });
}

void LocalObjectWatch::on_events(const boost::system::error_code& ec) {
  if (stopped_ || ec == boost::asio::error::operation_aborted) return;
  if (ec) {
    spdlog::warn("inotify on the segment's objects failed ({}): checking them every {} ms instead",
                 ec.message(), interval_.count());
    boost::system::error_code ignored;
    events_.close(ignored);
    schedule_poll();
    return;
  }
  // What changed does not matter: the check looks at every object.
  check();
  timer_.expires_after(interval_);
  timer_.async_wait([this](boost::system::error_code wait_ec) {
    if (!wait_ec && !stopped_) wait_for_event();
  });
}

void LocalObjectWatch::schedule_poll() {
  timer_.expires_after(interval_);
  timer_.async_wait([this](boost::system::error_code ec) {
    if (ec || stopped_) return;
    check();
    schedule_poll();
  });
}

void LocalObjectWatch::check() {
  const TruncatedMask mask = check_guarded_objects();
  if (mask == 0) return;
  const std::string& name = segment_.name();
  if (truncated(mask, GuardedObject::state)) {
    // The engine's versions past the cut now read as zeros: nothing it would send or merge
    // from here on can be trusted, and the engine thread may be reading them right now. Exit
    // at once rather than run on; the removed state makes the restart a clean catch-up.
    const std::string state = name + WMD_STATE_SUFFIX;
    spdlog::critical(
        "state object /dev/shm{} was truncated by another process while wmdd ran: the "
        "replication state is lost; removing it and exiting (restart wmdd: it starts afresh and "
        "catches up from its peers)",
        state);
    spdlog::default_logger()->flush();
    ::shm_unlink(state.c_str());
    std::_Exit(1);
  }
  if (truncated(mask, GuardedObject::control)) {
    segment_.rewrite_control_header();
    segment_.set_daemon_pid(static_cast<std::int32_t>(::getpid()));
    spdlog::error(
        "control object /dev/shm{}{} was truncated or zeroed by another process; its header is "
        "rebuilt (clients' writer registrations are lost: they re-register on reopening)",
        name, WMD_CTL_SUFFIX);
  }
  if (truncated(mask, GuardedObject::data)) {
    spdlog::error(
        "data object /dev/shm{} was truncated by another process; its size is restored and the "
        "lost range reads as zeros, which replicates like any local write",
        name);
  }
}

}  // namespace wmd::daemon

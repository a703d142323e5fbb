#include "daemon/main/local_object_watch.hpp"

#include <spdlog/spdlog.h>
#include <sys/mman.h>
#include <unistd.h>

#include <wmd/segment_layout.h>
#include <cstdlib>

#include "daemon/segment/truncation_guard.hpp"

namespace wmd::daemon {

LocalObjectWatch::LocalObjectWatch(boost::asio::io_context& io, Segment& segment,
                                   std::chrono::milliseconds interval)
    : segment_(segment), interval_(interval), timer_(io) {
  schedule();
}

void LocalObjectWatch::stop() {
  timer_.cancel();
}

void LocalObjectWatch::schedule() {
  timer_.expires_after(interval_);
  timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    check();
    schedule();
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

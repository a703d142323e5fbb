// LocalObjectWatch: notices, on the network thread, that another local process shrank one of
// the segment's objects (see segment/truncation_guard.hpp: the size is already restored by
// then, by the SIGBUS handler or by the check here) and acts on it, a log line each time:
//   data object:    the lost range reads as zeros, which the next scan replicates as any local
//                   write would (whoever may truncate the object may also write it);
//   control object: its header is rebuilt and the daemon pid published again;
//   state object:   the replication state can no longer be trusted: it is removed and the
//                   daemon exits 1 at once (a restart starts afresh and catches up from peers).
// How it notices: inotify on the three objects (IN_MODIFY comes with every truncation, by any
// process, under any name of the file), so an idle daemon does not wake for it; a check runs
// at once on an event, then no other for `interval` (this daemon's own pwritev() into the
// objects during a catch-up raises events too). Where inotify is not available (no instance
// or watch left under the user's limits), it checks every `interval` instead.
// Thread-safety: owner (network) thread only.
#pragma once

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>

#include "daemon/segment/segment.hpp"

namespace wmd::daemon {

class LocalObjectWatch {
 public:
  // REQUIRES: segment outlives this; guard_against_truncation() was called on it and on the
  // state store.
  LocalObjectWatch(boost::asio::io_context& io, Segment& segment,
                   std::chrono::milliseconds interval);
  void stop();

 private:
  bool watch_objects();
  void wait_for_event();
  void on_events(const boost::system::error_code& ec);
  void schedule_poll();
  void check();

  // Constant after construction.
  Segment& segment_;
  std::chrono::milliseconds interval_;

  boost::asio::steady_timer timer_;
  boost::asio::posix::stream_descriptor events_;  // the inotify instance; closed when polling
  std::array<char, 4096> event_buffer_{};         // what events say is not used
  bool stopped_ = false;
};

}  // namespace wmd::daemon

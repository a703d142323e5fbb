// The thread's last segment error text (Segment::last_error_text()), and the one place the
// shared segment code's errors become wmd::errc.
// Thread-safety: the text is thread-local.
#pragma once

#include <string>
#include <system_error>

#include "shm/core_error.hpp"

namespace wmd::segment_detail {

void set_last_error_text(std::string text);
const std::string& last_error_text();

// Records error.detail() for last_error_text() and returns the error with the daemon's code:
// system-call failures are io_error; objects refused for their owner or mode are invalid_config.
Error to_daemon_error(Error error);

}  // namespace wmd::segment_detail

// The one place the shared segment code's errors (shm/) get the segment's documented codes.
// Thread-safety: stateless.
#pragma once

#include <string>
#include <system_error>

#include "shm/core_error.hpp"

namespace wmd::segment_detail {

// Returns the error, detail kept, with the daemon's code:
// system-call failures are io_error; objects refused for their owner or mode are invalid_config.
Error to_daemon_error(Error error);

}  // namespace wmd::segment_detail

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

// Records error.text for last_error_text() and returns its wmd::errc: system-call failures
// are io_error; objects refused for their owner or mode are invalid_config.
std::error_code to_error_code(const core::Error& error);

}  // namespace wmd::segment_detail

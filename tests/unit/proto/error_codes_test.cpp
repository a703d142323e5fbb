// Error.code carries wmd::errc values: their numbers are part of the wire protocol.
#include <doctest/doctest.h>

#include "engine/errors.hpp"

namespace wmd {
namespace {

TEST_CASE("the error codes on the wire keep their numbers") {
  CHECK(static_cast<int>(errc::invalid_peer_id) == 3);
  CHECK(static_cast<int>(errc::beyond_max_size) == 4);
  CHECK(static_cast<int>(errc::page_size_mismatch) == 9);
  CHECK(static_cast<int>(errc::frame_too_large) == 12);
  CHECK(static_cast<int>(errc::truncated) == 13);
  CHECK(static_cast<int>(errc::malformed) == 14);
  CHECK(static_cast<int>(errc::unknown_message_type) == 15);
  CHECK(static_cast<int>(errc::protocol_version_mismatch) == 16);
  CHECK(static_cast<int>(errc::cluster_mismatch) == 17);
  CHECK(static_cast<int>(errc::duplicate_connection) == 18);
  CHECK(static_cast<int>(errc::handshake_timeout) == 19);
  CHECK(static_cast<int>(errc::heartbeat_timeout) == 20);
  CHECK(static_cast<int>(errc::io_error) == 21);
}

}  // namespace
}  // namespace wmd

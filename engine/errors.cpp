#include "engine/errors.hpp"

namespace wmd {
namespace {

class WmdCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "wmd"; }
  std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
      case errc::ok:
        return "success";
      case errc::invalid_page_size:
        return "page size must be a power of two from 4 KiB to 1 MiB";
      case errc::invalid_config:
        return "invalid configuration";
      case errc::invalid_peer_id:
        return "peer id must be 1 to 64 printable ASCII characters";
      case errc::beyond_max_size:
        return "size or offset beyond the configured maximum size";
      case errc::out_of_range:
        return "index or offset out of range";
      case errc::state_too_small:
        return "state storage is smaller than required";
      case errc::bad_magic:
        return "bad magic number (not a wmd object)";
      case errc::bad_layout_version:
        return "unsupported layout version";
      case errc::page_size_mismatch:
        return "page size mismatch";
      case errc::state_corrupt:
        return "replication state is corrupt";
      case errc::pool_exhausted:
        return "version interval pool exhausted";
      case errc::frame_too_large:
        return "frame exceeds the maximum frame size";
      case errc::truncated:
        return "message truncated";
      case errc::malformed:
        return "malformed message";
      case errc::unknown_message_type:
        return "unknown message type";
      case errc::protocol_version_mismatch:
        return "protocol version mismatch";
      case errc::cluster_mismatch:
        return "cluster name mismatch";
      case errc::duplicate_connection:
        return "duplicate connection between the same peers";
      case errc::handshake_timeout:
        return "handshake timed out";
      case errc::heartbeat_timeout:
        return "heartbeat timed out";
      case errc::io_error:
        return "I/O error";
      case errc::peer_table_full:
        return "peer table full (raise max_peers)";
      case errc::not_found:
        return "not found";
      case errc::permission:
        return "permission denied";
      case errc::timed_out:
        return "timed out";
      case errc::busy:
        return "busy";
      case errc::no_daemon:
        return "no daemon serves the segment";
      case errc::no_slot:
        return "no free writer slot";
      case errc::out_of_memory:
        return "out of memory";
      case errc::clock_skew:
        return "timestamp too far ahead of the local wall clock (see --max-clock-offset)";
      case errc::too_fragmented:
        return "more version runs in one page than the per-page limit";
      case errc::pool_share_exceeded:
        return "a peer id would own more than its share of the version pool";
      case errc::not_a_member:
        return "peer id outside the configured membership (--members)";
      case errc::too_many_new_ids:
        return "a session introduced more new peer ids than allowed";
    }
    return "unknown wmd error " + std::to_string(value);
  }
};

}  // namespace

std::string Error::message() const {
  std::string text = code_.message();
  if (!detail_.empty()) text += ": " + detail_;
  return text;
}

const std::error_category& wmd_category() noexcept {
  static const WmdCategory category;
  return category;
}

}  // namespace wmd

#include <sys/stat.h>
#include <unistd.h>

#include <boost/interprocess/exceptions.hpp>
#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/shared_memory_object.hpp>

#include <wmd/segment_layout.h>

#include "daemon/segment/bulk_write.hpp"
#include "daemon/segment/error_text.hpp"
#include "daemon/segment/segment.hpp"
#include "daemon/segment/truncation_guard.hpp"

namespace wmd {

namespace bip = boost::interprocess;

class StateStore::Impl {
 public:
  // Constant after open().
  bip::shared_memory_object object_;
  bip::mapped_region region_;
  bool created_ = false;
};

StateStore::StateStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
StateStore::~StateStore() = default;

std::span<std::uint8_t> StateStore::bytes() noexcept {
  return {static_cast<std::uint8_t*>(impl_->region_.get_address()), impl_->region_.get_size()};
}

bool StateStore::created() const noexcept {
  return impl_->created_;
}

void StateStore::guard_against_truncation() {
  guard_mapping(GuardedObject::state, impl_->region_.get_address(), impl_->region_.get_size(),
                impl_->object_.get_mapping_handle().handle);
}

Status StateStore::write(std::span<const StorageWrite> writes) const {
  return write_at(impl_->object_.get_mapping_handle().handle, impl_->region_.get_size(), writes);
}

Status StateStore::read(std::span<const StorageRead> reads) const {
  return read_at(impl_->object_.get_mapping_handle().handle, impl_->region_.get_size(), reads);
}

Result<std::unique_ptr<StateStore>> StateStore::open(const std::string& segment_name,
                                                     std::uint64_t size_bytes, std::uint32_t mode) {
  const std::string name = segment_name + WMD_STATE_SUFFIX;
  const std::string path = core::shm_path(name);
  if (segment_name.size() < 2 || segment_name[0] != '/' || size_bytes == 0) {
    return Error(errc::invalid_config, "state object " + path + ": bad name or zero size");
  }
  auto impl = std::make_unique<Impl>();
  const char* step = "shm_open";
  try {
    bip::permissions permissions(static_cast<int>(mode));
    try {
      // Boost sets the exact mode with fchmod after creating, whatever the umask.
      impl->object_ =
          bip::shared_memory_object(bip::create_only, name.c_str(), bip::read_write, permissions);
      impl->created_ = true;
    } catch (const bip::interprocess_exception& e) {
      if (e.get_error_code() != bip::already_exists_error) throw;
      impl->object_ = bip::shared_memory_object(bip::open_only, name.c_str(), bip::read_write);
    }
    if (!impl->created_) {
      // The same refusal as for the segment: our own object, not widened beyond `mode`.
      struct stat st {};
      step = "fstat";
      if (::fstat(impl->object_.get_mapping_handle().handle, &st) != 0) {
        return segment_detail::to_daemon_error(core::sys_error("fstat", path, errno));
      }
      if (st.st_uid != ::geteuid() || (st.st_mode & 022 & ~mode) != 0) {
        return segment_detail::to_daemon_error(
            Error(errc::permission,
                  path + " belongs to another user or is writable by others; refused (the state is "
                         "private: remove it to start afresh and catch up from peers)"));
      }
    }
    step = "ftruncate";
    bip::offset_t existing = 0;
    impl->object_.get_size(existing);
    if (static_cast<std::uint64_t>(existing) < size_bytes) {
      // Sparse on tmpfs: untouched pages stay zero and cost nothing.
      impl->object_.truncate(static_cast<bip::offset_t>(size_bytes));
    }
    step = "mmap";
    impl->region_ = bip::mapped_region(impl->object_, bip::read_write);
  } catch (const bip::interprocess_exception& e) {
    if (impl->created_) bip::shared_memory_object::remove(name.c_str());
    const int err = e.get_native_error();
    const Error error = core::sys_error(step, path, err != 0 ? err : EIO);
    return segment_detail::to_daemon_error(
        Error(error.code(), error.detail() + " (" + e.what() + ")"));
  }
  return std::unique_ptr<StateStore>(new StateStore(std::move(impl)));
}

}  // namespace wmd

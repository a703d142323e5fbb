#include "shm/mapped_segment.hpp"

#include <fcntl.h>
#include <limits.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdarg>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

namespace wmd::core {
namespace {

constexpr std::uint64_t kMaxPageSizeBytes = std::uint64_t{1} << 30;

bool is_power_of_two(std::uint64_t value) {
  return value != 0 && (value & (value - 1)) == 0;
}

// Rounds up to a multiple of page (a power of two); false on overflow.
bool round_up(std::uint64_t value, std::uint64_t page, std::uint64_t* out) {
  if (value > UINT64_MAX - (page - 1)) return false;
  *out = (value + page - 1) & ~(page - 1);
  return true;
}

std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string format(const char* fmt, ...) {
  char buffer[512];
  va_list args;
  va_start(args, fmt);
  std::vsnprintf(buffer, sizeof buffer, fmt, args);
  va_end(args);
  return buffer;
}

Error validate_name(const std::string& name) {
  const std::size_t longest_suffix = std::strlen(WMD_STATE_SUFFIX);
  if (name.size() < 2 || name[0] != '/' || name.find('/', 1) != std::string::npos ||
      name.size() + longest_suffix > NAME_MAX) {
    return Error(
        errc::invalid_config,
        "segment name '" + name + "' must be '/' followed by 1 to 248 characters other than '/'");
  }
  return {};
}

// Holds flock(LOCK_EX) on the data object: serialises growth between processes so that two
// growers can never shrink the object (stat and ftruncate are not atomic together).
class DataLock {
 public:
  DataLock(int fd, const std::string& path) : fd_(fd) {
    while (::flock(fd_, LOCK_EX) != 0) {
      if (errno != EINTR) {
        error_ = sys_error("flock", path, errno);
        return;
      }
    }
    locked_ = true;
  }
  ~DataLock() {
    if (locked_) ::flock(fd_, LOCK_UN);
  }
  DataLock(const DataLock&) = delete;
  DataLock& operator=(const DataLock&) = delete;
  const Error& error() const noexcept { return error_; }

 private:
  int fd_;
  bool locked_ = false;
  Error error_;
};

// Refuses objects of other users, or writable by group/others beyond what `mode` grants.
Error check_ownership(int fd, const std::string& path, const OpenParams& params) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return sys_error("fstat", path, errno);
  if (params.allow_foreign) return {};
  if (st.st_uid != ::geteuid()) {
    return Error(errc::permission,
                 format("%s is owned by uid %u, not by this process's uid %u; refused "
                        "(allow foreign objects to accept it)",
                        path.c_str(), unsigned(st.st_uid), unsigned(::geteuid())));
  }
  const mode_t widened = st.st_mode & (S_IWGRP | S_IWOTH) & ~mode_t(params.mode);
  if (widened != 0) {
    return Error(errc::permission, format("%s is writable by group or others (mode %04o); refused "
                                          "(allow foreign-writable objects to accept it)",
                                          path.c_str(), unsigned(st.st_mode & 07777)));
  }
  return {};
}

// Removes the objects this open() created unless it succeeded.
class CreationGuard {
 public:
  ~CreationGuard() {
    if (committed_) return;
    for (const std::string& name : created_) ::shm_unlink(name.c_str());
  }
  void created(std::string name) { created_.push_back(std::move(name)); }
  void commit() { committed_ = true; }

 private:
  std::vector<std::string> created_;
  bool committed_ = false;
};

// One shared-memory object of the segment, opened.
struct OpenedObject {
  UniqueFd fd;
  bool created = false;  // by this call: exclusively, with exactly params.mode
};

// Creates `name` exclusively (params.create) or attaches to the existing object; an attached
// object must pass check_ownership(). A created one is registered with the guard first.
Error open_object(const std::string& name, const OpenParams& params, CreationGuard& guard,
                  OpenedObject* out) {
  const std::string path = shm_path(name);
  int fd = -1;
  if (params.create) {
    fd = ::shm_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, params.mode);
    if (fd >= 0) {
      out->created = true;
      guard.created(name);
    } else if (errno != EEXIST) {
      return sys_error("shm_open", path, errno);
    }
  }
  if (fd < 0) {
    fd = ::shm_open(name.c_str(), O_RDWR | O_CLOEXEC, 0);
    if (fd < 0) return sys_error("shm_open", path, errno);
  }
  out->fd = UniqueFd(fd);
  if (out->created) {
    // The umask may have narrowed the mode; fchmod sets exactly what was asked.
    if (::fchmod(fd, params.mode) != 0) return sys_error("fchmod", path, errno);
    return {};
  }
  return check_ownership(fd, path, params);
}

// Waits (bounded) until an existing control object has a non-zero magic, then checks its
// header. Reads only; never modifies the object.
Error wait_for_header(int fd, const std::string& path, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  struct {
    std::uint64_t magic;
    std::uint32_t layout_version;
    std::uint32_t page_size_bytes;
  } header{};
  for (;;) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) return sys_error("fstat", path, errno);
    if (st.st_size >= static_cast<off_t>(sizeof header)) {
      const ssize_t n = ::pread(fd, &header, sizeof header, 0);
      if (n < 0) return sys_error("pread", path, errno);
      if (n == static_cast<ssize_t>(sizeof header) && header.magic != 0) {
        if (header.magic != WMD_CTL_MAGIC) {
          return Error(errc::bad_magic,
                       format("%s has magic 0x%016" PRIx64 ", not a wmd control object",
                              path.c_str(), header.magic));
        }
        if (header.layout_version != WMD_LAYOUT_VERSION) {
          return Error(errc::bad_layout_version,
                       format("%s has layout version %u; this build reads version %u", path.c_str(),
                              header.layout_version, WMD_LAYOUT_VERSION));
        }
        if (st.st_size < static_cast<off_t>(sizeof(wmd_ctl))) {
          return Error(errc::bad_magic, format("%s is %lld bytes, shorter than its layout",
                                               path.c_str(), (long long)st.st_size));
        }
        return {};
      }
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return Error(errc::bad_magic,
                   path + " was never initialised (its creator died?); remove it to recreate");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

// The name and the page sizes asked for, before anything is opened.
// Why a control object that wait_for_header() refused is damaged rather than foreign: shorter
// than its layout, never initialised (magic 0: truncated and re-extended, or its creator died),
// or our magic with impossible sizes. "" for a foreign object (another magic) or another layout
// version: those stay refused. Reads only.
std::string control_damage(int fd, const std::string& path) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return {};
  if (st.st_size < static_cast<off_t>(sizeof(wmd_ctl))) {
    return format("%s is %lld bytes, shorter than its layout (truncated?)", path.c_str(),
                  (long long)st.st_size);
  }
  wmd_ctl header{};
  constexpr auto kHeaderBytes = static_cast<ssize_t>(offsetof(wmd_ctl, generation));
  if (::pread(fd, &header, kHeaderBytes, 0) != kHeaderBytes) return {};
  if (header.magic == 0) return path + " holds no header (zeroed or never initialised)";
  if (header.magic != WMD_CTL_MAGIC || header.layout_version != WMD_LAYOUT_VERSION) return {};
  if (!is_power_of_two(header.page_size_bytes) || header.max_size_bytes == 0 ||
      header.max_size_bytes % header.page_size_bytes != 0 ||
      header.size_bytes > header.max_size_bytes) {
    return format("%s records impossible sizes (page %u, size %" PRIu64 ", maximum %" PRIu64 ")",
                  path.c_str(), header.page_size_bytes, header.size_bytes, header.max_size_bytes);
  }
  return {};
}

// Publishes a control object's header; the magic last, so attachers see a complete one.
void publish_header(wmd_ctl* ctl, std::uint32_t page, std::uint64_t size, std::uint64_t max) {
  shared(ctl->layout_version).store(WMD_LAYOUT_VERSION, std::memory_order_relaxed);
  shared(ctl->page_size_bytes).store(page, std::memory_order_relaxed);
  shared(ctl->size_bytes).store(size, std::memory_order_relaxed);
  shared(ctl->max_size_bytes).store(max, std::memory_order_relaxed);
  shared(ctl->ctl_size_bytes).store(sizeof(wmd_ctl), std::memory_order_relaxed);
  shared(ctl->magic).store(WMD_CTL_MAGIC, std::memory_order_release);  // last
}

Error validate_params(const OpenParams& params, long system_page) {
  if (Error e = validate_name(params.name)) return e;
  for (const std::uint32_t page : {params.page_size_bytes, params.default_page_size_bytes}) {
    if (page != 0 && (!is_power_of_two(page) || page < system_page || page > kMaxPageSizeBytes)) {
      return Error(
          errc::invalid_config,
          format("page size %u must be a power of two from %ld to 1 GiB", page, system_page));
    }
  }
  return {};
}

// The segment's sizes: its own (attach) or the caller's (create).
struct Geometry {
  std::uint32_t page_size_bytes = 0;
  std::uint64_t max_size_bytes = 0;
  std::uint64_t existing_size_bytes = 0;  // the control size when attaching
  std::uint64_t wanted_size_bytes = 0;    // params.size_bytes rounded up to the page size
};

Error decide_geometry(const OpenParams& params, wmd_ctl& ctl, bool created_ctl, long system_page,
                      Geometry* out) {
  const std::string ctl_path = shm_path(params.name + WMD_CTL_SUFFIX);
  std::uint32_t page = params.page_size_bytes;
  std::uint64_t max = params.max_size_bytes;
  std::uint64_t existing_size = 0;
  if (created_ctl) {
    if (page == 0) page = params.default_page_size_bytes;
    if (max == 0) max = params.default_max_size_bytes;
    if (page == 0 || max == 0) {
      // Checked only now: attaching to an existing segment needs neither.
      return Error(errc::invalid_config,
                   "creating " + params.name + " needs a page size and a maximum size");
    }
  } else {
    (void)shared(ctl.magic).load(std::memory_order_acquire);  // pairs with the creator
    const std::uint32_t stored_page = shared(ctl.page_size_bytes).load();
    if (page != 0 && stored_page != page) {
      return Error(errc::page_size_mismatch,
                   format("%s has page size %u, not %u", ctl_path.c_str(), stored_page, page));
    }
    page = stored_page;
    if (!is_power_of_two(page) || page < system_page || page > kMaxPageSizeBytes) {
      return Error(errc::bad_magic,
                   format("%s records an invalid page size %u", ctl_path.c_str(), page));
    }
    if (max == 0) max = shared(ctl.max_size_bytes).load();
    existing_size = shared(ctl.size_bytes).load();
  }
  if (max == 0 || max % page != 0) {
    return Error(errc::invalid_config,
                 format("maximum size %" PRIu64 " must be a non-zero multiple of the page "
                        "size %u",
                        max, page));
  }
  std::uint64_t wanted = 0;
  if (!round_up(params.size_bytes, page, &wanted) || wanted > max || existing_size > max) {
    return Error(errc::beyond_max_size,
                 format("%s: size %" PRIu64 " (segment holds %" PRIu64
                        ") is beyond the maximum size %" PRIu64,
                        params.name.c_str(), params.size_bytes, existing_size, max));
  }
  *out = Geometry{page, max, existing_size, wanted};
  return {};
}

}  // namespace

Error MappedSegment::open(const OpenParams& params, std::unique_ptr<MappedSegment>* out) {
  const long system_page = ::sysconf(_SC_PAGESIZE);
  if (Error e = validate_params(params, system_page)) return e;
  std::unique_ptr<MappedSegment> segment(new MappedSegment());
  segment->name_ = params.name;
  CreationGuard guard;

  // 1. The control object: create it exclusively, or attach to the existing one.
  OpenedObject ctl;
  if (Error e = open_object(params.name + WMD_CTL_SUFFIX, params, guard, &ctl)) return e;
  segment->ctl_fd_ = std::move(ctl.fd);
  bool rebuilt = false;
  if (Error e = segment->map_control(ctl.created, params, &rebuilt)) return e;
  const bool fresh_ctl = ctl.created || rebuilt;  // its geometry is ours to publish

  // 2. Sizes: the segment's own (attach) or the caller's (create, rebuild).
  Geometry geometry;
  if (Error e = decide_geometry(params, *segment->ctl_, fresh_ctl, system_page, &geometry)) {
    return e;
  }
  segment->page_size_bytes_ = geometry.page_size_bytes;
  segment->max_size_bytes_ = geometry.max_size_bytes;

  // 3. Reserve the address range before changing anything, so a full address space fails early.
  if (Error e = segment->reserve_address_range(params, system_page)) return e;

  // 4. The data object.
  OpenedObject data;
  if (Error e = open_object(params.name, params, guard, &data)) return e;
  segment->data_fd_ = std::move(data.fd);

  // 5. Size the data object and publish (creator) or raise (attacher) the control size.
  std::uint64_t target = std::max(geometry.wanted_size_bytes, geometry.existing_size_bytes);
  if (rebuilt) {
    // The data object's own size is what the lost control object recorded (page multiples,
    // never beyond the maximum).
    struct stat st {};
    if (::fstat(segment->data_fd_.get(), &st) != 0) {
      return sys_error("fstat", shm_path(params.name), errno);
    }
    const std::uint64_t held =
        std::min<std::uint64_t>(st.st_size, geometry.max_size_bytes) / geometry.page_size_bytes;
    target = std::max(target, held * geometry.page_size_bytes);
  }
  if (Error e = segment->size_data_object(target, /*publish_geometry=*/fresh_ctl)) return e;
  guard.commit();
  segment->created_ = ctl.created;
  if (!ctl.created) {
    if (Error e = segment->grow(target)) return e;
  }
  if (Error e = segment->map_to(segment->control_size_bytes())) return e;
  *out = std::move(segment);
  return {};
}

Error MappedSegment::map_control(bool created, const OpenParams& params, bool* rebuilt) {
  const std::string path = shm_path(name_ + WMD_CTL_SUFFIX);
  const int fd = ctl_fd_.get();
  if (created) {
    if (::ftruncate(fd, sizeof(wmd_ctl)) != 0) return sys_error("ftruncate", path, errno);
  } else if (Error e = wait_for_header(fd, path, params.attach_timeout_ms)) {
    // Refused unless it is ours and only damaged: the serving daemon then rebuilds it in place
    // (same object: attached clients keep their mapping), as its creator would.
    const std::string damage =
        params.rebuild_damaged_control ? control_damage(fd, path) : std::string();
    if (damage.empty()) return e;
    if (::ftruncate(fd, 0) != 0 || ::ftruncate(fd, sizeof(wmd_ctl)) != 0) {
      return sys_error("ftruncate", path, errno);
    }
    *rebuilt = true;
    repair_note_ = damage + "; rebuilt from the data object";
  }
  void* memory = ::mmap(nullptr, sizeof(wmd_ctl), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (memory == MAP_FAILED) return sys_error("mmap", path, errno);
  ctl_ = static_cast<wmd_ctl*>(memory);
  return {};
}

Error MappedSegment::reserve_address_range(const OpenParams& params, long system_page) {
  if (params.reserve_bytes != 0) {
    reserve_bytes_ = std::max(params.reserve_bytes, max_size_bytes_);
  } else {
    const std::uint64_t floor = std::max(max_size_bytes_, params.guard_floor_bytes);
    if (params.guard_bytes > UINT64_MAX / 2 || floor > UINT64_MAX / 2) {
      return Error(errc::invalid_config, "guard region too large");
    }
    reserve_bytes_ = floor + params.guard_bytes;
  }
  if (reserve_bytes_ % system_page != 0) {
    reserve_bytes_ += system_page - reserve_bytes_ % system_page;
  }
  void* reservation = ::mmap(nullptr, reserve_bytes_, PROT_NONE,
                             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (reservation == MAP_FAILED) return sys_error("mmap(reserve)", shm_path(name_), errno);
  base_ = static_cast<std::uint8_t*>(reservation);
  return {};
}

Error MappedSegment::size_data_object(std::uint64_t size_bytes, bool publish_geometry) {
  DataLock lock(data_fd_.get(), shm_path(name_));
  if (lock.error()) return lock.error();
  if (Error e = ensure_data_size(size_bytes)) return e;
  if (publish_geometry) publish_header(ctl_, page_size_bytes_, size_bytes, max_size_bytes_);
  return {};
}

void MappedSegment::rewrite_control_header() noexcept {
  std::uint64_t size = mapped_bytes_;
  struct stat st {};
  if (::fstat(data_fd_.get(), &st) == 0) {
    size = std::max(size, std::min<std::uint64_t>(st.st_size, max_size_bytes_) / page_size_bytes_ *
                              page_size_bytes_);
  }
  publish_header(ctl_, page_size_bytes_, size, max_size_bytes_);
}

MappedSegment::~MappedSegment() {
  if (base_ != nullptr) ::munmap(base_, reserve_bytes_);
  if (ctl_ != nullptr) ::munmap(ctl_, sizeof(wmd_ctl));
}

std::uint64_t MappedSegment::control_size_bytes() const noexcept {
  return shared(ctl_->size_bytes).load(std::memory_order_acquire);
}

std::uint64_t MappedSegment::generation() const noexcept {
  return shared(ctl_->generation).load(std::memory_order_acquire);
}

Error MappedSegment::ensure_data_size(std::uint64_t size_bytes) {
  const std::string path = shm_path(name_);
  struct stat st {};
  if (::fstat(data_fd_.get(), &st) != 0) return sys_error("fstat", path, errno);
  if (static_cast<std::uint64_t>(st.st_size) >= size_bytes) return {};
  // tmpfs keeps the new range sparse: pages cost memory only once written.
  if (::ftruncate(data_fd_.get(), static_cast<off_t>(size_bytes)) != 0) {
    return sys_error("ftruncate", path, errno);
  }
  return {};
}

Error MappedSegment::grow(std::uint64_t new_size_bytes) {
  std::uint64_t wanted = 0;
  if (!round_up(new_size_bytes, page_size_bytes_, &wanted) || wanted > max_size_bytes_) {
    return Error(errc::beyond_max_size,
                 format("%s: growth to %" PRIu64 " bytes is beyond the maximum size %" PRIu64,
                        name_.c_str(), new_size_bytes, max_size_bytes_));
  }
  if (wanted <= mapped_bytes_ && wanted <= control_size_bytes()) return {};
  {
    DataLock lock(data_fd_.get(), shm_path(name_));
    if (lock.error()) return lock.error();
    if (Error e = ensure_data_size(wanted)) return e;
    auto size = shared(ctl_->size_bytes);
    std::uint64_t current = size.load();
    bool raised = false;
    while (current < wanted) {
      if (size.compare_exchange_weak(current, wanted, std::memory_order_acq_rel)) {
        raised = true;
        break;
      }
    }
    if (raised) shared(ctl_->generation).fetch_add(1, std::memory_order_acq_rel);
  }
  return map_to(wanted);
}

Error MappedSegment::refresh() {
  const std::uint64_t size = control_size_bytes();
  if (size <= mapped_bytes_) return {};
  if (size > max_size_bytes_ || size % page_size_bytes_ != 0) {
    return Error(errc::beyond_max_size,
                 format("%s: control size %" PRIu64 " is beyond this mapping's maximum %" PRIu64
                        " or not a page multiple",
                        name_.c_str(), size, max_size_bytes_));
  }
  {
    // The grower enlarged the object before raising the size; this only guards against a
    // control object that says more than the data object holds (mapping it would SIGBUS).
    DataLock lock(data_fd_.get(), shm_path(name_));
    if (lock.error()) return lock.error();
    if (Error e = ensure_data_size(size)) return e;
  }
  return map_to(size);
}

Error MappedSegment::map_to(std::uint64_t size_bytes) {
  if (size_bytes <= mapped_bytes_) return {};
  void* want = base_ + mapped_bytes_;
  void* got = ::mmap(want, size_bytes - mapped_bytes_, PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_FIXED, data_fd_.get(), static_cast<off_t>(mapped_bytes_));
  if (got == MAP_FAILED) return sys_error("mmap", shm_path(name_), errno);
  mapped_bytes_ = size_bytes;
  return {};
}

}  // namespace wmd::core

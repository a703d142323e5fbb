#include "daemon/tracker/kernel/kernel_errors.hpp"

#include <cerrno>
#include <string>

namespace wmd::kernel {
namespace {

class KernelTrackingCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "wmd.kernel_tracking"; }
  std::string message(int value) const override {
    switch (static_cast<kernel_errc>(value)) {
      case kernel_errc::ok:
        return "ok";
      case kernel_errc::unsupported:
        return "kernel dirty tracking unsupported by this kernel";
      case kernel_errc::permission:
        return "kernel dirty tracking not permitted";
      case kernel_errc::not_registered:
        return "writer mapping not registered for async write-protection";
      case kernel_errc::writer_gone:
        return "writer process gone";
      case kernel_errc::failed:
        return "kernel dirty tracking failed";
    }
    return "unknown kernel tracking error";
  }
};

}  // namespace

const std::error_category& kernel_tracking_category() noexcept {
  static const KernelTrackingCategory category;
  return category;
}

kernel_errc classify_errno(KernelCall call, int err) noexcept {
  switch (err) {
    case ENOTTY:
    case EINVAL:
    case EOPNOTSUPP:
    case ENOSYS:
      return kernel_errc::unsupported;
    case ESRCH:
    case ENOENT:
      return kernel_errc::writer_gone;
    case EACCES:
      return kernel_errc::permission;
    case EPERM:
      // PM_SCAN_CHECK_WPASYNC answers EPERM for a range without async write-protection.
      return call == KernelCall::pagemap_scan ? kernel_errc::not_registered
                                              : kernel_errc::permission;
    default:
      return kernel_errc::failed;
  }
}

}  // namespace wmd::kernel

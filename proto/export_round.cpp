#include "proto/export_round.hpp"

#include <algorithm>

namespace wmd::proto {

void ExportRound::start(std::vector<std::uint64_t> pages) {
  pages_ = std::move(pages);
  next_ = 0;
  exported_early_.clear();
}

std::optional<std::uint64_t> ExportRound::next() {
  while (!urgent_.empty()) {
    const std::uint64_t page = urgent_.back();
    urgent_.pop_back();
    urgent_set_.erase(page);
    if (pending(page)) {
      exported_early_.insert(page);
      return page;
    }
  }
  while (next_ < pages_.size()) {
    const std::uint64_t page = pages_[next_++];
    if (exported_early_.erase(page) == 0) return page;
  }
  return std::nullopt;
}

bool ExportRound::pending(std::uint64_t page) const {
  return std::binary_search(pages_.begin() + static_cast<std::ptrdiff_t>(next_), pages_.end(),
                            page) &&
         exported_early_.count(page) == 0;
}

void ExportRound::hold_back(std::uint64_t page) {
  if (urgent_set_.insert(page).second) urgent_.push_back(page);
}

bool ExportRound::exhausted() const {
  // Pages exported early are all still ahead of next_ (each is erased when next_ passes it):
  // the plan is through when they are all that is left.
  return pages_.size() - next_ == exported_early_.size();
}

}  // namespace wmd::proto

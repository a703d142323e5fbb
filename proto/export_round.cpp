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
    if (pending(page)) return exported(page);
  }
  // Oldest first: pages owed again and again (a peer whose queue keeps overflowing) must not
  // starve one owed earlier.
  while (!owed_.empty()) {
    const std::uint64_t page = owed_.front();
    owed_.pop_front();
    if (owed_set_.count(page) != 0) return exported(page);
  }
  while (next_ < pages_.size()) {
    const std::uint64_t page = pages_[next_++];
    if (exported_early_.erase(page) == 0) {
      owed_set_.erase(page);
      return page;
    }
  }
  return std::nullopt;
}

std::uint64_t ExportRound::exported(std::uint64_t page) {
  owed_set_.erase(page);
  if (planned_ahead(page)) exported_early_.insert(page);
  return page;
}

bool ExportRound::planned_ahead(std::uint64_t page) const {
  return std::binary_search(pages_.begin() + static_cast<std::ptrdiff_t>(next_), pages_.end(),
                            page) &&
         exported_early_.count(page) == 0;
}

bool ExportRound::pending(std::uint64_t page) const {
  return owed_set_.count(page) != 0 || planned_ahead(page);
}

void ExportRound::owe(const std::vector<std::uint64_t>& pages) {
  for (const std::uint64_t page : pages) {
    if (!pending(page)) {
      owed_set_.insert(page);
      owed_.push_back(page);
    }
  }
}

void ExportRound::hold_back(std::uint64_t page) {
  if (urgent_set_.insert(page).second) urgent_.push_back(page);
}

bool ExportRound::exhausted() const {
  // Pages exported early are all still ahead of next_ (each is erased when next_ passes it):
  // the plan is through when they are all that is left.
  return pages_.size() - next_ == exported_early_.size() && owed_set_.empty();
}

}  // namespace wmd::proto

// ExportRound: the pages of one outgoing catch-up round in export order, and which of them are
// still pending (the round will export them). A live patch touching a pending page need not
// travel to that peer (cut_pending_pages): the export carries the page's bytes. Such a page is
// held back and exported next, ahead of the plan, so holding its patch back never delays it by
// more than a step (a round of a large segment can run for seconds). Held-back pages outlive a
// round replaced by a new one: the new plan holds them too, since the peer's digests lack what
// was held back.
// Pages can also be owed outside any plan (the peer missed patches on them: a send queue
// overflow dropped them): they are exported after the held-back pages and before the rest of
// the plan, once each, whether or not a round is running, and count as pending until then.
// Thread-safety: not thread-safe; one owner.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <unordered_set>
#include <vector>

namespace wmd::proto {

class ExportRound {
 public:
  // A new round over `pages` (sorted, unique).
  void start(std::vector<std::uint64_t> pages);
  // The next page to export (held-back pages first), nullopt when the round has none left.
  std::optional<std::uint64_t> next();
  bool pending(std::uint64_t page) const;
  // A live patch was held back for this pending page: export it next.
  void hold_back(std::uint64_t page);
  // The peer lacks these pages' latest states: export each once (unless still pending anyway).
  void owe(const std::vector<std::uint64_t>& pages);
  bool exhausted() const;  // nothing left to export
  std::size_t planned_pages() const noexcept { return pages_.size(); }
  const std::vector<std::uint64_t>& plan() const noexcept { return pages_; }  // sorted
  std::size_t owed_pages() const noexcept { return owed_set_.size(); }

 private:
  std::vector<std::uint64_t> pages_;
  std::size_t next_ = 0;
  std::unordered_set<std::uint64_t> exported_early_;  // held back, exported ahead of next_
  std::vector<std::uint64_t> urgent_;                 // held back, not yet exported
  std::unordered_set<std::uint64_t> urgent_set_;      // urgent_'s pages, each listed once
  std::deque<std::uint64_t> owed_;              // owed pages, oldest first (maybe exported already)
  std::unordered_set<std::uint64_t> owed_set_;  // owed and not yet exported

  bool planned_ahead(std::uint64_t page) const;
  std::uint64_t exported(std::uint64_t page);  // records an export ahead of next_; returns page
};

}  // namespace wmd::proto

#pragma once
// Pipelined intake bookkeeping (gateway/adapter/adapter.hpp, AdapterSink): the items of one kind
// an adapter handed to the sink and that are not answered yet, in hand-over order, and the
// durable position their answers earn. Pure: no I/O, no executor; the adapter calls it on its
// strand.

#include <algorithm>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <utility>

namespace kakehashi::adapters {

template <class Cursor>
class IntakeWindow {
 public:
  using Ticket = std::uint64_t;

  // A window of 0 is taken as 1 (hand over, wait for the answer, hand over the next).
  explicit IntakeWindow(std::size_t window) : window_(std::max<std::size_t>(window, 1)) {}

  std::size_t window() const { return window_; }
  std::size_t outstanding() const { return unanswered_; }  // handed over, not answered
  bool empty() const { return unanswered_ == 0; }
  bool full() const { return unanswered_ >= window_; }
  // A done(false) came during this run: hand nothing more over; restart once empty.
  bool failed() const { return failed_; }

  // Records an item handed over; `cursor` is the position its durable accept earns.
  Ticket hand_over(Cursor cursor) {
    items_.push_back({std::move(cursor), Answer::kPending});
    ++unanswered_;
    return first_ + items_.size() - 1;
  }

  // Records the answer to `ticket` and calls `durable(cursor)`, in hand-over order, for every
  // item that joins the contiguous prefix of items answered true. Once an item of the run was
  // answered false, nothing after it joins (the engine promises it never answers so; an adapter
  // must not skip an item even if it did).
  template <class OnDurable>
  void answer(Ticket ticket, bool accepted, OnDurable&& durable) {
    assert(ticket >= first_ && ticket - first_ < items_.size());
    if (ticket < first_ || ticket - first_ >= items_.size()) return;
    Entry& e = items_[static_cast<std::size_t>(ticket - first_)];
    assert(e.answer == Answer::kPending);  // the sink answers each item once
    if (e.answer != Answer::kPending) return;
    e.answer = accepted ? Answer::kTrue : Answer::kFalse;
    --unanswered_;
    if (!accepted) failed_ = true;
    while (!items_.empty() && items_.front().answer != Answer::kPending) {
      if (items_.front().answer == Answer::kFalse) {
        broken_ = true;
      } else if (!broken_) {
        durable(std::move(items_.front().cursor));
      }
      items_.pop_front();
      ++first_;
    }
  }

  // Starts a new run (a fresh listing from the durable position). Only when nothing is
  // outstanding: answers of the old run would otherwise land in the new one.
  bool restart() {
    if (!empty()) return false;
    failed_ = false;
    broken_ = false;
    return true;
  }

 private:
  enum class Answer { kPending, kTrue, kFalse };
  struct Entry {
    Cursor cursor;
    Answer answer;
  };

  std::size_t window_;
  std::deque<Entry> items_;  // from the oldest item not yet popped, in hand-over order
  Ticket first_ = 0;         // ticket of items_.front()
  std::size_t unanswered_ = 0;
  bool failed_ = false;  // some item of this run was answered false
  bool broken_ = false;  // an item answered false reached the front: the prefix ends there
};

}  // namespace kakehashi::adapters

// What a writer was doing when its destination failed, added to the error's message, so a
// failure says "... (applying update of key id=5 to table public.t)" whichever writer raised it.
// The error keeps its kind, retryability and where: the session's retry and failure decisions do
// not change because context was added.
#pragma once

#include <cdc/change_event.h>
#include <cdc/error.h>
#include <cdc/schema.h>

#include <string>
#include <string_view>
#include <vector>

namespace cdc::detail {

// "update of key id=5" (a table without a key: its first columns).
std::string change_text(ChangeOp op, const TableSchema& schema, const Row& image);

// "3 upserts (keys id=1; id=2; id=3)" for `what` = "upsert": a set-wise statement over `rows`;
// at most a few keys shown.
std::string rows_text(std::string_view what, const TableSchema& schema, const std::vector<const Row*>& rows);

// Rethrows `e` with " (applying <what> to table <table>)" appended to its message.
[[noreturn]] void rethrow_applying(const Error& e, const std::string& what, const std::string& table);

// Runs `f`; a cdc::Error it throws is rethrown with the context `what()` names (computed only
// then, so the happy path builds no text).
template <typename F, typename What>
void applying(const std::string& table, What&& what, F&& f) {
  try {
    f();
  } catch (const Error& e) {
    rethrow_applying(e, what(), table);
  }
}

}  // namespace cdc::detail

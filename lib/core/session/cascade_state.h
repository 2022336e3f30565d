// Derived foreign-key cascades for destinations that cannot select rows themselves (Kafka, Redis
// Streams, JSON lines, Harper, a host's own). A MariaDB/MySQL source does not log the child rows
// InnoDB changes through ON DELETE CASCADE / SET NULL and ON UPDATE CASCADE / SET NULL (see
// cascades.h); a SQL destination applies such a change with one statement over its own rows, but
// a bus has no rows to select. For those, cdc keeps its own copy of the tables that cascades reach
// (DestinationTable::reached_by_cascades) in a local SQLite file, resolves each derived change
// against it into ordinary change events (a delete with the whole old row, an update with before
// and after) and hands them to the destination in source order, with the parent's change.
//
// Keeping that copy exactly in step with what the destination has durably received:
//  - every transaction that touches the copy gets a number n and records, for each row it
//    touches first, the row as it was (undo); the copy commits (fsync) before the destination's
//    transaction, and the destination's checkpoint entries carry n ("cascade_state");
//  - once the destination's commit returns, the undo of n is dropped;
//  - at start (and after a commit that failed) the copy is reconciled with the number the
//    destination's checkpoints hold: transactions past it are undone, so a replay of the log
//    meets the rows as they were when those events were first read.
// A copy that is behind the destination (the file was lost or replaced) cannot be repaired from
// the log: reconcile() says so, and the session copies the tables it mirrors again.
// Transactions that touch the copy are serialised (one at a time, through publish), so the
// numbers the destination holds only grow.
#pragma once

#include <cdc/checkpoint_store.h>
#include <cdc/destination.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace cdc::detail {

class CascadeState {
 public:
  // Opens (creating) the SQLite file at `path`. `store` and `session` are where the destination's
  // checkpoints are read back when a commit's outcome is unknown.
  CascadeState(std::string path, std::shared_ptr<CheckpointStore> store, std::string session);
  ~CascadeState();
  CascadeState(const CascadeState&) = delete;
  CascadeState& operator=(const CascadeState&) = delete;

  static std::string checkpoint_key();
  // The number the destination's checkpoint `entries` hold (absent: none); throws Error(State)
  // when it is not a number.
  static std::optional<std::int64_t> published(const std::map<std::string, std::string>& entries);
  // The file for `session` under `dir` (created when missing).
  static std::string path_for(const std::string& dir, const std::string& session);
  // The directory for local state when the config names none: $STATE_DIRECTORY (systemd's
  // StateDirectory=), $XDG_STATE_HOME/cdc, ~/.local/state/cdc, else ./.cdc-state.
  static std::string default_dir();

  enum class Verdict : std::uint8_t {
    InStep,  // the copy holds what the destination has
    Behind,  // the copy lacks transactions the destination has (or never knew these tables): it
             // was emptied; the tables it mirrors must be copied again
  };
  // Brings the copy in step with the destination, whose checkpoints hold `published` (absent:
  // the destination never received a transaction that touched the copy). `resumed`: the session
  // has checkpoints (a fresh one starts with an empty copy).
  Verdict reconcile(const std::optional<std::int64_t>& published, bool resumed);

  // Wraps `inner` so that its writers keep the copy and resolve cascades through it.
  static std::shared_ptr<DestinationConnector> wrap(std::shared_ptr<DestinationConnector> inner, std::shared_ptr<CascadeState> state);

 private:
  friend class CascadeStateWriter;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::mutex txn_mu_;  // held by the writer whose transaction touches the copy
};

}  // namespace cdc::detail

// Session leases of the SQLite checkpoint store: an open-file-description lock (fcntl
// F_OFD_SETLK) on a side file next to the database, `<db>-cdc-<16 hex digits>.lock`, which holds
// the holder's description while locked. The kernel drops the lock when the holder's process
// ends, however it ends. The file is left in place (emptied on a clean release): removing a lock
// file races with a process about to lock it.
#pragma once

#include <cdc/checkpoint_store.h>

#include <memory>
#include <optional>
#include <string>

namespace cdc::sqlite {

// The lock file of `session` for the database at `db_path`.
std::string lease_file(const std::string& db_path, const std::string& session);
// Takes the lease or throws cdc::Error(State) naming the holder (detail::lease_refused).
std::unique_ptr<SessionLease> acquire_lease(const std::string& db_path, const std::string& session, const std::string& holder);
// The holder's description while some process holds the lease, without taking it.
std::optional<std::string> lease_holder(const std::string& db_path, const std::string& session);

}  // namespace cdc::sqlite

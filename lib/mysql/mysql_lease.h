// Session leases of the MariaDB/MySQL checkpoint store: a named user lock (GET_LOCK(name, 0)) held
// by a connection of the lease's own, and the holder's description as the session's checkpoint
// entry "lease". The server releases the lock when that connection ends, which it does when the
// holding process dies. Lock names are server-wide, so the name carries the database as well:
// the lease is per (checkpoint database, session), like the checkpoints themselves.
#pragma once

#include "mysql/mysql_conn.h"

#include <cdc/checkpoint_store.h>

#include <memory>
#include <optional>
#include <string>

namespace cdc::mysql {

// "cdc:<database>:<session>" when that fits the server's 64-character limit (and has no upper
// case, since lock names compare case-insensitively); otherwise a readable prefix of it and
// "~" plus 16 hex digits of its hash.
std::string lease_lock_name(const std::string& database, const std::string& session);
// Takes the lease or throws cdc::Error(State) naming the holder (detail::lease_refused).
std::unique_ptr<SessionLease> acquire_lease(const ConnParams& params, const std::string& session, const std::string& holder);
// The holder's description while some connection holds the lease, without taking it.
std::optional<std::string> lease_holder(const ConnParams& params, const std::string& session);

}  // namespace cdc::mysql

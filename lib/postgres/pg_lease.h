// Session leases of the PostgreSQL checkpoint store: a session-level advisory lock
// (pg_try_advisory_lock, key detail::lease_hash(session)) held by a connection of the lease's own,
// and the holder's description as the session's checkpoint entry "lease". The server releases the
// lock when that connection ends, which it does when the holding process dies.
// Advisory locks belong to one database: the lease is per (checkpoint database, session).
#pragma once

#include "postgres/pg_conn.h"

#include <cdc/checkpoint_store.h>

#include <memory>
#include <optional>
#include <string>

namespace cdc::pg {

// Takes the lease or throws cdc::Error(State) naming the holder (detail::lease_refused).
std::unique_ptr<SessionLease> acquire_lease(const ConnParams& params, const std::string& session, const std::string& holder);
// The holder's description while some connection holds the lease, without taking it.
std::optional<std::string> lease_holder(const ConnParams& params, const std::string& session);

}  // namespace cdc::pg

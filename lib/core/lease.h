// What the built-in checkpoint stores share about session leases (CheckpointStore::acquire_lease):
// the key a lease is known by, the refusal, and a description of this process for `holder`.
// Pure functions (describe_this_process reads the clock, pid and host name); thread-safe.
#pragma once

#include <cdc/error.h>

#include <cstdint>
#include <string>

namespace cdc::detail {

// Checkpoint entry key under which a store keeps the holder's description, where it keeps one.
inline constexpr const char* kLeaseEntry = "lease";

// A stable 64-bit hash of "cdc:" + session: the lock key (PostgreSQL advisory lock, MariaDB lock
// name of a long session, SQLite lock file name).
std::uint64_t lease_hash(const std::string& session);
// 16 lowercase hex digits of lease_hash(session).
std::string lease_hash_hex(const std::string& session);

// cdc::Error(State), where "session NAME": "session NAME is already running: <holder>".
Error lease_refused(const std::string& session, const std::string& holder);

// "pid 4242 on db-host since 2026-12-06 10:00:00 UTC" (now): a `holder` for acquire_lease.
std::string describe_this_process();

}  // namespace cdc::detail

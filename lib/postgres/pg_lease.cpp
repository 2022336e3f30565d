// PostgreSQL session leases (see pg_lease.h).
#include "postgres/pg_lease.h"

#include "postgres/pg_connectors.h"

#include "core/lease.h"
#include "core/logging.h"

#include <fmt/format.h>

#include <cstdint>

namespace cdc::pg {

namespace {

// The lock key as the bigint pg_try_advisory_lock takes (the hash's bits, two's complement).
std::string lock_key(const std::string& session) {
  return std::to_string(static_cast<std::int64_t>(detail::lease_hash(session)));
}

std::string where_of(const std::string& session) { return "lease of session " + session; }

// The stored description of the holder, or a description of the backend holding the lock.
std::string stored_holder(Conn& c, const std::string& session) {
  Result r = c.exec_params(fmt::format("SELECT value FROM {}.{} WHERE session = $1 AND key = $2", kMetadataSchema, kCheckpointTable),
                           {session, std::string(detail::kLeaseEntry)}, where_of(session));
  if (r.rows() > 0 && !r.text(0, 0).empty()) return r.text(0, 0);
  // Locked, but the holder has not written its description (yet): name its backend.
  const std::uint64_t key = detail::lease_hash(session);
  Result b = c.exec_params(
      "SELECT a.pid, coalesce(host(a.client_addr), 'local'), to_char(a.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') "
      "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
      "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1::bigint::oid AND l.objid = $2::bigint::oid "
      "AND l.objsubid = 1 AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
      {std::to_string(key >> 32), std::to_string(key & 0xffffffffu)}, where_of(session));
  if (b.rows() == 0) return "another process";
  return fmt::format("a process with PostgreSQL backend pid {} from {} since {} UTC", b.text(0, 0), b.text(0, 1), b.text(0, 2));
}

// Makes sure the checkpoint table exists (concurrent first runs may race on CREATE SCHEMA).
void ensure_checkpoint_table(Conn& c) {
  for (int attempt = 0;; ++attempt) {
    std::string state = c.try_exec(checkpoint_ddl());
    if (state.empty()) return;
    if (attempt >= 2 || (state != "23505" && state != "42P06" && state != "42P07")) c.exec(checkpoint_ddl(), "checkpoint table");
  }
}

class AdvisoryLease final : public SessionLease {
 public:
  AdvisoryLease(Conn c, std::string session, std::string holder)
      : c_(std::move(c)), session_(std::move(session)), holder_(std::move(holder)) {}

  ~AdvisoryLease() override {
    // A clean release removes the description (where it is still ours) and unlocks; closing the
    // connection would unlock anyway.
    try {
      if (c_.healthy()) {
        c_.exec_params(fmt::format("DELETE FROM {}.{} WHERE session = $1 AND key = $2 AND value = $3", kMetadataSchema,
                                   kCheckpointTable),
                       {session_, std::string(detail::kLeaseEntry), holder_}, where_of(session_));
        c_.exec_params("SELECT pg_advisory_unlock($1::bigint)", {lock_key(session_)}, where_of(session_));
      }
    } catch (const std::exception& e) {
      detail::logf(LogLevel::Debug, "postgres", "", "releasing the lease of session {}: {}", session_, e.what());
    }
    c_.close();
  }

 private:
  Conn c_;
  std::string session_;
  std::string holder_;
};

}  // namespace

std::unique_ptr<SessionLease> acquire_lease(const ConnParams& params, const std::string& session, const std::string& holder) {
  Conn c(params, ErrorKind::State);
  ensure_checkpoint_table(c);
  // The lease must outlive idle periods of any length: no server-side timeout may end it.
  // (Parameters a server does not know, before PostgreSQL 14, do not matter.)
  c.try_exec("SET idle_session_timeout = 0");
  c.try_exec("SET idle_in_transaction_session_timeout = 0");
  Result r = c.exec_params("SELECT pg_try_advisory_lock($1::bigint)", {lock_key(session)}, where_of(session));
  if (r.rows() != 1 || r.text(0, 0) != "t") throw detail::lease_refused(session, stored_holder(c, session));
  c.exec_params(fmt::format("INSERT INTO {}.{} (session, key, value, updated_at) VALUES ($1, $2, $3, now()) "
                            "ON CONFLICT (session, key) DO UPDATE SET value = excluded.value, updated_at = now()",
                            kMetadataSchema, kCheckpointTable),
                {session, std::string(detail::kLeaseEntry), holder}, where_of(session));
  return std::make_unique<AdvisoryLease>(std::move(c), session, holder);
}

std::optional<std::string> lease_holder(const ConnParams& params, const std::string& session) {
  Conn c(params, ErrorKind::State);
  const std::uint64_t key = detail::lease_hash(session);
  Result r = c.exec_params(
      "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = $1::bigint::oid "
      "AND objid = $2::bigint::oid AND objsubid = 1 "
      "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
      {std::to_string(key >> 32), std::to_string(key & 0xffffffffu)}, where_of(session));
  if (r.rows() == 0 || r.text(0, 0) == "0") return std::nullopt;
  if (c.try_exec(fmt::format("SELECT 1 FROM {}.{} LIMIT 0", kMetadataSchema, kCheckpointTable)).empty())
    return stored_holder(c, session);
  return "another process";
}

}  // namespace cdc::pg

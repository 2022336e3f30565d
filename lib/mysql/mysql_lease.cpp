// MariaDB/MySQL session leases (see mysql_lease.h).
#include "mysql/mysql_lease.h"

#include "mysql/mysql_connectors.h"

#include "core/lease.h"
#include "core/logging.h"
#include "core/text_util.h"

#include <fmt/format.h>

namespace cdc::mysql {

namespace {

constexpr std::size_t kMaxLockName = 64;

std::string where_of(const std::string& session) { return "lease of session " + session; }

std::string table(const ConnParams& params) { return quote_ident(params.database) + "." + quote_ident(kCheckpointTable); }

// The stored description of the holder, or the holder's connection id.
std::string stored_holder(Conn& c, const ConnParams& params, const std::string& session, const std::string& connection_id) {
  auto value = c.scalar(fmt::format("SELECT value FROM {} WHERE session = {} AND `key` = {}", table(params), c.quoted(session),
                                    c.quoted(detail::kLeaseEntry)),
                        where_of(session));
  if (value && !value->empty()) return *value;
  return connection_id.empty() ? "another process" : "a process with MariaDB connection id " + connection_id;
}

class NamedLockLease final : public SessionLease {
 public:
  NamedLockLease(Conn c, std::string table, std::string lock, std::string session, std::string holder)
      : c_(std::move(c)), table_(std::move(table)), lock_(std::move(lock)), session_(std::move(session)), holder_(std::move(holder)) {}

  ~NamedLockLease() override {
    // A clean release removes the description (where it is still ours) and unlocks; closing the
    // connection would unlock anyway.
    try {
      c_.exec(fmt::format("DELETE FROM {} WHERE session = {} AND `key` = {} AND value = {}", table_, c_.quoted(session_),
                          c_.quoted(detail::kLeaseEntry), c_.quoted(holder_)),
              where_of(session_));
      c_.scalar("SELECT RELEASE_LOCK(" + c_.quoted(lock_) + ")", where_of(session_));
    } catch (const std::exception& e) {
      detail::logf(LogLevel::Debug, "mysql", "", "releasing the lease of session {}: {}", session_, e.what());
    }
  }

 private:
  Conn c_;
  std::string table_;
  std::string lock_;
  std::string session_;
  std::string holder_;
};

}  // namespace

std::string lease_lock_name(const std::string& database, const std::string& session) {
  std::string full = "cdc:" + database + ":" + session;
  bool upper = false;
  for (unsigned char ch : full) upper = upper || (ch >= 'A' && ch <= 'Z') || ch >= 0x80;
  if (full.size() <= kMaxLockName && !upper) return full;
  std::string hash = "~" + fmt::format("{:016x}", detail::fnv1a(full));
  std::size_t keep = kMaxLockName - hash.size();
  std::string prefix;
  for (std::size_t i = 0; i < full.size() && i < keep; ++i) {
    unsigned char ch = static_cast<unsigned char>(full[i]);
    if (ch >= 0x80) break;  // ASCII only: a multi-byte character could count differently
    prefix += static_cast<char>(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
  }
  return prefix + hash;
}

std::unique_ptr<SessionLease> acquire_lease(const ConnParams& params, const std::string& session, const std::string& holder) {
  Conn c(params, ErrorKind::State);
  c.exec(checkpoint_table_ddl(), "checkpoint table");
  // The lease must outlive idle periods: the server would otherwise close the connection (and
  // drop the lock) after wait_timeout, 8 hours by default. 31536000 s is the largest it takes.
  c.exec("SET SESSION wait_timeout = 31536000", where_of(session));
  std::string lock = lease_lock_name(params.database, session);
  auto got = c.scalar("SELECT GET_LOCK(" + c.quoted(lock) + ", 0)", where_of(session));
  if (!got || *got != "1") {
    auto id = c.scalar("SELECT IS_USED_LOCK(" + c.quoted(lock) + ")", where_of(session));
    throw detail::lease_refused(session, stored_holder(c, params, session, id.value_or("")));
  }
  c.exec(fmt::format("INSERT INTO {} (session, `key`, value, updated_at) VALUES ({}, {}, {}, CURRENT_TIMESTAMP(6)) "
                     "ON DUPLICATE KEY UPDATE value = VALUES(value), updated_at = VALUES(updated_at)",
                     table(params), c.quoted(session), c.quoted(detail::kLeaseEntry), c.quoted(holder)),
         where_of(session));
  return std::make_unique<NamedLockLease>(std::move(c), table(params), lock, session, holder);
}

std::optional<std::string> lease_holder(const ConnParams& params, const std::string& session) {
  Conn c(params, ErrorKind::State);
  auto id = c.scalar("SELECT IS_USED_LOCK(" + c.quoted(lease_lock_name(params.database, session)) + ")", where_of(session));
  if (!id) return std::nullopt;
  try {
    return stored_holder(c, params, session, *id);
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::Connection) throw;
    return "a process with MariaDB connection id " + *id;  // no checkpoint table (yet)
  }
}

}  // namespace cdc::mysql

// How a session's name is derived when the config gives none (cdc::session_name, declared in
// <cdc/session.h>), and the derivation of earlier releases, whose checkpoints the engine moves to
// the current name on upgrade. Pure functions; thread-safe.
#pragma once

#include <cdc/config.h>

#include <string>

namespace cdc::detail {

// What identifies a connector URL's data: scheme, host, port and path (the database, or the
// file), without user, password and query parameters, so that changing credentials, `sslmode=`
// or a connector setting keeps the session. Host is lowercased. A URL that does not parse is
// taken as it is, redacted and without its query.
std::string url_identity(const std::string& url);

// The name cdc 0.1 derived: the source file's stem plus a hash of both URLs with the
// password redacted but every other part kept (so a changed parameter started a new session).
// config.name when set, like session_name().
std::string legacy_session_name(const Config& config);

}  // namespace cdc::detail

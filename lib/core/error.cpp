#include <cdc/error.h>
#include <cdc/version.h>

namespace cdc {

std::string_view to_string(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::Config: return "config";
    case ErrorKind::Connection: return "connection";
    case ErrorKind::Schema: return "schema";
    case ErrorKind::Conversion: return "conversion";
    case ErrorKind::Source: return "source";
    case ErrorKind::Destination: return "destination";
    case ErrorKind::Protocol: return "protocol";
    case ErrorKind::State: return "state";
    case ErrorKind::Cancelled: return "cancelled";
    case ErrorKind::Internal: return "internal";
  }
  return "?";
}

namespace {
std::string compose(const std::string& where, const std::string& message) {
  return where.empty() ? message : where + ": " + message;
}
}  // namespace

Error::Error(ErrorKind kind, std::string message, bool retryable, std::string where)
    : std::runtime_error(compose(where, message)),
      kind_(kind),
      retryable_(retryable),
      where_(std::move(where)),
      message_(std::move(message)) {}

Error config_error(std::string where, std::string message) {
  return Error(ErrorKind::Config, std::move(message), false, std::move(where));
}

Error connection_error(std::string message, std::string where) {
  return Error(ErrorKind::Connection, std::move(message), true, std::move(where));
}

const char* version() { return "0.1.0"; }

}  // namespace cdc

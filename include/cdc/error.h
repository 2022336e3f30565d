// cdc::Error: the one exception type cdc throws. Its properties are queryable, because
// "which class" is less useful than "what kind, may I retry, and where did it happen".
// The message names the object (config key path, table, column, row key); secrets never appear.
#pragma once

#include <cdc/export.h>

#include <stdexcept>
#include <string>
#include <string_view>

namespace cdc {

enum class ErrorKind {
  Config,      // the configuration is wrong; fatal
  Connection,  // could not reach or lost the server; retryable
  Schema,      // table/column missing or incompatible; fatal for that table
  Conversion,  // a value cannot be represented at the destination; fatal for that row
  Source,      // the source refused or failed an operation
  Destination, // the destination refused or failed an operation
  Protocol,    // a log stream could not be decoded
  State,       // checkpoint or session state is inconsistent
  Cancelled,   // the operation was stopped on request
  Internal,    // a bug in cdc
};

CDC_API std::string_view to_string(ErrorKind kind);

class CDC_API Error : public std::runtime_error {
 public:
  // `where` names the object: "tables.orders.batch_size", "table main.orders", "column orders.total".
  Error(ErrorKind kind, std::string message, bool retryable = false, std::string where = {});

  ErrorKind kind() const noexcept { return kind_; }
  bool retryable() const noexcept { return retryable_; }
  const std::string& where() const noexcept { return where_; }
  // The message without the location prefix.
  const std::string& message() const noexcept { return message_; }

 private:
  ErrorKind kind_;
  bool retryable_;
  std::string where_;
  std::string message_;
};

// Shorthands for the common kinds.
CDC_API Error config_error(std::string where, std::string message);
CDC_API Error connection_error(std::string message, std::string where = {});

}  // namespace cdc

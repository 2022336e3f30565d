// Internal logging helpers: format only when the level is enabled.
#pragma once

#include <cdc/log.h>

#include <fmt/format.h>

#include <string_view>

namespace cdc::detail {

template <typename... Args>
void logf(LogLevel level, std::string_view component, std::string_view table, fmt::format_string<Args...> format,
          Args&&... args) {
  if (level < log_level()) return;
  log(level, component, table, fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace cdc::detail

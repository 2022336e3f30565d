// Session names: the name checkpoints are kept under when the config gives none.
#pragma once

#include <cdc/config.h>

#include <string>

namespace cdc::detail {

// The name an older cdc derived (the URLs hashed with their parameters), under which its
// checkpoints may still be kept: the engine moves them to session_name() on upgrade.
std::string legacy_session_name(const Config& config);

}  // namespace cdc::detail

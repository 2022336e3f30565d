// Library version.
#pragma once

#include <cdc/export.h>

#define CDC_VERSION_MAJOR 0
#define CDC_VERSION_MINOR 1
#define CDC_VERSION_PATCH 0

namespace cdc {
CDC_API const char* version();
}

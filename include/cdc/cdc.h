// Umbrella header: everything a host needs to embed cdc.
#pragma once

#include <cdc/change_event.h>
#include <cdc/checkpoint_store.h>
#include <cdc/clock.h>
#include <cdc/config.h>
#include <cdc/destination.h>
#include <cdc/error.h>
#include <cdc/http_server.h>
#include <cdc/log.h>
#include <cdc/pipelines.h>
#include <cdc/plan.h>
#include <cdc/position.h>
#include <cdc/registry.h>
#include <cdc/schema.h>
#include <cdc/schema_change.h>
#include <cdc/session.h>
#include <cdc/source.h>
#include <cdc/status_document.h>
#include <cdc/type_mapper.h>
#include <cdc/value.h>
#include <cdc/verify.h>
#include <cdc/version.h>

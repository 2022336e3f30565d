// JSON lines destination: one change event (core/event/change_event_json.h) per line, in commit
// order, appended to one file shared by every writer of the session. A transaction's lines are
// written and fsynced before its checkpoint, which lives in the side file `<file>.cdc-checkpoint`
// (replaced atomically by rename), so a crash replays at most the last transaction's lines
// (at-least-once; replaying events by key converges). `rotate_bytes=N` closes the file once it
// holds N bytes or more after a commit, renaming it `<file>.1`, `<file>.2`, ... (oldest first).
// `jsonl://-` writes to standard output and keeps no checkpoint of its own.
#pragma once

#include <cdc/destination.h>
#include <cdc/registry.h>

#include <memory>

namespace cdc::jsonl {

std::shared_ptr<DestinationConnector> make_destination(const ConnectorUrl& url);

}  // namespace cdc::jsonl

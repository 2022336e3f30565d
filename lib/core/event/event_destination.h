// What every event destination (JSON lines, Kafka, Redis Streams) shares: the URL parameters of
// the change event (schemas, decimal_handling), the source it is told about, and a writer that
// turns snapshot rows and changes into encoded events (core/event/change_event_json.h) and hands
// a transaction's events with its checkpoint to the transport at commit.
// An event destination has no DDL, no schema evolution, no quarantine; it keeps its checkpoints
// itself (atomic_checkpoints), committed after (or with) the transaction's events.
// EventDestination is thread-safe; each EventWriter is used by one thread at a time.
#pragma once

#include "core/event/change_event_json.h"

#include <cdc/destination.h>
#include <cdc/registry.h>

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace cdc::detail {

// The cdc parameters every event destination takes, read from (and removed from) `params`:
// schemas=true|false, decimal_handling=string|double. Throws Error(Config) naming the URL
// (redacted) and the parameter.
EventOptions take_event_options(std::map<std::string, std::string>& params, const ConnectorUrl& url);

// Throws Error(Config) when `params` holds a key that is not in `known`, listing them.
void reject_unknown_params(const std::map<std::string, std::string>& params, const std::set<std::string>& known,
                           const ConnectorUrl& url);

// "true"/"false"/"1"/"0"/"yes"/"no" -> bool, else Error(Config) naming the parameter.
bool bool_param(const std::string& value, const std::string& name, const ConnectorUrl& url);

class EventDestination : public DestinationConnector {
 public:
  EventDestination(EventOptions options, std::string prefix_param);

  // The source's dialect once described (values then arrive as the source has them); "event"
  // before.
  std::string dialect() const override;
  DestinationCapabilities capabilities() const override;
  void describe_source(const SourceInfo& source) override;
  void prepare_table(const DestinationTable& table) override;

  // The topic / stream prefix: the URL's prefix parameter, else the config's name, else the
  // source database's name (so `copy` and `replicate` of one source agree), else "cdc".
  std::string prefix() const;
  std::shared_ptr<const EventEncoder> encoder() const;
  SourceInfo source_info() const;

 protected:
  // Called from prepare_table (a transport may create its topic or stream here).
  virtual void prepare_stream(const std::string& stream, const DestinationTable& table) { (void)stream, (void)table; }

 private:
  mutable std::mutex mu_;
  EventOptions options_;
  std::string prefix_param_;
  SourceInfo source_;
  std::shared_ptr<const EventEncoder> encoder_;
};

class EventWriter : public DestinationWriter {
 public:
  explicit EventWriter(std::shared_ptr<const EventEncoder> encoder);
  void begin() override;
  void write_rows(const DestinationTable& table, const std::vector<Row>& rows) override;
  void apply(const DestinationTable& table, const std::vector<ChangeEvent>& changes) override;
  void truncate(const DestinationTable& table) override;
  void commit(const std::string& session, const std::vector<CheckpointEntry>& checkpoint) override;
  void rollback() noexcept override;

 protected:
  // Makes `events` (in order) and then `checkpoint` durable: after it returns, a restart resumes
  // after them. `events` may be empty (a checkpoint alone). On failure it throws and nothing
  // after the last durable event may be assumed.
  virtual void publish(std::vector<EncodedEvent>& events, const std::string& session,
                       const std::vector<CheckpointEntry>& checkpoint) = 0;
  const EventEncoder& encoder() const { return *encoder_; }

 private:
  std::shared_ptr<const EventEncoder> encoder_;
  std::vector<EncodedEvent> pending_;
  bool open_ = false;
};

std::int64_t now_ms();

// The checkpoint store of a destination that reads every session's entries at once and writes a
// session's entries, an empty value erasing one (Kafka's compacted topic, a Redis hash). A
// transport gives read_all() and put().
class SessionMapCheckpointStore : public CheckpointStore {
 public:
  using Sessions = std::map<std::string, std::map<std::string, std::string>>;
  std::map<std::string, std::string> load(const std::string& session) override;
  void clear(const std::string& session) override;
  std::vector<std::string> sessions() override;

 protected:
  virtual Sessions read_all() = 0;
};

}  // namespace cdc::detail

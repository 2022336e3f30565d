// Connector registry: resolves connector URLs ("sqlite:///abs/path.db", "postgresql://...")
// to connector instances by scheme. Built-in connectors register themselves when the registry is
// first used; a host may register its own schemes. All methods are thread-safe.
#pragma once

#include <cdc/checkpoint_store.h>
#include <cdc/destination.h>
#include <cdc/export.h>
#include <cdc/source.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace cdc {

// A parsed connector URL: scheme://user:password@host:port/path?key=value
// sqlite:///abs/path.db -> path "/abs/path.db"; sqlite://relative.db -> path "relative.db".
struct CDC_API ConnectorUrl {
  std::string scheme;
  std::string user;
  std::string password;
  std::string host;
  int port = 0;
  std::string path;  // database name or file path, percent-decoded
  // Every "host:port" of a host list ("kafka://h1:9092,h2:9092"), in order; host and port above
  // are the first one's. One entry for a single host; empty without a host.
  std::vector<std::string> hosts;
  std::map<std::string, std::string> params;
  std::string text;  // the URL as given

  // Throws cdc::Error(Config) naming the URL (redacted) when malformed.
  static ConnectorUrl parse(const std::string& url);
  std::string redacted() const;
};

using SourceFactory = std::function<std::shared_ptr<SourceConnector>(const ConnectorUrl&)>;
using DestinationFactory = std::function<std::shared_ptr<DestinationConnector>(const ConnectorUrl&)>;
using CheckpointStoreFactory = std::function<std::shared_ptr<CheckpointStore>(const ConnectorUrl&)>;

class CDC_API ConnectorRegistry {
 public:
  static ConnectorRegistry& instance();

  void register_source(const std::string& scheme, SourceFactory factory);
  void register_destination(const std::string& scheme, DestinationFactory factory);
  void register_checkpoint_store(const std::string& scheme, CheckpointStoreFactory factory);

  // Throw cdc::Error(Config) for an unknown scheme, listing the known ones.
  std::shared_ptr<SourceConnector> open_source(const std::string& url) const;
  std::shared_ptr<DestinationConnector> open_destination(const std::string& url) const;
  std::shared_ptr<CheckpointStore> open_checkpoint_store(const std::string& url) const;

  std::vector<std::string> source_schemes() const;
  std::vector<std::string> destination_schemes() const;

  ~ConnectorRegistry();
  ConnectorRegistry(const ConnectorRegistry&) = delete;
  ConnectorRegistry& operator=(const ConnectorRegistry&) = delete;

 private:
  ConnectorRegistry();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cdc

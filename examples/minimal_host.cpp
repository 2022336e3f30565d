// minimal_host: the smallest useful embedding of cdc.
// Builds a Config in code, copies every table of one SQLite file into another with a
// ReplicationSession in copy mode (snapshot only), prints progress per table and the final status.
//
//   minimal_host SOURCE.db DESTINATION.db
#include <cdc/cdc.h>

#include <cstdio>
#include <mutex>
#include <string>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s SOURCE.db DESTINATION.db\n", argv[0]);
    return 2;
  }
  cdc::Config config;
  config.name = "minimal-host";
  // "sqlite://" + "/abs/path.db" is "sqlite:///abs/path.db"; a relative path stays relative.
  config.source = std::string("sqlite://") + argv[1];
  config.destination = std::string("sqlite://") + argv[2];
  config.parallel_tables = 2;
  config.defaults.batch_size = 5000;

  cdc::SessionOptions options;
  options.snapshot_only = true;
  options.progress_interval = std::chrono::milliseconds(250);
  // Runs on a session thread; this host only prints, under its own mutex.
  std::mutex print_mu;
  options.on_progress = [&print_mu](const cdc::SessionStatus& status) {
    std::lock_guard<std::mutex> lock(print_mu);
    for (const auto& t : status.tables)
      std::printf("progress %-20s %-9s %lld rows\n", t.source.c_str(), std::string(cdc::to_string(t.phase)).c_str(),
                  static_cast<long long>(t.rows_done));
  };

  try {
    cdc::ReplicationSession session(config, options);
    cdc::SessionStatus status = session.run();
    std::lock_guard<std::mutex> lock(print_mu);
    std::printf("session %s: %s after %.2f s\n", status.name.c_str(), std::string(cdc::to_string(status.state)).c_str(),
                status.elapsed_seconds);
    bool failed = status.state == cdc::SessionState::Failed;
    for (const auto& t : status.tables) {
      std::printf("  %-20s -> %-20s %-9s %lld rows%s%s\n", t.source.c_str(), t.target.c_str(),
                  std::string(cdc::to_string(t.phase)).c_str(), static_cast<long long>(t.rows_done),
                  t.error.empty() ? "" : "  error: ", t.error.c_str());
      if (t.phase == cdc::TablePhase::Failed) failed = true;
    }
    return failed ? 1 : 0;
  } catch (const cdc::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return e.kind() == cdc::ErrorKind::Config ? 2 : 1;
  }
}

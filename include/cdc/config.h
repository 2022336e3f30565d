// Configuration model: one set of plain structs, loaded from YAML or JSON or built in code.
// Every field has its default in-class. Loading validates key names, types and combinations and
// throws cdc::Error (kind Config) whose where() is the key path, e.g. "tables.orders.batch_size".
// `${VAR}` in any string is replaced by the environment variable VAR at load time (error if unset).
#pragma once

#include <cdc/export.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace cdc {

enum class TableMode { Copy, Replicate, Incremental };
enum class DeleteStrategy { Hard, Soft };
// What the stream does with a source schema change the destination cannot take safely (an
// incompatible type change such as narrowing or another type family, or any change when the
// destination cannot evolve its tables). Compatible changes (added, widened, dropped, renamed
// columns) are always applied. See docs/schema-evolution.md.
//   apply:  change the target column too (fails the table when the destination refuses)
//   ignore: leave the target as it is and keep replicating the columns it has
//   pause:  hold the table at the change; resume_table() applies it
//   fail:   fail the table with an error naming table, column, old and new type
enum class DdlPolicy { Apply, Ignore, Pause, Fail };

// How a MariaDB/MySQL ENUM column is created in PostgreSQL (docs/type-mapping.md):
// Type  = a PostgreSQL enum type named <table>_<column> (same labels, same order, same sorting);
// Check = text with a CHECK constraint listing the labels (easier to evolve);
// Text  = plain text, no constraint. Other destinations are not affected.
enum class EnumAs { Type, Check, Text };

// When a replicated table is copied (docs/lifecycle.md):
//   initial: once, the first time the session sees the table, then its changes are followed;
//   never:   not copied; the stream applies changes from the moment the table joins;
//   always:  at every start of the session (the target is replaced chunk by chunk, like a resync).
enum class SnapshotPolicy { Initial, Never, Always };

CDC_API std::string_view to_string(TableMode mode);
CDC_API std::string_view to_string(DdlPolicy policy);
CDC_API std::string_view to_string(EnumAs enum_as);
CDC_API std::string_view to_string(SnapshotPolicy policy);

// Errors marked retryable are retried with capped exponential backoff and jitter. Lost
// connections to the source or the destination are retried for as long as the process runs
// (a service rides out any outage and says how long it has waited); `max_attempts` bounds the
// other retryable errors. A table that fails is tried again after `table_cooldown_s`.
struct RetryPolicy {
  int max_attempts = 5;              // attempts for retryable errors other than lost connections; 1 = no retry
  std::int64_t initial_delay_ms = 500;
  double multiplier = 2.0;           // delay grows by this factor per attempt
  std::int64_t max_delay_ms = 30000; // cap on one delay
  double jitter = 0.2;               // +-fraction of randomness on each delay (0 = none)
  std::int64_t table_cooldown_s = 300;  // a failed table is retried after this long; 0 = never

  // Delay before attempt `attempt` (2 = first retry), without jitter.
  CDC_API std::int64_t base_delay_ms(int attempt) const;
};

// Which phase a batch belongs to, for phase-dependent batch sizes (BatchSize):
//   initial:  snapshot reads and writes (and backfills of columns added by a schema change)
//   catch_up: incremental polls and change-stream batches while the lag is above
//             Config::catch_up_lag_seconds (or unknown: the first poll, the stream's first batch)
//   steady:   incremental polls and change-stream batches once caught up
enum class BatchPhase { Initial, CatchUp, Steady };
CDC_API std::string_view to_string(BatchPhase phase);

// Rows per batch, by phase. A config gives either one number (every phase the same) or a map
// `{initial: 50000, catch_up: 10000, steady: 1000}`, whose missing phases keep the value they
// inherit (a table's from `defaults.batch_size`, the defaults' from 10000). Large batches copy and
// catch up faster; small ones keep each steady-state transaction, and the latency of the changes
// waiting behind it, short.
struct BatchSize {
  std::int64_t initial = 10000;
  std::int64_t catch_up = 10000;
  std::int64_t steady = 10000;

  BatchSize() = default;
  // One size for every phase (`batch_size: 5000`, or `config.defaults.batch_size = 5000`).
  BatchSize(std::int64_t rows) : initial(rows), catch_up(rows), steady(rows) {}  // NOLINT: implicit on purpose
  std::int64_t for_phase(BatchPhase phase) const {
    return phase == BatchPhase::Initial ? initial : phase == BatchPhase::CatchUp ? catch_up : steady;
  }
  friend bool operator==(const BatchSize& a, const BatchSize& b) {
    return a.initial == b.initial && a.catch_up == b.catch_up && a.steady == b.steady;
  }
  friend bool operator!=(const BatchSize& a, const BatchSize& b) { return !(a == b); }
};

// The phase of an incremental poll or a change-stream batch: CatchUp while `lag_ms` (how far the
// target is behind the source, -1 = unknown) is above `catch_up_lag_seconds` or unknown, Steady
// otherwise.
CDC_API BatchPhase batch_phase_for_lag(std::int64_t lag_ms, double catch_up_lag_seconds);

struct WatermarkSettings {
  std::string column;  // the ever-increasing column (updated_at, id, ...)
};

struct DeleteSettings {
  DeleteStrategy strategy = DeleteStrategy::Hard;
  std::string column = "_cdc_deleted";  // soft delete: boolean column set true instead of deleting
};

// Settings for one source table. Unset optionals inherit from `defaults`.
struct TableSettings {
  std::vector<std::string> columns;          // only these source columns (empty = all)
  std::vector<std::string> exclude_columns;  // drop these source columns
  std::map<std::string, std::string> rename; // source column -> target column
  std::string target;                        // target table name (empty = same as source)
  std::string where;                         // SQL filter on the source (snapshot and stream)
  std::optional<BatchSize> batch_size;       // rows per read/write batch, by phase (BatchSize)
  std::optional<int> parallel_chunks;        // chunks of this table read at once; kAuto = from its size
  std::optional<std::int64_t> chunk_rows;    // target rows per snapshot chunk; kAuto = from its size
  std::optional<TableMode> mode;
  std::optional<DeleteSettings> delete_settings;
  std::optional<WatermarkSettings> watermark;  // required for mode incremental
  std::optional<DdlPolicy> ddl;                // schema changes from the stream (see DdlPolicy)
  std::string query;  // incremental: custom query; `:last_value` is bound to the last watermark
  std::optional<EnumAs> enum_as;  // ENUM columns bound for PostgreSQL (default: Defaults::enum_as)
  std::optional<SnapshotPolicy> snapshot;  // replicated tables: when to copy (default: Defaults::snapshot)
  // Columns that identify a row of a view (or of a table without a primary key) copied in mode
  // copy or incremental: the target table gets them as its primary key (rows are upserted by
  // them) and the snapshot may be split into ranges of them. Empty: a view is read whole, in one
  // chunk, and its rows are appended. Not allowed on a table that has a primary key, nor in mode
  // replicate. The values must be unique and not NULL among the rows read.
  std::vector<std::string> key;
};

// A type override: every column whose source type is `type` (as the source spells it, e.g.
// "tinyint(1)", case-insensitive), or the one column `column` ("table.column"), gets type `to`
// at the destination (see parse_type_name) instead of the built-in rule.
struct TypeCast {
  std::string type;
  std::string column;
  std::string to;
};

// `parallel_chunks` and `chunk_rows` set to kAuto ("auto" in a config file) are chosen per table
// when the table is planned, from its estimated rows and bytes and the machine's cores
// (auto_chunking() in <cdc/plan.h>); TablePlan::settings then holds the numbers.
inline constexpr int kAuto = 0;

struct Defaults {
  BatchSize batch_size;  // rows per batch, by phase (default 10000 each): larger = faster, more memory
  TableMode mode = TableMode::Replicate;
  // Chunks of one table read at once (one source reader and one destination writer each).
  // kAuto: 1 for a small table, up to the machine's cores (at most 8) for a large one.
  int parallel_chunks = kAuto;
  // Target rows per snapshot chunk: the resume granularity (a chunk commits whole). kAuto: about
  // four chunks per parallel reader, each between 50,000 and 1,000,000 rows and at most ~128 MB.
  std::int64_t chunk_rows = kAuto;
  DeleteSettings delete_settings;
  DdlPolicy ddl = DdlPolicy::Apply;  // schema changes from the stream the destination cannot take safely
  EnumAs enum_as = EnumAs::Type;    // ENUM -> PostgreSQL: enum type (faithful: labels, order, sorting)
  SnapshotPolicy snapshot = SnapshotPolicy::Initial;  // copy a replicated table once, then stream
};

// How much change log a table that does not apply changes (paused, held by `ddl: pause`, failed,
// removed from the config) may keep the source from releasing. Past either limit the table lets
// go of the log, is marked for resync, and says so (log, status): the source's disk never fills
// because one table stopped. 0 = no limit of that kind.
struct LogRetention {
  std::int64_t max_bytes = 10LL << 30;  // bytes of log behind the table (PostgreSQL WAL, MariaDB binlog)
  std::int64_t max_age_s = 86400;       // seconds since the table stopped applying changes
};

// Which schema objects a copy carries to an SQL destination beyond columns and primary key
// (docs/schema-objects.md). Each is created when the destination can translate it; what it cannot
// is reported, never left out silently.
struct SchemaSettings {
  bool indexes = true;       // secondary and unique indexes, built after each table's load
  bool foreign_keys = true;  // created once every table is loaded, validated at cut-over (finish)
  bool constraints = true;   // CHECK constraints; generated columns as generated where they translate
  bool sequences = true;     // identity / AUTO_INCREMENT columns, set past the copied maximum
  bool comments = true;      // table and column comments
  int index_jobs = 2;        // indexes built at once
};

// The HTTP endpoint of a running session (status, control, metrics, status page; docs/status.md).
// Read when the process starts; a reload does not change it.
struct HttpSettings {
  std::string listen;  // "HOST:PORT" to serve on (e.g. "127.0.0.1:8080"); empty = no server
  // When set, every endpoint but /healthz needs "Authorization: Bearer <token>". Never logged.
  std::string token;
  // Host header values (without port) accepted besides loopback names (localhost, 127.0.0.1,
  // [::1]); a request naming another host is refused, so that a page of another site cannot
  // reach the endpoint through the browser (DNS rebinding).
  std::vector<std::string> allowed_hosts;
  double max_lag_seconds = 60;  // /readyz answers 503 while a table is further behind than this
  // HTTPS instead of HTTP: PEM files of the certificate (chain) and its unencrypted private key.
  // Both or neither.
  std::string tls_cert;
  std::string tls_key;
};

struct Config {
  std::string name;         // session name; checkpoints are kept per name (default: derived from source)
  std::string source;       // connector URL, e.g. "sqlite:///data/shop.db"
  std::string destination;  // connector URL
  std::string checkpoint;   // checkpoint store URL; empty = inside the destination when it can
  // Directory for cdc's local state (the copy of tables that derived foreign-key cascades reach,
  // kept only for a MariaDB/MySQL source into a destination that cannot select rows: Kafka,
  // Redis, JSON lines, Harper). Empty = $STATE_DIRECTORY, $XDG_STATE_HOME/cdc or ~/.local/state/cdc.
  std::string state_dir;
  std::vector<std::string> include = {"*"};  // glob patterns over table names (schema.name or name)
  std::vector<std::string> exclude;          // glob patterns, applied after include
  // Views matched by include/exclude are copied too (as tables holding their rows). Without it
  // only base tables are; a view is still taken when `tables` has an entry for it or an include
  // pattern without wildcards names it. See docs/schema-objects.md, "Views as sources".
  bool views = false;
  int parallel_tables = 4;  // tables copied at once
  int workers = 0;          // worker threads; 0 = max(parallel_tables, largest parallel_chunks)
  bool stop_on_error = false;  // a failing table stops the whole session
  RetryPolicy retry;
  Defaults defaults;
  std::int64_t poll_interval_ms = 500;     // stream/incremental poll when idle
  // Changes applied per destination transaction at most, by phase: `catch_up` while the stream is
  // further behind than catch_up_lag_seconds, `steady` once caught up (`initial` is not used).
  BatchSize stream_batch_rows;
  // The lag (seconds) above which incremental polls and the change stream use their catch_up
  // batch size instead of the steady one.
  double catch_up_lag_seconds = 10;
  // Seconds between looks at the source's table list and table definitions while streaming:
  // tables created that match `include` are added, dropped ones stopped, and schema changes no
  // row change revealed are reconciled. 0 = only at start and on reload.
  std::int64_t discover_interval_s = 60;
  LogRetention max_held_log;
  std::map<std::string, TableSettings> tables;  // keyed by source table name as written in config
  // A value that cannot be converted for the destination: `quarantine` keeps the row (with the
  // reason) in the destination's quarantine table and goes on; `fail` fails its table.
  enum class OnConversionError { Quarantine, Fail } on_conversion_error = OnConversionError::Quarantine;
  std::vector<TypeCast> cast;  // type overrides, first match wins (column overrides before type ones)
  bool keep_defaults = false;  // across dialects, keep source column defaults (as SQL text; only
                               // where the target accepts the expression)
  SchemaSettings schema;       // schema objects carried to SQL destinations
  HttpSettings http;           // status and control endpoint (cdc-cli replicate, cdc::HttpServer)

  // Effective settings for one table (defaults merged in).
  CDC_API TableSettings settings_for(const std::string& table_key) const;
  CDC_API TableMode mode_for(const std::string& table_key) const;
};

// Loaders. `origin` names the file in messages. Throw cdc::Error(Config).
CDC_API Config load_config_file(const std::string& path);
CDC_API Config parse_config_yaml(const std::string& text, const std::string& origin = "config");
CDC_API Config parse_config_json(const std::string& text, const std::string& origin = "config");
// Checks combinations that do not depend on the databases (mode incremental needs a watermark, ...).
CDC_API void validate_config(const Config& config);

// A URL with its password replaced by "***", for logs and status.
CDC_API std::string redact_url(const std::string& url);

}  // namespace cdc

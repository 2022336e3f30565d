// Decoder of pgoutput logical replication messages (protocol versions 1 and 2):
// bytes of one XLogData payload in, one message struct out. Knows nothing of sockets or tables.
// Message layouts: https://www.postgresql.org/docs/15/protocol-logicalrep-message-formats.html
// The only state is whether a v2 streamed-transaction block is open (Stream Start .. Stream Stop),
// because inside it data messages carry a transaction id. Not thread-safe; one per stream.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace cdc::pg {

enum class TupleKind : char { Null = 'n', Unchanged = 'u', Text = 't', Binary = 'b' };

struct TupleValue {
  TupleKind kind = TupleKind::Null;
  std::string_view data;  // text or binary value, in the bytes decode() was given (no copy)
};
using TupleData = std::vector<TupleValue>;

struct BeginMsg {      // 'B'
  std::uint64_t final_lsn = 0;   // LSN of the commit record
  std::int64_t commit_time = 0;  // microseconds since 2000-01-01
  std::uint32_t xid = 0;
};
struct CommitMsg {     // 'C'
  std::uint8_t flags = 0;
  std::uint64_t commit_lsn = 0;
  std::uint64_t end_lsn = 0;
  std::int64_t commit_time = 0;
};
struct OriginMsg {     // 'O'
  std::uint64_t commit_lsn = 0;
  std::string name;
};
struct RelationColumn {
  bool key = false;
  std::string name;
  std::uint32_t type_oid = 0;
  std::int32_t typmod = -1;
};
struct RelationMsg {   // 'R'
  std::uint32_t xid = 0;  // only inside a streamed block
  std::uint32_t relid = 0;
  std::string nspname;
  std::string relname;
  char replica_identity = 'd';  // d default, n nothing, f full, i index
  std::vector<RelationColumn> columns;
};
struct TypeMsg {       // 'Y'
  std::uint32_t xid = 0;
  std::uint32_t oid = 0;
  std::string nspname;
  std::string name;
};
struct InsertMsg {     // 'I'
  std::uint32_t xid = 0;
  std::uint32_t relid = 0;
  TupleData tuple;
};
struct UpdateMsg {     // 'U'
  std::uint32_t xid = 0;
  std::uint32_t relid = 0;
  char old_kind = 0;   // 0 none, 'K' key columns, 'O' whole old row
  TupleData old_tuple;
  TupleData tuple;
};
struct DeleteMsg {     // 'D'
  std::uint32_t xid = 0;
  std::uint32_t relid = 0;
  char old_kind = 'K';
  TupleData old_tuple;
};
struct TruncateMsg {   // 'T'
  std::uint32_t xid = 0;
  bool cascade = false;
  bool restart_identity = false;
  std::vector<std::uint32_t> relids;
};
struct LogicalMsg {    // 'M'
  std::uint32_t xid = 0;
  bool transactional = false;
  std::uint64_t lsn = 0;
  std::string prefix;
  std::string content;
};
struct StreamStartMsg {  // 'S' (v2)
  std::uint32_t xid = 0;
  bool first_segment = false;
};
struct StreamStopMsg {};  // 'E' (v2)
struct StreamCommitMsg {  // 'c' (v2)
  std::uint32_t xid = 0;
  std::uint8_t flags = 0;
  std::uint64_t commit_lsn = 0;
  std::uint64_t end_lsn = 0;
  std::int64_t commit_time = 0;
};
struct StreamAbortMsg {   // 'A' (v2)
  std::uint32_t xid = 0;
  std::uint32_t subxid = 0;
};

using PgOutputMessage = std::variant<BeginMsg, CommitMsg, OriginMsg, RelationMsg, TypeMsg, InsertMsg, UpdateMsg,
                                     DeleteMsg, TruncateMsg, LogicalMsg, StreamStartMsg, StreamStopMsg,
                                     StreamCommitMsg, StreamAbortMsg>;

class PgOutputDecoder {
 public:
  // Decodes one message. Throws cdc::Error(Protocol) on truncated or unknown input. Tuple values
  // point into `bytes`: use the message while they live.
  PgOutputMessage decode(std::string_view bytes);
  bool in_stream_block() const { return in_stream_; }

 private:
  bool in_stream_ = false;
};

// Microseconds between 1970-01-01 and 2000-01-01 (PostgreSQL's epoch).
inline constexpr std::int64_t kPgEpochOffsetUs = 946684800LL * 1000000LL;

}  // namespace cdc::pg

#include "jsonl/jsonl_destination.h"

#include "core/event/event_destination.h"
#include "core/failpoint.h"
#include "core/lease.h"

#include <cdc/error.h>

#include <boost/json.hpp>
#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace cdc::jsonl {

namespace {

namespace json = boost::json;
using detail::EncodedEvent;

[[noreturn]] void io_error(const std::string& what, const std::string& path) {
  // Disk full, permissions: retrying may help once the operator fixed it.
  throw Error(ErrorKind::Destination, fmt::format("{} {}: {}", what, path, std::strerror(errno)), true, "file " + path);
}

void write_all(int fd, const char* data, std::size_t size, const std::string& path) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      io_error("cannot write", path);
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
}

std::string dir_of(const std::string& path) {
  auto slash = path.find_last_of('/');
  return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}

void fsync_dir(const std::string& path) {
  int fd = ::open(dir_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

// How far the events file is committed: files rotated away, and bytes of the live file.
struct FileState {
  bool known = false;
  std::uint64_t rotated = 0;
  std::uint64_t bytes = 0;
};

// The side file: {"file": {"rotated": K, "bytes": N}, "sessions": {"<session>": {"<key>": "<value>"}}},
// replaced by rename: the rename is the commit point of a transaction's lines and checkpoint.
class SideFileStore final : public CheckpointStore {
 public:
  explicit SideFileStore(std::string path) : path_(std::move(path)) {}

  FileState file_state() {
    std::lock_guard<std::mutex> lock(mu_);
    read();
    return file_;
  }
  // Records the events file's committed extent together with `entries` (may be empty).
  void commit(const std::string& session, const std::vector<CheckpointEntry>& entries, FileState state) {
    std::lock_guard<std::mutex> lock(mu_);
    read();
    if (!entries.empty()) {
      auto& m = all_[session];
      for (const auto& e : entries) {
        if (e.value.empty()) m.erase(e.key);
        else m[e.key] = e.value;
      }
    }
    file_ = state;
    file_.known = true;
    write();
  }
  const std::string& path() const { return path_; }

  std::map<std::string, std::string> load(const std::string& session) override {
    std::lock_guard<std::mutex> lock(mu_);
    read();
    auto it = all_.find(session);
    return it == all_.end() ? std::map<std::string, std::string>{} : it->second;
  }
  void put(const std::string& session, const std::vector<CheckpointEntry>& entries) override {
    std::lock_guard<std::mutex> lock(mu_);
    read();
    auto& m = all_[session];
    for (const auto& e : entries) {
      if (e.value.empty()) m.erase(e.key);
      else m[e.key] = e.value;
    }
    write();
  }
  void clear(const std::string& session) override {
    std::lock_guard<std::mutex> lock(mu_);
    read();
    all_.erase(session);
    write();
  }
  std::vector<std::string> sessions() override {
    std::lock_guard<std::mutex> lock(mu_);
    read();
    std::vector<std::string> out;
    for (const auto& [k, v] : all_)
      if (!v.empty()) out.push_back(k);
    return out;
  }

  class Lease final : public SessionLease {
   public:
    explicit Lease(int fd) : fd_(fd) {}
    ~Lease() override { ::close(fd_); }

   private:
    int fd_;
  };
  // One writer per file: an flock on `<side file>.lock`, released by the kernel when the holder dies.
  std::unique_ptr<SessionLease> acquire_lease(const std::string& session, const std::string& holder) override {
    const std::string lock_path = path_ + ".lock";
    int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) io_error("cannot open", lock_path);
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      std::string who;
      char buf[512];
      ssize_t n = ::pread(fd, buf, sizeof buf, 0);
      if (n > 0) who.assign(buf, static_cast<std::size_t>(n));
      ::close(fd);
      throw detail::lease_refused(session, who.empty() ? "another process holds " + lock_path : who);
    }
    if (::ftruncate(fd, 0) == 0) {
      ssize_t ignored = ::pwrite(fd, holder.data(), holder.size(), 0);
      (void)ignored;
    }
    return std::make_unique<Lease>(fd);
  }

 private:
  void read() {
    all_.clear();
    file_ = FileState();
    std::ifstream in(path_);
    if (!in) return;
    std::stringstream ss;
    ss << in.rdbuf();
    boost::system::error_code ec;
    json::value v = json::parse(ss.str(), ec);
    if (ec || !v.is_object())
      throw Error(ErrorKind::State, fmt::format("checkpoint file {} is not a JSON object: {}", path_, ec ? ec.message() : "wrong shape"),
                  false, "file " + path_);
    const auto& root = v.as_object();
    if (auto* f = root.if_contains("file"); f && f->is_object()) {
      file_.known = true;
      file_.rotated = f->as_object().at("rotated").to_number<std::uint64_t>();
      file_.bytes = f->as_object().at("bytes").to_number<std::uint64_t>();
    }
    const auto* sessions = root.if_contains("sessions");
    if (!sessions || !sessions->is_object()) return;
    for (const auto& [session, entries] : sessions->as_object()) {
      if (!entries.is_object()) continue;
      auto& m = all_[std::string(session)];
      for (const auto& [k, val] : entries.as_object())
        if (val.is_string()) m[std::string(k)] = std::string(val.as_string());
    }
  }
  void write() {
    json::object sessions;
    for (const auto& [session, entries] : all_) {
      json::object e;
      for (const auto& [k, v] : entries) e[k] = v;
      sessions[session] = std::move(e);
    }
    json::object o;
    if (file_.known) o["file"] = json::object{{"rotated", file_.rotated}, {"bytes", file_.bytes}};
    o["sessions"] = std::move(sessions);
    const std::string text = json::serialize(o) + "\n";
    const std::string tmp = path_ + ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) io_error("cannot create", tmp);
    write_all(fd, text.data(), text.size(), tmp);
    if (::fsync(fd) != 0) {
      ::close(fd);
      io_error("cannot fsync", tmp);
    }
    ::close(fd);
    if (::rename(tmp.c_str(), path_.c_str()) != 0) io_error("cannot rename to", path_);
    fsync_dir(path_);
  }

  std::mutex mu_;
  std::string path_;
  std::map<std::string, std::map<std::string, std::string>> all_;
  FileState file_;
};

class JsonlDestination;

class JsonlWriter final : public detail::EventWriter {
 public:
  JsonlWriter(std::shared_ptr<const detail::EventEncoder> enc, JsonlDestination& dest) : EventWriter(std::move(enc)), dest_(dest) {}

 protected:
  void publish(std::vector<EncodedEvent>& events, const std::string& session, const std::vector<CheckpointEntry>& checkpoint) override;

 private:
  JsonlDestination& dest_;
};

class JsonlDestination final : public detail::EventDestination, public std::enable_shared_from_this<JsonlDestination> {
 public:
  JsonlDestination(detail::EventOptions options, std::string path, std::uint64_t rotate_bytes)
      : EventDestination(options, ""), path_(std::move(path)), rotate_bytes_(rotate_bytes) {
    if (path_ != "-") store_ = std::make_shared<SideFileStore>(path_ + ".cdc-checkpoint");
  }
  ~JsonlDestination() override {
    if (fd_ > 1) ::close(fd_);
  }

  DestinationCapabilities capabilities() const override {
    DestinationCapabilities caps = EventDestination::capabilities();
    caps.atomic_checkpoints = store_ != nullptr;
    return caps;
  }
  std::shared_ptr<CheckpointStore> checkpoint_store() override { return store_; }
  std::unique_ptr<DestinationWriter> open_writer() override { return std::make_unique<JsonlWriter>(encoder(), *this); }

  // Appends the lines, fsyncs them, then writes the checkpoint; one commit at a time.
  void publish(const std::vector<EncodedEvent>& events, const std::string& session, const std::vector<CheckpointEntry>& checkpoint) {
    std::lock_guard<std::mutex> lock(mu_);
    // One write per transaction, from a buffer kept between them (a fresh one of this size would
    // be fresh pages to fault in every time).
    std::string& buf = buf_;
    buf.clear();
    std::size_t size = 0;
    for (const auto& e : events) size += e.value.size() + 1;
    buf.reserve(size);
    for (const auto& e : events) {
      buf += e.value;
      buf += '\n';
    }
    open_file();
    if (!store_) {  // standard output
      write_all(fd_, buf.data(), buf.size(), shown());
      return;
    }
    try {
      if (rotate_bytes_ > 0 && written_ >= rotate_bytes_ && !buf.empty()) rotate();
      std::uint64_t end = written_;
      if (!buf.empty()) {
        write_all(fd_, buf.data(), buf.size(), shown());
        if (::fsync(fd_) != 0) io_error("cannot fsync", path_);
        end += buf.size();
      }
      detail::failpoint("jsonl.before_checkpoint");
      store_->commit(session, checkpoint, FileState{true, rotated_, end});
      written_ = end;
    } catch (...) {
      // Not committed: reopening cuts the lines, so that the replay does not write them twice.
      close_file();
      throw;
    }
  }

 private:
  std::string shown() const { return path_ == "-" ? "standard output" : path_; }

  std::uint64_t rotated_files() const {
    std::uint64_t n = 0;
    struct stat st {};
    while (::stat(fmt::format("{}.{}", path_, n + 1).c_str(), &st) == 0) ++n;
    return n;
  }

  // Opens the events file and cuts what no checkpoint covers: lines written by a transaction that
  // did not commit (a crash between its fsync and the side file's rename) come again in the replay.
  void open_file() {
    if (fd_ >= 0) return;
    if (path_ == "-") {
      fd_ = 1;
      return;
    }
    FileState state = store_->file_state();
    rotated_ = rotated_files();
    std::uint64_t keep = state.bytes;
    if (state.known && rotated_ == state.rotated + 1) {
      keep = 0;  // rotated away, then the crash came before the next commit: the new file holds nothing committed
    } else if (state.known && rotated_ != state.rotated) {
      throw Error(ErrorKind::State,
                  fmt::format("{} has {} rotated files beside it but its checkpoint {} records {}: were files moved?", path_,
                              rotated_, store_->path(), state.rotated),
                  false, "file " + path_);
    }
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd_ < 0) {
      bool retry = errno != EACCES && errno != ENOENT && errno != ENOTDIR && errno != EISDIR;
      throw Error(ErrorKind::Connection, fmt::format("cannot open {}: {}", path_, std::strerror(errno)), retry, "file " + path_);
    }
    struct stat st {};
    ::fstat(fd_, &st);
    const auto size = static_cast<std::uint64_t>(st.st_size);
    if (!state.known) {
      // No checkpoint yet: whatever is there stays (a file cdc did not write, or one from a run
      // whose first commit never happened); only a cut last line goes.
      keep = size;
      while (keep > 0) {
        char c;
        if (::pread(fd_, &c, 1, static_cast<off_t>(keep - 1)) != 1 || c == '\n') break;
        --keep;
      }
    } else if (size < keep) {
      close_file();
      throw Error(ErrorKind::State,
                  fmt::format("{} holds {} bytes but its checkpoint {} says {} were committed: was it changed?", path_, size,
                              store_->path(), keep),
                  false, "file " + path_);
    }
    if (keep != size && ::ftruncate(fd_, static_cast<off_t>(keep)) != 0) io_error("cannot truncate", path_);
    written_ = keep;
  }

  void close_file() {
    if (fd_ > 1) ::close(fd_);
    fd_ = -1;
  }

  void rotate() {
    const std::string to = fmt::format("{}.{}", path_, rotated_ + 1);
    close_file();
    if (::rename(path_.c_str(), to.c_str()) != 0) io_error("cannot rename to " + to + ":", path_);
    fsync_dir(path_);
    ++rotated_;
    written_ = 0;
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd_ < 0) io_error("cannot create", path_);
  }

  std::mutex mu_;
  std::string path_;
  std::uint64_t rotate_bytes_ = 0;
  std::shared_ptr<SideFileStore> store_;
  int fd_ = -1;
  std::uint64_t written_ = 0;   // committed (after publish returns) bytes of the live file
  std::uint64_t rotated_ = 0;   // files rotated away: <file>.1 .. <file>.<rotated_>
  std::string buf_;             // the lines of the transaction being published
};

void JsonlWriter::publish(std::vector<EncodedEvent>& events, const std::string& session, const std::vector<CheckpointEntry>& checkpoint) {
  dest_.publish(events, session, checkpoint);
}

}  // namespace

std::shared_ptr<DestinationConnector> make_destination(const ConnectorUrl& url) {
  auto params = url.params;
  detail::EventOptions options = detail::take_event_options(params, url);
  std::uint64_t rotate = 0;
  if (auto it = params.find("rotate_bytes"); it != params.end()) {
    const std::string& v = it->second;
    if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos)
      throw config_error("destination", fmt::format("\"{}\": rotate_bytes={} is not a number of bytes", url.redacted(), v));
    rotate = std::stoull(v);
    params.erase(it);
  }
  detail::reject_unknown_params(params, {"schemas", "decimal_handling", "rotate_bytes"}, url);
  return std::make_shared<JsonlDestination>(options, url.path, rotate);
}

}  // namespace cdc::jsonl

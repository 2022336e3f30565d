// SQLite session leases (see sqlite_lease.h). Open file description locks rather than flock():
// F_OFD_GETLK can tell whether another open file description holds the lock without taking it,
// and unlike classic POSIX record locks they also exclude a second holder in the same process.
#include "sqlite/sqlite_lease.h"

#include "core/lease.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace cdc::sqlite {

namespace {

// An open lock file; closes it on destruction (which drops any lock taken through it).
class LockFile {
 public:
  LockFile() = default;
  LockFile(const std::string& path, int flags) : path_(path) {
    fd_ = ::open(path.c_str(), flags | O_CLOEXEC, 0644);
  }
  ~LockFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  LockFile(LockFile&& o) noexcept : fd_(o.fd_), path_(std::move(o.path_)) { o.fd_ = -1; }
  LockFile& operator=(LockFile&&) = delete;
  LockFile(const LockFile&) = delete;
  LockFile& operator=(const LockFile&) = delete;

  int fd() const { return fd_; }
  const std::string& path() const { return path_; }

  [[noreturn]] void fail(const char* what) const {
    throw Error(ErrorKind::State, fmt::format("{} {}: {}", what, path_, std::strerror(errno)), false, "lease file " + path_);
  }

  // The whole file, write-locked through this open file description.
  bool try_lock() const {
    struct flock fl {};
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    for (;;) {
      if (::fcntl(fd_, F_OFD_SETLK, &fl) == 0) return true;
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EACCES) return false;
      fail("cannot lock");
    }
  }

  // True while another open file description holds a lock on the file.
  bool locked_elsewhere() const {
    struct flock fl {};
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    if (::fcntl(fd_, F_OFD_GETLK, &fl) != 0) fail("cannot test the lock of");
    return fl.l_type != F_UNLCK;
  }

  std::string read_all() const {
    std::string out;
    char buf[512];
    off_t at = 0;
    for (;;) {
      ssize_t n = ::pread(fd_, buf, sizeof buf, at);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      out.append(buf, static_cast<std::size_t>(n));
      at += n;
    }
    return out;
  }

  void replace_content(const std::string& text) const {
    if (::ftruncate(fd_, 0) != 0) fail("cannot write");
    std::size_t done = 0;
    while (done < text.size()) {
      ssize_t n = ::pwrite(fd_, text.data() + done, text.size() - done, static_cast<off_t>(done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) fail("cannot write");
      done += static_cast<std::size_t>(n);
    }
  }

 private:
  int fd_ = -1;
  std::string path_;
};

class FileLease final : public SessionLease {
 public:
  explicit FileLease(LockFile file) : file_(std::move(file)) {}
  ~FileLease() override {
    // Emptied while still locked, so nobody reads the description of a process that let go (a
    // failure changes nothing: readers trust the text only while the file is locked).
    if (::ftruncate(file_.fd(), 0) != 0) return;
  }

 private:
  LockFile file_;
};

}  // namespace

std::string lease_file(const std::string& db_path, const std::string& session) {
  return db_path + "-cdc-" + detail::lease_hash_hex(session) + ".lock";
}

std::unique_ptr<SessionLease> acquire_lease(const std::string& db_path, const std::string& session, const std::string& holder) {
  LockFile file(lease_file(db_path, session), O_RDWR | O_CREAT);
  if (file.fd() < 0) file.fail("cannot open");
  if (!file.try_lock()) {
    std::string who = file.read_all();
    throw detail::lease_refused(session, who.empty() ? "a process holding " + file.path() : who);
  }
  file.replace_content(holder);
  return std::make_unique<FileLease>(std::move(file));
}

std::optional<std::string> lease_holder(const std::string& db_path, const std::string& session) {
  LockFile file(lease_file(db_path, session), O_RDONLY);
  if (file.fd() < 0) {
    if (errno == ENOENT) return std::nullopt;
    file.fail("cannot open");
  }
  if (!file.locked_elsewhere()) return std::nullopt;
  std::string who = file.read_all();
  return who.empty() ? "a process holding " + file.path() : who;
}

}  // namespace cdc::sqlite

#include "signals.h"

#include <cdc/error.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <unistd.h>

namespace cdc_cli {

namespace {

// The write end of the active watcher's pipe; read by the handler (a plain int is what an
// async-signal-safe handler may touch).
volatile std::sig_atomic_t g_write_fd = -1;
struct sigaction g_old_int, g_old_term, g_old_hup;

extern "C" void on_signal_handler(int sig) {
  int saved = errno;
  int fd = g_write_fd;
  if (fd >= 0) {
    unsigned char byte = static_cast<unsigned char>(sig);
    ssize_t r = ::write(fd, &byte, 1);
    (void)r;  // a full pipe means a signal is already pending; nothing else to do here
  }
  errno = saved;
}

}  // namespace

SignalWatcher::SignalWatcher(std::function<void(int)> on_stop, std::function<void()> on_reload)
    : on_stop_(std::move(on_stop)), on_reload_(std::move(on_reload)) {
  if (::pipe(pipe_) != 0)
    throw cdc::Error(cdc::ErrorKind::Internal, std::string("pipe() failed: ") + std::strerror(errno));
  for (int fd : pipe_) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  ::fcntl(pipe_[1], F_SETFL, O_NONBLOCK);
  g_write_fd = pipe_[1];

  struct sigaction sa {};
  sa.sa_handler = on_signal_handler;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGINT, &sa, &g_old_int);
  sigaction(SIGTERM, &sa, &g_old_term);
  if (on_reload_) sigaction(SIGHUP, &sa, &g_old_hup);
  thread_ = std::thread([this] { loop(); });
}

SignalWatcher::~SignalWatcher() {
  sigaction(SIGINT, &g_old_int, nullptr);
  sigaction(SIGTERM, &g_old_term, nullptr);
  if (on_reload_) sigaction(SIGHUP, &g_old_hup, nullptr);
  g_write_fd = -1;
  unsigned char quit = 0;  // 0 is no signal: tells the thread to end
  ssize_t r = ::write(pipe_[1], &quit, 1);
  (void)r;
  if (thread_.joinable()) thread_.join();
  ::close(pipe_[0]);
  ::close(pipe_[1]);
}

void SignalWatcher::loop() {
  int received = 0;
  for (;;) {
    unsigned char byte = 0;
    ssize_t n = ::read(pipe_[0], &byte, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || byte == 0) return;
    if (byte == SIGHUP) {  // a request to reload, not to stop: never counts as a first or second signal
      if (on_reload_) on_reload_();
      continue;
    }
    if (++received > 1) {
      static const char msg[] = "\ncdc-cli: second signal, exiting without waiting\n";
      ssize_t w = ::write(STDERR_FILENO, msg, sizeof msg - 1);
      (void)w;
      std::_Exit(128 + byte);
    }
    if (on_stop_) on_stop_(byte);
  }
}

}  // namespace cdc_cli

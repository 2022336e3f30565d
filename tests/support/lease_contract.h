// The lease contract every built-in checkpoint store keeps (CheckpointStore::acquire_lease), as
// tests run against one store URL: one holder per session, the refusal names the holder, other
// sessions are independent, a released lease can be taken again, and the lease of a process killed
// with SIGKILL is released by the server or the kernel. The killed holder is cdc_lease_holder
// (tests/support/lease_holder_main.cpp), whose path the test program gets as CDC_LEASE_HOLDER_PATH.
#pragma once

#include <cdc/cdc.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>

#include <sys/wait.h>
#include <unistd.h>

namespace cdc_test {

// A cdc_lease_holder process holding a session's lease; SIGKILLed on destruction if still alive.
class LeaseHolderProcess {
 public:
  LeaseHolderProcess(const std::string& store_url, const std::string& session, const std::string& holder) {
    int out[2];
    REQUIRE(::pipe(out) == 0);
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      ::dup2(out[1], STDOUT_FILENO);
      ::close(out[0]);
      ::close(out[1]);
      ::execl(CDC_LEASE_HOLDER_PATH, CDC_LEASE_HOLDER_PATH, store_url.c_str(), session.c_str(), holder.c_str(),
              static_cast<char*>(nullptr));
      std::_Exit(127);
    }
    ::close(out[1]);
    // Its first line: "acquired", or "refused: ..." (then it exits).
    std::string line;
    char ch = 0;
    while (::read(out[0], &ch, 1) == 1 && ch != '\n') line += ch;
    ::close(out[0]);
    first_line_ = line;
  }
  ~LeaseHolderProcess() {
    if (pid_ > 0) kill_hard();
  }
  LeaseHolderProcess(const LeaseHolderProcess&) = delete;
  LeaseHolderProcess& operator=(const LeaseHolderProcess&) = delete;

  const std::string& first_line() const { return first_line_; }

  // SIGKILL, like a power cut of the process: it releases nothing itself.
  void kill_hard() {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
  std::string first_line_;
};

// Takes the lease, retrying for up to `seconds` while it is refused (a server notices a dead
// connection a moment after the process died).
inline std::unique_ptr<cdc::SessionLease> acquire_eventually(cdc::CheckpointStore& store, const std::string& session,
                                                             const std::string& holder, int seconds = 15) {
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  for (;;) {
    try {
      return store.acquire_lease(session, holder);
    } catch (const cdc::Error& e) {
      if (e.kind() != cdc::ErrorKind::State || std::chrono::steady_clock::now() > until) throw;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

inline void check_refused(cdc::CheckpointStore& store, const std::string& session, const std::string& holder,
                          const std::string& expected_holder) {
  try {
    store.acquire_lease(session, holder);
    FAIL("the lease of session " << session << " was given twice");
  } catch (const cdc::Error& e) {
    CHECK(e.kind() == cdc::ErrorKind::State);
    CHECK_FALSE(e.retryable());
    CHECK(e.where() == "session " + session);
    CHECK(e.message() == "session " + session + " is already running: " + expected_holder);
  }
}

// Runs the contract against the store at `url`; sessions are named after `tag`, so that servers
// shared between tests do not mix them up.
inline void check_lease_contract(const std::string& url, const std::string& tag) {
  auto& registry = cdc::ConnectorRegistry::instance();
  auto first = registry.open_checkpoint_store(url);
  auto second = registry.open_checkpoint_store(url);
  const std::string a = tag + "-a", b = tag + "-b", c = tag + "-c";

  SECTION("one holder per session; the refusal names it; release lets the next one in") {
    CHECK_FALSE(first->lease_holder(a).has_value());
    auto lease = first->acquire_lease(a, "pid 1 on test-host since 2026-01-01 00:00:00 UTC");
    REQUIRE(lease != nullptr);
    check_refused(*second, a, "pid 2 on other-host", "pid 1 on test-host since 2026-01-01 00:00:00 UTC");
    // The same store object does not hand it out twice either.
    check_refused(*first, a, "pid 1 again", "pid 1 on test-host since 2026-01-01 00:00:00 UTC");
    CHECK(second->lease_holder(a) == std::optional<std::string>("pid 1 on test-host since 2026-01-01 00:00:00 UTC"));
    // Another session is independent.
    auto other = second->acquire_lease(b, "pid 2 on other-host");
    REQUIRE(other != nullptr);
    lease.reset();
    CHECK_FALSE(second->lease_holder(a).has_value());
    auto again = second->acquire_lease(a, "pid 2 on other-host");
    REQUIRE(again != nullptr);
    CHECK(first->lease_holder(a) == std::optional<std::string>("pid 2 on other-host"));
  }

  SECTION("a holder killed with SIGKILL releases its lease") {
    LeaseHolderProcess child(url, c, "the child");
    REQUIRE(child.first_line() == "acquired");
    check_refused(*first, c, "the parent", "the child");
    CHECK(first->lease_holder(c) == std::optional<std::string>("the child"));
    child.kill_hard();
    auto lease = acquire_eventually(*first, c, "the parent");
    REQUIRE(lease != nullptr);
    CHECK(second->lease_holder(c) == std::optional<std::string>("the parent"));
    // And a new process is refused while the parent holds it.
    LeaseHolderProcess late(url, c, "a late child");
    CHECK(late.first_line() == "refused: session " + c + ": session " + c + " is already running: the parent");
  }
}

}  // namespace cdc_test

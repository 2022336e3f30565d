// Running cdc-cli as a child process, as the crash tests do: CDC_CRASH_AT set (or cleared) for
// the child, its stderr appended to a log file, its stdout to a file (default /dev/null), and
// `env` ("NAME=value" each, e.g. CDC_PAUSE_AT) added to its environment.
// Needs CDC_CLI_PATH, the cdc-cli built with the tests.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

namespace cdc_test {

#ifdef CDC_CLI_PATH

struct Exit {
  bool signaled = false;
  int code = -1;  // exit code, or signal number when signaled
};

inline pid_t spawn_cli(const std::vector<std::string>& args, const std::string& crash_at, const std::string& log,
                       const std::string& out = "/dev/null", const std::vector<std::string>& env = {}) {
  std::fflush(nullptr);  // or the child's freopen writes what the parent had buffered
  pid_t pid = ::fork();
  if (pid == 0) {
    if (!crash_at.empty()) ::setenv("CDC_CRASH_AT", crash_at.c_str(), 1);
    else ::unsetenv("CDC_CRASH_AT");
    for (const auto& e : env) {
      auto eq = e.find('=');
      ::setenv(e.substr(0, eq).c_str(), e.substr(eq + 1).c_str(), 1);
    }
    FILE* f = std::freopen(log.c_str(), "a", stderr);
    f = std::freopen(out.c_str(), "w", stdout);
    (void)f;
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(CDC_CLI_PATH));
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(CDC_CLI_PATH, argv.data());
    std::_Exit(127);
  }
  return pid;
}

inline Exit wait_exit(pid_t pid) {
  int st = 0;
  ::waitpid(pid, &st, 0);
  Exit e;
  if (WIFSIGNALED(st)) {
    e.signaled = true;
    e.code = WTERMSIG(st);
  } else {
    e.code = WEXITSTATUS(st);
  }
  return e;
}

inline Exit run_cli(const std::vector<std::string>& args, const std::string& crash_at, const std::string& log,
                    const std::string& out = "/dev/null") {
  return wait_exit(spawn_cli(args, crash_at, log, out));
}

#endif  // CDC_CLI_PATH

inline std::string slurp(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace cdc_test

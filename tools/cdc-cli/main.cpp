// cdc-cli: command-line front end of the cdc library (public API only).
#include "cli.h"
#include "progress.h"

#include <fmt/format.h>

#include <cstdio>
#include <exception>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

int main(int argc, char** argv) {
  using namespace cdc_cli;
#if defined(__GLIBC__)
  // Every batch allocates and frees tens of MB (events, their encodings, librdkafka's copies, on
  // threads of their own arenas): with glibc's defaults each batch gives that memory back to the
  // kernel and faults it in again (a fifth of the CPU of a drain into Kafka). Keep up to 128 MB of
  // freed memory, and serve blocks up to 4 MB from the heap rather than from mmap/munmap (a batch's
  // arrays; a larger block, a value of many MB, is mapped and unmapped alone: in the heap it would
  // fragment it, 20 MB more peak RSS per 40 MB row in bench/large_values.sh).
  mallopt(M_TRIM_THRESHOLD, 128 << 20);
  mallopt(M_MMAP_THRESHOLD, 4 << 20);
#endif
  CLI::App app{"cdc-cli: copy, replicate and verify tables between databases", "cdc-cli"};
  app.set_version_flag("--version", fmt::format("cdc-cli {}", cdc::version()));
  app.require_subcommand(1);
  app.fallthrough();  // global options are accepted after the subcommand too
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "Log level: trace, debug, info, warn, error, off (default info)")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));

  CommandFn selected;
  add_copy_command(app, selected);
  add_replicate_command(app, selected);
  add_discover_command(app, selected);
  add_verify_command(app, selected);
  add_status_command(app, selected);
  add_teardown_command(app, selected);
  add_reset_command(app, selected);
  add_finish_command(app, selected);
  add_control_commands(app, selected);
  app.footer("Run `cdc-cli <command> --help` for a command's options.\n"
             "Exit codes: 0 success, 1 failure (failed table, verify differences), 2 configuration error.");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? kExitOk : kExitConfig;
  }

  try {
    cdc::set_log_level(cdc::parse_log_level(log_level));
    cdc::set_log_sink(std::make_shared<StderrLogSink>());  // copy/replicate route it through their display
    if (!selected) return kExitConfig;
    int code = selected();
    std::fflush(stdout);
    return code;
  } catch (const cdc::Error& e) {
    print_error(e.what());
    return e.kind() == cdc::ErrorKind::Config ? kExitConfig : kExitFailure;
  } catch (const std::exception& e) {
    print_error(e.what());
    return kExitFailure;
  }
}

// cdc-cli as a process: `reset` (argument handling, the --yes rule off a terminal, the prompt on a
// pseudo-terminal) and `replicate` reloading its config file on SIGHUP (a file that does not load
// is logged with its key path and the session goes on; SIGHUP never counts towards the forced exit
// of a second SIGINT/SIGTERM).
#include "support/sqlite_fixture.h"

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <sys/wait.h>
#include <unistd.h>

using cdc_test::Db;
using cdc_test::TempDir;
using cdc_test::url;

#ifdef CDC_CLI_PATH

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// argv for execv; `args` must outlive it.
std::vector<char*> argv_of(const std::vector<std::string>& args) {
  std::vector<char*> argv{const_cast<char*>(CDC_CLI_PATH)};
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  return argv;
}

int exit_code(int status) { return WIFSIGNALED(status) ? 1000 + WTERMSIG(status) : WEXITSTATUS(status); }

// Runs cdc-cli with stdin from /dev/null; stdout and stderr into files.
struct Run {
  int code = -1;
  std::string out, err;
};

Run run_cli(const TempDir& dir, const std::vector<std::string>& args) {
  const std::string out = dir.file("out.txt"), err = dir.file("err.txt");
  pid_t pid = ::fork();
  if (pid == 0) {
    int in = ::open("/dev/null", O_RDONLY);
    int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (in < 0 || o < 0 || e < 0) std::_Exit(126);
    ::dup2(in, STDIN_FILENO);
    ::dup2(o, STDOUT_FILENO);
    ::dup2(e, STDERR_FILENO);
    auto argv = argv_of(args);
    ::execv(CDC_CLI_PATH, argv.data());
    std::_Exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return {exit_code(status), slurp(out), slurp(err)};
}

// Runs cdc-cli on a pseudo-terminal: waits for `prompt` in its output, types `answer`, and
// returns everything it wrote and its exit code.
Run run_on_terminal(const std::vector<std::string>& args, const std::string& prompt, const std::string& answer) {
  int master = -1;
  pid_t pid = ::forkpty(&master, nullptr, nullptr, nullptr);
  REQUIRE(pid >= 0);
  if (pid == 0) {
    auto argv = argv_of(args);
    ::execv(CDC_CLI_PATH, argv.data());
    std::_Exit(127);
  }
  Run r;
  bool answered = false;
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (;;) {
    pollfd p{master, POLLIN, 0};
    if (::poll(&p, 1, 200) > 0) {
      char buf[512];
      ssize_t n = ::read(master, buf, sizeof buf);
      if (n <= 0) break;  // EIO once the child is gone
      r.out.append(buf, static_cast<std::size_t>(n));
    }
    if (!answered && r.out.find(prompt) != std::string::npos) {
      std::string line = answer + "\n";
      REQUIRE(::write(master, line.data(), line.size()) == static_cast<ssize_t>(line.size()));
      answered = true;
    }
    if (std::chrono::steady_clock::now() > until) {
      ::kill(pid, SIGKILL);
      break;
    }
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  ::close(master);
  r.code = exit_code(status);
  return r;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

struct Setup {
  TempDir dir;
  std::string src = dir.file("src.db"), dst = dir.file("dst.db"), cfg = dir.file("cdc.yaml"), log = dir.file("cli.log");

  Setup() {
    Db s(src);
    s.exec("PRAGMA journal_mode=WAL");
    s.exec("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)");
    s.exec("INSERT INTO items VALUES (1, 'a'), (2, 'b')");
    s.exec("CREATE TABLE other (id INTEGER PRIMARY KEY, v INTEGER)");
    s.exec("WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 2000) INSERT INTO other SELECT i, i FROM r");
    write_config("");
  }
  void write_config(const std::string& extra) {
    std::ofstream(cfg) << "name: clitest\nsource: \"" << url(src) << "\"\ndestination: \"" << url(dst)
                       << "\"\npoll_interval_ms: 20\n" << extra;
  }
};

}  // namespace

TEST_CASE("cdc-cli reset: help, a missing config, and --yes required off a terminal", "[sqlite][cli]") {
  Setup s;
  auto help = run_cli(s.dir, {"reset", "--help"});
  CHECK(help.code == 0);
  CHECK(contains(help.out, "--yes"));
  CHECK(contains(help.out, "--tables"));
  CHECK(contains(help.out, "Refused while a process runs the session"));

  auto missing = run_cli(s.dir, {"reset"});
  CHECK(missing.code == 2);
  CHECK(contains(missing.err, "--config"));

  auto unasked = run_cli(s.dir, {"reset", "-c", s.cfg});
  INFO(unasked.err);
  CHECK(unasked.code == 2);
  CHECK(contains(unasked.err, "add --yes"));
  CHECK(contains(unasked.err, "session clitest"));
  CHECK(unasked.out.empty());
}

TEST_CASE("cdc-cli reset --yes forgets the named tables, which the next run copies again", "[sqlite][cli]") {
  Setup s;
  REQUIRE(run_cli(s.dir, {"replicate", "-c", s.cfg, "--until-idle"}).code == 0);
  Db(s.dst).exec("UPDATE items SET name = 'damaged'");
  auto unknown = run_cli(s.dir, {"reset", "-c", s.cfg, "--tables", "itemz", "--yes"});
  CHECK(unknown.code == 2);
  CHECK(contains(unknown.err, "no checkpoints for table \"itemz\" (it has: items, other) (similar: items)"));

  auto r = run_cli(s.dir, {"reset", "-c", s.cfg, "--tables", "items", "--yes"});
  INFO(r.out << r.err);
  CHECK(contains(r.err, "resetting session clitest: tables items"));
  CHECK(r.code == 0);
  CHECK(contains(r.out, "session clitest:"));
  {
    Db d(s.dst);
    CHECK(d.rows("SELECT count(*) FROM _cdc_checkpoints WHERE session = 'clitest' AND key LIKE '%:items%'").at(0) == "int:0");
    CHECK(d.rows("SELECT count(*) FROM _cdc_checkpoints WHERE session = 'clitest' AND key = 'table:other'").at(0) == "int:1");
  }
  // items starts over (copied again: the damage goes), other goes on from where it was.
  REQUIRE(run_cli(s.dir, {"replicate", "-c", s.cfg, "--until-idle"}).code == 0);
  CHECK(Db(s.dst).rows("SELECT name FROM items ORDER BY id") == std::vector<std::string>{"text:a", "text:b"});
}

TEST_CASE("cdc-cli reset asks on a terminal: no changes nothing, yes goes on", "[sqlite][cli]") {
  Setup s;
  const std::string prompt = "[y/N]";
  auto no = run_on_terminal({"reset", "-c", s.cfg, "--tables", "items"}, prompt, "n");
  INFO(no.out);
  CHECK(contains(no.out, "Forget the checkpoints of session clitest (tables items)"));
  CHECK(contains(no.out, "reset cancelled: nothing was changed"));
  CHECK(no.code == 1);

  auto yes = run_on_terminal({"reset", "-c", s.cfg}, prompt, "y");
  INFO(yes.out);
  CHECK(contains(yes.out, "Forget the checkpoints of session clitest (every table)"));
  CHECK_FALSE(contains(yes.out, "cancelled"));
  // Past the prompt: the library's reset_checkpoints ran (a session never run has nothing to forget).
  CHECK(yes.code == 0);
}

TEST_CASE("cdc-cli replicate: SIGHUP reloads the config file, a table added there converges under writes, a broken file is "
          "logged and the session goes on",
          "[sqlite][cli]") {
  Setup s;
  s.write_config("include: [items]\n");
  const std::vector<std::string> args{"replicate", "-c", s.cfg};
  pid_t pid = ::fork();
  if (pid == 0) {
    int log = ::open(s.log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    int null = ::open("/dev/null", O_RDWR);
    if (log < 0 || null < 0) std::_Exit(126);
    ::dup2(null, STDIN_FILENO);
    ::dup2(null, STDOUT_FILENO);
    ::dup2(log, STDERR_FILENO);
    auto argv = argv_of(args);
    ::execv(CDC_CLI_PATH, argv.data());
    std::_Exit(127);
  }
  // Streaming (the stream position is recorded): the signal handlers are in place.
  bool streaming = false;
  for (int i = 0; i < 500 && !streaming; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    try {
      streaming = Db(s.dst).rows("SELECT count(*) FROM _cdc_checkpoints WHERE key = 'stream'").at(0) == "int:1";
    } catch (const std::exception&) {
    }
  }
  REQUIRE(streaming);

  auto alive = [&] {
    int status = 0;
    return ::waitpid(pid, &status, WNOHANG) == 0;
  };
  auto wait_for_log = [&](const std::string& text, const std::string& or_text = "") {
    for (int i = 0; i < 250; ++i) {
      std::string log = slurp(s.log);
      if (contains(log, text) || (!or_text.empty() && contains(log, or_text))) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  };

  s.write_config("include: [items]\ntables:\n  items:\n    batchsize: 3\n");
  ::kill(pid, SIGHUP);
  CHECK(wait_for_log("tables.items.batchsize"));
  CHECK(alive());

  // A write load on both tables; `other` joins by an edited config and SIGHUP, in the same process.
  std::atomic<bool> stop{false};
  std::thread load([&] {
    Db w(s.src);
    unsigned n = 0;
    while (!stop) {
      ++n;
      w.exec("UPDATE other SET v = v + 1 WHERE id = " + std::to_string(n % 2000 + 1));
      w.exec("INSERT OR REPLACE INTO other VALUES (" + std::to_string(2000 + n % 300) + ", " + std::to_string(n) + ")");
      if (n % 7 == 0) w.exec("DELETE FROM other WHERE id = " + std::to_string(n % 1900 + 1));
      w.exec("UPDATE items SET name = name || '.' WHERE id = 1");
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  s.write_config("include: [items, other]\ntables:\n  items:\n    batch_size: 3\n");
  ::kill(pid, SIGHUP);
  CHECK(wait_for_log("reload: " + s.cfg + " applied"));
  CHECK(wait_for_log("[other] snapshot done"));
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  stop = true;
  load.join();
  auto converged = [&] {
    Db a(s.src), b(s.dst);
    return a.rows("SELECT * FROM other ORDER BY id") == b.rows("SELECT * FROM other ORDER BY id") &&
           a.rows("SELECT * FROM items ORDER BY id") == b.rows("SELECT * FROM items ORDER BY id");
  };
  bool equal = false;
  for (int i = 0; i < 250 && !(equal = converged()); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(40));
  CHECK(equal);
  CHECK(alive());
  // Two SIGHUPs later, one SIGTERM is still a first signal: a clean stop, not the forced exit.
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
  INFO(slurp(s.log));
  CHECK(exit_code(status) == 0);
  CHECK_FALSE(contains(slurp(s.log), "second signal"));
}

TEST_CASE("cdc-cli copy carries schema objects: --schema-only, --data-only, finish, the summary and discover --to", "[sqlite][cli]") {
  TempDir dir;
  const std::string src = dir.file("shop.db"), dst = dir.file("split.db"), whole = dir.file("whole.db"), cfg = dir.file("cdc.yaml");
  {
    Db s(src);
    s.exec("CREATE TABLE audit (id INTEGER PRIMARY KEY)");
    s.exec("CREATE TABLE parents (id INTEGER PRIMARY KEY, code TEXT NOT NULL UNIQUE)");
    s.exec("CREATE TABLE kids (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parents (id) ON DELETE CASCADE, "
           "audit_id INTEGER REFERENCES audit (id), qty INT NOT NULL DEFAULT 1 CHECK (qty > 0), "
           "doubled INT GENERATED ALWAYS AS (qty * 2) VIRTUAL, note TEXT)");
    s.exec("CREATE INDEX kids_note ON kids (note)");
    s.exec("INSERT INTO parents VALUES (1, 'a'), (2, 'b')");
    s.exec("INSERT INTO kids (id, parent_id, qty, note) VALUES (1, 1, 2, 'x'), (2, 2, 3, 'y'), (3, 1, 1, NULL)");
  }
  const std::string fk_note =
      "foreign key kids_audit_id_fkey on kids (audit_id) -> audit (id): table audit is not copied";
  auto help = run_cli(dir, {"copy", "--help"});
  CHECK(contains(help.out, "--schema-only"));
  CHECK(contains(help.out, "--data-only"));
  CHECK(run_cli(dir, {"copy", url(src), url(dst), "--schema-only", "--data-only"}).code == 2);

  auto discover = run_cli(dir, {"discover", url(src), "--to", url(dst), "--tables", "parents,kids"});
  INFO(discover.out << discover.err);
  CHECK(discover.code == 0);
  CHECK(contains(discover.out, "not created at the destination:\n    " + fk_note));

  auto schema = run_cli(dir, {"copy", url(src), url(dst), "--tables", "parents,kids", "--schema-only"});
  INFO(schema.out << schema.err);
  CHECK(schema.code == 0);
  CHECK(contains(schema.out, "  done: table kids\n"));
  CHECK(contains(schema.out, "  done: index kids_note on kids (note)\n"));
  CHECK(contains(schema.out, "  not done: " + fk_note + "\n"));
  {
    Db d(dst);
    CHECK(d.rows("SELECT count(*) FROM kids").at(0) == "int:0");
    CHECK(d.rows("SELECT name FROM sqlite_schema WHERE type = 'index' AND name NOT LIKE 'sqlite_%' ORDER BY 1") ==
          std::vector<std::string>{"text:kids_note", "text:parents_code_key"});
    CHECK(d.rows("SELECT \"table\", \"from\", on_delete FROM pragma_foreign_key_list('kids')") ==
          std::vector<std::string>{"text:parents|text:parent_id|text:CASCADE"});
    CHECK(d.rows("SELECT hidden FROM pragma_table_xinfo('kids') WHERE name = 'doubled'") == std::vector<std::string>{"int:2"});
  }

  // The rows later, into the tables as they are (the generated column computes itself).
  auto data = run_cli(dir, {"copy", url(src), url(dst), "--tables", "parents,kids", "--data-only"});
  INFO(data.out << data.err);
  CHECK(data.code == 0);
  CHECK_FALSE(contains(data.out, "schema objects:"));
  CHECK(Db(dst).rows("SELECT id, qty, doubled FROM kids ORDER BY id") ==
        std::vector<std::string>{"int:1|int:2|int:4", "int:2|int:3|int:6", "int:3|int:1|int:2"});

  std::ofstream(cfg) << "source: \"" << url(src) << "\"\ndestination: \"" << url(dst) << "\"\ninclude: [parents, kids]\n";
  auto fin = run_cli(dir, {"finish", "-c", cfg});
  INFO(fin.out << fin.err);
  CHECK(fin.code == 0);
  CHECK(contains(fin.out, "  done: unique index parents_code_key on parents (code): made unique\n"));
  CHECK(contains(fin.out, "  done: foreign keys of kids: checked, every row has its parent\n"));
  CHECK(contains(fin.out, "  done: CHECK kids_check on kids: checked, every row passes\n"));
  CHECK(contains(fin.out, "  not done: " + fk_note + "\n"));
  CHECK(Db(dst).rows("SELECT \"unique\" FROM pragma_index_list('parents') WHERE name = 'parents_code_key'") ==
        std::vector<std::string>{"int:1"});

  // One copy does both; its summary counts the schema objects (and lists any not created).
  auto copy = run_cli(dir, {"copy", url(src), url(whole), "--tables", "parents,kids"});
  INFO(copy.out << copy.err);
  CHECK(copy.code == 0);
  // index, unique index, CHECK, and the foreign key once both tables are loaded; not the one to audit
  CHECK(contains(copy.out, "schema objects: 4 created, 1 not created:\n  " + fk_note + "\n"));
  CHECK(Db(whole).rows("SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name IN ('kids_note', 'parents_code_key')") ==
        std::vector<std::string>{"int:2"});
}

#endif

// Secrets stay secret: with a distinctive password for MariaDB (source) and PostgreSQL
// (destination, in the URL and in a libpq secret parameter), every cdc-cli command, the failing ones
// included, at log level trace, prints it nowhere (stdout, stderr), and neither do the live status,
// the metrics, nor any table cdc writes (checkpoints, run history, error log, quarantine, schema
// history). The password also works from a file (password_file=, ${file:...}).
#include "maria_test_util.h"
#include "pg_test_util.h"

#include "support/cli_process.h"
#include "support/http_client.h"

#include <cdc/cdc.h>

#include <catch2/catch.hpp>

#include <csignal>
#include <fstream>
#include <thread>

namespace {

const std::string kPassword = "Zq7xKsecretPW42";       // the real one
const std::string kWrongPassword = "Wr0ngSecretPW77";  // a wrong one: not shown either

// The URL with user:password put in.
std::string with_user(const std::string& url, const std::string& user, const std::string& password) {
  auto scheme = url.find("://") + 3;
  auto at = url.find('@', scheme);
  auto host = at == std::string::npos ? scheme : at + 1;
  return url.substr(0, scheme) + user + ":" + password + "@" + url.substr(host);
}

std::uint16_t free_port() {
  static std::uint16_t next = static_cast<std::uint16_t>(23000 + ::getpid() % 2000);
  return next++;
}

}  // namespace

TEST_CASE("secrets: a distinctive password appears in no output, status, metric or cdc table", "[hetero][secrets]") {
  maria_test::MariaDb src("secrets");
  pg_test::TempDb dst("secrets");
  pg_test::TempDir dir;
  // Roles are the server's, not the database's: one name per test process.
  const std::string user = "cdc_secret_" + std::to_string(::getpid());
  {
    maria_test::Maria m;
    m.exec("DROP USER IF EXISTS '" + user + "'@'%'");
    m.exec("CREATE USER '" + user + "'@'%' IDENTIFIED BY '" + kPassword + "'");
    m.exec("GRANT ALL ON *.* TO '" + user + "'@'%'");
    m.exec("CREATE TABLE " + src.name + ".items (id INT PRIMARY KEY, v VARCHAR(20), n INT)");
    m.exec("INSERT INTO " + src.name + ".items VALUES (1, 'a', 1), (2, 'b', 2), (3, 'c', 3)");
    // A value the destination cannot take: a quarantine row (which must not carry the password).
    m.exec("CREATE TABLE " + src.name + ".odd (id INT PRIMARY KEY, v VARCHAR(20))");
    m.exec("INSERT INTO " + src.name + ".odd VALUES (1, '12'), (2, 'not a number')");
  }
  pg_test::Conn(dst.url()).exec("CREATE ROLE " + user + " LOGIN SUPERUSER PASSWORD '" + kPassword + "'");
  const std::string source = with_user(maria_test::mariadb_url(src.name), user, kPassword);
  // libpq's sslpassword: a secret parameter (unused without a client key, harmless here).
  const std::string destination = with_user(dst.url(), user, kPassword) + "?sslpassword=" + kPassword;

  auto write_config = [&](const std::string& name, const std::string& src_url, const std::string& dst_url) {
    const std::string path = dir.file(name);
    std::ofstream(path) << "name: secrets\nsource: \"" << src_url << "\"\ndestination: \"" << dst_url
                        << "\"\npoll_interval_ms: 50\non_conversion_error: quarantine\ncast: [{column: odd.v, to: integer}]\n"
                        << "retry: {max_attempts: 2, initial_delay_ms: 50}\n";
    return path;
  };
  const std::string cfg = write_config("cdc.yaml", source, destination);
  // The password from files: password_file= for the source, ${file:...} for the destination.
  std::ofstream(dir.file("maria.pw")) << kPassword << "\n";
  std::ofstream(dir.file("pg.pw")) << kPassword << "\n";
  const std::string cfg_files =
      write_config("files.yaml", maria_test::mariadb_url(src.name) + "?password_file=" + dir.file("maria.pw"),
                   with_user(dst.url(), user, "${file:" + dir.file("pg.pw") + "}"));
  // Failing ones: a wrong source password; an unreachable destination.
  const std::string cfg_wrong =
      write_config("wrong.yaml", with_user(maria_test::mariadb_url(src.name), user, kWrongPassword), destination);
  const std::string cfg_down = write_config("down.yaml", source, "postgresql://" + user + ":" + kPassword + "@127.0.0.1:1/nowhere");

  std::vector<std::string> outputs;
  int n = 0;
  auto run = [&](std::vector<std::string> args) {
    const std::string out = dir.file("out" + std::to_string(++n));
    const std::string err = dir.file("err" + std::to_string(n));
    args.insert(args.begin(), {"--log-level", "trace"});
    auto exit = cdc_test::run_cli(args, "", err, out);
    outputs.push_back(out);
    outputs.push_back(err);
    return exit.code;
  };

  CHECK(run({"discover", source}) == 0);
  CHECK(run({"copy", source, destination, "--tables", "items"}) == 0);
  CHECK(run({"replicate", "-c", cfg, "--until-idle"}) != 2);
  CHECK(run({"replicate", "-c", cfg_files, "--until-idle"}) != 2);  // the same session, passwords from files
  CHECK(run({"verify", "-c", cfg}) != 2);
  for (const char* format : {"table", "json", "yaml"}) CHECK(run({"status", "-c", cfg, "--format", format}) != 2);
  CHECK(run({"replicate", "-c", cfg_wrong, "--until-idle"}) != 0);
  CHECK(run({"verify", "-c", cfg_down}) != 0);
  CHECK(run({"status", "-c", cfg_down}) != 0);
  // An unreachable destination is retried for as long as it takes: stopped after a few attempts.
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"copy", source, "postgresql://" + user + ":" + kPassword + "@127.0.0.1:1/nowhere?sslpassword=" + kPassword},
           {"replicate", "-c", cfg_down}}) {
    const std::string out = dir.file("out" + std::to_string(++n)), err = dir.file("err" + std::to_string(n));
    std::vector<std::string> all{"--log-level", "trace"};
    all.insert(all.end(), args.begin(), args.end());
    pid_t pid = cdc_test::spawn_cli(all, "", err, out);
    std::this_thread::sleep_for(std::chrono::seconds(3));
    ::kill(pid, SIGTERM);
    ::kill(pid, SIGTERM);  // the second one: exit at once
    CHECK(cdc_test::wait_exit(pid).code != 0);
    outputs.push_back(out);
    outputs.push_back(err);
    CHECK(cdc_test::slurp(err).find("Connection refused") != std::string::npos);
  }
  CHECK(run({"discover", with_user(maria_test::mariadb_url(src.name), user, kWrongPassword)}) != 0);
  CHECK(run({"copy", source, destination, "--tables", "no_such_table*"}) != 2);

  // A running replicate: its status and metrics over HTTP.
  {
    const auto port = free_port();
    const std::string out = dir.file("live.out"), err = dir.file("live.err");
    pid_t pid = cdc_test::spawn_cli({"--log-level", "trace", "replicate", "-c", cfg, "--http", "127.0.0.1:" + std::to_string(port)}, "",
                                    err, out);
    std::string status, metrics;
    for (int i = 0; i < 200 && status.find("\"streaming\"") == std::string::npos; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      try {
        status = cdc_test::http(port, "GET", "/api/v1/status").body;
      } catch (...) {
      }
    }
    metrics = cdc_test::http(port, "GET", "/metrics").body;
    ::kill(pid, SIGTERM);
    cdc_test::wait_exit(pid);
    outputs.push_back(out);
    outputs.push_back(err);
    CHECK(status.find("\"streaming\"") != std::string::npos);
    CHECK(metrics.find("cdc_rows_copied_total") != std::string::npos);
    CHECK(status.find(kPassword) == std::string::npos);
    CHECK(metrics.find(kPassword) == std::string::npos);
  }

  // The commands did their work (a test that greps empty files proves nothing).
  pg_test::Conn pg(dst.url());
  CHECK(pg.count("items") == 3);
  CHECK(pg.count("cdc_metadata.quarantine") >= 1);
  CHECK(pg.count("cdc_metadata.runs") >= 3);

  std::size_t bytes = 0;
  for (const auto& path : outputs) {
    std::string text = cdc_test::slurp(path);
    bytes += text.size();
    INFO(path << ":\n" << text.substr(0, 4000));
    CHECK(text.find(kPassword) == std::string::npos);
    CHECK(text.find(kWrongPassword) == std::string::npos);
  }
  CHECK(bytes > 10000);  // trace level: the commands said a lot
  // Every table cdc wrote, every column as text.
  for (const auto& table : pg.rows("SELECT table_schema || '.' || table_name FROM information_schema.tables "
                                   "WHERE table_schema IN ('cdc_metadata', 'public')")) {
    for (const auto& row : pg.rows("SELECT t::text FROM " + table + " t")) {
      INFO(table << ": " << row);
      CHECK(row.find(kPassword) == std::string::npos);
      CHECK(row.find(kWrongPassword) == std::string::npos);
    }
  }
  maria_test::Maria().exec("DROP USER IF EXISTS '" + user + "'@'%'");
}

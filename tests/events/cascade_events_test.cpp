// MariaDB's InnoDB cascades as change events. The binlog has only the parent's change when ON
// DELETE CASCADE, ON UPDATE CASCADE or SET NULL changes child rows; cdc keeps a local copy of the
// tables cascades reach (lib/core/session/cascade_state.h) and sends the child rows' deletes and
// updates as events of their own tables. `cdc-cli replicate` from MariaDB into JSON lines and into
// Kafka (the mock cluster), SIGKILLed mid-snapshot, between the copy's commit and the
// destination's, and after a stream batch, restarted each time: each table replayed from its
// events must equal the source table, and the child tables' events must include the cascades.
#include "mysql_test_util.h"
#include "support/cli_process.h"
#include "support/event_replay.h"
#include "support/mock_kafka.h"
#include "support/sqlite_fixture.h"

#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <unistd.h>

using namespace cdc_test;

#if defined(CDC_CLI_PATH) && defined(CDC_FAILPOINTS)

namespace {

// Table -> its integer columns (all columns are integers or text; the key is the first).
const std::map<std::string, std::vector<std::string>>& family() {
  static const std::map<std::string, std::vector<std::string>> t = {
      {"parent", {"id", "name"}},
      {"child", {"id", "parent_id", "v"}},
      {"grandchild", {"id", "child_id"}},
      {"note", {"id", "parent_id"}},
  };
  return t;
}

class FamilyDb {
 public:
  FamilyDb() : name_("evfk_" + std::to_string(::getpid())) {
    auto admin = mysql_test::connect("mysql");
    admin.exec("DROP DATABASE IF EXISTS " + name_);
    admin.exec("CREATE DATABASE " + name_);
    c_ = mysql_test::connect(name_);
    c_.exec("CREATE TABLE parent (id INT PRIMARY KEY, name VARCHAR(20)) ENGINE=InnoDB");
    c_.exec("CREATE TABLE child (id INT PRIMARY KEY, parent_id INT, v INT, "
            "FOREIGN KEY (parent_id) REFERENCES parent (id) ON DELETE CASCADE ON UPDATE CASCADE) ENGINE=InnoDB");
    c_.exec("CREATE TABLE grandchild (id INT PRIMARY KEY, child_id INT, "
            "FOREIGN KEY (child_id) REFERENCES child (id) ON DELETE CASCADE) ENGINE=InnoDB");
    c_.exec("CREATE TABLE note (id INT PRIMARY KEY, parent_id INT, "
            "FOREIGN KEY (parent_id) REFERENCES parent (id) ON DELETE SET NULL ON UPDATE SET NULL) ENGINE=InnoDB");
    c_.exec("INSERT INTO parent SELECT seq, CONCAT('p', seq) FROM seq_1_to_40");
    c_.exec("INSERT INTO child SELECT seq, (seq - 1) % 40 + 1, seq FROM seq_1_to_400");
    c_.exec("INSERT INTO grandchild SELECT seq, (seq - 1) % 400 + 1 FROM seq_1_to_800");
    c_.exec("INSERT INTO note SELECT seq, seq FROM seq_1_to_40");
  }
  ~FamilyDb() {
    try {
      mysql_test::connect("mysql").exec("DROP DATABASE IF EXISTS " + name_);
    } catch (...) {
    }
  }
  const std::string& name() const { return name_; }
  std::string url() const { return mysql_test::url_for(name_); }

  // Parents deleted and re-keyed, a child moved by hand, a child added in the same transaction
  // as its parent's delete.
  void cascade_changes(int first) {
    auto n = [&](int k) { return std::to_string(first + k); };
    c_.exec("DELETE FROM parent WHERE id IN (" + n(0) + ", " + n(1) + ")");
    c_.exec("UPDATE parent SET id = id + 1000 WHERE id = " + n(2));
    c_.exec("START TRANSACTION");
    c_.exec("INSERT INTO child VALUES (" + std::to_string(5000 + first) + ", " + n(3) + ", 0)");
    c_.exec("DELETE FROM parent WHERE id = " + n(3));
    c_.exec("COMMIT");
    c_.exec("UPDATE child SET parent_id = " + n(5) + " WHERE id = " + std::to_string(400 - first));
    c_.exec("DELETE FROM child WHERE id = " + std::to_string(300 - first));
  }

  // A table's rows as the events carry them, canonical JSON, sorted.
  std::vector<std::string> rows(const std::string& table) {
    const auto& cols = family().at(table);
    std::string list;
    for (const auto& c : cols) list += (list.empty() ? "" : ", ") + c;
    std::vector<std::string> out;
    for (const auto& r : c_.rows("SELECT " + list + " FROM " + table)) {
      boost::json::object o;
      for (std::size_t i = 0; i < cols.size(); ++i) {
        if (!r[i]) o[cols[i]] = nullptr;
        else if (cols[i] == "name") o[cols[i]] = *r[i];
        else o[cols[i]] = static_cast<std::int64_t>(std::stoll(*r[i]));
      }
      out.push_back(EventReplay::canonical(o));
    }
    std::sort(out.begin(), out.end());
    return out;
  }

 private:
  std::string name_;
  cdc::mysql::Conn c_;
};

EventReplay new_replay() {
  std::map<std::string, std::vector<std::string>> keys;
  for (const auto& [t, cols] : family()) keys[t] = {"id"};
  return EventReplay(keys);
}

struct Run {
  TempDir dir;
  std::string cfg = dir.file("cdc.yaml"), log = dir.file("cli.log"), state = dir.file("state");
  FamilyDb db;

  explicit Run(const std::string& destination) {
    std::ofstream(cfg) << "name: fk_events\nsource: \"" << db.url() << "\"\ndestination: \"" << destination
                       << "\"\nstate_dir: \"" << state << "\"\nparallel_tables: 2\n"
                       << "defaults:\n  mode: replicate\n  chunk_rows: 150\n";
  }
  void killed_at(const std::string& point) {
    auto r = run_cli({"replicate", "-c", cfg, "--until-idle"}, point, log);
    INFO(slurp(log));
    REQUIRE(r.signaled);
  }
  void to_idle() {
    auto r = run_cli({"replicate", "-c", cfg, "--until-idle"}, "", log);
    INFO(slurp(log));
    REQUIRE(r.code == 0);
  }
  // Snapshot killed and resumed; cascades killed between the copy's commit and the
  // destination's, and after a batch; each restart runs to idle.
  void scenario() {
    killed_at("snapshot.chunk_committed:2");
    to_idle();
    db.cascade_changes(1);
    killed_at("cascade_state.committed:1");
    to_idle();
    db.cascade_changes(8);
    killed_at("stream.batch_committed:1");
    db.cascade_changes(15);
    to_idle();
  }
  // `events(table)`: the values of a table's events in order, per partition.
  void check(const std::function<std::vector<std::vector<std::string>>(const std::string&)>& events) {
    INFO(slurp(log));
    int child_deletes = 0, note_updates = 0;
    for (const auto& [table, cols] : family()) {
      INFO("table " << table);
      std::vector<std::string> got;
      for (const auto& part : events(table)) {
        EventReplay r = new_replay();
        for (const auto& v : part) r.apply(v);
        if (table == "child") child_deletes += r.count("d");
        if (table == "note") note_updates += r.count("u");
        for (auto& row : r.rows(table)) got.push_back(std::move(row));
      }
      std::sort(got.begin(), got.end());
      auto want = db.rows(table);
      CHECK(got.size() == want.size());
      CHECK(got == want);
    }
    // 3 x (2 deleted parents' 10 children each + 11 of the parent deleted with a fresh child) at
    // least; 4 notes a round set to NULL by deletes and a re-key.
    CHECK(child_deletes >= 3 * (20 + 11));
    CHECK(note_updates >= 3 * 4);
  }
};

}  // namespace

TEST_CASE("events: MariaDB cascades (not in the binlog) reach JSON lines as events, killed and restarted", "[mariadb-cascades-jsonl]") {
  TempDir out;
  const std::string file = out.file("events.jsonl");
  Run run("jsonl://" + file);
  run.scenario();
  run.check([&](const std::string& table) {
    std::vector<std::vector<std::string>> parts(1);
    std::ifstream in(file);
    std::string line;
    while (std::getline(in, line)) {
      auto v = boost::json::parse(line);
      if (std::string(v.at("source").at("table").as_string()) == table) parts[0].push_back(line);
    }
    return parts;
  });
}

TEST_CASE("events: MariaDB cascades (not in the binlog) reach Kafka as events, killed and restarted", "[mariadb-cascades-kafka]") {
  MockKafka kafka;
  Run run("kafka://" + kafka.bootstraps() + "?topic_prefix=shop");
  run.scenario();
  run.check([&](const std::string& table) {
    std::vector<std::vector<std::string>> parts;
    for (auto& [p, values] : read_topic(kafka.bootstraps(), "shop." + run.db.name() + "." + table)) parts.push_back(values);
    return parts;
  });
}

#endif

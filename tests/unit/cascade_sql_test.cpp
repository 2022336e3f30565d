// The statements a derived foreign-key cascade becomes, per dialect: literal keys as placeholders,
// a grandchild's selection through its parent's, MariaDB's materialised subquery, soft deletes.
#include "core/writer/cascade_sql.h"

#include <catch2/catch.hpp>

namespace {

cdc::DestinationTable table(const std::string& name, std::vector<std::string> columns) {
  cdc::DestinationTable t;
  t.schema.id = cdc::TableId(name);
  for (auto& c : columns) {
    cdc::Column col;
    col.name = c;
    col.type.id = cdc::TypeId::Int64;
    t.schema.columns.push_back(col);
  }
  t.schema.primary_key = {"id"};
  return t;
}

struct Recorder {
  std::vector<cdc::Value> values;
  cdc::detail::CascadeDialect dialect(bool numbered) {
    cdc::detail::CascadeDialect d;
    d.quote_ident = [](const std::string& n) { return "\"" + n + "\""; };
    d.table_name = [](const cdc::TableSchema& s) { return "\"" + s.id.name + "\""; };
    d.value = [this, numbered](const cdc::Value& v, const cdc::Column&) {
      values.push_back(v);
      return numbered ? "$" + std::to_string(values.size()) : std::string("?");
    };
    return d;
  }
};

}  // namespace

TEST_CASE("cascade statements: delete by keys, through a parent selection, set null and update", "[unit][cascade]") {
  cdc::CascadeChange child;
  child.rows.table = table("c", {"id", "p_id"});
  child.rows.columns = {"p_id"};
  child.rows.keys = {cdc::Row{cdc::Value::int64(4)}, cdc::Row{cdc::Value::int64(5)}};
  Recorder r;
  CHECK(cdc::detail::cascade_statement(child, r.dialect(true)) == R"(DELETE FROM "c" WHERE (("p_id" = $1) OR ("p_id" = $2)))");
  CHECK(r.values.size() == 2);

  cdc::CascadeChange grandchild;
  grandchild.rows.table = table("g", {"id", "c_id"});
  grandchild.rows.columns = {"c_id"};
  grandchild.rows.parent = std::make_shared<const cdc::RowSelection>(child.rows);
  grandchild.rows.parent_columns = {"id"};
  Recorder g;
  CHECK(cdc::detail::cascade_statement(grandchild, g.dialect(true)) ==
        R"(DELETE FROM "g" WHERE ("c_id") IN (SELECT "id" FROM "c" WHERE (("p_id" = $1) OR ("p_id" = $2))))");
  auto maria = g.dialect(false);
  maria.materialise_subqueries = true;
  CHECK(cdc::detail::cascade_statement(grandchild, maria) ==
        R"(DELETE FROM "g" WHERE ("c_id") IN (SELECT * FROM (SELECT "id" FROM "c" WHERE (("p_id" = ?) OR ("p_id" = ?))) AS cdc_cascade_0))");

  cdc::CascadeChange soft = child;
  soft.rows.table.deletes.strategy = cdc::DeleteStrategy::Soft;
  soft.rows.table.deletes.column = "_cdc_deleted";
  Recorder s;
  CHECK(cdc::detail::cascade_statement(soft, s.dialect(true)) ==
        R"(UPDATE "c" SET "_cdc_deleted" = TRUE WHERE (("p_id" = $1) OR ("p_id" = $2)))");

  cdc::CascadeChange nulls = child;
  nulls.action = cdc::CascadeChange::Action::SetNull;
  nulls.set_columns = {"p_id"};
  Recorder n;
  CHECK(cdc::detail::cascade_statement(nulls, n.dialect(true)) == R"(UPDATE "c" SET "p_id" = NULL WHERE (("p_id" = $1) OR ("p_id" = $2)))");

  cdc::CascadeChange rekey = child;
  rekey.action = cdc::CascadeChange::Action::Update;
  rekey.rows.keys = {cdc::Row{cdc::Value::int64(2)}};
  rekey.set_columns = {"p_id"};
  rekey.set_values = {cdc::Value::int64(20)};
  Recorder u;
  // The WHERE's value is recorded first: numbered placeholders keep the binding right.
  CHECK(cdc::detail::cascade_statement(rekey, u.dialect(true)) == R"(UPDATE "c" SET "p_id" = $2 WHERE (("p_id" = $1)))");
  REQUIRE(u.values.size() == 2);
  CHECK(u.values[0] == cdc::Value::int64(2));
  CHECK(u.values[1] == cdc::Value::int64(20));
}

// Planning of schema objects (lib/core/schema_objects.h through plan_tables): names, renames,
// excluded columns, references to the referenced table's target, translations, and what is left
// out with its reason.
#include "support/scripted_source.h"

#include <cdc/plan.h>
#include <cdc/type_mapper.h>

#include <catch2/catch.hpp>

#include <algorithm>

namespace {

cdc::Column col(const std::string& name, cdc::TypeId id, const std::string& source_type, bool nullable = true, int length = -1) {
  cdc::Column c;
  c.name = name;
  c.type.id = id;
  c.type.length = length;
  c.source_type = source_type;
  c.nullable = nullable;
  return c;
}

cdc::IndexDef index(const std::string& name, std::vector<std::string> columns, bool unique = false, std::string method = "btree") {
  cdc::IndexDef i;
  i.name = name;
  i.columns = std::move(columns);
  i.unique = unique;
  i.method = std::move(method);
  return i;
}

const cdc::TablePlan& plan_of(const std::vector<cdc::TablePlan>& plans, const std::string& source) {
  auto it = std::find_if(plans.begin(), plans.end(), [&](const cdc::TablePlan& p) { return p.source.id.name == source; });
  REQUIRE(it != plans.end());
  return *it;
}

bool has_note(const std::vector<std::string>& notes, const std::string& text) {
  for (const auto& n : notes)
    if (n == text) return true;
  UNSCOPED_INFO("notes:");
  for (const auto& n : notes) UNSCOPED_INFO("  " << n);
  return false;
}

// A MariaDB shop: customers and their orders.
void maria_shop(cdc_test::ScriptedSource& src) {
  cdc::TableSchema customers;
  customers.id = cdc::TableId("customers");
  customers.columns = {col("id", cdc::TypeId::Int32, "int(11)", false), col("email", cdc::TypeId::String, "varchar(100)", true, 100),
                       col("name", cdc::TypeId::String, "varchar(50)", true, 50), col("bio", cdc::TypeId::String, "text")};
  customers.columns[0].identity = true;
  customers.primary_key = {"id"};
  customers.comment = "people who buy";
  customers.columns[1].comment = "where we write";
  customers.indexes = {index("email", {"email"}, true), index("ft_bio", {"bio"}, false, "fulltext"), index("bio_start", {"bio"}),
                       index("name_idx", {"name"})};
  customers.indexes[2].prefix_lengths = {20};
  customers.indexes[3].prefix_lengths = {10};
  src.create_table(customers);

  cdc::TableSchema orders;
  orders.id = cdc::TableId("orders");
  orders.columns = {col("id", cdc::TypeId::Int64, "bigint(20)", false), col("customer_id", cdc::TypeId::Int32, "int(11)"),
                    col("qty", cdc::TypeId::Int32, "int(11)", false), col("total", cdc::TypeId::Int64, "bigint(20)"),
                    col("status", cdc::TypeId::String, "varchar(10)", true, 10), col("created", cdc::TypeId::Timestamp, "datetime"),
                    col("secret", cdc::TypeId::String, "varchar(10)", true, 10), col("audit_id", cdc::TypeId::Int32, "int(11)")};
  orders.columns[0].identity = true;
  orders.columns[3].generated = "`qty` * 2";
  orders.columns[3].generated_stored = false;
  orders.columns[4].default_expr = "'new'";
  orders.columns[5].default_expr = "current_timestamp()";
  orders.columns[5].on_update = "current_timestamp()";
  orders.columns[6].default_expr = "uuid()";
  orders.primary_key = {"id"};
  orders.indexes = {index("customer_id", {"customer_id", "qty"}), index("secret_idx", {"secret"})};
  cdc::ForeignKeyDef fk;
  fk.name = "orders_customer";
  fk.columns = {"customer_id"};
  fk.references = cdc::TableId("customers");
  fk.referenced_columns = {"id"};
  fk.on_delete = cdc::ForeignKeyAction::Cascade;
  fk.on_update = cdc::ForeignKeyAction::SetNull;
  cdc::ForeignKeyDef to_audit = fk;
  to_audit.name = "orders_audit";
  to_audit.columns = {"audit_id"};
  to_audit.references = cdc::TableId("audit");
  orders.foreign_keys = {fk, to_audit};
  orders.checks = {cdc::CheckDef{"qty_positive", "`qty` > 0"}, cdc::CheckDef{"weird", "`qty` regexp '^1'"}};
  src.create_table(orders);

  cdc::TableSchema audit;
  audit.id = cdc::TableId("audit");
  audit.columns = {col("id", cdc::TypeId::Int32, "int(11)", false)};
  audit.primary_key = {"id"};
  src.create_table(audit);
}

}  // namespace

TEST_CASE("schema objects: MariaDB to PostgreSQL", "[unit][schema_objects]") {
  cdc_test::ScriptedSource src(cdc_test::ScriptedSource::Options{"mysql", true, false, 100});
  maria_shop(src);
  cdc::Config config;
  config.exclude = {"audit"};
  config.tables["orders"].exclude_columns = {"secret"};
  config.tables["orders"].rename = {{"customer_id", "cust_id"}};
  config.tables["customers"].target = "clients";
  auto plans = cdc::plan_tables(config, src, *cdc::make_type_mapper(config), "postgresql", 63);
  REQUIRE(plans.size() == 2);

  const auto& c = plan_of(plans, "customers").target;
  CHECK(c.schema.id.name == "clients");
  CHECK(c.schema.comment == "people who buy");
  CHECK(c.schema.columns[1].comment == "where we write");
  CHECK(c.schema.columns[0].identity);
  REQUIRE(c.schema.indexes.size() == 3);
  CHECK(c.schema.indexes[0].name == "clients_email");
  CHECK(c.schema.indexes[0].unique);
  CHECK(c.schema.indexes[0].columns == std::vector<std::string>{"email"});
  CHECK(c.schema.indexes[0].expression.empty());
  // A prefix of an unbounded text column stays a prefix, as an expression; a bounded one goes.
  CHECK(c.schema.indexes[1].name == "clients_bio_start");
  CHECK(c.schema.indexes[1].expression == "left(\"bio\", 20)");
  CHECK(c.schema.indexes[2].expression.empty());
  CHECK(c.schema.indexes[2].prefix_lengths.empty());
  CHECK(has_note(c.not_carried, "index ft_bio on clients (bio): PostgreSQL has no FULLTEXT index"));
  CHECK(has_note(c.not_carried, "index bio_start on clients: prefix length 20 of column bio kept as left(\"bio\", 20)"));
  CHECK(has_note(c.not_carried, "index name_idx on clients: prefix length 10 of column name dropped: PostgreSQL indexes the whole value"));

  const auto& o = plan_of(plans, "orders").target;
  const auto& cols = o.schema.columns;
  REQUIRE(cols.size() == 7);
  CHECK(cols[1].name == "cust_id");
  CHECK(cols[0].identity);
  CHECK_FALSE(cols[0].default_expr);
  CHECK(cols[3].generated == "(\"qty\" * 2)");
  CHECK_FALSE(cols[3].generated_stored);
  CHECK(cols[4].default_expr == std::optional<std::string>("'new'"));
  CHECK(cols[5].default_expr == std::optional<std::string>("CURRENT_TIMESTAMP"));
  CHECK(cols[5].on_update.empty());
  CHECK(has_note(o.not_carried, "ON UPDATE current_timestamp() of column orders.created: PostgreSQL has no such clause (the value "
                                "changes when the source's change arrives)"));
  REQUIRE(o.schema.indexes.size() == 1);
  CHECK(o.schema.indexes[0].name == "orders_customer_id");
  CHECK(o.schema.indexes[0].columns == std::vector<std::string>{"cust_id", "qty"});
  CHECK(has_note(o.not_carried, "index secret_idx on orders (secret): column secret is not copied"));
  REQUIRE(o.schema.checks.size() == 1);
  CHECK(o.schema.checks[0].name == "qty_positive");
  CHECK(o.schema.checks[0].expression == "(\"qty\" > 0)");
  CHECK(has_note(o.not_carried, "CHECK weird on orders (`qty` regexp '^1'): REGEXP is not translated"));
  REQUIRE(o.schema.foreign_keys.size() == 1);
  const auto& fk = o.schema.foreign_keys[0];
  CHECK(fk.name == "orders_customer");
  CHECK(fk.columns == std::vector<std::string>{"cust_id"});
  CHECK(fk.references == cdc::TableId("", "clients"));
  CHECK(fk.referenced_columns == std::vector<std::string>{"id"});
  CHECK(fk.on_delete == cdc::ForeignKeyAction::Cascade);
  CHECK(fk.on_update == cdc::ForeignKeyAction::SetNull);
  CHECK(has_note(o.not_carried_foreign_keys, "foreign key orders_audit on orders (audit_id) -> audit (id): table audit is not copied"));
}

TEST_CASE("schema objects: settings leave categories out, quietly", "[unit][schema_objects]") {
  cdc_test::ScriptedSource src(cdc_test::ScriptedSource::Options{"mysql", true, false, 100});
  maria_shop(src);
  cdc::Config config;
  config.schema.indexes = config.schema.foreign_keys = config.schema.constraints = config.schema.sequences = config.schema.comments = false;
  auto plans = cdc::plan_tables(config, src, *cdc::make_type_mapper(config), "postgresql", 63);
  for (const auto& p : plans) {
    CHECK(p.target.schema.indexes.empty());
    CHECK(p.target.schema.foreign_keys.empty());
    CHECK(p.target.schema.checks.empty());
    CHECK(p.target.schema.comment.empty());
    CHECK(p.target.not_carried.empty());
    CHECK(p.target.not_carried_foreign_keys.empty());
    for (const auto& c : p.target.schema.columns) {
      CHECK_FALSE(c.identity);
      CHECK(c.generated.empty());  // a plain column with the source's values
      CHECK_FALSE(c.default_expr);
    }
  }
}

TEST_CASE("schema objects: PostgreSQL to MariaDB and to itself", "[unit][schema_objects]") {
  cdc_test::ScriptedSource src(cdc_test::ScriptedSource::Options{"postgresql", true, true, 100});
  cdc::TableSchema t;
  t.id = cdc::TableId("public", "items");
  t.columns = {col("id", cdc::TypeId::Int64, "bigint", false), col("qty", cdc::TypeId::Int32, "integer"),
               col("double_qty", cdc::TypeId::Int32, "integer"), col("state", cdc::TypeId::String, "character varying(10)", true, 10),
               col("note", cdc::TypeId::String, "text"), col("parent", cdc::TypeId::Int64, "bigint")};
  t.columns[2].generated = "(qty * 2)";
  t.columns[3].default_expr = "'new'::character varying";
  t.primary_key = {"id"};
  t.indexes = {index("items_note_idx", {"note"}), index("items_lower_note", {}), index("items_live", {"qty"}, true)};
  t.indexes[1].expression = "lower(note)";
  t.indexes[2].where = "(state IS NOT NULL)";
  t.checks = {cdc::CheckDef{"items_state_check",
                            "((state)::text = ANY ((ARRAY['new'::character varying, 'done'::character varying])::text[]))"}};
  cdc::ForeignKeyDef fk;
  fk.name = "items_parent_fkey";
  fk.columns = {"parent"};
  fk.references = t.id;
  fk.referenced_columns = {"id"};
  fk.on_delete = cdc::ForeignKeyAction::SetDefault;
  t.foreign_keys = {fk};
  src.create_table(t);
  cdc::Config config;
  config.tables["items"].rename = {{"qty", "quantity"}};

  SECTION("to MariaDB") {
    auto plans = cdc::plan_tables(config, src, *cdc::make_type_mapper(config), "mysql", 64);
    const auto& o = plans.at(0).target;
    CHECK(o.schema.columns[2].generated == "(`quantity` * 2)");
    CHECK(o.schema.columns[3].default_expr == std::optional<std::string>("'new'"));
    REQUIRE(o.schema.checks.size() == 1);
    CHECK(o.schema.checks[0].expression == "(`state` IN ('new', 'done'))");
    REQUIRE(o.schema.indexes.size() == 1);
    CHECK(o.schema.indexes[0].name == "items_note_idx");
    CHECK(o.schema.indexes[0].prefix_lengths == std::vector<int>{255});
    CHECK(has_note(o.not_carried, "index items_note_idx on items: column note is indexed by its first 255 characters (MariaDB indexes "
                                  "long text by a prefix)"));
    CHECK(has_note(o.not_carried, "index items_lower_note on items (lower(note)): MariaDB has no expression indexes"));
    CHECK(has_note(o.not_carried, "unique index items_live on items: MariaDB has no partial indexes (WHERE (state IS NOT NULL))"));
    CHECK(o.schema.foreign_keys.empty());
    CHECK(has_note(o.not_carried_foreign_keys,
                   "foreign key items_parent_fkey on items (parent) -> public.items (id): MariaDB (InnoDB) has no SET DEFAULT action"));
  }
  SECTION("to PostgreSQL: the source's text, renamed columns replaced") {
    auto plans = cdc::plan_tables(config, src, *cdc::make_type_mapper(config), "postgresql", 63);
    const auto& o = plans.at(0).target;
    CHECK(o.not_carried.empty());
    CHECK(o.schema.columns[2].generated == "(\"quantity\" * 2)");
    CHECK(o.schema.columns[3].default_expr == std::optional<std::string>("'new'::character varying"));
    REQUIRE(o.schema.indexes.size() == 3);
    CHECK(o.schema.indexes[1].expression == "lower(note)");
    CHECK(o.schema.indexes[2].where == "(state IS NOT NULL)");
    CHECK(o.schema.indexes[2].columns == std::vector<std::string>{"quantity"});
    REQUIRE(o.schema.foreign_keys.size() == 1);
    CHECK(o.schema.foreign_keys[0].references == cdc::TableId("public", "items"));
    CHECK(o.schema.foreign_keys[0].on_delete == cdc::ForeignKeyAction::SetDefault);
  }
}

TEST_CASE("schema objects: names that would collide are made unique, stably", "[unit][schema_objects]") {
  cdc_test::ScriptedSource src(cdc_test::ScriptedSource::Options{"mysql", true, false, 100});
  for (auto [table, idx] : {std::pair{"a_b", "c"}, std::pair{"a", "b_c"}}) {
    cdc::TableSchema t;
    t.id = cdc::TableId(table);
    t.columns = {col("id", cdc::TypeId::Int32, "int(11)", false), col("v", cdc::TypeId::Int32, "int(11)")};
    t.primary_key = {"id"};
    t.indexes = {index(idx, {"v"})};
    src.create_table(t);
  }
  cdc::Config config;
  auto first = cdc::plan_tables(config, src, *cdc::make_type_mapper(config), "sqlite", 0);
  auto again = cdc::plan_tables(config, src, *cdc::make_type_mapper(config), "sqlite", 0);
  const std::string a = plan_of(first, "a").target.schema.indexes.at(0).name;
  const std::string ab = plan_of(first, "a_b").target.schema.indexes.at(0).name;
  CHECK(a == "a_b_c");  // "a" sorts first and keeps the plain name
  CHECK(ab != a);
  CHECK(ab.rfind("a_b_c_", 0) == 0);
  CHECK(plan_of(again, "a_b").target.schema.indexes.at(0).name == ab);
}

TEST_CASE("schema objects: a foreign key to columns that are no key of the target's table is left out", "[unit][schema_objects]") {
  cdc_test::ScriptedSource src(cdc_test::ScriptedSource::Options{"mysql", true, false, 100});
  cdc::TableSchema parent;
  parent.id = cdc::TableId("parent");
  parent.columns = {col("id", cdc::TypeId::Int32, "int(11)", false), col("code", cdc::TypeId::Int32, "int(11)")};
  parent.primary_key = {"id"};
  parent.indexes = {index("code", {"code"})};  // InnoDB lets a foreign key use any index
  src.create_table(parent);
  cdc::TableSchema child;
  child.id = cdc::TableId("child");
  child.columns = {col("id", cdc::TypeId::Int32, "int(11)", false), col("code", cdc::TypeId::Int32, "int(11)")};
  child.primary_key = {"id"};
  cdc::ForeignKeyDef fk;
  fk.name = "child_code";
  fk.columns = {"code"};
  fk.references = parent.id;
  fk.referenced_columns = {"code"};
  child.foreign_keys = {fk};
  src.create_table(child);
  cdc::Config config;
  auto plans = cdc::plan_tables(config, src, *cdc::make_type_mapper(config), "sqlite", 0);
  const auto& c = plan_of(plans, "child").target;
  CHECK(c.schema.foreign_keys.empty());
  CHECK(has_note(c.not_carried_foreign_keys, "foreign key child_code on child (code) -> parent (code): its columns are neither the "
                                             "primary key nor a unique key of parent in the target"));
  auto same = cdc::plan_tables(config, src, *cdc::make_type_mapper(config), "mysql", 64);
  CHECK(plan_of(same, "child").target.schema.foreign_keys.size() == 1);
}

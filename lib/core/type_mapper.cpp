// The built-in type rules. Within one dialect a column keeps its native type and values pass
// through unchanged. Across dialects the LogicalType travels and the destination renders it;
// values convert by the rules below (grown by the PostgreSQL and MariaDB connectors' issues).
#include <cdc/error.h>
#include <cdc/type_mapper.h>

#include <fmt/format.h>

namespace cdc {

namespace {

class DefaultTypeMapper final : public TypeMapper {
 public:
  Column map_column(const Column& source, std::string_view source_dialect,
                    std::string_view target_dialect) const override {
    Column out = source;
    if (source_dialect != target_dialect) out.source_type.clear();
    // Defaults are SQL text in the source's dialect: only kept where the dialect is the same.
    if (source_dialect != target_dialect) out.default_expr.reset();
    return out;
  }

  Value convert(const Value& value, const Column&, const Column&) const override { return value; }

  bool is_identity(const Column&, const Column&) const override { return true; }
};

}  // namespace

std::shared_ptr<const TypeMapper> default_type_mapper() {
  static const auto mapper = std::make_shared<const DefaultTypeMapper>();
  return mapper;
}

}  // namespace cdc

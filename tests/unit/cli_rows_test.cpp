// Unit tests for the CLI's JSON listings (cli::RowsJson) on results built in memory with libpq's
// PQmakeEmptyPGresult: values are typed by their column's PostgreSQL type, NULL is null.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "orderpay/cli/cli.hpp"

namespace orderpay::cli {
namespace {

struct Col {
    const char* name;
    Oid type;
};

db::Result Make(const std::vector<Col>& cols,
                const std::vector<std::vector<std::optional<std::string>>>& rows) {
    PgResultPtr r(PQmakeEmptyPGresult(nullptr, PGRES_TUPLES_OK));
    std::vector<PGresAttDesc> attrs(cols.size());
    for (std::size_t i = 0; i < cols.size(); ++i) {
        attrs[i] = PGresAttDesc{};
        attrs[i].name = const_cast<char*>(cols[i].name);
        attrs[i].typid = cols[i].type;
        attrs[i].typlen = -1;
        attrs[i].atttypmod = -1;
    }
    EXPECT_EQ(PQsetResultAttrs(r.get(), static_cast<int>(attrs.size()), attrs.data()), 1);
    for (std::size_t row = 0; row < rows.size(); ++row)
        for (std::size_t c = 0; c < cols.size(); ++c) {
            const std::optional<std::string>& v = rows[row][c];
            // A NULL is set with length -1; PQsetvalue copies the bytes otherwise.
            EXPECT_EQ(
                PQsetvalue(r.get(), static_cast<int>(row), static_cast<int>(c),
                           v ? const_cast<char*>(v->data()) : nullptr, v ? static_cast<int>(v->size()) : -1),
                1);
        }
    return db::Result(std::move(r));
}

constexpr Oid kBool = 16, kInt8 = 20, kInt4 = 23, kText = 25, kFloat8 = 701, kNumeric = 1700,
              kTimestamptz = 1184;

TEST(CliRowsJson, ValuesAreTypedByTheirColumn) {
    const db::Result r = Make({{"id", kText}, {"price", kInt8}, {"minutes", kInt4}, {"active", kBool}},
                              {{"tea", "999", "30", "t"}, {"cup", "0", "-5", "f"}});
    EXPECT_EQ(RowsJson(r, {"id", "price_minor", "expire_minutes", "active"}),
              R"([{"id":"tea","price_minor":999,"expire_minutes":30,"active":true},)"
              R"({"id":"cup","price_minor":0,"expire_minutes":-5,"active":false}])");
}

TEST(CliRowsJson, NullIsNullWhateverTheType) {
    const db::Result r =
        Make({{"a", kText}, {"b", kInt8}, {"c", kBool}}, {{std::nullopt, std::nullopt, std::nullopt}});
    EXPECT_EQ(RowsJson(r, {"a", "b", "c"}), R"([{"a":null,"b":null,"c":null}])");
}

TEST(CliRowsJson, TextThatLooksLikeANumberStaysAString) {
    const db::Result r = Make({{"id", kText}, {"ct", kTimestamptz}}, {{"123", "2026-12-06 10:00:00+00"}});
    EXPECT_EQ(RowsJson(r, {"id", "ct"}), R"([{"id":"123","ct":"2026-12-06 10:00:00+00"}])");
}

// PostgreSQL prints these for float and numeric; JSON has no number for them.
TEST(CliRowsJson, NumbersJsonCannotWriteAreStrings) {
    const db::Result r =
        Make({{"x", kFloat8}}, {{"NaN"}, {"Infinity"}, {"-Infinity"}, {"1.5e+20"}, {"-0.25"}});
    const std::string numeric = RowsJson(Make({{"n", kNumeric}}, {{"12.50"}, {"NaN"}}), {"n"});
    EXPECT_EQ(RowsJson(r, {"x"}),
              R"([{"x":"NaN"},{"x":"Infinity"},{"x":"-Infinity"},{"x":1.5e+20},{"x":-0.25}])");
    EXPECT_EQ(numeric, R"([{"n":12.50},{"n":"NaN"}])");
}

TEST(CliRowsJson, NoRowsIsAnEmptyArray) {
    EXPECT_EQ(RowsJson(Make({{"id", kText}}, {}), {"id"}), "[]");
}

// `order show`'s and `inbox show`'s times: UTC with milliseconds, whatever the host's zone.
TEST(CliUtc, EpochMillisecondsAsUtc) {
    EXPECT_EQ(Utc(0), "1970-01-01T00:00:00.000Z");
    EXPECT_EQ(Utc(1796105181956), "2026-12-01T06:06:21.956Z");
}

}  // namespace
}  // namespace orderpay::cli

// Unit tests for db::Result's column lookup by name on results built in memory with libpq's own
// PQmakeEmptyPGresult/PQsetResultAttrs/PQsetvalue: the guess of the next column must give exactly
// what PQfnumber gives, in order, out of order, across rows, and for names it does not know.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "orderpay/db/connection.hpp"

namespace orderpay::db {
namespace {

Result Make(const std::vector<std::string>& names, int rows) {
    PgResultPtr r(PQmakeEmptyPGresult(nullptr, PGRES_TUPLES_OK));
    std::vector<PGresAttDesc> attrs(names.size());
    for (std::size_t i = 0; i < names.size(); ++i) {
        attrs[i] = PGresAttDesc{};
        attrs[i].name = const_cast<char*>(names[i].c_str());
        attrs[i].typid = 25;  // text
        attrs[i].typlen = -1;
        attrs[i].atttypmod = -1;
    }
    EXPECT_EQ(PQsetResultAttrs(r.get(), static_cast<int>(attrs.size()), attrs.data()), 1);
    for (int row = 0; row < rows; ++row)
        for (std::size_t c = 0; c < names.size(); ++c) {
            std::string v = names[c] + "@" + std::to_string(row);
            EXPECT_EQ(PQsetvalue(r.get(), row, static_cast<int>(c), v.data(), static_cast<int>(v.size())), 1);
        }
    return Result(std::move(r));
}

TEST(DbResult, ColumnsReadInOrderRowAfterRow) {
    const Result r = Make({"id", "site_id", "amount", "st"}, 3);
    for (int row = 0; row < 3; ++row) {
        EXPECT_EQ(r.Get(row, "id"), "id@" + std::to_string(row));
        EXPECT_EQ(r.Get(row, "site_id"), "site_id@" + std::to_string(row));
        EXPECT_EQ(r.Get(row, "amount"), "amount@" + std::to_string(row));
        EXPECT_EQ(r.Get(row, "st"), "st@" + std::to_string(row));
    }
}

TEST(DbResult, ColumnsReadOutOfOrderAndTwice) {
    const Result r = Make({"a", "b", "c", "d"}, 1);
    EXPECT_EQ(r.Col("c"), 2);
    EXPECT_EQ(r.Col("a"), 0);
    EXPECT_EQ(r.Col("a"), 0);
    EXPECT_EQ(r.Col("d"), 3);
    EXPECT_EQ(r.Col("b"), 1);  // the guess after "d" wraps to the first column
    EXPECT_EQ(r.Col("c"), 2);
}

TEST(DbResult, NamesFollowPQfnumbersRules) {
    const Result r = Make({"id", "Mixed", "ab"}, 1);
    EXPECT_EQ(r.Col("ID"), 0);                       // unquoted names are case-folded, as in SQL
    EXPECT_EQ(r.Col("\"Mixed\""), 1);                // quoted: exact
    EXPECT_THROW(r.Col("Mixed"), std::logic_error);  // folds to "mixed"
    EXPECT_THROW(r.Col("a"), std::logic_error);      // a prefix is not the column
    EXPECT_THROW(r.Col("abc"), std::logic_error);
    EXPECT_THROW(r.Col(""), std::logic_error);
    EXPECT_EQ(r.Col("ab"), 2);
}

// The fallback's own search (a name not where the reader's order puts it) answers as PQfnumber.
TEST(DbResult, FallbackFollowsPQfnumbersRules) {
    const Result r = Make({"id", "Mixed", "b", "c"}, 1);
    EXPECT_EQ(r.Col("c"), 3);
    EXPECT_EQ(r.Col("ID"), 0);
    EXPECT_EQ(r.Col("\"Mixed\""), 1);
    EXPECT_EQ(r.Col("c"), 3);
    EXPECT_THROW(r.Col("Mixed"), std::logic_error);
    EXPECT_TRUE(r.HasCol("b"));
    EXPECT_TRUE(r.HasCol("B"));
    EXPECT_FALSE(r.HasCol("\"B\""));
    EXPECT_FALSE(r.HasCol("mixed\""));
    EXPECT_FALSE(r.HasCol("chargeback_at"));
}

TEST(DbResult, NoColumns) {
    const Result r = Make({}, 0);
    EXPECT_THROW(r.Col("id"), std::logic_error);
}

// What the CLI prints when it cannot connect: libpq's lines (a server down names the socket,
// then a hint on a tab-indented line), trimmed and on one line.
TEST(PlainMessage, LibpqLinesAreTrimmedAndJoined) {
    EXPECT_EQ(
        PlainMessage("connection to server on socket \"/tmp/s/.s.PGSQL.1\" failed: No such file or "
                     "directory\n\tIs the server running locally and accepting connections on that "
                     "socket?\n"),
        "connection to server on socket \"/tmp/s/.s.PGSQL.1\" failed: No such file or directory; Is the "
        "server running locally and accepting connections on that socket?");
    EXPECT_EQ(PlainMessage("connection to server at \"h\" failed: FATAL:  role \"x\" does not exist\n"),
              "connection to server at \"h\" failed: FATAL:  role \"x\" does not exist");
    EXPECT_EQ(PlainMessage("  a\r\n\n\x1b[1mb \n"), "a; ?[1mb");
    EXPECT_EQ(PlainMessage(""), "");
}

}  // namespace
}  // namespace orderpay::db

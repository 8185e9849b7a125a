// The statements orderpayd and the CLI prepare: what db::Result's column guesses rely on.
#include "orderpay/store/statements.hpp"

#include <gtest/gtest.h>

#include <string_view>

namespace orderpay::store {
namespace {

// db::Result::Col takes a column by an exact compare with its name before PQfnumber's rules
// (fold unquoted names to lower case): the same answer only while every column name is in lower
// case, which PostgreSQL guarantees unless an alias is quoted. A double quote outside a string
// literal is such an identifier.
TEST(Statements, NoQuotedIdentifiers) {
    for (auto list : {AllStatements(), CliStatements()})
        for (const db::Statement& s : list) {
            bool in_literal = false;
            for (char c : std::string_view(s.sql)) {
                if (c == '\'') in_literal = !in_literal;
                EXPECT_FALSE(c == '"' && !in_literal) << s.name << ": a quoted identifier";
            }
        }
}

}  // namespace
}  // namespace orderpay::store

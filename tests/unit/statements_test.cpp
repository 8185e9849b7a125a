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

// A slip read without its code's age is never outlived (app::CodeOutlived has nothing to judge
// by), so a view built on it would offer a code its provider no longer honours: every statement
// that selects a slip's code (a qualified re_obj: SLIP_COLS, PREFIXED_SLIP_COLS) reads the age
// too (SLIP_CODE_AGE).
TEST(Statements, EverySlipCodeReadCarriesItsAge) {
    int reads = 0;
    for (auto list : {AllStatements(), CliStatements()})
        for (const db::Statement& s : list) {
            const std::string_view sql(s.sql);
            if (sql.find(".re_obj") == std::string_view::npos) continue;
            ++reads;
            EXPECT_NE(sql.find("code_age_ms"), std::string_view::npos)
                << s.name << ": a slip's code without its age";
        }
    EXPECT_GE(reads, 10);  // the slip reads of today (slip_get .. slip_by_ref): the test sees them
}

}  // namespace
}  // namespace orderpay::store

// Unit tests for admin/ticket's and admin/ticket_revoke's body parsing: required and optional
// fields, types, sizes, unknown fields, and the media type and size checks before them.
#include "orderpay/handlers/ticket_input.hpp"

#include <gtest/gtest.h>

#include <string>

#include "fake_request.hpp"

using orderpay::handlers::ParseTicketInput;
using orderpay::handlers::ParseTicketRevokeInput;
using orderpay::handlers::TicketInput;
using orderpay::handlers::TicketRevokeInput;
using orderpay::handlers::ValidOpenid;

namespace {

using Issue = orderpay::test::Parsed<TicketInput>;
using Revoke = orderpay::test::Parsed<TicketRevokeInput>;

Issue ParseIssue(const std::string& body, const std::string& content_type = "application/json") {
    return orderpay::test::ParseBody<TicketInput>(ParseTicketInput, body, content_type);
}

Revoke ParseRevoke(const std::string& body, const std::string& content_type = "application/json") {
    return orderpay::test::ParseBody<TicketRevokeInput>(ParseTicketRevokeInput, body, content_type);
}

constexpr const char* kInvalidField = "e.www.order.invalid.field";

}  // namespace

TEST(TicketInput, AccountAloneGetsADayAndKeepsTheFields) {
    Issue o = ParseIssue(R"({"account":"carol"})");
    ASSERT_EQ(o.status, 200) << o.msg;
    EXPECT_EQ(o.in.account, "carol");
    EXPECT_EQ(o.in.ttl_hours, 24);
    EXPECT_FALSE(o.in.name);  // left out: the account's own is kept
    EXPECT_FALSE(o.in.openid);
}

TEST(TicketInput, EveryField) {
    Issue o = ParseIssue(
        R"({"account":"carol@shop.example","ttl_hours":8784,"name":"Carol 卡罗","openid":"oAbc_-9"})");
    ASSERT_EQ(o.status, 200) << o.msg;
    EXPECT_EQ(o.in.account, "carol@shop.example");
    EXPECT_EQ(o.in.ttl_hours, 8784);
    EXPECT_EQ(o.in.name, "Carol 卡罗");
    EXPECT_EQ(o.in.openid, "oAbc_-9");
}

TEST(TicketInput, NullIsLeftOutAndEmptyClears) {
    Issue o = ParseIssue(R"({"account":"carol","ttl_hours":null,"name":null,"openid":""})");
    ASSERT_EQ(o.status, 200) << o.msg;
    EXPECT_EQ(o.in.ttl_hours, 24);
    EXPECT_FALSE(o.in.name);
    EXPECT_EQ(o.in.openid, "");
}

TEST(TicketInput, RefusesEachBadFieldByName) {
    struct Case {
        const char* body;
        const char* field;
    };
    for (const Case& c : {
             Case{R"({})", "account is missing"},
             Case{R"({"account":null})", "account is missing"},
             Case{R"({"account":5})", "account"},
             Case{R"({"account":""})", "account"},
             Case{R"({"account":"ca rol"})", "account"},
             Case{R"({"account":["carol"]})", "account"},
             Case{R"({"account":"carol","ttl_hours":0})", "ttl_hours"},
             Case{R"({"account":"carol","ttl_hours":8785})", "ttl_hours"},
             Case{R"({"account":"carol","ttl_hours":-1})", "ttl_hours"},
             Case{R"({"account":"carol","ttl_hours":1.5})", "ttl_hours"},
             Case{R"({"account":"carol","ttl_hours":24.0})", "ttl_hours"},
             Case{R"({"account":"carol","ttl_hours":"24"})", "ttl_hours"},
             Case{R"({"account":"carol","ttl_hours":1e100})", "ttl_hours"},
             Case{R"({"account":"carol","ttl_hours":true})", "ttl_hours"},
             Case{R"({"account":"carol","name":5})", "name"},
             Case{R"({"account":"carol","name":"a\u0007b"})", "name"},
             Case{R"({"account":"carol","name":"a\u200bb"})", "name"},
             Case{R"({"account":"carol","openid":5})", "openid"},
             Case{R"({"account":"carol","openid":"o x"})", "openid"},
             Case{R"({"account":"carol","ttl_hour":48})", "unknown field ttl_hour"},
         }) {
        Issue o = ParseIssue(c.body);
        EXPECT_EQ(o.status, 400) << c.body;
        EXPECT_EQ(o.code, kInvalidField) << c.body;
        EXPECT_NE(o.msg.find(c.field), std::string::npos) << c.body << " -> " << o.msg;
    }
}

TEST(TicketInput, Limits) {
    EXPECT_EQ(ParseIssue(R"({"account":")" + std::string(64, 'a') + "\"}").status, 200);
    EXPECT_EQ(ParseIssue(R"({"account":")" + std::string(65, 'a') + "\"}").status, 400);
    // 64 characters of three bytes each: characters count, not bytes.
    std::string name;
    for (int i = 0; i < 64; ++i) name += "卡";
    EXPECT_EQ(ParseIssue(R"({"account":"c","name":")" + name + "\"}").status, 200);
    EXPECT_EQ(ParseIssue(R"({"account":"c","name":")" + name + "a\"}").status, 400);
    EXPECT_TRUE(ValidOpenid(std::string(128, 'o')));
    EXPECT_FALSE(ValidOpenid(std::string(129, 'o')));
    EXPECT_TRUE(ValidOpenid(""));
}

TEST(TicketInput, BodyChecksComeFirst) {
    Issue o = ParseIssue(R"({"account":"carol"})", "text/plain");
    EXPECT_EQ(o.status, 415);
    o = ParseIssue("account=carol");
    EXPECT_EQ(o.code, "e.www.api.invalid.json");
    o = ParseIssue(R"(["carol"])");
    EXPECT_EQ(o.code, "e.www.api.invalid.json");
    o = ParseIssue(R"({"account":"carol","name":")" + std::string(5000, 'x') + "\"}");
    EXPECT_EQ(o.status, 413);
    EXPECT_EQ(o.code, "e.www.api.too_large");
}

TEST(TicketRevokeInput, TicketOrAccount) {
    Revoke o = ParseRevoke(R"({"ticket":"AbC-_12"})");
    ASSERT_EQ(o.status, 200) << o.msg;
    EXPECT_EQ(o.in.ticket, "AbC-_12");
    EXPECT_FALSE(o.in.account);
    o = ParseRevoke(R"({"account":"carol","ticket":null})");
    ASSERT_EQ(o.status, 200) << o.msg;
    EXPECT_EQ(o.in.account, "carol");
    EXPECT_FALSE(o.in.ticket);
}

TEST(TicketRevokeInput, RefusesEachBadFieldByName) {
    struct Case {
        std::string body;
        const char* field;
    };
    for (const Case& c : {
             Case{R"({})", "ticket or account is missing"},
             Case{R"({"ticket":"t","account":"carol"})", "not both"},
             Case{R"({"ticket":5})", "ticket"},
             Case{R"({"ticket":""})", "ticket"},
             Case{R"({"ticket":"a b"})", "ticket"},
             Case{"{\"ticket\":\"" + std::string(257, 't') + "\"}", "ticket"},
             Case{R"({"account":"ca rol"})", "account"},
             Case{"{\"account\":\"" + std::string(65, 'a') + "\"}", "account"},
             Case{R"({"account":true})", "account"},
             Case{R"({"tickets":["t"]})", "unknown field tickets"},
         }) {
        Revoke o = ParseRevoke(c.body);
        EXPECT_EQ(o.status, 400) << c.body;
        EXPECT_EQ(o.code, kInvalidField) << c.body;
        EXPECT_NE(o.msg.find(c.field), std::string::npos) << c.body << " -> " << o.msg;
    }
    EXPECT_EQ(ParseRevoke("{\"ticket\":\"" + std::string(256, 't') + "\"}").status, 200);
    EXPECT_EQ(ParseRevoke(R"({"ticket":"t"})", "application/x-www-form-urlencoded").status, 415);
}

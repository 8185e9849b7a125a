// A request body handed to a body parser (pay/buy's ParseInput, admin/refund's ParseRefundInput)
// as nginx would pass it, and the parser's refusal read back from the reply's JSON envelope.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "orderpay/http/json.hpp"
#include "orderpay/http/request.hpp"

namespace orderpay::test {

/// What a parser made of a body: `in` when it accepted it (status 200), else the reply's status,
/// errCode and msg.
template <typename Input>
struct Parsed {
    int status = 200;
    std::string code, msg;
    Input in;
};

/// Runs `parse(request, in)` on a POST of `body` with `content_type`; `parse` returns nullopt on
/// success, else the error reply, which must be valid JSON.
template <typename Input, typename Parser>
Parsed<Input> ParseBody(Parser parse, const std::string& body, const std::string& content_type) {
    http::Request req;
    req.method = "POST";
    req.content_type = content_type;
    req.body = body;
    Parsed<Input> o;
    if (auto bad = parse(req, o.in)) {
        rapidjson::Document d;
        EXPECT_EQ(http::ParseJson(bad->body, d), "") << bad->body;
        o.status = bad->status;
        o.code = d["errCode"].GetString();
        o.msg = d["msg"].GetString();
    }
    return o;
}

}  // namespace orderpay::test

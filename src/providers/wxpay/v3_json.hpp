// The JSON reads WeChat Pay v3's answers need, shared by the signed calls (v3_call.cpp) and the
// payment operations (v3_client.cpp).
#pragma once

#include <string>

#include "orderpay/http/json.hpp"

namespace orderpay::wxpay::v3json {

inline bool ParseObject(const std::string& body, rapidjson::Document& d) {
    return http::ParseJson(body, d).empty() && d.IsObject();
}

inline std::string Member(const rapidjson::Value& obj, const char* a, const char* b = nullptr) {
    if (!obj.IsObject() || !obj.HasMember(a)) return {};
    const rapidjson::Value* v = &obj[a];
    if (b != nullptr) {
        if (!v->IsObject() || !v->HasMember(b)) return {};
        v = &(*v)[b];
    }
    // Strings only: a number where WeChat writes a string (an id, a code_url) is no answer of
    // WeChat's; read as its decimal text it settled a slip on "4200000000123".
    if (v->IsString()) return std::string(v->GetString(), v->GetStringLength());
    return {};
}

}  // namespace orderpay::wxpay::v3json

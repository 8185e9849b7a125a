// Shared by the JSON-reading fuzz targets: structural equality of two RapidJSON values.
#pragma once

#include <string_view>
#include <utility>
#include <vector>

#include "orderpay/http/json.hpp"

namespace orderpay::fuzz {

// Structural equality in member order. (RapidJSON's operator== looks members up by name, so a
// document with a repeated name need not equal itself.) Doubles compare exactly.
inline bool SameJson(const rapidjson::Value& a0, const rapidjson::Value& b0) {
    std::vector<std::pair<const rapidjson::Value*, const rapidjson::Value*>> stack = {{&a0, &b0}};
    while (!stack.empty()) {
        auto [a, b] = stack.back();
        stack.pop_back();
        if (a->GetType() != b->GetType()) return false;
        if (a->IsNumber()) {
            if (a->IsDouble() != b->IsDouble()) return false;
            if (a->IsDouble()  ? a->GetDouble() != b->GetDouble()
                : a->IsInt64() ? !b->IsInt64() || a->GetInt64() != b->GetInt64()
                               : !b->IsUint64() || a->GetUint64() != b->GetUint64())
                return false;
        } else if (a->IsString()) {
            if (std::string_view(a->GetString(), a->GetStringLength()) !=
                std::string_view(b->GetString(), b->GetStringLength()))
                return false;
        } else if (a->IsArray()) {
            if (a->Size() != b->Size()) return false;
            for (rapidjson::SizeType i = 0; i < a->Size(); ++i) stack.emplace_back(&(*a)[i], &(*b)[i]);
        } else if (a->IsObject()) {
            if (a->MemberCount() != b->MemberCount()) return false;
            for (auto ia = a->MemberBegin(), ib = b->MemberBegin(); ia != a->MemberEnd(); ++ia, ++ib)
                stack.emplace_back(&ia->name, &ib->name), stack.emplace_back(&ia->value, &ib->value);
        }  // null, true and false are told apart by GetType
    }
    return true;
}

}  // namespace orderpay::fuzz

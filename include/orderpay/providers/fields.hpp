// Providers whose answers are one flat set of named fields (WeChat Pay v2's XML, the members of
// Alipay's response object): the lookup and the call result both clients use.
#pragma once

#include <map>
#include <string>

namespace orderpay::providers {

using Fields = std::map<std::string, std::string>;

/// The field `name`, "" when absent: these providers leave out what they do not set, so an absent
/// field and an empty one mean the same.
inline std::string Field(const Fields& f, const std::string& name) {
    auto it = f.find(name);
    return it == f.end() ? std::string() : it->second;
}

/// One signed request and its answer.
struct FieldsCall {
    bool ok = false;       // a well-formed answer whose signature was verified
    bool timeout = false;  // no trustworthy answer: the outcome is unknown
    Fields fields;         // the answer's fields, to be believed only when ok
    std::string error;
};

}  // namespace orderpay::providers

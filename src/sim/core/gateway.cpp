// Request arguments, id and URL formats, and the reply shell of paysim's gateways.
#include "sim/core/gateway.hpp"

#include <chrono>
#include <thread>

#include "orderpay/http/reply.hpp"

namespace orderpay::sim {

std::optional<http::FormPairs> RequestArguments(const http::Request& req) {
    http::FormPairs all;
    if (req.method == "POST" && !req.body.empty()) {
        auto body = http::ParseForm(req.body);
        if (!body) return std::nullopt;
        all = std::move(*body);
    }
    if (!req.query_ok) return std::nullopt;
    const std::size_t from_body = all.size();
    for (const auto& [k, v] : req.query) {
        bool in_body = false;
        for (std::size_t i = 0; i < from_body && !in_body; ++i) in_body = all[i].first == k;
        if (!in_body) all.emplace_back(k, v);
    }
    return all;
}

std::optional<http::FormPairs> ControlForm(const http::Request& req, http::Response& err) {
    if (req.method != "POST") {
        err = http::Fail(http::Err::kMethodNotAllowed);
        return std::nullopt;
    }
    std::optional<http::FormPairs> form = RequestArguments(req);
    if (!form) err = http::Fail(http::Err::kBadQuery);
    return form;
}

void SleepPastCallerTimeout() {
    std::this_thread::sleep_for(std::chrono::milliseconds(11000));
}

bool ValidId(std::string_view text, std::size_t max_len, std::string_view extra) {
    if (text.empty() || text.size() > max_len) return false;
    for (char c : text) {
        const bool ok = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                        extra.find(c) != std::string_view::npos;
        if (!ok) return false;
    }
    return true;
}

bool ValidNotifyUrl(std::string_view text) {
    if (text.size() > 256) return false;
    std::string_view rest;
    if (text.substr(0, 7) == "http://") {
        rest = text.substr(7);
    } else if (text.substr(0, 8) == "https://") {
        rest = text.substr(8);
    } else {
        return false;
    }
    if (rest.empty() || rest[0] == '/') return false;  // no host
    for (char c : rest)
        if (static_cast<unsigned char>(c) <= ' ' || c == '?' || c == '#' || c == 0x7f) return false;
    return true;
}

http::Response TextReply(int status, std::string content_type, std::string body) {
    http::Response r;
    r.status = status;
    r.content_type = std::move(content_type);
    r.body = std::move(body);
    return r;
}

}  // namespace orderpay::sim

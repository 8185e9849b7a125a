// Renders the {ok, data} / {ok:false, errCode, msg} envelope.
#include "orderpay/http/reply.hpp"

#include <cstdio>

namespace orderpay::http {

std::string JsonString(std::string_view s) {
    std::string out;
    out.reserve(s.size() + 2);
    out += '"';
    for (unsigned char c : s) {
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                if (c < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", c);
                    out += buf;
                } else {
                    out += static_cast<char>(c);
                }
        }
    }
    out += '"';
    return out;
}

Response Ok(std::string_view data_json) {
    Response r;
    r.body.reserve(data_json.size() + 24);
    r.body += "{\"ok\":true,\"data\":";
    r.body += data_json.empty() ? "null" : data_json;
    r.body += '}';
    return r;
}

Response Fail(Err e, std::string_view msg, std::string_view data_json) {
    const ErrInfo& info = Info(e);
    Response r;
    r.status = info.status;
    r.body = "{\"ok\":false,\"errCode\":" + JsonString(info.code) +
             ",\"msg\":" + JsonString(msg.empty() ? info.msg : msg);
    if (!data_json.empty()) {
        r.body += ",\"data\":";
        r.body += data_json;
    }
    r.body += '}';
    return r;
}

}  // namespace orderpay::http

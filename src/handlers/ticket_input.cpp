// admin/ticket's and admin/ticket_revoke's bodies, read strictly: a field of the wrong type, too
// long or unknown is refused by name. An unknown field is refused rather than ignored because a
// login server that misspells ttl_hours would otherwise hand out tickets living the default 24
// hours without anyone noticing.
#include "orderpay/handlers/ticket_input.hpp"

#include <initializer_list>

#include "orderpay/domain/ids.hpp"
#include "orderpay/http/json_body.hpp"
#include "orderpay/http/reply.hpp"
#include "orderpay/http/utf8.hpp"
#include "orderpay/store/tickets.hpp"

namespace orderpay::handlers {

namespace {

std::optional<http::Response> Invalid(const std::string& msg) {
    return http::Fail(http::Err::kInvalidField, msg);
}

// The body up to its fields: size, media type, JSON object, and no member outside `known`.
std::optional<http::Response> ReadObject(const http::Request& req, rapidjson::Document& doc,
                                         std::initializer_list<std::string_view> known) {
    if (req.body.size() > kMaxTicketBody)
        return http::Fail(http::Err::kTooLarge, "a ticket request is at most 4096 bytes");
    if (auto bad = http::ParseJsonObjectBody(req, doc)) return bad;
    return http::RefuseUnknownFields(doc, known);
}

// The member as a string; nullopt when absent or null. `bad` is set when it is another type.
std::optional<std::string> StringField(const rapidjson::Value& obj, const char* name, bool& bad) {
    auto it = obj.FindMember(name);
    if (it == obj.MemberEnd() || it->value.IsNull()) return std::nullopt;
    if (!it->value.IsString()) {
        bad = true;
        return std::nullopt;
    }
    return std::string(it->value.GetString(), it->value.GetStringLength());
}

std::optional<http::Response> ReadAccount(const rapidjson::Value& doc, std::optional<std::string>& out) {
    bool bad = false;
    out = StringField(doc, "account", bad);
    if (bad || (out && !domain::IsAccountId(*out)))
        return Invalid("account must be 1 to 64 characters of A-Z a-z 0-9 _ . @ -");
    return std::nullopt;
}

}  // namespace

bool ValidOpenid(std::string_view openid) {
    if (openid.size() > kMaxOpenidChars) return false;
    for (char c : openid)
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '-'))
            return false;
    return true;
}

std::optional<http::Response> ParseTicketInput(const http::Request& req, TicketInput& in) {
    rapidjson::Document doc;
    if (auto bad = ReadObject(req, doc, {"account", "ttl_hours", "name", "openid"})) return bad;

    std::optional<std::string> account;
    if (auto bad = ReadAccount(doc, account)) return bad;
    if (!account) return Invalid("account is missing");
    in.account = *account;

    if (auto it = doc.FindMember("ttl_hours"); it != doc.MemberEnd() && !it->value.IsNull()) {
        if (!it->value.IsInt() || !store::ValidTicketHours(it->value.GetInt()))
            return Invalid("ttl_hours must be a whole number of hours from 1 to 8784");
        in.ttl_hours = it->value.GetInt();
    }

    bool bad = false;
    in.name = StringField(doc, "name", bad);
    // Shown to operators in `account list`: plain text a person reads as written. "" clears it.
    if (bad ||
        (in.name && (!http::IsPlainText(*in.name) || http::Utf8Chars(*in.name) > kMaxAccountNameChars)))
        return Invalid("name must be text of at most 64 characters, without control or invisible characters");

    in.openid = StringField(doc, "openid", bad);
    if (bad || (in.openid && !ValidOpenid(*in.openid)))
        return Invalid("openid must be at most 128 characters of A-Z a-z 0-9 _ - (\"\" clears it)");
    return std::nullopt;
}

std::optional<http::Response> ParseTicketRevokeInput(const http::Request& req, TicketRevokeInput& in) {
    rapidjson::Document doc;
    if (auto bad = ReadObject(req, doc, {"ticket", "account"})) return bad;

    bool bad = false;
    in.ticket = StringField(doc, "ticket", bad);
    if (bad || (in.ticket && (in.ticket->empty() || in.ticket->size() > kMaxTicketChars)))
        return Invalid("ticket must be a string of 1 to 256 characters");
    if (in.ticket) {
        for (char c : *in.ticket)
            if (c < '!' || c > '~')
                return Invalid("ticket must be printable ASCII (tickets are URL-safe text)");
    }
    if (auto bad_account = ReadAccount(doc, in.account)) return bad_account;
    if (!in.ticket && !in.account)
        return Invalid(
            "ticket or account is missing: give ticket to end that ticket, or account to end all of its");
    if (in.ticket && in.account) return Invalid("give ticket or account, not both");
    return std::nullopt;
}

}  // namespace orderpay::handlers

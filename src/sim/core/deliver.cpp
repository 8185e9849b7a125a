// Delivers copies of a notification concurrently, the way a provider's several notifying
// servers can hit a shop within the same second, and reports what came back.
#include "sim/core/deliver.hpp"

#include <chrono>
#include <latch>
#include <thread>

#include "orderpay/core/log.hpp"
#include "orderpay/http/json.hpp"
#include "orderpay/http/reply.hpp"
#include "orderpay/providers/http_client.hpp"

namespace orderpay::sim {

std::vector<Delivery> DeliverConcurrently(const std::string& url, const std::string& body, int copies,
                                          long connect_timeout_ms, long timeout_ms,
                                          const std::string& content_type, const Headers& headers) {
    std::vector<Delivery> out(static_cast<std::size_t>(copies));
    providers::HttpOptions ho;
    ho.headers = headers;
    ho.connect_timeout_ms = connect_timeout_ms;
    ho.timeout_ms = timeout_ms;
    ho.max_response = 64 * 1024;
    ho.headers = headers;
    // Every thread waits at the gate until all exist, so the copies really overlap.
    std::latch gate(copies);
    {
        std::vector<std::jthread> threads;
        threads.reserve(out.size());
        std::ptrdiff_t started = 0;
        try {
            for (Delivery& d : out) {
                threads.emplace_back([&gate, &d, &url, &body, &ho, &content_type] {
                    gate.arrive_and_wait();
                    providers::HttpResult r = providers::HttpRequest("POST", url, body, content_type, ho);
                    d.status = r.fail == providers::HttpFail::kNone ? r.status : 0;
                    d.body = std::move(r.body);
                    d.error = std::move(r.error);
                });
                ++started;
            }
        } catch (...) {
            gate.count_down(copies - started);  // release the started ones before they are joined
            throw;
        }
    }  // the jthreads join here
    return out;
}

std::string PayReplyJson(std::string_view out_trade_no, std::string_view transaction_id, int sent,
                         const std::vector<Delivery>& replies) {
    rapidjson::StringBuffer buf;
    http::JsonWriter w(buf);
    w.StartObject();
    w.Key("out_trade_no");
    w.String(out_trade_no.data(), static_cast<rapidjson::SizeType>(out_trade_no.size()));
    w.Key("transaction_id");
    w.String(transaction_id.data(), static_cast<rapidjson::SizeType>(transaction_id.size()));
    w.Key("sent");
    w.Int(sent);
    w.Key("replies");
    w.StartArray();
    for (const Delivery& d : replies) {
        w.StartObject();
        w.Key("status");
        w.Int64(d.status);
        w.Key("body");
        w.String(d.body);
        if (!d.error.empty()) {
            w.Key("error");
            w.String(d.error);
        }
        w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    return buf.GetString();
}

http::Response SendNotice(const SimOptions& opts, const Notice& n, int delay_ms) {
    if (n.copies == 0) return http::Ok(PayReplyJson(n.out_trade_no, n.transaction_id, 0, {}));
    if (delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    std::vector<Delivery> replies = DeliverConcurrently(n.url, n.body, n.copies, opts.notify_connect_ms,
                                                        opts.notify_timeout_ms, n.content_type, n.headers);
    std::string statuses;
    for (const Delivery& d : replies) statuses += (statuses.empty() ? "" : ",") + std::to_string(d.status);
    log::Info(n.what, ": ", n.copies, " notification(s) to ", n.url, " -> ", statuses);
    return http::Ok(PayReplyJson(n.out_trade_no, n.transaction_id, n.copies, replies));
}

}  // namespace orderpay::sim

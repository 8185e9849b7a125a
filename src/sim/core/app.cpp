// paysim's FastCGI App: one route table for the WeChat v2 and Alipay gateways and the /sim
// control API, and the single place where database and unexpected failures become replies.
#include "sim/core/app.hpp"

#include <array>
#include <string_view>

#include "orderpay/core/log.hpp"
#include "orderpay/http/reply.hpp"
#include "sim/alipay/call.hpp"
#include "sim/alipay/control.hpp"
#include "sim/alipay/gateway.hpp"
#include "sim/core/control.hpp"
#include "sim/core/refunds.hpp"
#include "sim/core/store.hpp"
#include "sim/paypal/control.hpp"
#include "sim/paypal/gateway.hpp"
#include "sim/paypal/refund.hpp"
#include "sim/wxpay/call.hpp"
#include "sim/wxpay/gateway.hpp"
#include "sim/wxpay/refund.hpp"
#include "sim/wxpay3/call.hpp"
#include "sim/wxpay3/gateway.hpp"

namespace orderpay::sim {

namespace {

using Handler = http::Response (*)(Ctx&, const http::Request&);

// The language a route answers failures in: a provider's own, or the JSON envelope.
enum class Dialect { kEnvelope, kWx, kWx3, kZfb, kPaypal };

struct Route {
    std::string_view path;
    Handler handler;
    Dialect dialect;
    bool prefix = false;  // also serves path + "/..." (PayPal's /v2/checkout/orders/{id}/capture)
};

// Methods are checked by the handlers: a gateway answers a GET in its own dialect like the real one.
constexpr std::array kRoutes = {
    Route{"/pay/unifiedorder", &WxUnifiedOrder, Dialect::kWx},
    Route{"/pay/orderquery", &WxOrderQuery, Dialect::kWx},
    Route{"/pay/closeorder", &WxCloseOrder, Dialect::kWx},
    Route{"/pay/micropay", &WxMicropay, Dialect::kWx},
    Route{"/secapi/pay/reverse", &WxReverse, Dialect::kWx},
    Route{"/secapi/pay/refund", &WxRefund, Dialect::kWx},
    Route{"/pay/refundquery", &WxRefundQuery, Dialect::kWx},
    Route{"/gateway.do", &ZfbGateway, Dialect::kZfb},
    Route{"/v3/", &Wx3Gateway, Dialect::kWx3},  // every path below it
    Route{"/sim/pay", &SimPay, Dialect::kEnvelope},
    Route{"/sim/trade", &SimTrade, Dialect::kEnvelope},
    Route{"/sim/wx/refund_mode", &SimWxRefundMode, Dialect::kEnvelope},
    Route{"/sim/wx/refund_notify", &SimWxRefundNotify, Dialect::kEnvelope},
    Route{"/sim/wx/refunds", &SimWxRefunds, Dialect::kEnvelope},
    Route{"/sim/return_url", &SimReturnUrl, Dialect::kEnvelope},
    Route{"/sim/refund_notify", &ZfbSimRefundNotify, Dialect::kEnvelope},
    Route{"/sim/refund", &SimRefund, Dialect::kEnvelope},
    Route{"/sim/refunds", &SimRefunds, Dialect::kEnvelope},
    Route{"/v1/oauth2/token", &PpToken, Dialect::kPaypal},
    Route{"/v2/checkout/orders", &PpOrders, Dialect::kPaypal, true},
    Route{"/sim/paypal/approve", &PpApprove, Dialect::kEnvelope},
    Route{"/sim/paypal/capture_value", &PpSimCaptureValue, Dialect::kEnvelope},
    Route{"/v2/payments", &PpPayments, Dialect::kPaypal, true},
};

http::Response Failure(Dialect d, int status, std::string_view wx_msg, http::Err envelope) {
    switch (d) {
        case Dialect::kWx:
            return WxReturnFail(wx_msg, status);
        case Dialect::kWx3:
            return Wx3Error(status, status == 503 ? "SYSTEM_BUSY" : "SYSTEM_ERROR", wx_msg);
        case Dialect::kZfb:
            return ZfbUnavailable(status);
        case Dialect::kPaypal: {
            http::Response r;
            r.status = status;
            r.body = "{\"name\":\"INTERNAL_SERVER_ERROR\",\"message\":\"paysim\"}";
            return r;
        }
        case Dialect::kEnvelope:
            break;
    }
    return http::Fail(envelope);
}

class SimApp final : public fcgi::App {
  public:
    // The simulator's trades need not survive a database crash (the real providers' books are not
    // on the shop's disk), so its commits do not wait for the WAL flush: on a shared cluster they
    // would otherwise add a third flush to every pay/buy and bill the simulator to orderpay
    // (issue #8). Visibility to other sessions is immediate either way.
    explicit SimApp(const SimOptions& opts)
        : opts_(opts), db_(opts_.conninfo, store::Statements(), "-c synchronous_commit=off") {
        if (!db_.Ensure()) log::Warn("paysim worker: database not reachable yet; answering 503 until it is");
    }

    http::Response Handle(const http::Request& req) override {
        const Route* route = nullptr;
        for (const Route& r : kRoutes) {
            // "/v3/" serves every path below it; a prefix route also serves path + "/...".
            const bool below = r.path.back() == '/' && req.path.rfind(r.path, 0) == 0;
            if (r.path == req.path || below || (r.prefix && req.path.starts_with(std::string(r.path) + "/")))
                route = &r;
        }
        if (!route) return http::Fail(http::Err::kNoSuchApi);
        Ctx ctx{db_, opts_};
        try {
            // Without the retry every paysim worker answered one call 503 after a PostgreSQL
            // restart, which orderpay must treat as "outcome unknown".
            return db_.RunRetryingIdleLoss([&] { return route->handler(ctx, req); });
        } catch (const db::Unavailable& e) {
            log::Warn(req.path, ": ", e.what());
            db_.ResetTransaction();
            return Failure(route->dialect, 503, "系统繁忙,请稍后再试", http::Err::kDbUnavailable);
        } catch (const std::exception& e) {
            log::Error(req.path, ": ", e.what());
            db_.ResetTransaction();
            return Failure(route->dialect, 500, "系统错误", http::Err::kInternal);
        }
    }

  private:
    SimOptions opts_;
    db::Connection db_;
};

}  // namespace

std::unique_ptr<fcgi::App> MakeApp(const SimOptions& opts) {
    return std::make_unique<SimApp>(opts);
}

}  // namespace orderpay::sim

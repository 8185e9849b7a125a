// paysim's FastCGI App: one route table for the WeChat v2 gateway and the /sim control API, and
// the single place where database and unexpected failures become replies.
#include "orderpay/sim/app.hpp"

#include <array>
#include <string_view>

#include "orderpay/core/log.hpp"
#include "orderpay/http/reply.hpp"
#include "orderpay/sim/control.hpp"
#include "orderpay/sim/store.hpp"
#include "orderpay/sim/wx_call.hpp"
#include "orderpay/sim/wx_gateway.hpp"

namespace orderpay::sim {

namespace {

using Handler = http::Response (*)(Ctx&, const http::Request&);

struct Route {
    std::string_view path;
    Handler handler;
    bool gateway;  // answers in the provider's dialect (XML), not the JSON envelope
};

// Methods are checked by the handlers: the gateway answers a GET in XML like the real one.
constexpr std::array kRoutes = {
    Route{"/pay/unifiedorder", &WxUnifiedOrder, true},
    Route{"/pay/orderquery", &WxOrderQuery, true},
    Route{"/pay/closeorder", &WxCloseOrder, true},
    Route{"/pay/micropay", &WxMicropay, true},
    Route{"/secapi/pay/reverse", &WxReverse, true},
    Route{"/sim/pay", &SimPay, false},
    Route{"/sim/trade", &SimTrade, false},
};

class SimApp final : public fcgi::App {
  public:
    explicit SimApp(const SimOptions& opts) : opts_(opts), db_(opts_.conninfo, store::Statements()) {
        if (!db_.Ensure()) log::Warn("paysim worker: database not reachable yet; answering 503 until it is");
    }

    http::Response Handle(const http::Request& req) override {
        const Route* route = nullptr;
        for (const Route& r : kRoutes)
            if (r.path == req.path) route = &r;
        if (!route) return http::Fail(http::Err::kNoSuchApi);
        Ctx ctx{db_, opts_};
        try {
            return route->handler(ctx, req);
        } catch (const db::Unavailable& e) {
            log::Warn(req.path, ": ", e.what());
            db_.ResetTransaction();
            return route->gateway ? WxReturnFail("系统繁忙,请稍后再试", 503)
                                  : http::Fail(http::Err::kDbUnavailable);
        } catch (const std::exception& e) {
            log::Error(req.path, ": ", e.what());
            db_.ResetTransaction();
            return route->gateway ? WxReturnFail("系统错误", 500) : http::Fail(http::Err::kInternal);
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

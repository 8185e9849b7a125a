// `orderpay refund finish REFUND ok|fail --note TEXT`: the operator's word on a refund orderpay
// cannot resolve by itself (the provider will not answer for it, so reconcile lists it REFUNDING
// for ever). The provider is asked first, read-only, and its own final word wins (app/refund).
#include <iostream>

#include "orderpay/app/context.hpp"
#include "orderpay/app/refund.hpp"
#include "orderpay/cli/cli.hpp"
#include "orderpay/handlers/refund_input.hpp"
#include "orderpay/http/utf8.hpp"

namespace orderpay::cli {

namespace {

constexpr const char* kUsage = "refund finish REFUND ok|fail --note TEXT";

}  // namespace

int RefundFinish(Env& env, const Args& a) {
    if (a.pos.size() != 4 || (a.pos[3] != "ok" && a.pos[3] != "fail")) throw UsageError(kUsage);
    const std::string note = a.Need("note");
    // What the operator saw where, for whoever reads the refund next: text, like a reason.
    if (!http::IsUtf8(note) || !handlers::ValidReason(note))
        throw UsageError("--note: 1 to 80 characters of UTF-8 text (what you saw where)");
    const bool ok = a.pos[3] == "ok";
    app::Context ctx(app::Settings::From(env.cfg), env.db);
    const app::OperatorAnswer ans = app::FinishAsOperator(ctx, a.pos[2], ok, note);
    if (ans.refund && a.json) std::cout << app::RenderRefund(*ans.refund) << '\n';
    const std::string id = a.pos[2];
    const std::string now = ans.refund ? std::string(domain::ToString(ans.refund->st)) : "";
    const std::string said = ans.detail.empty() ? "" : " (" + ans.detail + ")";
    using O = app::OperatorFinish;
    std::string done, refused;
    switch (ans.outcome) {
        case O::kRecorded:
            done = "recorded " + now + " on your word" + said;
            break;
        case O::kAlready:
            done = "already " + now;
            break;
        case O::kConfirmed:
            done = "the provider says so too: recorded " + now + said;
            break;
        case O::kContradicted:
            refused = "the provider says otherwise: recorded " + now + ", not your word" + said;
            break;
        case O::kUnderWay:
            refused = "the provider says it is still under way" + said + ": left " + now +
                      "; it ends at the provider, and reconcile records it";
            break;
        case O::kRefusedNew:
            refused = "it was never sent, so it cannot have gone through: left " + now +
                      " (reconcile sends it; `refund finish " + id + " fail` cancels it)";
            break;
        case O::kRecordedBefore:
            refused = "recorded " + now + " before" + said + ": not changed";
            break;
        case O::kMoved:
            refused = "it changed while this ran" + said + ": not changed";
            break;
        case O::kNoRefund:
            refused = "no such refund";
            break;
    }
    if (!refused.empty()) {
        std::cerr << "orderpay: refund " << id << ": " << refused << '\n';
        return 1;
    }
    if (!a.json) std::cout << "refund " << id << ": " << done << '\n';
    return 0;
}

}  // namespace orderpay::cli

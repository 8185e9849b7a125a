// `orderpay refund finish REFUND ok|fail --note TEXT [--despite-no-answer]`: the operator's word
// on a refund orderpay cannot resolve by itself (its provider has no record of it, or will not
// answer for it, so reconcile lists it REFUNDING for ever). The rules are app/refund's.
#include <iostream>

#include "orderpay/app/context.hpp"
#include "orderpay/app/refund.hpp"
#include "orderpay/cli/cli.hpp"
#include "orderpay/handlers/refund_input.hpp"
#include "orderpay/http/reply.hpp"
#include "orderpay/http/utf8.hpp"

namespace orderpay::cli {

namespace {

constexpr const char* kUsage = "refund finish REFUND ok|fail --note TEXT [--despite-no-answer]";

// Exit statuses: 0 the refund is what the operator says; 1 nothing changed; 3 the provider's own
// contrary word was recorded (something changed, but not as asked); 2 is a usage error.
constexpr int kContradicted = 3;

}  // namespace

int RefundFinish(Env& env, const Args& a) {
    if (a.pos.size() != 4 || (a.pos[3] != "ok" && a.pos[3] != "fail")) throw UsageError(kUsage);
    app::OperatorWord word;
    word.ok = a.pos[3] == "ok";
    word.note = a.Need("note");
    word.despite_no_answer = a.Has("despite-no-answer");
    // What the operator saw where, for whoever reads the refund next: text, like a reason.
    if (std::string why = handlers::ReasonProblem(word.note); !why.empty())
        throw UsageError("--note: 1 to 80 characters of plain UTF-8 text (what you saw where): " + why);
    const std::string& id = a.pos[2];
    app::Context ctx(app::Settings::From(env.cfg), env.db);
    const app::OperatorAnswer ans = app::FinishAsOperator(ctx, id, word);
    if (a.json) {
        std::cout << "{\"outcome\":" << http::JsonString(std::string(app::ToString(ans.outcome)))
                  << ",\"detail\":" << http::JsonString(ans.detail)
                  << ",\"refund\":" << (ans.refund ? app::RenderRefund(*ans.refund) : "null") << "}\n";
    }
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
            std::cerr << "orderpay: refund " << id << ": the provider says otherwise: recorded " << now
                      << ", not your word" << said << '\n';
            return kContradicted;
        case O::kUnderWay:
            refused = "the provider says it is still under way" + said + ": left " + now +
                      "; it ends at the provider, and reconcile records it";
            break;
        case O::kDisputed:
            refused = "the provider reports money moved, not as this refund can be recorded" + said +
                      ": left " + now + "; settle it in the provider's console";
            break;
        case O::kNoAnswer:
            refused = "no answer from the provider" + said + ": left " + now +
                      "; try again, or if you checked at the provider that it cannot answer, give "
                      "--despite-no-answer";
            break;
        case O::kBusy:
        case O::kTooYoung:
            refused = "not now" + said + ": left " + now;
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
        case O::kCorrected:
            done = "corrected FAIL to " + now + said + "; its refund conflict is settled";
            break;
        case O::kNoRoom:
            refused = "not corrected" + said + ": left " + now;
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

// Times each provider call and classifies its result into the metrics' bounded outcome set (an
// exception is counted as `error` and passed on unchanged); and screens the values of an answer
// that orderpay stores or shows, since every call of the app passes here.
#include "orderpay/providers/metered.hpp"

#include <chrono>
#include <string_view>

#include "orderpay/core/metrics.hpp"
#include "orderpay/http/utf8.hpp"
#include "orderpay/providers/plausible.hpp"

namespace orderpay::providers {

namespace {

template <typename Call, typename Classify>
auto Metered(const Provider& p, metrics::Op op, Call&& call, Classify&& classify) {
    const auto start = std::chrono::steady_clock::now();
    auto seconds = [&] {
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    };
    try {
        auto r = call();
        metrics::ProviderCall(p.Id(), op, classify(r), seconds());
        return r;
    } catch (...) {
        metrics::ProviderCall(p.Id(), op, metrics::Outcome::kError, seconds());
        throw;
    }
}

// A query answered is ok, whatever it says; only an answer we could not use is unknown.
metrics::Outcome QueryOutcome(const QueryResult& r) {
    return r.state == QueryResult::State::kUnknown ? metrics::Outcome::kUnknown : metrics::Outcome::kOk;
}

// What the buyer is shown must be text, and a QR text must fit a code (qr_svg encodes at level
// M: 2331 bytes at most); a JSAPI object or an approval URL has more room.
bool Showable(const std::string& re_tp, const std::string& s) {
    const std::size_t max = re_tp == "QRCODE" ? 2048 : 32768;
    return !s.empty() && s.size() <= max && http::IsText(s);
}

void Screen(CreateResult& r) {
    if (r.outcome == Outcome::kPaid && !PlausibleId(r.txn_id)) {
        // Money may have moved: unknown, so the slip is asked about, never settled on this id.
        r.outcome = Outcome::kUnknown;
        r.txn_id.clear();
        r.message = "paid answer with an unreadable transaction id";
        return;
    }
    const bool bad_ref = !r.provider_ref.empty() && !PlausibleId(r.provider_ref);
    if (r.outcome == Outcome::kPending && (bad_ref || (r.re_tp != "NONE" && !Showable(r.re_tp, r.re_obj)))) {
        // Nobody can pay what the buyer is never shown: refused like an answer missing it.
        r.outcome = Outcome::kFailed;
        r.re_tp = "NONE";
        r.re_obj.clear();
        r.message = bad_ref ? "answer with an unreadable order id" : "answer with an unusable code or link";
    }
    if (bad_ref) r.provider_ref.clear();
}

void Screen(QueryResult& q) {
    if (q.state == QueryResult::State::kPaid && !PlausibleId(q.txn_id)) {
        q.state = QueryResult::State::kUnknown;
        q.txn_id.clear();
        q.message += " (paid, with an unreadable transaction id)";
    }
    // The refunds' ids go into the inbox and are compared with ours: unreadable ones are not said.
    for (QueryResult::RefundSeen& r : q.refunds) {
        if (!r.no.empty() && !PlausibleId(r.no)) r.no.clear();
        if (!r.id.empty() && !PlausibleId(r.id)) r.id.clear();
    }
}

void Screen(RefundResult& r) {
    if (r.provider_refund_id.empty() || PlausibleId(r.provider_refund_id)) return;
    r.provider_refund_id.clear();
    if (r.state == RefundResult::State::kOk || r.state == RefundResult::State::kProcessing) {
        r.state = RefundResult::State::kUnknown;
        r.message = "answer with an unreadable refund id";
        r.disputed = true;
    }
}

}  // namespace

CreateResult MeteredCreate(Provider& p, const Merchant& m, const CreateParams& params) {
    return Metered(
        p, metrics::Op::kCreate,
        [&] {
            CreateResult r = p.Create(m, params);
            Screen(r);
            return r;
        },
        [](const CreateResult& r) {
            switch (r.outcome) {
                case Outcome::kPending:
                case Outcome::kPaid:
                    return metrics::Outcome::kOk;
                case Outcome::kFailed:
                    return metrics::Outcome::kFailed;
                case Outcome::kUnknown:
                    break;
            }
            return r.timeout ? metrics::Outcome::kTimeout : metrics::Outcome::kUnknown;
        });
}

QueryResult MeteredQuery(Provider& p, const Merchant& m, const std::string& slip_id,
                         const std::string& provider_ref) {
    return Metered(
        p, metrics::Op::kQuery,
        [&] {
            QueryResult q = p.QueryByRef(m, slip_id, provider_ref);
            Screen(q);
            return q;
        },
        QueryOutcome);
}

QueryResult MeteredComplete(const Provider& p, const Merchant& m, const std::string& slip_id,
                            const std::string& provider_ref) {
    return Metered(
        p, metrics::Op::kQuery,
        [&] {
            QueryResult q = p.Complete(m, slip_id, provider_ref);
            Screen(q);
            return q;
        },
        [](const QueryResult& r) {
            using S = QueryResult::State;
            if (r.state == S::kUnknown) return metrics::Outcome::kUnknown;
            // A completion refused (declined, closed, not approved) is a definite refusal.
            const bool refused = r.state == S::kFailed || r.state == S::kClosed || r.state == S::kNotPaid;
            return refused ? metrics::Outcome::kFailed : metrics::Outcome::kOk;
        });
}

QueryResult MeteredConfirmPaid(const Provider& p, const Merchant& m, const std::string& slip_id,
                               const std::string& provider_ref) {
    return Metered(
        p, metrics::Op::kQuery,
        [&] {
            QueryResult q = p.ConfirmPaid(m, slip_id, provider_ref);
            Screen(q);
            return q;
        },
        QueryOutcome);
}

CloseResult MeteredClose(Provider& p, const Merchant& m, const std::string& slip_id, bool scan) {
    return Metered(
        p, metrics::Op::kClose, [&] { return scan ? p.EndScan(m, slip_id) : p.Close(m, slip_id); },
        [](const CloseResult& r) {
            return r.closed || r.already_paid ? metrics::Outcome::kOk : metrics::Outcome::kFailed;
        });
}

namespace {

metrics::Outcome RefundOutcome(const RefundResult& r) {
    // A confirmation refused (a refund the provider does not have as claimed) is its definite answer.
    if (r.not_this_refund) return metrics::Outcome::kFailed;
    switch (r.state) {
        case RefundResult::State::kOk:
        case RefundResult::State::kProcessing:
            return metrics::Outcome::kOk;
        case RefundResult::State::kFailed:
            return metrics::Outcome::kFailed;
        case RefundResult::State::kUnknown:
            break;
    }
    return r.timeout ? metrics::Outcome::kTimeout : metrics::Outcome::kUnknown;
}

}  // namespace

RefundResult MeteredRefund(Provider& p, const Merchant& m, const RefundParams& params) {
    return Metered(
        p, metrics::Op::kRefund,
        [&] {
            RefundResult r = p.Refund(m, params);
            Screen(r);
            return r;
        },
        RefundOutcome);
}

RefundResult MeteredQueryRefund(Provider& p, const Merchant& m, const RefundParams& params) {
    return Metered(
        p, metrics::Op::kRefundQuery,
        [&] {
            RefundResult r = p.QueryRefund(m, params);
            Screen(r);
            return r;
        },
        RefundOutcome);
}

RefundResult MeteredConfirmRefund(const Provider& p, const Merchant& m, const RefundParams& params) {
    return Metered(
        p, metrics::Op::kRefundQuery,
        [&] {
            RefundResult r = p.ConfirmRefund(m, params);
            Screen(r);
            return r;
        },
        RefundOutcome);
}

}  // namespace orderpay::providers

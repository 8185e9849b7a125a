// Every SQL statement orderpay runs, named and prepared on connect (STYLE.md lesson 7).
#pragma once

#include <span>

#include "orderpay/db/connection.hpp"

namespace orderpay::store {

// Sites, accounts, sessions, sellers.
extern const db::Statement kSiteGet, kSessionGet, kSellerGet, kMerchantGet, kMerchantsOfProvider, kPing;
// Accounts and tickets (the CLI's and the operator API's).
extern const db::Statement kAccountUpsert, kSessionInsert, kSessionEnd, kSessionsEndOfAccount, kSessionsPrune,
    kSessionsPruneIndexed;
// Catalog and stock.
extern const db::Statement kBuyContext, kStockGive;
// Orders.
extern const db::Statement kOrderCreate, kOrderGet, kItemsGet, kItemsTaken, kSettle, kOrderExpireDue,
    kOrderExpireRetry, kOrderExpireTried, kOrderExpireDueUnmarked, kOrdersHaveExpireTried, kCachePrune,
    kNotifyPrune, kNotifyPruneUnverified, kNotifyPruneUnchecked, kNotifyRetentionIndexed, kOrderExpire,
    kOrderSetPayTp, kOrderByIdemKey, kCheckView, kOrderView;
// Slips.
extern const db::Statement kSlipInsert, kSlipGet, kSlipForUpdate, kSlipLive, kSlipWaitView, kSlipFail,
    kSlipSupersede, kSlipClaimQuery, kSlipClaimResend, kSlipGiveBackResend, kSlipsWaitingDue,
    kSlipConfirmClosed, kSlipStampQueried, kSlipMarkVoiding, kSlipsVoidedPaid, kSlipVoidingDrop,
    kSlipVoidingDropRefunded, kSlipsUnconfirmed, kSlipsOfPaidOrdersFail, kSlipsNeedingAttention,
    kSlipsOfOrder, kOrderSite, kOrderState, kOrderPayableNow, kSlipByRef;
// The operator's fulfilment: ship (OK -> SP), done (SP -> DN), why neither happened, and the
// back office's pages of orders in one state.
extern const db::Statement kOrderShip, kOrderDone, kOrderCloseChargedBack, kOrderFulfilment, kOrdersPage,
    kOrdersHeldPage;
// Sites' return pages and the providers' shared cache.
extern const db::Statement kSiteReturnUrl, kCacheGet, kCachePut, kCacheDrop, kCacheClaim;
// The catalogue a site sells now (pay/products).
extern const db::Statement kProductsOnSale;
// Notification inbox.
extern const db::Statement kNotifyIntake, kNotifyVerdict, kNotifyReceived, kNotifyGet, kNotifyList,
    kNotifyEventSeen, kNotifySetEvent, kNotifyChargeback, kNotifyQueryRefunded, kNotifyRefundReported,
    kNotifyOutsideReported;
// Refunds and the operator API's keys.
extern const db::Statement kRefundOpen, kRefundGet, kRefundOfSlip, kRefundInFlightOfSlip, kRefundByKey,
    kRefundSentDespite, kRefundClaim, kRefundFinish, kSlipReversed, kOrderReleaseVoided, kRefundNote,
    kRefundsDue, kRefundStampQueried, kApiKeyGet, kRefundByProviderId, kRefundTalkTry, kRefundTalkDone,
    kRefundTalkHeld, kRefundTalkBusy, kRefundConflict, kRefundChargeback, kRefundContradicted;

std::span<const db::Statement> AllStatements();
/// Named statements only the CLI runs, unprepared: a column they name (019's expire_tried_at) may be
/// missing while orderpayd, which prepares AllStatements, serves a database not yet migrated, and
/// the CLI then picks the statement that does without it. `orderpay sql` lists them too.
std::span<const db::Statement> CliStatements();

}  // namespace orderpay::store

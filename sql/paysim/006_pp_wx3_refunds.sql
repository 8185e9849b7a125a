-- paysim's refunds for PayPal (Payments v2 refunds of a capture) and WeChat Pay v3
-- (/v3/refund/domestic/refunds). Each is idempotent on the merchant's request number
-- (PayPal-Request-Id, out_refund_no); the sum of a payment's refunds that are not failed never
-- exceeds what it captured, checked under the payment row's lock.
CREATE TABLE paysim.pp_refunds (
    id          text PRIMARY KEY,                   -- PayPal's refund id
    client_id   text NOT NULL,
    request_id  text NOT NULL,                      -- PayPal-Request-Id
    order_id    text NOT NULL REFERENCES paysim.pp_orders (id),
    capture_id  text NOT NULL,
    invoice_id  text NOT NULL DEFAULT '',
    note        text NOT NULL DEFAULT '',           -- note_to_payer
    currency    text NOT NULL,
    value       text NOT NULL,                      -- as the merchant sent it
    minor       bigint NOT NULL CHECK (minor > 0),  -- the same in the currency's minor units
    status      text NOT NULL CHECK (status IN ('PENDING', 'COMPLETED', 'FAILED', 'CANCELLED')),
    calls       integer NOT NULL DEFAULT 1,         -- refund requests answered with this refund
    notify_count integer NOT NULL DEFAULT 0,        -- webhooks sent through /sim/refund
    ct          timestamptz NOT NULL DEFAULT now(),
    lm          timestamptz NOT NULL DEFAULT now(),
    UNIQUE (client_id, request_id)
);
CREATE INDEX pp_refunds_capture ON paysim.pp_refunds (capture_id);
CREATE INDEX pp_refunds_invoice ON paysim.pp_refunds (invoice_id);

CREATE TABLE paysim.wx3_refunds (
    refund_id       text PRIMARY KEY,               -- WeChat's refund id
    mch_id          text NOT NULL,
    out_refund_no   text NOT NULL,
    out_trade_no    text NOT NULL,
    transaction_id  text NOT NULL,
    refund          bigint NOT NULL CHECK (refund > 0),
    total           bigint NOT NULL CHECK (total > 0),
    currency        text NOT NULL DEFAULT 'CNY',
    reason          text NOT NULL DEFAULT '',
    notify_url      text NOT NULL DEFAULT '',
    status          text NOT NULL CHECK (status IN ('PROCESSING', 'SUCCESS', 'ABNORMAL', 'CLOSED')),
    calls           integer NOT NULL DEFAULT 1,
    queries         integer NOT NULL DEFAULT 0,
    notify_count    integer NOT NULL DEFAULT 0,
    ct              timestamptz NOT NULL DEFAULT now(),
    lm              timestamptz NOT NULL DEFAULT now(),
    success_at      timestamptz,
    UNIQUE (mch_id, out_refund_no)                  -- of a wx trade in paysim.trades
);
CREATE INDEX wx3_refunds_trade ON paysim.wx3_refunds (mch_id, out_trade_no);
CREATE INDEX wx3_refunds_out_refund_no ON paysim.wx3_refunds (out_refund_no);

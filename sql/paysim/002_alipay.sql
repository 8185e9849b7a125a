-- paysim's Alipay (provider 'zfb'): the merchants' RSA keys, and Alipay-shaped trades.

-- An Alipay merchant: mch_id is the seller id (2088...), app_id its app. The app's public key
-- verifies the requests; the simulated Alipay private key signs answers and notifications (a
-- secret, like api_key: never logged or replied).
ALTER TABLE paysim.merchants
    ADD COLUMN app_public_key     text NOT NULL DEFAULT '',
    ADD COLUMN alipay_private_key text NOT NULL DEFAULT '';

ALTER TABLE paysim.merchants DROP CONSTRAINT merchants_sign_type_check;
ALTER TABLE paysim.merchants ADD CONSTRAINT merchants_sign_type_check
    CHECK (sign_type IN ('MD5', 'HMAC-SHA256', 'RSA2'));

-- The gateway finds the merchant by app_id alone.
CREATE UNIQUE INDEX merchants_zfb_app_id ON paysim.merchants (app_id) WHERE provider = 'zfb';

CREATE TABLE paysim.zfb_trades (
    seller_id       text NOT NULL,                 -- paysim.merchants.mch_id of provider 'zfb'
    out_trade_no    text NOT NULL,
    app_id          text NOT NULL,
    method          text NOT NULL CHECK (method IN ('precreate', 'pay', 'cancel')),  -- what created it
    total_fee       bigint NOT NULL CHECK (total_fee >= 0),  -- fen; 0 only for a record made by cancel
    subject         text NOT NULL DEFAULT '',
    notify_url      text NOT NULL DEFAULT '',      -- the creating request's notify_url ('' = none)
    auth_code       text NOT NULL DEFAULT '',
    scan            text NOT NULL DEFAULT '',      -- trade.pay behaviour (sim/zfb_scan.hpp), '' otherwise
    qr_code         text,                          -- precreate only
    trade_no        text UNIQUE,                   -- set once, when the buyer's side exists
    buyer_id        text NOT NULL DEFAULT '',
    buyer_logon_id  text NOT NULL DEFAULT '',
    -- NOT_SCANNED is paysim's own: a precreated code nobody scanned (query: ACQ.TRADE_NOT_EXIST).
    state           text NOT NULL CHECK (state IN ('NOT_SCANNED', 'WAIT_BUYER_PAY', 'TRADE_SUCCESS',
                                                   'TRADE_CLOSED', 'TRADE_FINISHED')),
    refunded        boolean NOT NULL DEFAULT false,  -- closed by a cancel (or notification) after payment
    queries         integer NOT NULL DEFAULT 0,    -- alipay.trade.query calls answered
    cancels         integer NOT NULL DEFAULT 0,    -- alipay.trade.cancel calls answered
    notify_seed     text,                          -- fixed at the first notification: notify_id per status
    notify_count    integer NOT NULL DEFAULT 0,    -- notifications sent through /sim/pay
    ct              timestamptz NOT NULL DEFAULT now(),
    lm              timestamptz NOT NULL DEFAULT now(),
    paid_at         timestamptz,
    closed_at       timestamptz,
    PRIMARY KEY (seller_id, out_trade_no)
);

CREATE INDEX zfb_trades_out_trade_no ON paysim.zfb_trades (out_trade_no);

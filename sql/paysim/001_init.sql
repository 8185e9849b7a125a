-- paysim's own state, in its own schema: the simulated providers' merchants and trades.
CREATE SCHEMA IF NOT EXISTS paysim;

CREATE TABLE paysim.merchants (
    provider    text NOT NULL CHECK (provider IN ('wx', 'zfb', 'paypal')),
    mch_id      text NOT NULL,
    app_id      text NOT NULL,
    sign_type   text NOT NULL DEFAULT 'MD5' CHECK (sign_type IN ('MD5', 'HMAC-SHA256')),
    api_key     text NOT NULL DEFAULT '',
    options     jsonb NOT NULL DEFAULT '{}'::jsonb,
    ct          timestamptz NOT NULL DEFAULT now(),
    lm          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, mch_id)
);

-- Provider transaction ids: '4200' + Beijing date + this sequence, 28 digits like WeChat's.
CREATE SEQUENCE paysim.txn_seq;

CREATE TABLE paysim.trades (
    provider        text NOT NULL,
    mch_id          text NOT NULL,
    out_trade_no    text NOT NULL,
    app_id          text NOT NULL,
    trade_type      text NOT NULL CHECK (trade_type IN ('NATIVE', 'JSAPI', 'MICROPAY')),
    total_fee       bigint NOT NULL CHECK (total_fee > 0),
    fee_type        text NOT NULL DEFAULT 'CNY',
    sign_type       text NOT NULL DEFAULT 'MD5',   -- of the creating request; signs the notification
    body            text NOT NULL DEFAULT '',
    attach          text NOT NULL DEFAULT '',
    notify_url      text NOT NULL DEFAULT '',      -- empty for MICROPAY (no notification)
    product_id      text NOT NULL DEFAULT '',
    openid          text NOT NULL DEFAULT '',      -- the payer; invented at payment when not given
    auth_code       text NOT NULL DEFAULT '',
    scan            text NOT NULL DEFAULT '',      -- micropay behaviour (sim/scan.hpp), '' otherwise
    prepay_id       text,
    code_url        text,
    transaction_id  text,                          -- set once, when first paid
    state           text NOT NULL DEFAULT 'NOTPAY'
                    CHECK (state IN ('NOTPAY', 'USERPAYING', 'SUCCESS', 'CLOSED', 'REVOKED', 'PAYERROR')),
    queries         integer NOT NULL DEFAULT 0,    -- orderquery calls answered
    notify_nonce    text,                          -- fixed at payment: resends are byte-identical
    notify_count    integer NOT NULL DEFAULT 0,    -- notifications sent through /sim/pay
    ct              timestamptz NOT NULL DEFAULT now(),
    lm              timestamptz NOT NULL DEFAULT now(),
    paid_at         timestamptz,
    PRIMARY KEY (provider, mch_id, out_trade_no),
    UNIQUE (provider, transaction_id)
);

CREATE INDEX trades_out_trade_no ON paysim.trades (out_trade_no);

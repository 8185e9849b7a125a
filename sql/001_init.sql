-- orderpay schema v1: shops, accounts, catalog, merchants, orders, payment slips, notification inbox.
-- Money is BIGINT minor units; times are timestamptz (the API renders epoch milliseconds).

CREATE TABLE account_stores (
    id          text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9_.-]{1,64}$'),
    name        text NOT NULL DEFAULT '',
    ct          timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sites (
    id              text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9_.-]{1,64}$'),
    name            text NOT NULL DEFAULT '',
    account_store   text REFERENCES account_stores(id),   -- NULL: e.www.order.nil.accounts
    currency        text NOT NULL DEFAULT 'CNY' CHECK (currency ~ '^[A-Z]{3}$'),
    expire_minutes  integer NOT NULL DEFAULT 30 CHECK (expire_minutes BETWEEN 1 AND 10080),
    ct              timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE accounts (
    id          text NOT NULL CHECK (id ~ '^[A-Za-z0-9_.@-]{1,64}$'),
    store_id    text NOT NULL REFERENCES account_stores(id),
    name        text NOT NULL DEFAULT '',
    wx_openid   text,
    ct          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (store_id, id)
);

-- A ticket is a login session; only its SHA-256 is stored.
CREATE TABLE sessions (
    ticket_hash bytea PRIMARY KEY CHECK (length(ticket_hash) = 32),
    store_id    text NOT NULL,
    account_id  text NOT NULL,
    expires_at  timestamptz NOT NULL,
    ct          timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (store_id, account_id) REFERENCES accounts(store_id, id) ON DELETE CASCADE
);

CREATE TABLE products (
    id          text NOT NULL CHECK (id ~ '^[A-Za-z0-9_.-]{1,64}$'),
    site_id     text NOT NULL REFERENCES sites(id),
    title       text NOT NULL,
    price       bigint NOT NULL CHECK (price >= 0),
    currency    text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    stock       bigint CHECK (stock >= 0),          -- NULL: not stock-managed
    active      boolean NOT NULL DEFAULT true,
    ct          timestamptz NOT NULL DEFAULT now(),
    lm          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (site_id, id)
);

-- A merchant account at one provider. api_key is the WeChat v2 key (never logged or returned).
CREATE TABLE merchants (
    id          text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9_.-]{1,64}$'),
    provider    text NOT NULL CHECK (provider IN ('wx', 'zfb', 'paypal')),
    app_id      text NOT NULL,
    mch_id      text NOT NULL,
    sign_type   text NOT NULL DEFAULT 'MD5' CHECK (sign_type IN ('MD5', 'HMAC-SHA256', 'RSA2')),
    api_key     text NOT NULL DEFAULT '',
    options     jsonb NOT NULL DEFAULT '{}'::jsonb,
    ct          timestamptz NOT NULL DEFAULT now()
);

-- The pay_tp prefix ("wx", "zfb", "paypal") picks the site's merchant ("seller").
CREATE TABLE site_sellers (
    site_id     text NOT NULL REFERENCES sites(id),
    prefix      text NOT NULL CHECK (prefix IN ('wx', 'zfb', 'paypal')),
    merchant_id text NOT NULL REFERENCES merchants(id),
    PRIMARY KEY (site_id, prefix)
);

CREATE TABLE orders (
    id          text PRIMARY KEY CHECK (id ~ '^[a-z0-9]{1,32}$'),
    site_id     text NOT NULL REFERENCES sites(id),
    tp          text NOT NULL DEFAULT 'A' CHECK (tp IN ('A', 'Q')),
    title       text NOT NULL DEFAULT '',
    note        text NOT NULL DEFAULT '',
    buyer_store text NOT NULL,
    buyer_id    text NOT NULL,
    pro_c       bigint NOT NULL CHECK (pro_c > 0),
    total       bigint NOT NULL CHECK (total >= 0),
    freight     bigint NOT NULL DEFAULT 0 CHECK (freight >= 0),
    discount    bigint NOT NULL DEFAULT 0 CHECK (discount >= 0),
    price       bigint NOT NULL CHECK (price >= 0),
    fee         bigint NOT NULL CHECK (fee >= 0),
    currency    text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    pay_tp      text NOT NULL,
    pay_id      text,
    seller      text,
    or_st       text NOT NULL DEFAULT 'NW' CHECK (or_st IN ('NW', 'WT', 'OK', 'FA', 'SP', 'DN')),
    contact     jsonb NOT NULL DEFAULT '{}'::jsonb,
    client_ip   text NOT NULL DEFAULT '',
    stock_held  boolean NOT NULL DEFAULT true,       -- false once expiry gave the stock back
    ct          timestamptz NOT NULL DEFAULT now(),
    lm          timestamptz NOT NULL DEFAULT now(),
    wt_at       timestamptz,
    ok_at       timestamptz,
    fa_at       timestamptz,
    sp_at       timestamptz,
    dn_at       timestamptz,
    expi        timestamptz NOT NULL,
    FOREIGN KEY (buyer_store, buyer_id) REFERENCES accounts(store_id, id)
);
CREATE INDEX orders_buyer ON orders (site_id, buyer_id, ct DESC);
CREATE INDEX orders_open_expi ON orders (expi) WHERE or_st IN ('NW', 'WT');

CREATE TABLE order_items (
    order_id    text NOT NULL REFERENCES orders(id),
    pos         integer NOT NULL,
    product_id  text NOT NULL,
    title       text NOT NULL,
    amount      bigint NOT NULL CHECK (amount > 0),
    price       bigint NOT NULL CHECK (price >= 0),
    subtotal    bigint NOT NULL CHECK (subtotal >= 0),
    PRIMARY KEY (order_id, pos)
);

-- One attempt to collect an order's money at a provider; its id is the provider's out_trade_no.
CREATE TABLE pay_slips (
    id              text PRIMARY KEY CHECK (id ~ '^[a-z0-9]{1,32}$'),
    order_id        text NOT NULL REFERENCES orders(id),
    site_id         text NOT NULL REFERENCES sites(id),
    pay_tp          text NOT NULL,
    provider        text NOT NULL CHECK (provider IN ('wx', 'zfb', 'paypal')),
    merchant_id     text NOT NULL REFERENCES merchants(id),
    amount          bigint NOT NULL CHECK (amount >= 0),
    currency        text NOT NULL,
    st              text NOT NULL DEFAULT 'NEW' CHECK (st IN ('NEW', 'WAIT', 'OK', 'FAIL')),
    re_tp           text NOT NULL DEFAULT 'NONE' CHECK (re_tp IN ('QRCODE', 'JSON', 'LINK', 'NONE')),
    re_obj          text NOT NULL DEFAULT '',
    provider_txn_id text,
    superseded      boolean NOT NULL DEFAULT false,   -- replaced by a newer slip (pay/pay)
    refund_needed   boolean NOT NULL DEFAULT false,   -- paid, but the order could not take it
    note            text NOT NULL DEFAULT '',         -- last provider message / failure reason
    ct              timestamptz NOT NULL DEFAULT now(),
    lm              timestamptz NOT NULL DEFAULT now(),
    paid_at         timestamptz,
    queried_at      timestamptz,
    UNIQUE (provider, provider_txn_id)
);
CREATE INDEX pay_slips_order ON pay_slips (order_id);
CREATE INDEX pay_slips_refund ON pay_slips (site_id) WHERE refund_needed;

-- Every notification, verified or not, stored raw before it is acted on.
CREATE TABLE notifications (
    id          bigserial PRIMARY KEY,
    provider    text NOT NULL CHECK (provider IN ('wx', 'zfb', 'paypal')),
    site_id     text NOT NULL,
    slip_id     text,
    remote_addr text NOT NULL DEFAULT '',
    headers     jsonb NOT NULL DEFAULT '{}'::jsonb,
    body        bytea NOT NULL,
    verdict     text NOT NULL DEFAULT 'received'
                CHECK (verdict IN ('received', 'settled', 'duplicate', 'ignored', 'rejected', 'error')),
    reason      text NOT NULL DEFAULT '',
    ct          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notifications_slip ON notifications (slip_id);

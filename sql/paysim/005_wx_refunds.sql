-- paysim's WeChat Pay v2 refunds: one row per out_refund_no of a merchant, the sum of a trade's
-- refunds that are not closed kept within its total_fee (checked under the trade's row lock),
-- and the test knob a trade's next refunds follow (set through /sim/wx/refund_mode).
CREATE SEQUENCE paysim.wx_refund_seq;

CREATE TABLE paysim.wx_refunds (
    mch_id          text NOT NULL,
    out_refund_no   text NOT NULL,
    out_trade_no    text NOT NULL,
    refund_id       text NOT NULL UNIQUE,          -- WeChat's: '50' + 28 digits
    total_fee       bigint NOT NULL CHECK (total_fee > 0),
    refund_fee      bigint NOT NULL CHECK (refund_fee > 0),
    refund_desc     text NOT NULL DEFAULT '',
    notify_url      text NOT NULL DEFAULT '',
    state           text NOT NULL DEFAULT 'PROCESSING'
                    CHECK (state IN ('PROCESSING', 'SUCCESS', 'REFUNDCLOSE', 'CHANGE')),
    notify_nonce    text NOT NULL,                 -- fixed: resent notifications are identical
    notify_count    integer NOT NULL DEFAULT 0,
    ct              timestamptz NOT NULL DEFAULT now(),
    success_at      timestamptz,
    PRIMARY KEY (mch_id, out_refund_no)
);

CREATE INDEX wx_refunds_trade ON paysim.wx_refunds (mch_id, out_trade_no);

-- '' (the refund is accepted PROCESSING; /sim/wx/refund_notify finishes it), 'fail' (refused
-- NOTENOUGH), 'timeout' (recorded SUCCESS, the answer comes too late).
ALTER TABLE paysim.trades ADD COLUMN refund_mode text NOT NULL DEFAULT ''
    CHECK (refund_mode IN ('', 'fail', 'timeout'));

-- paysim's Alipay refunds (alipay.trade.refund, alipay.trade.fastpay.refund.query): one row per
-- out_request_no of a trade, as Alipay keeps them. A second request with the same out_request_no
-- refunds nothing more; the refunds of a trade never add up to more than it was paid.
CREATE TABLE paysim.zfb_refunds (
    seller_id       text NOT NULL,
    out_trade_no    text NOT NULL,
    out_request_no  text NOT NULL CHECK (length(out_request_no) BETWEEN 1 AND 64),
    refund_fee      bigint NOT NULL CHECK (refund_fee > 0),   -- fen
    reason          text NOT NULL DEFAULT '',
    ct              timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (seller_id, out_trade_no, out_request_no),
    FOREIGN KEY (seller_id, out_trade_no) REFERENCES paysim.zfb_trades (seller_id, out_trade_no)
);

-- One refund request under the trade's row lock. Outcomes: refunded (a new refund), repeated (this
-- out_request_no refunded the same amount before: no money moves), no_trade, not_paid,
-- amount_differs (this out_request_no with another amount), too_much (over what is left).
-- refunded_total is the trade's refunds after the call (Alipay's refund_fee).
CREATE FUNCTION paysim.zfb_refund(p_seller text, p_out_trade_no text, p_request text, p_fee bigint,
                                  p_reason text, OUT outcome text, OUT refunded_total bigint)
LANGUAGE plpgsql AS $fn$
DECLARE
    t paysim.zfb_trades%ROWTYPE;
    prior bigint;
BEGIN
    SELECT * INTO t FROM paysim.zfb_trades WHERE seller_id = p_seller AND out_trade_no = p_out_trade_no
    FOR UPDATE;
    IF NOT FOUND OR t.state = 'NOT_SCANNED' THEN
        outcome := 'no_trade';
        RETURN;
    END IF;
    SELECT coalesce(sum(refund_fee), 0) INTO refunded_total FROM paysim.zfb_refunds
    WHERE seller_id = p_seller AND out_trade_no = p_out_trade_no;
    SELECT refund_fee INTO prior FROM paysim.zfb_refunds
    WHERE seller_id = p_seller AND out_trade_no = p_out_trade_no AND out_request_no = p_request;
    IF FOUND THEN
        outcome := CASE WHEN prior = p_fee THEN 'repeated' ELSE 'amount_differs' END;
        RETURN;
    END IF;
    IF t.state <> 'TRADE_SUCCESS' THEN
        outcome := 'not_paid';
    ELSIF refunded_total + p_fee > t.total_fee THEN
        outcome := 'too_much';
    ELSE
        INSERT INTO paysim.zfb_refunds (seller_id, out_trade_no, out_request_no, refund_fee, reason)
        VALUES (p_seller, p_out_trade_no, p_request, p_fee, p_reason);
        refunded_total := refunded_total + p_fee;
        outcome := 'refunded';
    END IF;
END
$fn$;

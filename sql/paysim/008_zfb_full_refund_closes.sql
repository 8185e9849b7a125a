-- Alipay closes a paid trade once all of it has been refunded: alipay.trade.query then answers
-- TRADE_CLOSED (with its trade_no and total_amount), and a further refund is refused as for any
-- closed trade (paysim.zfb_refund: not_paid). paysim kept such a trade TRADE_SUCCESS, so
-- orderpay's handling of a closed answer for a slip it holds paid (reconcile's check of a slip a
-- void was sent for) was tested only on a state set by hand. A trigger, so zfb_refund's checks
-- stay where they are: it runs under the trade row lock zfb_refund holds, and a repeated
-- out_request_no is still answered from its record before the state is looked at.
CREATE FUNCTION paysim.zfb_close_refunded() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    UPDATE paysim.zfb_trades t SET state = 'TRADE_CLOSED', closed_at = now(), lm = now()
    WHERE t.seller_id = NEW.seller_id AND t.out_trade_no = NEW.out_trade_no AND t.state = 'TRADE_SUCCESS'
      AND t.total_fee <= (SELECT sum(r.refund_fee) FROM paysim.zfb_refunds r
                          WHERE r.seller_id = NEW.seller_id AND r.out_trade_no = NEW.out_trade_no);
    RETURN NULL;
END
$fn$;
CREATE TRIGGER zfb_close_refunded AFTER INSERT ON paysim.zfb_refunds
    FOR EACH ROW EXECUTE FUNCTION paysim.zfb_close_refunded();

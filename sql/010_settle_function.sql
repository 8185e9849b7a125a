-- orderpay schema v10: settlement in one round trip. orderpay_settle does what the client-side
-- transaction did, in the same order and with the same conditional UPDATEs: the slip row lock
-- serialises duplicates; amount, currency, provider and transaction id are checked against the
-- slip; NW/WT -> OK (DN for virtual goods); an expired order takes its stock back in product-id
-- order and settles late, or the slip is flagged refund_needed, as is a second payment. Given a
-- notification row it also writes that row's verdict in the same transaction (only over
-- received/error: a replay racing the live request never overwrites a decision).
-- Outcomes: settled, late_settled, refund_flagged, duplicate, no_slip, mismatch, txn_id_reused.
CREATE FUNCTION orderpay_settle(p_provider text, p_slip text, p_txn text, p_amount bigint,
                                p_currency text, p_row bigint,
                                OUT outcome text, OUT detail text, OUT verdict text,
                                OUT reason text, OUT decided boolean)
LANGUAGE plpgsql AS $fn$
DECLARE
    s pay_slips%ROWTYPE;
    owner text;
    order_st text;
    line record;
BEGIN
    SELECT * INTO s FROM pay_slips WHERE id = p_slip FOR UPDATE;
    IF NOT FOUND THEN
        outcome := 'no_slip';
        detail := 'no slip ' || p_slip;
    ELSIF p_amount <> s.amount OR p_currency <> s.currency THEN
        outcome := 'mismatch';
        detail := format('amount/currency %s %s != slip %s %s', p_amount, p_currency, s.amount, s.currency);
    ELSIF s.st = 'OK' THEN
        IF s.provider_txn_id IS NOT NULL AND s.provider_txn_id <> p_txn THEN
            outcome := 'mismatch';
            detail := format('slip already OK with transaction %s, notified %s', s.provider_txn_id, p_txn);
        ELSE
            outcome := 'duplicate';
            detail := 'slip already OK';
        END IF;
    ELSIF s.provider <> p_provider THEN
        outcome := 'mismatch';
        detail := format('slip %s was issued by %s, not %s', s.id, s.provider, p_provider);
    ELSIF p_txn = '' THEN
        outcome := 'mismatch';
        detail := 'no provider transaction id';
    ELSE
        SELECT id INTO owner FROM pay_slips
        WHERE provider = p_provider AND provider_txn_id = p_txn AND id <> s.id LIMIT 1;
        IF FOUND THEN
            outcome := 'txn_id_reused';
            detail := format('transaction %s already recorded on slip %s', p_txn, owner);
        ELSE
            UPDATE pay_slips SET st = 'OK', provider_txn_id = p_txn, paid_at = now(), lm = now()
            WHERE id = s.id AND st <> 'OK';
            UPDATE orders SET or_st = CASE WHEN tp = 'Q' THEN 'DN' ELSE 'OK' END, ok_at = now(),
                   dn_at = CASE WHEN tp = 'Q' THEN now() END, pay_id = s.id, pay_tp = s.pay_tp, lm = now()
            WHERE id = s.order_id AND or_st IN ('NW', 'WT') RETURNING or_st INTO order_st;
            IF FOUND THEN
                outcome := 'settled';
                detail := format('order %s -> %s', s.order_id, order_st);
            ELSE
                -- The order left NW/WT: expired (FA), or paid through another slip.
                SELECT or_st INTO order_st FROM orders WHERE id = s.order_id FOR UPDATE;
                IF order_st = 'FA' THEN
                    BEGIN
                        FOR line IN SELECT product_id, amount FROM order_items WHERE order_id = s.order_id
                                    ORDER BY product_id COLLATE "C" LOOP
                            UPDATE products SET stock = stock - line.amount, lm = now()
                            WHERE site_id = s.site_id AND id = line.product_id
                              AND (stock IS NULL OR stock >= line.amount);
                            IF NOT FOUND THEN
                                RAISE EXCEPTION USING ERRCODE = 'OP002', MESSAGE = line.product_id;
                            END IF;
                        END LOOP;
                        UPDATE orders SET or_st = CASE WHEN tp = 'Q' THEN 'DN' ELSE 'OK' END, ok_at = now(),
                               dn_at = CASE WHEN tp = 'Q' THEN now() END, pay_id = s.id, pay_tp = s.pay_tp,
                               stock_held = true, lm = now()
                        WHERE id = s.order_id AND or_st = 'FA';
                        outcome := 'late_settled';
                        detail := format('expired order %s settled late', s.order_id);
                    EXCEPTION WHEN SQLSTATE 'OP002' THEN
                        -- The block's stock updates are undone; the payment is kept and flagged.
                        detail := 'paid after expiry and out of stock: refund needed';
                    END;
                ELSE
                    detail := format('order %s already %s: double payment, refund needed', s.order_id,
                                     coalesce(order_st, '?'));
                END IF;
                IF outcome IS NULL THEN
                    UPDATE pay_slips SET refund_needed = true, note = detail, lm = now() WHERE id = s.id;
                    outcome := 'refund_flagged';
                END IF;
            END IF;
        END IF;
    END IF;
    verdict := CASE WHEN outcome IN ('settled', 'late_settled', 'refund_flagged') THEN 'settled'
                    WHEN outcome = 'duplicate' THEN 'duplicate' ELSE 'rejected' END;
    reason := CASE WHEN verdict = 'settled' THEN outcome || ': ' || detail
                   WHEN outcome = 'txn_id_reused' THEN 'txn_id_reused: ' || detail ELSE detail END;
    decided := false;
    IF p_row IS NOT NULL THEN
        UPDATE notifications SET verdict = orderpay_settle.verdict, reason = orderpay_settle.reason,
               slip_id = s.id, decided_at = now()
        WHERE id = p_row AND notifications.verdict IN ('received', 'error');
        decided := FOUND;
    END IF;
END
$fn$;

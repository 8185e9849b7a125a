-- orderpay schema v15: a slip the provider refunded in its own void (Alipay's cancel of a code the
-- buyer paid meanwhile answers action=refund; store::RecordReversal) is marked `reversed`, and
-- the refund the provider made is recorded OK. An operator's refund still in flight at that
-- moment counts against the slip, so only the rest can be recorded then; when that refund fails
-- (the provider refuses to refund a closed trade), what it held is recorded here as the
-- provider's, so the order still ends RF: the money went back exactly once.
ALTER TABLE pay_slips ADD COLUMN reversed boolean NOT NULL DEFAULT false;

CREATE OR REPLACE FUNCTION orderpay_refund_finish(p_refund text, p_ok boolean, p_provider_refund_id text,
                                                  p_note text, OUT outcome text, OUT order_st text)
LANGUAGE plpgsql AS $fn$
DECLARE
    r refunds%ROWTYPE;
    paid bigint;
    rev boolean;
    back bigint;
BEGIN
    UPDATE refunds SET st = CASE WHEN p_ok THEN 'OK' ELSE 'FAIL' END,
           provider_refund_id = coalesce(nullif(p_provider_refund_id, ''), provider_refund_id),
           note = left(p_note, 500), ok_at = CASE WHEN p_ok THEN now() END, lm = now()
    WHERE id = p_refund AND st IN ('NEW', 'PROCESSING') RETURNING * INTO r;
    IF NOT FOUND THEN
        SELECT * INTO r FROM refunds WHERE id = p_refund;
        outcome := CASE WHEN NOT FOUND THEN 'no_refund'
                        WHEN r.st = CASE WHEN p_ok THEN 'OK' ELSE 'FAIL' END THEN 'duplicate'
                        ELSE 'conflict' END;
        RETURN;
    END IF;
    outcome := 'finished';
    SELECT amount, reversed INTO paid, rev FROM pay_slips WHERE id = r.slip_id FOR UPDATE;
    IF NOT p_ok AND rev THEN
        SELECT coalesce(sum(amount), 0) INTO back FROM refunds WHERE slip_id = r.slip_id AND st <> 'FAIL';
        IF back < paid THEN
            INSERT INTO refunds (id, order_id, slip_id, site_id, provider, merchant_id, amount, currency,
                                 reason, st, note, requested_by, ok_at)
            VALUES (substr(md5(r.id || clock_timestamp()::text || random()::text), 1, 26), r.order_id,
                    r.slip_id, r.site_id, r.provider, r.merchant_id, paid - back, r.currency,
                    'paid while being voided; the provider refunded it', 'OK',
                    'refunded by the provider''s void; held by refund ' || r.id || ' until it failed',
                    'provider', now());
        END IF;
    END IF;
    IF p_ok OR rev THEN
        SELECT coalesce(sum(amount), 0) INTO back FROM refunds WHERE slip_id = r.slip_id AND st = 'OK';
        IF back >= paid THEN
            UPDATE orders SET or_st = 'RF', rf_at = now(), lm = now()
            WHERE id = r.order_id AND pay_id = r.slip_id AND or_st IN ('OK', 'SP', 'DN');
        END IF;
    END IF;
    SELECT o.or_st INTO order_st FROM orders o WHERE o.id = r.order_id;
END
$fn$;

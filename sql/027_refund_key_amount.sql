-- orderpay schema v27: a refund's idempotency key replays only the same request. Without an
-- amount, admin/refund (and `orderpay refund ORDER --key K` without --amount) asks for all that
-- is left; sent with a key already used for a partial refund, it was answered that partial refund
-- (replay, 200), and the buyer was silently owed the rest (review s29-attack #2). A refund now
-- remembers whether its amount was asked for (amount_asked true) or was all that was left
-- (false), and the key replays it only for the same body: the same amount again, or no amount
-- again. Anything else is key_conflict (409 e.www.api.idempotency_mismatch), nothing written.
-- An explicit amount equal to what an "all that is left" refund came to is another body, and so
-- refused too: which of the two a retry sends is the caller's choice, and answering both would
-- make the rule depend on what was left at the time.
--
-- amount_asked is NULL on rows made before this migration and on the provider's own refunds
-- (migration 015, no key). For such a row with a key, an equal amount replays it, as before; no
-- amount replays it only when it refunded the whole payment (nothing else could have been
-- left for it); any other no-amount request under its key is refused.
--
-- The function keeps its signature: this build's statements are the same on a database at 026,
-- where the old rule answers until `orderpay migrate` runs. Adding a nullable column without a
-- default rewrites nothing; refunds is locked only for that moment.
ALTER TABLE refunds ADD COLUMN amount_asked boolean;

-- Migration 011's function, but for which earlier refund a key replays (above) and the row's
-- amount_asked. Opens a refund of p_amount (NULL: all that is left) on the slip that paid order
-- p_order, or on slip p_slip (p_order then ignored), under the slip's row lock. Outcomes:
-- created, existing, key_conflict, no_order, no_slip, not_paid, too_much.
CREATE OR REPLACE FUNCTION orderpay_refund_open(p_site text, p_order text, p_slip text, p_amount bigint,
                                                p_reason text, p_by text, p_key text, p_id text,
                                                OUT outcome text, OUT refund_id text, OUT detail text)
LANGUAGE plpgsql AS $fn$
DECLARE
    o orders%ROWTYPE;
    s pay_slips%ROWTYPE;
    r refunds%ROWTYPE;
    taken bigint;
    amt bigint;
BEGIN
    IF p_slip IS NOT NULL THEN
        SELECT * INTO s FROM pay_slips WHERE id = p_slip AND (p_site IS NULL OR site_id = p_site) FOR UPDATE;
        IF NOT FOUND THEN
            outcome := 'no_slip';
            detail := 'no slip ' || p_slip;
            RETURN;
        END IF;
    ELSE
        SELECT * INTO o FROM orders WHERE site_id = p_site AND id = p_order;
        IF NOT FOUND THEN
            outcome := 'no_order';
            detail := 'no order ' || p_order;
            RETURN;
        END IF;
        IF o.or_st NOT IN ('OK', 'SP', 'DN', 'RF') OR o.pay_id IS NULL THEN
            outcome := 'not_paid';
            detail := format('order %s is %s', o.id, o.or_st);
            RETURN;
        END IF;
        SELECT * INTO s FROM pay_slips WHERE id = o.pay_id FOR UPDATE;
    END IF;
    -- Under the lock: a request with the same key that committed meanwhile is seen here.
    IF p_key IS NOT NULL THEN
        SELECT * INTO r FROM refunds WHERE site_id = s.site_id AND idempotency_key = p_key;
        IF FOUND THEN
            refund_id := r.id;
            -- The same body: the same amount again, or no amount again. A row from before this
            -- migration (amount_asked NULL) replays an equal amount, and no amount only when it
            -- was the whole payment: a part of it is not "all that is left".
            IF r.slip_id = s.id
               AND (CASE WHEN r.amount_asked IS NULL THEN coalesce(p_amount, s.amount) = r.amount
                         WHEN r.amount_asked THEN p_amount IS NOT NULL AND p_amount = r.amount
                         ELSE p_amount IS NULL END) THEN
                outcome := 'existing';
                detail := 'idempotency key already used for this refund';
            ELSE
                outcome := 'key_conflict';
                detail := format('idempotency key already used for refund %s of order %s (%s%s)', r.id,
                                 r.order_id, r.amount,
                                 CASE WHEN r.amount_asked THEN ', asked with that amount'
                                      WHEN NOT r.amount_asked THEN ', asked for all that was left'
                                      ELSE '' END);
            END IF;
            RETURN;
        END IF;
    END IF;
    IF s.st <> 'OK' THEN
        outcome := 'not_paid';
        detail := format('slip %s is %s', s.id, s.st);
        RETURN;
    END IF;
    SELECT coalesce(sum(amount), 0) INTO taken FROM refunds WHERE slip_id = s.id AND st <> 'FAIL';
    amt := coalesce(p_amount, s.amount - taken);
    IF amt <= 0 OR amt > s.amount - taken THEN
        outcome := 'too_much';
        detail := format('paid %s, refunded or refunding %s, asked %s', s.amount, taken, amt);
        RETURN;
    END IF;
    BEGIN
        INSERT INTO refunds (id, order_id, slip_id, site_id, provider, merchant_id, amount, currency, reason,
                             requested_by, idempotency_key, amount_asked)
        VALUES (p_id, s.order_id, s.id, s.site_id, s.provider, s.merchant_id, amt, s.currency, p_reason,
                p_by, p_key, p_amount IS NOT NULL);
    EXCEPTION WHEN unique_violation THEN
        -- The same key on another slip of the site, committed meanwhile (no common lock).
        outcome := 'key_conflict';
        detail := 'idempotency key already used for another refund';
        RETURN;
    END;
    outcome := 'created';
    refund_id := p_id;
    detail := format('paid %s, refunded or refunding %s, now %s', s.amount, taken, amt);
END
$fn$;

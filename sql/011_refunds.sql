-- orderpay schema v11: refunds and the operators' API keys.
--
-- A refund is a row of its own; its id is the provider's refund request number (WeChat
-- out_refund_no, Alipay out_request_no), so asking the provider twice refunds once. State:
-- NEW (written, provider not asked) -> PROCESSING (asked; the answer may be unknown) -> OK | FAIL.
-- The sum of a slip's refunds that are not FAIL never exceeds what the slip was paid: only
-- orderpay_refund_open inserts, under the slip's row lock.

-- A fully refunded order: or_st RF, from OK, SP or DN, when the OK refunds of the slip that paid
-- it add up to what it paid.
ALTER TABLE orders DROP CONSTRAINT orders_or_st_check;
ALTER TABLE orders ADD CONSTRAINT orders_or_st_check
    CHECK (or_st IN ('NW', 'WT', 'OK', 'FA', 'SP', 'DN', 'RF'));
ALTER TABLE orders ADD COLUMN rf_at timestamptz;

CREATE TABLE refunds (
    id                  text PRIMARY KEY CHECK (id ~ '^[a-z0-9]{1,32}$'),
    order_id            text NOT NULL REFERENCES orders(id),
    slip_id             text NOT NULL REFERENCES pay_slips(id),
    site_id             text NOT NULL REFERENCES sites(id),
    provider            text NOT NULL,
    merchant_id         text NOT NULL REFERENCES merchants(id),
    amount              bigint NOT NULL CHECK (amount > 0),
    currency            text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    reason              text NOT NULL CHECK (length(reason) BETWEEN 1 AND 80),
    st                  text NOT NULL DEFAULT 'NEW' CHECK (st IN ('NEW', 'PROCESSING', 'OK', 'FAIL')),
    provider_refund_id  text CHECK (length(provider_refund_id) <= 128),
    note                text NOT NULL DEFAULT '',   -- last provider message / failure reason
    requested_by        text NOT NULL CHECK (length(requested_by) BETWEEN 1 AND 80),  -- api:<key id>, cli
    idempotency_key     text CHECK (length(idempotency_key) BETWEEN 1 AND 128),
    ct                  timestamptz NOT NULL DEFAULT now(),
    lm                  timestamptz NOT NULL DEFAULT now(),
    ok_at               timestamptz,
    queried_at          timestamptz,
    UNIQUE (site_id, idempotency_key)
);
CREATE INDEX refunds_order ON refunds (order_id);
CREATE INDEX refunds_slip ON refunds (slip_id);
CREATE INDEX refunds_open ON refunds (ct) WHERE st IN ('NEW', 'PROCESSING');

-- A site's key for the operator API (/api/{site}/admin/...). Only its SHA-256 is stored, like
-- sessions.ticket_hash; a revoked key stays for the refunds' requested_by.
CREATE TABLE api_keys (
    id          text PRIMARY KEY CHECK (id ~ '^[a-z0-9]{1,32}$'),
    site_id     text NOT NULL REFERENCES sites(id),
    key_hash    bytea NOT NULL UNIQUE CHECK (length(key_hash) = 32),
    ct          timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);

-- Opens a refund of p_amount (NULL: all that is left) on the slip that paid order p_order, or on
-- slip p_slip (a refund_needed late payment; p_order is then ignored). The slip row lock
-- serialises every refund of the slip, so the check "amount <= paid - refunds not FAIL" and the
-- insert are one step under any concurrency. An idempotency key already used in the site answers
-- that refund (outcome existing) when it names the same order and amount, else key_conflict.
-- Outcomes: created, existing, key_conflict, no_order, no_slip, not_paid, too_much.
CREATE FUNCTION orderpay_refund_open(p_site text, p_order text, p_slip text, p_amount bigint,
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
            IF r.slip_id = s.id AND (p_amount IS NULL OR p_amount = r.amount) THEN
                outcome := 'existing';
                detail := 'idempotency key already used for this refund';
            ELSE
                outcome := 'key_conflict';
                detail := format('idempotency key already used for refund %s of order %s (%s)', r.id,
                                 r.order_id, r.amount);
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
                             requested_by, idempotency_key)
        VALUES (p_id, s.order_id, s.id, s.site_id, s.provider, s.merchant_id, amt, s.currency, p_reason,
                p_by, p_key);
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

-- Ends a refund NEW/PROCESSING -> OK or FAIL (a conditional UPDATE: a second result changes
-- nothing), and when OK completes the slip that paid its order, takes the order to RF. The slip
-- lock makes two refunds finishing at once see each other's OK before the sum is taken.
-- Outcomes: finished, duplicate (already in that state), conflict (already in the other), no_refund.
CREATE FUNCTION orderpay_refund_finish(p_refund text, p_ok boolean, p_provider_refund_id text, p_note text,
                                       OUT outcome text, OUT order_st text)
LANGUAGE plpgsql AS $fn$
DECLARE
    r refunds%ROWTYPE;
    paid bigint;
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
    IF p_ok THEN
        SELECT amount INTO paid FROM pay_slips WHERE id = r.slip_id FOR UPDATE;
        SELECT coalesce(sum(amount), 0) INTO back FROM refunds WHERE slip_id = r.slip_id AND st = 'OK';
        IF back >= paid THEN
            UPDATE orders SET or_st = 'RF', rf_at = now(), lm = now()
            WHERE id = r.order_id AND pay_id = r.slip_id AND or_st IN ('OK', 'SP', 'DN');
        END IF;
    END IF;
    SELECT o.or_st INTO order_st FROM orders o WHERE o.id = r.order_id;
END
$fn$;

-- orderpay schema v30: a refund recorded FAIL that its provider answered refunded (a refund
-- conflict on record) can be corrected to OK by the operator (`orderpay refund finish R ok`).
--
-- A refund finished FAIL by one path (a REFUND.CLOSED notice while our request was on its way)
-- and then answered OK by the provider is a conflict (migration 029's ANSWER row, or a
-- notification's): reconcile lists the slip, new refunds of it wait a week. Before this, nothing
-- could record that the money did go back: the refund stayed FAIL, its amount counted free, the
-- held list showed it owed, and after the week `refund --slip` paid the buyer a second time
-- (review s36 helper-125 #4). app/refund_operator asks the provider first, read-only, and calls
-- this only when its own record says OK too (or, given --despite-no-answer, it cannot answer).
--
-- The one transition FAIL -> OK is allowed only where a conflict on record names this refund as
-- answered, notified or confirmed OK while recorded otherwise (exactly the reasons app/refund.cpp
-- and app/refund_notice.cpp write), and only if the slip's OK refunds and those in flight leave
-- room for it under the slip's row lock (the lock orderpay_refund_open takes): a refund asked for
-- meanwhile of the money the FAIL freed is either in first (this refuses, 'in_flight') or after
-- (it is refused too_much). The refund is put back to PROCESSING and finished OK by
-- orderpay_refund_finish in the same transaction, so a correction updates exactly what an OK
-- finish does (ok_at, the note, the order RF when the whole payment is back on a counted slip,
-- nothing of the order for a held one) and nothing else ever sees the PROCESSING in between.
-- Outcomes: finished, duplicate (already OK), no_conflict, not_failed, too_much, in_flight,
-- no_refund.
CREATE FUNCTION orderpay_refund_correct(p_refund text, p_note text, OUT outcome text, OUT order_st text,
                                        OUT detail text)
LANGUAGE plpgsql AS $fn$
DECLARE
    r refunds%ROWTYPE;
    paid bigint;
    back bigint;
    flight bigint;
    said text[];
BEGIN
    SELECT * INTO r FROM refunds WHERE id = p_refund;
    IF NOT FOUND THEN
        outcome := 'no_refund';
        RETURN;
    END IF;
    -- The slip first, as orderpay_refund_open locks it: a refund opened of it waits, or is seen.
    SELECT amount INTO paid FROM pay_slips WHERE id = r.slip_id FOR UPDATE;
    said := ARRAY['conflict: refund ' || r.id || ' answered OK, recorded FAIL',
                  'conflict: refund ' || r.id || ' notified OK, recorded otherwise',
                  'conflict: refund ' || r.id || ' confirmed OK, recorded otherwise'];
    SELECT coalesce(sum(amount) FILTER (WHERE st = 'OK'), 0),
           coalesce(sum(amount) FILTER (WHERE st IN ('NEW', 'PROCESSING')), 0)
    INTO back, flight FROM refunds WHERE slip_id = r.slip_id AND id <> r.id;
    UPDATE refunds SET st = 'PROCESSING'
    WHERE id = p_refund AND st = 'FAIL' AND back + flight + amount <= paid
      AND EXISTS (SELECT 1 FROM notifications n WHERE n.slip_id = r.slip_id AND n.verdict = 'ignored'
                  AND n.reason = ANY (said))
    RETURNING * INTO r;
    IF NOT FOUND THEN
        SELECT * INTO r FROM refunds WHERE id = p_refund;
        IF r.st = 'OK' THEN
            outcome := 'duplicate';
        ELSIF r.st <> 'FAIL' THEN
            outcome := 'not_failed';
        ELSIF NOT EXISTS (SELECT 1 FROM notifications n WHERE n.slip_id = r.slip_id AND n.verdict = 'ignored'
                          AND n.reason = ANY (said)) THEN
            outcome := 'no_conflict';
        ELSIF flight > 0 AND back + r.amount <= paid THEN
            outcome := 'in_flight';
            detail := format('paid %s, refunded %s, refunding %s, this refund %s', paid, back, flight, r.amount);
        ELSE
            outcome := 'too_much';
            detail := format('paid %s, refunded %s, refunding %s, this refund %s', paid, back, flight, r.amount);
        END IF;
        SELECT o.or_st INTO order_st FROM orders o WHERE o.id = r.order_id;
        RETURN;
    END IF;
    SELECT f.outcome, f.order_st INTO outcome, order_st FROM orderpay_refund_finish(p_refund, true, '', p_note) f;
END
$fn$;

-- orderpay schema v18: each order line records whether it took stock from a count
-- (`stock_taken`), and only such lines are counted as held and given back. A line of a product
-- sold without a stock count took nothing; once the operator counts that product
-- (`product add --stock N`), the order's expiry gave back a unit no one had taken, and the shelf
-- showed one more than the operator counted (the ledger balanced all the same, as the held sum
-- counted that line too). Lines written before this migration keep counting as taken: that is
-- what the ledger and `stock_initial` assumed when they were written.
--
-- The two functions below are 009's and 010's with only that added: orderpay_create_order marks
-- the lines whose product it took stock from; orderpay_settle, when an expired order takes its
-- stock again to settle late, marks each line by whether its product is counted now. And one
-- mend in orderpay_create_order: a buy no longer fails "out of stock" on a product the operator
-- counts (with units) at that very moment.
ALTER TABLE order_items ADD COLUMN stock_taken boolean NOT NULL DEFAULT true;
-- Every writer of this release says what its line took: no default to guess with.
ALTER TABLE order_items ALTER COLUMN stock_taken DROP DEFAULT;

-- Except one: a buy already inside the previous release's orderpay_create_order when this
-- migration commits. PL/pgSQL compiles a function once per call, so that call goes on with the
-- old body, whose insert names no stock_taken; held up on this migration's table lock, it runs
-- after the commit and would fail on NOT NULL (`orderpay migrate` runs while orderpayd serves).
-- The old body took stock from a line's product exactly when it updated that product's row, so
-- in this very transaction (it has no subtransactions): reading whether the product is counted
-- now would be wrong if `product add --stock` counted it while the old body ran.
CREATE FUNCTION orderpay_item_stock_taken() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    NEW.stock_taken := EXISTS (SELECT 1 FROM orders o JOIN products p ON p.site_id = o.site_id
                               WHERE o.id = NEW.order_id AND p.id = NEW.product_id
                                 AND p.xmin = pg_current_xact_id()::xid);
    RETURN NEW;
END
$fn$;
CREATE TRIGGER order_items_stock_taken BEFORE INSERT ON order_items
    FOR EACH ROW WHEN (NEW.stock_taken IS NULL) EXECUTE FUNCTION orderpay_item_stock_taken();

CREATE OR REPLACE FUNCTION orderpay_create_order(
    p_id text, p_site text, p_tp text, p_title text, p_note text, p_store text, p_buyer text,
    p_pro_c bigint, p_total bigint, p_freight bigint, p_discount bigint, p_price bigint,
    p_fee bigint, p_currency text, p_pay_tp text, p_seller text, p_contact jsonb,
    p_client_ip text, p_expire_minutes integer, p_idem_key text, p_idem_hash bytea,
    s_id text, s_provider text, s_merchant text,
    l_product text[], l_title text[], l_amount bigint[], l_price bigint[], l_subtotal bigint[])
RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
    line record;
    taken integer[] := '{}';
    counted bigint;
BEGIN
    IF p_idem_key IS NOT NULL THEN
        UPDATE orders SET idem_key = NULL, idem_hash = NULL
        WHERE site_id = p_site AND buyer_store = p_store AND buyer_id = p_buyer
          AND idem_key = p_idem_key AND ct <= now() - interval '24 hours';
    END IF;
    FOR line IN SELECT u.product, u.amount, u.n::integer AS n
                FROM unnest(l_product, l_amount) WITH ORDINALITY AS u(product, amount, n)
                ORDER BY u.product COLLATE "C", u.n LOOP
        UPDATE products SET stock = stock - line.amount, lm = now()
        WHERE site_id = p_site AND id = line.product AND stock IS NOT NULL AND stock >= line.amount;
        IF NOT FOUND THEN
            -- A product without a stock count is never updated, so its buyers never queue on its
            -- row lock (held until commit, a WAL flush): only counted stock serialises.
            SELECT stock INTO counted FROM products WHERE site_id = p_site AND id = line.product;
            IF NOT FOUND OR counted < line.amount THEN
                RAISE EXCEPTION USING ERRCODE = 'OP001', MESSAGE = line.product;
            END IF;
            CONTINUE WHEN counted IS NULL;
            -- Counted, with units, yet the UPDATE took none: `product add --stock` committed
            -- between the UPDATE's snapshot (the row uncounted, so skipped without waiting for its
            -- lock) and this one. Take from the count once more rather than refuse the buyer.
            UPDATE products SET stock = stock - line.amount, lm = now()
            WHERE site_id = p_site AND id = line.product AND stock IS NOT NULL AND stock >= line.amount;
            IF NOT FOUND THEN
                RAISE EXCEPTION USING ERRCODE = 'OP001', MESSAGE = line.product;
            END IF;
        END IF;
        taken := taken || line.n;
    END LOOP;
    INSERT INTO orders (id, site_id, tp, title, note, buyer_store, buyer_id, pro_c, total, freight,
                        discount, price, fee, currency, pay_tp, seller, contact, client_ip, expi,
                        pay_id, idem_key, idem_hash)
    VALUES (p_id, p_site, p_tp, p_title, p_note, p_store, p_buyer, p_pro_c, p_total, p_freight,
            p_discount, p_price, p_fee, p_currency, p_pay_tp, p_seller, p_contact, p_client_ip,
            now() + make_interval(mins => p_expire_minutes), s_id, p_idem_key, p_idem_hash);
    INSERT INTO order_items (order_id, pos, product_id, title, amount, price, subtotal, stock_taken)
    SELECT p_id, (u.n - 1)::integer, u.product, u.title, u.amount, u.price, u.subtotal, u.n = ANY(taken)
    FROM unnest(l_product, l_title, l_amount, l_price, l_subtotal)
         WITH ORDINALITY AS u(product, title, amount, price, subtotal, n);
    INSERT INTO pay_slips (id, order_id, site_id, pay_tp, provider, merchant_id, amount, currency)
    VALUES (s_id, p_id, p_site, p_pay_tp, s_provider, s_merchant, p_fee, p_currency);
END
$fn$;

CREATE OR REPLACE FUNCTION orderpay_settle(p_provider text, p_slip text, p_txn text, p_amount bigint,
                                p_currency text, p_row bigint,
                                OUT outcome text, OUT detail text, OUT verdict text,
                                OUT reason text, OUT decided boolean)
LANGUAGE plpgsql AS $fn$
DECLARE
    s pay_slips%ROWTYPE;
    owner text;
    order_st text;
    line record;
    counted boolean;
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
                        FOR line IN SELECT pos, product_id, amount FROM order_items WHERE order_id = s.order_id
                                    ORDER BY product_id COLLATE "C", pos LOOP
                            UPDATE products SET stock = stock - line.amount, lm = now()
                            WHERE site_id = s.site_id AND id = line.product_id
                              AND (stock IS NULL OR stock >= line.amount)
                            RETURNING stock IS NOT NULL INTO counted;
                            IF NOT FOUND THEN
                                RAISE EXCEPTION USING ERRCODE = 'OP002', MESSAGE = line.product_id;
                            END IF;
                            -- What the product counts now is what the line takes and holds.
                            UPDATE order_items SET stock_taken = counted
                            WHERE order_id = s.order_id AND pos = line.pos;
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

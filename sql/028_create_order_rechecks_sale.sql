-- orderpay schema v28: pay/buy's write looks at each product again as it takes it, and refuses
-- the whole order if the product is no longer on sale as the order was priced.
--
-- pay/buy reads the catalogue in one statement (kBuyContext: products active and priced in the
-- site's currency), prices the order in C++ and writes it with orderpay_create_order a moment
-- later, in a transaction of its own. 018's body took stock without looking at the product again,
-- so a product withdrawn in that moment (`product disable`; re-added in another currency, as a
-- site moving with `site set --currency` does; re-priced by `product set --price` or `product
-- add`) was still sold, at the price just read. Now the whole order is refused, nothing written
-- and no stock taken, with SQLSTATE OP003 naming a product, which pay/buy answers as it answers a
-- product not on sale (404 e.io.obj.noexists, "no such product: ID"), when:
-- - the site's currency is no longer the order's (read before any product is taken; the first
--   listed product is named, as the catalogue read would name it a moment later);
-- - a line's product is gone, withdrawn, priced in another currency than the order's, or priced
--   otherwise than the line (a product both withdrawn and short is answered withdrawn, as before).
--
-- A price changed in that moment refuses too: an order carries the price its products have when
-- it takes them, or a correction of a mispriced product (0.01 where 100.00 was meant) could still
-- be bought at the wrong price after `product set --price` returned, and a counted product be sold
-- below the price its row held under this very buy's lock. The buyer who asks again is charged
-- the price the catalogue shows. A title changed meanwhile is no reason: the line keeps its title.
--
-- Where the check runs: a counted product's, in the UPDATE that takes its stock, so under the row
-- lock that UPDATE takes (in product-id order, as before: no new lock, no new deadlock). A change
-- committed while the buy waited for the row is seen (PostgreSQL evaluates the whole condition
-- again on the newest row), and a change that comes later waits for this buy's commit. An
-- uncounted product's row is still never locked (its buyers must not queue on it, nor on a
-- session that holds it: test_buy_one_statement): it is read again, in this transaction. A change
-- that commits between that read and this commit leaves an order decided before the change, as
-- if the buy had committed first; nothing the change writes depends on what this buy writes, so
-- that order of the two is serializable (the order's ct, when its transaction began, also
-- precedes the change).
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
    on_sale boolean;
BEGIN
    IF p_idem_key IS NOT NULL THEN
        UPDATE orders SET idem_key = NULL, idem_hash = NULL
        WHERE site_id = p_site AND buyer_store = p_store AND buyer_id = p_buyer
          AND idem_key = p_idem_key AND ct <= now() - interval '24 hours';
    END IF;
    -- The order first: a request with the same key still in flight holds the key's index entry,
    -- so this waits for its end here and, if it committed, fails with 23505 (pay/buy replays its
    -- order), before any product is judged. Judged first, a retry that waited behind the request
    -- it retries (for a counted product's row) was refused 404 when the product was withdrawn
    -- just after that request committed, or 409 when that request took the last unit, though
    -- the key names an order.
    INSERT INTO orders (id, site_id, tp, title, note, buyer_store, buyer_id, pro_c, total, freight,
                        discount, price, fee, currency, pay_tp, seller, contact, client_ip, expi,
                        pay_id, idem_key, idem_hash)
    VALUES (p_id, p_site, p_tp, p_title, p_note, p_store, p_buyer, p_pro_c, p_total, p_freight,
            p_discount, p_price, p_fee, p_currency, p_pay_tp, p_seller, p_contact, p_client_ip,
            now() + make_interval(mins => p_expire_minutes), s_id, p_idem_key, p_idem_hash);
    -- After the key's release, which may wait for that old order's row, and the order's insert,
    -- which may wait for a request with the same key: what is read from here on is as it is
    -- after those waits.
    IF (SELECT currency FROM sites WHERE id = p_site) IS DISTINCT FROM p_currency THEN
        RAISE EXCEPTION USING ERRCODE = 'OP003', MESSAGE = l_product[1];
    END IF;
    FOR line IN SELECT u.product, u.amount, u.price, u.n::integer AS n
                FROM unnest(l_product, l_amount, l_price) WITH ORDINALITY AS u(product, amount, price, n)
                ORDER BY u.product COLLATE "C", u.n LOOP
        FOR attempt IN 1..2 LOOP
            UPDATE products SET stock = stock - line.amount, lm = now()
            WHERE site_id = p_site AND id = line.product AND stock IS NOT NULL AND stock >= line.amount
              AND active AND currency = p_currency AND price = line.price;
            IF FOUND THEN
                taken := taken || line.n;
                EXIT;
            END IF;
            -- A product without a stock count is never updated, so its buyers never queue on its
            -- row lock (held until commit, a WAL flush): only counted stock serialises.
            SELECT stock, active AND currency = p_currency AND price = line.price INTO counted, on_sale
            FROM products WHERE site_id = p_site AND id = line.product;
            IF NOT FOUND OR on_sale IS NOT TRUE THEN
                RAISE EXCEPTION USING ERRCODE = 'OP003', MESSAGE = line.product;
            END IF;
            EXIT WHEN counted IS NULL;
            -- Counted, with units, yet the UPDATE took none: `product add --stock` committed
            -- between the UPDATE's snapshot (the row uncounted, so skipped without waiting for its
            -- lock) and this one. Take from the count once more rather than refuse the buyer.
            IF counted < line.amount OR attempt = 2 THEN
                RAISE EXCEPTION USING ERRCODE = 'OP001', MESSAGE = line.product;
            END IF;
        END LOOP;
    END LOOP;
    INSERT INTO order_items (order_id, pos, product_id, title, amount, price, subtotal, stock_taken)
    SELECT p_id, (u.n - 1)::integer, u.product, u.title, u.amount, u.price, u.subtotal, u.n = ANY(taken)
    FROM unnest(l_product, l_title, l_amount, l_price, l_subtotal)
         WITH ORDINALITY AS u(product, title, amount, price, subtotal, n);
    INSERT INTO pay_slips (id, order_id, site_id, pay_tp, provider, merchant_id, amount, currency)
    VALUES (s_id, p_id, p_site, p_pay_tp, s_provider, s_merchant, p_fee, p_currency);
END
$fn$;

-- orderpay schema v9: pay/buy's write in one round trip. The function does exactly what the
-- client-side transaction did (release an expired idempotency key, take counted stock in
-- product-id order, insert order, lines and slip), so the guarantees are unchanged: the conditional stock
-- UPDATE never oversells, the canonical lock order never deadlocks, and the statement is one
-- transaction. A product out of stock raises SQLSTATE OP001 with the product id as the message,
-- which rolls back every stock taken before it.
CREATE FUNCTION orderpay_create_order(
    p_id text, p_site text, p_tp text, p_title text, p_note text, p_store text, p_buyer text,
    p_pro_c bigint, p_total bigint, p_freight bigint, p_discount bigint, p_price bigint,
    p_fee bigint, p_currency text, p_pay_tp text, p_seller text, p_contact jsonb,
    p_client_ip text, p_expire_minutes integer, p_idem_key text, p_idem_hash bytea,
    s_id text, s_provider text, s_merchant text,
    l_product text[], l_title text[], l_amount bigint[], l_price bigint[], l_subtotal bigint[])
RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
    line record;
BEGIN
    IF p_idem_key IS NOT NULL THEN
        UPDATE orders SET idem_key = NULL, idem_hash = NULL
        WHERE site_id = p_site AND buyer_store = p_store AND buyer_id = p_buyer
          AND idem_key = p_idem_key AND ct <= now() - interval '24 hours';
    END IF;
    FOR line IN SELECT u.product, u.amount FROM unnest(l_product, l_amount) AS u(product, amount)
                ORDER BY u.product COLLATE "C" LOOP
        UPDATE products SET stock = stock - line.amount, lm = now()
        WHERE site_id = p_site AND id = line.product AND stock IS NOT NULL AND stock >= line.amount;
        -- A product without a stock count is never updated, so its buyers never queue on its
        -- row lock (held until commit, a WAL flush): only counted stock serialises.
        IF NOT FOUND AND NOT EXISTS (SELECT 1 FROM products WHERE site_id = p_site AND id = line.product
                                                                 AND stock IS NULL) THEN
            RAISE EXCEPTION USING ERRCODE = 'OP001', MESSAGE = line.product;
        END IF;
    END LOOP;
    INSERT INTO orders (id, site_id, tp, title, note, buyer_store, buyer_id, pro_c, total, freight,
                        discount, price, fee, currency, pay_tp, seller, contact, client_ip, expi,
                        pay_id, idem_key, idem_hash)
    VALUES (p_id, p_site, p_tp, p_title, p_note, p_store, p_buyer, p_pro_c, p_total, p_freight,
            p_discount, p_price, p_fee, p_currency, p_pay_tp, p_seller, p_contact, p_client_ip,
            now() + make_interval(mins => p_expire_minutes), s_id, p_idem_key, p_idem_hash);
    INSERT INTO order_items (order_id, pos, product_id, title, amount, price, subtotal)
    SELECT p_id, (u.n - 1)::integer, u.product, u.title, u.amount, u.price, u.subtotal
    FROM unnest(l_product, l_title, l_amount, l_price, l_subtotal)
         WITH ORDINALITY AS u(product, title, amount, price, subtotal, n);
    INSERT INTO pay_slips (id, order_id, site_id, pay_tp, provider, merchant_id, amount, currency)
    VALUES (s_id, p_id, p_site, p_pay_tp, s_provider, s_merchant, p_fee, p_currency);
END
$fn$;

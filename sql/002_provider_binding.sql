-- orderpay schema v2: notifications keep every byte of the request so any row can be evaluated
-- again (`orderpay inbox replay`), and a failed slip remembers when its provider confirmed it
-- closed, so `orderpay reconcile` keeps asking about superseded slips until then.

-- Headers were jsonb, which refuses bytes that are not UTF-8: one odd header byte lost the whole
-- notification. They are now a form-encoded string (every byte percent-escaped as needed).
ALTER TABLE notifications
    ADD COLUMN method      text NOT NULL DEFAULT 'POST' CHECK (method ~ '^[A-Z]{1,16}$'),
    ADD COLUMN query       bytea NOT NULL DEFAULT ''::bytea,
    ADD COLUMN header_form text NOT NULL DEFAULT '' CHECK (header_form ~ '^[ -~]*$'),
    ADD COLUMN decided_at  timestamptz;

CREATE FUNCTION pg_temp.pct(t text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(string_agg(CASE WHEN b BETWEEN 48 AND 57 OR b BETWEEN 65 AND 90
                                         OR b BETWEEN 97 AND 122 OR b IN (45, 46, 95, 126)
                                    THEN chr(b) ELSE '%' || upper(lpad(to_hex(b), 2, '0')) END,
                               '' ORDER BY i), '')
    FROM (SELECT i, get_byte(convert_to(t, 'UTF8'), i) AS b
          FROM generate_series(0, octet_length(convert_to(t, 'UTF8')) - 1) AS i) AS bytes
$$;

UPDATE notifications SET
    header_form = (SELECT coalesce(string_agg(pg_temp.pct(key) || '=' || pg_temp.pct(value), '&'
                                              ORDER BY key), '')
                   FROM jsonb_each_text(headers)),
    decided_at = CASE WHEN verdict <> 'received' THEN ct END;

ALTER TABLE notifications DROP COLUMN headers;

-- The replay timer looks for rows a dying worker left undecided.
CREATE INDEX notifications_received ON notifications (ct) WHERE verdict = 'received';

ALTER TABLE pay_slips ADD COLUMN closed_at timestamptz;
-- Failed slips whose provider has not yet confirmed them closed and unpaid.
CREATE INDEX pay_slips_unconfirmed ON pay_slips (ct) WHERE st = 'FAIL' AND closed_at IS NULL;

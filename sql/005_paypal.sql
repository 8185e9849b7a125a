-- orderpay schema v5: what PayPal needs beyond the first two providers.
--
-- PayPal names a payment by its own order id, not ours: the buyer's return carries only that
-- (?token=...), and query and capture address it. A slip records it once its provider gives it.
ALTER TABLE pay_slips ADD COLUMN provider_ref text CHECK (provider_ref ~ '^[!-~]{1,64}$');
CREATE UNIQUE INDEX pay_slips_provider_ref ON pay_slips (provider, provider_ref)
    WHERE provider_ref IS NOT NULL;

-- Where a provider sends the buyer's browser back to: the shop's own page, the order id appended.
ALTER TABLE sites ADD COLUMN return_url text
    CHECK (length(return_url) <= 500 AND return_url ~ '^https?://[!-~]+$');

-- A PayPal merchant's webhooks are signed with SHA256withRSA by PayPal's certificate.
ALTER TABLE merchants DROP CONSTRAINT merchants_sign_type_check;
ALTER TABLE merchants ADD CONSTRAINT merchants_sign_type_check
    CHECK (sign_type IN ('MD5', 'HMAC-SHA256', 'RSA2', 'SHA256withRSA'));

-- Values every worker shares and none should fetch per request (PayPal's OAuth2 access token,
-- valid for hours). Secret like merchants.api_key: never logged or replied.
CREATE TABLE provider_cache (
    key         text PRIMARY KEY CHECK (length(key) BETWEEN 1 AND 200),
    value       text NOT NULL,
    expires_at  timestamptz NOT NULL
);

-- Webhook event ids (PayPal's WH-...): a redelivered event is a duplicate of the first decided one.
ALTER TABLE notifications ADD COLUMN event_id text;
CREATE INDEX notifications_event ON notifications (provider, event_id) WHERE event_id IS NOT NULL;

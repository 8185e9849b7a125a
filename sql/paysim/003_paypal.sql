-- paysim's PayPal (provider 'paypal'): merchants are REST apps (mch_id = client id, api_key =
-- secret, app_id = the webhook id its webhooks are signed for); tokens it issued; and Orders v2
-- orders with their one capture.
ALTER TABLE paysim.merchants DROP CONSTRAINT merchants_sign_type_check;
ALTER TABLE paysim.merchants ADD CONSTRAINT merchants_sign_type_check
    CHECK (sign_type IN ('MD5', 'HMAC-SHA256', 'RSA2', 'SHA256withRSA'));

CREATE TABLE paysim.pp_tokens (
    token       text PRIMARY KEY,
    client_id   text NOT NULL,
    expires_at  timestamptz NOT NULL,
    ct          timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE paysim.pp_orders (
    id                  text PRIMARY KEY,
    client_id           text NOT NULL,
    request_id          text,                      -- PayPal-Request-Id of the create
    custom_id           text NOT NULL DEFAULT '',
    invoice_id          text NOT NULL DEFAULT '',
    currency            text NOT NULL,
    value               text NOT NULL,             -- the amount exactly as the merchant sent it
    return_url          text NOT NULL DEFAULT '',
    cancel_url          text NOT NULL DEFAULT '',
    status              text NOT NULL CHECK (status IN ('PAYER_ACTION_REQUIRED', 'APPROVED', 'COMPLETED', 'VOIDED')),
    payer_id            text,
    capture_id          text UNIQUE,
    capture_status      text CHECK (capture_status IN ('COMPLETED', 'PENDING', 'DECLINED')),
    capture_request_id  text,
    captures            integer NOT NULL DEFAULT 0,  -- captures performed (a test wants exactly one)
    capture_calls       integer NOT NULL DEFAULT 0,  -- capture requests answered
    ct                  timestamptz NOT NULL DEFAULT now(),
    lm                  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (client_id, request_id)
);
CREATE INDEX pp_orders_custom_id ON paysim.pp_orders (custom_id);

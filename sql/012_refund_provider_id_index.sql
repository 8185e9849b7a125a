-- orderpay schema v12: refunds found by the provider's own refund id. A refund notification or
-- query answer that names only the provider's id (refund_by_provider_id: provider and
-- provider_refund_id) read the whole refunds table, at any size: no index had the column.
CREATE INDEX refunds_provider_refund_id ON refunds (provider, provider_refund_id)
    WHERE provider_refund_id IS NOT NULL;

-- Webhook secret rotation: after a rotation the replaced secret keeps signing
-- deliveries, beside the new one, until previous_secret_expires_at, so receivers
-- can switch to the new secret without refusing a delivery meanwhile. Both are
-- NULL when there is no previous secret. Rotating again replaces them: only the
-- secret just replaced keeps signing.
ALTER TABLE webhook_endpoints
    ADD COLUMN previous_secret text,
    ADD COLUMN previous_secret_expires_at timestamptz,
    ADD CONSTRAINT webhook_endpoints_previous_secret
        CHECK ((previous_secret IS NULL) = (previous_secret_expires_at IS NULL));

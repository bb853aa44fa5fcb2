"""Job webhooks: an outbox written with each change it reports, signed deliveries (Standard Webhooks), retries."""

-- +goose Up
-- Plans are data: price, Stripe price, limits and overage prices by meter. A limit absent (or -1) is
-- none; a meter with an overage price is invoiced beyond its limit instead of refused.
CREATE TABLE plans (
    name            text    PRIMARY KEY,
    position        int     NOT NULL,
    price_cents     bigint  NOT NULL CHECK (price_cents >= 0),
    currency        text    NOT NULL,
    stripe_price_id text    NOT NULL DEFAULT '',
    limits          jsonb   NOT NULL DEFAULT '{}',
    overage_cents   jsonb   NOT NULL DEFAULT '{}'
);
INSERT INTO plans (name, position, price_cents, currency, stripe_price_id, limits, overage_cents) VALUES
    ('free',       1,     0, 'usd', '',
     '{"projects": 3, "members": 5, "storage_bytes": 104857600}', '{}'),
    ('pro',        2,  2900, 'usd', 'price_acme_pro',
     '{"projects": 50, "members": 25, "storage_bytes": 10737418240}', '{"members": 500, "storage_bytes": 25}'),
    ('enterprise', 3, 19900, 'usd', 'price_acme_enterprise', '{}', '{}');

-- One subscription per billing account (the user); only Stripe ids, never card data.
CREATE TABLE subscriptions (
    account_id             text        PRIMARY KEY,
    plan                   text        NOT NULL REFERENCES plans (name),
    status                 text        NOT NULL,
    cancel_at_period_end   boolean     NOT NULL DEFAULT false,
    period_start           timestamptz NOT NULL,
    period_end             timestamptz NOT NULL,
    stripe_customer_id     text        NOT NULL DEFAULT '',
    stripe_subscription_id text        NOT NULL DEFAULT '',
    stripe_event_at        timestamptz NOT NULL DEFAULT 'epoch',
    proration_cents        bigint      NOT NULL DEFAULT 0,
    billing_email          text        NOT NULL DEFAULT '',
    region                 text        NOT NULL DEFAULT 'us',
    version                bigint      NOT NULL,
    updated_at             timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX subscriptions_stripe ON subscriptions (stripe_subscription_id) WHERE stripe_subscription_id <> '';
CREATE INDEX subscriptions_due ON subscriptions (period_end) WHERE status IN ('active', 'past_due', 'incomplete');

-- What an operation (the client's Idempotency-Key) answered: a retry gets the same answer and
-- makes no second Stripe call.
CREATE TABLE operations (
    account_id   text        NOT NULL,
    operation_id text        NOT NULL,
    kind         text        NOT NULL,
    response     jsonb       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, operation_id)
);

-- Every Stripe event applied, once: written in the transaction of its effect.
CREATE TABLE stripe_events (
    id          text        PRIMARY KEY,
    type        text        NOT NULL,
    created     timestamptz NOT NULL,
    outcome     text        NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);

-- Usage: current counts per account and meter, and the events already counted.
CREATE TABLE usage (
    account_id text   NOT NULL,
    meter      text   NOT NULL,
    value      bigint NOT NULL,
    PRIMARY KEY (account_id, meter)
);
CREATE TABLE usage_events (
    event_id   text        PRIMARY KEY,
    counted_at timestamptz NOT NULL DEFAULT now()
);
-- Whose usage a project counts in, and how many members it has.
CREATE TABLE project_accounts (
    project_id text   PRIMARY KEY,
    account_id text   NOT NULL,
    members    bigint NOT NULL
);

CREATE TABLE invoices (
    id                uuid        PRIMARY KEY,
    account_id        text        NOT NULL,
    period_start      timestamptz NOT NULL,
    period_end        timestamptz NOT NULL,
    total_cents       bigint      NOT NULL,
    currency          text        NOT NULL,
    status            text        NOT NULL,
    stripe_invoice_id text        NOT NULL DEFAULT '',
    payment_attempts  bigint      NOT NULL DEFAULT 0,
    usage_reported    boolean     NOT NULL DEFAULT false,
    created_at        timestamptz NOT NULL,
    -- one invoice per account and period, however many workers close it
    UNIQUE (account_id, period_start)
);
CREATE INDEX invoices_unmirrored ON invoices (created_at) WHERE stripe_invoice_id = '';
CREATE TABLE invoice_lines (
    invoice_id   uuid   NOT NULL REFERENCES invoices (id) ON DELETE CASCADE,
    n            int    NOT NULL,
    description  text   NOT NULL,
    meter        text   NOT NULL,
    quantity     bigint NOT NULL,
    unit_cents   bigint NOT NULL,
    amount_cents bigint NOT NULL,
    PRIMARY KEY (invoice_id, n)
);

-- The shop schema that examples/sources/postgres.yaml reads, in the database `test`:
--   psql -h 127.0.0.1 -U postgres -d test -f examples/data/postgres_shop.sql
-- Remove it again with: DROP SCHEMA shop CASCADE;
CREATE SCHEMA shop;

CREATE TABLE shop.customers (
    customer_id integer PRIMARY KEY,
    email varchar(120) NOT NULL UNIQUE,
    full_name text NOT NULL,
    country char(2),
    signed_up_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE shop.customers IS 'People who bought at least once';
COMMENT ON COLUMN shop.customers.email IS 'Where receipts go';

CREATE TABLE shop.orders (
    order_id bigint PRIMARY KEY,
    customer_id integer NOT NULL REFERENCES shop.customers (customer_id),
    ordered_on date NOT NULL,
    status text NOT NULL DEFAULT 'new',
    total numeric(10, 2)
);

CREATE VIEW shop.customer_orders AS
SELECT c.customer_id, c.email, o.order_id, o.ordered_on, o.total
FROM shop.customers AS c
JOIN shop.orders AS o ON o.customer_id = c.customer_id;

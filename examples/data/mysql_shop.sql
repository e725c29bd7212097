-- The shop database that examples/sources/mysql.yaml reads:
--   mariadb -h 127.0.0.1 -u root < examples/data/mysql_shop.sql
-- Remove it again with: DROP DATABASE shop;
CREATE DATABASE shop;

CREATE TABLE shop.customers (
    customer_id int PRIMARY KEY,
    email varchar(120) NOT NULL UNIQUE,
    full_name text NOT NULL,
    country char(2),
    signed_up_at datetime NOT NULL DEFAULT CURRENT_TIMESTAMP
) COMMENT 'People who bought at least once';

CREATE TABLE shop.orders (
    order_id bigint unsigned PRIMARY KEY,
    customer_id int NOT NULL,
    ordered_on date NOT NULL,
    status enum('new', 'paid', 'shipped') NOT NULL DEFAULT 'new',
    total decimal(10, 2),
    FOREIGN KEY (customer_id) REFERENCES shop.customers (customer_id)
);

CREATE VIEW shop.customer_orders AS
SELECT c.customer_id, c.email, o.order_id, o.ordered_on, o.total
FROM shop.customers AS c
JOIN shop.orders AS o ON o.customer_id = c.customer_id;

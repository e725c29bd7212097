-- A small shop: the fixture behind the sql connector's tests and examples.
-- Rebuild examples/data/shop.sqlite with: python examples/data/make_shop.py

CREATE TABLE customers (
    customer_id INTEGER PRIMARY KEY,
    email VARCHAR(120) NOT NULL,
    full_name TEXT NOT NULL,
    country CHAR(2),
    signed_up_at TIMESTAMP NOT NULL,
    is_active BOOLEAN NOT NULL DEFAULT 1,
    CONSTRAINT uq_customers_email UNIQUE (email)
);

CREATE TABLE products (
    product_id INTEGER PRIMARY KEY,
    sku VARCHAR(32) NOT NULL,
    name NVARCHAR(200) NOT NULL,
    price DECIMAL(10,2) NOT NULL,
    weight_kg REAL,
    photo BLOB,
    CONSTRAINT uq_products_sku UNIQUE (sku)
);

CREATE TABLE orders (
    order_id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers (customer_id),
    ordered_on DATE NOT NULL,
    status VARCHAR(20) NOT NULL DEFAULT 'new',
    note TEXT
);

CREATE TABLE order_items (
    order_id INTEGER NOT NULL,
    line_no INTEGER NOT NULL,
    product_id INTEGER NOT NULL,
    quantity INTEGER NOT NULL,
    unit_price DECIMAL(10,2) NOT NULL,
    PRIMARY KEY (order_id, line_no),
    FOREIGN KEY (order_id) REFERENCES orders (order_id),
    FOREIGN KEY (product_id) REFERENCES products (product_id)
);

-- A name with a dot: its FQN part must be quoted.
CREATE TABLE "order.archive" (
    order_id INTEGER PRIMARY KEY,
    archived_at TIMESTAMP NOT NULL,
    payload BLOB
);

CREATE VIEW customer_orders AS
SELECT c.customer_id, c.email, o.order_id, o.ordered_on AS order_date, o.status
FROM customers AS c
JOIN orders AS o ON o.customer_id = c.customer_id;

-- A view over a view: lineage must reach it through customer_orders.
CREATE VIEW revenue_by_product AS
SELECT p.product_id, p.name AS product_name, co.order_date,
       SUM(oi.quantity * oi.unit_price) AS revenue
FROM order_items AS oi
JOIN products AS p ON p.product_id = oi.product_id
JOIN customer_orders AS co ON co.order_id = oi.order_id
GROUP BY p.product_id, p.name, co.order_date;

INSERT INTO customers VALUES
    (1, 'ada@example.com', 'Ada Lovelace', 'GB', '2024-01-05 10:00:00', 1),
    (2, 'grace@example.com', 'Grace Hopper', 'US', '2024-02-11 09:30:00', 1);
INSERT INTO products VALUES
    (1, 'TEA-01', 'Green tea', 4.50, 0.1, NULL),
    (2, 'MUG-02', 'Mug', 9.90, 0.35, NULL);
INSERT INTO orders VALUES
    (1, 1, '2024-03-01', 'shipped', NULL),
    (2, 2, '2024-03-02', 'new', 'gift wrap');
INSERT INTO order_items VALUES
    (1, 1, 1, 2, 4.50),
    (1, 2, 2, 1, 9.90),
    (2, 1, 2, 2, 9.90);
INSERT INTO "order.archive" VALUES (100, '2023-12-31 23:59:59', NULL);

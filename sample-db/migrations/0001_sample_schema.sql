-- The built-in sample data source (binding SAMPLE_DB): a small online shop over 2024–2025.
-- A database of its own, apart from the application's D1, so no widget query can reach app data.
-- Rows come from scripts/sample-seed.mjs (deterministic), not from migrations.

CREATE TABLE customers (
  id          INTEGER PRIMARY KEY,
  name        TEXT    NOT NULL,
  email       TEXT    NOT NULL UNIQUE,
  country     TEXT    NOT NULL,
  city        TEXT    NOT NULL,
  -- consumer | business | enterprise
  segment     TEXT    NOT NULL,
  -- YYYY-MM-DD
  signup_date TEXT    NOT NULL
);
CREATE INDEX customers_country_idx ON customers (country);
CREATE INDEX customers_signup_idx ON customers (signup_date);

CREATE TABLE products (
  id         INTEGER PRIMARY KEY,
  sku        TEXT    NOT NULL UNIQUE,
  name       TEXT    NOT NULL,
  category   TEXT    NOT NULL,
  -- List price and unit cost in USD.
  unit_price REAL    NOT NULL,
  unit_cost  REAL    NOT NULL
);
CREATE INDEX products_category_idx ON products (category);

CREATE TABLE orders (
  id          INTEGER PRIMARY KEY,
  customer_id INTEGER NOT NULL REFERENCES customers (id),
  -- YYYY-MM-DD
  order_date  TEXT    NOT NULL,
  -- completed | shipped | processing | refunded | cancelled
  status      TEXT    NOT NULL,
  -- web | mobile | store
  channel     TEXT    NOT NULL,
  -- Sum of the order's line totals, USD.
  total       REAL    NOT NULL
);
CREATE INDEX orders_date_idx ON orders (order_date);
CREATE INDEX orders_customer_idx ON orders (customer_id);

CREATE TABLE order_items (
  id         INTEGER PRIMARY KEY,
  order_id   INTEGER NOT NULL REFERENCES orders (id),
  product_id INTEGER NOT NULL REFERENCES products (id),
  quantity   INTEGER NOT NULL,
  -- Price charged per unit before the discount, USD.
  unit_price REAL    NOT NULL,
  -- Fraction off, 0 to 0.25.
  discount   REAL    NOT NULL,
  -- quantity * unit_price * (1 - discount), rounded to cents.
  line_total REAL    NOT NULL
);
CREATE INDEX order_items_order_idx ON order_items (order_id);
CREATE INDEX order_items_product_idx ON order_items (product_id);

#!/usr/bin/env bash
# Generates a sample "shop" SQLite database with the sqlite3 CLI only (pure SQL, WITH RECURSIVE).
#   bash scripts/gen-shop-db.sh OUT.db [CUSTOMERS]
# CUSTOMERS (default 4000) scales everything: products = C/4, orders = 3*C, order_items ~ 2.5 per
# order, invoices = 4/5 of orders, audit_log = 2*C. The default gives ~60,000 rows.
# Realistic types: integer keys, text with unicode, NULLs, booleans, NUMERIC(10,2), timestamps,
# JSON, BLOBs, a composite primary key.
set -euo pipefail
db=${1:?usage: gen-shop-db.sh OUT.db [CUSTOMERS]}
c=${2:-4000}
p=$(( c / 4 > 0 ? c / 4 : 1 ))
o=$(( c * 3 ))
a=$(( c * 2 ))
rm -f "$db" "$db-wal" "$db-shm"

sqlite3 "$db" >/dev/null <<SQL
PRAGMA journal_mode = WAL;
BEGIN;
CREATE TABLE customers (
  id         INTEGER PRIMARY KEY,
  name       TEXT NOT NULL,
  email      TEXT UNIQUE,
  ssn        TEXT,
  created_at TIMESTAMP NOT NULL,
  is_vip     BOOLEAN NOT NULL DEFAULT 0
);
CREATE TABLE products (
  id        INTEGER PRIMARY KEY,
  sku       VARCHAR(32) NOT NULL UNIQUE,
  name      TEXT NOT NULL,
  price     NUMERIC(10,2) NOT NULL,
  stock     INTEGER,
  data      JSON,
  thumbnail BLOB
);
CREATE TABLE orders (
  id          INTEGER PRIMARY KEY,
  customer_id INTEGER NOT NULL REFERENCES customers(id),
  total       NUMERIC(12,2),
  status      TEXT NOT NULL CHECK (status IN ('new','paid','shipped','cancelled')),
  updated_at  TIMESTAMP NOT NULL
);
CREATE TABLE order_items (
  order_id   INTEGER NOT NULL REFERENCES orders(id),
  line_no    INTEGER NOT NULL,
  product_id INTEGER NOT NULL REFERENCES products(id),
  qty        INTEGER NOT NULL,
  price      NUMERIC(10,2) NOT NULL,
  PRIMARY KEY (order_id, line_no)
);
CREATE TABLE invoices (
  id         INTEGER PRIMARY KEY,
  order_id   INTEGER NOT NULL REFERENCES orders(id),
  amount     NUMERIC(12,2) NOT NULL,
  updated_at TIMESTAMP NOT NULL
);
CREATE TABLE audit_log (
  id     INTEGER PRIMARY KEY,
  at     TIMESTAMP NOT NULL,
  actor  TEXT,
  action TEXT NOT NULL,
  detail TEXT
);

WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < $c)
INSERT INTO customers
SELECT i,
       (CASE i % 7 WHEN 0 THEN 'Zoë' WHEN 1 THEN 'Jürgen' WHEN 2 THEN '李小龍' WHEN 3 THEN 'Ana María'
                   WHEN 4 THEN 'Olivia' WHEN 5 THEN 'Søren' ELSE 'Дмитрий' END) || ' #' || i,
       CASE WHEN i % 13 = 0 THEN NULL ELSE 'customer' || i || '@example.com' END,
       CASE WHEN i % 5 = 0 THEN NULL ELSE printf('%03d-%02d-%04d', 100 + i % 800, 10 + i % 89, 1000 + i % 8999) END,
       datetime('2020-01-01', '+' || (i * 37 % 1500) || ' days', '+' || (i * 7919 % 86400) || ' seconds'),
       i % 10 = 0
FROM seq;

WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < $p)
INSERT INTO products
SELECT i,
       printf('SKU-%06d', i),
       (CASE i % 4 WHEN 0 THEN 'Widget' WHEN 1 THEN 'Gadget' WHEN 2 THEN 'Kaffeemühle' ELSE 'Thé vert' END) || ' ' || i,
       round((i * 7919 % 100000) / 100.0 + 0.99, 2),
       CASE WHEN i % 9 = 0 THEN NULL ELSE i * 31 % 500 END,
       CASE WHEN i % 11 = 0 THEN NULL
            ELSE json_object('color', CASE i % 3 WHEN 0 THEN 'red' WHEN 1 THEN 'green' ELSE 'blue' END,
                             'weight_g', i % 1000, 'tags', json_array('tag' || (i % 5), 'tag' || (i % 7))) END,
       CASE WHEN i % 4 = 0 THEN NULL ELSE randomblob(32 + i % 96) END
FROM seq;

WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < $o)
INSERT INTO orders
SELECT i, 1 + (i * 7 % $c), NULL,
       CASE i % 4 WHEN 0 THEN 'new' WHEN 1 THEN 'paid' WHEN 2 THEN 'shipped' ELSE 'cancelled' END,
       datetime('2023-01-01', '+' || (i * 13 % 700) || ' days', '+' || (i * 101 % 86400) || ' seconds')
FROM seq;

WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < $o),
     lines(n) AS (VALUES (1), (2), (3), (4))
INSERT INTO order_items
SELECT i, n, 1 + ((i * 3 + n * 17) % $p), 1 + (i + n) % 5, round(((i * n * 7919) % 20000) / 100.0 + 0.5, 2)
FROM seq, lines
WHERE n <= 1 + i % 4;

UPDATE orders SET total = (SELECT round(sum(qty * price), 2) FROM order_items WHERE order_id = orders.id);

INSERT INTO invoices (id, order_id, amount, updated_at)
SELECT id, id, total, datetime(updated_at, '+1 day') FROM orders WHERE id % 5 != 0;

WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < $a)
INSERT INTO audit_log
SELECT i, datetime('2024-01-01', '+' || i || ' minutes'), CASE WHEN i % 3 = 0 THEN NULL ELSE 'user' || (i % 17) END,
       CASE i % 3 WHEN 0 THEN 'login' WHEN 1 THEN 'update' ELSE 'export' END, 'entry ' || i
FROM seq;
COMMIT;
SQL

sqlite3 "$db" "SELECT 'gen-shop-db: ' || (SELECT count(*) FROM customers) || ' customers, '
  || (SELECT count(*) FROM products) || ' products, ' || (SELECT count(*) FROM orders) || ' orders, '
  || (SELECT count(*) FROM order_items) || ' order_items, ' || (SELECT count(*) FROM invoices) || ' invoices, '
  || (SELECT count(*) FROM audit_log) || ' audit_log rows';"

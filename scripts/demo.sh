#!/usr/bin/env bash
# README command (a): the whole story on a sample database, start to finish.
#   installs dependencies, builds and installs cdc, generates demo/shop.db, replicates it live into
#   demo/replica.db while writing to the source, stops, and verifies. Exit code: verify's.
# Idempotent: demo/ is recreated on every run.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

# BUILD_DIR (default build) and PREFIX (default out/install) are passed on to build.sh.
export PREFIX=${PREFIX:-$root/out/install}
bash scripts/install-deps.sh
bash scripts/build.sh
cli=$PREFIX/bin/cdc-cli

rm -rf demo
mkdir -p demo
step() { printf '\n==> %s\n' "$*"; }

step "generating demo/shop.db"
bash scripts/gen-shop-db.sh demo/shop.db 4000

step "writing demo/cdc.yaml"
cat > demo/cdc.yaml <<YAML
# cdc demo: replicate the shop database, leaving audit tables behind.
name: shop-demo
source: sqlite://$root/demo/shop.db
destination: sqlite://$root/demo/replica.db
exclude: ["audit_*"]
parallel_tables: 2
poll_interval_ms: 200
defaults:
  batch_size: 5000
  chunk_rows: 10000
tables:
  customers:
    exclude_columns: [ssn]       # personal data stays at the source
    rename: {is_vip: vip}
  products:
    target: catalog_products     # another name at the destination
  orders:
    delete: soft                 # deleted orders stay, flagged _cdc_deleted = 1
  order_items:
    batch_size: 2000
YAML
cat demo/cdc.yaml

step "discover (what would be created)"
"$cli" discover "sqlite://$root/demo/shop.db" --to "sqlite://$root/demo/preview.db" --tables 'customers,products'
rm -f demo/preview.db*

step "starting cdc-cli replicate in the background (log: demo/replicate.log)"
"$cli" replicate -c demo/cdc.yaml > demo/replicate.log 2>&1 &
pid=$!
stop_replicate() { kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
trap stop_replicate EXIT

# Wait until every table has finished its snapshot and is streaming (status reads checkpoints).
for _ in $(seq 1 120); do
  streaming=$("$cli" status -c demo/cdc.yaml --format json 2>/dev/null | grep -o '"phase":"streaming"' | wc -l || true)
  [ "$streaming" -ge 5 ] && break
  kill -0 "$pid" 2>/dev/null || { echo "replicate exited early:"; cat demo/replicate.log; exit 1; }
  sleep 0.5
done
"$cli" status -c demo/cdc.yaml

step "live changes on the source while replicate runs"
for round in 1 2 3; do
  base=$(( 100000 * round ))
  sqlite3 demo/shop.db <<SQL
BEGIN;
INSERT INTO customers (id, name, email, ssn, created_at, is_vip)
  VALUES ($base + 1, 'Ünïcødé ☕ round $round', 'live$round@example.com', NULL, datetime('now'), 1),
         ($base + 2, 'O''Brien "quoted"', NULL, '999-99-9999', datetime('now'), 0);
INSERT INTO orders (id, customer_id, total, status, updated_at) VALUES ($base + 1, $base + 1, 42.50, 'new', datetime('now'));
INSERT INTO order_items VALUES ($base + 1, 1, 1, 2, 10.25), ($base + 1, 2, 2, 1, 22.00);
INSERT INTO invoices (id, order_id, amount, updated_at) VALUES ($base + 1, $base + 1, 42.50, datetime('now'));
UPDATE products SET price = round(price * 1.1, 2), stock = stock - 1 WHERE id % 50 = $round;
UPDATE products SET data = json_set(coalesce(data, '{}'), '$.round', $round), thumbnail = randomblob(16) WHERE id = $round;
UPDATE orders SET status = 'paid', updated_at = datetime('now') WHERE id % 97 = $round;
UPDATE customers SET email = NULL, is_vip = 1 WHERE id = $round * 10;
DELETE FROM invoices WHERE id % 211 = $round;
DELETE FROM order_items WHERE order_id = $round * 7 AND line_no = 1;
UPDATE order_items SET line_no = line_no + 10 WHERE order_id = $round * 11;
DELETE FROM order_items WHERE order_id = $round * 13;
DELETE FROM orders WHERE id = $round * 13;
INSERT INTO audit_log (at, actor, action, detail) VALUES (datetime('now'), 'demo', 'round', 'not replicated');
COMMIT;
SQL
  echo "round $round written"
  sleep 1
done

step "letting replicate catch up, then stopping it with SIGTERM"
sleep 3
kill -TERM "$pid"
rc=0; wait "$pid" || rc=$?
trap - EXIT
echo "replicate exited with $rc"
tail -n 30 demo/replicate.log
if [ "$rc" -ne 0 ]; then echo "demo: replicate failed"; exit "$rc"; fi

step "catching up anything left (resume from checkpoints, exit when idle)"
"$cli" replicate -c demo/cdc.yaml --until-idle 2>&1 | tail -n 15

step "status"
"$cli" status -c demo/cdc.yaml

step "verify (with -c: excludes, renames, targets and soft deletes are understood)"
vrc=0
"$cli" verify -c demo/cdc.yaml || vrc=$?
if [ "$vrc" -eq 0 ]; then echo "demo: replica equals source"; else echo "demo: verify found differences (exit $vrc)"; fi
exit "$vrc"

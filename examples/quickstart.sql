-- Headrace quickstart: runs on one machine with no server.
-- Reads the orders in examples/quickstart-orders.csv (a CSV file checked in with this example),
-- keeps the large ones, and writes them exactly once as Parquet files into quickstart-out/, one
-- directory per day (dt=YYYY-MM-DD), each marked with a _SUCCESS file once it is complete.
--   headrace run examples/quickstart.sql [--state-dir state]

SET 'execution.checkpointing.interval' = '2 s';
SET 'parallelism.default' = '2';

CREATE TABLE orders (
  order_id   BIGINT,
  customer   STRING,
  amount     DECIMAL(10, 2),
  ordered_at TIMESTAMP(3),
  amount_with_tax AS amount * 1.2,
  dt AS CAST(CAST(ordered_at AS DATE) AS STRING)
) WITH (
  'connector' = 'filesystem',
  'path' = 'examples/quickstart-orders.csv',
  'format' = 'csv',
  'csv.allow-comments' = 'true'
);

CREATE TABLE big_orders (
  order_id BIGINT,
  customer STRING,
  amount_with_tax DECIMAL(12, 2),
  ordered_at TIMESTAMP(3),
  dt STRING
) PARTITIONED BY (dt) WITH (
  'connector' = 'filesystem',
  'path' = 'quickstart-out',
  'format' = 'parquet',
  'sink.partition-commit.policy.kind' = 'success-file'
);

INSERT INTO big_orders
SELECT order_id, UPPER(customer), amount_with_tax, ordered_at, dt
FROM orders
WHERE amount > 250;

-- Headrace quickstart: runs on one machine with no server.
-- Generates 200,000 orders from the last three days, keeps the large ones, and writes them exactly
-- once as JSON lines into quickstart-out/, one directory per day (dt=YYYY-MM-DD).
--   headrace run examples/quickstart.sql [--state-dir state]

SET 'execution.checkpointing.interval' = '2 s';
SET 'parallelism.default' = '2';

CREATE TABLE orders (
  order_id   BIGINT,
  customer   STRING,
  amount     DECIMAL(10, 2),
  ordered_at TIMESTAMP(3),
  amount_with_tax AS amount * 1.2,
  dt AS CAST(CAST(ordered_at AS DATE) AS STRING),
  WATERMARK FOR ordered_at AS ordered_at - INTERVAL '5' SECOND
) WITH (
  'connector' = 'datagen',
  'rows-per-second' = '100000',
  'fields.order_id.kind' = 'sequence',
  'fields.order_id.start' = '1',
  'fields.order_id.end' = '200000',
  'fields.customer.length' = '6',
  'fields.amount.min' = '1',
  'fields.amount.max' = '500',
  'fields.ordered_at.max-past' = '3 d'
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
  'format' = 'json'
);

INSERT INTO big_orders
SELECT order_id, UPPER(customer), amount_with_tax, ordered_at, dt
FROM orders
WHERE amount > 250;

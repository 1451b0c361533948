-- Reads back what examples/quickstart.sql wrote (Parquet files partitioned by day) and prints the
-- largest orders with the day and file each came from.
--   headrace run examples/quickstart-read.sql

CREATE TABLE big_orders (
  order_id BIGINT,
  customer STRING,
  amount_with_tax DECIMAL(12, 2),
  ordered_at TIMESTAMP(3),
  dt STRING,
  file_name STRING METADATA FROM 'file.name' VIRTUAL
) PARTITIONED BY (dt) WITH (
  'connector' = 'filesystem',
  'path' = 'quickstart-out',
  'format' = 'parquet'
);

CREATE TABLE largest (
  order_id BIGINT,
  customer STRING,
  amount_with_tax DECIMAL(12, 2),
  dt STRING,
  file_name STRING
) WITH ('connector' = 'print', 'print-identifier' = 'largest');

INSERT INTO largest
SELECT order_id, customer, amount_with_tax, dt, file_name
FROM big_orders
WHERE amount_with_tax > 599.5;

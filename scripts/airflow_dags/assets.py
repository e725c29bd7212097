"""The assets the example DAGs share: two tables of the `sales` database and one file."""

from airflow.sdk import Asset

# A table, named the way Airflow's Postgres provider names one: database/schema/table.
ORDERS = Asset(name="sales_orders", uri="postgres://db.internal:5432/sales/public/orders")
ORDERS_DAILY = Asset(
    name="sales_orders_daily", uri="postgres://db.internal:5432/sales/public/orders_daily"
)
# Not a table: a report file that another DAG is scheduled on.
SALES_SUMMARY = Asset(name="sales_summary", uri="s3://lake/reports/sales_summary.csv")

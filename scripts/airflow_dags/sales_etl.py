"""An ETL DAG: extract fans out to two transforms that join into load, then publish.

It reads the `orders` table, writes the `orders_daily` table and publishes the sales summary
file that `sales_report` is scheduled on.
"""

from datetime import datetime

from airflow.providers.standard.operators.bash import BashOperator
from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG
from assets import ORDERS, ORDERS_DAILY, SALES_SUMMARY


def _transform(kind: str) -> str:
    return f"transformed {kind}"


with DAG(
    dag_id="sales_etl",
    description="Loads yesterday's orders into the warehouse",
    schedule="0 3 * * *",
    start_date=datetime(2024, 1, 1),
    catchup=False,
    tags=["etl", "sales"],
    default_args={"owner": "data-eng", "retries": 0},
    max_active_tasks=4,
) as dag:
    extract = BashOperator(task_id="extract", bash_command="echo extract", inlets=[ORDERS])
    transform_orders = PythonOperator(
        task_id="transform_orders", python_callable=_transform, op_args=["orders"]
    )
    transform_customers = PythonOperator(
        task_id="transform_customers", python_callable=_transform, op_args=["customers"]
    )
    load = BashOperator(task_id="load", bash_command="echo load", outlets=[ORDERS_DAILY])
    publish = BashOperator(task_id="publish", bash_command="echo publish", outlets=[SALES_SUMMARY])
    extract >> [transform_orders, transform_customers] >> load >> publish

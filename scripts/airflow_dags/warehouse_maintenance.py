"""A manually triggered DAG that reads the `orders_daily` table; its vacuum step fails."""

from datetime import datetime

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG
from assets import ORDERS_DAILY

with DAG(
    dag_id="warehouse_maintenance",
    description="Checks and vacuums the daily orders table",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    tags=["maintenance"],
    default_args={"owner": "dba", "retries": 0},
) as dag:
    check = BashOperator(task_id="check", bash_command="echo check", inlets=[ORDERS_DAILY])
    vacuum = BashOperator(task_id="vacuum", bash_command="echo vacuum failed; exit 1")
    report = BashOperator(task_id="report", bash_command="echo done")
    check >> vacuum >> report

"""A DAG scheduled on the sales summary asset that `sales_etl` publishes."""

from datetime import datetime

from airflow.providers.standard.operators.bash import BashOperator
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG
from assets import SALES_SUMMARY

with DAG(
    dag_id="sales_report",
    description="Builds the daily sales report",
    schedule=[SALES_SUMMARY],
    start_date=datetime(2024, 1, 1),
    catchup=False,
    tags=["reporting"],
    default_args={"owner": "analytics,alice"},
) as dag:
    build = BashOperator(task_id="build_report", bash_command="echo report")
    notify = EmptyOperator(task_id="notify")
    build >> notify

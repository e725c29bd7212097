"""Seeds an MLflow server for the rest source's recordings; runs inside the MLflow tool venv.

python scripts/seed_rest_mlflow.py http://127.0.0.1:PORT first    # 5 models, 3 versions
python scripts/seed_rest_mlflow.py http://127.0.0.1:PORT change   # 1 updated, 1 new, 1 version
"""

from __future__ import annotations

import sys
import time

from mlflow import MlflowClient


def first(client: MlflowClient) -> None:
    models = [
        (
            "churn-classifier",
            "Predicts which customers will leave",
            {"algorithm": "xgboost", "target": "churned"},
        ),
        ("fraud.detector", "Flags card payments for review", {"algorithm": "isolation-forest"}),
        ("demand-forecast", None, {}),
        ("sentiment-bert", "Scores review sentiment", {"algorithm": "transformer"}),
        ("image-tagger", "Tags product photos", {}),
    ]
    for name, description, tags in models:
        client.create_registered_model(name, description=description, tags=tags)
        time.sleep(0.02)  # distinct last_updated_timestamp values, in this order
    for name, version in [("churn-classifier", 1), ("churn-classifier", 2), ("fraud.detector", 1)]:
        client.create_model_version(name, source=f"s3://models/{name}/{version}")


def change(client: MlflowClient) -> None:
    client.update_registered_model("churn-classifier", description="Predicts churn, weekly")
    time.sleep(0.02)
    client.create_registered_model(
        "price-optimizer", description="Suggests prices", tags={"algorithm": "bandit"}
    )
    client.create_model_version("fraud.detector", source="s3://models/fraud.detector/2")


if __name__ == "__main__":
    url, stage = sys.argv[1], sys.argv[2]
    {"first": first, "change": change}[stage](MlflowClient(tracking_uri=url, registry_uri=url))

"""Fills an MLflow server with a small, realistic model registry; run by the MLflow venv's python.

`scripts/record_mlflow.py` runs it twice against the server it starts: `seed` (three registered
models, four versions, params, metrics, signatures, a stage and an alias; five experiments), then
`change` (what an incremental sync must pick up: a new version with an alias, a new description
and a new tag on one model; one experiment renamed, another deleted). Never imported by syncer or
its tests: it needs mlflow, pandas and scikit-learn.
"""

from __future__ import annotations

import argparse
import warnings

import mlflow
import numpy as np
import pandas as pd
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import accuracy_score, mean_absolute_error, roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

# Run tags MLflow would otherwise fill from this machine (the script's path, the login name).
NEUTRAL_TAGS = {"mlflow.user": "data-scientist", "mlflow.source.name": "train.py"}
SEED = 7


def churn_data() -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(SEED)
    n = 400
    x = pd.DataFrame(
        {
            "tenure_months": rng.integers(1, 72, n),
            "monthly_charges": rng.uniform(20, 120, n).round(2),
            "contract_type": rng.choice(["monthly", "yearly", "two_year"], n),
            "support_calls": rng.integers(0, 8, n),
        }
    )
    risk = 0.04 * x.support_calls - 0.02 * x.tenure_months + (x.contract_type == "monthly")
    y = pd.Series((risk + rng.normal(0, 0.3, n) > 0.2).astype("int64"), name="churned")
    return x, y


def fraud_data() -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(SEED + 1)
    n = 400
    x = pd.DataFrame(
        {
            "amount": rng.lognormal(3, 1, n).round(2),
            "merchant_category": rng.choice(["grocery", "travel", "electronics"], n),
            "hour": rng.integers(0, 24, n),
            "is_foreign": rng.random(n) < 0.1,
        }
    )
    score = (x.amount > 80) & (x.is_foreign | (x.hour < 5))
    y = pd.Series(score.astype("int64"), name="is_fraud")
    return x, y


def demand_data() -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(SEED + 2)
    n = 300
    x = pd.DataFrame(
        {
            "store_id": rng.integers(1, 20, n),
            "week": rng.integers(1, 53, n),
            "price": rng.uniform(1, 10, n).round(2),
            "promo": rng.random(n) < 0.3,
        }
    )
    y = pd.Series(200 - 12 * x.price + 40 * x.promo + rng.normal(0, 5, n), name="units_sold")
    return x, y


def encoded(estimator: object, categorical: list[str]) -> Pipeline:
    """The estimator behind a one-hot encoder of the categorical columns."""
    encode = ColumnTransformer(
        [("categories", OneHotEncoder(handle_unknown="ignore"), categorical)],
        remainder="passthrough",
    )
    return Pipeline([("encode", encode), ("model", estimator)])


def train_classifier(
    experiment: str,
    model_name: str,
    data: tuple[pd.DataFrame, pd.Series],
    categorical: list[str],
    estimator: object,
    params: dict[str, object],
) -> str:
    """Log a run with params, metrics and a model with a signature; register it; its version."""
    x, y = data
    mlflow.set_experiment(experiment)
    with mlflow.start_run(run_name=f"{model_name}-{params['model_type']}", tags=NEUTRAL_TAGS):
        mlflow.log_params(params)
        model = encoded(estimator, categorical).fit(x, y)
        predicted = model.predict(x)
        mlflow.log_metrics(
            {
                "accuracy": round(float(accuracy_score(y, predicted)), 4),
                "roc_auc": round(float(roc_auc_score(y, model.predict_proba(x)[:, 1])), 4),
            }
        )
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            signature=infer_signature(x, y),
            registered_model_name=model_name,
            # Tree ensembles are saved with skops, which loads only the types it is told to trust.
            skops_trusted_types=["sklearn.tree._tree.Tree"],
        )
    return str(info.registered_model_version)


def train_regressor(experiment: str, model_name: str, alpha: float) -> str:
    x, y = demand_data()
    mlflow.set_experiment(experiment)
    with mlflow.start_run(run_name=f"{model_name}-ridge", tags=NEUTRAL_TAGS):
        mlflow.log_params({"model_type": "ridge", "alpha": alpha})
        model = Ridge(alpha=alpha).fit(x, y)
        mlflow.log_metric("mae", round(float(mean_absolute_error(y, model.predict(x))), 4))
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            signature=infer_signature(x, y),
            registered_model_name=model_name,
        )
    return str(info.registered_model_version)


def seed(client: MlflowClient) -> None:
    churn = mlflow.set_experiment("churn")
    client.set_experiment_tag(churn.experiment_id, "team", "growth")

    client.create_registered_model(
        "churn-classifier",
        tags={"team": "growth", "task": "classification"},
        description="Predicts which subscribers cancel within the next 30 days.",
    )
    train_classifier(
        "churn",
        "churn-classifier",
        churn_data(),
        ["contract_type"],
        LogisticRegression(C=1.0, max_iter=500),
        {"model_type": "logistic_regression", "C": 1.0, "max_iter": 500},
    )
    v2 = train_classifier(
        "churn",
        "churn-classifier",
        churn_data(),
        ["contract_type"],
        RandomForestClassifier(n_estimators=50, max_depth=6, random_state=SEED),
        {"model_type": "random_forest", "n_estimators": 50, "max_depth": 6},
    )
    client.update_model_version("churn-classifier", v2, "Random forest; beats v1 on ROC AUC.")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # stages are deprecated, yet many registries use them
        client.transition_model_version_stage("churn-classifier", v2, "Production")
    client.set_registered_model_alias("churn-classifier", "champion", v2)

    client.create_registered_model(
        "fraud-scorer",
        tags={"team": "risk"},
        description="Scores card transactions for fraud in real time.",
    )
    train_classifier(
        "fraud",
        "fraud-scorer",
        fraud_data(),
        ["merchant_category"],
        GradientBoostingClassifier(learning_rate=0.1, n_estimators=60, random_state=SEED),
        {"model_type": "gradient_boosting", "learning_rate": 0.1, "n_estimators": 60},
    )

    client.create_registered_model("demand-forecast")
    v1 = train_regressor("demand", "demand-forecast", alpha=0.5)
    client.update_model_version("demand-forecast", v1, "Baseline ridge regression.")

    # An experiment without runs, last: the newest, at the experiments' watermark.
    client.create_experiment("scratch", tags={"owner": "data-scientist"})


def change(client: MlflowClient) -> None:
    """One model moves: a new version with an alias, a new description and a new tag. One
    experiment is renamed and another deleted (both stamp its last_update_time; setting an
    experiment tag does not, nor do new runs)."""
    v3 = train_classifier(
        "churn",
        "churn-classifier",
        churn_data(),
        ["contract_type"],
        GradientBoostingClassifier(learning_rate=0.05, n_estimators=120, random_state=SEED),
        {"model_type": "gradient_boosting", "learning_rate": 0.05, "n_estimators": 120},
    )
    client.set_registered_model_alias("churn-classifier", "challenger", v3)
    client.set_registered_model_tag("churn-classifier", "reviewed_by", "ml-platform")
    client.update_registered_model(
        "churn-classifier",
        "Predicts which subscribers cancel within the next 30 days; retrained monthly.",
    )
    demand = client.get_experiment_by_name("demand")
    scratch = client.get_experiment_by_name("scratch")
    assert demand is not None and scratch is not None
    client.rename_experiment(demand.experiment_id, "demand-planning")
    client.delete_experiment(scratch.experiment_id)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("phase", choices=["seed", "change"])
    parser.add_argument("--tracking-uri", required=True)
    args = parser.parse_args()
    mlflow.set_tracking_uri(args.tracking_uri)
    client = MlflowClient(args.tracking_uri)
    seed(client) if args.phase == "seed" else change(client)


if __name__ == "__main__":
    main()

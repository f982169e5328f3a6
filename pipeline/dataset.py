"""The project's sample data: customer churn for a subscription service, generated, deterministic.

Each row is one customer; `churned` (1/0) is what the model predicts. The outcome follows a
logistic model of the features plus noise, so a good model reaches about 0.9 accuracy and no
model reaches 1.0. `generate(shift=...)` produces the same population with its distribution
moved (longer-tenure, pricier customers on other contracts): the traffic drift detection must
notice. `generate(concept=...)` keeps the inputs and changes what the outcome depends on: only
ground truth shows it. Each customer also has an age group (`age_group`: under-65 or 65-plus, half
each, drawn apart from everything else), the facet bias monitoring compares; the model does not use it.
`python -m pipeline.dataset` rewrites pipeline/data/churn.csv.
"""

from __future__ import annotations

import csv
import io
import math
import random
from pathlib import Path

FEATURES = ("tenure_months", "monthly_charges", "support_calls", "data_usage_gb", "contract", "payment_method")
CATEGORICAL = ("contract", "payment_method")
# A customer group for bias monitoring: recorded with each customer and sent with each request, never a model
# input (pipeline/scripts/churn_features.py says why). Drawn apart from the features: the shipped model has no
# reason to treat the groups differently, so its bias figures sit inside the bands.
GROUP = "age_group"
GROUPS = ("under-65", "65-plus")
DISFAVOURED = "65-plus"
COLUMNS = (*FEATURES, GROUP)  # what a client sends, in this order: every column of the file but the label
LABEL = "churned"
CONTRACTS = ("month-to-month", "one-year", "two-year")
PAYMENT_METHODS = ("electronic-check", "credit-card", "bank-transfer", "mailed-check")
DATA_PATH = Path(__file__).resolve().parent / "data" / "churn.csv"
ROWS = 3000
SEED = 20261126


def _customer(rng: random.Random, shift: float, concept: float = 0.0) -> dict[str, object]:
    contract = rng.choices(CONTRACTS, weights=(0.55 - 0.3 * shift, 0.25 + 0.1 * shift, 0.20 + 0.2 * shift))[0]
    payment = rng.choices(PAYMENT_METHODS, weights=(0.35, 0.25, 0.25, 0.15))[0]
    tenure = max(1, min(72, round(rng.expovariate(1 / (20 + 25 * shift)))))
    charges = round(min(150.0, max(18.0, rng.gauss(65 + 30 * shift, 22))), 2)
    calls = min(12, int(rng.expovariate(1 / 1.6)))
    usage = round(max(0.0, rng.gauss(18 + 4 * (contract != "month-to-month"), 9)), 1)
    score = (
        1.3
        - 0.075 * tenure
        + 0.022 * (charges - 65)
        + 0.65 * calls
        - {"month-to-month": 0.0, "one-year": 1.6, "two-year": 3.0}[contract]
        + (0.9 if payment == "electronic-check" else 0.0)
        - 0.03 * usage
    )
    # concept drift: what makes a customer leave changes (long contracts and tenure stop holding customers, a
    # competitor's offer draws the loyal ones away); the inputs are drawn exactly as before
    score = (1 - concept) * score + concept * (
        -1.2 + 0.06 * tenure + {"month-to-month": 0.0, "one-year": 1.4, "two-year": 2.6}[contract] - 0.3 * calls
    )
    churned = int(rng.random() < 1 / (1 + math.exp(-3.0 * score)))
    return {
        "tenure_months": tenure,
        "monthly_charges": charges,
        "support_calls": calls,
        # usage is missing for some customers (meter not read), more often after a shift
        "data_usage_gb": "" if rng.random() < 0.03 + 0.1 * shift else usage,
        "contract": contract,
        "payment_method": payment,
        LABEL: churned,
    }


def generate(rows: int = ROWS, seed: int = SEED, shift: float = 0.0, concept: float = 0.0) -> list[dict[str, object]]:
    """`rows` customers; `shift` moves the inputs' distribution (data drift), `concept` (0..1) changes how the
    outcome follows from them (concept drift: the same seed gives the same inputs, other labels)."""
    rng = random.Random(seed)
    groups = random.Random(seed + 1)  # its own stream: the other columns are what they were before it existed
    return [
        {**_customer(rng, shift, concept), GROUP: groups.choices(GROUPS, weights=(0.5, 0.5))[0]} for _ in range(rows)
    ]


def grouped_by_risk(records: list[dict[str, object]], share: float = 0.4) -> list[dict[str, object]]:
    """The same customers with the group column redrawn from their churn risk: the `share` of them least likely to
    churn (long tenure, long contracts, few support calls) become the disfavoured group. Inputs of the model stay
    exactly as they were; a model that is blind to the group still predicts churn far less often for that group:
    biased traffic, as when a group's members differ in what the model does see."""

    def risk(record: dict[str, object]) -> float:
        contract = {"month-to-month": 0.0, "one-year": 1.6, "two-year": 3.0}[str(record["contract"])]
        return -0.075 * float(str(record["tenure_months"])) - contract + 0.65 * float(str(record["support_calls"]))

    order = sorted(range(len(records)), key=lambda i: risk(records[i]))
    lowest = set(order[: round(len(records) * share)])
    return [{**record, GROUP: DISFAVOURED if i in lowest else GROUPS[0]} for i, record in enumerate(records)]


def to_csv(records: list[dict[str, object]], header: bool = True, label: bool = True) -> str:
    columns = [*COLUMNS, LABEL] if label else list(COLUMNS)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    if header:
        writer.writeheader()
    writer.writerows(records)
    return buffer.getvalue()


def main() -> None:
    DATA_PATH.parent.mkdir(parents=True, exist_ok=True)
    DATA_PATH.write_text(to_csv(generate()))
    print(f"wrote {ROWS} customers to {DATA_PATH}")


if __name__ == "__main__":
    main()

"""The pipeline's three scripts run one after the other on this machine, as the pipeline chains them.

    run_scripts(data_csv, work)   # work/{train,validation,test,baseline,model,evaluation,drift-baseline}

For tests and for seeding the sandbox with real models; `make demo` and the sandbox's own pipeline
runs go through the pipeline definition instead (sandbox/pipeline_runner.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent / "scripts"


class ScriptFailed(RuntimeError):
    """A script exited with an error; the message ends with its standard error."""


def run_script(script: str, *args: str, env: dict[str, str] | None = None) -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPTS / script), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
    )
    if done.returncode != 0:
        raise ScriptFailed(f"{script} exited {done.returncode}: {done.stderr.strip()}")


def run_scripts(data: Path, work: Path, flip_labels: bool = False) -> None:
    """Preprocess `data` (a CSV file), train, evaluate; every output lands in a folder of `work`.

    `flip_labels`: the labels are inverted first (the pipeline's FlipLabels parameter)."""
    (work / "input").mkdir(parents=True, exist_ok=True)
    (work / "input" / data.name).write_bytes(data.read_bytes())
    flip = ("--flip-labels", "true" if flip_labels else "false")
    run_script("preprocess.py", "--input-dir", str(work / "input"), "--output-dir", str(work), *flip)
    run_script(
        "train.py",
        env={
            "SM_CHANNEL_TRAIN": str(work / "train"),
            "SM_CHANNEL_VALIDATION": str(work / "validation"),
            "SM_MODEL_DIR": str(work / "model"),
        },
    )
    run_script(
        "evaluate.py",
        *("--model-dir", str(work / "model"), "--test-dir", str(work / "test")),
        *("--validation-dir", str(work / "validation"), "--baseline-dir", str(work / "baseline")),
        *("--evaluation-dir", str(work / "evaluation"), "--drift-baseline-dir", str(work / "drift-baseline")),
    )

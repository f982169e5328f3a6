"""What a SageMaker framework serving container does with a model, done in-process.

A model package's container names its artifact (ModelDataUrl, a model.tar.gz, unpacked into
/opt/ml/model) and its serving code: SAGEMAKER_PROGRAM, the module, in SAGEMAKER_SUBMIT_DIRECTORY,
either a source archive on S3 or a directory of the unpacked artifact (/opt/ml/model/code, where
the training packed the code: what a model with network isolation needs, it cannot read S3).
Without a submit directory the code is looked for in the artifact's code/ as well. The
scikit-learn container calls the module's model_fn once, then input_fn, predict_fn and output_fn
for each request. So does this, with the bytes from the sandbox's S3.
"""

from __future__ import annotations

import collections
import contextlib
import importlib.util
import io
import json
import sys
import tarfile
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from types import ModuleType
from typing import Any

MODEL_DIR = "/opt/ml/model"  # where a serving container unpacks the model artifact


class ModelError(Exception):
    """The serving code refused the request (SageMaker answers ModelError, HTTP 424)."""


# Sandbox choice (speed, not AWS behaviour): a model answers the same request the same way, so answers are kept
# (the last ANSWERS_KEPT, by model, request body, content type and accept) and a repeated request is not
# predicted again. The sandbox's background traffic sends the shipped customers in turn: after one pass over
# them, its requests cost the emulator's own work only. A loaded model is already kept per ModelDataUrl, so an
# artifact replaced at the same URL was never served anew either. Refusals (ModelError) are not kept.
ANSWERS_KEPT = 50_000


class ServedModels:
    def __init__(self, s3: Callable[[], Any]) -> None:
        self._s3 = s3
        self._loaded: dict[tuple[str, str, str], tuple[ModuleType, Any]] = {}
        self._answers: collections.OrderedDict[tuple[Any, ...], tuple[bytes, str]] = collections.OrderedDict()
        self._lock = threading.Lock()
        self._workdir = tempfile.TemporaryDirectory(prefix="sandbox-serving-")

    @staticmethod
    def servable(container: dict[str, Any]) -> bool:
        environment = container.get("Environment") or {}
        return bool(container.get("ModelDataUrl") and environment.get("SAGEMAKER_PROGRAM"))

    def invoke(
        self, container: dict[str, Any], body: bytes, content_type: str, accept: str, remember: bool = True
    ) -> tuple[bytes, str]:
        """The model's answer. `remember=False` (a batch transform's requests, megabytes each and never repeated)
        neither looks the answer up nor keeps it."""
        key = (*self._key(container), bytes(body), content_type, accept) if remember else ()
        with self._lock:
            if remember and key in self._answers:
                self._answers.move_to_end(key)
                return self._answers[key]
        module, model = self._load(container)
        try:
            with _one_openmp_thread():
                data = module.input_fn(body, content_type)
                prediction = module.predict_fn(data, model)
                answer, answer_type = module.output_fn(prediction, accept)
        except Exception as error:
            raise ModelError(f"{type(error).__name__}: {error}") from error
        result = (answer.encode() if isinstance(answer, str) else answer), answer_type
        if not remember:
            return result
        with self._lock:
            self._answers[key] = result
            if len(self._answers) > ANSWERS_KEPT:
                self._answers.popitem(last=False)
        return result

    @staticmethod
    def _key(container: dict[str, Any]) -> tuple[str, str, str]:
        environment = container.get("Environment") or {}
        return (
            container["ModelDataUrl"],
            environment.get("SAGEMAKER_SUBMIT_DIRECTORY", ""),
            environment["SAGEMAKER_PROGRAM"],
        )

    def _load(self, container: dict[str, Any]) -> tuple[ModuleType, Any]:
        key = self._key(container)
        with self._lock:
            if key not in self._loaded:
                self._loaded[key] = self._unpack(*key)
            return self._loaded[key]

    def _unpack(self, model_data_url: str, submit_directory: str, program: str) -> tuple[ModuleType, Any]:
        place = Path(self._workdir.name, str(len(self._loaded)))
        model_dir, code_dir = place / "model", place / "code"
        _extract(self._read(model_data_url), model_dir)
        if submit_directory.startswith("s3://"):
            _extract(self._read(submit_directory), code_dir)
        else:  # the code was packed with the model
            code_dir = model_dir / _inside_model(submit_directory or f"{MODEL_DIR}/code")
        module_name = f"sandbox_served_{len(self._loaded)}_{Path(program).stem}"
        spec = importlib.util.spec_from_file_location(module_name, code_dir / program)
        if spec is None or spec.loader is None or not (code_dir / program).is_file():
            where = submit_directory
            if not submit_directory.startswith("s3://"):
                where = f"{submit_directory or MODEL_DIR + '/code'} of {model_data_url}"
            raise ModelError(f"{program} not found in {where}")
        module = importlib.util.module_from_spec(spec)
        sys.path.insert(0, str(code_dir))  # the program imports its neighbours, as in the container
        try:
            spec.loader.exec_module(module)
        finally:
            sys.path.remove(str(code_dir))
        return module, module.model_fn(str(model_dir))

    def _read(self, uri: str) -> bytes:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        return bytes(self._s3().get_object(Bucket=bucket, Key=key)["Body"].read())


_THREADPOOLS: list[Any] = []


def _one_openmp_thread() -> contextlib.AbstractContextManager[Any]:
    """Sandbox choice (speed, not AWS behaviour): a request is predicted on one OpenMP thread. scikit-learn's
    gradient boosting starts a parallel region per tree; for the one-customer requests of the sandbox's traffic
    that costs ~100 ms of CPU a request on this process's two cores, against ~5 ms on one thread. A serving
    container has its own cores; the sandbox shares two with everything else."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - scikit-learn depends on it
        return contextlib.nullcontext()
    if not _THREADPOOLS:  # made once the model's libraries are loaded (model_fn): it lists the loaded ones
        _THREADPOOLS.append(ThreadpoolController())
    return _THREADPOOLS[0].limit(limits=1, user_api="openmp")


def _inside_model(directory: str) -> Path:
    """A submit directory of the container's file system, relative to the unpacked model artifact."""
    path = PurePosixPath(directory)
    if not path.is_relative_to(MODEL_DIR) or ".." in path.parts:
        raise ModelError(
            f"SAGEMAKER_SUBMIT_DIRECTORY {directory} is neither an s3:// source archive nor a directory of "
            f"the model artifact ({MODEL_DIR}/...): the sandbox has no other file of the serving image"
        )
    return Path(*path.relative_to(MODEL_DIR).parts)


def _extract(archive: bytes, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        tar.extractall(target, filter="data")


# Sandbox choice (Behaviour.invert, a version made to disagree): every probability the served model answers
# becomes 1 - p, rounded as inference.py rounds (6 digits). The churn model answers one probability per line
# (text/csv) or a JSON list of them (application/json): every number in [0, 1] of either is inverted; anything
# else (another model's answer) is left as it is.
def inverted(answer: bytes, answer_type: str) -> bytes:
    def flip(value: Any) -> Any:
        if isinstance(value, list):
            return [flip(item) for item in value]
        if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 1:
            return round(1 - float(value), 6)
        return value

    text = answer.decode(errors="replace")
    if answer_type.startswith("application/json"):
        try:
            return json.dumps(flip(json.loads(text))).encode()
        except ValueError:
            return answer
    lines = []
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        cells = []
        for cell in body.split(","):
            try:
                cells.append(str(flip(float(cell))) if 0 <= float(cell) <= 1 else cell)
            except ValueError:
                cells.append(cell)
        lines.append(",".join(cells) + line[len(body) :])
    return "".join(lines).encode()

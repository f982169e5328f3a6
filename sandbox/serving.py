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

import importlib.util
import io
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


class ServedModels:
    def __init__(self, s3: Callable[[], Any]) -> None:
        self._s3 = s3
        self._loaded: dict[tuple[str, str, str], tuple[ModuleType, Any]] = {}
        self._lock = threading.Lock()
        self._workdir = tempfile.TemporaryDirectory(prefix="sandbox-serving-")

    @staticmethod
    def servable(container: dict[str, Any]) -> bool:
        environment = container.get("Environment") or {}
        return bool(container.get("ModelDataUrl") and environment.get("SAGEMAKER_PROGRAM"))

    def invoke(self, container: dict[str, Any], body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
        module, model = self._load(container)
        try:
            data = module.input_fn(body, content_type)
            prediction = module.predict_fn(data, model)
            answer, answer_type = module.output_fn(prediction, accept)
        except Exception as error:
            raise ModelError(f"{type(error).__name__}: {error}") from error
        return (answer.encode() if isinstance(answer, str) else answer), answer_type

    def _load(self, container: dict[str, Any]) -> tuple[ModuleType, Any]:
        environment = container.get("Environment") or {}
        key = (
            container["ModelDataUrl"],
            environment.get("SAGEMAKER_SUBMIT_DIRECTORY", ""),
            environment["SAGEMAKER_PROGRAM"],
        )
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

"""The reference training pipeline, defined with the SageMaker Python SDK (v3).

    python -m pipeline.definition           # rewrite pipeline/definition.json and template.yaml's copy
    python -m pipeline.definition --check   # exit 1 when either disagrees with this code

Preprocess (processing) -> Train (training) -> Evaluate (processing, evaluation.json as a property
file) -> AccuracyGate (condition: accuracy >= AccuracyThreshold) -> RegisterModel, else
QualityGateFailed (fail step stating the measured accuracy and the threshold).

Every version carries what it was made from in CustomerMetadataProperties: data-uri, data-version (the
InputDataVersion parameter: the object's S3 version id or ETag, which the retrain workflow fills in), data-sha256
and code-sha256 (the training data and the source archive as Preprocess read them: its lineage.json property
file), training-job, hyperparameter-<name> (what the training job ran with), owner, use-case and compliance (stack
parameters); MetadataProperties holds GeneratedBy (the execution) and CommitId/Repository (the commit `make
publish` was given, from pipeline/code/source.json; empty when none was).

FlipLabels ("true"/"false", default "false") makes Preprocess invert the label of every row before the split:
the model then learns the opposite of the truth, passes the gate on the flipped test set and is registered as
usual, yet disagrees with a normal model on every request (a version for trying shadow comparisons on).

The definition is written offline and deterministically: no credentials, no upload. The scripts
and data it refers to live under s3://<artifact bucket>/pipeline/ (`make publish` puts them
there); the bucket, region, model package group and scikit-learn image stay placeholders that
the SAM template fills in with Fn::Sub. The registered versions need nothing of that at serving
time: the training step packs the serving code into the model artifact (code/), so a version
serves with network isolation too.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFINITION_PATH = Path(__file__).resolve().parent / "definition.json"
TEMPLATE_PATH = ROOT / "template.yaml"

# Placeholders: Fn::Sub variables of the TrainingPipeline resource in template.yaml
BUCKET = "${ArtifactBucket}"
REGION = "${AWS::Region}"
MODEL_PACKAGE_GROUP = "${ModelPackageGroupName}"
SKLEARN_IMAGE = "${ScikitLearnImage}"
SKLEARN_VERSION = "1.9-0"
CODE_DIR = "/opt/ml/processing/code"
ACCURACY_PATH = "binary_classification_metrics.accuracy.value"

PREFIX = f"s3://{BUCKET}/pipeline"
CODE_URI = f"{PREFIX}/code"  # the scripts, one file each (processing code input)
SOURCE_ARCHIVE_URI = f"{PREFIX}/code/sourcedir.tar.gz"  # the same scripts, for the training job
# Where a serving container finds the code that train.py packed into the model artifact (model.tar.gz
# is unpacked into /opt/ml/model). A container with network isolation cannot read an s3:// submit
# directory: the SageMaker Python SDK repacks the code into the artifact under code/ and names this
# directory for such models (aws/sagemaker-python-sdk, src/sagemaker/model.py, Model._script_mode_env_vars:
# `if self.repacked_model_data or self.enable_network_isolation(): dir_name = "/opt/ml/model/code"`;
# src/sagemaker/utils.py, _create_or_update_code_dir: `code_dir = os.path.join(model_dir, "code")`).
SERVING_CODE_DIR = "/opt/ml/model/code"
DEFAULT_INPUT_URI = f"{PREFIX}/data/churn.csv"
ROLE = "${SageMakerExecutionRoleArn}"
# Who owns the model, what it is for, its compliance regime: stack parameters (template.yaml), on every version
MODEL_OWNER = "${ModelOwner}"
MODEL_USE_CASE = "${ModelUseCase}"
MODEL_COMPLIANCE = "${ModelCompliance}"
UNRECORDED = "unrecorded"  # InputDataVersion when whoever started the run did not give it
# The training job's own hyperparameters (the SageMaker ones, sagemaker_*, are added beside them)
HYPERPARAMETERS: dict[str, int | float] = {"max-iter": 150, "learning-rate": 0.05, "max-depth": 4}
# The SDK resolves a role that is not ARN-shaped through IAM: it gets this stand-in, replaced by ROLE.
ROLE_STAND_IN = "arn:aws:iam::000000000000:role/sagemaker-execution-role-placeholder"


def build_pipeline() -> Any:
    os.environ.setdefault("SAGEMAKER_VALIDATE_ROLE", "false")
    import boto3
    from sagemaker.core.drift_check_baselines import DriftCheckBaselines
    from sagemaker.core.metadata_properties import MetadataProperties
    from sagemaker.core.model_metrics import MetricsSource, ModelMetrics
    from sagemaker.core.processing import Processor
    from sagemaker.core.shapes import (
        OutputDataConfig,
        ProcessingInput,
        ProcessingOutput,
        ProcessingS3Input,
        ProcessingS3Output,
    )
    from sagemaker.core.training.configs import Compute, InputData
    from sagemaker.core.workflow.conditions import ConditionGreaterThanOrEqualTo
    from sagemaker.core.workflow.execution_variables import ExecutionVariables
    from sagemaker.core.workflow.functions import Join, JsonGet
    from sagemaker.core.workflow.parameters import ParameterFloat, ParameterInteger, ParameterString
    from sagemaker.core.workflow.pipeline_context import PipelineSession
    from sagemaker.core.workflow.properties import PropertyFile
    from sagemaker.mlops.workflow.condition_step import ConditionStep
    from sagemaker.mlops.workflow.fail_step import FailStep
    from sagemaker.mlops.workflow.model_step import ModelStep
    from sagemaker.mlops.workflow.pipeline import Pipeline
    from sagemaker.mlops.workflow.steps import ProcessingStep, TrainingStep
    from sagemaker.serve.model_builder import ModelBuilder
    from sagemaker.train.model_trainer import ModelTrainer

    session = PipelineSession(
        boto_session=boto3.Session(
            region_name="us-east-1", aws_access_key_id="offline", aws_secret_access_key="offline"
        ),
        default_bucket=BUCKET,
    )
    input_data = ParameterString("InputDataUrl", default_value=DEFAULT_INPUT_URI)
    processing_instance = ParameterString("ProcessingInstanceType", default_value="ml.m5.large")
    training_instance = ParameterString("TrainingInstanceType", default_value="ml.m5.large")
    instance_count = ParameterInteger("ProcessingInstanceCount", default_value=1)
    threshold = ParameterFloat("AccuracyThreshold", default_value=0.8)
    approval_status = ParameterString("ModelApprovalStatus", default_value="PendingManualApproval")
    flip_labels = ParameterString("FlipLabels", default_value="false")
    # the stack's bias settings (template parameters), the evaluation's too
    bias_facet = ParameterString("BiasFacet", default_value="${BiasFacet}")
    disfavoured = ParameterString("BiasDisfavouredValues", default_value="${BiasDisfavouredValues}")
    prediction_threshold = ParameterString("PredictionThreshold", default_value="${PredictionThreshold}")
    # the training object's S3 version id (or its ETag when the bucket keeps no versions): the retrain fills it in
    data_version = ParameterString("InputDataVersion", default_value=UNRECORDED)

    def processor(script: str) -> Any:
        return Processor(
            role=ROLE_STAND_IN,
            image_uri=SKLEARN_IMAGE,
            instance_count=instance_count,
            instance_type=processing_instance,
            entrypoint=["python3", f"{CODE_DIR}/{script}"],
            sagemaker_session=session,
        )

    def code_input() -> Any:
        return s3_input("code", CODE_URI + "/", CODE_DIR)

    def s3_input(name: str, uri: Any, local_path: str) -> Any:
        return ProcessingInput(
            input_name=name,
            s3_input=ProcessingS3Input(
                s3_uri=uri, local_path=local_path, s3_data_type="S3Prefix", s3_input_mode="File"
            ),
        )

    def output(step: str, name: str) -> Any:
        uri = Join(on="/", values=[f"{PREFIX}/executions", ExecutionVariables.PIPELINE_EXECUTION_ID, step, name])
        return ProcessingOutput(
            output_name=name,
            s3_output=ProcessingS3Output(
                s3_uri=uri, local_path=f"/opt/ml/processing/{name}", s3_upload_mode="EndOfJob"
            ),
        )

    def output_uri(step: Any, name: str) -> Any:
        return step.properties.ProcessingOutputConfig.Outputs[name].S3Output.S3Uri

    # what the data and the code were, as Preprocess read them (preprocess.py writes lineage.json)
    lineage_file = PropertyFile(name="Lineage", output_name="lineage", path="lineage.json")
    preprocess = ProcessingStep(
        name="Preprocess",
        description="Split the data into train/validation/test and profile each feature (baseline.json).",
        step_args=processor("preprocess.py").run(
            inputs=[code_input(), s3_input("data", input_data, "/opt/ml/processing/input")],
            outputs=[output("preprocess", name) for name in ("train", "validation", "test", "baseline", "lineage")],
            arguments=[
                *("--input-dir", "/opt/ml/processing/input", "--output-dir", "/opt/ml/processing"),
                *("--flip-labels", flip_labels),
            ],
        ),
        property_files=[lineage_file],
    )

    trainer = ModelTrainer(
        training_image=SKLEARN_IMAGE,
        role=ROLE_STAND_IN,
        compute=Compute(instance_type=training_instance, instance_count=1, volume_size_in_gb=30),
        base_job_name="churn-train",
        hyperparameters={
            # script mode of the SageMaker framework containers: values are JSON-encoded
            "sagemaker_program": json.dumps("train.py"),
            "sagemaker_submit_directory": json.dumps(SOURCE_ARCHIVE_URI),
            **{name: json.dumps(value) for name, value in HYPERPARAMETERS.items()},
        },
        output_data_config=OutputDataConfig(s3_output_path=f"{PREFIX}/models"),
        sagemaker_session=session,
    )
    train = TrainingStep(
        name="Train",
        description="Fit the churn classifier (scikit-learn, script mode).",
        step_args=trainer.train(
            input_data_config=[
                InputData(channel_name="train", data_source=output_uri(preprocess, "train")),
                InputData(channel_name="validation", data_source=output_uri(preprocess, "validation")),
            ]
        ),
    )

    evaluation_file = PropertyFile(name="Evaluation", output_name="evaluation", path="evaluation.json")
    evaluate = ProcessingStep(
        name="Evaluate",
        description="Score the model on the test set (evaluation.json) and finish the drift baseline.",
        step_args=processor("evaluate.py").run(
            inputs=[
                code_input(),
                s3_input("model", train.properties.ModelArtifacts.S3ModelArtifacts, "/opt/ml/processing/model"),
                s3_input("test", output_uri(preprocess, "test"), "/opt/ml/processing/test"),
                s3_input("validation", output_uri(preprocess, "validation"), "/opt/ml/processing/validation"),
                s3_input("baseline", output_uri(preprocess, "baseline"), "/opt/ml/processing/baseline"),
            ],
            outputs=[output("evaluate", "evaluation"), output("evaluate", "drift-baseline")],
            arguments=[
                *("--model-dir", "/opt/ml/processing/model", "--test-dir", "/opt/ml/processing/test"),
                *("--validation-dir", "/opt/ml/processing/validation", "--baseline-dir", "/opt/ml/processing/baseline"),
                *("--evaluation-dir", "/opt/ml/processing/evaluation"),
                *("--drift-baseline-dir", "/opt/ml/processing/drift-baseline"),
                *("--bias-facet", bias_facet, "--disfavoured-values", disfavoured),
                *("--threshold", prediction_threshold),
            ],
        ),
        property_files=[evaluation_file],
    )
    accuracy = JsonGet(step_name=evaluate.name, property_file=evaluation_file, json_path=ACCURACY_PATH)

    def json_file(step: Any, name: str, file: str) -> Any:
        return MetricsSource(
            s3_uri=Join(on="/", values=[output_uri(step, name), file]), content_type="application/json"
        )

    def lineage(path: str) -> Any:
        return JsonGet(step_name=preprocess.name, property_file=lineage_file, json_path=path)

    # What each version was made from, for people and for the operator's command line (mlops_cli reads
    # these keys). Every value is a pipeline expression or a stack parameter: SageMaker resolves the
    # expressions when the step runs, so the hyperparameters are those the training job ran with
    # (DescribeTrainingJob.HyperParameters, JSON-encoded strings such as "150"). CustomerMetadataValue
    # takes 1-256 characters of [\p{L}\p{Z}\p{N}_.:/=+-@] (botocore, sagemaker 2017-07-24 service-2.json),
    # so owner, use case and compliance are template parameters restricted to that (template.yaml).
    customer_metadata = {
        "data-uri": input_data,
        "data-version": data_version,
        "data-sha256": lineage("data_sha256"),
        "code-sha256": lineage("code_sha256"),
        "training-job": train.properties.TrainingJobName,
        **{f"hyperparameter-{name}": train.properties.HyperParameters[name] for name in HYPERPARAMETERS},
        "owner": MODEL_OWNER,
        "use-case": MODEL_USE_CASE,
        "compliance": MODEL_COMPLIANCE,
    }
    model = ModelBuilder(
        image_uri=SKLEARN_IMAGE,
        s3_model_data_url=train.properties.ModelArtifacts.S3ModelArtifacts,
        env_vars={"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": SERVING_CODE_DIR},
        dependencies={},  # the serving code is already in the model artifact (train.py): nothing to upload
        role_arn=ROLE_STAND_IN,
        sagemaker_session=session,
    )
    register = ModelStep(
        name="RegisterModel",
        step_args=model.register(
            model_package_group_name=MODEL_PACKAGE_GROUP,
            content_types=["text/csv", "application/json"],
            response_types=["text/csv", "application/json"],
            inference_instances=["ml.t2.medium", "ml.m5.large", "ml.m5.xlarge", "ml.c5.xlarge"],
            transform_instances=["ml.m5.large"],
            approval_status=approval_status,
            description="Churn classifier trained by the reference pipeline",
            model_metrics=ModelMetrics(
                model_statistics=json_file(evaluate, "evaluation", "evaluation.json"),
                bias_post_training=json_file(evaluate, "evaluation", "bias.json"),
                explainability=json_file(evaluate, "evaluation", "explainability.json"),
            ),
            drift_check_baselines=DriftCheckBaselines(
                model_data_statistics=json_file(evaluate, "drift-baseline", "baseline.json")
            ),
            # CommitId and Repository may be empty (MetadataPropertyValue: min 0), unlike CustomerMetadataValue
            metadata_properties=MetadataProperties(
                generated_by=ExecutionVariables.PIPELINE_EXECUTION_ARN,
                commit_id=lineage("commit"),
                repository=lineage("repository"),
            ),
            customer_metadata_properties=customer_metadata,
        ),
    )
    quality_gate_failed = FailStep(
        name="QualityGateFailed",
        error_message=Join(on=" ", values=["Quality gate: accuracy", accuracy, "is below the threshold", threshold]),
    )
    gate = ConditionStep(
        name="AccuracyGate",
        conditions=[ConditionGreaterThanOrEqualTo(left=accuracy, right=threshold)],
        if_steps=[register],
        else_steps=[quality_gate_failed],
    )
    return Pipeline(
        name="${PipelineName}",
        parameters=[
            *(input_data, processing_instance, training_instance, instance_count, threshold, approval_status),
            *(flip_labels, bias_facet, disfavoured, prediction_threshold, data_version),
        ],
        steps=[preprocess, train, evaluate, gate],
        sagemaker_session=session,
    )


def definition_json() -> str:
    """The definition as SageMaker takes it, placeholders included, pretty-printed."""
    definition = build_pipeline().definition().replace(ROLE_STAND_IN, ROLE)
    return json.dumps(json.loads(definition), indent=2) + "\n"


def image_accounts() -> dict[str, str]:
    """Region -> the AWS account that publishes the SageMaker scikit-learn image there."""
    import sagemaker.core

    config = Path(sagemaker.core.__file__).parent / "image_uri_config" / "sklearn.json"
    registries = json.loads(config.read_text())["training"]["versions"][SKLEARN_VERSION]["registries"]
    return dict(sorted(registries.items()))


def image_uri_pattern() -> str:
    """The scikit-learn image URI with its account, region and domain as Fn::Sub variables."""
    from sagemaker.core import image_uris

    region = "us-east-1"
    uri = image_uris.retrieve("sklearn", region, SKLEARN_VERSION)
    account = image_accounts()[region]
    return uri.replace(
        f"{account}.dkr.ecr.{region}.amazonaws.com", "${Account}.dkr.ecr.${AWS::Region}.${AWS::URLSuffix}"
    )


BEGIN = "# BEGIN {} (generated by `make pipeline` from pipeline/definition.py: do not edit)"
END = "# END {}"


def template_blocks(definition: str, accounts: dict[str, str]) -> dict[str, list[str]]:
    """The two generated regions of template.yaml: the image accounts and the definition body."""
    mapping = ["  ScikitLearnImageAccounts:"]
    mapping += [f'    {region}:\n      Account: "{account}"' for region, account in accounts.items()]
    body = ["          - |"] + [" " * 12 + line for line in definition.rstrip("\n").split("\n")]
    body += [
        "          - ScikitLearnImage: !Sub",
        f"              - {image_uri_pattern()}",
        "              - Account: !FindInMap [ScikitLearnImageAccounts, !Ref AWS::Region, Account]",
    ]
    return {"image accounts": "\n".join(mapping).split("\n"), "pipeline definition": body}


def render_template(template: str, blocks: dict[str, list[str]]) -> str:
    lines = template.split("\n")
    for name, content in blocks.items():
        begin = next(i for i, line in enumerate(lines) if line.strip() == BEGIN.format(name))
        end = next(i for i, line in enumerate(lines) if line.strip() == END.format(name))
        lines = lines[: begin + 1] + content + lines[end:]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    logging.disable(logging.WARNING)  # the SDK's notes about its defaults and telemetry
    warnings.filterwarnings("ignore", module="sagemaker")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    parser = argparse.ArgumentParser(description="Write (or --check) the pipeline definition and template.yaml's copy.")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 when a file disagrees")
    parser.add_argument("--template", type=Path, default=TEMPLATE_PATH)
    parser.add_argument("--definition", type=Path, default=DEFINITION_PATH)
    args = parser.parse_args(argv)

    definition = definition_json()
    template = args.template.read_text()
    rendered = render_template(template, template_blocks(definition, image_accounts()))
    stale = [
        str(path)
        for path, current, wanted in (
            (args.definition, args.definition.read_text() if args.definition.exists() else "", definition),
            (args.template, template, rendered),
        )
        if current != wanted
    ]
    if args.check:
        if stale:
            print(f"out of date with pipeline/definition.py: {', '.join(stale)} (run `make pipeline`)", file=sys.stderr)
            return 1
        print("pipeline definition: up to date")
        return 0
    args.definition.write_text(definition)
    args.template.write_text(rendered)
    print(f"wrote {args.definition} and the pipeline blocks of {args.template}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Who owns the model, what it is for, its compliance regime: tags of the project's model package group.

The values are the stack's ModelOwner, ModelUseCase and ModelCompliance (template.yaml, through the retrain
function's environment); every version the pipeline registers carries the same three in its
CustomerMetadataProperties (pipeline/definition.py). A version itself takes no tags here: "If you supply
ModelPackageGroupName, your model package belongs to the model group you specify and uses the tags associated with
the model group. In this case, you cannot supply a tag argument." (botocore's sagemaker model,
CreateModelPackageInput.Tags), so the group carries them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

# tag key -> the environment variable holding its value
GOVERNANCE_TAGS = {"owner": "MODEL_OWNER", "use-case": "MODEL_USE_CASE", "compliance": "MODEL_COMPLIANCE"}


def governance_tags(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The tags the stack asks for (a variable not set gives no tag); `environ` defaults to the process's."""
    values = os.environ if environ is None else environ
    return {key: values[name] for key, name in GOVERNANCE_TAGS.items() if values.get(name)}


def group_arn(model_package_arn: str, group: str) -> str:
    """The group's ARN beside a version's: arn:...:model-package/<group>/<n> -> arn:...:model-package-group/<group>."""
    prefix = model_package_arn.split(":model-package/", 1)[0]
    return f"{prefix}:model-package-group/{group}"


def tag_group(sagemaker: Any, arn: str, tags: Mapping[str, str]) -> dict[str, str]:
    """AddTags "adds or overwrites" (botocore's sagemaker model): calling again with the same tags changes
    nothing, with other values it corrects them. Returns the tags put."""
    if tags:
        sagemaker.add_tags(ResourceArn=arn, Tags=[{"Key": key, "Value": value} for key, value in tags.items()])
    return dict(tags)

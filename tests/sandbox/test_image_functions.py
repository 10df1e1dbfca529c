"""Container-image functions (`PackageType: Image`) in the sandbox: each runs from the image root
registered for its image URI (sandbox/images.py), as Lambda runs the image it resolved from ECR.
Each test names the AWS behaviour it pins and where AWS documents it."""

from __future__ import annotations

import base64
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.sandbox.conftest import Clients

HANDLER = """
import os, sys

import imagedep


def handler(event, context):
    if event.get("raise"):
        raise KeyError(event["raise"])
    try:
        import pytest  # on this machine, not in the image
        machine_package = pytest.__file__
    except ImportError:
        machine_package = None
    try:
        import pthdep  # on a path the image's .pth file adds
        through_pth = pthdep.WHERE
    except ImportError:
        through_pth = None
    return {
        "greeting": os.environ.get("GREETING"),
        "from_image_env": os.environ.get("config_location"),
        "dependency": imagedep.__file__,
        "dependency_says": imagedep.SAYS,
        "machine_package": machine_package,
        "through_pth": through_pth,
        "cwd": os.getcwd(),
        "module": __file__,
        "function": context.function_name,
    }
"""
OTHER = "def handler(event, context):\n    return {'other': True}\n"
SITE = f"usr/local/lib/python{sys.version_info.major}.{sys.version_info.minor}/site-packages"


@pytest.fixture(autouse=True)
def no_images_left(sandbox: Any) -> Iterator[None]:
    """Registered images outlive a reset (they are the sandbox's set-up): each test starts clean."""
    sandbox.images.clear()
    yield
    sandbox.images.clear()


@pytest.fixture
def role(clients: Clients) -> str:
    arn: str = clients("iam").create_role(RoleName="image-fn-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    return arn


def image_uri(sandbox: Any, repository: str = "fn-images", tag: str = "v1") -> str:
    return f"{sandbox.account_id}.dkr.ecr.{sandbox.region}.amazonaws.com/{repository}:{tag}"


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def dataall_like_root(root: Path, **config: Any) -> Path:
    """An image laid out as data.all's Lambda image: code in /home/app, packages under /usr/local,
    `ENTRYPOINT ["/awslambdaric.sh"]` (the Python runtime interface client), `CMD` a handler."""
    image_config = {
        "Entrypoint": ["/awslambdaric.sh"],
        "Cmd": ["auth_handler.handler"],
        "WorkingDir": "/home/app",
        "Env": ["config_location=config.json"],
        **config,
    }
    return write(
        root,
        {
            "image.json": json.dumps(image_config),
            "awslambdaric.sh": "#!/usr/bin/env bash\npython3.12 -m awslambdaric $@\n",
            "home/app/app.py": HANDLER,
            "home/app/other.py": OTHER,
            "home/app/config.json": "{}",
            f"{SITE}/imagedep/__init__.py": "SAYS = 'from the image'\n",
            f"{SITE}/vendored.pth": "vendored\n",
            f"{SITE}/vendored/pthdep.py": "WHERE = 'vendored'\n",
        },
    )


def create_image_function(
    clients: Clients, role: str, uri: str, name: str = "image-fn", **extra: Any
) -> dict[str, Any]:
    answer: dict[str, Any] = clients("lambda").create_function(
        FunctionName=name, Role=role, PackageType="Image", Code={"ImageUri": uri}, Timeout=10,
        Environment={"Variables": {"GREETING": "hello"}}, **extra,
    )  # fmt: skip
    return answer


def invoke(clients: Clients, name: str, event: dict[str, Any] | None = None) -> tuple[str | None, Any]:
    response = clients("lambda").invoke(FunctionName=name, Payload=json.dumps(event or {}))
    return response.get("FunctionError"), json.loads(response["Payload"].read())


def test_an_image_function_runs_its_handler_from_the_image_root_with_the_images_own_packages(
    sandbox: Any, clients: Clients, role: str, tmp_path: Path
) -> None:
    """AWS: Lambda runs the image's entry point with `ImageConfig.Command` as the handler, in
    the image's working directory, with the image's own packages and environment and the
    function's variables (Lambda developer guide, "Create a Lambda function using a container
    image"; API reference, ImageConfig)."""
    root = dataall_like_root(tmp_path / "root")
    uri = image_uri(sandbox)
    sandbox.register_image(uri, root)
    create_image_function(clients, role, uri, ImageConfig={"Command": ["app.handler"]})

    error, payload = invoke(clients, "image-fn")

    assert error is None, payload
    assert payload["greeting"] == "hello"
    assert payload["from_image_env"] == "config.json"
    assert payload["dependency_says"] == "from the image"
    assert Path(payload["dependency"]).is_relative_to(root / SITE)
    assert payload["machine_package"] is None  # this machine's packages are not the image's
    assert payload["through_pth"] == "vendored"  # the image's site-packages are site directories
    assert Path(payload["cwd"]) == root / "home" / "app"
    assert Path(payload["module"]) == root / "home" / "app" / "app.py"


def test_the_tag_resolves_to_the_images_digest_which_ecr_describes(
    sandbox: Any, clients: Clients, role: str, tmp_path: Path
) -> None:
    """AWS: "When you select an image using an image tag, Lambda translates the tag to the
    underlying image digest" (Lambda developer guide, "Deploying Lambda functions as container
    images"): GetFunction answers it as `CodeSha256` and `ResolvedImageUri`; ECR's
    DescribeImages lists the image by that digest and tag."""
    uri = image_uri(sandbox, tag="2.9.0")
    image = sandbox.register_image(uri, dataall_like_root(tmp_path / "root"))
    create_image_function(clients, role, uri)

    code = clients("lambda").get_function(FunctionName="image-fn")
    described = clients("ecr").describe_images(repositoryName="fn-images")["imageDetails"]

    assert code["Configuration"]["CodeSha256"] == image.digest.removeprefix("sha256:")
    assert code["Configuration"]["PackageType"] == "Image"
    assert code["Configuration"]["State"] == "Active"
    assert code["Code"]["ResolvedImageUri"].endswith(f"/fn-images@{image.digest}")
    assert [(d["imageDigest"], d["imageTags"]) for d in described] == [(image.digest, ["2.9.0"])]


def test_a_function_keeps_the_digest_it_resolved_until_its_code_is_updated(
    sandbox: Any, clients: Clients, role: str, tmp_path: Path
) -> None:
    """AWS: the tag is resolved to a digest at CreateFunction; "To update the function to a newer
    image version, you must ... use the UpdateFunctionCode API operation" (Lambda developer
    guide, "Deploying Lambda functions as container images"). A tag pushed again moves to the
    new image and the old one stays in ECR, untagged (ECR user guide, "Image tag mutability")."""
    uri = image_uri(sandbox)
    old = sandbox.register_image(uri, write(tmp_path / "old", {"var/task/app.py": OTHER}))
    create_image_function(clients, role, uri, ImageConfig={"Command": ["app.handler"]})
    create_image_function(
        clients, role, uri.replace(":v1", f"@{old.digest}"), name="by-digest", ImageConfig={"Command": ["app.handler"]}
    )
    new_root = write(tmp_path / "new", {"var/task/app.py": "def handler(event, context):\n    return {'new': True}\n"})
    new = sandbox.register_image(uri, new_root)

    before = invoke(clients, "image-fn")
    clients("lambda").update_function_code(FunctionName="image-fn", ImageUri=uri)
    after = invoke(clients, "image-fn")
    described = clients("ecr").describe_images(repositoryName="fn-images")["imageDetails"]

    assert before == (None, {"other": True})
    assert after == (None, {"new": True})
    assert invoke(clients, "by-digest") == (None, {"other": True})
    assert sorted((d["imageDigest"], tuple(d.get("imageTags", []))) for d in described) == sorted(
        [(old.digest, ()), (new.digest, ("v1",))]
    )


def test_the_images_cmd_is_the_handler_unless_image_config_overrides_it(
    sandbox: Any, clients: Clients, role: str, tmp_path: Path
) -> None:
    """AWS: ImageConfig's values override the image's CMD (API reference, ImageConfig);
    UpdateFunctionConfiguration changes them."""
    uri = image_uri(sandbox)
    sandbox.register_image(uri, dataall_like_root(tmp_path / "root", Cmd=["other.handler"]))
    create_image_function(clients, role, uri)

    assert invoke(clients, "image-fn") == (None, {"other": True})
    clients("lambda").update_function_configuration(FunctionName="image-fn", ImageConfig={"Command": ["app.handler"]})
    assert invoke(clients, "image-fn")[1]["dependency_says"] == "from the image"


def test_an_image_on_an_aws_base_image_runs_from_var_task_with_packages_beside_the_code(
    sandbox: Any, clients: Clients, role: str, tmp_path: Path
) -> None:
    """AWS: on an AWS base image the code and its packages (`pip install -t`) go to
    `${LAMBDA_TASK_ROOT}` (/var/task), the entry point is /lambda-entrypoint.sh and the CMD the
    handler (Lambda developer guide, "Deploy Python Lambda functions with container images")."""
    root = write(tmp_path / "root", {"var/task/app.py": HANDLER, "var/task/imagedep/__init__.py": "SAYS = 'beside'\n"})
    uri = image_uri(sandbox)
    sandbox.register_image(uri, root)
    create_image_function(clients, role, uri, ImageConfig={"Command": ["app.handler"]})

    error, payload = invoke(clients, "image-fn")

    assert error is None, payload
    assert payload["dependency_says"] == "beside"
    assert Path(payload["cwd"]) == root / "var" / "task"


def test_an_image_functions_errors_have_the_shapes_of_a_zip_functions(
    sandbox: Any, clients: Clients, role: str, tmp_path: Path
) -> None:
    """AWS: an unhandled exception is a function error named by its type; a handler module the
    image lacks is Runtime.ImportModuleError (Lambda developer guide, "Lambda function errors in
    Python")."""
    uri = image_uri(sandbox)
    sandbox.register_image(uri, dataall_like_root(tmp_path / "root"))
    create_image_function(clients, role, uri, ImageConfig={"Command": ["app.handler"]})
    create_image_function(clients, role, uri, name="missing-module", ImageConfig={"Command": ["nowhere.handler"]})

    error, payload = invoke(clients, "image-fn", {"raise": "boom"})
    missing_error, missing = invoke(clients, "missing-module")

    assert (error, payload["errorType"], payload["errorMessage"]) == ("Handled", "KeyError", "'boom'")
    assert (missing_error, missing["errorType"]) == ("Handled", "Runtime.ImportModuleError")


def test_an_entry_point_missing_from_the_image_is_an_invalid_entrypoint(
    sandbox: Any, clients: Clients, role: str, tmp_path: Path
) -> None:
    """AWS: an image whose entry point cannot be started fails with Runtime.InvalidEntrypoint
    (Lambda developer guide, "Troubleshoot invocation issues in Lambda")."""
    uri = image_uri(sandbox)
    sandbox.register_image(uri, dataall_like_root(tmp_path / "root"))
    create_image_function(
        clients, role, uri, ImageConfig={"EntryPoint": ["/no/such/entrypoint"], "Command": ["app.handler"]}
    )

    error, payload = invoke(clients, "image-fn")

    assert error == "Handled"
    assert payload["errorType"] == "Runtime.InvalidEntrypoint"


def test_cloudformation_creates_an_image_function_that_answers_from_its_root(
    sandbox: Any, clients: Clients, role: str, tmp_path: Path
) -> None:
    """AWS: AWS::Lambda::Function with `PackageType: Image`, `Code.ImageUri` and `ImageConfig`
    (CloudFormation resource reference, AWS::Lambda::Function), as data.all's Lambdas stack
    declares its API, worker and search functions."""
    uri = image_uri(sandbox, repository="dataall-main-ecr-repository", tag="lambdas-2.9.0")
    sandbox.register_image(uri, dataall_like_root(tmp_path / "root"))
    cfn = clients("cloudformation")
    template = {
        "Resources": {
            "Api": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "FunctionName": "dataall-main-graphql",
                    "PackageType": "Image",
                    "Code": {"ImageUri": uri},
                    "ImageConfig": {"Command": ["app.handler"]},
                    "Role": role,
                    "Timeout": 10,
                    "Environment": {"Variables": {"GREETING": "from the stack"}},
                },
            }
        }
    }

    cfn.create_stack(StackName="image-fns", TemplateBody=json.dumps(template))
    status = settle(cfn, "image-fns")
    error, payload = invoke(clients, "dataall-main-graphql")

    assert status == "CREATE_COMPLETE"
    assert error is None, payload
    assert payload["greeting"] == "from the stack"
    assert payload["dependency_says"] == "from the image"
    configuration = clients("lambda").get_function_configuration(FunctionName="dataall-main-graphql")
    assert configuration["PackageType"] == "Image"
    assert configuration["ImageConfigResponse"]["ImageConfig"]["Command"] == ["app.handler"]


def test_create_function_with_an_image_ecr_does_not_hold_is_refused(sandbox: Any, clients: Clients, role: str) -> None:
    """AWS: CreateFunction resolves the image in ECR; an image that is not there fails the call
    with InvalidParameterValueException, "Source image … is not valid. Provide a valid source
    image." (Lambda API reference, CreateFunction, Errors; the message as Lambda answers it)."""
    uri = image_uri(sandbox, tag="never-pushed")

    with pytest.raises(ClientError) as refused:
        create_image_function(clients, role, uri)

    assert refused.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert (
        refused.value.response["Error"]["Message"] == f"Source image {uri} is not valid. Provide a valid source image."
    )
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        clients("lambda").get_function(FunctionName="image-fn")


def test_a_stack_whose_function_names_a_missing_image_fails_with_lambdas_message(
    sandbox: Any, clients: Clients, role: str
) -> None:
    """AWS: CloudFormation reports the CreateFunction error as the resource's CREATE_FAILED reason
    and rolls the stack back."""
    uri = image_uri(sandbox, tag="never-pushed")
    cfn = clients("cloudformation")
    function = {"PackageType": "Image", "Code": {"ImageUri": uri}, "Role": role}

    cfn.create_stack(
        StackName="missing-image",
        TemplateBody=json.dumps({"Resources": {"Api": {"Type": "AWS::Lambda::Function", "Properties": function}}}),
    )
    status = settle(cfn, "missing-image")
    reasons = [
        e.get("ResourceStatusReason", "")
        for e in cfn.describe_stack_events(StackName="missing-image")["StackEvents"]
        if e["LogicalResourceId"] == "Api" and e["ResourceStatus"] == "CREATE_FAILED"
    ]

    assert status == "ROLLBACK_COMPLETE"
    assert any("Source image" in reason and "is not valid" in reason for reason in reasons), reasons


def test_a_function_whose_image_left_ecr_is_failed_and_its_invoke_is_refused(
    sandbox: Any, clients: Clients, role: str, tmp_path: Path
) -> None:
    """AWS: "If the corresponding container image no longer exists on Amazon ECR …, the function
    enters the Failed state, and Lambda returns a failure for any function invocations" (Lambda
    developer guide, "Invoking functions defined as container images"); StateReasonCode
    `ImageDeleted` (API reference, FunctionConfiguration). Invoke answers a function that is not
    Active with ResourceConflictException, "The operation cannot be performed at this time. The
    function is currently in the following state: …" (Lambda developer guide, "Troubleshoot
    invocation issues in Lambda")."""
    uri = image_uri(sandbox)
    sandbox.register_image(uri, dataall_like_root(tmp_path / "root"))
    create_image_function(clients, role, uri, ImageConfig={"Command": ["app.handler"]})
    assert invoke(clients, "image-fn")[0] is None

    clients("ecr").batch_delete_image(repositoryName="fn-images", imageIds=[{"imageTag": "v1"}])
    configuration = clients("lambda").get_function_configuration(FunctionName="image-fn")
    with pytest.raises(ClientError) as refused:
        invoke(clients, "image-fn")

    assert (configuration["State"], configuration["StateReasonCode"]) == ("Failed", "ImageDeleted")
    assert refused.value.response["Error"]["Code"] == "ResourceConflictException"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert "currently in the following state: Failed" in refused.value.response["Error"]["Message"]


def test_an_image_is_registered_through_the_control_api_and_outlives_a_reset(
    sandbox: Any, clients: Clients, tmp_path: Path
) -> None:
    """The sandbox's own interface (`sandbox serve --image URI=PATH`, `POST /_sandbox/images`):
    a registered image is the sandbox's set-up, back in ECR after a reset."""
    import urllib.request

    uri = image_uri(sandbox)
    request = urllib.request.Request(
        f"{sandbox.endpoint}/_sandbox/images",
        data=json.dumps({"uri": uri, "root": str(dataall_like_root(tmp_path / "root"))}).encode(),
        method="POST",
    )
    with urllib.request.urlopen(request) as response:
        listed = json.loads(response.read())["images"]
    sandbox.reset()

    assert [image["uri"] for image in listed] == [uri]
    assert clients("ecr").describe_images(repositoryName="fn-images")["imageDetails"][0]["imageTags"] == ["v1"]


def settle(cfn: Any, stack: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while True:
        status: str = cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]
        if not status.endswith("_IN_PROGRESS"):
            return status
        if time.monotonic() > deadline:
            raise AssertionError(f"stack {stack} still {status} after {timeout} s")
        time.sleep(0.05)


# ---------------------------------------------------------------------- roots built from data.all's source
FAKE_DOCKERFILE = """FROM public.ecr.aws/amazonlinux/amazonlinux:2023
ARG FUNCTION_DIR="/home/app/"
ARG PYTHON_VERSION=python3.12
ENV PYTHON_VERSION=${PYTHON_VERSION}
WORKDIR ${FUNCTION_DIR}
COPY backend/requirements.txt ./requirements.txt
RUN ${PYTHON_VERSION} -m pip install -r requirements.txt --prefix=/usr/local
COPY backend/. ./
ENV config_location="config.json"
COPY config.json ./config.json
COPY --chmod=755 <<EOT /awslambdaric.sh
#!/usr/bin/env bash
${PYTHON_VERSION} -m awslambdaric \\$@
EOT
ENTRYPOINT [ "/awslambdaric.sh" ]
CMD ["probe_handler.handler"]
"""
PROBE = """
import json, os

import tinydep


def handler(event, context):
    with open(os.environ["config_location"]) as config:
        modules = sorted(json.load(config)["modules"])
    return {"tinydep": tinydep.__file__, "modules": modules, "cwd": os.getcwd()}
"""


def tiny_wheel(folder: Path) -> Path:
    """A pure-Python wheel pip installs with no index (`tinydep`)."""
    import hashlib
    import zipfile

    files = {
        "tinydep/__init__.py": "VALUE = 1\n",
        "tinydep-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: tinydep\nVersion: 1.0\n",
        "tinydep-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = [
        f"{name},sha256={base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b'=').decode()},{len(text)}"
        for name, text in files.items()
    ]
    files["tinydep-1.0.dist-info/RECORD"] = "\n".join([*record, "tinydep-1.0.dist-info/RECORD,,"]) + "\n"
    wheel = folder / "tinydep-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return wheel


def fake_dataall_source(folder: Path) -> Path:
    wheels = folder / "wheels"
    wheels.mkdir(parents=True)
    wheel = tiny_wheel(wheels)
    return write(
        folder / "source",
        {
            "config.json": json.dumps({"modules": {"datasets": {"active": True}, "omics": {"active": False}}}),
            "backend/requirements.txt": f"{wheel}\n",
            "backend/probe_handler.py": PROBE,
            "backend/docker/prod/lambda/Dockerfile": FAKE_DOCKERFILE,
        },
    )


def test_a_root_built_from_a_dataall_source_tree_runs_as_its_lambda_image(
    sandbox: Any, clients: Clients, role: str, tmp_path: Path
) -> None:
    """data.all's Lambda image (backend/docker/prod/lambda/Dockerfile): the requirements under
    /usr/local, the backend's code and config.json in /home/app/, `config_location`, the
    runtime interface client as entry point and the CMD's handler; built without Docker."""
    from sandbox.image_build import build_dataall_image_root

    root = build_dataall_image_root(
        fake_dataall_source(tmp_path), cache_dir=tmp_path / "cache", pip_options=["--no-index"], extra_packages=[]
    )
    uri = image_uri(sandbox, repository="dataall-main-ecr-repository", tag="lambdas-test")
    sandbox.register_image(uri, root)
    create_image_function(clients, role, uri)  # no ImageConfig: the image's CMD

    error, payload = invoke(clients, "image-fn")

    assert error is None, payload
    assert Path(payload["tinydep"]).is_relative_to(root / "usr" / "local")
    assert payload["modules"] == ["datasets", "omics"]
    assert Path(payload["cwd"]) == root / "home" / "app"
    assert json.loads((root / "image.json").read_text())["Entrypoint"] == ["/awslambdaric.sh"]
    assert "-m awslambdaric $@" in (root / "awslambdaric.sh").read_text()


def test_a_built_root_is_cached_by_a_digest_of_its_inputs(tmp_path: Path) -> None:
    """A root is built once per digest of its inputs; a changed backend file is a new root."""
    from sandbox.image_build import build_dataall_image_root

    source = write(tmp_path / "source", {"backend/app.py": "X = 1\n", "config.json": "{}"})
    first = build_dataall_image_root(source, cache_dir=tmp_path / "cache", extra_packages=[])
    again = build_dataall_image_root(source, cache_dir=tmp_path / "cache", extra_packages=[])
    write(source, {"backend/app.py": "X = 2\n"})
    changed = build_dataall_image_root(source, cache_dir=tmp_path / "cache", extra_packages=[])

    assert first == again
    assert changed != first
    assert (changed / "app.py").read_text() == "X = 2\n"  # no Dockerfile: WORKDIR /


#: data.all 2.9.0's source, read in place (never copied into this repository).
DATAALL_SOURCE = Path(__file__).resolve().parents[2].parent / "shared/upstream/dataall/2.9.0/source"


@pytest.mark.skipif(not (DATAALL_SOURCE / "backend").is_dir(), reason="data.all 2.9.0's source is not on this machine")
def test_dataall_worker_function_answers_from_a_root_built_from_dataall_source(
    sandbox: Any, clients: Clients, role: str
) -> None:
    """data.all's AWS worker (`aws_handler.handler`, the Lambdas stack's worker function with
    `ImageConfig.Command`) runs from its image built from data.all 2.9.0's source: it loads every
    module's handlers from the image's code and packages and consumes an empty SQS batch, with no
    database or OpenSearch behind it. The first build takes about a minute (pip), then it is
    cached under ~/.cache/dataall-installer/images/."""
    from sandbox.image_build import build_dataall_image_root

    root = build_dataall_image_root(DATAALL_SOURCE)
    uri = image_uri(sandbox, repository="dataall-main-ecr-repository", tag="lambdas-2.9.0")
    sandbox.register_image(uri, root)
    create_image_function(
        clients, role, uri, name="dataall-main-worker", ImageConfig={"Command": ["aws_handler.handler"]},
    )  # fmt: skip

    response = clients("lambda").invoke(FunctionName="dataall-main-worker", Payload=b'{"Records": []}', LogType="Tail")
    logs = base64.b64decode(response["LogResult"]).decode()

    assert response.get("FunctionError") is None, response["Payload"].read()
    assert json.loads(response["Payload"].read()) is None
    assert "All modules have been imported" in logs

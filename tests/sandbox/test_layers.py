"""Lambda layers through the sandbox: a function's layers are its /opt, and its runtime looks
there (sandbox/layers.py, sandbox/lambda_runtime.py; the reaches into moto in
sandbox/moto_internals.py are pinned here). Each test names the AWS behaviour and its page:
https://docs.aws.amazon.com/lambda/latest/dg/chapter-layers.html and
https://docs.aws.amazon.com/lambda/latest/dg/packaging-layers.html ("Layer paths for each Lambda
runtime")."""

from __future__ import annotations

import io
import json
import stat
import zipfile
from collections.abc import Callable
from typing import Any

import pytest

from sandbox import layers, moto_internals
from sandbox.lambda_runtime import NODE_SDK
from tests.sandbox.cloudformation.conftest import settle
from tests.sandbox.conftest import Clients, package

#: a layer of another account, as data.all's authorizer names one (Klayers): the sandbox holds no copy
ANOTHER_ACCOUNTS_LAYER = "arn:aws:lambda:eu-west-1:770693421928:layer:Klayers-p312-cryptography:1"
mounted_at_opt = pytest.mark.skipif(
    not layers.private_opt_supported(), reason="this machine cannot give a worker a private /opt (unshare, mount)"
)

PYTHON_HANDLER = """
import os, subprocess


def handler(event, context):
    import greeting, versioned
    answer = {"greeting": greeting.WHO, "versioned": versioned.WHO, "path": os.environ["PATH"]}
    if event.get("run"):
        answer["ran"] = subprocess.run(event["run"], capture_output=True, text=True, check=True).stdout
    if event.get("write"):
        try:
            open(event["write"], "w").close()
            answer["wrote"] = True
        except OSError as error:
            answer["wrote"] = error.strerror
    return answer
"""


def layer_zip(files: dict[str, str], executables: tuple[str, ...] = ()) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = ((0o755 if name in executables else 0o644) | stat.S_IFREG) << 16
            archive.writestr(info, text)
    return buffer.getvalue()


@pytest.fixture
def role(clients: Clients) -> str:
    arn: str = clients("iam").create_role(RoleName="layer-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    return arn


@pytest.fixture
def publish(clients: Clients) -> Callable[..., str]:
    def publish_layer(name: str, files: dict[str, str], executables: tuple[str, ...] = ()) -> str:
        version = clients("lambda").publish_layer_version(
            LayerName=name, Content={"ZipFile": layer_zip(files, executables)}
        )
        return str(version["LayerVersionArn"])

    return publish_layer


def invoke(clients: Clients, name: str, event: dict[str, Any]) -> tuple[str | None, Any]:
    response = clients("lambda").invoke(FunctionName=name, Payload=json.dumps(event))
    return response.get("FunctionError"), json.loads(response["Payload"].read())


@pytest.fixture
def python_function(clients: Clients, role: str, publish: Callable[..., str]) -> str:
    """python3.12 with two layers: the second overwrites the first's `greeting`, and a module in
    python/lib/python3.12/site-packages, a script in bin/."""
    first = publish(
        "first",
        {
            "python/greeting.py": "WHO = 'first layer'\n",
            "python/lib/python3.12/site-packages/versioned.py": "WHO = 1\n",
        },
    )
    second = publish(
        "second",
        {"python/greeting.py": "WHO = 'second layer'\n", "bin/layer-tool": "#!/bin/sh\necho from the layer bin\n"},
        executables=("bin/layer-tool",),
    )
    clients("lambda").create_function(
        FunctionName="with-layers", Runtime="python3.12", Role=role, Handler="app.handler", Timeout=10,
        Code={"ZipFile": package({"app.py": PYTHON_HANDLER})}, Layers=[first, second],
    )  # fmt: skip
    return "with-layers"


def test_a_python_function_imports_from_its_layers_a_later_layer_overwriting(
    clients: Clients, python_function: str
) -> None:
    """AWS: Lambda extracts the layers in the function's order, a later one overwriting the
    files of an earlier one, and Python finds python/ and python/lib/python3.x/site-packages
    (chapter-layers.html; packaging-layers.html, "Layer paths for each Lambda runtime")."""
    error, payload = invoke(clients, python_function, {})

    assert error is None, payload
    assert payload["greeting"] == "second layer"
    assert payload["versioned"] == 1


def test_a_function_runs_a_program_of_its_layers_bin_from_path(clients: Clients, python_function: str) -> None:
    """AWS: /opt/bin is on every runtime's PATH (packaging-layers.html, "Layer paths for each
    Lambda runtime")."""
    error, payload = invoke(clients, python_function, {"run": ["layer-tool"]})

    assert error is None, payload
    assert payload["ran"] == "from the layer bin\n"
    assert payload["path"].endswith("/bin")


def test_without_a_private_opt_the_paths_name_the_layers_folder(
    clients: Clients, python_function: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """AWS: the runtimes find a layer's modules and programs through sys.path and PATH
    (packaging-layers.html); on a machine that cannot mount a private /opt those name the
    folder the layers were extracted to, so the function still finds them."""
    monkeypatch.setattr(layers, "private_opt_supported", lambda: False)

    error, payload = invoke(clients, python_function, {"run": ["layer-tool"]})

    assert error is None, payload
    assert payload["greeting"] == "second layer"
    assert payload["ran"] == "from the layer bin\n"
    assert "/layers/" in payload["path"].split(":")[-1]


@mounted_at_opt
def test_a_function_runs_its_layers_script_at_opt_bin_and_cannot_write_to_opt(
    clients: Clients, python_function: str
) -> None:
    """AWS: the layers are at /opt, so a function may name /opt/bin/... (as CDK's BucketDeployment
    names /opt/awscli/aws), and /opt is read-only: only /tmp is writable (chapter-layers.html;
    https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html)."""
    error, payload = invoke(clients, python_function, {"run": ["/opt/bin/layer-tool"], "write": "/opt/mine"})

    assert error is None, payload
    assert payload["ran"] == "from the layer bin\n"
    assert payload["path"].split(":")[-1] == "/opt/bin"
    assert payload["wrote"] == "Read-only file system"


@mounted_at_opt
def test_a_script_built_for_lambdas_python_runs_from_opt(
    clients: Clients, role: str, publish: Callable[..., str]
) -> None:
    """AWS: a layer's script may name Lambda's own interpreter, /var/lang/bin/python (CDK's
    AwsCli layer ships `awscli/aws` so); it runs (packaging-layers.html)."""
    tool = publish(
        "tool",
        {"tools/hello": "#!/var/lang/bin/python3.12\nimport sys\nprint('hello from', sys.argv[1])\n"},
        executables=("tools/hello",),
    )
    handler = (
        "import subprocess\n\ndef handler(event, context):\n"
        "    return subprocess.run(['/opt/tools/hello', 'the layer'], capture_output=True, text=True).stdout\n"
    )
    clients("lambda").create_function(
        FunctionName="script", Runtime="python3.12", Role=role, Handler="app.handler", Timeout=10,
        Code={"ZipFile": package({"app.py": handler})}, Layers=[tool],
    )  # fmt: skip

    error, payload = invoke(clients, "script", {})

    assert error is None, payload
    assert payload == "hello from the layer\n"


@pytest.mark.skipif(not (NODE_SDK / "@aws-sdk").is_dir(), reason="the sandbox's Node.js SDK is not installed")
def test_a_node_function_requires_a_module_from_its_layers_node_modules(
    clients: Clients, role: str, publish: Callable[..., str]
) -> None:
    """AWS: Node.js runtimes find a layer's nodejs/node_modules and nodejs/nodeNN/node_modules
    through NODE_PATH (packaging-layers.html, "Layer paths for each Lambda runtime")."""
    modules = publish(
        "node-modules",
        {
            "nodejs/node_modules/shared-greeting/index.js": "module.exports = 'from nodejs/node_modules';\n",
            "nodejs/node22/node_modules/versioned-greeting/index.js": "module.exports = 'from node22';\n",
        },
    )
    handler = "exports.handler = async () => [require('shared-greeting'), require('versioned-greeting')];\n"
    clients("lambda").create_function(
        FunctionName="node-layers", Runtime="nodejs22.x", Role=role, Handler="index.handler", Timeout=10,
        Code={"ZipFile": package({"index.js": handler})}, Layers=[modules],
    )  # fmt: skip

    error, payload = invoke(clients, "node-layers", {})

    assert error is None, payload
    assert payload == ["from nodejs/node_modules", "from node22"]


def test_a_function_cloudformation_creates_keeps_its_layers_and_runs_with_them(
    clients: Clients, sandbox: Any, role: str
) -> None:
    """AWS: AWS::Lambda::Function's `Layers` (a LayerVersion's `Ref` is its ARN; another
    account's layer by ARN) are the function's, as GetFunction answers, and its code finds them
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-lambda-function.html).
    Pins `moto_internals._fix_lambda_image_config` (moto 5.2.5's model dropped `Layers`) and
    `moto_internals.lambda_layer_code` (another account's layer is left out)."""
    s3 = clients("s3")
    s3.create_bucket(Bucket="layer-assets")
    s3.put_object(Bucket="layer-assets", Key="layer.zip", Body=layer_zip({"python/greeting.py": "WHO = 'cfn'\n"}))
    template = {
        "Resources": {
            "Layer": {
                "Type": "AWS::Lambda::LayerVersion",
                "Properties": {"Content": {"S3Bucket": "layer-assets", "S3Key": "layer.zip"}},
            },
            "Function": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "Runtime": "python3.12", "Handler": "index.handler", "Role": role,
                    "Code": {"ZipFile": "import greeting\n\ndef handler(event, context):\n    return greeting.WHO\n"},
                    "Layers": [{"Ref": "Layer"}, ANOTHER_ACCOUNTS_LAYER],
                },
            },
        },
        "Outputs": {"Function": {"Value": {"Ref": "Function"}}, "Layer": {"Value": {"Ref": "Layer"}}},
    }  # fmt: skip
    cfn = clients("cloudformation")
    cfn.create_stack(StackName="layers", TemplateBody=json.dumps(template))
    described = settle(cfn, "layers")
    assert described["StackStatus"] == "CREATE_COMPLETE", described.get("StackStatusReason")
    found = {output["OutputKey"]: output["OutputValue"] for output in described["Outputs"]}

    configuration = clients("lambda").get_function(FunctionName=found["Function"])["Configuration"]
    error, payload = invoke(clients, found["Function"], {})
    function = moto_internals.lambda_function(found["Function"], sandbox.region)

    assert [layer["Arn"] for layer in configuration["Layers"]] == [found["Layer"], ANOTHER_ACCOUNTS_LAYER]
    assert (error, payload) == (None, "cfn")
    assert len(moto_internals.lambda_layer_code(function)) == 1


def test_a_missing_layer_of_the_functions_own_account_is_refused(clients: Clients, sandbox: Any, role: str) -> None:
    """AWS: CreateFunction fails with ResourceNotFoundException for a layer version of the
    account that does not exist (Lambda API reference, CreateFunction, Errors)."""
    account = role.split(":")[4]
    missing = f"arn:aws:lambda:{sandbox.region}:{account}:layer:nowhere:1"

    with pytest.raises(clients("lambda").exceptions.ResourceNotFoundException):
        clients("lambda").create_function(
            FunctionName="missing-layer", Runtime="python3.12", Role=role, Handler="app.handler",
            Code={"ZipFile": package({"app.py": PYTHON_HANDLER})}, Layers=[missing],
        )  # fmt: skip

"""The sandbox's Node.js Lambda runtime (`sandbox/lambda_worker_node.mjs`): what AWS's Node.js
runtimes do, each test naming the behaviour and the AWS documentation it follows."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sandbox.lambda_runtime import HANDLED, NODE_SDK
from tests.sandbox.cloudformation.conftest import events, settle
from tests.sandbox.cloudformation.test_custom_resources import apply, outputs, requests, template
from tests.sandbox.conftest import package
from tests.sandbox.test_runtime_fidelity import run_machine

ROOT = Path(__file__).resolve().parents[2]
#: data.all 2.9.0's cloud assembly, where CDK's own Node.js handlers are read (in place, never copied).
CDK_ASSEMBLY = ROOT.parent / "shared/upstream/dataall/2.9.0/cdk.out"
#: CDK's S3 auto-delete-objects handler.
CDK_AUTO_DELETE = CDK_ASSEMBLY / "asset.faa95a81ae7d7373f3e1f242268f904eb748d8d0fdd306e8a6fe515a1905a7d6/index.js"
#: CDK's AwsCustomResource handler (`Custom::AWS` and its kin).
CDK_AWS_CUSTOM_RESOURCE = (
    CDK_ASSEMBLY / "asset.c099eb4e32cbf1c3da9c45a3b280efe2bed38d27d74aa72702b67d86d1b52354/index.js"
)
#: CDK's custom-resource Provider framework (`custom_resources.Provider`).
CDK_PROVIDER_FRAMEWORK = CDK_ASSEMBLY / "asset.bdc104ed9cab1b5b6421713c8155f0b753380595356f710400609664d3635eca"
#: CDK's Trigger provider (`triggers.Trigger`: invokes a function version when the stack deploys).
CDK_TRIGGER_PROVIDER = CDK_ASSEMBLY / "asset.b585179dc46d9100f31367c1eb03e063c4e1a396f99a6a188ac4a05a16ae4fa5"

pytestmark = pytest.mark.skipif(
    not (NODE_SDK / "@aws-sdk").is_dir(), reason="the sandbox's Node.js SDK is not installed: run make setup"
)


@pytest.fixture
def node_function(clients: Callable[[str], Any]) -> Callable[..., str]:
    role = clients("iam").create_role(RoleName="node-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]

    def create(
        files: dict[str, str],
        handler: str = "index.handler",
        name: str = "node-probe",
        runtime: str = "nodejs22.x",
        timeout: int = 10,
    ) -> str:
        clients("lambda").create_function(
            FunctionName=name, Runtime=runtime, Role=role, Handler=handler, Timeout=timeout, MemorySize=256,
            Code={"ZipFile": package(files)}, Environment={"Variables": {"GREETING": "hello"}},
        )  # fmt: skip
        return name

    return create


def invoke(clients: Callable[[str], Any], name: str, event: Any) -> tuple[str | None, Any]:
    response = clients("lambda").invoke(FunctionName=name, Payload=json.dumps(event))
    return response.get("FunctionError"), json.loads(response["Payload"].read())


# --------------------------------------------------------------------------- handlers
ASYNC_HANDLER = """
exports.handler = async (event, context) => ({
  echo: event,
  greeting: process.env.GREETING,
  requestId: context.awsRequestId,
  functionName: context.functionName,
  arn: context.invokedFunctionArn,
  memory: context.memoryLimitInMB,
  logGroup: context.logGroupName,
  logStream: context.logStreamName,
  remaining: context.getRemainingTimeInMillis(),
  waits: context.callbackWaitsForEmptyEventLoop,
});
"""


def test_an_async_handler_answers_with_the_context_lambda_gives(clients, node_function) -> None:
    """AWS, "Define Lambda function handler in Node.js" and "Using the Lambda context object to
    retrieve Node.js function information": an async handler's resolved value is the answer; the
    context has awsRequestId, functionName, invokedFunctionArn, memoryLimitInMB (a string, from
    the environment), logGroupName, logStreamName, getRemainingTimeInMillis() and
    callbackWaitsForEmptyEventLoop (true by default)."""
    name = node_function({"index.js": ASYNC_HANDLER})

    error, payload = invoke(clients, name, {"a": [1, 2]})

    assert error is None
    arn = clients("lambda").get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    assert payload["echo"] == {"a": [1, 2]}
    assert payload["greeting"] == "hello"
    assert payload["functionName"] == name and payload["arn"] == arn
    assert payload["memory"] == "256"
    assert payload["logGroup"] == f"/aws/lambda/{name}" and payload["logStream"]
    assert 0 < payload["remaining"] <= 10_000
    assert payload["waits"] is True
    assert len(payload["requestId"]) == 36


CALLBACK_HANDLER = """
exports.handler = (event, context, callback) => {
  context.callbackWaitsForEmptyEventLoop = event.wait;
  setTimeout(() => console.log("the timer the callback left behind ran"), 300);
  callback(null, { answered: "by callback" });
};
"""


def log_of(response: dict[str, Any]) -> str:
    return base64.b64decode(response.get("LogResult", "")).decode()


def test_a_callback_handler_answers_once_the_event_loop_is_empty(clients, node_function) -> None:
    """AWS, "Define Lambda function handler in Node.js" (callback-based handlers) and "Lambda
    context object in Node.js": `callback(null, result)` answers `result`; with
    callbackWaitsForEmptyEventLoop true (the default) Lambda waits for the event loop to be
    empty (the timer runs within the invocation), with false it answers at once and the pending
    timer waits, frozen, for a later invocation."""
    name = node_function({"index.js": CALLBACK_HANDLER})
    lam = clients("lambda")

    waiting = lam.invoke(FunctionName=name, Payload=json.dumps({"wait": True}), LogType="Tail")
    at_once = lam.invoke(FunctionName=name, Payload=json.dumps({"wait": False}), LogType="Tail")

    assert "FunctionError" not in waiting and "FunctionError" not in at_once
    assert json.loads(waiting["Payload"].read()) == {"answered": "by callback"}
    assert json.loads(at_once["Payload"].read()) == {"answered": "by callback"}
    assert "the timer the callback left behind ran" in log_of(waiting)
    assert "the timer the callback left behind ran" not in log_of(at_once)


def test_console_output_is_logged_in_lambdas_node_format(clients, node_function) -> None:
    """AWS, "Log and monitor Node.js Lambda functions": each console line is
    `<timestamp>\\t<request id>\\t<LEVEL>\\t<message>` between START and END of the request."""
    name = node_function({"index.js": "exports.handler = async () => { console.warn('careful', 42); };"})

    response = clients("lambda").invoke(FunctionName=name, Payload=b"{}", LogType="Tail")

    lines = log_of(response).splitlines()
    warning = next(line for line in lines if line.endswith("careful 42"))
    stamp, logged_id, level, _ = warning.split("\t")
    assert stamp.endswith("Z") and level == "WARN" and len(logged_id) == 36
    assert lines[0].startswith("START RequestId: ") and any(line.startswith("END RequestId: ") for line in lines)
    assert json.loads(response["Payload"].read()) is None


ES_MODULE = """
import { S3Client } from "@aws-sdk/client-s3";
const started = await Promise.resolve("top-level await");
export const handler = async (event) => ({ kind: "es module", started, sdk: typeof S3Client, echo: event });
"""


@pytest.mark.parametrize(
    "files",
    [
        {"index.mjs": ES_MODULE},
        {"index.js": ES_MODULE, "package.json": json.dumps({"type": "module"})},
    ],
    ids=["mjs", "js-in-a-type-module-package"],
)
def test_an_es_module_handler_runs_and_imports_the_runtimes_sdk(clients, node_function, files) -> None:
    """AWS, "Define Lambda function handler in Node.js" (ES module handlers): `.mjs`, or `.js`
    under a package.json with "type": "module", load as ES modules with top-level await, and an
    ES module imports the SDK the runtime includes ("Runtime-included SDK versions")."""
    name = node_function(files)

    error, payload = invoke(clients, name, {"n": 1})

    assert error is None
    assert payload == {"kind": "es module", "started": "top-level await", "sdk": "function", "echo": {"n": 1}}


def test_a_commonjs_handler_in_a_folder_with_a_cjs_file(clients, node_function) -> None:
    """AWS: the handler `lib/app.handler` names `lib/app` under the task root; a `.cjs` file
    loads as CommonJS (nodejs-handler page, file extensions the runtime tries)."""
    name = node_function({"lib/app.cjs": "module.exports.handler = async () => 'from a cjs file';"}, "lib/app.handler")

    assert invoke(clients, name, {}) == (None, "from a cjs file")


THROWING = """
exports.handler = async (event) => {
  if (event.kind === "string") throw "just a string";
  throw new TypeError("the input is not a list");
};
exports.calls_back = (event, context, callback) => callback(new RangeError("out of range"));
"""


def test_a_thrown_error_arrives_in_lambdas_node_error_document(clients, node_function) -> None:
    """AWS, "AWS Lambda function errors in Node.js": an error the handler throws is answered as
    `{"errorType", "errorMessage", "trace"}`, the trace being the error's stack as lines, with
    the Invoke response's FunctionError set (as the sandbox sets it for a Python function's
    error); a thrown non-Error is named by its JavaScript type, with an empty trace."""
    name = node_function({"index.js": THROWING})

    error, payload = invoke(clients, name, {})
    string_error, string_payload = invoke(clients, name, {"kind": "string"})

    assert error == HANDLED
    assert set(payload) == {"errorType", "errorMessage", "trace"}
    assert (payload["errorType"], payload["errorMessage"]) == ("TypeError", "the input is not a list")
    assert payload["trace"][0] == "TypeError: the input is not a list"
    assert any("index.js" in line for line in payload["trace"][1:])
    assert string_error == HANDLED
    assert string_payload == {"errorType": "string", "errorMessage": "just a string", "trace": []}


def test_an_error_passed_to_the_callback_is_the_functions_error(clients, node_function) -> None:
    """AWS, "AWS Lambda function errors in Node.js": `callback(error)` fails the invocation
    with the same error document as a thrown error."""
    name = node_function({"index.js": THROWING}, handler="index.calls_back")

    error, payload = invoke(clients, name, {})

    assert error == HANDLED
    assert (payload["errorType"], payload["errorMessage"]) == ("RangeError", "out of range")
    assert payload["trace"][0] == "RangeError: out of range"


def test_the_same_error_of_a_python_function_has_the_same_function_error(clients, node_function) -> None:
    """The sandbox answers FunctionError alike for both runtimes' errors."""
    python = node_function(
        {"app.py": "def handler(e, c):\n    raise ValueError('x')\n"}, "app.handler", "py", "python3.12"
    )
    node = node_function({"index.js": THROWING})

    assert invoke(clients, python, {})[0] == invoke(clients, node, {})[0] is not None


STRAY_ERRORS = """
let calls = 0;
exports.handler = async (event) => {
  calls += 1;
  if (event.stray === "exception") setTimeout(() => { throw new Error("thrown in a timer"); }, 10);
  if (event.stray === "rejection") Promise.reject(new Error("nobody catches this"));
  if (event.stray) await new Promise((resolve) => setTimeout(resolve, 300));
  if (event.sleep) await new Promise((resolve) => setTimeout(resolve, event.sleep * 1000));
  return { calls };
};
"""


def test_an_error_outside_the_handlers_promise_fails_the_invocation(clients, node_function) -> None:
    """AWS's Node.js runtime interface client: an uncaught exception (a throwing timer) fails the
    invocation with that error, an unhandled promise rejection with
    Runtime.UnhandledPromiseRejection; the next invocation is served. (AWS then starts a new
    environment; the sandbox keeps the warm one.)"""
    name = node_function({"index.js": STRAY_ERRORS})

    thrown = invoke(clients, name, {"stray": "exception"})
    rejected = invoke(clients, name, {"stray": "rejection"})
    after = invoke(clients, name, {})

    assert thrown[0] is not None
    assert (thrown[1]["errorType"], thrown[1]["errorMessage"]) == ("Error", "thrown in a timer")
    assert rejected[0] is not None
    assert rejected[1]["errorType"] == "Runtime.UnhandledPromiseRejection"
    assert rejected[1]["errorMessage"] == "Error: nobody catches this"
    assert after[0] is None


def test_a_node_function_past_its_timeout_is_stopped_as_a_python_one(clients, node_function) -> None:
    """AWS, "Configure Lambda function timeout": Lambda stops the function at its timeout and
    answers "Task timed out after N.00 seconds" (the same answer the sandbox gives for Python)."""
    name = node_function({"index.js": STRAY_ERRORS}, timeout=1)

    error, payload = invoke(clients, name, {"sleep": 30})
    again = invoke(clients, name, {})

    assert error is not None
    assert payload["errorMessage"].endswith("Task timed out after 1.00 seconds")
    assert again == (None, {"calls": 1})  # a new environment


NAMED_ERROR = """
class StackNotReady extends Error {
  constructor(message) {
    super(message);
    this.name = "StackNotReady";
  }
}
exports.handler = async () => { throw new StackNotReady("still creating"); };
"""


def test_a_step_functions_task_catches_a_node_error_by_its_name(clients, node_function) -> None:
    """AWS, Step Functions developer guide, "Handling errors in Step Functions workflows": a
    Lambda task fails with the function's errorType (a Node.js error's `name`), which Retry and
    Catch match."""
    arn = clients("lambda").get_function(FunctionName=node_function({"index.js": NAMED_ERROR}))["Configuration"][
        "FunctionArn"
    ]
    definition = {
        "StartAt": "Call",
        "States": {
            "Call": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                     "Parameters": {"FunctionName": arn, "Payload.$": "$"},
                     "Catch": [{"ErrorEquals": ["StackNotReady"], "ResultPath": "$.caught", "Next": "Caught"}],
                     "End": True},
            "Caught": {"Type": "Pass", "End": True},
        },
    }  # fmt: skip

    execution = run_machine(clients, definition, {})

    caught = json.loads(execution["output"])["caught"]
    assert caught["Error"] == "StackNotReady"
    assert json.loads(caught["Cause"])["errorMessage"] == "still creating"


@pytest.mark.parametrize(
    ("files", "handler", "error_type", "message"),
    [
        ({"other.js": "exports.handler = async () => 1;"}, "index.handler", "Runtime.ImportModuleError",
         "Error: Cannot find module 'index'"),
        ({"index.js": "require('left-out-of-the-zip');\nexports.handler = async () => 1;"}, "index.handler",
         "Runtime.ImportModuleError", "Error: Cannot find module 'left-out-of-the-zip'"),
        ({"index.js": "exports.other = async () => 1;"}, "index.handler", "Runtime.HandlerNotFound",
         "index.handler is undefined or not exported"),
        ({"index.js": "exports.handler = 42;"}, "index.handler", "Runtime.HandlerNotFound",
         "index.handler is not a function"),
        ({"index.js": "exports.handler = async () => {"}, "index.handler", "Runtime.UserCodeSyntaxError",
         "SyntaxError: Unexpected end of input"),
        ({"index.js": "exports.handler = async () => 1;"}, "index", "Runtime.MalformedHandlerName", "Bad handler"),
    ],
    ids=["no-module", "missing-dependency", "no-export", "not-a-function", "syntax-error", "malformed-name"],
)  # fmt: skip
def test_a_package_that_cannot_start_fails_with_the_runtimes_init_error(
    clients, node_function, files, handler, error_type, message
) -> None:
    """AWS, "Troubleshoot invocation issues in Lambda" and "AWS Lambda function errors in
    Node.js": the Node.js runtime fails a function it cannot load with Runtime.ImportModuleError
    (a module not found, `Error: Cannot find module ...`), Runtime.HandlerNotFound (`<handler> is
    undefined or not exported`), Runtime.UserCodeSyntaxError or Runtime.MalformedHandlerName; the
    trace starts with the error type."""
    name = node_function(files, handler)

    error, payload = invoke(clients, name, {})

    assert error is not None
    assert payload["errorType"] == error_type
    assert payload["errorMessage"].startswith(message)
    assert payload["trace"][0].startswith(f"{error_type}: {message}")


def test_a_node_package_sees_its_own_files_and_the_runtimes_sdk_only(clients, node_function) -> None:
    """AWS runs the zip with the runtime's own modules (NODE_PATH: the runtime's SDK, then the
    task root): nothing of the project around the sandbox is on a function's module paths but
    the SDK that stands in for the runtime's."""
    name = node_function({"index.js": "exports.handler = async () => require.resolve.paths('anything');"})

    error, paths = invoke(clients, name, {})

    assert error is None
    project = ROOT.as_posix() + "/"
    assert [p for p in paths if p.startswith(project)] == [NODE_SDK.as_posix()]


SDK_HANDLER = """
const { S3Client, PutObjectCommand, GetObjectCommand } = require("@aws-sdk/client-s3");
const { SSMClient, PutParameterCommand, GetParameterCommand } = require("@aws-sdk/client-ssm");
const s3 = new S3Client({});
const ssm = new SSMClient({});

exports.handler = async (event) => {
  await s3.send(new PutObjectCommand({ Bucket: event.bucket, Key: "note.txt", Body: "written by node" }));
  const object = await s3.send(new GetObjectCommand({ Bucket: event.bucket, Key: "note.txt" }));
  await ssm.send(new PutParameterCommand({ Name: "/node/greeting", Value: process.env.GREETING, Type: "String" }));
  const parameter = await ssm.send(new GetParameterCommand({ Name: "/node/greeting" }));
  return {
    body: await object.Body.transformToString(),
    parameter: parameter.Parameter.Value,
    region: await s3.config.region(),
  };
};
"""


def test_a_handler_calls_the_sandbox_with_the_runtimes_sdk(sandbox, clients, node_function) -> None:
    """AWS, "Runtime-included SDK versions" and "Using Lambda environment variables": Node.js
    18+ runtimes include the AWS SDK for JavaScript v3, and the function's credentials and
    region come from its environment; the SDK honours AWS_ENDPOINT_URL ("Service-specific
    endpoints", AWS SDKs and Tools reference guide), so its calls reach the sandbox."""
    clients("s3").create_bucket(Bucket="node-notes")
    name = node_function({"index.js": SDK_HANDLER})

    error, payload = invoke(clients, name, {"bucket": "node-notes"})

    assert error is None, payload
    assert payload == {"body": "written by node", "parameter": "hello", "region": sandbox.region}
    assert clients("s3").get_object(Bucket="node-notes", Key="note.txt")["Body"].read() == b"written by node"
    assert clients("ssm").get_parameter(Name="/node/greeting")["Parameter"]["Value"] == "hello"


def test_a_runtime_the_sandbox_does_not_run_fails_the_invoke_call(clients, node_function) -> None:
    """AWS, Lambda API reference, Invoke, Errors: InvalidRuntimeException, "The runtime or runtime
    version specified is not supported", HTTP 502; the call fails, there is no function answer."""
    name = node_function({"Handler.java": "class Handler {}"}, "example.Handler::handleRequest", "jvm", "java21")

    with pytest.raises(ClientError) as raised:
        clients("lambda").invoke(FunctionName=name, Payload=b"{}")

    assert raised.value.response["Error"]["Code"] == "InvalidRuntimeException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 502


# --------------------------------------------------------------------------- custom resources
CUSTOM_RESOURCE = """
const { S3Client, PutObjectCommand } = require("@aws-sdk/client-s3");
const s3 = new S3Client({});

exports.handler = async (event) => {
  const props = event.ResourceProperties;
  const key = `${BigInt(Date.now()) * 1000000n}-${event.RequestType}`;
  await s3.send(new PutObjectCommand({ Bucket: "requests", Key: key, Body: JSON.stringify(event) }));
  if (props.Silent === "yes") return;
  const status = (props.FailOn || "").split(",").includes(event.RequestType) ? "FAILED" : "SUCCESS";
  let physical = event.PhysicalResourceId || `thing-${props.Name}`;
  if (event.RequestType === "Update" && props.Name !== event.OldResourceProperties.Name) {
    physical = `thing-${props.Name}`;
  }
  const answer = {
    Status: status,
    Reason: status === "FAILED" ? `${event.RequestType} refused` : "",
    PhysicalResourceId: physical,
    StackId: event.StackId,
    RequestId: event.RequestId,
    LogicalResourceId: event.LogicalResourceId,
    Data: { Greeting: `hello ${props.Name}` },
  };
  const response = await fetch(event.ResponseURL, {
    method: "PUT", body: JSON.stringify(answer), headers: { "content-type": "" },
  });
  if (!response.ok) throw new Error(`Unsuccessful HTTP response: ${response.status}`);
};
"""


def node_template(thing: dict[str, Any], **extra: Any) -> str:
    """test_custom_resources' template, its handler a Node.js function."""
    document = json.loads(template({"S3Bucket": "code", "S3Key": "handler.zip"}, thing, **extra))
    document["Resources"]["Handler"]["Properties"]["Runtime"] = "nodejs22.x"
    return json.dumps(document)


@pytest.fixture
def node_custom_resource(clients: Callable[[str], Any]) -> None:
    s3 = clients("s3")
    for bucket in ("code", "requests"):
        s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket="code", Key="handler.zip", Body=package({"index.js": CUSTOM_RESOURCE}))


def test_a_node_custom_resource_follows_cloudformations_protocol_as_a_python_one(
    sandbox, clients, node_custom_resource
) -> None:
    """AWS, CloudFormation user guide, "Custom resources" (request and response objects): as
    tests/sandbox/cloudformation/test_custom_resources.py pins for a Python function, a Node.js
    function gets Create, then Update with OldResourceProperties, then Delete on stack delete,
    and the Data it answers is what GetAtt reads."""
    cfn = clients("cloudformation")

    described = apply(cfn, node_template({"Name": "one", "Count": 3}), create=True)
    apply(cfn, node_template({"Name": "one", "Count": 4}))
    cfn.delete_stack(StackName="app")
    deleted = settle(cfn, described["StackId"])

    assert described["StackStatus"] == "CREATE_COMPLETE"
    assert outputs(described) == {"Greeting": "hello one", "Id": "thing-one"}
    assert deleted["StackStatus"] == "DELETE_COMPLETE"
    sent = requests(clients)
    assert [(r["RequestType"], r.get("PhysicalResourceId")) for r in sent] == [
        ("Create", None),
        ("Update", "thing-one"),
        ("Delete", "thing-one"),
    ]
    assert sent[0]["ResponseURL"].startswith(f"{sandbox.endpoint}/_sandbox/cfn-response/")
    assert (sent[1]["OldResourceProperties"]["Count"], sent[1]["ResourceProperties"]["Count"]) == ("3", "4")


def test_a_failed_answer_from_a_node_function_rolls_back_as_a_python_ones(clients, node_custom_resource) -> None:
    """AWS: "Received response status [FAILED] from custom resource. Message returned: ..."; the
    rollback sends Delete for the physical id the failed answer named (the same as for Python)."""
    cfn = clients("cloudformation")

    described = apply(cfn, node_template({"Name": "one", "FailOn": "Create"}), create=True)

    assert described["StackStatus"] == "ROLLBACK_COMPLETE"
    reason = next(r for lid, status, r in events(cfn, "app") if lid == "Thing" and status == "CREATE_FAILED")
    assert str(reason).startswith(
        "Received response status [FAILED] from custom resource. Message returned: Create refused"
    )
    assert [(r["RequestType"], r.get("PhysicalResourceId")) for r in requests(clients)] == [
        ("Create", None),
        ("Delete", "thing-one"),
    ]


# --------------------------------------------------------------------------- CDK's own handlers
def read_policy(bucket: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "s3:GetObject",
             "Resource": f"arn:aws:s3:::{bucket}/*"},
        ],
    }  # fmt: skip


@pytest.mark.skipif(not CDK_AUTO_DELETE.is_file(), reason="data.all 2.9.0's cloud assembly is not on this machine")
def test_cdks_s3_auto_delete_handler_empties_a_tagged_bucket(clients, node_function) -> None:
    """CDK's `autoDeleteObjects` handler as data.all 2.9.0 ships it (aws-cdk-lib, custom-resource
    handler `aws-s3/auto-delete-objects-handler`), run unchanged on nodejs22.x: on Delete it denies
    new objects in the bucket's policy, then deletes every object version and delete marker, but
    only in a bucket tagged `aws-cdk:auto-delete-objects=true`. Its exported `autoDeleteHandler`
    is the part the CDK provider wrapper calls before answering CloudFormation."""
    s3 = clients("s3")
    for bucket, tag in (("tagged-for-deletion", "aws-cdk:auto-delete-objects"), ("not-tagged", "owner")):
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": tag, "Value": "true"}]})
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(read_policy(bucket)))
        for key in ("a.txt", "a.txt", "b/c.txt"):
            s3.put_object(Bucket=bucket, Key=key, Body=b"data")
        s3.delete_object(Bucket=bucket, Key="b/c.txt")
    name = node_function({"index.js": CDK_AUTO_DELETE.read_text()}, handler="index.autoDeleteHandler")

    results = [
        invoke(clients, name, {"RequestType": "Delete", "ResourceProperties": {"BucketName": bucket}})
        for bucket in ("tagged-for-deletion", "not-tagged", "no-such-bucket")
    ]

    assert results == [(None, None)] * 3
    emptied = s3.list_object_versions(Bucket="tagged-for-deletion")
    assert emptied.get("Versions", []) == [] and emptied.get("DeleteMarkers", []) == []
    statement = json.loads(s3.get_bucket_policy(Bucket="tagged-for-deletion")["Policy"])["Statement"][-1]
    assert (statement["Effect"], statement["Action"]) == ("Deny", ["s3:PutObject"])
    kept = s3.list_object_versions(Bucket="not-tagged")
    assert (len(kept["Versions"]), len(kept["DeleteMarkers"])) == (3, 1)


@pytest.mark.skipif(not CDK_AUTO_DELETE.is_file(), reason="data.all 2.9.0's cloud assembly is not on this machine")
def test_cdks_auto_delete_custom_resource_empties_its_bucket_when_the_stack_is_deleted(clients) -> None:
    """CDK's `Custom::S3AutoDeleteObjects` as a CDK app synthesizes it: CloudFormation sends
    Create, then Delete on stack delete, to CDK's handler (`index.handler`, its provider wrapper
    included), which empties the bucket and answers through the ResponseURL with https, so the
    bucket can go and the stack ends DELETE_COMPLETE (AWS: a bucket must be empty to be deleted)."""
    s3, cfn = clients("s3"), clients("cloudformation")
    s3.create_bucket(Bucket="code")
    s3.put_object(Bucket="code", Key="auto-delete.zip", Body=package({"index.js": CDK_AUTO_DELETE.read_text()}))
    trust = {"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                            "Principal": {"Service": "lambda.amazonaws.com"}}]}  # fmt: skip
    stack = {
        "Resources": {
            "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": trust}},
            "Data": {
                "Type": "AWS::S3::Bucket",
                "Properties": {
                    "BucketName": "cdk-data",
                    "Tags": [{"Key": "aws-cdk:auto-delete-objects", "Value": "true"}],
                },
            },
            "Provider": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "Code": {"S3Bucket": "code", "S3Key": "auto-delete.zip"},
                    "Handler": "index.handler",
                    "Runtime": "nodejs22.x",
                    "Timeout": 900,
                    "MemorySize": 128,
                    "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                },
            },
            "AutoDeleteObjects": {
                "Type": "Custom::S3AutoDeleteObjects",
                "Properties": {"ServiceToken": {"Fn::GetAtt": ["Provider", "Arn"]}, "BucketName": {"Ref": "Data"}},
                "UpdateReplacePolicy": "Delete",
                "DeletionPolicy": "Delete",
            },
        }
    }

    created = apply(cfn, json.dumps(stack), create=True)
    for key in ("a.txt", "b/c.txt"):
        s3.put_object(Bucket="cdk-data", Key=key, Body=b"data")
    cfn.delete_stack(StackName="app")
    deleted = settle(cfn, created["StackId"])

    assert created["StackStatus"] == "CREATE_COMPLETE"
    assert deleted["StackStatus"] == "DELETE_COMPLETE", events(cfn, created["StackId"])
    assert "cdk-data" not in [bucket["Name"] for bucket in s3.list_buckets()["Buckets"]]


@pytest.mark.skipif(
    not CDK_AWS_CUSTOM_RESOURCE.is_file(), reason="data.all 2.9.0's cloud assembly is not on this machine"
)
def test_cdks_aws_custom_resource_calls_the_sdk_client_it_names(clients) -> None:
    """CDK's AwsCustomResource handler as data.all's OpenSearch stack uses it
    (`Custom::CloudwatchLogResourcePolicy`): it loads `@aws-sdk/client-cloudwatch-logs` by the
    service's name, calls putResourcePolicy on Create and deleteResourcePolicy on Delete, and
    answers CloudFormation. With InstallLatestAwsSdk it first tries `npm install` of the latest
    client and falls back to the runtime's SDK when that fails (the sandbox keeps npm offline)."""
    s3, cfn, logs = clients("s3"), clients("cloudformation"), clients("logs")
    s3.create_bucket(Bucket="code")
    code = package({"index.js": CDK_AWS_CUSTOM_RESOURCE.read_text()})
    s3.put_object(Bucket="code", Key="aws-custom-resource.zip", Body=code)
    policy = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "logs:PutLogEvents",
                         "Principal": {"Service": "es.amazonaws.com"}, "Resource": "*"}]})  # fmt: skip
    calls = {
        "Create": {"service": "CloudWatchLogs", "action": "putResourcePolicy",
                   "parameters": {"policyName": "ESLogPolicy", "policyDocument": policy},
                   "physicalResourceId": {"id": "ESLogGroupPolicy"}},
        "Delete": {"service": "CloudWatchLogs", "action": "deleteResourcePolicy",
                   "parameters": {"policyName": "ESLogPolicy"},
                   "ignoreErrorCodesMatching": "ResourceNotFoundException"},
    }  # fmt: skip
    trust = {"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                            "Principal": {"Service": "lambda.amazonaws.com"}}]}  # fmt: skip
    stack = {
        "Resources": {
            "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": trust}},
            "Provider": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "Code": {"S3Bucket": "code", "S3Key": "aws-custom-resource.zip"},
                    "Handler": "index.handler",
                    "Runtime": "nodejs22.x",
                    "Timeout": 120,
                    "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                },
            },
            "LogPolicy": {
                "Type": "Custom::CloudwatchLogResourcePolicy",
                "Properties": {
                    "ServiceToken": {"Fn::GetAtt": ["Provider", "Arn"]},
                    **{request: json.dumps(call) for request, call in calls.items()},
                    "InstallLatestAwsSdk": True,
                },
            },
        },
        "Outputs": {"Id": {"Value": {"Ref": "LogPolicy"}}},
    }

    created = apply(cfn, json.dumps(stack), create=True)
    policies = logs.describe_resource_policies()["resourcePolicies"]
    cfn.delete_stack(StackName="app")
    deleted = settle(cfn, created["StackId"])

    assert created["StackStatus"] == "CREATE_COMPLETE", events(cfn, "app")
    assert outputs(created) == {"Id": "ESLogGroupPolicy"}
    assert [(p["policyName"], json.loads(p["policyDocument"])) for p in policies] == [
        ("ESLogPolicy", json.loads(policy))
    ]
    assert deleted["StackStatus"] == "DELETE_COMPLETE"
    assert logs.describe_resource_policies()["resourcePolicies"] == []


USER_ON_EVENT = """
def handler(event, context):
    if event["ResourceProperties"].get("Fail") == "yes":
        raise ValueError("the user function refused " + event["RequestType"])
    return {"PhysicalResourceId": "config-" + event["ResourceProperties"]["Name"], "Data": {"Answer": "42"}}
"""


@pytest.mark.skipif(
    not CDK_PROVIDER_FRAMEWORK.is_dir(), reason="data.all 2.9.0's cloud assembly is not on this machine"
)
@pytest.mark.parametrize("fail", [False, True], ids=["answers", "user-function-fails"])
def test_cdks_provider_framework_invokes_a_python_user_function(clients, fail) -> None:
    """CDK's `custom_resources.Provider` as data.all uses it (its Cognito configuration): the
    framework's Node.js `framework.onEvent` invokes the user's onEvent function (Python here) with
    @aws-sdk/client-lambda, answers CloudFormation with the PhysicalResourceId and Data it
    returned, and when the user function fails answers FAILED with its errorMessage, the stack
    rolling back (the framework ignores the Delete for its CREATE_FAILED marker)."""
    s3, cfn = clients("s3"), clients("cloudformation")
    s3.create_bucket(Bucket="code")
    framework = {f.name: f.read_text() for f in CDK_PROVIDER_FRAMEWORK.glob("*.js")}
    s3.put_object(Bucket="code", Key="framework.zip", Body=package(framework))
    s3.put_object(Bucket="code", Key="user.zip", Body=package({"index.py": USER_ON_EVENT}))
    trust = {"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                            "Principal": {"Service": "lambda.amazonaws.com"}}]}  # fmt: skip
    role = {"Fn::GetAtt": ["Role", "Arn"]}
    stack = {
        "Resources": {
            "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": trust}},
            "OnEvent": {
                "Type": "AWS::Lambda::Function",
                "Properties": {"Code": {"S3Bucket": "code", "S3Key": "user.zip"}, "Handler": "index.handler",
                               "Runtime": "python3.12", "Timeout": 60, "Role": role},
            },
            "Framework": {
                "Type": "AWS::Lambda::Function",
                "Properties": {"Code": {"S3Bucket": "code", "S3Key": "framework.zip"}, "Handler": "framework.onEvent",
                               "Runtime": "nodejs22.x", "Timeout": 900, "Role": role,
                               "Environment": {"Variables": {"USER_ON_EVENT_FUNCTION_ARN": {
                                   "Fn::GetAtt": ["OnEvent", "Arn"]}}}},
            },
            "Config": {
                "Type": "Custom::CognitoConfig",
                "Properties": {"ServiceToken": {"Fn::GetAtt": ["Framework", "Arn"]}, "Name": "one",
                               "Fail": "yes" if fail else "no"},
            },
        },
        "Outputs": {"Answer": {"Value": {"Fn::GetAtt": ["Config", "Answer"]}}, "Id": {"Value": {"Ref": "Config"}}},
    }  # fmt: skip

    described = apply(cfn, json.dumps(stack), create=True)

    if not fail:
        assert described["StackStatus"] == "CREATE_COMPLETE", events(cfn, "app")
        assert outputs(described) == {"Answer": "42", "Id": "config-one"}
        return
    assert described["StackStatus"] == "ROLLBACK_COMPLETE"
    reason = next(r for lid, status, r in events(cfn, "app") if lid == "Config" and status == "CREATE_FAILED")
    assert "the user function refused Create" in str(reason)


TRIGGERED = """
import os
import boto3


def handler(event, context):
    if os.environ["FAIL"] == "yes":
        raise RuntimeError("the migration failed")
    boto3.client("ssm").put_parameter(Name="/trigger/ran", Value=context.invoked_function_arn, Type="String")
    return {"ok": True}
"""


@pytest.mark.skipif(not CDK_TRIGGER_PROVIDER.is_dir(), reason="data.all 2.9.0's cloud assembly is not on this machine")
@pytest.mark.parametrize("fail", [False, True], ids=["runs", "handler-fails"])
def test_cdks_trigger_invokes_its_function_version_when_the_stack_deploys(clients, fail) -> None:
    """CDK's `triggers.Trigger` as data.all uses it (Cognito configuration, database migrations):
    the provider (`__entrypoint__.handler`, nodejs22.x) invokes the function version HandlerArn
    names with @aws-sdk/client-lambda on Create; the function's error fails the resource with its
    errorMessage and the stack rolls back."""
    s3, cfn, ssm = clients("s3"), clients("cloudformation"), clients("ssm")
    s3.create_bucket(Bucket="code")
    provider = {f.name: f.read_text() for f in CDK_TRIGGER_PROVIDER.glob("*.js")}
    s3.put_object(Bucket="code", Key="trigger.zip", Body=package(provider))
    s3.put_object(Bucket="code", Key="target.zip", Body=package({"index.py": TRIGGERED}))
    trust = {"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                            "Principal": {"Service": "lambda.amazonaws.com"}}]}  # fmt: skip
    role = {"Fn::GetAtt": ["Role", "Arn"]}
    stack = {
        "Resources": {
            "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": trust}},
            "Target": {
                "Type": "AWS::Lambda::Function",
                "Properties": {"Code": {"S3Bucket": "code", "S3Key": "target.zip"}, "Handler": "index.handler",
                               "Runtime": "python3.12", "Timeout": 60, "Role": role,
                               "Environment": {"Variables": {"FAIL": "yes" if fail else "no"}}},
            },
            "TargetVersion": {"Type": "AWS::Lambda::Version", "Properties": {"FunctionName": {"Ref": "Target"}}},
            "Provider": {
                "Type": "AWS::Lambda::Function",
                "Properties": {"Code": {"S3Bucket": "code", "S3Key": "trigger.zip"},
                               "Handler": "__entrypoint__.handler", "Runtime": "nodejs22.x", "Timeout": 900,
                               "MemorySize": 128, "Role": role},
            },
            "Trigger": {
                "Type": "Custom::Trigger",
                "Properties": {"ServiceToken": {"Fn::GetAtt": ["Provider", "Arn"]},
                               "HandlerArn": {"Ref": "TargetVersion"}, "InvocationType": "RequestResponse",
                               "Timeout": "900000", "ExecuteOnHandlerChange": True},
            },
        },
    }  # fmt: skip

    described = apply(cfn, json.dumps(stack), create=True)

    if not fail:
        assert described["StackStatus"] == "CREATE_COMPLETE", events(cfn, "app")
        version = next(
            r["PhysicalResourceId"]
            for r in cfn.describe_stack_resources(StackName="app")["StackResources"]
            if r["LogicalResourceId"] == "TargetVersion"
        )
        assert ssm.get_parameter(Name="/trigger/ran")["Parameter"]["Value"] == version
        return
    assert described["StackStatus"] == "ROLLBACK_COMPLETE"
    reason = next(r for lid, status, r in events(cfn, "app") if lid == "Trigger" and status == "CREATE_FAILED")
    assert "the migration failed" in str(reason)

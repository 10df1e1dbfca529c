"""Every reach into moto 5.2.5's internals, in one place.

moto is pinned exactly (`moto==5.2.5`): each function here depends on a private detail of
that version. Each one has a test in `tests/unit/sandbox/test_moto_internals.py` (or, where
it needs a running sandbox, in `tests/sandbox/`) that pins the AWS behaviour it imitates, so
an upgrade of moto shows at once what moved.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import moto
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.config import default_user_config
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

MOTO_VERSION = "5.2.5"
if moto.__version__ != MOTO_VERSION:  # pragma: no cover - guarded by the pin
    raise ImportError(
        f"the sandbox is written against moto {MOTO_VERSION}, found {moto.__version__}; "
        "rerun tests/unit/sandbox/test_moto_internals.py before moving the pin"
    )

ACCOUNT_ID = DEFAULT_ACCOUNT_ID
LOG = logging.getLogger("dataall_installer.sandbox")
_lock = threading.Lock()


# --------------------------------------------------------------------------- server
def backend_app() -> Any:
    """moto's WSGI application for every service (the sandbox puts its own in front).

    Each service's Flask app lets an unexpected exception through (PROPAGATE_EXCEPTIONS)
    instead of answering an HTML 500 page and logging to moto's (silenced) logger: the
    sandbox logs the traceback and answers as AWS does, `InternalFailure` with HTTP 500.
    """

    def create_app(service: Any) -> Any:
        app = create_backend_app(service)
        app.config["PROPAGATE_EXCEPTIONS"] = True
        return app

    return _Dispatcher(create_app)


class _Dispatcher(DomainDispatcherApplication):
    """moto's dispatcher, remembering the backend of each host it has seen. moto's own looks it up
    on every request (a listing of moto's package folder, then its services' URL patterns one by
    one) while it holds its one lock: every request of the sandbox waited on the others' lookups."""

    #: hosts remembered at most (a host is a service's endpoint, or a bucket's virtual host)
    REMEMBERED = 4096

    def __init__(self, create_app: Any) -> None:
        super().__init__(create_app)
        self._backends: dict[str, Any] = {}

    def get_backend_for_host(self, host: str | None) -> Any:
        if host is None:
            return None
        if host in self._backends:  # called under moto's dispatcher lock (`get_application`)
            return self._backends[host]
        found = super().get_backend_for_host(host)
        if len(self._backends) < self.REMEMBERED:
            self._backends[host] = found
        return found


def reset_backends() -> None:
    """Forget every resource of every service, as `POST /moto-api/reset` does."""
    from moto.moto_api._internal.models import moto_api_backend

    moto_api_backend.reset()


# --------------------------------------------------------------------------- the process's sandbox
#: The endpoint of the sandbox that moto's hooks serve (its clock, its Lambda runtime). moto's
#: backends, and the classes the hooks below patch, are process-wide, so a process hosts one
#: sandbox at a time. This is the sandbox's only process-level state, and it names the sandbox:
#: it does not hold it (each service is handed its host).
_process_owner: str | None = None
_process_lock = threading.Lock()


def claim_process(owner: str) -> None:
    """Make the sandbox at `owner` the one this process hosts; fails if another one runs."""
    global _process_owner  # noqa: PLW0603 - moto's hooks are process-wide (see above)
    with _process_lock:
        if _process_owner is not None:
            raise RuntimeError(f"a sandbox already runs in this process at {_process_owner}")
        _process_owner = owner


def release_process(owner: str) -> None:
    """The sandbox at `owner` has stopped: another one may start."""
    global _process_owner  # noqa: PLW0603
    with _process_lock:
        if _process_owner == owner:
            _process_owner = None


# --------------------------------------------------------------------------- backends
def backend(service: str, region: str, account_id: str = ACCOUNT_ID) -> Any:
    """moto's backend object for a service in one account and region."""
    from moto.backends import get_backend

    return get_backend(service)[account_id][region]  # type: ignore[call-overload]


# --------------------------------------------------------------------------- step functions
def enable_stepfunctions_execution() -> None:
    """Make moto run state machines (its ASL interpreter) instead of only storing them.

    AWS: StartExecution runs the definition; stock moto only records the call.
    """
    default_user_config.setdefault("stepfunctions", {})["execute_state_machine"] = True


# --------------------------------------------------------------------------- iam
AWS_MANAGED_POLICY = "arn:aws:iam::aws:policy/"


@functools.cache
def _aws_managed_policies_data() -> dict[str, Any]:
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    data: dict[str, Any] = json.loads(aws_managed_policies_data)
    return data


def ensure_aws_managed_policy(arn: str, account_id: str = ACCOUNT_ID) -> bool:
    """Give moto's IAM the AWS managed policy `arn` (from moto's own copy of them), so a role may
    attach it; False when moto knows no such policy (AttachRolePolicy then answers NoSuchEntity).

    AWS: every account has the AWS managed policies (`arn:aws:iam::aws:policy/...`), e.g. the
    `AdministratorAccess` that CDK's bootstrap attaches to its CloudFormation execution role
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_managed-vs-inline.html#aws-managed-policies).
    Stock moto has none unless told to load all of them into every account it makes (a second or
    so each, paid by every test): the sandbox adds the one a template names, when it names it.
    """
    from moto.iam.models import AWSManagedPolicy, iam_backends

    if not arn.startswith(AWS_MANAGED_POLICY):
        return False
    iam = iam_backends[account_id]["aws"]
    if arn in iam.managed_policies:
        return True
    name = arn.rsplit("/", 1)[1]
    data = _aws_managed_policies_data().get(name)
    if data is None or f"{AWS_MANAGED_POLICY}{data.get('Path', '/')[1:]}{name}" != arn:
        return False
    policy = AWSManagedPolicy.from_data(name, account_id, iam.region_name, data)
    iam.aws_managed_policies.append(policy)
    iam.managed_policies[policy.arn] = policy
    return True


def stepfunctions_backend(region: str, account_id: str = ACCOUNT_ID) -> Any:
    """The executing Step Functions backend (the one the API answers from)."""
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    return stepfunctions_parser_backends[account_id][region]


def install_time_scale(clock: Any) -> None:
    """Scale Step Functions' `Wait` states, `Retry` back-off and task-token timeouts by the
    sandbox clock.

    AWS: a `Wait` of 30 s takes 30 s, and a `.waitForTaskToken` task whose token is not
    sent back within its `TimeoutSeconds` (or `TimeoutSecondsPath`) fails with
    `States.Timeout`. The sandbox keeps the modelled duration in the execution's history
    and makes it pass `clock.scale` times faster. Only the wait for the token is scaled:
    the task's own call (a real Lambda invocation) takes the time it takes, and moto's
    timeout of the whole task, in real seconds, stays as a backstop.
    """
    import types

    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_callback
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function import wait_function

    def _wait_interval(self: Any, env: Any, wait_seconds: int) -> None:
        if wait_seconds > 0:
            env.program_state_event.wait(clock.wall(wait_seconds))

    def _wait_for_task_token_timeout(self: Any, timeout_seconds: int | None, callback_endpoint: Any) -> Any:
        # None: no answer in time; moto then raises CallbackTimeoutError, a TimeoutError,
        # which the task reports as States.Timeout (TaskTimedOut in the history).
        wall = None if timeout_seconds is None else clock.wall(timeout_seconds)
        return callback_endpoint.wait(timeout=wall)

    wait_function.WaitFunction._wait_interval = _wait_interval  # type: ignore[method-assign]
    retrier_decl.time = types.SimpleNamespace(sleep=clock.sleep)  # type: ignore[assignment]
    callback_task = state_task_service_callback.StateTaskServiceCallback
    callback_task._wait_for_task_token_timeout = _wait_for_task_token_timeout  # type: ignore[method-assign]


def fix_jsonpath_singleton() -> None:
    """`$.a[0].b` selects the value "x", not the list ["x"], as in AWS.

    moto's `extract_json` wraps a match in a list whenever the path went through an
    index; AWS does that only for wildcards, slices, filters and deep scans. The fix swaps
    the function's code in place, so every module that imported it sees the fix.
    """
    from moto.stepfunctions.parser.asl.utils import json_path

    json_path._sandbox_is_multi_select = _is_multi_select  # type: ignore[attr-defined]
    json_path.extract_json.__code__ = _aws_extract_json.__code__
    cache_jsonpath_parses()


#: How many distinct JSONPaths the sandbox keeps parsed (a state machine's paths are few).
JSONPATH_CACHE_SIZE = 4096


def cache_jsonpath_parses() -> None:
    """Each JSONPath of a state machine is parsed once, not at every state it is evaluated in.

    moto 5.2.5's `extract_json` parses its path (`jsonpath_ng.ext.parse`) on every call, and each
    parse builds a new ply lexer: a tenth of the sandbox's CPU in an install. A parsed path is not
    changed by `find`, so the parse of a path string is kept and shared (what AWS selects is the
    same: the same parser makes it).
    """
    from moto.stepfunctions.parser.asl.utils import json_path

    parse = json_path.parse
    if getattr(parse, "_sandbox_fixed", False):
        return
    cached = functools.lru_cache(maxsize=JSONPATH_CACHE_SIZE)(parse)
    cached._sandbox_fixed = True  # type: ignore[attr-defined]
    json_path.parse = cached


def _aws_extract_json(path: str, data: Any) -> Any:
    """Runs with the globals of moto's json_path module (see fix_jsonpath_singleton)."""
    matches = parse(path).find(data)  # type: ignore[name-defined] # noqa: F821
    if not matches:
        if _contains_slice_or_wildcard_array(path):  # type: ignore[name-defined] # noqa: F821
            return []
        raise NoSuchJsonPathError(json_path=path, data=data)  # type: ignore[name-defined] # noqa: F821
    if len(matches) > 1 or _sandbox_is_multi_select(path):  # type: ignore[name-defined] # noqa: F821
        return [match.value for match in matches]
    return matches[0].value


def _is_multi_select(path: str) -> bool:
    """A path that selects a list of matches: a wildcard, a slice, a filter, a deep scan."""
    return bool(re.search(r"\[\*\]|\.\*|\[\?|\.\.|\[-?\d*:-?\d*(:-?\d*)?\]", path))


def conditions_match(condition: dict[str, Any], context: dict[str, str]) -> bool:
    """IAM condition evaluation for the operators policies of this project use.

    A key the request does not carry matches only `...IfExists`; an operator this
    function does not know never matches, so such a statement does not apply.
    """
    import fnmatch

    compare = {
        "Bool": lambda want, got: want.lower() == got.lower(),
        "StringEquals": lambda want, got: want == got,
        "StringNotEquals": lambda want, got: want != got,
        "StringEqualsIgnoreCase": lambda want, got: want.lower() == got.lower(),
        "StringLike": lambda want, got: fnmatch.fnmatchcase(got, want),
        "StringNotLike": lambda want, got: not fnmatch.fnmatchcase(got, want),
        "ArnEquals": lambda want, got: want == got,
        "ArnLike": lambda want, got: fnmatch.fnmatchcase(got, want),
    }
    for operator, keys in condition.items():
        base = operator.removesuffix("IfExists")
        if base not in compare:
            return False
        for key, wanted in keys.items():
            if key not in context:
                if operator.endswith("IfExists"):
                    continue
                return False
            options = wanted if isinstance(wanted, list) else [wanted]
            negated = base.startswith(("StringNot",))
            results = [compare[base](str(option), context[key]) for option in options]
            if not (all(results) if negated else any(results)):
                return False
    return True


def role_policy_documents(role_arn: str) -> list[str] | None:
    """The policy documents of a role (inline, then the default version of each attached managed
    policy), as JSON text; None when the account has no such role."""
    from moto.iam.models import iam_backends

    parts = role_arn.split(":")
    if len(parts) < 6 or not parts[5].startswith("role/"):
        return None
    partition, account_id, name = parts[1], parts[4], parts[5].rpartition("/")[2]
    try:
        role = iam_backends[account_id][partition].get_role(name)
    except Exception:  # noqa: BLE001 - moto's NoSuchEntity: no such role
        return None
    documents = [str(document) for document in role.policies.values()]
    for policy in role.managed_policies.values():
        documents += [str(v.document) for v in policy.versions if v.version_id == policy.default_version_id]
    return documents


#: What AWS knows of every request to its endpoints, which the sandbox's HTTP cannot show.
REQUEST_CONTEXT = {"aws:SecureTransport": "true"}


def fix_policy_conditions() -> None:
    """Evaluate bucket-policy conditions as AWS does.

    AWS: a request to S3's endpoint carries `aws:SecureTransport` = "true" (HTTPS), and a
    statement whose Condition does not match does not apply. moto evaluated bucket
    policies with no request context, and answered DENIED for any statement whose
    condition did not match, Allow or Deny alike: CDK's TLS-only bucket policy (Deny when
    aws:SecureTransport is false) locked every client out of the bucket.
    """
    from moto.iam.access_control import IAMPolicy, IAMPolicyStatement, PermissionResult
    from moto.s3.models import FakeBucket

    original = IAMPolicyStatement.is_action_permitted
    if getattr(original, "_sandbox_fixed", False):
        return

    def is_action_permitted(
        self: Any, action: str, resource: str = "*", principal: str | None = None,
        incoming_condition_values: dict[str, str] | None = None,
    ) -> Any:  # fmt: skip
        condition = self._statement.get("Condition")
        if not condition:
            return original(self, action, resource, principal, incoming_condition_values)
        if not conditions_match(condition, incoming_condition_values or {}):
            return PermissionResult.NEUTRAL
        unconditional = IAMPolicyStatement({k: v for k, v in self._statement.items() if k != "Condition"})
        return original(unconditional, action, resource, principal, incoming_condition_values)

    def get_permission(self: Any, action: str, resource: str) -> Any:
        if self.policy is None:
            return PermissionResult.NEUTRAL
        return IAMPolicy(self.policy.decode()).is_action_permitted(
            action, resource, incoming_condition_values=dict(REQUEST_CONTEXT)
        )

    is_action_permitted._sandbox_fixed = True  # type: ignore[attr-defined]
    IAMPolicyStatement.is_action_permitted = is_action_permitted  # type: ignore[method-assign]
    FakeBucket.get_permission = get_permission  # type: ignore[method-assign]


#: S3 resources that live in a region, whose ARNs carry it (AWS S3 service authorization reference).
S3_REGIONAL_RESOURCES = ("accesspoint/", "access-grants/", "job/", "storage-lens/", "storage-lens-group/",
                         "async-request/", "outpost/")  # fmt: skip


def fix_s3_regional_arns() -> None:
    """IAM accepts ARNs of S3's regional resources (access grants, jobs, Storage Lens ...).

    AWS: `arn:aws:s3:us-east-1:111122223333:access-grants/default` is valid in a policy;
    moto refused every S3 ARN with a region but access points (MalformedPolicyDocument).
    """
    from moto.iam import policy_validation

    s3_rules = policy_validation.SERVICE_TYPE_REGION_INFORMATION_ERROR_ASSOCIATIONS["s3"]
    s3_rules["valid_starting_values"] = sorted({*s3_rules.get("valid_starting_values", []), *S3_REGIONAL_RESOURCES})


# --------------------------------------------------------------------------- concurrency
#: Services whose requests are serialized, one lock each: their handlers return at once (no
#: long poll, no invoke), and moto's backends are plain dicts that another thread may grow
#: while a request iterates them. Not Lambda (an Invoke runs the function, which calls back),
#: not SQS (ReceiveMessage waits). DynamoDB's handler has a `call_action` of its own, which
#: `fix_dynamodb_isolation` wraps with the same lock.
SERIALIZED_SERVICES = frozenset(
    {
        "dynamodb", "iam", "ec2", "ssm", "kms", "logs", "events", "cognito-idp", "cognito-identity", "secretsmanager",
        "ecs", "elbv2", "rds", "apigateway", "cloudwatch", "sns", "ecr", "opensearch", "es", "cloudtrail",
    }
)  # fmt: skip
#: CloudFormation's type namespaces (`AWS::<namespace>::...`) -> the services their models write.
_NAMESPACE_SERVICES = {
    "DynamoDB": ("dynamodb",),
    "IAM": ("iam",),
    "EC2": ("ec2",),
    "SSM": ("ssm",),
    "KMS": ("kms",),
    "Logs": ("logs",),
    "Events": ("events",),
    "Cognito": ("cognito-identity", "cognito-idp"),
    "SecretsManager": ("secretsmanager",),
    "ECS": ("ecs",),
    "ElasticLoadBalancingV2": ("elbv2",),
    "RDS": ("rds",),
    "ApiGateway": ("apigateway",),
    "CloudWatch": ("cloudwatch",),
    "SNS": ("sns",),
    "ECR": ("ecr",),
    "OpenSearchService": ("opensearch",),
    "Elasticsearch": ("es",),
    "CloudTrail": ("cloudtrail",),
}
_service_locks = {service: threading.RLock() for service in SERIALIZED_SERVICES}


@contextlib.contextmanager
def _serialized(resource_type: str) -> Iterator[None]:
    """Hold the locks of the services a CloudFormation model of `resource_type` writes."""
    namespace = resource_type.split("::")[1] if resource_type.count("::") >= 2 else ""
    with contextlib.ExitStack() as stack:
        for service in _NAMESPACE_SERVICES.get(namespace, ()):
            stack.enter_context(_service_locks[service])
        yield


def fix_concurrent_requests() -> None:
    """One request at a time per service in `SERIALIZED_SERVICES`, and the sandbox's CloudFormation
    creating that service's resources through moto's models takes the same lock.

    AWS serves concurrent requests (a stack creating roles while a custom resource reads them);
    moto 5.2.5's server answers each request in its own thread against shared dicts, and a read
    iterating one while another thread adds to it failed with HTTP 500 "dictionary changed size
    during iteration" (data.all's Lambdas stage: IAM GetRole beside the stack's role creation).
    """
    from moto.core.responses import BaseResponse

    original = BaseResponse.call_action
    if getattr(original, "_sandbox_fixed", False):
        return

    def call_action(self: Any) -> Any:
        lock = _service_locks.get(getattr(self, "service_name", None) or "")
        if lock is None:
            return original(self)
        with lock:
            return original(self)

    call_action._sandbox_fixed = True  # type: ignore[attr-defined]
    BaseResponse.call_action = call_action  # type: ignore[method-assign]


# --------------------------------------------------------------------------- dynamodb
def fix_dynamodb_isolation() -> None:
    """DynamoDB requests apply one at a time: a transaction is atomic and isolated.

    AWS: TransactWriteItems is all or nothing, and serializable with every other write.
    moto 5.2.5 deep-copies each table a transaction touches and, when one of its conditions
    fails, puts the copy back: every write another request made in between is lost (the
    installer's ledger lost a step's `executed` mark when a refused step's `acting` check ran
    beside it, and the rollback left that stack behind). The copy, taken while another
    request writes, also fails with "dictionary changed size during iteration" (HTTP 500).
    One lock around moto's DynamoDB requests (the service's lock of `fix_concurrent_requests`)
    makes the copy and its restore see only the transaction's own writes.
    """
    from moto.dynamodb.responses import DynamoHandler

    original = DynamoHandler.call_action
    if getattr(original, "_sandbox_fixed", False):
        return
    lock = _service_locks["dynamodb"]

    def call_action(self: Any) -> Any:
        with lock:
            return original(self)

    call_action._sandbox_fixed = True  # type: ignore[attr-defined]
    DynamoHandler.call_action = call_action  # type: ignore[method-assign]


def fast_dynamodb_attribute_values() -> None:
    """DynamoDB's item values are written into its JSON answers directly, not member by member
    through the service model.

    moto 5.2.5's serializer walks every AttributeValue of an answer as a structure of ten members,
    each looked up under several aliases: a tenth of the sandbox's CPU in an install went to the
    installer's ledger reads. The answer is the same: `_attribute_value_json` writes each value
    as that walk does (strings and numbers as strings, binaries in base64, maps and lists value by
    value, NULL and BOOL as they are); a value it was not written for (not a dict, a key that is
    no member, an absent binary) goes the walk's way.
    """
    from moto.core.serialize import BaseJSONSerializer

    original = BaseJSONSerializer._serialize_type_structure
    if getattr(original, "_sandbox_fixed", False):
        return

    def _serialize_type_structure(self: Any, serialized: Any, value: Any, shape: Any, key: str) -> None:
        if key and shape.name == "AttributeValue" and isinstance(value, dict):
            try:
                written = _attribute_value_json(value)
            except _NotPlain:
                pass
            else:
                self._default_serialize(serialized, written, shape, key)
                return
        original(self, serialized, value, shape, key)

    _serialize_type_structure._sandbox_fixed = True  # type: ignore[attr-defined]
    _serialize_type_structure._sandbox_original = original  # type: ignore[attr-defined]
    BaseJSONSerializer._serialize_type_structure = _serialize_type_structure  # type: ignore[method-assign]


class _NotPlain(Exception):
    """A DynamoDB value that moto's own serializer should write."""


#: AttributeValue's members in the service model's order (the order moto writes them in).
_ATTRIBUTE_VALUE_MEMBERS = ("S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL")


def _json_string(value: Any) -> Any:
    """What moto's JSON serializer writes for a string member."""
    import enum

    if isinstance(value, enum.Enum):
        value = value.value
    return str(value) if value not in [None, {}, []] else value


def _json_blob(value: Any) -> str:
    import base64

    if isinstance(value, str):
        value = value.encode("utf-8")
    if not isinstance(value, bytes | bytearray):
        raise _NotPlain
    return base64.b64encode(value).strip().decode("utf-8")


def _attribute_value_json(value: dict[str, Any]) -> dict[str, Any]:
    """An AttributeValue as moto's serializer writes it, or _NotPlain."""
    if not value.keys() <= set(_ATTRIBUTE_VALUE_MEMBERS):
        raise _NotPlain
    written: dict[str, Any] = {}
    for member in _ATTRIBUTE_VALUE_MEMBERS:
        item = value.get(member)
        if item is None:
            continue
        if member in ("S", "N"):
            written[member] = _json_string(item)
        elif member == "B":
            written[member] = _json_blob(item)
        elif member in ("SS", "NS"):
            written[member] = [_json_string(i) for i in item]
        elif member == "BS":
            written[member] = [_json_blob(i) for i in item]
        elif member == "M":
            if not isinstance(item, dict) or not all(isinstance(v, dict) or v is None for v in item.values()):
                raise _NotPlain
            written[member] = {k: _attribute_value_json(v) for k, v in item.items() if v is not None}
        elif member == "L":
            if not all(isinstance(v, dict) or v is None for v in item):
                raise _NotPlain
            written[member] = [None if v is None else _attribute_value_json(v) for v in item]
        else:
            written[member] = item
    return written


# --------------------------------------------------------------------------- lambda
#: `invoke(function, event)` -> `(payload_json, function_error, logs)`, function_error None on success
LambdaInvoker = Callable[[Any, Any], tuple[str, str | None, str]]


def install_lambda_runtime(invoke: LambdaInvoker) -> None:
    """Route every Lambda invocation (API, Step Functions task, custom resource) to `invoke`.

    `invoke(function, event)` receives moto's LambdaFunction and the decoded event and
    returns `(payload_json, function_error, logs)`: function_error is None on success, else
    the Invoke response's `FunctionError`. AWS: the function's own package runs with its
    own environment; stock moto needs Docker for that. AWS's Invoke answers `FunctionError`
    "Unhandled" for an error Lambda itself detects, such as a timeout (Lambda API reference,
    Invoke, FunctionError); moto 5.2.5 answered "Handled" for every error.
    """
    import base64

    from moto.awslambda.models import LambdaFunction

    def _invoke_lambda(self: Any, event: Any = None) -> tuple[str, bool, str]:
        payload, function_error, logs = invoke(self, event)
        return payload, function_error is not None, logs

    def invoke_function(self: Any, body: str, request_headers: Any, response_headers: Any) -> str | bytes:
        payload, function_error, logs = invoke(self, json.loads(body) if body else {})
        if function_error is not None:
            response_headers["x-amz-function-error"] = function_error
        if request_headers.get("x-amz-invocation-type", "RequestResponse") != "RequestResponse":
            return payload
        response_headers["x-amz-log-result"] = base64.b64encode(logs.encode()).decode()
        return payload.encode()

    LambdaFunction._invoke_lambda = _invoke_lambda  # type: ignore[method-assign]
    LambdaFunction.invoke = invoke_function  # type: ignore[method-assign]


def reuse_stepfunctions_lambda_clients() -> None:
    """One boto3 Lambda client per Region and endpoint for moto's Step Functions interpreter.

    moto 5.2.5 makes a new client for every `lambda:invoke` task it runs (`boto_client_for`, which
    loads Lambda's service model each time: about a tenth of the sandbox's CPU in an install); a
    botocore client is thread-safe, so one per (Region, endpoint) serves every task. The workflow
    has no other service integration (`state_machine/`: `lambda:invoke` and its
    `.waitForTaskToken` only), so only the Lambda tasks' module is given it."""
    from moto.core.models import botocore_stubber
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
    from moto.stepfunctions.parser.asl.utils import boto_client

    original = boto_client.boto_client_for
    if getattr(lambda_eval_utils.boto_client_for, "_sandbox_fixed", False):
        return
    clients: dict[tuple[Any, ...], Any] = {}
    guard = threading.Lock()

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        # moto's own ignores `state_credentials`; its endpoint is MOTO_PORT's (a sandbox's port)
        key = (region, service, os.environ.get("MOTO_PORT"), botocore_stubber.enabled)
        with guard:
            if key not in clients:
                clients[key] = original(region=region, service=service, state_credentials=state_credentials)
            return clients[key]

    boto_client_for._sandbox_fixed = True  # type: ignore[attr-defined]
    lambda_eval_utils.boto_client_for = boto_client_for


def lambda_invalid_runtime(runtime: str) -> Exception:
    """The error Lambda's Invoke answers, as an HTTP 502, for a function whose runtime it does not
    run: `InvalidRuntimeException`, "The runtime or runtime version specified is not supported"
    (Lambda API reference, Invoke, Errors). moto renders it as the Invoke call's answer."""
    from moto.core.exceptions import JsonRESTError

    error = JsonRESTError(
        "InvalidRuntimeException",
        f"The runtime or runtime version specified is not supported: {runtime} "
        "(the sandbox runs Python and Node.js functions)",
    )
    error.code = 502
    return error


#: The error name Step Functions gives a Lambda task whose function failed without an error type.
LAMBDA_UNKNOWN = "Lambda.Unknown"


def fix_lambda_unknown_error() -> None:
    """A `lambda:invoke` task whose function fails without an `errorType` fails with
    `Lambda.Unknown`.

    AWS (Step Functions developer guide, "Handle Lambda service exceptions"): unhandled errors
    in Lambda are reported as `Lambda.Unknown` in the error output, out-of-memory errors and
    function timeouts among them. Lambda answers such an invocation with FunctionError
    "Unhandled" and a payload that has an `errorMessage` and no `errorType`. moto 5.2.5 named
    the error "Exception".
    """
    from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEvent
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.lambda_eval_utils import (
        LambdaFunctionErrorException,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_lambda import (
        StateTaskServiceLambda,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    original = StateTaskServiceLambda._from_error
    if getattr(original, "_sandbox_fixed", False):
        return

    def _from_error(self: Any, env: Any, ex: Exception) -> Any:
        if not isinstance(ex, LambdaFunctionErrorException) or _has_error_type(ex.payload):
            return original(self, env, ex)
        cause = (
            "The cause could not be determined because Lambda did not return an error type. "
            f"Returned payload: {ex.payload}"
        )
        details = TaskFailedEventDetails(
            error=LAMBDA_UNKNOWN,
            cause=cause,
            resource=self._get_sfn_resource(),
            resourceType=self._get_sfn_resource_type(),
        )
        return FailureEvent(
            env=env,
            error_name=CustomErrorName(LAMBDA_UNKNOWN),
            event_type=HistoryEventType.TaskFailed,
            event_details=EventDetails(taskFailedEventDetails=details),  # type: ignore[typeddict-item]
        )

    _from_error._sandbox_fixed = True  # type: ignore[attr-defined]
    StateTaskServiceLambda._from_error = _from_error  # type: ignore[method-assign]


def _has_error_type(payload: str) -> bool:
    try:
        answer = json.loads(payload)
    except ValueError:
        return False
    return isinstance(answer, dict) and bool(answer.get("errorType"))


def lambda_function_details(function: Any) -> dict[str, Any]:
    """What the sandbox's runtime needs of moto's LambdaFunction."""
    return {
        "name": function.function_name,
        "arn": function.function_arn,
        "handler": function.handler,
        "runtime": function.run_time,
        "timeout": int(function.timeout or 3),
        "memory": int(function.memory_size or 128),
        "environment": dict(function.environment_vars or {}),
        "code_sha256": function.code_sha_256,
        "code": getattr(function, "code_bytes", b""),  # an image function has none
        "layers": [layer["Arn"] if isinstance(layer, dict) else layer for layer in function.layers],
        "region": function.region,
        "role": function.role,
        "package_type": function.package_type,
        "image_uri": function.code.get("ImageUri"),
        "image_config": {
            "Command": list(function.image_config.cmd or []),
            "EntryPoint": list(function.image_config.entry_point or []),
            "WorkingDirectory": function.image_config.working_directory,
        },
        "state": function.state,
    }


def write_function_logs(function: Any, request_id: str, text: str) -> None:
    """Append an invocation's output to the function's log group, as Lambda does."""
    import time

    group = function.logs_group_name
    stream = f"sandbox/[$LATEST]{request_id.replace('-', '')}"
    logs = function.logs_backend
    logs.ensure_log_group(group)
    if stream not in logs.groups[group].streams:
        logs.create_log_stream(group, stream)
    now = int(time.time() * 1000)
    events = [{"timestamp": now, "message": line} for line in text.splitlines() if line] or [
        {"timestamp": now, "message": f"END RequestId: {request_id}"}
    ]
    logs.put_log_events(group, stream, events)


def lambda_function(name_or_arn: str, region: str, account_id: str = ACCOUNT_ID) -> Any:
    return backend("lambda", region, account_id).get_function(name_or_arn)


def invoke_function_async(name_or_arn: str, region: str, event: dict[str, Any], account_id: str = ACCOUNT_ID) -> None:
    """Invoke a function as InvocationType=Event does: the caller does not wait."""
    function = lambda_function(name_or_arn, region, account_id)
    body = json.dumps(event)
    threading.Thread(target=function.invoke, args=(body, {"x-amz-invocation-type": "Event"}, {}), daemon=True).start()


# --------------------------------------------------------------------------- lambda: container images
#: Resolves a function's `ImageUri` when the function is created or its code updated:
#: `resolve(uri, account_id, region)` -> (digest hex, size); ValueError(message) if the image is not there.
ImageResolver = Callable[[str, str, str], tuple[str, int]]
#: Whether the image a function resolved is still there: `present(uri, digest_hex)`.
ImagePresence = Callable[[str, str], bool]
#: The state reason of a function whose image left ECR (Lambda API reference, FunctionConfiguration,
#: StateReasonCode `ImageDeleted`).
IMAGE_DELETED = "ImageDeleted"


def install_lambda_images(resolve: ImageResolver, present: ImagePresence) -> None:
    """`PackageType: Image` functions resolve their image in the sandbox, through CreateFunction,
    UpdateFunctionCode and CloudFormation alike.

    AWS: Lambda resolves the image URI's tag to the image's digest when the function is created
    or its code updated, and answers `CodeSha256` and `ResolvedImageUri` with that digest; an
    image ECR does not hold fails the call with InvalidParameterValueException ("Source image …
    is not valid. Provide a valid source image."). Lambda periodically fetches the image: once
    ECR no longer holds it, the function enters the `Failed` state (Lambda developer guide,
    "Invoking functions defined as container images", Function lifecycle), with StateReasonCode
    `ImageDeleted`. moto 5.2.5 took any URI (its ECR check is off by default, and looks only in
    the function's own account) and kept no code, so an invoke failed on `code_bytes`.
    """
    from moto.awslambda.exceptions import InvalidParameterValueException
    from moto.awslambda.models import LambdaFunction

    original_set_code = LambdaFunction._set_function_code
    if getattr(original_set_code, "_sandbox_fixed", False):
        return
    original_configuration = LambdaFunction.get_configuration

    def _set_function_code(self: Any, updated_spec: dict[str, Any]) -> None:
        if "ImageUri" not in updated_spec:
            original_set_code(self, updated_spec)
            return
        from_update = updated_spec is not self.code
        if from_update and updated_spec.get("DryRun"):
            return
        try:
            digest, size = resolve(updated_spec["ImageUri"], self.account_id, self.region)
        except ValueError as error:
            raise InvalidParameterValueException(str(error)) from None
        self.code_sha_256, self.code_size, self.code_bytes = digest, size, b""
        self.state = "Active"
        self.sandbox_state_reason = None
        if from_update:
            self.code["ImageUri"] = updated_spec["ImageUri"]

    def get_configuration(self: Any, on_create: bool = False) -> dict[str, Any]:
        if self.package_type == "Image" and self.state == "Active":
            uri = self.code.get("ImageUri")
            if uri and not present(uri, self.code_sha_256):
                lambda_image_gone(self)
        config: dict[str, Any] = original_configuration(self, on_create)
        reason = getattr(self, "sandbox_state_reason", None)
        if reason is not None:
            config["StateReasonCode"], config["StateReason"] = reason
        return config

    _set_function_code._sandbox_fixed = True  # type: ignore[attr-defined]
    LambdaFunction._set_function_code = _set_function_code  # type: ignore[method-assign]
    LambdaFunction.get_configuration = get_configuration  # type: ignore[method-assign]
    _fix_lambda_image_config()


def _fix_lambda_image_config() -> None:
    """`PackageType`, `ImageConfig` and `Layers` are kept as AWS keeps them: moto 5.2.5's
    CloudFormation model of AWS::Lambda::Function dropped all three (the function became a .zip
    one without layers; an update kept layers the template no longer lists), and its
    UpdateFunctionConfiguration ignored `ImageConfig` (Lambda API reference,
    UpdateFunctionConfiguration: ImageConfig overrides the image's values). A layer is looked up
    in the account and region its ARN names (see `_lambda_layers_data`)."""
    from moto.awslambda.models import ImageConfig, LambdaFunction

    original_update_configuration = LambdaFunction.update_configuration
    original_cfn_create = LambdaFunction.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]
    original_cfn_update = LambdaFunction.update_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def update_configuration(self: Any, config_updates: dict[str, Any]) -> dict[str, Any]:
        if "ImageConfig" in config_updates:
            self.image_config = ImageConfig(config_updates.get("ImageConfig") or {})
        return original_update_configuration(self, config_updates)

    def create_from_cloudformation_json(
        cls: Any, name: str, template: dict[str, Any], *args: Any, **kwargs: Any
    ) -> Any:
        properties = template["Properties"]
        account_id = kwargs.get("account_id", args[0] if args else ACCOUNT_ID)
        # checked before the function exists: a function whose layer is not there is never made
        layers = _lambda_layers_data(properties.get("Layers") or [], account_id)
        function = original_cfn_create(cls, name, template, *args, **kwargs)
        function.package_type = properties.get("PackageType", "Zip")
        function.image_config = ImageConfig(properties.get("ImageConfig") or {})
        function.layers = layers
        return function

    def update_from_cloudformation_json(cls: Any, original_resource: Any, *args: Any, **kwargs: Any) -> Any:
        function = original_cfn_update(cls, original_resource, *args, **kwargs)
        template = kwargs.get("cloudformation_json", args[1] if len(args) > 1 else {})
        function.image_config = ImageConfig(template.get("Properties", {}).get("ImageConfig") or {})
        if not template.get("Properties", {}).get("Layers"):
            function.layers = []
        return function

    def _get_layers_data(self: Any, arns: list[str]) -> list[dict[str, Any]]:
        return _lambda_layers_data(arns, self.account_id)

    LambdaFunction.update_configuration = update_configuration  # type: ignore[method-assign]
    LambdaFunction._get_layers_data = _get_layers_data  # type: ignore[method-assign,assignment]
    LambdaFunction.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)  # type: ignore[method-assign,assignment]
    LambdaFunction.update_from_cloudformation_json = classmethod(update_from_cloudformation_json)  # type: ignore[method-assign,assignment]


#: A layer version's ARN: arn:PARTITION:lambda:REGION:ACCOUNT:layer:NAME:VERSION
_LAYER_VERSION_ARN = re.compile(r"arn:[\w-]+:lambda:[\w-]+:\d{12}:layer:[\w-]+:\d+")


def _lambda_layer_version(arn: str) -> Any:
    """moto's LayerVersion of a layer version ARN, None when moto does not hold it: looked up in
    the account and region the ARN names (moto 5.2.5 looked in the function's own, by name only)."""
    from moto.awslambda.models import lambda_backends
    from moto.awslambda.utils import split_layer_arn

    try:
        parts = split_layer_arn(arn)
    except ValueError:
        return None
    if parts.account not in lambda_backends:  # a plain dict's `in`: no backend is made to find out
        return None
    made = list(lambda_backends[parts.account])  # its `in` answers True for any region moto knows
    if parts.region not in made:
        return None
    return lambda_backends[parts.account][parts.region]._layers.get_layer_version_by_arn(arn)


def _lambda_layers_data(arns: list[str], account_id: str) -> list[dict[str, Any]]:
    """A function's `Layers` as GetFunction answers them (`Arn`, `CodeSize`).

    AWS: a layer version of the function's own account must exist (ResourceNotFoundException,
    as moto says it); one of another account that shares it with the function's may be used,
    AWS's own published layers among them (data.all's authorizer names a Klayers ARN). moto
    holds no copy of those: they are kept by ARN, with no code (see `lambda_layer_code`).
    """
    from moto.awslambda.exceptions import UnknownLayerVersionException

    layers = []
    for arn in arns:
        version = _lambda_layer_version(arn)
        if version is not None:
            layers.append({"Arn": version.arn, "CodeSize": version.code_size})
        elif _LAYER_VERSION_ARN.fullmatch(arn) and arn.split(":")[4] != account_id:
            layers.append({"Arn": arn, "CodeSize": 0})
        else:
            raise UnknownLayerVersionException(arns)
    return layers


def lambda_layer_code(function: Any) -> list[bytes]:
    """The .zip of each of the function's layers, in the function's order (Lambda extracts them
    into /opt in that order, a later layer's files overwriting an earlier one's).

    A layer version moto does not hold is left out: one of another account (an AWS-published
    layer, a public one such as Klayers) that the function names by ARN. Its content is not in
    the sandbox; this machine's packages stand in for it, as they do for the runtime's own.
    """
    codes = []
    for layer in function.layers:
        arn = layer["Arn"] if isinstance(layer, dict) else layer
        version = _lambda_layer_version(arn)
        if version is None:
            LOG.debug("layer %s of %s is not in the sandbox: left out", arn, function.function_name)
        else:
            codes.append(version.code_bytes)
    return codes


def lambda_image_gone(function: Any) -> None:
    """The function's image left ECR: the function is `Failed`, reason `ImageDeleted`."""
    function.state = "Failed"
    function.sandbox_state_reason = (
        IMAGE_DELETED,
        f"The image {function.code.get('ImageUri')} (sha256:{function.code_sha_256}) no longer exists in Amazon ECR.",
    )


def lambda_function_not_active(state: str) -> Exception:
    """The error Invoke answers for a function that is not `Active`: ResourceConflictException
    (HTTP 409), "The operation cannot be performed at this time. The function is currently in
    the following state: …" (Lambda developer guide, "Troubleshoot invocation issues",
    ResourceConflictException; Invoke, Errors)."""
    from moto.core.exceptions import JsonRESTError

    error = JsonRESTError(
        "ResourceConflictException",
        f"The operation cannot be performed at this time. The function is currently in the following state: {state}",
    )
    error.code = 409
    return error


def ecr_push_image(
    account_id: str,
    region: str,
    repository: str,
    tag: str,
    manifest: str,
    digest: str,
    blobs: Mapping[str, bytes] | None = None,
) -> None:
    """Put an image in an account's ECR repository (created if missing), as `docker push`
    does: its blobs (config and layers) first, then its manifest, keeping the digest the sandbox
    computed.

    AWS: a tag pushed again moves to the new image and the image it leaves stays in the
    repository, untagged (ECR user guide, "Image tag mutability"). moto 5.2.5 deleted it.
    """
    from moto.ecr.exceptions import ImageAlreadyExistsException

    ecr = backend("ecr", region, account_id)
    if repository not in ecr.repositories:
        ecr.create_repository(repository, account_id, {}, {}, "MUTABLE", [])
    found = ecr.repositories[repository]
    for blob_digest, data in (blobs or {}).items():
        _keep_blob(blob_digest, data)
        found.layers[blob_digest] = len(data)
    for image in found.images:
        if tag in image.image_tags and image.get_image_digest() != digest:
            image.image_tags.remove(tag)
            image.image_tag = image.image_tags[0] if image.image_tags else None
    with contextlib.suppress(ImageAlreadyExistsException):
        ecr.put_image(repository, manifest, tag, digest=digest)


def ecr_holds_image(account_id: str, region: str, repository: str, digest: str) -> bool:
    """Whether an account's ECR still holds an image, by digest."""
    ecr = backend("ecr", region, account_id)
    found = ecr.repositories.get(repository)
    return found is not None and any(image.get_image_digest() == digest for image in found.images)


def ecr_image(
    account_id: str, region: str, repository: str, tag: str | None, digest: str | None
) -> tuple[str, str] | None:
    """(digest, manifest) of the image an account's ECR repository holds for a tag or a digest."""
    ecr = backend("ecr", region, account_id)
    found = ecr.repositories.get(repository)
    if found is None:
        return None
    for image in found.images:
        if (digest is not None and image.get_image_digest() == digest) or (tag is not None and tag in image.image_tags):
            return str(image.get_image_digest()), str(image.image_manifest)
    return None


#: Layer and config blobs ECR holds, by digest (content-addressed: one copy for every repository
#: that holds the layer). moto 5.2.5 keeps only each layer's size.
_ecr_blobs: dict[str, bytes] = {}
_ecr_blobs_lock = threading.Lock()
#: The sandbox's control route that serves a blob: what GetDownloadUrlForLayer answers.
ECR_LAYER_ROUTE = "/_sandbox/ecr-layers/"


def _keep_blob(digest: str, data: bytes) -> None:
    with _ecr_blobs_lock:
        _ecr_blobs[digest] = bytes(data)


def ecr_blob(digest: str) -> bytes | None:
    """A blob ECR holds, by digest (what a layer's download URL serves)."""
    with _ecr_blobs_lock:
        return _ecr_blobs.get(digest)


def fix_ecr_layers() -> None:
    """ECR's layer API and image digests as AWS has them.

    AWS (Amazon ECR API reference): "GetDownloadUrlForLayer: Retrieves the pre-signed Amazon S3
    download URL corresponding to an image layer. You can only get URLs for image layers that are
    referenced in an image" (errors `LayersNotFoundException`, `LayerInaccessibleException`,
    `RepositoryNotFoundException`); CompleteLayerUpload fails with `InvalidLayerException` when
    "the layer digest calculation performed by Amazon ECR upon receipt of the image layer does not
    match the digest specified"; an image's digest is the sha256 of its manifest (ECR user guide,
    "Pulling an image": `@sha256:` is the manifest's digest, as in the OCI distribution spec).

    moto 5.2.5: GetDownloadUrlForLayer raised NotImplementedError; CompleteLayerUpload kept the
    layer's size only, and took any `layerDigests`; an image pushed without a digest got the
    sha256 of its layers' digests joined. Here the uploaded bytes are kept (by digest), a layer the
    repository holds is served at a URL of the sandbox itself (the request's host, as S3 serves
    ECR's URLs in AWS), and an image's digest is its manifest's sha256.
    """
    import hashlib

    from moto.core.exceptions import JsonRESTError
    from moto.ecr.models import ECRBackend, Image
    from moto.ecr.responses import ECRResponse

    if getattr(ECRResponse, "_sandbox_layers", False):
        return
    original_complete = ECRBackend.complete_layer_upload

    def complete_layer_upload(
        self: Any, repository_name: str, upload_id: str, layer_digests: list[str], registry_id: str | None = None
    ) -> dict[str, Any]:
        repository = self._get_repository(repository_name, registry_id)
        upload = repository.uploads.get(upload_id)
        data = bytes(upload.layer_parts) if upload is not None else b""
        computed = "sha256:" + hashlib.sha256(data).hexdigest()
        if upload is not None and layer_digests and computed not in layer_digests:
            raise JsonRESTError(
                "InvalidLayerException",
                f"The layer digest calculation performed by Amazon ECR ({computed}) does not match "
                f"the digest specified ({', '.join(layer_digests)})",
            )
        answer: dict[str, Any] = original_complete(self, repository_name, upload_id, layer_digests, registry_id)
        _keep_blob(answer["layerDigest"], data)
        return answer

    def get_download_url_for_layer(self: Any) -> Any:
        from moto.core.responses import ActionResult

        repository = self.ecr_backend._get_repository(self._get_param("repositoryName"), self._get_param("registryId"))
        digest = str(self._get_param("layerDigest") or "")
        if digest not in repository.layers:
            raise JsonRESTError(
                "LayersNotFoundException", f"The layer {digest} does not exist in the repository {repository.name}"
            )
        if ecr_blob(digest) is None:
            raise JsonRESTError(
                "LayerInaccessibleException", f"The layer {digest} is not available in the repository {repository.name}"
            )
        host = self.headers.get("Host") or "127.0.0.1"
        return ActionResult({"downloadUrl": f"http://{host}{ECR_LAYER_ROUTE}{digest}", "layerDigest": digest})

    def create_digest(self: Any) -> None:
        self._image_digest = "sha256:" + hashlib.sha256(self.image_manifest.encode()).hexdigest()

    ECRBackend.complete_layer_upload = complete_layer_upload  # type: ignore[method-assign]
    ECRResponse.get_download_url_for_layer = get_download_url_for_layer  # type: ignore[method-assign]
    Image._create_digest = create_digest  # type: ignore[method-assign]
    ECRResponse._sandbox_layers = True  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- eventbridge
def put_default_bus_event(region: str, account_id: str, entry: dict[str, Any]) -> None:
    """Put one event on the default event bus of an account and region, as an AWS service
    puts its own events (CloudFormation's `aws.cloudformation` "Stack Status Change").

    AWS: the rules of the default bus that match the event deliver it to their targets.
    `entry` is a PutEvents entry (`Source`, `DetailType`, `Detail` as JSON text,
    `Resources`, `Time` in epoch seconds). Raises ValueError when the bus refuses it.
    """
    answers = backend("events", region, account_id).put_events([entry])
    refused = [answer for answer in answers if answer.get("ErrorCode")]
    if refused:
        raise ValueError(f"the default bus refused the event: {refused[0]}")


def _lambda_target(arn: str) -> tuple[str, str] | None:
    """(region, account) of a Lambda function ARN (`arn:aws:lambda:REGION:ACCOUNT:function:NAME`)."""
    parts = arn.split(":")
    if len(parts) >= 7 and parts[0] == "arn" and parts[2] == "lambda" and parts[5] == "function":
        return parts[3], parts[4]
    return None


def _aws_event(event: dict[str, Any]) -> dict[str, Any]:
    """An event as AWS hands it to a target: `time` in ISO 8601, no moto bookkeeping."""
    from datetime import UTC, datetime

    shaped = {key: value for key, value in event.items() if key != "ingestion-time"}
    if isinstance(shaped.get("time"), int | float):
        shaped["time"] = datetime.fromtimestamp(float(shaped["time"]), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return shaped


def _target_input(target: dict[str, Any], event: dict[str, Any], transform_input: bool) -> Any:
    """What a target receives: the event, or what its Input, InputPath or InputTransformer makes
    of it (AWS: at most one of the three)."""
    from moto.events.utils import EventTemplateParser

    if transform_input:
        if target.get("Input") is not None:
            return json.loads(target["Input"])
        if target.get("InputPath"):
            from jsonpath_ng.ext import parse

            matches = parse(target["InputPath"]).find(_aws_event(event))
            return matches[0].value if matches else None
        transformer = target.get("InputTransformer")
        if transformer:
            return EventTemplateParser.parse(
                input_template=transformer.get("InputTemplate"),
                input_paths_map=transformer.get("InputPathsMap", {}),
                event=event,  # type: ignore[arg-type]
            )
    return _aws_event(event)


def install_event_lambda_targets() -> None:
    """EventBridge rules deliver to Lambda functions.

    AWS: a rule's target `arn:aws:lambda:REGION:ACCOUNT:function:NAME` is invoked
    asynchronously (InvocationType=Event) with the matched event, in the shape every event
    has (`version`, `id`, `detail-type`, `source`, `account`, `time` in ISO 8601, `region`,
    `resources`, `detail`), or with what the target's Input, InputPath or InputTransformer
    makes of it. A delivery that fails (no such function) fails neither the PutEvents nor
    the other targets. A DISABLED rule, and a rule with only a ScheduleExpression, match no
    event.

    moto 5.2.5's `Rule.send_to_targets` raised NotImplementedError for a Lambda target (a
    PutEvents answered HTTP 500), and sent events to disabled and schedule-only rules.
    Other kinds of targets keep moto's delivery.
    """
    import copy

    from moto.events.models import Rule

    original = Rule.send_to_targets
    if getattr(original, "_sandbox_fixed", False):
        return

    def send_to_targets(self: Any, original_event: Any, transform_input: bool = True) -> None:
        if self.state == "DISABLED" or (self.scheduled_expression and not self.event_pattern.get_pattern()):
            return
        lambdas = [target for target in self.targets if _lambda_target(target["Arn"])]
        if not lambdas:
            original(self, original_event, transform_input)
            return
        if not self.event_pattern.matches_event(original_event):
            return
        for target in lambdas:
            region, account_id = _lambda_target(target["Arn"]) or ("", "")
            try:
                event = _target_input(target, dict(original_event), transform_input)
                invoke_function_async(target["Arn"], region, event, account_id)
            except Exception:  # AWS: a failed delivery is a metric, not the caller's error
                LOG.exception("rule %s could not deliver an event to %s", self.name, target["Arn"])
        others = [target for target in self.targets if not _lambda_target(target["Arn"])]
        if others:
            rest = copy.copy(self)
            rest.targets = others
            original(rest, original_event, transform_input)

    send_to_targets._sandbox_fixed = True  # type: ignore[attr-defined]
    Rule.send_to_targets = send_to_targets  # type: ignore[method-assign]


# --------------------------------------------------------------------------- cloudformation resource models
# The sandbox's own CloudFormation (`sandbox.cloudformation`) creates resources
# through moto's `CloudFormationModel` classes, so they exist in moto's service backends
# and every other API sees them. What it reads of moto is here.

#: types whose moto model the sandbox does not use: a nested stack would land in moto's own
#: CloudFormation, a state machine in the Step Functions backend that does not execute
_CFN_MODELS_NOT_USED = frozenset({"AWS::CloudFormation::Stack", "AWS::StepFunctions::StateMachine"})


def _cfn_model_map() -> dict[str, Any]:
    from moto.cloudformation.parsing import get_model_map  # imports every model module

    return get_model_map()


def cfn_model_types() -> frozenset[str]:
    """The resource types moto's CloudFormation models can create."""
    return frozenset(
        kind
        for kind in _cfn_model_map()
        if kind.startswith("AWS::")
        and kind != "AWS::SERVICE::RESOURCE"  # the abstract base class's placeholder
        and kind not in _CFN_MODELS_NOT_USED
    )


def cfn_name_property(resource_type: str) -> str | None:
    """The property that names a resource of this type, as moto's model reads it."""
    return _cfn_model_map()[resource_type].cloudformation_name_type() or None


def cfn_create(
    resource_type: str,
    resource_name: str,
    properties: dict[str, Any],
    *,
    account_id: str,
    region: str,
    logical_id: str,
    stack_id: str,
) -> Any:
    """Create a resource the way moto's CloudFormation does; returns moto's model object."""
    with _serialized(resource_type):
        model = _cfn_model_map()[resource_type].create_from_cloudformation_json(
            resource_name,
            {"Type": resource_type, "Properties": properties},
            account_id,
            region,
            LogicalId=logical_id,
            StackId=stack_id,
            ResourceType=resource_type,
        )
    model.cf_resource_type = resource_type
    model.logical_resource_id = logical_id
    return model


def cfn_supports_update(resource_type: str) -> bool:
    method = _cfn_model_map()[resource_type].update_from_cloudformation_json
    return not hasattr(method, "__isabstractmethod__")


def cfn_update(
    resource_type: str,
    model: Any,
    resource_name: str,
    properties: dict[str, Any],
    *,
    account_id: str,
    region: str,
) -> Any:
    """Update in place through the model (only when `cfn_supports_update`)."""
    with _serialized(resource_type):
        updated = _cfn_model_map()[resource_type].update_from_cloudformation_json(
            original_resource=model,
            new_resource_name=resource_name,
            cloudformation_json={"Type": resource_type, "Properties": properties},
            account_id=account_id,
            region_name=region,
        )
    updated.cf_resource_type = resource_type
    updated.logical_resource_id = model.logical_resource_id
    return updated


def cfn_delete(resource_type: str, model: Any, properties: dict[str, Any], *, account_id: str, region: str) -> bool:
    """Delete as moto's CloudFormation does (the model's `delete`, else the class's
    `delete_from_cloudformation_json`); False when moto has no way to delete this type."""
    with _serialized(resource_type):
        return _cfn_delete(resource_type, model, properties, account_id=account_id, region=region)


def _cfn_delete(resource_type: str, model: Any, properties: dict[str, Any], *, account_id: str, region: str) -> bool:
    delete = getattr(model, "delete", None)
    if delete is not None:
        try:
            delete(account_id, region)
            return True
        except TypeError:  # a `delete` with another signature: not CloudFormation's
            pass
    model_class = _cfn_model_map()[resource_type]
    if hasattr(model_class.delete_from_cloudformation_json, "__isabstractmethod__"):
        return False
    model_class.delete_from_cloudformation_json(
        cfn_physical_id(model),
        {"Type": resource_type, "Properties": properties},
        account_id,
        region,
    )
    return True


def cfn_physical_id(model: Any) -> str:
    """What `Ref` answers for a moto model.

    moto's LayerVersion has no physical id; AWS's `Ref` of an AWS::Lambda::LayerVersion is
    the layer version's ARN (what a function's `Layers` lists).
    """
    from moto.awslambda.models import LayerVersion

    if isinstance(model, LayerVersion):
        return str(model.arn)
    return str(getattr(model, "physical_resource_id", None) or "")


def cfn_attribute(model: Any, attribute: str) -> Any:
    """`Fn::GetAtt` through the model; LookupError when the model does not know it."""
    from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

    try:
        return model.get_cfn_attribute(attribute)
    except (UnformattedGetAttTemplateException, NotImplementedError, AttributeError) as error:
        raise LookupError(attribute) from error


def service_error(error: BaseException) -> tuple[str, str, int] | None:
    """(code, message, HTTP status) of an error a moto backend raised, None for others."""
    from moto.core.exceptions import ServiceException
    from werkzeug.exceptions import HTTPException

    if isinstance(error, ServiceException):
        return error.code, error.message, 400
    if isinstance(error, HTTPException):
        code = str(getattr(error, "error_type", "") or type(error).__name__)
        message = str(getattr(error, "message", "") or error.description or code)
        return code, message, int(error.code or 400)
    return None


def s3_object(bucket: str, key: str, account_id: str = ACCOUNT_ID) -> bytes:
    """An object's bytes (a TemplateURL); KeyError when there is none."""
    from moto.s3.exceptions import MissingBucket, MissingKey

    try:
        found = backend("s3", "aws", account_id).get_object(bucket, key)
    except (MissingBucket, MissingKey) as error:
        raise KeyError(f"s3://{bucket}/{key}") from error
    if found is None:
        raise KeyError(f"s3://{bucket}/{key}")
    return bytes(found.value)


def ssm_parameter_value(name: str, region: str, account_id: str = ACCOUNT_ID) -> str:
    """A Parameter Store value (AWS::SSM::Parameter::Value<...> parameters); KeyError if none."""
    parameter = backend("ssm", region, account_id).get_parameter(name)
    if parameter is None:
        raise KeyError(name)
    return str(parameter.value)


def ec2_resource_exists(kind: str, resource_id: str, region: str, account_id: str = ACCOUNT_ID) -> bool:
    """Whether a VPC, subnet, security group or key pair exists (AWS::EC2::*::Id parameters)."""
    ec2 = backend("ec2", region, account_id)
    if kind == "vpc":
        return resource_id in ec2.vpcs
    if kind == "subnet":
        return any(resource_id in subnets for subnets in ec2.subnets.values())
    if kind == "security-group":
        return ec2.get_security_group_from_id(resource_id) is not None
    if kind == "key-pair":
        return resource_id in ec2.key_pairs
    raise ValueError(f"unknown EC2 resource kind {kind!r}")


def availability_zones(region: str, account_id: str = ACCOUNT_ID) -> list[str]:
    """The region's zones as EC2 describes them (Fn::GetAZs)."""
    zones = backend("ec2", region, account_id).describe_availability_zones()
    return sorted(zone.name for zone in zones)


def state_machine_create(
    region: str,
    *,
    name: str,
    definition: str,
    role_arn: str,
    tags: list[dict[str, str]],
    logging_configuration: dict[str, Any] | None,
    tracing_configuration: dict[str, Any] | None,
) -> str:
    """Create a state machine in the executing backend; returns its ARN.

    AWS: a state machine made by CloudFormation runs like any other; moto's own
    CloudFormation puts it in the backend that only stores it.
    """
    machine = stepfunctions_backend(region).create_state_machine(
        name=name,
        definition=definition,
        roleArn=role_arn,
        tags=[{"key": tag["Key"], "value": tag["Value"]} for tag in tags],
        loggingConfiguration=logging_configuration,
        tracingConfiguration=tracing_configuration,
    )
    return str(machine.arn)


def state_machine_retag(region: str, arn: str, tags: dict[str, str], *, removed: list[str]) -> None:
    """TagResource / UntagResource on a state machine of the executing backend (CloudFormation
    retags it on a stack update; moto's UpdateStateMachine takes no tags)."""
    backend = stepfunctions_backend(region)
    if removed:
        backend.untag_resource(arn, removed)
    if tags:
        backend.tag_resource(arn, tags)


def state_machine_update(
    region: str,
    arn: str,
    *,
    definition: str,
    role_arn: str,
    logging_configuration: dict[str, Any] | None,
    tracing_configuration: dict[str, Any] | None,
) -> None:
    stepfunctions_backend(region).update_state_machine(
        arn,
        definition=definition,
        role_arn=role_arn,
        logging_configuration=logging_configuration,
        tracing_configuration=tracing_configuration,
    )


def state_machine_delete(region: str, arn: str) -> None:
    stepfunctions_backend(region).delete_state_machine(arn)


def fix_route53_zone_ids() -> None:
    """Hosted zone ids in AWS's format: `Z` and upper-case letters and digits.

    AWS: `Z0429479X5OZXTXD0OTE` (templates' `HostedZoneId` parameters check for the `Z`);
    moto drew 22 characters of which the first is `Z` once in 36. Custom ids set through
    moto's id manager still win, as the decorator keeps them.
    """
    import random

    from moto.route53 import models
    from moto.utilities.id_generator import moto_id

    if getattr(models.create_route53_zone_id, "_sandbox_fixed", False):
        return

    def zone_id(resource_identifier: Any, existing_ids: Any = None, tags: Any = None) -> str:
        return "Z" + "".join(random.choice(models.ROUTE53_ID_CHOICE) for _ in range(20))  # noqa: S311 - an id

    fixed = moto_id(zone_id)
    fixed._sandbox_fixed = True  # type: ignore[attr-defined]
    models.create_route53_zone_id = fixed


def aoss_delete_security_policy(region: str, name: str, policy_type: str, account_id: str = ACCOUNT_ID) -> bool:
    """DeleteSecurityPolicy of OpenSearch Serverless, which moto lacks; False when there is none.

    AWS: deleting a policy (CloudFormation's delete of an `AWS::OpenSearchServerless::SecurityPolicy`)
    frees its name and type for a new one.
    """
    policies = backend("opensearchserverless", region, account_id).security_policies
    for token, policy in list(policies.items()):
        if policy.name == name and policy.type == policy_type:
            del policies[token]
            return True
    return False


def apigateway_disable_execute_api_endpoint(
    region: str, rest_api_id: str, disabled: bool, *, account_id: str = ACCOUNT_ID
) -> bool:
    """A REST API's `disableExecuteApiEndpoint`, which moto's CloudFormation model ignores and its UpdateRestApi
    sets to `bool` of the patch's text (`"false"` made it true); False when there is no such API."""
    api = backend("apigateway", region, account_id).apis.get(rest_api_id)
    if api is None:
        return False
    api.disableExecuteApiEndpoint = disabled
    return True


def apigateway_update_domain_name(
    region: str,
    domain_name: str,
    *,
    certificate_arn: str | None,
    regional_certificate_arn: str | None,
    security_policy: str | None,
    account_id: str = ACCOUNT_ID,
) -> bool:
    """UpdateDomainName of API Gateway (a custom domain name's certificates and TLS policy), which moto lacks; the
    name keeps its distribution and regional domain names, as in AWS. False when there is no such name."""
    domain = backend("apigateway", region, account_id).domain_names.get(domain_name)
    if domain is None:
        return False
    domain.certificate_arn = certificate_arn
    domain.regional_certificate_arn = regional_certificate_arn
    domain.security_policy = security_policy
    return True


def aoss_update_collection(region: str, collection_id: str, *, description: str, account_id: str = ACCOUNT_ID) -> bool:
    """UpdateCollection of OpenSearch Serverless (its description), which moto lacks; False when
    there is no such collection."""
    from moto.core.utils import unix_time

    collection = backend("opensearchserverless", region, account_id).collections.get(collection_id)
    if collection is None:
        return False
    collection.description = description
    collection.last_modified_date = int(unix_time() * 1000)
    return True


def fix_aoss_collection_encryption() -> None:
    """CreateCollection takes the key of the encryption policy that matches the collection.

    AWS: the encryption policy whose rules match `collection/<name>` (exactly or through a
    `*` pattern) gives the collection its key, `kmsKeyArn` "auto" for an AWS-owned key;
    network and data access policies of the same collection play no part. moto took the
    last policy of any type naming the collection, so a network policy made after the
    encryption policy failed the call (HTTP 500), as did an AWS-owned key; and a call
    without tags failed too.
    """
    import fnmatch

    from moto.moto_api._internal import mock_random
    from moto.opensearchserverless import models
    from moto.opensearchserverless.exceptions import ValidationException

    backend_class = models.OpenSearchServiceServerlessBackend
    if getattr(backend_class.create_collection, "_sandbox_fixed", False):
        return

    def create_collection(
        self: Any, client_token: str, description: str, name: str, standby_replicas: str,
        tags: list[dict[str, str]] | None, type: str,
    ) -> Any:  # fmt: skip
        key_arn = None
        for policy in self.security_policies.values():
            if policy.type == "encryption" and any(
                fnmatch.fnmatchcase(f"collection/{name}", pattern) for pattern in policy.resources
            ):
                key_arn = policy.policy.get("KmsARN") or "auto"
        if key_arn is None:
            raise ValidationException(
                msg=f"No matching security policy of encryption type found for collection name: {name}. "
                "Please create security policy of encryption type for this collection."
            )
        collection = models.Collection(
            client_token=client_token or mock_random.get_random_string(10),
            description=description,
            name=name,
            standby_replicas=standby_replicas,
            tags=tags or [],
            type=type,
            policy={"KmsARN": key_arn},
            region=self.region_name,
            account_id=self.account_id,
        )
        self.collections[collection.id] = collection
        self.tag_resource(collection.arn, tags or [])
        return collection

    create_collection._sandbox_fixed = True  # type: ignore[attr-defined]
    backend_class.create_collection = create_collection  # type: ignore[method-assign]


def synthetics_delete_canary(region: str, name: str, account_id: str = ACCOUNT_ID) -> bool:
    """DeleteCanary of CloudWatch Synthetics, which moto lacks; False when there is none."""
    return backend("synthetics", region, account_id).canaries.pop(name, None) is not None


def synthetics_keep_canary(region: str, name: str, *, canary_id: str, state: str, account_id: str = ACCOUNT_ID) -> bool:
    """Give a canary its id and state; False when there is none.

    AWS: a canary keeps its id through UpdateCanary, and `StartCanaryAfterCreation` makes
    it RUNNING; moto has neither UpdateCanary nor StartCanary, and says READY.
    """
    canary = backend("synthetics", region, account_id).canaries.get(name)
    if canary is None:
        return False
    canary.id = canary_id
    canary.state = state
    return True


# --------------------------------------------------------------------------- api gateway
def apigateway_tag_rest_api(
    region: str, api_id: str, tags: dict[str, str], *, removed: list[str], account_id: str = ACCOUNT_ID
) -> None:
    """Tag a REST API, as TagResource on its ARN (`arn:aws:apigateway:REGION::/restapis/ID`)
    does; GetRestApi and GetTags answer them.

    moto routes TagResource for stage ARNs only (a REST API's ARN answers 404), and its
    CloudFormation model of AWS::ApiGateway::RestApi ignores `Tags`.
    """
    api = backend("apigateway", region, account_id).get_rest_api(api_id)
    for key in removed:
        api.tags.pop(key, None)
    api.tags.update(tags)


# --------------------------------------------------------------------------- ssm service settings
#: Systems Manager's account-level settings (UpdateServiceSetting's documented setting ids) and
#: the value AWS defines for each until it is updated (ResetServiceSetting puts it back).
SSM_SERVICE_SETTINGS = {
    "/ssm/parameter-store/default-parameter-tier": "Standard",
    "/ssm/parameter-store/high-throughput-enabled": "false",
    "/ssm/managed-instance/activation-tier": "standard",
    "/ssm/managed-instance/default-ec2-instance-management-role": "",
    "/ssm/automation/customer-script-log-destination": "none",
    "/ssm/automation/customer-script-log-group-name": "",
    "/ssm/opsinsights/opscenter": "Disabled",
}


def install_ssm_service_settings() -> None:
    """GetServiceSetting, UpdateServiceSetting and ResetServiceSetting, which moto 5.2.5 lacks
    ("The update_service_setting action has not been implemented"): CDK's AwsCustomResource in
    data.all's ParamStore stack turns on the parameter store's high throughput with it.

    AWS: a setting is named by its id or its ARN
    (`arn:aws:ssm:REGION:ACCOUNT:servicesetting/ssm/parameter-store/high-throughput-enabled`);
    an id AWS does not define answers ServiceSettingNotFound; Status is Default until updated,
    then Customized.
    """
    from moto.core.exceptions import JsonRESTError
    from moto.core.responses import ActionResult
    from moto.core.utils import utcnow
    from moto.ssm.responses import SimpleSystemManagerResponse

    if getattr(getattr(SimpleSystemManagerResponse, "update_service_setting", None), "_sandbox_fixed", False):
        return

    def setting_id(response: Any) -> str:
        given = str(response._get_param("SettingId") or "")
        setting = given.split(":servicesetting", 1)[1] if ":servicesetting" in given else given
        if setting not in SSM_SERVICE_SETTINGS:
            raise JsonRESTError("ServiceSettingNotFound", f"No setting found for SettingId: {given}")
        return setting

    def settings(response: Any) -> dict[str, dict[str, Any]]:
        backend = response.ssm_backend
        if not hasattr(backend, "sandbox_service_settings"):
            backend.sandbox_service_settings = {}
        found: dict[str, dict[str, Any]] = backend.sandbox_service_settings
        return found

    def described(response: Any, setting: str) -> dict[str, Any]:
        changed = settings(response).get(setting)
        return {
            "SettingId": setting,
            "SettingValue": changed["value"] if changed else SSM_SERVICE_SETTINGS[setting],
            "LastModifiedDate": changed["at"] if changed else utcnow(),
            "LastModifiedUser": "System",
            "ARN": f"arn:aws:ssm:{response.region}:{response.current_account}:servicesetting{setting}",
            "Status": "Customized" if changed else "Default",
        }

    def get_service_setting(self: Any) -> ActionResult:
        return ActionResult({"ServiceSetting": described(self, setting_id(self))})

    def update_service_setting(self: Any) -> ActionResult:
        setting = setting_id(self)
        settings(self)[setting] = {"value": str(self._get_param("SettingValue")), "at": utcnow()}
        return ActionResult({})

    def reset_service_setting(self: Any) -> ActionResult:
        setting = setting_id(self)
        settings(self).pop(setting, None)
        return ActionResult({"ServiceSetting": described(self, setting)})

    for method in (get_service_setting, update_service_setting, reset_service_setting):
        method._sandbox_fixed = True  # type: ignore[attr-defined]
        setattr(SimpleSystemManagerResponse, method.__name__, method)


# --------------------------------------------------------------------------- cognito
def fix_cognito_client_dates() -> None:
    """DescribeUserPoolClient (and Create/Update/List) answer the client's CreationDate and
    LastModifiedDate, as AWS does; moto 5.2.5 left both out, and data.all's cognito_urls.py
    (its FrontendCognitoConfig Trigger) deletes them from the answer before updating the client."""
    from moto.cognitoidp.models import CognitoIdpBackend, CognitoIdpUserPoolClient
    from moto.core.utils import utcnow

    original = CognitoIdpUserPoolClient.to_json
    if getattr(original, "_sandbox_fixed", False):
        return

    def to_json(self: Any, extended: bool = False) -> dict[str, Any]:
        answer: dict[str, Any] = original(self, extended)
        if extended:
            created = self.__dict__.setdefault("sandbox_created", utcnow())
            answer.setdefault("CreationDate", created)
            answer.setdefault("LastModifiedDate", self.__dict__.get("sandbox_modified", created))
        return answer

    original_update = CognitoIdpBackend.update_user_pool_client

    def update_user_pool_client(self: Any, user_pool_id: str, client_id: str, extended_config: Any) -> Any:
        client = original_update(self, user_pool_id, client_id, extended_config)
        client.__dict__.setdefault("sandbox_created", utcnow())
        client.__dict__["sandbox_modified"] = utcnow()
        return client

    to_json._sandbox_fixed = True  # type: ignore[attr-defined]
    CognitoIdpUserPoolClient.to_json = to_json  # type: ignore[method-assign]
    CognitoIdpBackend.update_user_pool_client = update_user_pool_client  # type: ignore[method-assign]


# --------------------------------------------------------------------------- ec2
def fix_prefix_list_rule_descriptions() -> None:
    """A security group rule to a prefix list keeps its description: DescribeSecurityGroups answers it
    in the rule's `PrefixListIds` entry and DescribeSecurityGroupRules in the rule's `Description`, as
    AWS does (EC2 API reference, PrefixListId: `Description`, `PrefixListId`); moto 5.2.5 kept only
    the id. data.all's ECS task groups name their S3 egress rule "Allow ECS Task to S3 Prefix List"."""
    import inspect

    from moto.ec2.models.security_groups import SecurityGroup, SecurityGroupRule

    original_init = SecurityGroupRule.__init__
    if getattr(original_init, "_sandbox_fixed", False):
        return
    signature = inspect.signature(original_init)
    original_description = SecurityGroupRule.description
    original_flattened = SecurityGroup._flattened_rules

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        given = signature.bind(self, *args, **kwargs).arguments.get("prefix_list_id") or {}
        self.sandbox_prefix_list_description = given.get("Description")

    def description(self: Any) -> str | None:
        answer: str | None = original_description.fget(self)  # type: ignore[attr-defined]
        return answer if answer is not None else self.__dict__.get("sandbox_prefix_list_description")

    def _flattened_rules(self: Any, rules: list[Any]) -> list[Any]:
        views: list[Any] = original_flattened(self, rules)
        described = {
            (rule.from_port, rule.to_port, rule.ip_protocol, rule.prefix_list_id): text
            for rule in rules
            if rule.prefix_list_id and (text := rule.__dict__.get("sandbox_prefix_list_description"))
        }
        for view in views:
            for entry in view.prefix_list_ids:
                text = described.get((view.from_port, view.to_port, view.ip_protocol, entry["PrefixListId"]))
                if text:
                    entry["Description"] = text
        return views

    __init__._sandbox_fixed = True  # type: ignore[attr-defined]
    SecurityGroupRule.__init__ = __init__  # type: ignore[method-assign]
    SecurityGroupRule.description = property(description)  # type: ignore[assignment,method-assign]
    SecurityGroup._flattened_rules = _flattened_rules  # type: ignore[method-assign]


#: fixes installed once per process, by name
_INSTALLED: set[str] = set()


def fix_lambda_code_bucket_region() -> None:
    """A function's code is read only from a bucket in the function's own Region.

    AWS (Lambda API reference, FunctionCode: "S3Bucket — An Amazon S3 bucket in the same AWS
    Region as your function"): CreateFunction and UpdateFunctionCode with a bucket of another
    Region fail with InvalidParameterValueException, "Error occurred while GetObject. S3 Error
    Code: PermanentRedirect. S3 Error Message: The bucket is in this region: <region>. Please use
    this region to retry the request". moto 5.2.5 reads the object wherever the bucket is
    ("FIXME: does not validate bucket region").
    """
    from moto.awslambda.exceptions import InvalidParameterValueException
    from moto.awslambda.models import LambdaFunction
    from moto.s3.models import s3_backends

    # a flag of its own, not a mark on the method: install_lambda_images wraps the same method
    # (before or after this) and takes a `_sandbox_fixed` mark on it for its own
    if "lambda_code_bucket_region" in _INSTALLED:
        return
    _INSTALLED.add("lambda_code_bucket_region")
    original = LambdaFunction._set_function_code

    def _set_function_code(self: Any, updated_spec: dict[str, Any]) -> None:
        bucket_name = updated_spec.get("S3Bucket") if isinstance(updated_spec, dict) else None
        if bucket_name and not (updated_spec.get("DryRun")):
            bucket = s3_backends[self.account_id][self.partition].buckets.get(bucket_name)
            if bucket is not None and bucket.region_name != self.region:
                raise InvalidParameterValueException(
                    "Error occurred while GetObject. S3 Error Code: PermanentRedirect. S3 Error Message: "
                    f"The bucket is in this region: {bucket.region_name}. Please use this region to retry the request"
                )
        original(self, updated_spec)

    LambdaFunction._set_function_code = _set_function_code  # type: ignore[method-assign]


# --------------------------------------------------------------------------- cognito identity
def fix_cognito_identity_pool_roles() -> None:
    """SetIdentityPoolRoles and GetIdentityPoolRoles of Cognito identity, which moto 5.2.5 lacks.

    AWS (https://docs.aws.amazon.com/cognitoidentity/latest/APIReference/API_SetIdentityPoolRoles.html):
    "Sets the roles for an identity pool. These roles are used when making calls to
    GetCredentialsForIdentity": `Roles` (`authenticated`, `unauthenticated`: role ARNs) and
    `RoleMappings` replace what the pool had; a pool that does not exist is `ResourceNotFoundException`.
    GetIdentityPoolRoles (API_GetIdentityPoolRoles.html) answers `IdentityPoolId`, `Roles` and
    `RoleMappings`. Here they are kept on moto's pool object.
    """
    from moto.cognitoidentity.exceptions import ResourceNotFoundError
    from moto.cognitoidentity.responses import CognitoIdentityResponse

    if getattr(CognitoIdentityResponse, "_sandbox_roles", False):
        return

    def pool_of(response: Any) -> Any:
        pool_id = response._get_param("IdentityPoolId")
        pool = response.backend.identity_pools.get(pool_id)
        if pool is None:
            raise ResourceNotFoundError(pool_id)
        return pool

    def set_identity_pool_roles(self: Any) -> str:
        pool = pool_of(self)
        pool.sandbox_roles = dict(self._get_param("Roles") or {})
        pool.sandbox_role_mappings = dict(self._get_param("RoleMappings") or {})
        return ""

    def get_identity_pool_roles(self: Any) -> str:
        pool = pool_of(self)
        return json.dumps(
            {
                "IdentityPoolId": pool.identity_pool_id,
                "Roles": getattr(pool, "sandbox_roles", {}),
                "RoleMappings": getattr(pool, "sandbox_role_mappings", {}),
            }
        )

    CognitoIdentityResponse.set_identity_pool_roles = set_identity_pool_roles  # type: ignore[attr-defined]
    CognitoIdentityResponse.get_identity_pool_roles = get_identity_pool_roles  # type: ignore[attr-defined]
    CognitoIdentityResponse._sandbox_roles = True  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- acm
def acm_issue_certificate(region: str, arn: str, account_id: str = ACCOUNT_ID) -> bool:
    """Issue a requested certificate whose DNS validation records are in place; False when
    there is no such certificate, or it is not waiting for validation.

    AWS: ACM issues an `AMAZON_ISSUED` certificate (Status ISSUED, each name's ValidationStatus
    SUCCESS) once it finds each name's validation CNAME in DNS
    (https://docs.aws.amazon.com/acm/latest/userguide/dns-validation.html). moto has no DNS to
    look in: it leaves the certificate PENDING_VALIDATION (until `ACM_VALIDATION_WAIT` has
    passed, then issues it whatever DNS says); the sandbox's CloudFormation looks in its Route 53
    and issues it here.
    """
    bundle = backend("acm", region, account_id)._certificates.get(arn)
    if bundle is None or bundle.type != "AMAZON_ISSUED" or bundle.status != "PENDING_VALIDATION":
        return False
    bundle.status = "ISSUED"
    return True


def acm_update_certificate_options(
    region: str, arn: str, options: Mapping[str, str], account_id: str = ACCOUNT_ID
) -> bool:
    """UpdateCertificateOptions of ACM (`CertificateTransparencyLoggingPreference`), which moto
    lacks; False when there is no such certificate.

    AWS: the options change in place, and DescribeCertificate answers them under `Options`
    (https://docs.aws.amazon.com/acm/latest/APIReference/API_UpdateCertificateOptions.html).
    """
    bundle = backend("acm", region, account_id)._certificates.get(arn)
    if bundle is None:
        return False
    bundle.cert_options.update(options)
    return True


# --------------------------------------------------------------------------- elastic load balancing
#: Route 53's hosted zone of each Region's Application Load Balancers, the one an alias record to a
#: balancer names (Elastic Load Balancing endpoints and quotas,
#: https://docs.aws.amazon.com/general/latest/gr/elb.html#elb_region)
APPLICATION_LOAD_BALANCER_ZONES = {
    "af-south-1": "Z268VQBMOI5EKX",
    "ap-east-1": "Z3DQVH9N71FHZ0",
    "ap-northeast-1": "Z14GRHDCWA56QT",
    "ap-northeast-2": "ZWKZPGTI48KDX",
    "ap-northeast-3": "Z5LXEXXYW11ES",
    "ap-south-1": "ZP97RAFLXTNZK",
    "ap-southeast-1": "Z1LMS91P8CMLE5",
    "ap-southeast-2": "Z1GM3OXH4ZPM65",
    "ap-southeast-3": "Z08888821HLRG5A9ZRTER",
    "ca-central-1": "ZQSVJUPU6J1EY",
    "cn-north-1": "Z1GDH35T77C1KE",
    "cn-northwest-1": "ZM7IZAIOVVDZF",
    "eu-central-1": "Z215JYRZR1TBD5",
    "eu-north-1": "Z23TAZ6LKFMNIO",
    "eu-south-1": "Z3ULH7SSC9OV64",
    "eu-west-1": "Z32O12XQLNTSW2",
    "eu-west-2": "ZHURV8PSTC4K8",
    "eu-west-3": "Z3Q77PNBQS71R4",
    "me-south-1": "ZS929ML54UICD",
    "sa-east-1": "Z2P70J7HTTTPLU",
    "us-east-1": "Z35SXDOTRQ7X7K",
    "us-east-2": "Z3AADJGX6KTTL2",
    "us-gov-east-1": "Z166TLBEWOO7G0",
    "us-gov-west-1": "Z33AYJ8TM3BH4J",
    "us-west-1": "Z368ELLRRE2KJ0",
    "us-west-2": "Z1H1FL5HABSF5",
}


def fix_elbv2_application_dns_names() -> None:
    """CreateLoadBalancer gives an Application Load Balancer AWS's DNS name and hosted zone.

    AWS: `<name>-<number>.<region>.elb.amazonaws.com`, and `internal-<name>-<number>...` for an
    internal one (Elastic Load Balancing User Guide for Application Load Balancers: "Internet-facing
    load balancers" / "Internal load balancers"), in the Region's Route 53 zone for Application Load
    Balancers (`APPLICATION_LOAD_BALANCER_ZONES`), which an alias record to the balancer names. moto
    answered `<name>-1.<region>...` whatever the scheme, and `Z2P70J7EXAMPLE` for every Region.
    """
    from moto.elbv2.models import ELBv2Backend
    from moto.moto_api._internal import mock_random

    if getattr(ELBv2Backend.create_load_balancer, "_sandbox_fixed", False):
        return
    original = ELBv2Backend.create_load_balancer

    @functools.wraps(original)
    def create_load_balancer(self: Any, *args: Any, **kwargs: Any) -> Any:
        balancer = original(self, *args, **kwargs)
        if balancer.type == "application":
            prefix = "internal-" if balancer.scheme == "internal" else ""
            number = mock_random.randint(10**9, 2 * 10**9 - 1)
            balancer.dns_name = f"{prefix}{balancer.name}-{number}.{self.region_name}.elb.amazonaws.com"
            balancer.canonical_hosted_zone_id = APPLICATION_LOAD_BALANCER_ZONES.get(
                self.region_name, balancer.canonical_hosted_zone_id
            )
        return balancer

    create_load_balancer._sandbox_fixed = True  # type: ignore[attr-defined]
    ELBv2Backend.create_load_balancer = create_load_balancer  # type: ignore[method-assign]


def fix_elbv2_deletion_protection() -> None:
    """DeleteLoadBalancer refuses a balancer whose `deletion_protection.enabled` attribute is true.

    AWS: "You can't delete a load balancer if deletion protection is enabled" (User Guide for Application Load
    Balancers: "Deletion protection"); the call answers OperationNotPermitted, and a stack delete fails on the
    balancer until the attribute is turned off. moto deleted it.
    """
    from moto.elbv2.exceptions import ELBClientError
    from moto.elbv2.models import ELBv2Backend

    if getattr(ELBv2Backend.delete_load_balancer, "_sandbox_fixed", False):
        return
    original = ELBv2Backend.delete_load_balancer

    @functools.wraps(original)
    def delete_load_balancer(self: Any, arn: str) -> None:
        balancer = self.load_balancers.get(arn)
        if balancer is not None and balancer.attrs.get("deletion_protection.enabled") == "true":
            raise ELBClientError(
                "OperationNotPermitted",
                f"Load balancer '{arn}' cannot be deleted because deletion protection is enabled",
            )
        original(self, arn)

    delete_load_balancer._sandbox_fixed = True  # type: ignore[attr-defined]
    ELBv2Backend.delete_load_balancer = delete_load_balancer  # type: ignore[method-assign]


# --------------------------------------------------------------------------- api gateway: private APIs
def fix_private_rest_api_deployments() -> None:
    """CreateDeployment refuses a PRIVATE REST API that has no resource policy.

    AWS: a private API is reachable only as its resource policy allows, and API Gateway will not
    deploy one without a policy: `BadRequestException: Private REST API doesn't have a resource
    policy attached to it` (API Gateway Developer Guide: "Private REST APIs in API Gateway",
    https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-private-apis.html).
    moto deployed it.
    """
    from moto.apigateway.exceptions import BadRequestException
    from moto.apigateway.models import APIGatewayBackend

    if getattr(APIGatewayBackend.create_deployment, "_sandbox_fixed", False):
        return
    original = APIGatewayBackend.create_deployment

    @functools.wraps(original)
    def create_deployment(self: Any, function_id: str, *args: Any, **kwargs: Any) -> Any:
        api = self.get_rest_api(function_id)
        if "PRIVATE" in (api.endpoint_configuration or {}).get("types", []) and not api.policy:
            raise BadRequestException("Private REST API doesn't have a resource policy attached to it")
        return original(self, function_id, *args, **kwargs)

    create_deployment._sandbox_fixed = True  # type: ignore[attr-defined]
    APIGatewayBackend.create_deployment = create_deployment  # type: ignore[method-assign]


def apigateway_set_endpoint_configuration(
    region: str, rest_api_id: str, configuration: Mapping[str, Any], *, account_id: str = ACCOUNT_ID
) -> bool:
    """A REST API's endpoint types and VPC endpoints, changed in place; False when there is no such API.

    AWS: UpdateRestApi changes them in place (`/endpointConfiguration/types/{type}` replaced,
    `/endpointConfiguration/vpcEndpointIds` added and removed), and GetRestApi answers the new ones.
    moto's UpdateRestApi takes the types only, and none of the endpoint ids.
    """
    api = backend("apigateway", region, account_id).apis.get(rest_api_id)
    if api is None:
        return False
    api.endpoint_configuration = {key: list(value) for key, value in configuration.items()}
    return True


# --------------------------------------------------------------------------- ecs
def fix_ecs_deleted_services_unlisted() -> None:
    """ListServices leaves out deleted services.

    AWS: a deleted service moves to DRAINING, then INACTIVE, "and the service is no longer visible
    in the console or in the ListServices API operation"; DescribeServices still answers it for a
    while (Amazon ECS API Reference: DeleteService). moto marked it INACTIVE and kept listing it, so a
    stack delete seemed to leave its service behind.
    """
    from moto.ecs.models import EC2ContainerServiceBackend

    if getattr(EC2ContainerServiceBackend.list_services, "_sandbox_fixed", False):
        return
    original = EC2ContainerServiceBackend.list_services

    @functools.wraps(original)
    def list_services(self: Any, *args: Any, **kwargs: Any) -> list[str]:
        inactive = {service.arn for service in self.services.values() if service.status == "INACTIVE"}
        return [arn for arn in original(self, *args, **kwargs) if arn not in inactive]

    list_services._sandbox_fixed = True  # type: ignore[attr-defined]
    EC2ContainerServiceBackend.list_services = list_services  # type: ignore[method-assign]

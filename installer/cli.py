"""`dataall-installer`: build, deploy and watch the installer, against AWS or a local sandbox."""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import re
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from installer import __version__
from installer.answers import DEBUG_ENV, Problem, classify, emit, exit_code

app = typer.Typer(
    name="dataall-installer",
    help="A serverless, self-deploying installer for data.all on AWS.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
sandbox_app = typer.Typer(help="The local AWS sandbox.", no_args_is_help=True)
app.add_typer(sandbox_app, name="sandbox")

DEFAULT_OUT = Path("dist/release")

# ---------------------------------------------------------------------- shared options
SandboxOpt = Annotated[bool, typer.Option("--sandbox", help="Run against an embedded sandbox for this command.")]
EndpointOpt = Annotated[
    str | None,
    typer.Option("--endpoint-url", envvar="AWS_ENDPOINT_URL", help="AWS endpoint (a sandbox: http://127.0.0.1:4566)."),
]
RegionOpt = Annotated[str | None, typer.Option("--region", help="AWS region (default: AWS_REGION or us-east-1).")]
PrefixOpt = Annotated[str, typer.Option("--prefix", help="Resource prefix of the installation.")]
EnvOpt = Annotated[str, typer.Option("--env", help="Environment name of the installation.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="End with one JSON line: the run's result.")]
FaultOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--fault", help="Sandbox only: make STAGE fail as KIND (create, update, timeout, crash, throttle, rollback)."
    ),
]
ScaleOpt = Annotated[
    float, typer.Option("--scale", help="Sandbox only: wall seconds per modelled second (0.01 = 100x faster).")
]


def _fail(
    message: str, code: str = "InvalidArgument", *, field: str | None = None, status: str = "REFUSED"
) -> NoReturn:
    """End the command with a refusal (or `status`): see installer.answers."""
    raise Problem(code, message, status=status, field=field)


def _answers(command: Callable[..., None]) -> Callable[..., None]:
    """Every command answers in one shape (installer.answers): a Problem or any expected error
    becomes a line on standard error, the JSON line with --json, and its exit code; no traceback
    unless --debug."""

    @functools.wraps(command)
    def answered(*args: Any, **kwargs: Any) -> None:
        try:
            command(*args, **kwargs)
        except (typer.Exit, typer.Abort):
            raise
        except (Exception, KeyboardInterrupt) as error:  # noqa: BLE001 - every error is answered, not lost
            problem = classify(error)
            name = command.__name__.replace("_", " ")  # sandbox_serve: `sandbox serve`
            code = emit(problem, json_mode=bool(kwargs.get("json_mode")), command=name, cause=error)
            raise typer.Exit(code) from None

    return answered


def _json_line(document: dict[str, Any]) -> None:
    """One JSON object on its own line of standard output, flushed (a reader may be waiting for it)."""
    sys.stdout.write(json.dumps(document, default=str) + "\n")
    sys.stdout.flush()


def _params(pairs: list[str] | None, flag: str = "--param") -> dict[str, str]:
    result = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            _fail(f"{flag} {pair!r} is not KEY=VALUE", field=flag)
        if key in result:
            _fail(f"{flag} {key} is given twice", field=f"{flag} {key}")
        result[key] = value
    return result


UpstreamOpt = Annotated[
    Path | None,
    typer.Option(
        "--upstream",
        help="data.all from this cloud assembly, folder holding cdk.out/, or data.all source tree "
        "(default: $DATAALL_UPSTREAM, then ../shared/upstream/dataall/<version>, else a clone of the pinned tag).",
    ),
]


ImageRegistryOpt = Annotated[
    str | None,
    typer.Option(
        "--image-registry",
        help="ACCOUNT:REGION of the ECR registry the publisher pushed data.all's images to (its repository "
        "policy letting installation accounts pull): the release pins each image's digest as it holds it. "
        "Default: $DATAALL_INSTALLER_IMAGE_REGISTRY, else the sandbox's stand-in images (a sandbox-only release).",
    ),
]


def _build(
    out: Path,
    version: str | None,
    upstream: Path | None,
    *,
    quiet: bool,
    image_registry: str | None = None,
) -> Any:
    """Build data.all's release from its upstream."""
    from installer.build import BuildError

    try:
        from installer.dataall import SITE_ENV, build_dataall_release, site_wanted
        from installer.upstream import UpstreamError, resolve

        try:
            source = resolve(upstream, version)
        except UpstreamError as error:
            _fail(str(error), "UpstreamInvalid", field="--upstream")
        # An operator's release ships data.all's web UI: without it there is no data.all to sign in to.
        site = site_wanted(default=True)
        if not quiet:
            with_site = (
                f"with its web UI (the frontend build: minutes once, then cached; {SITE_ENV}=0 leaves it out)"
                if site
                else f"without its web UI ({SITE_ENV}=0)"
            )
            typer.echo(f"building data.all {source.version} from {source.origin} {with_site} ...")
        from installer.images import ImageRegistryError

        # a first build synthesizes data.all's variants and builds its web UI: minutes, told as each ends
        progress = None if quiet else typer.echo
        try:
            if image_registry:
                return build_dataall_release(out, source, site=site, image_registry=image_registry, progress=progress)
            return build_dataall_release(out, source, site=site, progress=progress)
        except ImageRegistryError as error:
            _fail(str(error), "ReleaseInvalid", field="--image-registry")
    except BuildError as error:
        _fail(str(error), "ReleaseInvalid", field="--upstream" if upstream is not None else None)


def _release(path: Path | None, *, json_mode: bool, upstream: Path | None = None) -> Any:
    """The release folder given, else data.all's, built."""
    from installer.build import BuildError, Release

    if path is not None:
        if upstream is not None:
            _fail("--release names a built release: give it alone, without --upstream", field="--upstream")
        try:
            release = Release.load(path)
            release.verify()  # a damaged or tampered release is refused before anything starts
        except BuildError as error:
            _fail(str(error), "ReleaseInvalid", field="--release")
        return release
    return _build(DEFAULT_OUT, None, upstream, quiet=json_mode)


# ---------------------------------------------------------------------- build
@app.command()
@_answers
def build(
    out: Annotated[Path, typer.Option("--out", help="Folder that receives release/<version>/.")] = DEFAULT_OUT,
    version: Annotated[str | None, typer.Option("--version", help="Release version (default: the source's).")] = None,
    upstream: UpstreamOpt = None,
    json_mode: JsonOpt = False,
    image_registry: ImageRegistryOpt = None,
) -> None:
    """Build data.all's release folder: its own stacks from its source or cloud assembly, as stage
    blueprints, assets and the bootstrap stack."""
    started = time.monotonic()
    release = _build(out, version, upstream, quiet=json_mode, image_registry=image_registry)
    stages = [s.name for s in release.manifest.stages()]
    seconds = round(time.monotonic() - started, 1)
    if json_mode:
        result = {"status": "SUCCEEDED", "command": "build", "version": release.version, "path": str(release.path),
                  "manifest_sha256": release.digest, "files": len(release.manifest.files), "stages": stages,
                  "seconds": seconds}  # fmt: skip
        sys.stdout.write(json.dumps(result) + "\n")
        return
    typer.echo(
        f"release {release.version} -> {release.path} ({len(release.manifest.files)} files, "
        f"{len(stages)} stages) in {seconds:.1f} s"
    )


# ---------------------------------------------------------------------- deploy
BucketPrefixOpt = Annotated[str, typer.Option("--bucket-prefix", help="Release bucket: <prefix>-<region>.")]
ParamOpt = Annotated[list[str] | None, typer.Option("--param", help="Bootstrap parameter KEY=VALUE (repeatable).")]
ReplaceOpt = Annotated[
    bool,
    typer.Option(
        "--replace",
        help="Publish this release in place of a different one already published under the same version.",
    ),
]
DatabaseOpt = Annotated[
    str | None, typer.Option("--database-url", help="Sandbox only: a PostgreSQL URL for the metadata database.")
]


def _deploy_release(aws: Any, release: Any, installation: Any, params: dict[str, str], bucket_prefix: str,
                    progress: Any, *, sandbox: bool = False, replace: bool = False) -> dict[str, Any]:  # fmt: skip
    """Publish, create or update the bootstrap stack, follow the run it starts; the run's result.

    When the bootstrap stack already names this release (nothing of it changed), the release
    is either installed already (NOTHING_TO_DO, no run) or its last run did not succeed (a
    failed upgrade, a refused run): a new run is started for it, as `run upgrade` would.

    `sandbox`: the embedded sandbox. A sandbox (embedded, or `sandbox serve` at the endpoint) is given
    an image root for each image the release names.
    """
    from installer.images import is_sandbox
    from installer.operations import RunReader, bootstrap_parameters, deploy_bootstrap, publish, result_document

    parameters = bootstrap_parameters(release, installation, bucket_prefix, params)
    if sandbox or is_sandbox(aws.endpoint_url):
        _sandbox_images(aws, release, progress)
    where = aws.endpoint_url or f"AWS {aws.region}"
    progress.note(f"release {release.version} -> {where}")
    bucket = publish(aws, release, bucket_prefix, replace=replace)
    progress.note(f"published to s3://{bucket}")
    seen: list[str] = []

    def on_status(status: str) -> None:
        if not seen or seen[-1] != status:
            seen.append(status)
            progress.note(f"bootstrap stack {installation.stack_name}: {status}")

    changed, outputs = deploy_bootstrap(aws, release, installation, bucket, parameters, on_status)
    reader = RunReader(aws, installation, outputs)
    execution_arn = outputs.get("RunExecutionArn") if changed else None
    if not execution_arn:
        execution_arn = _run_for_unchanged_bootstrap(aws, reader, outputs, release, progress)
        if execution_arn is None:
            return _nothing_to_do(reader, release)
    view = _follow(progress, reader, str(execution_arn), aws, installation, embedded=sandbox)
    return result_document(view, reader.transitions(str(execution_arn)))


def _run_for_unchanged_bootstrap(aws: Any, reader: Any, outputs: dict[str, str], release: Any,
                                 progress: Any) -> str | None:  # fmt: skip
    """The run to follow when the bootstrap stack did not change: one still going, else a new
    one when the release is not the installed one (by content); None when it is."""
    from installer.operations import start

    latest = reader.latest_execution()
    if latest is not None and reader.execution_status(latest) == "RUNNING":
        progress.note("a run is going: following it")
        return str(latest)
    installed = reader.ledger.current_release()
    if installed is None:
        action, why = "install", "is not installed (nothing is)"
    elif installed.version != release.version:
        action, why = "upgrade", f"is not installed (installed: {installed.version})"
    elif installed.manifest_sha256 not in (None, release.digest):
        action, why = "upgrade", "was published again with other content"
    else:
        return None
    progress.note(f"release {release.version} {why}: starting a new run ({action})")
    return start(aws, outputs, {"action": action, "version": release.version, "source": "cli"})


def _site(aws: Any, ledger: Any) -> dict[str, Any] | None:
    """data.all's web UI as the installed release published it: its URL (in a sandbox, the local URL
    serving the distribution as CloudFront serves its domain name in AWS), or why there is none;
    None when the release has no site action."""
    from installer.aws import sandbox_control
    from installer.images import is_sandbox

    installed = ledger.current_release()
    if installed is None:
        return None
    step = next((s for s in ledger.steps(installed.run).values() if s.kind == "site"), None)
    if step is None:
        return None
    if not step.distribution_id:
        return {"url": None, "reason": step.reason or "the site was not published"}
    if is_sandbox(aws.endpoint_url):
        url = sandbox_control(str(aws.endpoint_url), f"sites/{step.distribution_id}")["url"]
    else:
        cloudfront = aws.in_region("us-east-1").client("cloudfront")  # CloudFront's API is in us-east-1
        distribution = cloudfront.get_distribution(Id=step.distribution_id)["Distribution"]
        # served at its alternate domain name when it has one (data.all's custom domain)
        aliases = distribution["DistributionConfig"].get("Aliases", {}).get("Items") or [distribution["DomainName"]]
        url = f"https://{aliases[0]}/"
    return {"url": url, "distribution_id": step.distribution_id, "bucket": step.site_bucket}


def _site_line(site: dict[str, Any] | None, *, embedded: bool = False) -> str | None:
    if site is None:
        return None
    if site["url"] is None:
        return f"site: not published: {site['reason']}"
    until = " (served while this command's embedded sandbox runs)" if embedded else ""
    return f"site: {site['url']}{until}"


def _nothing_to_do(reader: Any, release: Any) -> dict[str, Any]:
    return {
        "status": "NOTHING_TO_DO",
        "action": None,
        "version": release.version,
        "installed_version": release.version,
        "message": f"release {release.version} is already installed: no run started",
        "execution_arn": reader.latest_execution(),
        "stages": {},
        "actions": {},
        "transitions": 0,
        "duration_s": None,
        "error": None,
    }


def _follow(progress: Any, reader: Any, execution_arn: str, aws: Any, installation: Any, *, embedded: bool) -> Any:
    """Follow a run until it ends; Ctrl-C ends the command (INTERRUPTED), saying what becomes of
    the run: discarded with the embedded sandbox, or still going at the endpoint."""
    try:
        return progress.follow(reader, execution_arn)
    except KeyboardInterrupt:
        if embedded:
            message = f"interrupted: run {execution_arn.rsplit(':', 1)[-1]} is discarded with the embedded sandbox"
            continues = False
        else:
            where = f" --endpoint-url {aws.endpoint_url}" if aws.endpoint_url else f" --region {aws.region}"
            message = (
                f"interrupted: the run {execution_arn.rsplit(':', 1)[-1]} goes on at "
                f"{aws.endpoint_url or 'AWS ' + aws.region}; follow it with: dataall-installer status --follow"
                f"{where} --prefix {installation.prefix} --env {installation.env}"
            )
            continues = True
        raise Problem("Interrupted", message, status="INTERRUPTED",
                      extra={"execution_arn": execution_arn, "run_continues": continues}) from None  # fmt: skip


def _sandbox_images(aws: Any, release: Any, progress: Any) -> None:
    from installer.images import register_sandbox_images

    try:
        register_sandbox_images(aws, release, progress.note)
    except (FileNotFoundError, RuntimeError) as error:
        _fail(str(error))


@app.command()
@_answers
def deploy(
    sandbox: SandboxOpt = False,
    endpoint_url: EndpointOpt = None,
    region: RegionOpt = None,
    prefix: PrefixOpt = "dataall",
    env: EnvOpt = "prod",
    release_dir: Annotated[
        Path | None, typer.Option("--release", help="A built release folder (default: build data.all).")
    ] = None,
    upstream: UpstreamOpt = None,
    param: ParamOpt = None,
    bucket_prefix: BucketPrefixOpt = "dataall-installer-releases",
    json_mode: JsonOpt = False,
    fault: FaultOpt = None,
    scale: ScaleOpt = 0.01,
    database_url: DatabaseOpt = None,
    replace: ReplaceOpt = False,
    serve: Annotated[
        bool,
        typer.Option(
            "--serve",
            help="With --sandbox: after a run that succeeds, keep the embedded sandbox (and the site's URL) up "
            "until Ctrl-C.",
        ),
    ] = False,
) -> None:
    """Create or update the bootstrap stack from a release, then follow the run it starts."""
    from installer.aws import connect
    from installer.operations import Installation
    from installer.progress import Progress

    params = _check_flags(
        sandbox=sandbox, endpoint_url=endpoint_url, fault=fault, param=param, scale=scale, region=region
    )
    if serve and not sandbox:
        _fail("--serve keeps this command's embedded sandbox up: it needs --sandbox", field="--serve")
    release = _release(release_dir, json_mode=json_mode, upstream=upstream)
    _check_fault_stages(fault, release.manifest)
    _check_bootstrap(release, prefix, env, bucket_prefix, params)
    progress = Progress(json_mode=json_mode)
    with connect(sandbox=sandbox, endpoint_url=endpoint_url, region=region, scale=scale,
                 faults=fault, database_url=database_url) as aws:  # fmt: skip
        result = _deploy_release(aws, release, Installation(prefix, env), params, bucket_prefix, progress,
                                 sandbox=sandbox, replace=replace)  # fmt: skip
        if result["status"] == "SUCCEEDED":
            result["site"] = _site(aws, _ledger(aws, Installation(prefix, env)))
            if serve:
                _report(result, json_mode, scale, command="deploy", embedded=True)
                _serve_until_interrupted()
    _finish(result, json_mode, scale if sandbox else None, command="deploy", embedded=sandbox, reported=serve)


def _serve_until_interrupted(pause: Callable[[], Any] = signal.pause) -> None:
    """`deploy --sandbox --serve`: the embedded sandbox (and the site's URL) up until Ctrl-C."""
    typer.echo("the embedded sandbox serves on: Ctrl-C stops it", err=True)
    try:
        while True:
            pause()
    except KeyboardInterrupt:
        typer.echo("stopping the embedded sandbox", err=True)


def _check_flags(*, sandbox: bool, endpoint_url: str | None, fault: list[str] | None, param: list[str] | None,
                 scale: float = 0.01, region: str | None = None) -> dict[str, str]:  # fmt: skip
    """What can be checked of the flags before anything is built or published; the parameters."""
    import os

    from installer.aws import check_region
    from sandbox.faults import FaultSpecError, parse_fault

    check_region(region)

    if sandbox and endpoint_url:
        _fail("--sandbox and --endpoint-url exclude each other: choose one endpoint", field="--endpoint-url")
    for spec in fault or []:
        try:
            parse_fault(spec)
        except FaultSpecError as error:
            _fail(str(error), "InvalidFault", field="--fault")
    if fault and not (sandbox or endpoint_url or os.environ.get("AWS_ENDPOINT_URL")):
        _fail("--fault needs a sandbox: use --sandbox or a sandbox's --endpoint-url", "InvalidFault", field="--fault")
    if not (math.isfinite(scale) and scale > 0):
        _fail(f"--scale {scale}: wall seconds per modelled second must be a positive number", field="--scale")
    return _params(param)


def _check_bootstrap(release: Any, prefix: str, env: str, bucket_prefix: str, params: dict[str, str]) -> None:
    """The bootstrap stack's parameters (--param, --prefix, --env, --bucket-prefix) against the
    release's template, before a sandbox starts or anything is published."""
    from installer.operations import Installation, bootstrap_parameters

    bootstrap_parameters(release, Installation(prefix, env), bucket_prefix, params)


def _check_fault_stages(fault: list[str] | None, manifest: Any) -> None:
    """A fault naming a stage the release does not have would never fire: refused, naming it."""
    from sandbox.faults import parse_fault

    stages = {step.name for step in manifest.stages()}
    for spec in fault or []:
        stage = parse_fault(spec).stage
        if stage != "*" and stage not in stages:
            _fail(f"--fault {spec}: release {manifest.version} has no stage {stage!r} (its stages: "
                  f"{', '.join(sorted(stages))})", "InvalidFault", field="--fault")  # fmt: skip


@app.command()
@_answers
def upgrade(
    release_dir: Annotated[
        Path | None, typer.Option("--release", help="The release folder to upgrade to (default: build data.all).")
    ] = None,
    from_dir: Annotated[
        Path | None,
        typer.Option(
            "--from",
            help="With --sandbox: install this release folder first (default: data.all's release before the target's).",
        ),
    ] = None,
    upstream: UpstreamOpt = None,
    sandbox: SandboxOpt = False,
    endpoint_url: EndpointOpt = None,
    region: RegionOpt = None,
    prefix: PrefixOpt = "dataall",
    env: EnvOpt = "prod",
    param: ParamOpt = None,
    bucket_prefix: BucketPrefixOpt = "dataall-installer-releases",
    json_mode: JsonOpt = False,
    fault: FaultOpt = None,
    scale: ScaleOpt = 0.01,
    replace: ReplaceOpt = False,
) -> None:
    """Upgrade an installation to a release (the bootstrap stack's ReleaseVersion changes).

    After a failed upgrade, the same command starts a new run; to the installed release, it says
    so (NOTHING_TO_DO). With --sandbox the embedded sandbox is empty, so the previous release is
    installed first. Faults are armed for the upgrade only.
    """
    from installer.aws import armed_faults, connect
    from installer.operations import Installation, bootstrap_outputs
    from installer.progress import Progress

    params = _check_flags(
        sandbox=sandbox, endpoint_url=endpoint_url, fault=fault, param=param, scale=scale, region=region
    )
    target = _release(release_dir, json_mode=json_mode, upstream=upstream)
    _check_fault_stages(fault, target.manifest)
    _check_bootstrap(target, prefix, env, bucket_prefix, params)
    progress = Progress(json_mode=json_mode)
    installation = Installation(prefix, env)
    with connect(sandbox=sandbox, endpoint_url=endpoint_url, region=region, scale=scale) as aws:
        if sandbox:
            previous = _previous(from_dir, target, json_mode=json_mode)
            first = _deploy_release(aws, previous, installation, params, bucket_prefix, progress,
                                    sandbox=True)  # fmt: skip
            if first["status"] != "SUCCEEDED":
                _fail(f"the first install failed: {first['error']}", "FirstInstallFailed", status="FAILED")
        else:
            bootstrap_outputs(aws, installation)  # an upgrade needs an installation
        with armed_faults(str(aws.endpoint_url), fault) if fault else contextlib.nullcontext():
            result = _deploy_release(aws, target, installation, params, bucket_prefix, progress,
                                     sandbox=sandbox, replace=replace)  # fmt: skip
    _finish(result, json_mode, scale if sandbox else None, command="upgrade")


AllowOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--allow-replacement",
        help="STAGE/LogicalId: a resource holding data the run may replace or remove (repeatable; "
        "the data-loss guard refuses any other).",
    ),
]


@app.command()
@_answers
def plan(
    release_dir: Annotated[
        Path | None, typer.Option("--release", help="The release folder to preview (default: build data.all).")
    ] = None,
    from_dir: Annotated[
        Path | None,
        typer.Option("--from", help="With --sandbox: install this release folder first (as upgrade does)."),
    ] = None,
    upstream: UpstreamOpt = None,
    option: Annotated[list[str] | None, typer.Option("--option", help="Installer option KEY=VALUE.")] = None,
    allow_replacement: AllowOpt = None,
    sandbox: SandboxOpt = False,
    endpoint_url: EndpointOpt = None,
    region: RegionOpt = None,
    prefix: PrefixOpt = "dataall",
    env: EnvOpt = "prod",
    param: ParamOpt = None,
    bucket_prefix: BucketPrefixOpt = "dataall-installer-releases",
    json_mode: JsonOpt = False,
    scale: ScaleOpt = 0.01,
) -> None:
    """Show what a run to the release would change, stage by stage, from real change sets
    (deleted afterwards: nothing is executed, the lock is released). Exit code 3: the data-loss
    guard would refuse the run (status REFUSED, exit code 2); else status PLANNED, exit code 0."""
    from installer.aws import connect
    from installer.operations import Installation, OperationError, bootstrap_outputs, plan_run, publish
    from installer.preview_view import render
    from installer.progress import Progress
    from lambdas.core.errors import InvalidInput

    params = _check_flags(
        sandbox=sandbox, endpoint_url=endpoint_url, fault=None, param=param, scale=scale, region=region
    )
    options = _params(option, "--option")
    target = _release(release_dir, json_mode=json_mode, upstream=upstream)
    _check_bootstrap(target, prefix, env, bucket_prefix, params)
    installation = Installation(prefix, env)
    progress = Progress(json_mode=json_mode)
    document: dict[str, Any] = {"action": "upgrade", "version": target.version, "source": "cli"}
    if options:
        document["options"] = options
    if allow_replacement:
        document["allow_replacement"] = list(allow_replacement)
    try:
        with connect(sandbox=sandbox, endpoint_url=endpoint_url, region=region, scale=scale) as aws:
            if sandbox:
                previous = _previous(from_dir, target, json_mode=json_mode)
                first = _deploy_release(aws, previous, installation, params, bucket_prefix, progress,
                                        sandbox=True)  # fmt: skip
                if first["status"] != "SUCCEEDED":
                    _fail(f"the first install failed: {first['error']}", "FirstInstallFailed", status="FAILED")
            outputs = bootstrap_outputs(aws, installation)
            publish(aws, target, bucket_prefix)
            preview = plan_run(aws, outputs, document)
    except (InvalidInput, ValueError) as error:
        _fail(str(error))
    except OperationError as error:
        _fail(str(error), error.code, field=error.field)
    preview["status"] = "REFUSED" if preview["refused"] else "PLANNED"
    if json_mode:
        sys.stdout.write(json.dumps(preview, default=str) + "\n")
    else:
        typer.echo(render(preview))
    raise typer.Exit(exit_code(preview["status"]))


def _previous(from_dir: Path | None, target: Any, *, json_mode: bool) -> Any:
    """The release an upgrade in the empty embedded sandbox starts from."""
    if from_dir is not None:
        return _release(from_dir, json_mode=json_mode)
    from installer.upstream import TAGS

    versions = [tag.version for tag in TAGS]
    if target.version not in versions or versions.index(target.version) == 0:
        _fail(f"no data.all release before {target.version} is known: name the first one with --from")
    return _build(Path("dist/previous"), versions[versions.index(target.version) - 1], None, quiet=json_mode)


@app.command()
@_answers
def uninstall(
    retain_data: Annotated[
        bool, typer.Option("--retain-data", help="Keep the stateful stages (database, search, buckets, users).")
    ] = False,
    sandbox: SandboxOpt = False,
    endpoint_url: EndpointOpt = None,
    region: RegionOpt = None,
    prefix: PrefixOpt = "dataall",
    env: EnvOpt = "prod",
    json_mode: JsonOpt = False,
) -> None:
    """Remove the stages in reverse order, then the bootstrap stack (what OnDelete=Destroy does)."""
    from installer.aws import connect
    from installer.operations import (
        Installation,
        RunReader,
        bootstrap_outputs,
        delete_bootstrap,
        result_document,
        start,
    )
    from installer.progress import Progress

    installation = Installation(prefix, env)
    progress = Progress(json_mode=json_mode)
    with connect(sandbox=sandbox, endpoint_url=endpoint_url, region=region) as aws:
        outputs = bootstrap_outputs(aws, installation)
        execution_arn = start(aws, outputs, {"action": "uninstall", "source": "cli", "retain_data": retain_data})
        reader = RunReader(aws, installation, outputs)
        view = _follow(progress, reader, execution_arn, aws, installation, embedded=sandbox)
        result = result_document(view, reader.transitions(execution_arn))
        if result["status"] == "SUCCEEDED":
            delete_bootstrap(aws, installation, lambda status: progress.note(f"bootstrap stack: {status}"))
    _finish(result, json_mode, command="uninstall")


# ---------------------------------------------------------------------- quick-create
#: CloudFormation's stack name: a letter, then letters, digits and hyphens, 128 characters at most.
STACK_NAME_PATTERN = re.compile(r"[a-zA-Z][-a-zA-Z0-9]{0,127}")
#: S3's bucket names (general purpose): 3-63 lower-case letters, digits, dots and hyphens, starting
#: and ending with a letter or digit, no two dots in a row, not shaped like an IP address.
BUCKET_NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


def _check_region(region: str, flag: str) -> None:
    from installer.aws import check_region

    check_region(region, flag)


def _regions(text: str) -> list[str]:
    regions = [region.strip() for region in text.split(",") if region.strip()]
    if not regions:
        _fail("--regions names no region: give one or more, comma-separated", "InvalidRegion", field="--regions")
    for region in regions:
        _check_region(region, "--regions")
        if regions.count(region) > 1:
            _fail(f"--regions names {region} twice", "InvalidRegion", field="--regions")
    return regions


def _check_stack_name(name: str) -> None:
    if STACK_NAME_PATTERN.fullmatch(name) is None:
        _fail(f"--stack-name {name!r}: a stack name is a letter, then letters, digits and hyphens "
              "(128 characters at most)", field="--stack-name")  # fmt: skip


def _check_bucket_prefix(bucket_prefix: str, regions: list[str], declared: dict[str, Any]) -> None:
    """The prefix against the bootstrap template's own ReleaseBucketPrefix, and each bucket
    `<prefix>-<region>` against S3's bucket names."""
    from installer.answers import check_parameters

    check_parameters({"ReleaseBucketPrefix": declared.get("ReleaseBucketPrefix", {})},
                     {"ReleaseBucketPrefix": bucket_prefix}, flag="--bucket-prefix")  # fmt: skip
    for region in regions:
        bucket = f"{bucket_prefix}-{region}"
        if (BUCKET_NAME_PATTERN.fullmatch(bucket) is None or ".." in bucket or ".-" in bucket or "-." in bucket
                or re.fullmatch(r"[0-9.]+", bucket)):  # fmt: skip
            _fail(f"--bucket-prefix {bucket_prefix!r}: the release bucket {bucket!r} is not a valid S3 bucket "
                  "name (3-63 lower-case letters, digits, dots and hyphens)", field="--bucket-prefix")  # fmt: skip


@app.command()
@_answers
def publish(
    bucket_prefix: BucketPrefixOpt = "dataall-installer-releases",
    regions: Annotated[str, typer.Option("--regions", help="Comma-separated regions, one bucket each.")] = "us-east-1",
    release_dir: Annotated[
        Path | None, typer.Option("--release", help="A built release folder (default: build one).")
    ] = None,
    stack_name: Annotated[
        str, typer.Option("--stack-name", help="Stack name in the quick-create form.")
    ] = "dataall-prod-installer",
    param: ParamOpt = None,
    public: Annotated[bool, typer.Option("--public", help="Let any account read the release (public link).")] = False,
    endpoint_url: EndpointOpt = None,
    replace: ReplaceOpt = False,
    json_mode: JsonOpt = False,
) -> None:
    """Upload a release to <bucket-prefix>-<region> buckets and print one quick-create URL per region.

    The regions, the stack name, --param values (against the bootstrap template's own
    constraints) and the bucket prefix are checked before anything is built or uploaded. A
    different release already published under the same version is refused (ReleaseConflict)
    unless --replace."""
    from installer.aws import Aws
    from installer.operations import check_bootstrap_values, make_public, public_template_url, quick_create_url
    from installer.operations import publish as upload

    names = _regions(regions)
    _check_stack_name(stack_name)
    given = _params(param)
    if "ReleaseBucketPrefix" in given:
        _fail("the release bucket prefix is --bucket-prefix", field="--param ReleaseBucketPrefix")
    release = _release(release_dir, json_mode=json_mode)
    declared = release.bootstrap_template.get("Parameters", {})
    check_bootstrap_values(declared, given)
    _check_bucket_prefix(bucket_prefix, names, declared)
    params = {"ReleaseBucketPrefix": bucket_prefix, **given}
    published: list[dict[str, Any]] = []
    for region in names:
        aws = Aws(region=region, endpoint_url=endpoint_url)
        try:
            bucket = upload(aws, release, bucket_prefix, replace=replace)
            if public:
                make_public(aws, bucket)
        except Exception as error:  # answered with what was published before it
            problem = classify(error)
            where = ", ".join(entry["region"] for entry in published)
            problem.message += f" (region {region}; published before it: {where or 'none'})"
            problem.extra["published"] = published
            raise problem from error
        url = public_template_url(bucket, region, release.version)
        link = quick_create_url(region, url, stack_name, params)
        published.append({"region": region, "bucket": bucket, "template_url": url, "quick_create_url": link,
                          "public": public})  # fmt: skip
        if not json_mode:
            typer.echo(f"{region}: {link}")
    if json_mode:
        result = {"status": "SUCCEEDED", "command": "publish", "version": release.version,
                  "manifest_sha256": release.digest, "published": published, "error": None}  # fmt: skip
        sys.stdout.write(json.dumps(result) + "\n")


@app.command()
@_answers
def link(
    template_url: Annotated[str, typer.Option("--template-url", help="S3 URL of bootstrap.template.json.")],
    region: Annotated[str, typer.Option("--region", help="Region of the console form.")],
    stack_name: Annotated[str, typer.Option("--stack-name", help="Stack name in the form.")] = "dataall-prod-installer",
    param: ParamOpt = None,
    json_mode: JsonOpt = False,
) -> None:
    """Print the quick-create URL of a published bootstrap template."""
    from installer.operations import quick_create_url

    _check_region(region, "--region")
    _check_stack_name(stack_name)
    if not template_url.startswith("https://"):
        _fail(f"--template-url {template_url!r}: the console reads the template from an https:// URL "
              "(S3's, as publish prints it)", field="--template-url")  # fmt: skip
    url = quick_create_url(region, template_url, stack_name, _params(param))
    if json_mode:
        sys.stdout.write(json.dumps({"status": "SUCCEEDED", "command": "link", "quick_create_url": url}) + "\n")
    else:
        typer.echo(url)


def _ledger(aws: Any, installation: Any) -> Any:
    from installer.operations import RunReader, bootstrap_outputs

    return RunReader(aws, installation, bootstrap_outputs(aws, installation)).ledger


def _finish(result: dict[str, Any], json_mode: bool, scale: float | None = None, *, command: str | None = None,
            embedded: bool = False, reported: bool = False) -> None:  # fmt: skip
    """Print the result (the summary line, or the JSON document; not again when `reported`) and exit
    with its status's code (0 only when the run SUCCEEDED or nothing needed doing; see installer.answers).

    `scale`: the embedded sandbox's time scale, to give the run's modelled time (wall / scale).
    """
    if not reported:
        _report(result, json_mode, scale, command=command, embedded=embedded)
    raise typer.Exit(exit_code(str(result["status"])))


def _report(result: dict[str, Any], json_mode: bool, scale: float | None = None, *, command: str | None = None,
            embedded: bool = False) -> None:  # fmt: skip
    duration = result.get("duration_s")
    if scale and duration is not None:
        result["modelled_s"] = round(duration / scale)
    result["command"] = command
    if json_mode:
        sys.stdout.write(json.dumps(result, default=str) + "\n")
    elif result["status"] == "NOTHING_TO_DO":
        typer.echo(f"{result['message']} · NOTHING_TO_DO")
    else:
        stages = result.get("stages", {})
        skipped = sum(1 for stage in stages.values() if stage.get("status") == "SKIPPED")
        parts = [
            f"{_count(len(stages) - skipped, 'stage')}"
            + (f" ({skipped} off with these options)" if skipped else "")
            + f", {_count(len(result.get('actions', {})), 'action')}",
            f"{result['transitions']} state transitions",
        ]
        if duration is not None:
            took = f"run {_minutes(duration)}"
            if "modelled_s" in result:
                took += f" ({_minutes(result['modelled_s'])} modelled at scale {scale:g}, Lambda time unscaled)"
            parts.append(took)
        typer.echo(f"{result['action']} {result['version']}: {result['status']} · " + " · ".join(parts))
        site = _site_line(result.get("site"), embedded=embedded)
        if site:
            typer.echo(site)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _minutes(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole // 60} min {whole % 60:02d} s" if whole >= 60 else f"{whole} s"


# ---------------------------------------------------------------------- status
@app.command()
@_answers
def status(
    sandbox: SandboxOpt = False,
    endpoint_url: EndpointOpt = None,
    region: RegionOpt = None,
    prefix: PrefixOpt = "dataall",
    env: EnvOpt = "prod",
    follow: Annotated[bool, typer.Option("--follow", help="Follow a running run until it ends.")] = False,
    json_mode: JsonOpt = False,
) -> None:
    """The latest run and every stage, from the ledger and Step Functions."""
    from installer.aws import connect
    from installer.operations import Installation, RunReader, bootstrap_outputs, result_document
    from installer.progress import Progress, render

    installation = Installation(prefix=prefix, env=env)
    with connect(sandbox=sandbox, endpoint_url=endpoint_url, region=region) as aws:
        reader = RunReader(aws, installation, bootstrap_outputs(aws, installation))
        execution_arn = reader.latest_execution()
        if execution_arn is None:
            _fail("no run has started in this installation yet", "NoRun")
        progress = Progress(json_mode=json_mode)
        if follow:
            view = _follow(progress, reader, str(execution_arn), aws, installation, embedded=sandbox)
        else:
            view = reader.view(str(execution_arn))
            progress.console.print(render(view))
        result = result_document(view, reader.transitions(str(execution_arn)))
        result["command"] = "status"
        result["database"] = reader.database()
        installed = reader.ledger.current_release()
        result["installed_version"] = installed.version if installed else None
        result["options"] = reader.options(installed)
        result["pivot_role"] = reader.pivot_role()
        result["site"] = _site(aws, reader.ledger)
    if json_mode:
        sys.stdout.write(json.dumps(result, default=str) + "\n")
    else:
        database = result["database"]
        typer.echo(
            f"installed release: {result['installed_version'] or 'none'} · database: revision "
            f"{database['revision']} (release head {database['head']})"
        )
        if result["pivot_role"]:
            typer.echo(f"pivot role: {result['pivot_role']['name']} ({len(result['pivot_role']['policies'])} policies)")
        for name, option in sorted(result["options"].items()):
            typer.echo(f"option {name} = {option['value']} ({option['source']})")
        site = _site_line(result["site"], embedded=sandbox)
        if site:
            typer.echo(site)


# ---------------------------------------------------------------------- run
@app.command()
@_answers
def run(
    action: Annotated[str, typer.Argument(help="install, upgrade, redeploy or uninstall")],
    version: Annotated[str | None, typer.Option("--version", help="Release version (upgrade, install).")] = None,
    option: Annotated[list[str] | None, typer.Option("--option", help="Installer option KEY=VALUE.")] = None,
    sandbox: SandboxOpt = False,
    endpoint_url: EndpointOpt = None,
    region: RegionOpt = None,
    prefix: PrefixOpt = "dataall",
    env: EnvOpt = "prod",
    json_mode: JsonOpt = False,
    fault: FaultOpt = None,
    allow_replacement: AllowOpt = None,
) -> None:
    """Start a run by hand (as from the console) and follow it."""
    from installer.aws import connect
    from installer.operations import Installation, RunReader, bootstrap_outputs, result_document, start
    from installer.progress import Progress

    if action not in RUN_ACTIONS:
        _fail(f"unknown action {action!r}: one of {', '.join(RUN_ACTIONS)}", "InvalidAction", field="ACTION")
    _check_flags(sandbox=sandbox, endpoint_url=endpoint_url, fault=fault, param=None, region=region)
    document: dict[str, Any] = {"action": action, "source": "cli"}
    if version:
        document["version"] = version
    if option:
        document["options"] = _params(option, "--option")
    if allow_replacement:
        document["allow_replacement"] = list(allow_replacement)
    installation = Installation(prefix=prefix, env=env)
    with connect(sandbox=sandbox, endpoint_url=endpoint_url, region=region, faults=fault) as aws:
        outputs = bootstrap_outputs(aws, installation)
        execution_arn = start(aws, outputs, document)
        reader = RunReader(aws, installation, outputs)
        view = _follow(Progress(json_mode=json_mode), reader, execution_arn, aws, installation, embedded=sandbox)
        result = result_document(view, reader.transitions(execution_arn))
    _finish(result, json_mode, command="run")


RUN_ACTIONS = ("install", "upgrade", "redeploy", "uninstall")


def _answer(run_name: str, approve: bool, reason: str, sandbox: bool, endpoint_url: str | None, region: str | None,
            prefix: str, env: str, json_mode: bool) -> None:  # fmt: skip
    from installer.aws import connect
    from installer.operations import (
        Installation,
        OperationError,
        RunReader,
        answer_approval,
        bootstrap_outputs,
        result_document,
    )
    from installer.progress import Progress

    installation = Installation(prefix=prefix, env=env)
    try:
        with connect(sandbox=sandbox, endpoint_url=endpoint_url, region=region) as aws:
            outputs = bootstrap_outputs(aws, installation)
            reader = RunReader(aws, installation, outputs)
            execution_arn = answer_approval(reader, run_name, approve=approve, reason=reason)
            view = Progress(json_mode=json_mode).follow(reader, execution_arn)
            result = result_document(view, reader.transitions(execution_arn))
    except OperationError as error:
        _fail(str(error), error.code, field=error.field)
    _finish(result, json_mode, command="approve" if approve else "reject")


RunArg = Annotated[str, typer.Argument(help="The run (its execution name or ARN) waiting for approval.")]


@app.command()
@_answers
def approve(
    run_name: RunArg,
    sandbox: SandboxOpt = False,
    endpoint_url: EndpointOpt = None,
    region: RegionOpt = None,
    prefix: PrefixOpt = "dataall",
    env: EnvOpt = "prod",
    json_mode: JsonOpt = False,
) -> None:
    """Approve a run waiting after its plan (RequireApproval), then follow it."""
    _answer(run_name, True, "", sandbox, endpoint_url, region, prefix, env, json_mode)


@app.command()
@_answers
def reject(
    run_name: RunArg,
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the run's report).")] = "",
    sandbox: SandboxOpt = False,
    endpoint_url: EndpointOpt = None,
    region: RegionOpt = None,
    prefix: PrefixOpt = "dataall",
    env: EnvOpt = "prod",
    json_mode: JsonOpt = False,
) -> None:
    """Reject a run waiting after its plan: it ends REFUSED with nothing changed."""
    _answer(run_name, False, reason, sandbox, endpoint_url, region, prefix, env, json_mode)


# ---------------------------------------------------------------------- sandbox
def _serve_flags(image: list[str] | None, fault: list[str] | None, scale: float, port: int) -> list[Any]:
    """`sandbox serve`'s flags checked before it starts; the images to hold."""
    from sandbox.faults import FaultSpecError, parse_fault
    from sandbox.images import ImageError, parse_image_option

    try:
        images = [parse_image_option(option) for option in image or []]
    except ImageError as error:
        _fail(str(error), field="--image")
    for spec in fault or []:
        try:
            parse_fault(spec)
        except FaultSpecError as error:
            _fail(str(error), "InvalidFault", field="--fault")
    if not (math.isfinite(scale) and scale > 0):
        _fail(f"--scale {scale}: wall seconds per modelled second must be a positive number", field="--scale")
    if not 0 <= port <= 65535:
        _fail(f"--port {port} is not a TCP port (0-65535)", field="--port")
    return images


@sandbox_app.command("serve")
@_answers
def sandbox_serve(
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 4566,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    scale: ScaleOpt = 0.01,
    fault: FaultOpt = None,
    no_latency: Annotated[bool, typer.Option("--no-latency", help="No modelled CloudFormation delays.")] = False,
    image: Annotated[
        list[str] | None,
        typer.Option("--image", help="URI=PATH: hold the image root PATH as the container image URI (repeatable)."),
    ] = None,
    json_mode: JsonOpt = False,
) -> None:
    """Run a local AWS endpoint until stopped (Ctrl-C, SIGINT or SIGTERM, in the foreground or in
    the background): it stops with every process it started. Its flags and its environment
    (DATAALL_SANDBOX_WARM_*) are checked before it starts."""
    from installer.aws import quiet_sandbox_logs
    from sandbox import processes
    from sandbox.images import ImageError
    from sandbox.server import Sandbox

    quiet_sandbox_logs()
    images = _serve_flags(image, fault, scale, port)
    warm_workers = processes.WarmLimits.from_environment()
    # Whatever leaves its parent under the sandbox (pg_ctl's server, a handler's daemon) stays in
    # this process's tree, to be ended with it.
    processes.become_subreaper()
    with processes.stop_signals():  # a background job starts with SIGINT ignored: handle it anyway
        box = Sandbox(host=host, port=port, scale=scale, latency=not no_latency, warm_workers=warm_workers)
        try:
            box.start()
            for spec in fault or []:
                box.faults.add(spec)
            for uri, root in images:
                try:
                    registered = box.register_image(uri, root)
                except ImageError as error:
                    _fail(str(error))
                typer.echo(f"image {uri} ({registered.digest[:19]}…) from {registered.root}")
            typer.echo(f"sandbox listening on {box.endpoint} (time scale {scale}); Ctrl-C stops it", err=json_mode)
            typer.echo(
                f"  export AWS_ENDPOINT_URL={box.endpoint} AWS_ACCESS_KEY_ID=sandbox AWS_SECRET_ACCESS_KEY=sandbox",
                err=json_mode,
            )
            if json_mode:  # a script that started it in the background reads the endpoint from this line
                _json_line({"status": "RUNNING", "command": "sandbox serve", "endpoint": box.endpoint, "scale": scale})
            while True:
                signal.pause()
        except KeyboardInterrupt as stop:
            stopped_by = getattr(stop, "signal_name", "SIGINT")
            typer.echo(f"stopping the sandbox ({stopped_by})", err=json_mode)
        finally:
            with processes.signals_held():
                box.stop()
                processes.end_descendants()
        if json_mode:  # the last line, as every command's: what ended it
            _json_line(
                {"status": "STOPPED", "command": "sandbox serve", "endpoint": box.endpoint, "signal": stopped_by}
            )


@sandbox_app.command("conformance")
@_answers
def sandbox_conformance(
    assembly: Annotated[Path, typer.Option("--assembly", help="A CDK cloud assembly (cdk.out) to deploy.")],
    stack: Annotated[
        list[str] | None,
        typer.Option("--stack", help="GLOB: deploy only the stacks whose name matches (repeatable; default: all)."),
    ] = None,
    update_from: Annotated[
        Path | None,
        typer.Option("--update-from", help="Deploy this assembly first, then --assembly as an update."),
    ] = None,
    delete: Annotated[bool, typer.Option("--delete", help="Delete the stacks afterwards; name what is left.")] = False,
    no_rollback: Annotated[
        bool, typer.Option("--no-rollback", help="As cdk deploy --no-rollback: a failed create keeps what it made.")
    ] = False,
    source: Annotated[
        Path | None,
        typer.Option(
            "--source",
            help="data.all's source tree, to build its Lambda image from (default: the source/ beside each assembly).",
        ),
    ] = None,
    scale: ScaleOpt = 0.002,
    json_mode: JsonOpt = False,
) -> None:
    """Deploy a CDK cloud assembly into a fresh embedded sandbox as `cdk deploy` would, and report
    per stack its status, its resources (nested stacks' included) and every failure."""
    from installer.aws import quiet_sandbox_logs
    from sandbox import conformance
    from sandbox.server import Sandbox

    quiet_sandbox_logs()
    box = Sandbox(scale=scale)
    box.start()
    try:
        report = conformance.run(
            box,
            assembly,
            list(stack or []),
            update_from=update_from,
            delete=delete,
            rollback=not no_rollback,
            log=typer.echo,
            source=source,
        )
    except conformance.AssemblyError as error:
        _fail(str(error))
    finally:
        box.stop()
    summary = report.summary()
    for failure in summary["failures"]:
        first_line = failure["reason"].splitlines()[0]
        typer.echo(f"  failed: {failure['stack']}/{failure['logical_id']} ({failure['type']}): {first_line}")
    for left in summary.get("left", []):
        typer.echo(f"  left: {left}")
    for kept in summary.get("retained", []):
        typer.echo(f"  retained (DeletionPolicy): {kept}")
    typer.echo(
        f"{summary['stacks_complete']}/{summary['stacks']} stacks complete, "
        f"{summary['resources_complete']}/{summary['resources']} resources, {summary['seconds']} s"
    )
    complete = summary["stacks_complete"] == summary["stacks"] and not summary.get("left")
    if json_mode:
        typer.echo(
            json.dumps({"status": "SUCCEEDED" if complete else "FAILED", "command": "sandbox conformance", **summary})
        )
    if not complete:
        raise typer.Exit(exit_code("FAILED"))


@app.command()
def version(json_mode: JsonOpt = False) -> None:
    """The installer's own version."""
    if json_mode:
        typer.echo(json.dumps({"status": "SUCCEEDED", "command": "version", "version": __version__}))
    else:
        typer.echo(__version__)


@app.callback()
def _global_options(
    debug: Annotated[bool, typer.Option("--debug", help="Show the traceback of any error.")] = False,
) -> None:
    if debug:
        os.environ[DEBUG_ENV] = "1"


def main() -> None:
    """The console script: every answer in one shape, a usage error included (exit 2, and the
    JSON line when --json was given).

    Typer 0.29 parses with a click of its own (`typer._click`): its usage errors are
    `typer.TyperException`s, not `click.ClickException`s, and its Ctrl-C at a prompt `typer.Abort`."""
    import click

    argv = sys.argv[1:]
    try:
        code = app(standalone_mode=False)
    except (typer.Abort, click.Abort):
        code = exit_code("INTERRUPTED")
    except (typer.TyperException, click.ClickException) as error:
        param = getattr(error, "param", None)
        field = (param.opts[0] if param.opts else param.name) if param is not None else None
        field = field or getattr(error, "option_name", None)  # an option given a value it does not take
        words = [arg for arg in argv if not arg.startswith("-")]
        command = " ".join(words[:2]) if words[:1] == ["sandbox"] else next(iter(words), None)
        message = error.format_message() if hasattr(error, "format_message") else str(error)
        problem = Problem("UsageError", message, field=field)
        code = emit(problem, json_mode="--json" in argv, command=command)
    sys.exit(code or 0)


if __name__ == "__main__":
    main()

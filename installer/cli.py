"""`dataall-installer`: build, deploy and watch the installer, against AWS or a local sandbox."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from installer import __version__

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


def _fail(message: str, code: int = 2) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def _params(pairs: list[str] | None) -> dict[str, str]:
    result = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            _fail(f"--param {pair!r} is not KEY=VALUE")
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
SyntheticOpt = Annotated[
    bool,
    typer.Option(
        "--synthetic",
        help="The project's small synthetic release (its own re-creation of data.all's stacks, a test fixture) "
        "instead of data.all.",
    ),
]


def _build(out: Path, version: str | None, upstream: Path | None, synthetic: bool, *, quiet: bool) -> Any:
    """Build a release: data.all from its upstream (the default), or the synthetic test fixture."""
    from installer.build import BuildError, build_release

    if synthetic and upstream is not None:
        _fail("--synthetic and --upstream name two different releases: give one")
    try:
        if synthetic:
            if not quiet:
                typer.echo("building the synthetic release (CDK synthesis, cdk-nag) ...")
            return build_release(out, version)
        from installer.dataall import build_dataall_release
        from installer.upstream import UpstreamError, resolve

        try:
            source = resolve(upstream, version)
        except UpstreamError as error:
            _fail(str(error))
        if not quiet:
            typer.echo(f"building data.all {source.version} from {source.origin} ...")
        return build_dataall_release(out, source)
    except BuildError as error:
        _fail(str(error))


def _release(path: Path | None, *, json_mode: bool, upstream: Path | None = None, synthetic: bool = False) -> Any:
    """The release folder given, else one built (data.all by default)."""
    from installer.build import BuildError, Release

    if path is not None:
        if upstream is not None or synthetic:
            _fail("--release names a built release: give it alone, without --upstream or --synthetic")
        try:
            return Release.load(path)
        except BuildError as error:
            _fail(str(error))
    return _build(DEFAULT_OUT, None, upstream, synthetic, quiet=json_mode)


# ---------------------------------------------------------------------- build
@app.command()
def build(
    out: Annotated[Path, typer.Option("--out", help="Folder that receives release/<version>/.")] = DEFAULT_OUT,
    version: Annotated[str | None, typer.Option("--version", help="Release version (default: the source's).")] = None,
    upstream: UpstreamOpt = None,
    synthetic: SyntheticOpt = False,
) -> None:
    """Build a release folder: data.all's own stacks from its source or cloud assembly (the default), as
    stage blueprints, assets and the bootstrap stack."""
    started = time.monotonic()
    release = _build(out, version, upstream, synthetic, quiet=False)
    stages = [s.name for s in release.manifest.stages()]
    typer.echo(
        f"release {release.version} -> {release.path} ({len(release.manifest.files)} files, "
        f"{len(stages)} stages) in {time.monotonic() - started:.1f} s"
    )


# ---------------------------------------------------------------------- deploy
BucketPrefixOpt = Annotated[str, typer.Option("--bucket-prefix", help="Release bucket: <prefix>-<region>.")]
ParamOpt = Annotated[list[str] | None, typer.Option("--param", help="Bootstrap parameter KEY=VALUE (repeatable).")]
DatabaseOpt = Annotated[
    str | None, typer.Option("--database-url", help="Sandbox only: a PostgreSQL URL for the metadata database.")
]


def _deploy_release(aws: Any, release: Any, installation: Any, params: dict[str, str], bucket_prefix: str,
                    progress: Any, *, sandbox: bool = False) -> dict[str, Any]:  # fmt: skip
    """Publish, create or update the bootstrap stack, follow the run it starts; the run's result.

    `sandbox`: the embedded sandbox. A sandbox (embedded, or `sandbox serve` at the endpoint) is given
    an image root for each image the release names.
    """
    from installer.images import is_sandbox
    from installer.operations import RunReader, bootstrap_parameters, deploy_bootstrap, publish, result_document

    if sandbox or is_sandbox(aws.endpoint_url):
        _sandbox_images(aws, release, progress)
    parameters = bootstrap_parameters(release, installation, bucket_prefix, params)
    where = aws.endpoint_url or f"AWS {aws.region}"
    progress.note(f"release {release.version} -> {where}")
    bucket = publish(aws, release, bucket_prefix)
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
        progress.note("nothing the installer uses changed: no run started; the latest run:")
        execution_arn = reader.latest_execution()
        if execution_arn is None:
            _fail("no run has ever started in this installation")
    view = progress.follow(reader, str(execution_arn))
    return result_document(view, reader.transitions(str(execution_arn)))


def _sandbox_images(aws: Any, release: Any, progress: Any) -> None:
    from installer.images import register_sandbox_images

    try:
        register_sandbox_images(aws, release, progress.note)
    except (FileNotFoundError, RuntimeError) as error:
        _fail(str(error))


@app.command()
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
    synthetic: SyntheticOpt = False,
    param: ParamOpt = None,
    bucket_prefix: BucketPrefixOpt = "dataall-installer-releases",
    json_mode: JsonOpt = False,
    fault: FaultOpt = None,
    scale: ScaleOpt = 0.01,
    database_url: DatabaseOpt = None,
) -> None:
    """Create or update the bootstrap stack from a release, then follow the run it starts."""
    from installer.aws import connect
    from installer.operations import Installation, OperationError
    from installer.progress import Progress

    release = _release(release_dir, json_mode=json_mode, upstream=upstream, synthetic=synthetic)
    progress = Progress(json_mode=json_mode)
    try:
        with connect(sandbox=sandbox, endpoint_url=endpoint_url, region=region, scale=scale,
                     faults=fault, database_url=database_url) as aws:  # fmt: skip
            result = _deploy_release(aws, release, Installation(prefix, env), _params(param), bucket_prefix, progress,
                                     sandbox=sandbox)  # fmt: skip
    except (OperationError, ValueError) as error:
        _fail(str(error))
    _finish(result, json_mode, scale if sandbox else None)


@app.command()
def upgrade(
    release_dir: Annotated[
        Path | None, typer.Option("--release", help="The release folder to upgrade to (default: build data.all).")
    ] = None,
    from_dir: Annotated[
        Path | None,
        typer.Option(
            "--from",
            help="With --sandbox: install this release folder first (default: data.all's release before the "
            "target's, or with --synthetic the same source).",
        ),
    ] = None,
    upstream: UpstreamOpt = None,
    synthetic: SyntheticOpt = False,
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
) -> None:
    """Upgrade an installation to a release (the bootstrap stack's ReleaseVersion changes).

    With --sandbox the embedded sandbox is empty, so the previous release is installed first.
    Faults are armed for the upgrade only.
    """
    from installer.aws import add_faults, connect
    from installer.operations import Installation, OperationError, bootstrap_outputs
    from installer.progress import Progress

    target = _release(release_dir, json_mode=json_mode, upstream=upstream, synthetic=synthetic)
    progress = Progress(json_mode=json_mode)
    installation = Installation(prefix, env)
    try:
        with connect(sandbox=sandbox, endpoint_url=endpoint_url, region=region, scale=scale) as aws:
            if sandbox:
                previous = _previous(from_dir, target, synthetic, json_mode=json_mode)
                first = _deploy_release(aws, previous, installation, _params(param), bucket_prefix, progress,
                                        sandbox=True)  # fmt: skip
                if first["status"] != "SUCCEEDED":
                    _fail(f"the first install failed: {first['error']}")
            else:
                bootstrap_outputs(aws, installation)  # an upgrade needs an installation
            if fault:
                add_faults(str(aws.endpoint_url), fault)
            result = _deploy_release(aws, target, installation, _params(param), bucket_prefix, progress,
                                     sandbox=sandbox)  # fmt: skip
    except (OperationError, ValueError) as error:
        _fail(str(error))
    _finish(result, json_mode, scale if sandbox else None)


AllowOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--allow-replacement",
        help="STAGE/LogicalId: a resource holding data the run may replace or remove (repeatable; "
        "the data-loss guard refuses any other).",
    ),
]


@app.command()
def plan(
    release_dir: Annotated[
        Path | None, typer.Option("--release", help="The release folder to preview (default: build data.all).")
    ] = None,
    from_dir: Annotated[
        Path | None,
        typer.Option("--from", help="With --sandbox: install this release folder first (as upgrade does)."),
    ] = None,
    upstream: UpstreamOpt = None,
    synthetic: SyntheticOpt = False,
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
    guard would refuse the run."""
    from installer.aws import connect
    from installer.operations import Installation, OperationError, bootstrap_outputs, plan_run, publish
    from installer.preview_view import render
    from installer.progress import Progress
    from lambdas.core.errors import InvalidInput

    target = _release(release_dir, json_mode=json_mode, upstream=upstream, synthetic=synthetic)
    installation = Installation(prefix, env)
    progress = Progress(json_mode=json_mode)
    document: dict[str, Any] = {"action": "upgrade", "version": target.version, "source": "cli"}
    if option:
        document["options"] = _params(option)
    if allow_replacement:
        document["allow_replacement"] = list(allow_replacement)
    try:
        with connect(sandbox=sandbox, endpoint_url=endpoint_url, region=region, scale=scale) as aws:
            if sandbox:
                previous = _previous(from_dir, target, synthetic, json_mode=json_mode)
                first = _deploy_release(aws, previous, installation, _params(param), bucket_prefix, progress,
                                        sandbox=True)  # fmt: skip
                if first["status"] != "SUCCEEDED":
                    _fail(f"the first install failed: {first['error']}")
            outputs = bootstrap_outputs(aws, installation)
            publish(aws, target, bucket_prefix)
            preview = plan_run(aws, outputs, document)
    except (OperationError, InvalidInput, ValueError) as error:
        _fail(str(error))
    if json_mode:
        sys.stdout.write(json.dumps(preview, default=str) + "\n")
    else:
        typer.echo(render(preview))
    raise typer.Exit(3 if preview["refused"] else 0)


def _previous(from_dir: Path | None, target: Any, synthetic: bool, *, json_mode: bool) -> Any:
    """The release an upgrade in the empty embedded sandbox starts from."""
    if from_dir is not None or synthetic:
        return _release(from_dir, json_mode=json_mode, synthetic=synthetic and from_dir is None)
    from installer.upstream import TAGS

    versions = [tag.version for tag in TAGS]
    if target.version not in versions or versions.index(target.version) == 0:
        _fail(f"no data.all release before {target.version} is known: name the first one with --from")
    return _build(Path("dist/previous"), versions[versions.index(target.version) - 1], None, False, quiet=json_mode)


@app.command()
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
        OperationError,
        RunReader,
        bootstrap_outputs,
        delete_bootstrap,
        result_document,
        start,
    )
    from installer.progress import Progress

    installation = Installation(prefix, env)
    progress = Progress(json_mode=json_mode)
    try:
        with connect(sandbox=sandbox, endpoint_url=endpoint_url, region=region) as aws:
            outputs = bootstrap_outputs(aws, installation)
            execution_arn = start(aws, outputs, {"action": "uninstall", "source": "cli", "retain_data": retain_data})
            reader = RunReader(aws, installation, outputs)
            view = progress.follow(reader, execution_arn)
            result = result_document(view, reader.transitions(execution_arn))
            if result["status"] == "SUCCEEDED":
                delete_bootstrap(aws, installation, lambda status: progress.note(f"bootstrap stack: {status}"))
    except OperationError as error:
        _fail(str(error))
    _finish(result, json_mode)


# ---------------------------------------------------------------------- quick-create
@app.command()
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
) -> None:
    """Upload a release to <bucket-prefix>-<region> buckets and print one quick-create URL per region."""
    from installer.aws import Aws
    from installer.operations import make_public, public_template_url, quick_create_url
    from installer.operations import publish as upload

    release = _release(release_dir, json_mode=False)
    params = {"ReleaseBucketPrefix": bucket_prefix, **_params(param)}
    for region in [r.strip() for r in regions.split(",") if r.strip()]:
        aws = Aws(region=region, endpoint_url=endpoint_url)
        bucket = upload(aws, release, bucket_prefix)
        if public:
            make_public(aws, bucket)
        url = public_template_url(bucket, region, release.version)
        typer.echo(f"{region}: {quick_create_url(region, url, stack_name, params)}")


@app.command()
def link(
    template_url: Annotated[str, typer.Option("--template-url", help="S3 URL of bootstrap.template.json.")],
    region: Annotated[str, typer.Option("--region", help="Region of the console form.")],
    stack_name: Annotated[str, typer.Option("--stack-name", help="Stack name in the form.")] = "dataall-prod-installer",
    param: ParamOpt = None,
) -> None:
    """Print the quick-create URL of a published bootstrap template."""
    from installer.operations import quick_create_url

    typer.echo(quick_create_url(region, template_url, stack_name, _params(param)))


def _finish(result: dict[str, Any], json_mode: bool, scale: float | None = None) -> None:
    """Print the result (the summary line, or the JSON document) and exit 0 only on success.

    `scale`: the embedded sandbox's time scale, to give the run's modelled time (wall / scale).
    """
    duration = result.get("duration_s")
    if scale and duration is not None:
        result["modelled_s"] = round(duration / scale)
    if json_mode:
        sys.stdout.write(json.dumps(result, default=str) + "\n")
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
    raise typer.Exit(0 if result["status"] == "SUCCEEDED" else 1)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _minutes(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole // 60} min {whole % 60:02d} s" if whole >= 60 else f"{whole} s"


# ---------------------------------------------------------------------- status
@app.command()
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
    from installer.operations import Installation, OperationError, RunReader, bootstrap_outputs, result_document
    from installer.progress import Progress, render

    installation = Installation(prefix=prefix, env=env)
    try:
        with connect(sandbox=sandbox, endpoint_url=endpoint_url, region=region) as aws:
            reader = RunReader(aws, installation, bootstrap_outputs(aws, installation))
            execution_arn = reader.latest_execution()
            if execution_arn is None:
                _fail("no run has started in this installation yet")
            progress = Progress(json_mode=json_mode)
            if follow:
                view = progress.follow(reader, str(execution_arn))
            else:
                view = reader.view(str(execution_arn))
                progress.console.print(render(view))
            result = result_document(view, reader.transitions(str(execution_arn)))
            result["database"] = reader.database()
            installed = reader.ledger.current_release()
            result["installed_version"] = installed.version if installed else None
            result["pivot_role"] = reader.pivot_role()
    except OperationError as error:
        _fail(str(error))
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


# ---------------------------------------------------------------------- run
@app.command()
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
    from installer.operations import Installation, OperationError, RunReader, bootstrap_outputs, result_document, start
    from installer.progress import Progress
    from lambdas.core.errors import InvalidInput

    document: dict[str, Any] = {"action": action, "source": "cli"}
    if version:
        document["version"] = version
    if option:
        document["options"] = _params(option)
    if allow_replacement:
        document["allow_replacement"] = list(allow_replacement)
    installation = Installation(prefix=prefix, env=env)
    try:
        with connect(sandbox=sandbox, endpoint_url=endpoint_url, region=region, faults=fault) as aws:
            outputs = bootstrap_outputs(aws, installation)
            execution_arn = start(aws, outputs, document)
            reader = RunReader(aws, installation, outputs)
            view = Progress(json_mode=json_mode).follow(reader, execution_arn)
            result = result_document(view, reader.transitions(execution_arn))
    except (OperationError, InvalidInput, ValueError) as error:
        _fail(str(error))
    _finish(result, json_mode)


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
        _fail(str(error))
    _finish(result, json_mode)


RunArg = Annotated[str, typer.Argument(help="The run (its execution name or ARN) waiting for approval.")]


@app.command()
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
@sandbox_app.command("serve")
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
) -> None:
    """Run a local AWS endpoint in the foreground until stopped (Ctrl-C)."""
    from installer.aws import quiet_sandbox_logs
    from sandbox.images import ImageError, parse_image_option
    from sandbox.server import Sandbox

    quiet_sandbox_logs()
    try:
        images = [parse_image_option(option) for option in image or []]
    except ImageError as error:
        _fail(str(error))
    box = Sandbox(host=host, port=port, scale=scale, latency=not no_latency)
    box.start()
    for spec in fault or []:
        box.faults.add(spec)
    for uri, root in images:
        try:
            registered = box.register_image(uri, root)
        except ImageError as error:
            box.stop()
            _fail(str(error))
        typer.echo(f"image {uri} ({registered.digest[:19]}…) from {registered.root}")
    typer.echo(f"sandbox listening on {box.endpoint} (time scale {scale}); Ctrl-C stops it")
    typer.echo(f"  export AWS_ENDPOINT_URL={box.endpoint} AWS_ACCESS_KEY_ID=sandbox AWS_SECRET_ACCESS_KEY=sandbox")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        typer.echo("stopping the sandbox")
    finally:
        box.stop()


@sandbox_app.command("conformance")
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
    if json_mode:
        typer.echo(json.dumps(summary))
    if summary["stacks_complete"] != summary["stacks"] or summary.get("left"):
        raise typer.Exit(1)


@app.command()
def version() -> None:
    """The installer's own version."""
    typer.echo(__version__)


def main() -> None:
    app()


if __name__ == "__main__":
    main()

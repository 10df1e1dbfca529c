"""data.all's CDK app (`deploy/app.py`), run offline: the `--app` of `installer.upstream.synthesize`.

Runs in data.all's own toolchain venv, from the root of a data.all source tree; imports nothing
of the installer. data.all's custom authorizer asks the Klayers API for the newest
`cryptography` layer at synthesis time (`cdk_klayers.Klayers.get_latest_layer_arns`): offline
that call fails, and online its answer changes from day to day. Here it answers one pinned
layer version instead (`KLAYERS_CRYPTOGRAPHY_LAYER_VERSION`, default 1), in the API's shape.
The import makes the layer's region the installation's.
"""

import os
import runpy
import sys
from pathlib import Path

#: The account that publishes the Klayers layers.
KLAYERS_ACCOUNT = "770693421928"


def _pinned_layer_arns(_self, region, python_version):
    prefix = python_version.to_string().replace("python", "p").replace(".", "")
    version = os.environ.get("KLAYERS_CRYPTOGRAPHY_LAYER_VERSION", "1")
    arn = f"arn:aws:lambda:{region}:{KLAYERS_ACCOUNT}:layer:Klayers-{prefix}-cryptography:{version}"
    return {"cryptography": {"arn": arn, "packageVersion": "pinned"}}


def main() -> None:
    app = Path("deploy") / "app.py"
    if not app.is_file():
        sys.exit(f"dataall_offline.py: no {app} under {Path.cwd()}: run it from a data.all source tree")
    try:
        from cdk_klayers import klayers
    except ImportError:  # a release without the Klayers lookup needs no pin
        pass
    else:
        klayers.Klayers.get_latest_layer_arns = _pinned_layer_arns
    sys.path.insert(0, str(Path("deploy").resolve()))
    sys.argv = [str(app)]
    runpy.run_path(str(app), run_name="__main__")


if __name__ == "__main__":
    main()

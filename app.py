"""The CDK app (`cdk.json`): `cdk synth` / `python app.py` synthesizes the bootstrap stack alone
into cdk.out/, for data.all's latest pinned release (`installer.upstream.LATEST`, the
`ReleaseVersion` parameter's default).

It is the stack's release-independent shape, with none of a release's own parts: no installer
options, no grants for the release's migration function and cluster, its stage regions or its
images. Those come from data.all's release itself, imported from its cloud assembly: reading them
here would make every `cdk synth` import data.all (from a checkout or a clone of its tag, a
network fetch on a fresh machine) and build its migration package, and inventing them here would
be a second copy that drifts. The bootstrap stack an operator creates (the quick-create template,
`dataall-installer deploy`) is the release's own `bootstrap.template.json`, which
`dataall-installer build` synthesizes with all of them (`installer.dataall`).
"""

from __future__ import annotations

import aws_cdk as cdk

from blueprints.assets import CDK_CONTEXT, LAMBDAS_DIR, AssetRegistry, build_layer, layer_requirements
from blueprints.common import BuildContext
from bootstrap_stack import BootstrapStack
from installer.upstream import LATEST


def main() -> None:
    assets = AssetRegistry()
    layer = assets.add("layer", build_layer(list(layer_requirements())))
    app = cdk.App(analytics_reporting=False, context=CDK_CONTEXT)
    BootstrapStack(
        app,
        "bootstrap",
        context=BuildContext(assets=assets, layer=layer),
        version=LATEST,
        installer_code=assets.add_tree("installer-lambdas", [(LAMBDAS_DIR, "lambdas")]),
        options={},
    )
    app.synth()


if __name__ == "__main__":
    main()

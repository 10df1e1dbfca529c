"""The CDK app (`cdk.json`): `cdk synth` / `python app.py` synthesizes the bootstrap stack alone
into cdk.out/. A release (`dataall-installer build`) synthesizes it with the blueprints instead.
"""

from __future__ import annotations

import aws_cdk as cdk

from blueprints import release
from blueprints.assets import CDK_CONTEXT, LAMBDAS_DIR, AssetRegistry, build_layer, layer_requirements
from blueprints.common import BuildContext
from bootstrap_stack import BootstrapStack


def main() -> None:
    assets = AssetRegistry()
    layer = assets.add("layer", build_layer(list(layer_requirements())))
    app = cdk.App(analytics_reporting=False, context=CDK_CONTEXT)
    BootstrapStack(
        app,
        "bootstrap",
        context=BuildContext(assets=assets, layer=layer),
        version=release.VERSION,
        installer_code=assets.add_tree("installer-lambdas", [(LAMBDAS_DIR, "lambdas")]),
        options=release.OPTIONS,
    )
    app.synth()


if __name__ == "__main__":
    main()

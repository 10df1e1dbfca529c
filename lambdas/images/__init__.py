"""The `images` action: the release's container images in the installation's own registry."""

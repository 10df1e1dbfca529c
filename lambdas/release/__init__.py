"""The release model shared by the build and the workflow: the manifest, its schemas, its graph."""

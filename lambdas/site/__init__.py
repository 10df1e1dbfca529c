"""data.all's web UI: the release's bundle configured with an installation's values."""

"""data.all's own migrations, driven by the installer's `migrate` step (see `handler`)."""

"""What every step shares: settings, the messages the state machine passes, errors,
observability, the dependencies a step is built with, and the custom-resource reply."""

"""The platform's API: a health query over the metadata database."""

"""The platform's metadata database migrations and the function that runs them.

The function lives in the aurora stage, inside the VPC next to the cluster; the
installer's `migrate` step invokes it (`handler.handler`) with one command at a time.
"""

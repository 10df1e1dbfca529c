"""The installer's migration protocol: what its `migrate` step sends a migration function
(`protocol`) and the failures a function answers with (`errors`). data.all's migration function
(`dataall_installer_migrate`, beside this package) ships both in its package
(`installer/dataall_migrations.py`); so does the test fixture's synthetic migration function.
"""

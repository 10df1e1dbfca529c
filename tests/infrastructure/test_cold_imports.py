"""What a cold start of the installer's Lambdas imports (`lambdas/`), each case in a fresh
interpreter (here, not in tests/unit: the unit tier starts no process).

- jsonschema (~0.1 s of CPU) only once a document is validated: a handler that never reads a
  manifest or a run input does not import it; one that does still refuses a bad document.
- tracing on (in Lambda): the X-Ray recorder patches botocore, and no Lambda imports another
  library the X-Ray SDK would trace (so patching botocore alone loses no traced call);
  tracing off: no X-Ray recorder at all.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
HANDLERS = sorted(p.stem for p in (ROOT / "lambdas" / "handlers").glob("*.py") if p.stem != "__init__")
#: the handlers that never parse a manifest or a run input at import
NOT_VALIDATING = ["await_stack", "check_drift", "finalize", "request_approval", "stack_changed", "trigger", "wait_turn"]


def cold(code: str, tracing: bool, tmp_path: Path) -> Any:
    """What `code` prints (JSON), run in a fresh interpreter with the Lambda runtime's variables
    (tracing on) or none of them (tracing off, as Powertools has it outside Lambda)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LAMBDA_", "POWERTOOLS_"))}
    environment.update(AWS_REGION="us-east-1", AWS_DEFAULT_REGION="us-east-1", POWERTOOLS_SERVICE_NAME="test")
    if tracing:
        environment.update(LAMBDA_TASK_ROOT=str(tmp_path), AWS_LAMBDA_FUNCTION_NAME="test")
    done = subprocess.run(
        [sys.executable, "-c", code], check=False, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("tracing", [False, True], ids=["tracing-off", "tracing-on"])
def test_a_handler_that_validates_nothing_does_not_import_jsonschema(tracing: bool, tmp_path: Path) -> None:
    imports = "; ".join(f"import lambdas.handlers.{name}" for name in NOT_VALIDATING)
    seen = cold(f"import sys, json; {imports}; print(json.dumps('jsonschema' in sys.modules))", tracing, tmp_path)
    assert seen is False


def test_a_cold_process_still_refuses_a_bad_manifest_and_a_bad_run_input(tmp_path: Path) -> None:
    code = """
import json, sys
from lambdas.core.errors import InvalidInput
from lambdas.release.manifest import Manifest, ManifestError
from lambdas.run.run_input import check_run_input
found = []
try:
    Manifest.from_document({"format": 1, "name": "dataall", "version": "2.8.0", "options": {}, "rules": [],
                            "stages": [], "actions": [], "files": {}, "surprise": 1})
except ManifestError as error:
    found.append(str(error))
try:
    check_run_input({"version": "2.8.0\\n"})
except InvalidInput as error:
    found.append(str(error))
print(json.dumps(found))
"""
    manifest, run_input = cold(code, tracing=False, tmp_path=tmp_path)
    assert "manifest does not match its schema" in manifest and "unknown field ('surprise'" in manifest
    assert "version" in run_input and "does not match" in run_input


def test_tracing_on_patches_botocore_and_no_lambda_imports_another_traced_library(tmp_path: Path) -> None:
    imports = "; ".join(f"import lambdas.handlers.{name}" for name in HANDLERS)
    code = f"""
import json, sys
{imports}
from aws_xray_sdk.core import patcher
from lambdas.core.observability import tracer
import botocore.client
others = sorted(m for m in ("aiobotocore", "pynamodb", "requests", "sqlite3", "mysql", "pymongo", "pymysql",
                            "psycopg2", "psycopg", "pg8000", "sqlalchemy", "httpx") if m in sys.modules)
wrapper = getattr(vars(botocore.client.BaseClient)["_make_api_call"], "_self_wrapper", None)
print(json.dumps([tracer.disabled, type(tracer.provider).__name__, sorted(patcher._PATCHED_MODULES),
                  wrapper.__module__, others]))
"""
    disabled, provider, patched, wrapped, others = cold(code, tracing=True, tmp_path=tmp_path)
    assert (disabled, provider, patched, wrapped) == (
        False,
        "AsyncAWSXRayRecorder",
        ["botocore"],
        "aws_xray_sdk.ext.botocore.patch",  # every AWS call goes through X-Ray's wrapper
    )
    assert others == [], f"a Lambda imports {others}, which the X-Ray SDK traces: add it to TRACED_MODULES"


def test_tracing_off_imports_no_xray_recorder(tmp_path: Path) -> None:
    code = """
import json, sys
import lambdas.handlers.deploy_stage
from lambdas.core.observability import tracer
print(json.dumps([tracer.disabled, type(tracer.provider).__name__, "aws_xray_sdk.core" in sys.modules]))
"""
    assert cold(code, tracing=False, tmp_path=tmp_path) == [True, "Untraced", False]

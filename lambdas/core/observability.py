"""Logger, Tracer and Metrics, shared by every handler, always applied in the same order:

@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event, context): ...

Tracing is Powertools' own: on in Lambda (the functions' X-Ray active tracing, set by the
bootstrap stack), every AWS call traced: botocore is patched, the one library of `TRACED_MODULES`.
Powertools' default patches every library the X-Ray SDK supports that is installed, and the
layer installs SQLAlchemy and pg8000 (for the CLI's migrations): patching imports them, ~0.17 s
of CPU per cold start, for calls no Lambda of the installer makes. Where Powertools turns it off
(`POWERTOOLS_TRACE_DISABLED`, or outside Lambda: a test importing a handler), the Tracer is
given a provider that records nothing instead of the X-Ray SDK's recorder, which Powertools
would import anyway and whose import creates botocore clients (~0.15 s of CPU).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.tracing.base import BaseProvider, BaseSegment

NAMESPACE = "DataallInstaller"
#: The libraries whose calls are traced: the Lambdas call AWS through boto3 alone
#: (`tests/unit/test_cold_imports.py` checks that they import no other library the SDK patches).
TRACED_MODULES = ("botocore",)


class _UntracedSegment(BaseSegment):
    """A segment that records nothing (tracing is off)."""

    def close(self, end_time: int | None = None) -> None:
        return None

    def add_subsegment(self, subsegment: Any) -> None:
        return None

    def remove_subsegment(self, subsegment: Any) -> None:
        return None

    def put_annotation(self, key: str, value: Any) -> None:
        return None

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        return None

    def add_exception(self, exception: BaseException, stack: Any, remote: bool = False) -> None:
        return None


class Untraced(BaseProvider):
    """The Tracer's provider when tracing is off: no X-Ray SDK, nothing recorded or patched."""

    @contextlib.contextmanager
    def in_subsegment(self, name: Any = None, **kwargs: Any) -> Iterator[BaseSegment]:
        yield _UntracedSegment()

    @contextlib.asynccontextmanager
    async def in_subsegment_async(self, name: Any = None, **kwargs: Any) -> AsyncIterator[BaseSegment]:
        yield _UntracedSegment()

    def put_annotation(self, key: str, value: Any) -> None:
        return None

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        return None

    def patch(self, modules: Sequence[str]) -> None:
        return None

    def patch_all(self) -> None:
        return None


def make_tracer() -> Tracer:
    """Powertools' Tracer; without the X-Ray SDK when Powertools has tracing off."""
    if Tracer._is_tracer_disabled():
        return Tracer(disabled=True, provider=Untraced())
    return Tracer(patch_modules=TRACED_MODULES)


logger = Logger()
tracer = make_tracer()
metrics = Metrics(namespace=NAMESPACE)

"""Secrets from AWS Secrets Manager, read by the driver where it runs (on EMR, in the cluster).

A step names a secret by its id; the value is fetched here, kept in memory and never logged,
so it appears on no command line, in no application environment and in no artifact. The
client is boto3's default chain: an EMR instance profile, AWS_* variables, or a local
endpoint (AWS_ENDPOINT_URL, as the local stack's moto sets for its containers).
"""

from __future__ import annotations

import json
import logging
from typing import Any, Mapping

from common.errors import ConfigError

__all__ = ["read_secret"]

log = logging.getLogger(__name__)
_NOT_FOUND = ("ResourceNotFoundException",)
_DENIED = ("AccessDeniedException", "UnrecognizedClientException", "InvalidSignatureException")


_cache: dict[tuple[str, str], Mapping[str, Any]] = {}


class _SecretError(Exception):
    """A failure whose message has a `{setting}` placeholder for the caller's setting name."""


def read_secret(secret_id: str, *, region: str = "", setting: str = "the secret id") -> Mapping[str, Any]:
    """The secret's JSON object (RDS format for MySQL: host, port, dbname, username, password).

    Read once per process; a failure is not remembered, so a secret created later is found."""
    key = (secret_id, region)
    if key not in _cache:
        try:
            _cache[key] = _read(secret_id, region)
        except _SecretError as exc:
            raise ConfigError(str(exc).replace("{setting}", setting)) from None
    return _cache[key]


def _read(secret_id: str, region: str) -> Mapping[str, Any]:
    try:
        import boto3
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError:
        raise _SecretError("boto3 is not installed in the job's environment; add it to requirements/runtime.lock") from None
    where = f"AWS Secrets Manager ({region or 'default region'})"
    try:
        client = boto3.client("secretsmanager", **({"region_name": region} if region else {}))
        text = client.get_secret_value(SecretId=secret_id).get("SecretString")
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in _NOT_FOUND:
            raise _SecretError(f"secret {secret_id!r} not found in {where}; create it or fix {{setting}}") from None
        if code in _DENIED:
            raise _SecretError(f"not allowed to read secret {secret_id!r} from {where} ({code}); grant "
                               "secretsmanager:GetSecretValue on it to the cluster's role, or fix {setting}") from None
        raise _SecretError(f"cannot read secret {secret_id!r} from {where}: {code or exc}; check {{setting}}") from None
    except BotoCoreError as exc:  # no credentials, no region, endpoint unreachable
        raise _SecretError(f"cannot reach {where} for secret {secret_id!r}: {exc}; check the AWS credentials "
                           "and region of this machine (PYSPARK_JOBS_AWS_REGION) and {setting}") from None
    try:
        value = json.loads(text or "")
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise _SecretError(f"secret {secret_id!r} is not a JSON object; store host, port, dbname, username and "
                           "password as JSON (the RDS secret format), or fix {setting}")
    log.info("read secret %s from %s", secret_id, where)
    return value

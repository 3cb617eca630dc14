"""DynamoDB plumbing for the adapter: the boto3 client, one-line errors, the wire format, queries and batches.

Items are handled in DynamoDB's own wire format (`{"S": "..."}`, `{"N": "..."}`), written and read by the small
helpers here: numbers go out as `str(Decimal)` and come back as `Decimal` (never float; a float is refused).  Every
call goes through `Dynamo.call`, which turns boto3's failures into a `StorageError` (or the part's subclass) of
one line that names the store by its masked URL: an endpoint that does not answer, throttling that outlasted the
retries, missing or refused credentials.  botocore's own messages are not passed on (an endpoint URL in them may
carry a user and password).
"""

from __future__ import annotations

import logging
import os
import random
import re
import time
from decimal import Decimal
from typing import Any, Iterable, Iterator, Mapping, Sequence

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError, ClientError, ConnectTimeoutError, CredentialRetrievalError, EndpointConnectionError,
    HTTPClientError, NoCredentialsError, PartialCredentialsError, ReadTimeoutError,
)

from kalshi_trading.errors import StorageError, UsageError
from kalshi_trading.store.url import StoreURL

log = logging.getLogger(__name__)

Item = dict[str, dict[str, Any]]  # one item in DynamoDB's wire format
Key = dict[str, dict[str, Any]]

BATCH_WRITE = 25  # BatchWriteItem's limit
BATCH_GET = 100  # BatchGetItem's limit
TRANSACTION = 25  # TransactWriteItems' limit on moto and dynalite (AWS allows 100)
_RETRIES = 8  # unprocessed items and transaction conflicts: tries before giving up
_THROTTLED = {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
              "LimitExceededException"}
_REFUSED = {"UnrecognizedClientException", "InvalidSignatureException", "AccessDeniedException",
            "ExpiredTokenException", "MissingAuthenticationTokenException", "IncompleteSignatureException",
            "InvalidClientTokenId", "SignatureDoesNotMatch"}
_CREDENTIALS = ("no AWS credentials found (boto3's chain: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE "
                "and ~/.aws/credentials, or an instance role)")
_USERINFO = re.compile(r"//[^/@\s]*@")


class Declined(Exception):
    """DynamoDB declined a request for a reason the caller handles (a failed condition, a cancelled transaction,
    a table that is not there); `reasons` are a cancelled transaction's, one code per action."""

    def __init__(self, code: str, reasons: Sequence[str] = ()):
        super().__init__(code)
        self.code = code
        self.reasons = list(reasons)


# -- the wire format ------------------------------------------------------------------------------------------------


def S(value: str) -> dict[str, str]:
    return {"S": value}


def N(value: Decimal | int) -> dict[str, str]:
    """A number attribute; a float or a value that is not finite is refused (money is exact)."""
    if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
        raise UsageError(f"{value!r} is not an exact number (Decimal or int)")
    if isinstance(value, Decimal) and not value.is_finite():
        raise UsageError(f"{value} is not a finite number")
    return {"N": str(value)}


def B(value: bool) -> dict[str, bool]:
    return {"BOOL": bool(value)}


def s(item: Mapping[str, Any], name: str) -> str | None:
    value = item.get(name)
    return None if value is None else str(value["S"])


def text(item: Mapping[str, Any], name: str) -> str:
    """A string attribute that is always there."""
    return str(item[name]["S"])


def n(item: Mapping[str, Any], name: str) -> Decimal | None:
    value = item.get(name)
    return None if value is None else Decimal(value["N"])


def num(item: Mapping[str, Any], name: str) -> Decimal:
    return Decimal(item[name]["N"])


def integer(item: Mapping[str, Any], name: str, default: int = 0) -> int:
    value = item.get(name)
    return default if value is None else int(value["N"])


def flag(item: Mapping[str, Any], name: str) -> bool:
    value = item.get(name)
    return bool(value and value.get("BOOL"))


def strings(item: Mapping[str, Any] | None, name: str) -> set[str]:
    """A string set attribute (an absent one is empty)."""
    if not item or name not in item:
        return set()
    return set(item[name]["SS"])


def put(table: str, item: Item, condition: str | None = None, values: Item | None = None,
        names: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A Put action of a transaction."""
    action: dict[str, Any] = {"TableName": table, "Item": item}
    if condition:
        action["ConditionExpression"] = condition
    if values:
        action["ExpressionAttributeValues"] = values
    if names:
        action["ExpressionAttributeNames"] = dict(names)
    return {"Put": action}


def delete(table: str, key: Key) -> dict[str, Any]:
    return {"Delete": {"TableName": table, "Key": key}}


def pad(number: int) -> str:
    """An id as sort-key text: fixed width, so text order is number order."""
    return f"{number:020d}"


# -- the client -----------------------------------------------------------------------------------------------------


def make_client(url: StoreURL, *, attempts: int = 4, timeout: float = 10.0) -> Any:
    """A DynamoDB client for the URL's region (and local endpoint, when it names one), credentials from boto3's
    usual chain.  botocore retries throttling, server errors and dropped connections (standard mode, `attempts`
    tries, or AWS_MAX_ATTEMPTS) before we see them."""
    retries: dict[str, Any] = {"mode": "standard"}
    if "AWS_MAX_ATTEMPTS" not in os.environ:  # boto3's own setting wins where it is given
        retries["max_attempts"] = attempts
    config = Config(retries=retries, connect_timeout=min(timeout, 3.0), read_timeout=timeout, tcp_keepalive=True)
    session = boto3.session.Session()
    kwargs: dict[str, Any] = {"region_name": url.region, "config": config}
    if url.endpoint is not None:
        kwargs["endpoint_url"] = url.endpoint
    return session.client("dynamodb", **kwargs)


def explain(exc: BaseException) -> str:
    """What went wrong, in a few words and without secrets (no botocore message that may quote the endpoint)."""
    if isinstance(exc, (NoCredentialsError, PartialCredentialsError, CredentialRetrievalError)):
        return _CREDENTIALS
    if isinstance(exc, (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError, HTTPClientError)):
        return f"the DynamoDB endpoint does not answer ({type(exc).__name__}); is the server running?"
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "unknown"))
        message = " ".join(str(error.get("Message", "")).split())[:200]
        if code in _THROTTLED:
            return f"DynamoDB is throttling requests ({code}) and retries did not get through; try again later " \
                   "or raise the tables' capacity"
        if code in _REFUSED:
            return f"DynamoDB refused the credentials ({code}: {message}); check boto3's credential chain and the " \
                   "IAM permissions"
        if code == "ResourceNotFoundException":
            return f"a table of this store is missing ({message})"
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return f"DynamoDB error {code}{f' (HTTP {status})' if status else ''}{f': {message}' if message else ''}"
    if isinstance(exc, BotoCoreError):
        first = " ".join(str(exc).split())[:200]
        return f"DynamoDB client error {type(exc).__name__}: {_USERINFO.sub('//***@', first)}"
    return f"{type(exc).__name__}"


class Dynamo:
    """One part's view of the store's tables: the client, the table names, and the error class its failures
    become (`JournalError` for the journal and the bot state, `StorageError` for the signals)."""

    def __init__(self, client: Any, url: StoreURL, names: Mapping[str, str], error: type[StorageError]):
        self.client = client
        self.url = url
        self.names = dict(names)
        self.error = error

    def table(self, name: str) -> str:
        return self.names[name]

    def fail(self, what: str) -> StorageError:
        return self.error(f"DynamoDB store {self.url.masked}: {what}")

    def call(self, op: str, *, allow: Iterable[str] = (), **kwargs: Any) -> dict[str, Any]:
        """Run one API call; an error code in `allow` is raised as `Declined`, any other failure as the part's
        StorageError (one line, the URL masked)."""
        try:
            response: dict[str, Any] = getattr(self.client, op)(**kwargs)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in allow:
                reasons = [str(r.get("Code", "")) for r in exc.response.get("CancellationReasons", [])]
                raise Declined(code, reasons) from None
            what = explain(exc)
        except BotoCoreError as exc:
            what = explain(exc)
        else:
            kind = response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("content-type", "")
            if "json" in kind:
                return response
            what = f"the endpoint answered something that is not DynamoDB (content type {kind[:40] or 'none'!r})"
        log.warning("DynamoDB %s failed: %s", op, what)
        raise self.fail(what) from None

    # -- single items

    def get(self, table: str, key: Key, *, consistent: bool = True) -> Item | None:
        response = self.call("get_item", TableName=self.table(table), Key=key, ConsistentRead=consistent)
        item: Item | None = response.get("Item")
        return item

    def put(self, table: str, item: Item, *, condition: str | None = None, values: Item | None = None,
            names: Mapping[str, str] | None = None) -> bool:
        """Write one item; False (nothing written) when `condition` does not hold."""
        kwargs = {"TableName": self.table(table), "Item": item, **_conditions(condition, values, names)}
        try:
            self.call("put_item", allow=("ConditionalCheckFailedException",), **kwargs)
        except Declined:
            return False
        return True

    def update(self, table: str, key: Key, expression: str, values: Item | None = None, *,
               condition: str | None = None, names: Mapping[str, str] | None = None) -> Item | None:
        """UpdateItem returning the new values of what it changed; None when `condition` does not hold."""
        kwargs = {"TableName": self.table(table), "Key": key, "UpdateExpression": expression,
                  "ReturnValues": "UPDATED_NEW", **_conditions(condition, values, names)}
        try:
            response = self.call("update_item", allow=("ConditionalCheckFailedException",), **kwargs)
        except Declined:
            return None
        attributes: Item = response.get("Attributes", {})
        return attributes

    def delete(self, table: str, key: Key, *, condition: str | None = None, values: Item | None = None,
               names: Mapping[str, str] | None = None) -> bool:
        """Delete one item; False when `condition` does not hold (deleting an absent item is no error)."""
        kwargs = {"TableName": self.table(table), "Key": key, **_conditions(condition, values, names)}
        try:
            self.call("delete_item", allow=("ConditionalCheckFailedException",), **kwargs)
        except Declined:
            return False
        return True

    def counter(self, name: str, count: int = 1) -> int:
        """Add `count` to the store's counter `name` (in `meta`); the new value (ids from it never repeat)."""
        new = self.update("meta", {"name": S("counters")}, "ADD #c :n", {":n": N(count)}, names={"#c": name})
        if not new or name not in new:
            raise self.fail(f"the counter {name} did not come back from an update")
        return int(new[name]["N"])

    # -- many items

    def query(self, table: str, pk_name: str, pk: str, *, sk_name: str = "sk", low: str | None = None,
              high: str | None = None, below: str | None = None, forward: bool = True,
              filter_expression: str | None = None, values: Item | None = None,
              names: Mapping[str, str] | None = None, limit: int | None = None,
              projection: str | None = None, count: bool = False) -> Iterator[Item]:
        """The items of one partition in sort-key order (`low` <= sk <= `high`, or sk < `below`), page by page,
        read consistently (`limit` is the page size: stop reading the iterator when you have enough).  With
        `count`, yields one item {"count": N} instead."""
        expr = ["#pk = :pk"]
        attr_names = {"#pk": pk_name, **(names or {})}
        attr_values: Item = {":pk": S(pk), **(values or {})}
        if low is not None and high is not None:
            expr.append("#sk BETWEEN :lo AND :hi")
        elif low is not None:
            expr.append("#sk >= :lo")
        elif high is not None:
            expr.append("#sk <= :hi")
        elif below is not None:
            expr.append("#sk < :below")
            attr_values[":below"] = S(below)
        if low is not None:
            attr_values[":lo"] = S(low)
        if high is not None:
            attr_values[":hi"] = S(high)
        if len(expr) > 1:
            attr_names["#sk"] = sk_name
        kwargs: dict[str, Any] = {"TableName": self.table(table), "KeyConditionExpression": " AND ".join(expr),
                                  "ExpressionAttributeNames": attr_names, "ExpressionAttributeValues": attr_values,
                                  "ScanIndexForward": forward, "ConsistentRead": True}
        if filter_expression:
            kwargs["FilterExpression"] = filter_expression
        if limit is not None:
            kwargs["Limit"] = limit
        if projection:
            kwargs["ProjectionExpression"] = projection
        if count:
            kwargs["Select"] = "COUNT"
        total = 0
        while True:
            page = self.call("query", **kwargs)
            if count:
                total += int(page.get("Count", 0))
            else:
                yield from page.get("Items", [])
            start = page.get("LastEvaluatedKey")
            if not start:
                break
            kwargs["ExclusiveStartKey"] = start
        if count:
            yield {"count": {"N": str(total)}}

    def scan(self, table: str, projection: str | None = None,
             names: Mapping[str, str] | None = None) -> Iterator[Item]:
        """Every item of a table, page by page, read consistently: only for tables (or cold paths) where every
        item is wanted (the per-market configuration; a copy's listing of the default bot's keys)."""
        kwargs: dict[str, Any] = {"TableName": self.table(table), "ConsistentRead": True}
        if projection:
            kwargs["ProjectionExpression"] = projection
        if names:
            kwargs["ExpressionAttributeNames"] = dict(names)
        while True:
            page = self.call("scan", **kwargs)
            yield from page.get("Items", [])
            start = page.get("LastEvaluatedKey")
            if not start:
                return
            kwargs["ExclusiveStartKey"] = start

    def count(self, table: str, pk_name: str, pk: str, **kwargs: Any) -> int:
        return int(next(self.query(table, pk_name, pk, count=True, **kwargs))["count"]["N"])

    def batch_get(self, table: str, keys: Sequence[Key], projection: str | None = None,
                  names: Mapping[str, str] | None = None) -> list[Item]:
        """The items that exist among `keys` (any order), 100 a call, unprocessed keys retried with backoff."""
        found: list[Item] = []
        name = self.table(table)
        for start in range(0, len(keys), BATCH_GET):
            request: dict[str, Any] = {"Keys": list(keys[start:start + BATCH_GET]), "ConsistentRead": True}
            if projection:
                request["ProjectionExpression"] = projection
            if names:
                request["ExpressionAttributeNames"] = dict(names)
            pending: dict[str, Any] = {name: request}
            for attempt in range(_RETRIES + 1):
                response = self.call("batch_get_item", RequestItems=pending)
                found.extend(response.get("Responses", {}).get(name, []))
                pending = response.get("UnprocessedKeys") or {}
                if not pending:
                    break
                _backoff(attempt)
            else:
                raise self.fail("DynamoDB left keys of a batch read unprocessed after retries (throttled)")
        return found

    def batch_write(self, table: str, puts: Sequence[Item] = (), deletes: Sequence[Key] = ()) -> None:
        """Write and delete items, 25 a call, unprocessed items retried with backoff (not atomic: callers order
        their writes so that an interruption leaves nothing a reader would take for done)."""
        name = self.table(table)
        requests = [{"PutRequest": {"Item": item}} for item in puts]
        requests += [{"DeleteRequest": {"Key": key}} for key in deletes]
        for start in range(0, len(requests), BATCH_WRITE):
            pending: dict[str, Any] = {name: requests[start:start + BATCH_WRITE]}
            for attempt in range(_RETRIES + 1):
                response = self.call("batch_write_item", RequestItems=pending)
                pending = response.get("UnprocessedItems") or {}
                if not pending:
                    break
                _backoff(attempt)
            else:
                raise self.fail("DynamoDB left items of a batch write unprocessed after retries (throttled)")

    def transact(self, actions: Sequence[dict[str, Any]]) -> None:
        """TransactWriteItems: all the actions or none.  A failed condition raises `Declined` with one reason
        code per action (none when the server gives none); a conflict with another transaction is retried; any
        other cancellation is the part's StorageError."""
        if len(actions) > TRANSACTION:
            raise AssertionError(f"a transaction of {len(actions)} actions (at most {TRANSACTION})")
        for attempt in range(_RETRIES + 1):
            try:
                self.call("transact_write_items", allow=("TransactionCanceledException",
                                                         "TransactionConflictException"),
                          TransactItems=list(actions))
                return
            except Declined as declined:
                reasons = [r for r in declined.reasons if r not in ("None", "")]
                if "ConditionalCheckFailed" in reasons or (declined.code == "TransactionCanceledException"
                                                            and not reasons):
                    raise
                if declined.code != "TransactionConflictException" and \
                        not set(reasons) <= {"TransactionConflict", "ThrottlingError"}:
                    raise self.fail(f"a transaction was cancelled ({', '.join(reasons)}); nothing of it was "
                                    "written") from None
            _backoff(attempt)
        raise self.fail("a transaction kept conflicting with others' writes; nothing of it was written")


def _backoff(attempt: int) -> None:
    time.sleep(min(2.0, 0.025 * 2 ** attempt) * (0.5 + random.random() / 2))


def _conditions(condition: str | None, values: Item | None, names: Mapping[str, str] | None) -> dict[str, Any]:
    """The optional arguments of a single-item write: its condition, and the values and names its expressions use."""
    kwargs: dict[str, Any] = {}
    if condition:
        kwargs["ConditionExpression"] = condition
    if values:
        kwargs["ExpressionAttributeValues"] = values
    if names:
        kwargs["ExpressionAttributeNames"] = dict(names)
    return kwargs

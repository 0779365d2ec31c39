from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from tests.support.api import Api, forget_public_webhooks
from tests.support.stack import RunningStack


@pytest.fixture
def api(stack: RunningStack, fresh_rate_limits: None) -> Api:
    return Api(stack.base_url)


@pytest.fixture(autouse=True)
def no_webhook_left_for_delivery(database_url: str) -> Iterator[None]:
    """Webhooks a test aimed at a public address go with the test, before a delivery run could call it."""
    yield
    with psycopg.connect(database_url, autocommit=True) as connection:
        forget_public_webhooks(connection)

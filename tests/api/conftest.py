from __future__ import annotations

import pytest

from tests.support.api import Api
from tests.support.api import no_webhook_left_for_delivery as no_webhook_left_for_delivery  # autouse in this suite
from tests.support.stack import RunningStack


@pytest.fixture
def api(stack: RunningStack, fresh_rate_limits: None) -> Api:
    return Api(stack.base_url)

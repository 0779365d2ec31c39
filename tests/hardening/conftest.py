from __future__ import annotations

from tests.support.api import no_webhook_left_for_delivery as no_webhook_left_for_delivery  # autouse in this suite

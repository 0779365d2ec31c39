"""The API suite's flows replayed on Lambda: every request an API Gateway v2 event sent to the function the
gateway's most specific route names, in that function's emulated environment (`api` is a LambdaApi here).

A few tests stay with the router's suite, each for a reason of the platform, not of the functions:
"""

from tests.api.test_attachments import *  # noqa: F403
from tests.api.test_audit import *  # noqa: F403
from tests.api.test_auth_flow import *  # noqa: F403
from tests.api.test_tasks import *  # noqa: F403

# A synchronous Lambda invocation carries at most 6 MB: larger uploads go straight to S3 with a presigned
# form on AWS (test_a_presigned_upload_goes_straight_to_s3_and_is_confirmed runs here).
del test_a_file_larger_than_one_part_reaches_s3_as_a_multipart_upload  # noqa: F821
del test_a_file_one_byte_over_the_limit_is_refused_and_nothing_is_kept  # noqa: F821
# Sends a raw socket request to the router; API Gateway refuses an oversized body itself.
del test_a_body_announced_larger_than_the_limit_is_refused_before_it_is_read  # noqa: F821
# Both start a gunicorn stack of their own; test_lambda_functions.py checks the download's headers here.
del test_the_function_itself_marks_a_download_nosniff  # noqa: F821
del test_while_s3_is_down_nothing_is_recorded_or_lost_and_the_answer_is_503  # noqa: F821
# On AWS the template configures the bucket (tests/infra/test_aws_template.py checks its lifecycle rules).
del test_the_bucket_expires_pending_uploads_and_abandoned_multipart_uploads_after_a_day  # noqa: F821
# A path no route takes is answered by API Gateway itself; test_lambda_functions.py checks the functions'.
del test_unknown_routes_and_methods_answer_in_the_error_format  # noqa: F821
# Its concurrent clients open sessions of their own, past the gateway transport; one emulator process also
# answers one invocation at a time, as one Lambda environment does, so there is no concurrency to test here.
del test_concurrent_patches_with_the_same_if_match_apply_exactly_one  # noqa: F821
# The ops tests take `bucket` for a bucket that exists: the attachments tests' fixture gives one.
from tests.api.test_ops import (  # noqa: E402, F401
    test_live_answers_ok,
    test_ready_is_200_when_every_component_is_up,
    test_the_docs_page_links_every_functions_docs_and_each_link_loads,
    test_the_merged_openapi_document_is_valid_and_has_every_functions_paths,
    test_worker_state_follows_its_heartbeat_but_never_fails_readiness,
)

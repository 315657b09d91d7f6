"""schemathesis against the live OpenAPI spec: zero server errors.

Run through schemathesis' Python API rather than its pytest plugin, which does not
work with this pytest; every operation of the spec gets generated requests.
"""
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

EXAMPLES_PER_OPERATION = 30


def test_no_generated_request_makes_a_server_error(served, api_key):
    schema = schemathesis.openapi.from_url(f"{served[0]}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.label for op in operations} >= {"POST /v1/recommend", "POST /v1/feedback", "GET /v1/items"}
    calls = []
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def fuzz(case):
            response = case.call_and_validate(headers={"X-API-Key": api_key}, checks=[not_a_server_error], timeout=60)
            calls.append(response.status_code)

        fuzz()
    print(f"schemathesis: {len(calls)} requests over {len(operations)} operations; statuses {sorted(set(calls))}")
    assert len(calls) >= 2 * len(operations) and max(calls) < 500

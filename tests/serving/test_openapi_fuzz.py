"""schemathesis against the live OpenAPI spec, with every check it has: zero failures.

Two phases:
- every operation gets generated requests, valid and invalid; schema-valid ones must be
  accepted (positive_data_acceptance), invalid ones refused with a 4xx
  (negative_data_rejection), and every answer must match the documented statuses,
  content types and schemas;
- stateful: the spec's links (the recommendation's request_id and item into
  /v1/feedback) drive multi-step sequences of valid requests.
Media fields carry custom formats (`base64-audio`, `base64-image`); the strategies
registered below generate real short WAVs and small PNGs for them, so "schema-valid"
includes "decodable". Run through schemathesis' Python API rather than its pytest
plugin, which does not work with this pytest.
"""
import base64
import io

import numpy as np
import schemathesis
import soundfile
from schemathesis import GenerationMode
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from schemathesis.checks import CHECKS, load_all_checks

EXAMPLES_PER_OPERATION = 25


def wav(seconds: float, frequency: float) -> str:
    t = np.arange(int(16000 * seconds)) / 16000
    buffer = io.BytesIO()
    soundfile.write(buffer, (0.3 * np.sin(2 * np.pi * frequency * t)).astype(np.float32), 16000, format="WAV")
    return base64.b64encode(buffer.getvalue()).decode()


def png(size: int, shade: int) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), (shade, 255 - shade, shade // 2)).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


schemathesis.openapi.format("base64-audio", st.builds(wav, st.floats(0.1, 1.0), st.floats(100.0, 2000.0)))
schemathesis.openapi.format("base64-image", st.builds(png, st.integers(4, 64), st.integers(0, 255)))


def every_check():
    load_all_checks()
    return CHECKS.get_all()


def test_generated_requests_pass_every_check(served, api_key):
    schema = schemathesis.openapi.from_url(f"{served[0]}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.label for op in operations} >= {"POST /v1/recommend", "POST /v1/feedback", "GET /v1/items",
                                               "GET /readyz"}
    checks = every_check()
    assert len(checks) >= 12 and "positive_data_acceptance" in {c.__name__ for c in checks}
    calls = []
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def fuzz(case):
            response = case.call_and_validate(headers={"X-API-Key": api_key}, checks=checks, timeout=60)
            calls.append(response.status_code)

        fuzz()
    print(f"schemathesis: {len(calls)} requests over {len(operations)} operations; statuses {sorted(set(calls))}")
    assert len(calls) >= 2 * len(operations) and 200 in calls and max(calls) < 500


def test_stateful_sequences_from_recommend_to_feedback(served, api_key):
    """Positive sequences only: invalid data is the first phase's job, and a link's values
    would overwrite a negative case's mutations (then a valid request gets rightly accepted)."""
    schema = schemathesis.openapi.from_url(f"{served[0]}/openapi.json")
    schema.config.generation.update(modes=[GenerationMode.POSITIVE])
    links = schema["/v1/recommend"]["POST"].definition.raw["responses"]["200"]["links"]
    assert links["SendFeedback"]["operationId"] == "feedback"
    checks = every_check()
    statuses = []

    class Workflow(schema.as_state_machine()):
        def get_call_kwargs(self, case):
            return {"headers": {"X-API-Key": api_key}, "timeout": 60}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            statuses.append((case.operation.label, response.status_code))
            case.validate_response(response, checks=checks)

    Workflow.run(settings=settings(max_examples=15, stateful_step_count=4, deadline=None, database=None,
                                   suppress_health_check=list(HealthCheck)))
    print(f"stateful: {len(statuses)} calls; {sorted(set(statuses))}")
    assert ("POST /v1/feedback", 200) in statuses  # a link carried a real request_id into feedback

"""Property tests (hypothesis): the token parser, pagination cursors, telemetry parameters.

Whatever a client sends, the answer is a 200 or a 4xx problem, never a 500.
"""

import base64
import json
import string
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.hostile.conftest import assert_problem
from tokens import format as token_format

# Requests go through the whole app in-process: keep the example counts modest and fixed.
HTTP_SETTINGS = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

tokens = st.builds(lambda _: token_format.generate(), st.integers())


# --- the token parser ---------------------------------------------------------------------------


@given(st.text(max_size=80))
def test_the_parser_never_raises_and_accepts_only_its_own_shape(candidate):
    parsed = token_format.parse(candidate)
    if parsed is not None:
        assert parsed.token == candidate
        assert candidate.startswith(token_format.PREFIX)
        assert len(candidate) == token_format.TOKEN_LENGTH


@given(st.one_of(st.none(), st.integers(), st.binary(), st.lists(st.text()), st.floats()))
def test_nothing_but_a_string_is_a_token(candidate):
    assert token_format.parse(candidate) is None


@given(tokens)
def test_every_generated_token_parses(token):
    assert token_format.parse(token) is not None


@given(tokens, st.data())
def test_any_single_character_change_is_caught_offline(token, data):
    position = data.draw(st.integers(0, len(token) - 1))
    replacement = data.draw(
        st.sampled_from(token_format.ALPHABET + "_-+/=. \x00").filter(
            lambda c: c != token[position]
        )
    )
    assert token_format.parse(token[:position] + replacement + token[position + 1 :]) is None


@given(tokens, st.data())
def test_swapping_two_neighbours_is_caught_offline(token, data):
    start = len(token_format.PREFIX)
    position = data.draw(st.integers(start, len(token) - 2))
    swapped = token[:position] + token[position + 1] + token[position] + token[position + 2 :]
    if swapped != token:
        assert token_format.parse(swapped) is None


# --- pagination cursors -------------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children)
    ),
    max_leaves=8,
)
ORDERINGS = [["-raised_at", "-id"], ["-id"], ["raised_at", "id"], ["serial_number", "id"]]


def _encode(document) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).decode().rstrip("=")


cursor_documents = st.fixed_dictionaries(
    {"o": st.sampled_from(ORDERINGS) | st.lists(st.text(max_size=12), max_size=3)},
    optional={
        "p": st.lists(json_values, min_size=1, max_size=3) | json_values,
        "b": st.integers(-2, 3) | json_values,
    },
)
cursors = (
    cursor_documents.map(_encode)
    | st.text(max_size=200)
    | st.text(alphabet=string.ascii_letters + string.digits + "-_=", max_size=200)
)


@pytest.mark.parametrize("path", ["/api/v1/alarms", "/api/v1/spreaders", "/api/v1/maintenance"])
@HTTP_SETTINGS
@given(cursor=cursors)
@example(cursor=_encode({"o": ["-raised_at", "-id"], "p": ["2026-01-01T00:00:00Z", 2**70], "b": 0}))
@example(cursor=_encode({"o": ["-id"], "p": [-(2**64)], "b": 1}))
@example(cursor=_encode({"o": ["serial_number", "id"], "p": ["EMX\u0000", 1], "b": 0}))
@example(
    cursor=_encode({"o": ["-raised_at", "-id"], "p": ["9999-12-31T23:59:59+14:00", 1], "b": 0})
)
def test_no_cursor_makes_a_list_fail(fleet, partner, path, cursor):
    response = partner.get(path, {"cursor": cursor})
    if response.status_code != 200:
        assert assert_problem(response, 400)["code"] == "validation_error"


# --- telemetry query parameters -----------------------------------------------------------------

moments = (
    st.datetimes(
        min_value=datetime(1, 1, 2),
        max_value=datetime(9999, 12, 30),
        timezones=st.none() | st.just(UTC),
    ).map(lambda moment: moment.isoformat())
    | st.text(max_size=40)
    | st.sampled_from(["", "now", "0", "-1", "1e309", "2026-02-30T00:00:00Z", "2026-01-01T24:00"])
)
telemetry_params = st.fixed_dictionaries(
    {},
    optional={
        "since": moments,
        "until": moments,
        "resolution": st.sampled_from(["raw", "hour", "day", "minute", "", "HOUR"])
        | st.text(max_size=10),
        "metrics": st.lists(
            st.sampled_from(["load_tonnes", "lifts", "oil_temperature_c", "nope", ""]), max_size=6
        ).map(",".join)
        | st.text(max_size=20),
    },
)


@HTTP_SETTINGS
@given(params=telemetry_params)
def test_no_telemetry_query_makes_the_endpoint_fail(fleet, partner, params):
    response = partner.get(f"/api/v1/spreaders/{fleet.spreader.serial_number}/telemetry", params)
    if response.status_code != 200:
        assert assert_problem(response, 400)["code"] == "validation_error"

"""Every kind of bad text frame, shared by the in-process and the end-to-end tests."""

import pytest

# Every kind of bad text, and a phrase its error must contain.
BAD_TEXT = [
    pytest.param("not json", "not valid JSON", id="not-json"),
    pytest.param("{'count': 3}", "not valid JSON", id="python-not-json"),
    pytest.param("[" * 999, "nested too deeply", id="deeply-nested"),
    pytest.param("[1, 2]", "expected a JSON object, got an array", id="array"),
    pytest.param('"count"', "expected a JSON object, got a string", id="string"),
    pytest.param("3", "expected a JSON object, got a number", id="number"),
    pytest.param("null", "expected a JSON object, got null", id="null"),
    pytest.param("true", "expected a JSON object, got true/false", id="bool"),
    pytest.param("{}", "no command", id="empty-object"),
    pytest.param('{"hello": 1}', "no command", id="unknown-keys-only"),
    pytest.param('{"interval": 0.5}', "no command", id="interval-alone"),
    pytest.param('{"count": 0}', '"count" must be a whole number from 1 to 100, got 0',
                 id="count-0"),
    pytest.param('{"count": 101}', "got 101", id="count-101"),
    pytest.param('{"count": -1}', "got -1", id="count-negative"),
    pytest.param('{"count": true}', "got true", id="count-true"),
    pytest.param('{"count": 1.5}', "got 1.5", id="count-fraction"),
    pytest.param('{"count": 3.0}', "got 3.0", id="count-float"),
    pytest.param('{"count": "3"}', 'got "3"', id="count-string"),
    pytest.param('{"count": null}', "got null", id="count-null"),
    pytest.param('{"count": [3]}', "got [3]", id="count-array"),
    pytest.param('{"count": 3, "interval": -0.1}',
                 '"interval" must be a number of seconds from 0 to 1', id="interval-negative"),
    pytest.param('{"count": 3, "interval": 1.5}', "got 1.5", id="interval-too-long"),
    pytest.param('{"count": 3, "interval": "0.1"}', 'got "0.1"', id="interval-string"),
    pytest.param('{"count": 3, "interval": true}', "got true", id="interval-true"),
    pytest.param('{"count": 3, "interval": NaN}', "got NaN", id="interval-nan"),
    pytest.param('{"count": 3, "interval": Infinity}', "got Infinity", id="interval-infinity"),
    pytest.param('{"close": false}', '"close" must be true, got false', id="close-false"),
    pytest.param('{"close": 1}', '"close" must be true, got 1', id="close-1"),
    pytest.param('{"count": 3, "close": true}', "one command per message", id="two-commands"),
    pytest.param("", "empty message", id="empty-frame"),
    pytest.param("x" * 1001, "message too long: 1001 characters, the limit is 1000",
                 id="too-long"),
    # Daphne passes frames of up to 1 MiB; the consumer refuses them before parsing.
    pytest.param("x" * 1024 * 1024, "message too long", id="1-MiB"),
]

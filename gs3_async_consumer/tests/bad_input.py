"""Every kind of bad text frame, shared by the in-process and the end-to-end tests."""

import pytest

KiB, MiB = 1024, 1024 * 1024
# The contract's answer to every bad frame. A param with a hostile mark is also a row in the
# docs' table of hostile cases (the docs read these marks from this file: keep them literal).
ERROR = 'an `{"error": ...}` frame saying what is wrong; the socket stays open and streams'
hostile = pytest.mark.hostile

# Every kind of bad text, and a phrase its error must contain.
BAD_TEXT = [
    pytest.param("not json", "not valid JSON", id="not-json",
                 marks=hostile("text that is not JSON, `not json`", ERROR)),
    pytest.param("{'count': 3}", "not valid JSON", id="python-not-json",
                 marks=hostile("malformed JSON: a Python dict, `{'count': 3}`", ERROR)),
    pytest.param("[" * 999, "nested too deeply", id="deeply-nested",
                 marks=hostile("JSON nested 999 deep, `[[[[…` (json.loads raises RecursionError)",
                               ERROR)),
    pytest.param("[1, 2]", "expected a JSON object, got an array", id="array",
                 marks=hostile("JSON that is not an object: an array, `[1, 2]`", ERROR)),
    pytest.param('"count"', "expected a JSON object, got a string", id="string",
                 marks=hostile('JSON that is not an object: a string, `"count"`', ERROR)),
    pytest.param("3", "expected a JSON object, got a number", id="number",
                 marks=hostile("JSON that is not an object: a number, `3`", ERROR)),
    pytest.param("null", "expected a JSON object, got null", id="null",
                 marks=hostile("JSON that is not an object: `null`", ERROR)),
    pytest.param("true", "expected a JSON object, got true/false", id="bool",
                 marks=hostile("JSON that is not an object: `true`", ERROR)),
    pytest.param("{}", "no command", id="empty-object"),
    pytest.param('{"hello": 1}', "no command", id="unknown-keys-only"),
    pytest.param('{"interval": 0.5}', "no command", id="interval-alone"),
    # The server's events are {"type": ...} dicts; a client's text never becomes one.
    pytest.param('{"type": "websocket.disconnect"}', "no command", id="disconnect-event",
                 marks=hostile('a client-chosen event type, `{"type": "websocket.disconnect"}`'
                               " as text", ERROR)),
    pytest.param('{"type": "websocket.close", "code": 1000}', "no command", id="close-event",
                 marks=hostile('a client-chosen event type, `{"type": "websocket.close"}` as text',
                               ERROR)),
    pytest.param('{"count": 0}', '"count" must be a whole number from 1 to 100, got 0',
                 id="count-0"),
    pytest.param('{"count": 101}', "got 101", id="count-101"),
    pytest.param('{"count": -1}', "got -1", id="count-negative"),
    pytest.param('{"count": true}', "got true", id="count-true",
                 marks=hostile('`{"count": true}` (in Python, `True` is an `int`)', ERROR)),
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
    pytest.param('{"count": 3, "interval": NaN}', "got NaN", id="interval-nan",
                 marks=hostile('`{"count": 3, "interval": NaN}` (Python\'s json reads NaN)',
                               ERROR)),
    pytest.param('{"count": 3, "interval": Infinity}', "got Infinity", id="interval-infinity",
                 marks=hostile('`{"count": 3, "interval": Infinity}`', ERROR)),
    pytest.param('{"close": false}', '"close" must be true, got false', id="close-false"),
    pytest.param('{"close": 1}', '"close" must be true, got 1', id="close-1"),
    pytest.param('{"stop": false}', '"stop" must be true, got false', id="stop-false"),
    pytest.param('{"stop": "yes"}', '"stop" must be true, got "yes"', id="stop-string"),
    pytest.param('{"count": 3, "close": true}', "one command per message", id="two-commands",
                 marks=hostile('two commands in one object, `{"count": 3, "close": true}`',
                               ERROR)),
    pytest.param('{"count": 3, "stop": true}', "got count and stop", id="count-and-stop"),
    pytest.param("", "empty message", id="empty-frame",
                 marks=hostile("an empty text frame", ERROR)),
    pytest.param("x" * 1001, "message too long: 1001 characters, the limit is 1000",
                 id="too-long",
                 marks=hostile("a frame of 1001 characters (our limit is 1000)", ERROR)),
    pytest.param("x" * 64 * KiB, "message too long: 65536 characters", id="64-KiB",
                 marks=hostile("a frame of 64 KiB", 'an `{"error": "message too long: ..."}`, '
                               "before any parsing; the socket stays open and streams")),
    # Daphne drops messages of 1 MiB and more (see test_e2e.py); other servers might not, so
    # the consumer refuses them too, before parsing.
    pytest.param("x" * MiB, "message too long", id="1-MiB",
                 marks=hostile("a frame of 1 MiB handed to the consumer (in process, no "
                               "server limit)", 'an `{"error": "message too long: ..."}`')),
]

# Binary frames, and the phrase of their error.
BAD_BYTES = [
    pytest.param(b"\x00\xff", id="bytes",
                 marks=hostile("a binary frame", ERROR)),
    pytest.param(b'{"count": 3}', id="json-as-bytes",
                 marks=hostile('a valid command sent as a binary frame, `{"count": 3}`', ERROR)),
    pytest.param(b"", id="empty-bytes", marks=hostile("an empty binary frame", ERROR)),
]
BINARY_ERROR = "binary frames are not accepted"

"""What a client may send to /ws/ac/, checked before the consumer acts on it.

Every frame is either a valid command or a BadMessage whose text tells the client what to fix.
"""

import json
from dataclasses import dataclass

MAX_COUNT = 100
MAX_INTERVAL = 1  # seconds
DEFAULT_INTERVAL = 0.1
# Our commands are a few dozen characters. Refusing long frames before parsing them means a
# client cannot make the server parse (or echo back) megabytes of JSON.
MAX_LENGTH = 1000
COMMANDS = ("count", "stop", "close")
HOW_TO = ('send {"count": N} (N from 1 to 100, optional "interval" 0 to 1), {"stop": true} '
          'or {"close": true}')


class BadMessage(ValueError):
    """A frame the consumer cannot act on; its text is the reason sent back to the client."""


@dataclass(frozen=True)
class Command:
    name: str  # "count", "stop" or "close"
    count: int = 0
    interval: float = DEFAULT_INTERVAL


def parse(event):
    """Turn a websocket.receive event into a Command, or raise BadMessage saying why not."""
    text = event.get("text")
    if text is None:
        raise BadMessage(f"binary frames are not accepted: {HOW_TO}")
    if not text:
        raise BadMessage(f"empty message: {HOW_TO}")
    if len(text) > MAX_LENGTH:
        raise BadMessage(f"message too long: {len(text)} characters, the limit is {MAX_LENGTH}")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        where = f"{error.msg} at character {error.pos}"
        raise BadMessage(f"not valid JSON ({where}): {HOW_TO}") from None
    except RecursionError:
        raise BadMessage("not valid JSON: nested too deeply") from None
    if not isinstance(data, dict):
        raise BadMessage(f"expected a JSON object, got {json_type(data)}: {HOW_TO}")

    # Extra keys are allowed, but exactly one command per message.
    names = [name for name in COMMANDS if name in data]
    if not names:
        raise BadMessage(f"no command in this object: {HOW_TO}")
    if len(names) > 1:
        raise BadMessage(f"one command per message, got {' and '.join(names)}")

    if names[0] in ("stop", "close"):
        name = names[0]
        if data[name] is not True:
            raise BadMessage(f'"{name}" must be true, got {json.dumps(data[name])}')
        return Command(name)

    count = data["count"]
    if not is_whole_number(count) or not 1 <= count <= MAX_COUNT:
        raise BadMessage(f'"count" must be a whole number from 1 to {MAX_COUNT}, '
                         f"got {json.dumps(count)}")
    interval = data.get("interval", DEFAULT_INTERVAL)
    # NaN and Infinity (which Python's json accepts) fail this comparison too.
    if not is_number(interval) or not 0 <= interval <= MAX_INTERVAL:
        raise BadMessage(f'"interval" must be a number of seconds from 0 to {MAX_INTERVAL}, '
                         f"got {json.dumps(interval)}")
    return Command("count", count=count, interval=interval)


def is_whole_number(value):
    # bool is a subclass of int in Python: without the second test, true would count as 1.
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value):
    return is_whole_number(value) or isinstance(value, float)


def json_type(value):
    """The JSON name of a parsed value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array"

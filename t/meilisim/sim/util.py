"""Small helpers shared by the emulator: dates, JSON, deserr-like messages."""

import datetime
import json
import re

from .errors import MeiliError

UTC = datetime.timezone.utc


def now():
    return datetime.datetime.now(UTC)


def fmt_date(dt):
    """RFC 3339 with up to 9 fractional digits, as Meilisearch prints."""
    if dt is None:
        return None
    s = dt.strftime("%Y-%m-%dT%H:%M:%S")
    if dt.microsecond:
        s += ".%06d" % dt.microsecond
    return s + "Z"


def parse_date(text):
    """Parse RFC 3339 (or what fmt_date prints) into an aware datetime."""
    if text is None:
        return None
    t = text.strip()
    if t.endswith("Z") or t.endswith("z"):
        t = t[:-1] + "+00:00"
    m = re.match(r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(\.\d+)?([+-]\d{2}:\d{2})?$", t)
    if not m:
        m2 = re.match(r"^(\d{4})-(\d{2})-(\d{2})$", t)
        if not m2:
            raise ValueError(text)
        return datetime.datetime(int(m2.group(1)), int(m2.group(2)), int(m2.group(3)), tzinfo=UTC)
    frac = m.group(3) or ""
    micro = int((frac[1:] + "000000")[:6]) if frac else 0
    base = datetime.datetime.strptime(m.group(1) + "T" + m.group(2), "%Y-%m-%dT%H:%M:%S")
    tz = m.group(4)
    if tz:
        sign = 1 if tz[0] == "+" else -1
        off = datetime.timedelta(hours=int(tz[1:3]), minutes=int(tz[4:6])) * sign
        base = base - off
    return base.replace(microsecond=micro, tzinfo=UTC)


def fmt_duration(seconds):
    """ISO 8601 duration as Meilisearch prints it (PT0.001234S)."""
    if seconds < 0:
        seconds = 0
    days = int(seconds // 86400)
    rest = seconds - days * 86400
    nanos = int(round(rest * 1e9))
    whole, frac = divmod(nanos, 10 ** 9)
    out = "P"
    if days:
        out += "%dD" % days
    out += "T%d" % whole
    if frac:
        if frac % 10 ** 6 == 0:
            out += ".%03d" % (frac // 10 ** 6)
        elif frac % 10 ** 3 == 0:
            out += ".%06d" % (frac // 10 ** 3)
        else:
            out += ".%09d" % frac
    return out + "S"


def dumps(obj):
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


# --- deserr-like value descriptions -------------------------------------

def kind(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "a positive integer" if value >= 0 else "a negative integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def at(path):
    return " at `%s`" % path if path else ""


def type_error(code, path, expected, value):
    return MeiliError(code, "Invalid value type%s: expected %s, but found %s: `%s`"
                      % (at(path), expected, kind(value), dumps(value)))


def value_error(code, path, text):
    return MeiliError(code, "Invalid value%s: %s" % (at(path), text))


def unknown_field(name, accepted, code="bad_request"):
    return MeiliError(code, "Unknown field `%s`: expected one of %s"
                      % (name, ", ".join("`%s`" % a for a in accepted)))


def missing_field(name, code):
    return MeiliError(code, "Missing field `%s`" % name)


def unknown_param(name, accepted):
    return MeiliError("bad_request", "Unknown parameter `%s`: expected one of %s"
                      % (name, ", ".join("`%s`" % a for a in accepted)))


def param_int_error(code, name, raw):
    return MeiliError(code, "Invalid value in parameter `%s`: could not parse `%s` as a positive integer"
                      % (name, raw))


def is_uint(v):
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def expect_uint(code, path, v):
    if not is_uint(v):
        raise type_error(code, path, "a positive integer", v)
    return v


def expect_bool(code, path, v):
    if not isinstance(v, bool):
        raise type_error(code, path, "a boolean", v)
    return v


def expect_str(code, path, v):
    if not isinstance(v, str):
        raise type_error(code, path, "a string", v)
    return v


def expect_str_list(code, path, v):
    if not isinstance(v, list):
        raise type_error(code, path, "an array", v)
    for i, item in enumerate(v):
        if not isinstance(item, str):
            raise type_error(code, "%s[%d]" % (path, i), "a string", item)
    return v


def query_uint(code, name, raw):
    if not re.fullmatch(r"\+?[0-9]+", raw or ""):
        raise param_int_error(code, name, raw)
    return int(raw)


def query_bool(code, name, raw):
    if raw == "true":
        return True
    if raw == "false":
        return False
    raise MeiliError(code, "Invalid value in parameter `%s`: could not parse `%s` as a boolean, expected either `true` or `false`"
                     % (name, raw))


def single_query(query):
    """dict name -> last value of a parse_qs-like dict of lists."""
    return {k: v[-1] for k, v in query.items()}


# --- JSON parsing with serde_json-like messages ---------------------------

def _eof_kind(text):
    stack = []
    in_str = False
    esc = False
    for ch in text:
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
            continue
        if ch == '"':
            in_str = True
        elif ch in "[{":
            stack.append(ch)
        elif ch in "]}":
            if stack:
                stack.pop()
    if in_str:
        return "a string"
    if not stack:
        return "a value"
    return "an object" if stack[-1] == "{" else "a list"


def _line_col(text, pos):
    line = text.count("\n", 0, pos) + 1
    start = text.rfind("\n", 0, pos) + 1
    return line, pos - start + 1


def json_error_text(text, err):
    """Approximate serde_json's error message for a Python JSONDecodeError."""
    msg = err.msg
    stripped_len = len(text.rstrip())
    if err.pos >= stripped_len and not msg.startswith("Extra data"):
        line, col = _line_col(text, max(stripped_len - 1, 0))
        if stripped_len == 0:
            line, col = 1, 0
        return "EOF while parsing %s at line %d column %d" % (_eof_kind(text), line, col)
    line, col = _line_col(text, err.pos)
    if msg.startswith("Extra data"):
        return "trailing characters at line %d column %d" % (line, col)
    if msg.startswith("Expecting property name"):
        return "key must be a string at line %d column %d" % (line, col)
    if msg.startswith("Expecting ',' delimiter"):
        return "expected `,` or `%s` at line %d column %d" % (
            "}" if _eof_kind(text[:err.pos]) == "an object" else "]", line, col)
    if msg.startswith("Expecting ':' delimiter"):
        return "expected `:` at line %d column %d" % (line, col)
    if msg.startswith("Expecting value"):
        return "expected value at line %d column %d" % (line, col)
    if msg.startswith("Invalid control character"):
        return "control character (\\u0000-\\u001F) found while parsing a string at line %d column %d" % (line, col)
    return "%s at line %d column %d" % (msg, line, col)


def _reject_constant(name):
    raise ValueError("NaN/Infinity not allowed")


def loads(text):
    """json.loads that rejects NaN/Infinity like serde does."""
    return json.loads(text, parse_constant=_reject_constant)

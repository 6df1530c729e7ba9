"""Request bodies: JSON routes and document payloads (JSON, NDJSON, CSV)."""

import csv
import io
import json
import re

from .errors import MeiliError
from .util import json_error_text, loads

DOC_TYPES = ["application/json", "application/x-ndjson", "text/csv"]


def media_type(content_type):
    if content_type is None:
        return None
    return content_type.split(";")[0].strip().lower()


def accepted_list(types):
    return ", ".join("`%s`" % t for t in types)


def check_content_type(content_type, accepted):
    mt = media_type(content_type)
    if content_type is None:
        raise MeiliError("missing_content_type",
                         "A Content-Type header is missing. Accepted values for the Content-Type header "
                         "are: %s" % accepted_list(accepted))
    if mt not in accepted:
        raise MeiliError("invalid_content_type",
                         "The Content-Type `%s` is invalid. Accepted values for the Content-Type header "
                         "are: %s" % (content_type, accepted_list(accepted)))
    return mt


def json_body(content_type, raw):
    """Parse the body of a JSON route like Meilisearch (415/400 errors)."""
    check_content_type(content_type, ["application/json"])
    if not raw:
        raise MeiliError("missing_payload", "A json payload is missing.")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MeiliError("malformed_payload", "The json payload provided is malformed. `invalid "
                         "UTF-8 sequence`.")
    try:
        return loads(text)
    except json.JSONDecodeError as e:
        raise MeiliError("malformed_payload", "The json payload provided is malformed. `%s`."
                         % json_error_text(text, e))
    except ValueError as e:
        raise MeiliError("malformed_payload", "The json payload provided is malformed. `%s`." % e)


def _malformed(fmt, text):
    return MeiliError("malformed_payload", "The `%s` payload provided is malformed. `%s`." % (fmt, text))


def parse_documents(mt, raw, delimiter=","):
    """Return the list of documents of a payload, or raise 400."""
    fmt = {"application/json": "json", "application/x-ndjson": "ndjson", "text/csv": "csv"}[mt]
    if not raw:
        raise MeiliError("missing_payload", "A %s payload is missing." % fmt)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise _malformed(fmt, "Couldn't serialize document value: %s" % e)
    if fmt == "json":
        try:
            value = loads(text)
        except json.JSONDecodeError as e:
            raise _malformed("json", "Couldn't serialize document value: %s" % json_error_text(text, e))
        except ValueError as e:
            raise _malformed("json", "Couldn't serialize document value: %s" % e)
        if isinstance(value, dict):
            return [value]
        if isinstance(value, list) and all(isinstance(d, dict) for d in value):
            return value
        if isinstance(value, list):
            # serde's untagged fallback reports the first non-object element
            pos = text.find("[") + 3
            return _raise_trailing(text, pos)
        raise _malformed("json", "Couldn't serialize document value: invalid type: %s, expected a "
                         "sequence or a map" % type(value).__name__)
    if fmt == "ndjson":
        return _ndjson(text)
    return _csv(text, delimiter)


def _raise_trailing(text, pos):
    raise _malformed("json", "Couldn't serialize document value: trailing characters at line 1 column %d" % (pos + 1))


def _ndjson(text):
    dec = json.JSONDecoder(parse_constant=lambda n: (_ for _ in ()).throw(ValueError(n)))
    docs = []
    i = 0
    n = len(text)
    ws = re.compile(r"\s*")
    while True:
        i = ws.match(text, i).end()
        if i >= n:
            break
        try:
            value, i = dec.raw_decode(text, i)
        except json.JSONDecodeError as e:
            raise _malformed("ndjson", json_error_text(text, e))
        except ValueError as e:
            raise _malformed("ndjson", str(e))
        if not isinstance(value, dict):
            raise _malformed("ndjson", "invalid type: %s, expected a map" % type(value).__name__)
        docs.append(value)
    return docs


def _csv(text, delimiter):
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)
    try:
        rows = list(reader)
    except csv.Error as e:
        raise MeiliError("malformed_payload", "The `csv` payload provided is malformed: `%s`." % e)
    if not rows:
        return []
    header = rows[0]
    cols = []
    for h in header:
        name, typ = h, "string"
        if ":" in h:
            base, suffix = h.rsplit(":", 1)
            if suffix in ("string", "number", "boolean"):
                name, typ = base, suffix
        cols.append((name, typ))
    docs = []
    for lineno, row in enumerate(rows[1:], start=1):
        if not row:
            continue
        if len(row) != len(cols):
            raise MeiliError("malformed_payload",
                             "The `csv` payload provided is malformed: `CSV error: record %d (line: %d, "
                             "byte: 0): found record with %d fields, but the previous record has %d fields`."
                             % (lineno, lineno + 1, len(row), len(cols)))
        doc = {}
        for (name, typ), cell in zip(cols, row):
            if cell == "":
                doc[name] = None
            elif typ == "string":
                doc[name] = cell
            elif typ == "number":
                t = cell.strip()
                try:
                    doc[name] = int(t) if re.fullmatch(r"[+-]?\d+", t) else float(t)
                    if isinstance(doc[name], float) and doc[name] != doc[name]:
                        raise ValueError
                except ValueError:
                    raise MeiliError("malformed_payload",
                                     "The `csv` payload provided is malformed: `Error parsing number \"%s\" "
                                     "at line %d: invalid float literal`." % (cell, lineno))
            else:
                t = cell.strip()
                if t not in ("true", "false"):
                    raise MeiliError("malformed_payload",
                                     "The `csv` payload provided is malformed: `Error parsing boolean \"%s\" "
                                     "at line %d: provided string was not `true` or `false``." % (cell, lineno))
                doc[name] = t == "true"
        docs.append(doc)
    return docs

"""API keys and tenant tokens, checked like Meilisearch 1.50."""

import base64
import hashlib
import hmac
import json
import re
import time
import uuid

from .errors import MeiliError
from .util import (now, fmt_date, parse_date, type_error, value_error, unknown_field,
                   missing_field)

ACTIONS = ["*", "search", "documents.*", "documents.add", "documents.get", "documents.delete",
           "indexes.*", "indexes.create", "indexes.get", "indexes.update", "indexes.delete",
           "indexes.swap", "tasks.*", "tasks.cancel", "tasks.delete", "tasks.get", "settings.*",
           "settings.get", "settings.update", "stats.*", "stats.get", "metrics.*", "metrics.get",
           "dumps.*", "dumps.create", "snapshots.*", "snapshots.create", "version", "keys.create",
           "keys.get", "keys.update", "keys.delete", "experimental.get", "experimental.update",
           "export", "network.get", "network.update", "chatCompletions", "chats.*", "chats.get",
           "chats.delete", "chatsSettings.*", "chatsSettings.get", "chatsSettings.update", "*.get",
           "webhooks.get", "webhooks.update", "webhooks.delete", "webhooks.create", "webhooks.*",
           "indexes.compact", "fields.post", "tasks.compact", "dynamicSearchRules.get",
           "dynamicSearchRules.create", "dynamicSearchRules.update", "dynamicSearchRules.delete",
           "dynamicSearchRules.*"]

DEFAULT_KEYS = [
    ("Default Search API Key", "Use it to search from the frontend", ["search"]),
    ("Default Admin API Key",
     "Use it for anything that is not a search operation. Caution! Do not expose it on a public frontend",
     ["*"]),
    ("Default Read-Only Admin API Key",
     "Use it to read information across the whole database. Caution! Do not expose this key on a public frontend",
     ["*.get", "keys.get"]),
    ("Default Chat API Key", "Use it to chat and search from the frontend", ["chatCompletions", "search"]),
]

KEY_FIELDS = ["description", "name", "uid", "actions", "indexes", "expiresAt"]

INVALID = "The provided API key is invalid."


def invalid_key(msg=INVALID):
    return MeiliError("invalid_api_key", msg)


def key_value(master, uid):
    return hmac.new(master.encode(), uid.encode(), hashlib.sha256).hexdigest()


def pattern_match(pattern, uid):
    if pattern == "*":
        return True
    if pattern.endswith("*"):
        return uid.startswith(pattern[:-1])
    return pattern == uid


def action_allowed(actions, action):
    if "*" in actions or action in actions:
        return True
    if action == "documents.all":
        return "documents.*" in actions
    prefix = action.split(".")[0]
    if prefix + ".*" in actions:
        return True
    if action.endswith(".get") and "*.get" in actions:
        return True
    return False


class Keys:
    """Key store living inside State.keys (uid -> key record)."""

    def __init__(self, state):
        self.state = state

    def ensure_defaults(self):
        if self.state.master_key is None or self.state.keys:
            return
        for name, desc, actions in DEFAULT_KEYS:
            self._insert({"name": name, "description": desc, "uid": str(uuid.uuid4()),
                          "actions": actions, "indexes": ["*"], "expiresAt": None})

    def _insert(self, rec):
        t = fmt_date(now())
        rec = dict(rec)
        rec["createdAt"] = t
        rec["updatedAt"] = t
        rec["seq"] = self.state.key_seq
        self.state.key_seq += 1
        self.state.keys[rec["uid"]] = rec
        return rec

    def view(self, rec):
        return {"name": rec["name"], "description": rec["description"],
                "key": key_value(self.state.master_key, rec["uid"]), "uid": rec["uid"],
                "actions": rec["actions"], "indexes": rec["indexes"], "expiresAt": rec["expiresAt"],
                "createdAt": rec["createdAt"], "updatedAt": rec["updatedAt"]}

    def ordered(self):
        recs = list(self.state.keys.values())
        # newest first; the four default keys share a creation instant and
        # keep their creation order
        return sorted(recs, key=lambda r: (-(r["seq"] if r["seq"] >= 4 else -1),
                                           r["seq"]))

    def find(self, uid_or_key):
        rec = self.state.keys.get(uid_or_key)
        if rec is not None:
            return rec
        for r in self.state.keys.values():
            if key_value(self.state.master_key, r["uid"]) == uid_or_key:
                return r
        return None

    def by_value(self, value):
        if not re.fullmatch(r"[0-9a-f]{64}", value or ""):
            return None
        for r in self.state.keys.values():
            if hmac.compare_digest(key_value(self.state.master_key, r["uid"]), value):
                return r
        return None

    def create(self, body):
        if not isinstance(body, dict):
            raise type_error("bad_request", "", "an object", body)
        for k in body:
            if k not in KEY_FIELDS:
                raise unknown_field(k, KEY_FIELDS)
        rec = {"name": None, "description": None}
        for k, v in body.items():
            if k in ("name", "description"):
                if v is not None and not isinstance(v, str):
                    raise type_error("invalid_api_key_" + k, "." + k, "a string", v)
                rec[k] = v
            elif k == "uid":
                if not isinstance(v, str):
                    raise type_error("invalid_api_key_uid", ".uid", "a string", v)
                try:
                    u = uuid.UUID(v)
                except ValueError:
                    raise value_error("invalid_api_key_uid", ".uid",
                                      "invalid character: expected an optional prefix of `urn:uuid:` "
                                      "followed by [0-9a-fA-F-], found `%s` at 1" % v[:1])
                rec["uid"] = str(u)
            elif k == "actions":
                if not isinstance(v, list):
                    raise type_error("invalid_api_key_actions", ".actions", "an array", v)
                for i, a in enumerate(v):
                    if not isinstance(a, str):
                        raise type_error("invalid_api_key_actions", ".actions[%d]" % i, "a string", a)
                    if a not in ACTIONS:
                        raise MeiliError("invalid_api_key_actions",
                                         "Unknown value `%s` at `.actions[%d]`: expected one of %s"
                                         % (a, i, ", ".join("`%s`" % x for x in ACTIONS)))
                rec["actions"] = list(dict.fromkeys(v))
            elif k == "indexes":
                if not isinstance(v, list):
                    raise type_error("invalid_api_key_indexes", ".indexes", "an array", v)
                for i, a in enumerate(v):
                    if not isinstance(a, str):
                        raise type_error("invalid_api_key_indexes", ".indexes[%d]" % i, "a string", a)
                    if not re.fullmatch(r"\*|[A-Za-z0-9_-]{1,400}\*?", a):
                        raise value_error("invalid_api_key_indexes", ".indexes[%d]" % i,
                                          "`%s` is not a valid index uid pattern. Index uid patterns can be "
                                          "an integer or a string containing only alphanumeric characters, "
                                          "hyphens (-), underscores (_), and optionally end with a star (*)."
                                          % a)
                rec["indexes"] = list(dict.fromkeys(v))
            elif k == "expiresAt":
                rec["expiresAt"] = self._expiry(v)
        for k, code in (("actions", "missing_api_key_actions"), ("indexes", "missing_api_key_indexes"),
                        ("expiresAt", "missing_api_key_expires_at")):
            if k not in body:
                raise missing_field(k, code)
        if "uid" not in rec:
            rec["uid"] = str(uuid.uuid4())
        with self.state.lock:
            if rec["uid"] in self.state.keys:
                raise MeiliError("api_key_already_exists",
                                 "`uid` field value `%s` is already an existing API key." % rec["uid"])
            r = self._insert(rec)
            self.state._dirty = True
        return self.view(r)

    def _expiry(self, v):
        if v is None:
            return None
        msg = ("`%s` is not a valid date. It should follow the RFC 3339 format to represents a date or "
               "datetime in the future or specified as a null value. e.g. 'YYYY-MM-DD' or "
               "'YYYY-MM-DD HH:MM:SS'.\n")
        if not isinstance(v, str):
            raise type_error("invalid_api_key_expires_at", ".expiresAt", "a string", v)
        try:
            d = parse_date(v)
        except ValueError:
            raise value_error("invalid_api_key_expires_at", ".expiresAt", msg % v)
        if d <= now():
            raise value_error("invalid_api_key_expires_at", ".expiresAt", msg % v)
        return d.strftime("%Y-%m-%dT%H:%M:%SZ") if not d.microsecond else fmt_date(d)

    def update(self, uid_or_key, body):
        if not isinstance(body, dict):
            raise type_error("bad_request", "", "an object", body)
        immutable = {"uid": "uid", "actions": "actions", "indexes": "indexes",
                     "expiresAt": "expires_at", "key": "key", "createdAt": "created_at",
                     "updatedAt": "updated_at"}
        for k, v in body.items():
            if k in immutable:
                raise MeiliError("immutable_api_key_" + immutable[k],
                                 "Immutable field `%s`: expected one of `description`, `name`" % k)
            if k not in ("name", "description"):
                raise unknown_field(k, ["description", "name"])
            if v is not None and not isinstance(v, str):
                raise type_error("invalid_api_key_" + k, "." + k, "a string", v)
        with self.state.lock:
            rec = self.find(uid_or_key)
            if rec is None:
                raise not_found(uid_or_key)
            for k, v in body.items():
                rec[k] = v
            rec["updatedAt"] = fmt_date(now())
            self.state._dirty = True
            return self.view(rec)

    def delete(self, uid_or_key):
        with self.state.lock:
            rec = self.find(uid_or_key)
            if rec is None:
                raise not_found(uid_or_key)
            del self.state.keys[rec["uid"]]
            self.state._dirty = True


def not_found(k):
    return MeiliError("api_key_not_found", "API key `%s` not found." % k)


class Access:
    """What the request's credentials allow."""

    def __init__(self, master=False, key=None, rules=None):
        self.master = master
        self.key = key          # key record (API key or tenant token signer)
        self.rules = rules      # tenant-token searchRules, or None

    def index_allowed(self, uid):
        if self.master:
            return True
        if self.rules is not None and rule_for(self.rules, uid) is None:
            return False
        return any(pattern_match(p, uid) for p in self.key["indexes"])

    def check_index(self, uid):
        if self.master:
            return
        if self.rules is not None:
            if rule_for(self.rules, uid) is None:
                allowed = list(self.rules) if isinstance(self.rules, (list, dict)) else []
                raise invalid_key("The provided tenant token cannot acces the index `%s`, allowed "
                                  "indexes are %s." % (uid, rust_list(allowed)))
            if not any(pattern_match(p, uid) for p in self.key["indexes"]):
                raise invalid_key("The API key used to generate this tenant token cannot acces the "
                                  "index `%s`." % uid)
            return
        if not any(pattern_match(p, uid) for p in self.key["indexes"]):
            raise invalid_key("The API key cannot acces the index `%s`, authorized indexes are %s."
                              % (uid, rust_list(self.key["indexes"])))

    def extra_filters(self, uid):
        """Tenant-token filters for an index (list, possibly empty)."""
        if self.rules is None:
            return []
        rule = rule_for(self.rules, uid)
        if rule is None or rule is True:
            return []
        if isinstance(rule, dict):
            f = rule.get("filter")
            return [] if f is None else [f]
        return []


def rust_list(items):
    return "[" + ", ".join(json.dumps(s) for s in items) + "]"


def rule_for(rules, uid):
    """The searchRules entry covering uid: True (no filter), a dict, or None."""
    if isinstance(rules, list):
        for p in rules:
            if isinstance(p, str) and pattern_match(p, uid):
                return True
        return None
    if isinstance(rules, dict):
        if uid in rules:
            return rules[uid] if rules[uid] is not None else True
        best = None
        for p, v in rules.items():
            if pattern_match(p, uid):
                if best is None or len(p) > len(best[0]):
                    best = (p, v)
        if best is not None:
            return best[1] if best[1] is not None else True
    return None


def _b64_last_symbol_check(seg):
    """Reject non-canonical trailing bits like Rust's base64 crate."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for i, ch in enumerate(seg):
        if ch not in alphabet:
            raise ValueError("Invalid symbol %d, offset %d." % (ord(ch), i))
    rem = len(seg) % 4
    if rem == 1:
        raise ValueError("Invalid input length.")
    if rem:
        last = alphabet.index(seg[-1])
        mask = 0x0F if rem == 2 else 0x03
        if last & mask:
            raise ValueError("Invalid last symbol %d, offset %d." % (ord(seg[-1]), len(seg) - 1))


def b64url(seg):
    _b64_last_symbol_check(seg)
    return base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4))


def decode_err(text):
    return invalid_key("Could not decode tenant token, %s." % text)


def tenant_token(state, keys, token):
    """Validate a tenant token; returns Access or raises MeiliError."""
    parts = token.split(".")
    if len(parts) != 3:
        raise invalid_key()
    try:
        header = json.loads(b64url(parts[0]))
    except ValueError as e:
        if isinstance(e, (json.JSONDecodeError, UnicodeDecodeError)):
            raise decode_err("JSON error: %s" % e)
        raise decode_err("Base64 error: %s" % e)
    alg = header.get("alg") if isinstance(header, dict) else None
    hashes = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}
    if alg not in hashes:
        raise decode_err("InvalidAlgorithm")
    try:
        claims = json.loads(b64url(parts[1]))
    except ValueError as e:
        if isinstance(e, (json.JSONDecodeError, UnicodeDecodeError)):
            raise decode_err("JSON error: %s" % e)
        raise decode_err("Base64 error: %s" % e)
    if not isinstance(claims, dict) or not isinstance(claims.get("apiKeyUid"), str):
        raise decode_err("JSON error: missing field `apiKeyUid`")
    if "searchRules" not in claims:
        raise decode_err("JSON error: missing field `searchRules`")
    rec = state.keys.get(claims["apiKeyUid"])
    if rec is None:
        raise invalid_key()
    secret = key_value(state.master_key, rec["uid"]).encode()
    try:
        sig = b64url(parts[2])
    except ValueError as e:
        raise decode_err("Base64 error: %s" % e)
    expected = hmac.new(secret, (parts[0] + "." + parts[1]).encode(), hashes[alg]).digest()
    if not hmac.compare_digest(sig, expected):
        raise decode_err("InvalidSignature")
    exp = claims.get("exp")
    if exp is not None:
        if not isinstance(exp, int) or isinstance(exp, bool):
            raise decode_err("JSON error: invalid type: expected i64")
        nowt = int(time.time())
        if exp < nowt:
            raise invalid_key("Tenant token expired. Was valid up to `%d` and we're now `%d`." % (exp, nowt))
    if not action_allowed(rec["actions"], "search") or key_expired(rec):
        raise invalid_key()
    rules = claims["searchRules"]
    if not isinstance(rules, (list, dict)):
        raise invalid_key("The provided tenant token is invalid.")
    return Access(key=rec, rules=rules)


def key_expired(rec):
    return rec["expiresAt"] is not None and parse_date(rec["expiresAt"]) <= now()


def authenticate(state, keys, auth_header, action, tenant_ok):
    """Return Access for the request, or raise the Meilisearch auth error."""
    if state.master_key is None:
        if action.startswith("keys."):
            raise MeiliError("missing_master_key",
                             "Meilisearch is running without a master key. To access this API endpoint, "
                             "you must have set a master key at launch.")
        return Access(master=True)
    if auth_header is None or not auth_header.startswith("Bearer"):
        raise MeiliError("missing_authorization_header",
                         "The Authorization header is missing. It must use the bearer authorization method.")
    token = auth_header[len("Bearer"):].strip()
    if not token:
        raise invalid_key()
    if hmac.compare_digest(token.encode(), state.master_key.encode()):
        return Access(master=True)
    with state.lock:
        rec = keys.by_value(token)
        if rec is not None:
            if key_expired(rec) or not action_allowed(rec["actions"], action):
                raise invalid_key()
            return Access(key=rec)
        if tenant_ok and action == "search":
            return tenant_token(state, keys, token)
    raise invalid_key()

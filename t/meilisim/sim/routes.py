"""Route handlers: the Meilisearch HTTP API on top of State."""

import copy
import datetime
import json
import re
import urllib.parse

from . import payload as pl
from . import settings as settings_mod
from .auth import Keys, authenticate
from .errors import MeiliError
from .store import (TASK_TYPES, TASK_STATUSES, TaskFilter, task_view, valid_index_uid,
                    index_uid_error, index_not_found, canonical_id, taskfilter_to_json)
from .util import (dumps, type_error, unknown_field, missing_field, unknown_param, query_uint,
                   query_bool, expect_uint, expect_bool, expect_str_list, fmt_date, parse_date, loads)

PAYLOAD_LIMIT_DEFAULT = 100_000_000


class _Engine:
    """Lazy access to sim.search, so the server runs while it is incomplete."""

    def __getattr__(self, name):
        try:
            from . import search
        except ImportError as e:
            raise MeiliError("internal", "meilisim: search engine unavailable (%s)" % e)
        fn = getattr(search, name, None)
        if fn is None:
            raise MeiliError("internal", "meilisim: search engine lacks `%s`" % name)
        return fn


_ENGINE = _Engine()


def engine():
    return _ENGINE


class Request:
    def __init__(self, method, path, raw_query, headers, body):
        self.method = method
        self.path = path
        self.raw_query = raw_query
        self.query = urllib.parse.parse_qs(raw_query, keep_blank_values=True)
        self.headers = headers
        self.body = body
        self.params = {}
        self.access = None

    def header(self, name):
        return self.headers.get(name)

    def q1(self):
        return {k: v[-1] for k, v in self.query.items()}


class Response:
    def __init__(self, status, body=None, headers=None):
        self.status = status
        self.body = body          # JSON-able object, or "" for an empty body
        self.headers = headers or {}


def check_params(req, accepted):
    for k in req.query:
        if k not in accepted:
            raise unknown_param(k, accepted)
    return req.q1()


def split_list(raw):
    return [s for s in (x.strip() for x in raw.split(",")) if s != ""] if raw is not None else None


class App:
    def __init__(self, state, faults=None, payload_limit=PAYLOAD_LIMIT_DEFAULT):
        self.state = state
        self.keys = Keys(state)
        self.faults = faults
        self.payload_limit = payload_limit
        self.routes = []
        self._build()

    # ------------------------------------------------------------------
    def _add(self, method, pattern, fn, action=None, tenant=False):
        rx = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern) + "$")
        self.routes.append((method, rx, fn, action, tenant))

    def _build(self):
        a = self._add
        a("GET", "/", self.root)
        a("GET", "/health", self.health)
        a("GET", "/version", self.version, "version")
        a("GET", "/stats", self.global_stats, "stats.get")
        a("GET", "/indexes", self.list_indexes, "indexes.get")
        a("POST", "/indexes", self.create_index, "indexes.create")
        a("GET", "/indexes/{uid}", self.get_index, "indexes.get")
        a("PATCH", "/indexes/{uid}", self.update_index, "indexes.update")
        a("DELETE", "/indexes/{uid}", self.delete_index, "indexes.delete")
        a("GET", "/indexes/{uid}/stats", self.index_stats, "stats.get")
        a("POST", "/indexes/{uid}/compact", self.compact_index, "indexes.compact")
        a("POST", "/swap-indexes", self.swap_indexes, "indexes.swap")
        a("GET", "/indexes/{uid}/documents", self.list_documents, "documents.get")
        a("POST", "/indexes/{uid}/documents", self.add_documents, "documents.add")
        a("PUT", "/indexes/{uid}/documents", self.add_documents, "documents.add")
        a("DELETE", "/indexes/{uid}/documents", self.clear_documents, "documents.delete")
        a("POST", "/indexes/{uid}/documents/fetch", self.fetch_documents, "documents.get")
        a("POST", "/indexes/{uid}/documents/delete-batch", self.delete_batch, "documents.delete")
        a("POST", "/indexes/{uid}/documents/delete", self.delete_by_filter, "documents.delete")
        a("POST", "/indexes/{uid}/documents/edit", self.edit_documents, "documents.all")
        a("GET", "/indexes/{uid}/documents/{docid}", self.get_document, "documents.get")
        a("DELETE", "/indexes/{uid}/documents/{docid}", self.delete_document, "documents.delete")
        a("GET", "/indexes/{uid}/search", self.search_get, "search", True)
        a("POST", "/indexes/{uid}/search", self.search_post, "search", True)
        a("POST", "/indexes/{uid}/facet-search", self.facet_search, "search", True)
        a("POST", "/multi-search", self.multi_search, "search", True)
        a("GET", "/indexes/{uid}/settings", self.get_settings, "settings.get")
        a("PATCH", "/indexes/{uid}/settings", self.patch_settings, "settings.update")
        a("DELETE", "/indexes/{uid}/settings", self.reset_settings, "settings.update")
        a("GET", "/indexes/{uid}/settings/{sub}", self.get_sub_setting, "settings.get")
        a("PUT", "/indexes/{uid}/settings/{sub}", self.update_sub_setting, "settings.update")
        a("PATCH", "/indexes/{uid}/settings/{sub}", self.update_sub_setting, "settings.update")
        a("DELETE", "/indexes/{uid}/settings/{sub}", self.reset_sub_setting, "settings.update")
        a("GET", "/tasks", self.list_tasks, "tasks.get")
        a("DELETE", "/tasks", self.delete_tasks, "tasks.delete")
        a("POST", "/tasks/cancel", self.cancel_tasks, "tasks.cancel")
        a("GET", "/tasks/{taskuid}", self.get_task, "tasks.get")
        a("GET", "/batches", self.list_batches, "tasks.get")
        a("GET", "/batches/{batchuid}", self.get_batch, "tasks.get")
        a("GET", "/keys", self.list_keys, "keys.get")
        a("POST", "/keys", self.create_key, "keys.create")
        a("GET", "/keys/{key}", self.get_key, "keys.get")
        a("PATCH", "/keys/{key}", self.update_key, "keys.update")
        a("DELETE", "/keys/{key}", self.delete_key, "keys.delete")
        a("POST", "/dumps", self.create_dump, "dumps.create")
        a("POST", "/snapshots", self.create_snapshot, "snapshots.create")
        a("GET", "/experimental-features", self.get_features, "experimental.get")
        a("PATCH", "/experimental-features", self.patch_features, "experimental.update")
        a("POST", "/export", self.export, "export")
        a("POST", "/_meilisim/faults", self.sim_faults)
        a("GET", "/_meilisim/faults", self.sim_get_faults)
        a("GET", "/_meilisim/state", self.sim_state)
        a("POST", "/_meilisim/crash", self.sim_crash)

    # ------------------------------------------------------------------
    def handle(self, req):
        path = req.path
        if len(path) > 1 and path.endswith("/"):
            path = path.rstrip("/") or "/"
        found_path = False
        for method, rx, fn, action, tenant in self.routes:
            m = rx.match(path)
            if not m:
                continue
            found_path = True
            if method != req.method:
                continue
            req.params = {k: urllib.parse.unquote(v) for k, v in m.groupdict().items()}
            try:
                if action is not None:
                    req.access = authenticate(self.state, self.keys, req.header("Authorization"),
                                              action, tenant)
                    uid = req.params.get("uid")
                    if uid is not None:
                        req.access.check_index(uid)
                        if not valid_index_uid(uid):
                            raise index_uid_error(uid)
                return fn(req)
            except MeiliError as e:
                headers = {"Retry-After": "10"} if e.status == 503 else None
                return Response(e.status, e.to_json(), headers)
        if found_path:
            return Response(405, "")
        return Response(404, "")

    # ------------------------------------------------------------------
    def json(self, req):
        if len(req.body) > self.payload_limit:
            raise self.too_large()
        return pl.json_body(req.header("Content-Type"), req.body)

    def too_large(self):
        lim = self.payload_limit
        human = ("%d MB" % (lim // 1_000_000)) if lim % 1_000_000 == 0 else ("%d B" % lim)
        return MeiliError("payload_too_large", "The provided payload reached the size limit. The "
                          "maximum accepted payload size is %s." % human)

    def index(self, uid):
        ix = self.state.indexes.get(uid)
        if ix is None:
            raise index_not_found(uid)
        return ix

    def can_create(self, req):
        acc = req.access
        if acc.master:
            return True
        from .auth import action_allowed
        return action_allowed(acc.key["actions"], "indexes.create")

    # ---------------- misc ----------------
    def root(self, req):
        return Response(200, {"status": "Meilisearch is running"})

    def health(self, req):
        return Response(200, {"status": "available"})

    def version(self, req):
        return Response(200, {"commitSha": "meilisim", "commitDate": "2026-07-23T00:00:00Z",
                              "pkgVersion": "1.50.0"})

    # ---------------- indexes ----------------
    def list_indexes(self, req):
        q = check_params(req, ["offset", "limit"])
        offset = query_uint("invalid_index_offset", "offset", q["offset"]) if "offset" in q else 0
        limit = query_uint("invalid_index_limit", "limit", q["limit"]) if "limit" in q else 20
        with self.state.lock:
            uids = sorted(u for u in self.state.indexes if req.access.index_allowed(u))
            res = [self.state.indexes[u].to_json() for u in uids[offset:offset + limit]]
        return Response(200, {"results": res, "offset": offset, "limit": limit, "total": len(uids)})

    def create_index(self, req):
        body = self.json(req)
        if not isinstance(body, dict):
            raise type_error("bad_request", "", "an object", body)
        uid = None
        pk = None
        for k, v in body.items():
            if k == "uid":
                if not isinstance(v, str):
                    raise type_error("invalid_index_uid", ".uid", "a string", v)
                if not valid_index_uid(v):
                    raise index_uid_error(v, ".uid")
                uid = v
            elif k == "primaryKey":
                if v is not None and not isinstance(v, str):
                    raise type_error("invalid_index_primary_key", ".primaryKey", "a string", v)
                pk = v
            else:
                raise unknown_field(k, ["uid", "primaryKey"])
        if uid is None:
            raise missing_field("uid", "missing_index_uid")
        req.access.check_index(uid)
        s = self.state.enqueue("indexCreation", uid, {"primaryKey": pk}, {"primaryKey": pk})
        return Response(202, s)

    def get_index(self, req):
        with self.state.lock:
            return Response(200, self.index(req.params["uid"]).to_json())

    def update_index(self, req):
        body = self.json(req)
        if not isinstance(body, dict):
            raise type_error("bad_request", "", "an object", body)
        pk = None
        new_uid = None
        for k, v in body.items():
            if k == "primaryKey":
                if v is not None and not isinstance(v, str):
                    raise type_error("invalid_index_primary_key", ".primaryKey", "a string", v)
                pk = v
            elif k == "uid":
                if not isinstance(v, str):
                    raise type_error("invalid_index_uid", ".uid", "a string", v)
                if not valid_index_uid(v):
                    raise index_uid_error(v, ".uid")
                new_uid = v
            elif k in ("createdAt", "updatedAt"):
                raise MeiliError("immutable_index_" + ("created_at" if k == "createdAt" else "updated_at"),
                                 "Immutable field `%s`: expected one of `primaryKey`, `uid`" % k)
            else:
                raise unknown_field(k, ["primaryKey", "uid"])
        uid = req.params["uid"]
        details = {"primaryKey": pk}
        if new_uid is not None:
            details["oldIndexUid"] = uid
            details["newIndexUid"] = new_uid
        s = self.state.enqueue("indexUpdate", uid, details, {"primaryKey": pk, "newUid": new_uid})
        return Response(202, s)

    def delete_index(self, req):
        uid = req.params["uid"]
        return Response(202, self.state.enqueue("indexDeletion", uid, {"deletedDocuments": None}))

    def compact_index(self, req):
        uid = req.params["uid"]
        with self.state.lock:
            self.index(uid)
        return Response(202, self.state.enqueue("indexCompaction", uid, None))

    def _stats(self, ix):
        raw = ix.raw_size()
        n = len(ix)
        return {"numberOfDocuments": n, "rawDocumentDbSize": raw,
                "avgDocumentSize": (raw // n) if n else 0,
                "isIndexing": self.state.index_is_indexing(ix.uid),
                "numberOfEmbeddings": 0, "numberOfEmbeddedDocuments": 0,
                "fieldDistribution": ix.field_distribution()}

    def index_stats(self, req):
        check_params(req, ["showInternalDatabaseSizes", "sizeFormat"])
        with self.state.lock:
            return Response(200, self._stats(self.index(req.params["uid"])))

    def global_stats(self, req):
        with self.state.lock:
            out = {}
            total = 0
            for uid in sorted(self.state.indexes):
                ix = self.state.indexes[uid]
                st = self._stats(ix)
                total += st["rawDocumentDbSize"]
                if req.access.index_allowed(uid):
                    out[uid] = st
            size = 4096 * 64 + total * 2
            return Response(200, {"databaseSize": size, "usedDatabaseSize": size,
                                  "lastUpdate": fmt_date(self.state.last_update), "indexes": out})

    def swap_indexes(self, req):
        body = self.json(req)
        if not isinstance(body, list):
            raise type_error("bad_request", "", "an array", body)
        swaps = []
        seen = []
        for i, item in enumerate(body):
            p = ".[%d]" % i
            if not isinstance(item, dict):
                raise type_error("bad_request", p, "an object", item)
            for k in item:
                if k not in ("indexes", "rename"):
                    raise unknown_field(k, ["indexes", "rename"])
            if "indexes" not in item:
                raise MeiliError("missing_swap_indexes", "Missing field `indexes` inside `%s`" % p)
            idx = item["indexes"]
            if not isinstance(idx, list):
                raise type_error("invalid_swap_indexes", p + ".indexes", "an array", idx)
            for j, u in enumerate(idx):
                if not isinstance(u, str):
                    raise type_error("invalid_swap_indexes", "%s.indexes[%d]" % (p, j), "a string", u)
                if not valid_index_uid(u):
                    raise index_uid_error(u, "%s.indexes[%d]" % (p, j))
            if len(idx) != 2:
                raise MeiliError("invalid_swap_indexes",
                                 "Two indexes must be given for each swap. The list `[%s]` contains %d indexes."
                                 % (", ".join('"%s"' % u for u in idx), len(idx)))
            rename = item.get("rename", False)
            if not isinstance(rename, bool):
                raise type_error("invalid_swap_rename", p + ".rename", "a boolean", rename)
            swaps.append({"indexes": list(idx), "rename": rename})
            for u in idx:
                req.access.check_index(u)
                seen.append(u)
        dups = []
        for u in seen:
            if seen.count(u) > 1 and u not in dups:
                dups.append(u)
        if len(dups) == 1:
            raise MeiliError("invalid_swap_duplicate_index_found",
                             "Indexes must be declared only once during a swap. `%s` was specified several "
                             "times." % dups[0])
        if dups:
            raise MeiliError("invalid_swap_duplicate_index_found",
                             "Indexes must be declared only once during a swap. %s were specified several "
                             "times." % ", ".join("`%s`" % u for u in dups))
        return Response(202, self.state.enqueue("indexSwap", None, {"swaps": swaps}))

    # ---------------- documents ----------------
    def add_documents(self, req):
        q = check_params(req, ["primaryKey", "csvDelimiter", "customMetadata", "skipCreation"])
        uid = req.params["uid"]
        pk = q.get("primaryKey")
        skip = query_bool("invalid_skip_creation", "skipCreation", q["skipCreation"]) \
            if "skipCreation" in q else False
        delim = q.get("csvDelimiter")
        if delim is not None:
            if len(delim) != 1:
                raise MeiliError("invalid_document_csv_delimiter",
                                 "Invalid value in parameter `csvDelimiter`: expected a string of one "
                                 "character, but found the following string of %d characters: `%s`"
                                 % (len(delim), delim))
            if ord(delim) > 127:
                raise MeiliError("invalid_document_csv_delimiter",
                                 "Invalid value in parameter `csvDelimiter`: csv delimiter must be an ascii "
                                 "character. Found: `%s`" % delim)
        mt = pl.check_content_type(req.header("Content-Type"), pl.DOC_TYPES)
        if delim is not None and mt != "text/csv":
            raise MeiliError("invalid_content_type",
                             "The Content-Type `%s` does not support the use of a csv delimiter. The csv "
                             "delimiter can only be used with the Content-Type `text/csv`." % mt)
        if len(req.body) > self.payload_limit:
            raise self.too_large()
        docs = pl.parse_documents(mt, req.body, delim or ",")
        if not self.can_create(req):
            with self.state.lock:
                self.index(uid)
        details = {"receivedDocuments": len(docs), "indexedDocuments": None}
        payload = {"documents": docs, "method": "update" if req.method == "PUT" else "replace",
                   "primaryKey": pk, "skipCreation": skip}
        s = self.state.enqueue("documentAdditionOrUpdate", uid, details, payload,
                               q.get("customMetadata"))
        return Response(202, s)

    def _doc_list(self, req, offset, limit, fields, flt, ids, sort, vectors, proxy=False):
        with self.state.lock:
            ix = self.index(req.params["uid"])
        pairs = list(ix.iter_documents())
        if ids is not None:
            wanted = set(ids)
            pairs = [(i, d) for i, d in pairs if ix.external_of(i) in wanted]
        if flt is not None and not _empty_filter(flt):
            pred = engine().compile_filter(ix, flt, "documents")
            pairs = [(i, d) for i, d in pairs if pred(d)]
        if sort:
            pairs = engine().sort_documents(ix, pairs, sort)
        total = len(pairs)
        page = pairs[offset:offset + limit]
        res = [project(d, fields, vectors) for _, d in page]
        if proxy:
            for out, (_, d) in zip(res, page):
                out["_federation"] = {"weightedScoreValues":
                                      engine().document_sort_values(ix, d, sort or [])}
        return Response(200, {"results": res, "offset": offset, "limit": limit, "total": total})

    def list_documents(self, req):
        q = check_params(req, ["offset", "limit", "fields", "retrieveVectors", "ids", "filter", "sort",
                               "useNetwork"])
        offset = query_uint("invalid_document_offset", "offset", q["offset"]) if "offset" in q else 0
        limit = query_uint("invalid_document_limit", "limit", q["limit"]) if "limit" in q else 20
        fields = split_list(q.get("fields"))
        vectors = query_bool("invalid_document_retrieve_vectors", "retrieveVectors",
                             q["retrieveVectors"]) if "retrieveVectors" in q else False
        if "useNetwork" in q:
            query_bool("invalid_document_use_network", "useNetwork", q["useNetwork"])
        ids = None
        if "ids" in q:
            ids = []
            for s in split_list(q["ids"]):
                if canonical_id(s) is None:
                    raise MeiliError("invalid_document_ids",
                                     "Invalid value in parameter `ids`: %s" % _bad_id_text(s))
                ids.append(s)
        flt = q.get("filter")
        if flt is not None:
            try:
                flt = json.loads(flt)
            except ValueError:
                pass
        sort = _split_sort(q["sort"]) if "sort" in q else None
        return self._doc_list(req, offset, limit, fields, flt, ids, sort, vectors)

    def fetch_documents(self, req):
        body = self.json(req)
        if not isinstance(body, dict):
            raise type_error("bad_request", "", "an object", body)
        accepted = ["offset", "limit", "fields", "retrieveVectors", "filter", "ids", "sort", "useNetwork"]
        offset, limit, fields, vectors, flt, ids, sort = 0, 20, None, False, None, None, None
        for k, v in body.items():
            if k == "offset":
                offset = expect_uint("invalid_document_offset", ".offset", v)
            elif k == "limit":
                limit = expect_uint("invalid_document_limit", ".limit", v)
            elif k == "fields":
                if v is not None:
                    fields = expect_str_list("invalid_document_fields", ".fields", v)
            elif k == "retrieveVectors":
                vectors = expect_bool("invalid_document_retrieve_vectors", ".retrieveVectors", v)
            elif k == "filter":
                if v is not None and not isinstance(v, (str, list)):
                    raise MeiliError("invalid_document_filter",
                                     "Invalid syntax for the filter parameter: `expected String, Array, "
                                     "found: %s`." % dumps(v))
                flt = v
            elif k == "ids":
                if v is not None:
                    if not isinstance(v, list):
                        raise type_error("invalid_document_ids", ".ids", "an array", v)
                    ids = []
                    for i, x in enumerate(v):
                        c = canonical_id(x)
                        if c is None:
                            raise MeiliError("invalid_document_ids", "Invalid value at `.ids[%d]`: %s"
                                             % (i, _bad_id_text(x)))
                        ids.append(c)
            elif k == "sort":
                if v is not None:
                    sort = expect_str_list("invalid_document_sort", ".sort", v)
            elif k == "useNetwork":
                expect_bool("invalid_document_use_network", ".useNetwork", v)
            else:
                raise unknown_field(k, accepted)
        proxy = req.header("Meili-Proxy-Search") == "true"
        return self._doc_list(req, offset, limit, fields, flt, ids, sort, vectors, proxy)

    def get_document(self, req):
        q = check_params(req, ["fields", "retrieveVectors", "useNetwork"])
        fields = split_list(q.get("fields"))
        vectors = query_bool("invalid_document_retrieve_vectors", "retrieveVectors",
                             q["retrieveVectors"]) if "retrieveVectors" in q else False
        docid = req.params["docid"]
        with self.state.lock:
            ix = self.index(req.params["uid"])
            doc = ix.get_document(docid)
        if doc is None:
            raise MeiliError("document_not_found", "Document `%s` not found." % docid)
        return Response(200, project(doc, fields, vectors))

    def edit_documents(self, req):
        if not self.state.features.get("editDocumentsByFunction"):
            raise MeiliError("feature_not_enabled",
                             "Using the documents edit route requires enabling the `edit documents by function` "
                             "experimental feature. See https://github.com/orgs/meilisearch/discussions/762")
        raise MeiliError("feature_not_enabled", "meilisim does not implement editing documents by function.")

    def _doc_param_check(self, req):
        return check_params(req, ["customMetadata"])

    def delete_document(self, req):
        q = self._doc_param_check(req)
        details = {"providedIds": 1, "deletedDocuments": None, "originalFilter": None}
        s = self.state.enqueue("documentDeletion", req.params["uid"], details,
                               {"kind": "ids", "ids": [req.params["docid"]]}, q.get("customMetadata"))
        return Response(202, s)

    def delete_batch(self, req):
        q = self._doc_param_check(req)
        body = self.json(req)
        if not isinstance(body, list):
            raise type_error("bad_request", "", "an array", body)
        ids = [x if isinstance(x, str) else dumps(x) for x in body]
        details = {"providedIds": len(ids), "deletedDocuments": None, "originalFilter": None}
        s = self.state.enqueue("documentDeletion", req.params["uid"], details,
                               {"kind": "ids", "ids": ids}, q.get("customMetadata"))
        return Response(202, s)

    def delete_by_filter(self, req):
        q = self._doc_param_check(req)
        body = self.json(req)
        if not isinstance(body, dict):
            raise type_error("bad_request", "", "an object", body)
        for k in body:
            if k != "filter":
                raise unknown_field(k, ["filter"])
        if "filter" not in body:
            raise missing_field("filter", "missing_document_filter")
        flt = body["filter"]
        if not isinstance(flt, (str, list)):
            raise MeiliError("invalid_document_filter",
                             "Invalid syntax for the filter parameter: `expected String, Array, found: %s`."
                             % dumps(flt))
        if _empty_filter(flt):
            raise MeiliError("invalid_document_filter", "Sending an empty filter is forbidden.")
        _check_filter_syntax(flt)
        details = {"providedIds": 0, "deletedDocuments": None, "originalFilter": dumps(flt)}
        s = self.state.enqueue("documentDeletion", req.params["uid"], details,
                               {"kind": "filter", "filter": flt}, q.get("customMetadata"))
        return Response(202, s)

    def clear_documents(self, req):
        q = self._doc_param_check(req)
        s = self.state.enqueue("documentDeletion", req.params["uid"], {"deletedDocuments": None},
                               {"kind": "clear"}, q.get("customMetadata"))
        return Response(202, s)

    # ---------------- search ----------------
    def search_get(self, req):
        with self.state.lock:
            ix = self.index(req.params["uid"])
        extra = req.access.extra_filters(ix.uid)
        return Response(200, engine().search_get(ix, req.query, extra))

    def search_post(self, req):
        with self.state.lock:
            ix = self.index(req.params["uid"])
        body = self.json(req)
        extra = req.access.extra_filters(ix.uid)
        return Response(200, engine().search_post(ix, body, extra))

    def facet_search(self, req):
        with self.state.lock:
            ix = self.index(req.params["uid"])
        body = self.json(req)
        extra = req.access.extra_filters(ix.uid)
        return Response(200, engine().facet_search(ix, body, extra))

    def multi_search(self, req):
        body = self.json(req)
        acc = req.access

        def resolve(uid):
            acc.check_index(uid)
            with self.state.lock:
                return self.index(uid)

        if req.header("Meili-Proxy-Search") == "true" and isinstance(body, dict) \
                and body.get("federation") is not None:
            if not self.state.features.get("network"):
                raise MeiliError("feature_not_enabled",
                                 "Using `Meili-Proxy-Search` requires enabling the `network` experimental "
                                 "feature. See https://github.com/orgs/meilisearch/discussions/805")
            return Response(200, engine().multi_search(body, resolve, acc.extra_filters, proxy=True))
        return Response(200, engine().multi_search(body, resolve, acc.extra_filters))

    # ---------------- settings ----------------
    def get_settings(self, req):
        with self.state.lock:
            ix = self.index(req.params["uid"])
            s = copy.deepcopy(ix.settings)
        return Response(200, {k: s[k] for k in settings_mod.DEFAULTS})

    def _settings_task(self, req, update):
        uid = req.params["uid"]
        if not self.can_create(req):
            with self.state.lock:
                self.index(uid)
        s = self.state.enqueue("settingsUpdate", uid, settings_mod.details_of(update),
                               {"update": update})
        return Response(202, s)

    def patch_settings(self, req):
        body = self.json(req)
        return self._settings_task(req, settings_mod.validate_patch(body))

    def reset_settings(self, req):
        return self._settings_task(req, settings_mod.clear_all())

    def _sub(self, req):
        sub = req.params["sub"]
        if sub not in settings_mod.SUBROUTES:
            raise _NotFound()
        return settings_mod.SUBROUTES[sub]

    def get_sub_setting(self, req):
        try:
            key, _ = self._sub(req)
        except _NotFound:
            return Response(404, "")
        with self.state.lock:
            ix = self.index(req.params["uid"])
            return Response(200, copy.deepcopy(ix.settings[key]))

    def update_sub_setting(self, req):
        try:
            key, verb = self._sub(req)
        except _NotFound:
            return Response(404, "")
        if verb != req.method:
            return Response(405, "")
        body = self.json(req)
        value = None if body is None else settings_mod.validate_value(key, body, root=True)
        return self._settings_task(req, {key: value})

    def reset_sub_setting(self, req):
        try:
            key, _ = self._sub(req)
        except _NotFound:
            return Response(404, "")
        return self._settings_task(req, {key: None})

    # ---------------- tasks ----------------
    FILTER_PARAMS = ["uids", "batchUids", "indexUids", "statuses", "types", "canceledBy",
                     "beforeEnqueuedAt", "afterEnqueuedAt", "beforeStartedAt", "afterStartedAt",
                     "beforeFinishedAt", "afterFinishedAt"]

    def _task_filter(self, q, req):
        f = TaskFilter()

        def uint_list(name, code):
            vals = split_list(q[name])
            if "*" in vals:
                return None
            return set(query_uint(code, name, v) for v in vals)

        if "uids" in q:
            f.uids = uint_list("uids", "invalid_task_uids")
        if "batchUids" in q:
            f.batch_uids = uint_list("batchUids", "invalid_batch_uids")
        if "canceledBy" in q:
            f.canceled_by = uint_list("canceledBy", "invalid_task_canceled_by")
        if "indexUids" in q:
            vals = split_list(q["indexUids"])
            if "*" not in vals:
                for v in vals:
                    if not valid_index_uid(v):
                        raise MeiliError("invalid_index_uid", "Invalid value in parameter `indexUids`: %s"
                                         % index_uid_error(v).message)
                f.index_uids = set(vals)
        if "statuses" in q:
            vals = split_list(q["statuses"])
            if "*" not in vals:
                for v in vals:
                    if v not in TASK_STATUSES:
                        raise MeiliError("invalid_task_statuses",
                                         "Invalid value in parameter `statuses`: `%s` is not a valid task "
                                         "status. Available statuses are %s." % (
                                             v, ", ".join("`%s`" % s for s in TASK_STATUSES)))
                f.statuses = set(vals)
        if "types" in q:
            vals = split_list(q["types"])
            if "*" not in vals:
                for v in vals:
                    if v not in TASK_TYPES:
                        raise MeiliError("invalid_task_types",
                                         "Invalid value in parameter `types`: `%s` is not a valid task type. "
                                         "Available types are %s." % (
                                             v, ", ".join("`%s`" % s for s in TASK_TYPES)))
                f.types = set(vals)
        for side in ("before", "after"):
            for fld in ("Enqueued", "Started", "Finished"):
                name = "%s%sAt" % (side, fld)
                if name not in q:
                    continue
                raw = q[name]
                code = "invalid_task_%s_%s_at" % (side, fld.lower())
                if raw == "*":
                    continue
                try:
                    d = parse_date(raw)
                except ValueError:
                    raise MeiliError(code, "Invalid value in parameter `%s`: `%s` is an invalid date-time. "
                                     "It should follow the YYYY-MM-DD or RFC 3339 date-time format."
                                     % (name, raw))
                if side == "after" and re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw.strip()):
                    d = d + datetime.timedelta(days=1)
                f.dates[(side, fld.lower() + "At")] = d
        if not req.access.master:
            f.allowed_index = req.access.index_allowed
        return f

    def list_tasks(self, req):
        q = check_params(req, ["limit", "from", "reverse"] + self.FILTER_PARAMS)
        limit = query_uint("invalid_task_limit", "limit", q["limit"]) if "limit" in q else 20
        frm = query_uint("invalid_task_from", "from", q["from"]) if "from" in q else None
        rev = query_bool("invalid_task_reverse", "reverse", q["reverse"]) if "reverse" in q else False
        f = self._task_filter(q, req)
        with self.state.lock:
            matched = [t for t in self.state.tasks.values() if f.matches(t)]
            matched.sort(key=lambda t: t["uid"], reverse=not rev)
            total = len(matched)
            if frm is not None:
                matched = [t for t in matched if (t["uid"] >= frm if rev else t["uid"] <= frm)]
            page = [task_view(copy.deepcopy(t)) for t in matched[:limit]]
            nxt = matched[limit]["uid"] if len(matched) > limit else None
        return Response(200, {"results": page, "total": total, "limit": limit,
                              "from": page[0]["uid"] if page else None, "next": nxt})

    def _filtered_task_op(self, req, what, type_, count_key):
        q = check_params(req, self.FILTER_PARAMS)
        if not q:
            raise MeiliError("missing_task_filters",
                             "Query parameters to filter the tasks to %s are missing. Available query "
                             "parameters are: `uids`, `indexUids`, `statuses`, `types`, `canceledBy`, "
                             "`beforeEnqueuedAt`, `afterEnqueuedAt`, `beforeStartedAt`, `afterStartedAt`, "
                             "`beforeFinishedAt`, `afterFinishedAt`." % what)
        f = self._task_filter(q, req)
        with self.state.lock:
            matched = sum(1 for t in self.state.tasks.values() if f.matches(t))
            details = {"matchedTasks": matched, count_key: None, "originalFilter": "?" + req.raw_query}
            s = self.state.enqueue(type_, None, details, {"filter": taskfilter_to_json(f)})
        return Response(200, s) if False else Response(202, s)

    def cancel_tasks(self, req):
        return self._filtered_task_op(req, "cancel", "taskCancelation", "canceledTasks")

    def delete_tasks(self, req):
        return self._filtered_task_op(req, "delete", "taskDeletion", "deletedTasks")

    def get_task(self, req):
        raw = req.params["taskuid"]
        if not re.fullmatch(r"[0-9]+", raw):
            raise MeiliError("invalid_task_uids",
                             "Task uid `%s` is invalid. It should only contain numeric characters." % raw)
        uid = int(raw)
        with self.state.lock:
            t = self.state.tasks.get(uid)
            if t is None or (t["indexUid"] is not None and not req.access.index_allowed(t["indexUid"])):
                raise MeiliError("task_not_found", "Task `%d` not found." % uid)
            return Response(200, task_view(copy.deepcopy(t)))

    def list_batches(self, req):
        q = check_params(req, ["limit", "from", "reverse"] + self.FILTER_PARAMS)
        limit = query_uint("invalid_task_limit", "limit", q["limit"]) if "limit" in q else 20
        frm = query_uint("invalid_task_from", "from", q["from"]) if "from" in q else None
        rev = query_bool("invalid_task_reverse", "reverse", q["reverse"]) if "reverse" in q else False
        with self.state.lock:
            bs = sorted(self.state.batches.values(), key=lambda b: b["uid"], reverse=not rev)
            total = len(bs)
            if frm is not None:
                bs = [b for b in bs if (b["uid"] >= frm if rev else b["uid"] <= frm)]
            page = copy.deepcopy(bs[:limit])
            nxt = bs[limit]["uid"] if len(bs) > limit else None
        return Response(200, {"results": page, "total": total, "limit": limit,
                              "from": page[0]["uid"] if page else None, "next": nxt})

    def get_batch(self, req):
        raw = req.params["batchuid"]
        if not re.fullmatch(r"[0-9]+", raw):
            raise MeiliError("invalid_batch_uids",
                             "Batch uid `%s` is invalid. It should only contain numeric characters." % raw)
        with self.state.lock:
            b = self.state.batches.get(int(raw))
            if b is None:
                raise MeiliError("batch_not_found", "Batch `%s` not found." % raw)
            return Response(200, copy.deepcopy(b))

    # ---------------- keys ----------------
    def list_keys(self, req):
        q = check_params(req, ["offset", "limit"])
        offset = query_uint("invalid_api_key_offset", "offset", q["offset"]) if "offset" in q else 0
        limit = query_uint("invalid_api_key_limit", "limit", q["limit"]) if "limit" in q else 20
        with self.state.lock:
            recs = self.keys.ordered()
            res = [self.keys.view(r) for r in recs[offset:offset + limit]]
        return Response(200, {"results": res, "offset": offset, "limit": limit, "total": len(recs)})

    def create_key(self, req):
        body = self.json(req)
        return Response(201, self.keys.create(body))

    def get_key(self, req):
        with self.state.lock:
            rec = self.keys.find(req.params["key"])
            if rec is None:
                raise MeiliError("api_key_not_found", "API key `%s` not found." % req.params["key"])
            return Response(200, self.keys.view(rec))

    def update_key(self, req):
        body = self.json(req)
        return Response(200, self.keys.update(req.params["key"], body))

    def delete_key(self, req):
        self.keys.delete(req.params["key"])
        return Response(204, "")

    # ---------------- dumps, snapshots, features, export ----------------
    def create_dump(self, req):
        return Response(202, self.state.enqueue("dumpCreation", None, {"dumpUid": None}))

    def create_snapshot(self, req):
        return Response(202, self.state.enqueue("snapshotCreation", None, None))

    FEATURES = ["metrics", "logsRoute", "editDocumentsByFunction", "containsFilter",
                "dynamicSearchRules", "network", "getTaskDocumentsRoute", "taskQueueCompactionRoute",
                "compositeEmbedders", "chatCompletions", "multimodal", "foreignKeys",
                "disableDocumentsFetchQueue", "legacySearch", "renderRoute"]

    def _features(self):
        return {k: bool(self.state.features.get(k, False)) for k in self.FEATURES}

    def get_features(self, req):
        return Response(200, self._features())

    def patch_features(self, req):
        body = self.json(req)
        if not isinstance(body, dict):
            raise type_error("bad_request", "", "an object", body)
        for k, v in body.items():
            if k not in self.FEATURES:
                raise unknown_field(k, self.FEATURES)
            if v is not None and not isinstance(v, bool):
                raise type_error("bad_request", "." + k, "a boolean", v)
        with self.state.lock:
            for k, v in body.items():
                if v is not None:
                    self.state.features[k] = v
            self.state._dirty = True
        return Response(200, self._features())

    def export(self, req):
        from . import export
        body = self.json(req)
        details, payload = export.validate(body)
        # Meilisearch 1.50 answers this route with 200, not 202
        return Response(200, self.state.enqueue("export", None, details, payload))

    # ---------------- emulator control ----------------
    def sim_faults(self, req):
        body = loads(req.body.decode("utf-8") or "{}") if req.body else {}
        if not isinstance(body, dict):
            raise MeiliError("bad_request", "faults body must be a JSON object")
        try:
            type(self.faults)().configure(body)     # validate before touching the live knobs
            self.faults.configure(body, reset=True)
        except (ValueError, TypeError, re.error) as e:
            raise MeiliError("bad_request", "meilisim: invalid fault configuration: %s" % e)
        with self.state.lock:
            self.state.pause_worker = self.faults.pause_tasks
            self.state.cond.notify_all()
        return Response(200, self.faults.describe())

    def sim_get_faults(self, req):
        return Response(200, self.faults.describe())

    def sim_state(self, req):
        with self.state.lock:
            counts = {}
            for t in self.state.tasks.values():
                counts[t["status"]] = counts.get(t["status"], 0) + 1
            return Response(200, {
                "name": self.state.name,
                "indexes": {u: {"numberOfDocuments": len(ix), "primaryKey": ix.primary_key}
                            for u, ix in sorted(self.state.indexes.items())},
                "tasks": {"total": len(self.state.tasks), "byStatus": counts,
                          "nextTaskUid": self.state.next_task_uid},
                "faults": self.faults.describe()})

    def sim_crash(self, req):
        import os
        os._exit(1)


class _NotFound(Exception):
    pass


class _AnyFilterable:
    """Index stand-in where every attribute is filterable: compiling a filter
    against it reports syntax errors only (what Meilisearch checks before the
    202 of a delete-by-filter; filterability is checked by the task)."""

    uid = ""
    primary_key = None

    def __init__(self):
        self.settings = settings_mod.defaults()
        self.settings["filterableAttributes"] = ["*"]

    def iter_documents(self):
        return iter(())

    def get_document(self, external_id):
        return None


def _check_filter_syntax(flt):
    try:
        from . import search
    except ImportError:
        return
    try:
        search.compile_filter(_AnyFilterable(), flt, "delete")
    except MeiliError as e:
        if e.code == "invalid_document_filter" and "filterable" not in e.message:
            raise


def _empty_filter(flt):
    if isinstance(flt, str):
        return flt.strip() == ""
    if isinstance(flt, list):
        return all(_empty_filter(x) for x in flt)
    return flt is None


def _bad_id_text(x):
    return ("Document identifier `%s` is invalid. A document identifier can be of type integer or string, "
            "only composed of alphanumeric characters (a-z A-Z 0-9), hyphens (-) and underscores (_), and "
            "can not be more than 511 bytes." % dumps(x))


def _split_sort(raw):
    parts = raw.split(",")
    out = []
    buf = None
    for p in parts:
        if buf is not None:
            buf += "," + p
            if ")" in p:
                out.append(buf.strip())
                buf = None
            continue
        if "(" in p and ")" not in p:
            buf = p
            continue
        if p.strip():
            out.append(p.strip())
    if buf is not None:
        out.append(buf.strip())
    return out


def _select(obj, selectors, prefix):
    out = {}
    for k, v in obj.items():
        full = prefix + k
        if any(s == full or full.startswith(s + ".") for s in selectors):
            out[k] = v
        elif any(s.startswith(full + ".") for s in selectors):
            if isinstance(v, dict):
                sub = _select(v, selectors, full + ".")
                if sub:
                    out[k] = sub
            elif isinstance(v, list):
                items = [_select(x, selectors, full + ".") for x in v if isinstance(x, dict)]
                items = [x for x in items if x]
                if items:
                    out[k] = items
    return out


def project(doc, fields, vectors):
    if fields is None or "*" in fields:
        out = dict(doc)
    else:
        out = _select(doc, fields, "")
    if not vectors:
        out.pop("_vectors", None)
    return out

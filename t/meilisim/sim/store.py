"""Emulator state: indexes with internal document ids, tasks, keys.

The search engine (sim/search) only uses Index.uid, Index.primary_key,
Index.settings, Index.iter_documents() and Index.get_document().
"""

import copy
import heapq
import json
import os
import re
import threading

from . import settings as settings_mod
from .errors import MeiliError
from .util import now, fmt_date, parse_date, fmt_duration, dumps

ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,511}$")
INDEX_UID_RE = re.compile(r"^[A-Za-z0-9_-]{1,400}$")

TASK_TYPES = ["documentAdditionOrUpdate", "documentEdition", "documentDeletion",
              "settingsUpdate", "indexCreation", "indexDeletion", "indexUpdate",
              "indexSwap", "taskCancelation", "taskDeletion", "dumpCreation",
              "snapshotCreation", "export", "upgradeDatabase", "indexCompaction",
              "networkTopologyChange"]
TASK_STATUSES = ["enqueued", "processing", "succeeded", "failed", "canceled"]


def canonical_id(value):
    """Canonical external id string, or None when the value is not a valid id."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and ID_RE.match(value):
        return value
    return None


def invalid_id_error(value):
    return MeiliError(
        "invalid_document_id",
        "Document identifier `%s` is invalid. A document identifier can be of type integer or "
        "string, only composed of alphanumeric characters (a-z A-Z 0-9), hyphens (-) and "
        "underscores (_), and can not be more than 511 bytes." % dumps(value))


def find_id_values(doc, pk):
    """All values found in doc for the (possibly dotted) primary key."""
    if "." not in pk:
        return [doc[pk]] if pk in doc else []
    found = []

    def walk(obj, parts):
        for i in range(1, len(parts) + 1):
            k = ".".join(parts[:i])
            if k in obj:
                if i == len(parts):
                    found.append(obj[k])
                elif isinstance(obj[k], dict):
                    walk(obj[k], parts[i:])

    walk(doc, pk.split("."))
    return found


def valid_index_uid(uid):
    return isinstance(uid, str) and bool(INDEX_UID_RE.match(uid))


def index_uid_error(uid, path=None):
    text = ("`%s` is not a valid index uid. Index uid can be an integer or a string containing "
            "only alphanumeric characters, hyphens (-) and underscores (_), and can not be more "
            "than 512 bytes." % uid)
    if path is not None:
        text = "Invalid value at `%s`: %s" % (path, text)
    return MeiliError("invalid_index_uid", text)


def index_not_found(uid):
    return MeiliError("index_not_found", "Index `%s` not found." % uid)


class Index:
    """One index. All mutation happens under the shared state lock."""

    def __init__(self, uid, primary_key=None, lock=None):
        self.uid = uid
        self.primary_key = primary_key
        self.settings = settings_mod.defaults()
        self.created_at = now()
        self.updated_at = self.created_at
        self.lock = lock or threading.RLock()
        self._docs = {}        # internal id -> document
        self._ext = {}         # canonical external id -> internal id
        self._iid_ext = {}     # internal id -> canonical external id
        self._free = []        # heap of freed internal ids
        self._next = 0
        self._fields = {}      # field name -> field id (first-seen order)
        self._sorted = None

    # --- interface used by the search engine ---
    def iter_documents(self):
        with self.lock:
            if self._sorted is None:
                self._sorted = sorted(self._docs.items())
            snap = self._sorted
        return iter(snap)

    def snapshot(self):
        """The sorted (internal id, document) list; the same object until the
        documents change (lets the search engine reuse its per-index caches)."""
        with self.lock:
            if self._sorted is None:
                self._sorted = sorted(self._docs.items())
            return self._sorted

    def get_document(self, external_id):
        with self.lock:
            iid = self._ext.get(str(external_id))
            return None if iid is None else self._docs[iid]

    # --- emulator side ---
    def __len__(self):
        return len(self._docs)

    def internal_id(self, external_id):
        return self._ext.get(external_id)

    def _order(self, doc):
        for k in doc:
            if k not in self._fields:
                self._fields[k] = len(self._fields)
        return dict(sorted(doc.items(), key=lambda kv: self._fields[kv[0]]))

    def put(self, ext, doc):
        """Store doc under ext id, keeping the internal id of an existing doc."""
        doc = self._order(doc)
        iid = self._ext.get(ext)
        if iid is None:
            if self._free:
                iid = heapq.heappop(self._free)
            else:
                iid = self._next
                self._next += 1
            self._ext[ext] = iid
            self._iid_ext[iid] = ext
        self._docs[iid] = doc
        self._sorted = None
        return iid

    def delete(self, ext):
        iid = self._ext.pop(ext, None)
        if iid is None:
            return False
        del self._docs[iid]
        del self._iid_ext[iid]
        heapq.heappush(self._free, iid)
        self._sorted = None
        return True

    def clear(self):
        n = len(self._docs)
        self._docs.clear()
        self._ext.clear()
        self._iid_ext.clear()
        self._free = []
        self._next = 0
        self._sorted = None
        return n

    def external_of(self, iid):
        return self._iid_ext.get(iid)

    def to_json(self):
        return {"uid": self.uid, "createdAt": fmt_date(self.created_at),
                "updatedAt": fmt_date(self.updated_at), "primaryKey": self.primary_key}

    def field_distribution(self):
        dist = {}
        for doc in self._docs.values():
            for k in doc:
                dist[k] = dist.get(k, 0) + 1
        return dict(sorted(dist.items()))

    def raw_size(self):
        return sum(len(dumps(d)) for d in self._docs.values())

    def dump(self):
        return {"uid": self.uid, "primaryKey": self.primary_key, "settings": self.settings,
                "createdAt": fmt_date(self.created_at), "updatedAt": fmt_date(self.updated_at),
                "next": self._next, "free": sorted(self._free), "fields": list(self._fields),
                "docs": [[iid, self._iid_ext[iid], d] for iid, d in sorted(self._docs.items())]}

    @classmethod
    def load(cls, data, lock):
        ix = cls(data["uid"], data["primaryKey"], lock)
        ix.settings = data["settings"]
        ix.created_at = parse_date(data["createdAt"])
        ix.updated_at = parse_date(data["updatedAt"])
        ix._next = data["next"]
        ix._free = list(data["free"])
        heapq.heapify(ix._free)
        ix._fields = {f: i for i, f in enumerate(data["fields"])}
        for iid, ext, d in data["docs"]:
            ix._docs[iid] = d
            ix._ext[ext] = iid
            ix._iid_ext[iid] = ext
        return ix

    def swap_contents(self, other):
        for attr in ("primary_key", "settings", "created_at", "updated_at", "_docs", "_ext",
                     "_iid_ext", "_free", "_next", "_fields"):
            a, b = getattr(self, attr), getattr(other, attr)
            setattr(self, attr, b)
            setattr(other, attr, a)
        self._sorted = other._sorted = None


# --------------------------------------------------------------------------

TASK_ORDER = ["uid", "batchUid", "indexUid", "status", "type", "canceledBy", "details",
              "error", "duration", "enqueuedAt", "startedAt", "finishedAt", "customMetadata"]


def task_view(task):
    out = {}
    for k in TASK_ORDER:
        if k in task:
            out[k] = task[k]
    return out


class TaskFilter:
    """Parsed task filters (GET /tasks, cancel, delete)."""

    def __init__(self):
        self.uids = None
        self.batch_uids = None
        self.index_uids = None
        self.statuses = None
        self.types = None
        self.canceled_by = None
        self.dates = {}   # e.g. ("before", "enqueuedAt") -> datetime
        self.allowed_index = None   # callable(uid) for key restrictions

    def matches(self, task):
        if self.uids is not None and task["uid"] not in self.uids:
            return False
        if self.batch_uids is not None and task.get("batchUid") not in self.batch_uids:
            return False
        if self.index_uids is not None and task["indexUid"] not in self.index_uids:
            return False
        if self.statuses is not None and task["status"] not in self.statuses:
            return False
        if self.types is not None and task["type"] not in self.types:
            return False
        if self.canceled_by is not None and task.get("canceledBy") not in self.canceled_by:
            return False
        for (side, field), bound in self.dates.items():
            val = task.get(field)
            if val is None:
                return False
            d = parse_date(val)
            if side == "before" and not d < bound:
                return False
            if side == "after" and not d > bound:
                return False
        if self.allowed_index is not None:
            if task["indexUid"] is None:
                pass
            elif not self.allowed_index(task["indexUid"]):
                return False
        return True


class State:
    def __init__(self, master_key=None, data_dir=None, name=None):
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self.master_key = master_key
        self.data_dir = data_dir
        self.name = name
        self.indexes = {}
        self.tasks = {}
        self.payloads = {}
        self.batches = {}
        self.next_task_uid = 0
        self.next_batch_uid = 0
        self.keys = {}
        self.key_seq = 0
        self.last_update = None
        self.features = {}
        self.stopping = False
        self._dirty = False
        self._last_save = 0.0
        self._save_cost = 0.0
        self.worker = None
        self.pause_worker = False

    # ---------------- persistence ----------------
    def path(self):
        return os.path.join(self.data_dir, "meilisim-state.json") if self.data_dir else None

    def save(self):
        """Write the whole state atomically (temp file + rename).

        Called by the worker with the lock held, right after a task is
        processed, so a task is never seen finished before its effects are
        on disk (modulo the big-state shortcut in _work)."""
        p = self.path()
        if not p:
            return
        with self.lock:
            data = {
                "version": 1,
                "indexes": [ix.dump() for ix in self.indexes.values()],
                "tasks": [self.tasks[u] for u in sorted(self.tasks)],
                "payloads": {str(k): v for k, v in self.payloads.items()},
                "batches": [self.batches[u] for u in sorted(self.batches)],
                "nextTaskUid": self.next_task_uid,
                "nextBatchUid": self.next_batch_uid,
                "keys": list(self.keys.values()),
                "keySeq": self.key_seq,
                "lastUpdate": fmt_date(self.last_update),
                "features": self.features,
            }
            text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
            self._dirty = False
            os.makedirs(self.data_dir, exist_ok=True)
            tmp = p + ".tmp.%d" % os.getpid()
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(text)
            # no fsync: the file survives the emulator being killed, which is
            # what the tests do; only a machine crash could lose it
            os.replace(tmp, p)

    def load(self):
        p = self.path()
        if not p or not os.path.exists(p):
            return False
        with open(p, encoding="utf-8") as f:
            data = json.load(f)
        for d in data["indexes"]:
            ix = Index.load(d, self.lock)
            self.indexes[ix.uid] = ix
        for t in data["tasks"]:
            if t["status"] == "processing":
                t["status"] = "enqueued"
                t["startedAt"] = None
                t["batchUid"] = None
            self.tasks[t["uid"]] = t
        self.payloads = {int(k): v for k, v in data["payloads"].items()}
        self.batches = {b["uid"]: b for b in data.get("batches", [])}
        self.next_task_uid = data["nextTaskUid"]
        self.next_batch_uid = data["nextBatchUid"]
        self.keys = {k["uid"]: k for k in data["keys"]}
        self.key_seq = data["keySeq"]
        self.last_update = parse_date(data["lastUpdate"]) if data["lastUpdate"] else None
        self.features = data.get("features", {})
        return True

    # ---------------- tasks ----------------
    def enqueue(self, type_, index_uid, details, payload=None, custom_metadata=None):
        with self.lock:
            uid = self.next_task_uid
            self.next_task_uid += 1
            task = {"uid": uid, "batchUid": None, "indexUid": index_uid, "status": "enqueued",
                    "type": type_, "canceledBy": None}
            if details is not None:
                task["details"] = details
            task.update({"error": None, "duration": None, "enqueuedAt": fmt_date(now()),
                         "startedAt": None, "finishedAt": None})
            if custom_metadata is not None:
                task["customMetadata"] = custom_metadata
            self.tasks[uid] = task
            self.payloads[uid] = payload or {}
            self._dirty = True
            self.cond.notify_all()
            summary = {"taskUid": uid, "indexUid": index_uid, "status": "enqueued",
                       "type": type_, "enqueuedAt": task["enqueuedAt"]}
            if custom_metadata is not None:
                summary["customMetadata"] = custom_metadata
            return summary

    def index_is_indexing(self, uid):
        for t in self.tasks.values():
            if t["indexUid"] == uid and t["status"] in ("enqueued", "processing"):
                return True
        return False

    def _next_task(self):
        best = None
        prio = {"taskCancelation": 0, "taskDeletion": 1}
        for uid, t in self.tasks.items():
            if t["status"] != "enqueued":
                continue
            key = (prio.get(t["type"], 2), uid)
            if best is None or key < best[0]:
                best = (key, uid)
        return None if best is None else self.tasks[best[1]]

    def start_worker(self):
        self.worker = threading.Thread(target=self._work, name="meilisim-worker", daemon=True)
        self.worker.start()

    def _work(self):
        import time
        while True:
            with self.lock:
                while not self.stopping and (self.pause_worker or self._next_task() is None):
                    if self._dirty and self.data_dir:
                        break
                    self.cond.wait(0.5)
                if self.stopping:
                    return
                task = None if self.pause_worker else self._next_task()
                if task is not None:
                    self._process(task)
                    self._dirty = True
                more = self._next_task() is not None
                # Save before releasing the lock, so a finished task is on disk
                # before anyone sees it.  Only when the state is big (a save
                # costs > 50 ms) and more tasks wait is saving deferred (at
                # most 1 s), trading durability for throughput.
                if self.data_dir and self._dirty and (
                        not more or self._save_cost < 0.05 or time.time() - self._last_save > 1.0):
                    t0 = time.time()
                    try:
                        self.save()
                    except OSError:
                        pass
                    self._last_save = time.time()
                    self._save_cost = self._last_save - t0

    def _process(self, task):
        started = now()
        task["status"] = "processing"
        task["startedAt"] = fmt_date(started)
        batch_uid = self.next_batch_uid
        self.next_batch_uid += 1
        task["batchUid"] = batch_uid
        payload = self.payloads.get(task["uid"], {})
        try:
            handler = getattr(self, "_run_" + task["type"])
            handler(task, payload)
            task["status"] = "succeeded"
        except MeiliError as e:
            task["status"] = "failed"
            task["error"] = e.to_json()
        except Exception as e:  # an emulator bug must not kill the worker
            task["status"] = "failed"
            task["error"] = MeiliError("internal", "meilisim internal error: %r" % (e,)).to_json()
        finished = now()
        task["finishedAt"] = fmt_date(finished)
        task["duration"] = fmt_duration((finished - started).total_seconds())
        self.last_update = finished
        self.payloads.pop(task["uid"], None)
        self.batches[batch_uid] = {
            "uid": batch_uid, "progress": None, "details": copy.deepcopy(task.get("details", {})),
            "stats": {"totalNbTasks": 1, "status": {task["status"]: 1}, "types": {task["type"]: 1},
                      "indexUids": {task["indexUid"]: 1} if task["indexUid"] else {}},
            "duration": task["duration"], "startedAt": task["startedAt"],
            "finishedAt": task["finishedAt"], "batchStrategy": "batched all enqueued tasks"}

    # ---- task handlers (run under the lock) ----
    def _get_or_create(self, uid):
        ix = self.indexes.get(uid)
        if ix is None:
            ix = Index(uid, None, self.lock)
            self.indexes[uid] = ix
        return ix

    def _require(self, uid):
        ix = self.indexes.get(uid)
        if ix is None:
            raise index_not_found(uid)
        return ix

    def _run_documentAdditionOrUpdate(self, task, p):
        docs = p.get("documents", [])
        task["details"]["indexedDocuments"] = 0
        ix = self._get_or_create(task["indexUid"])
        param_pk = p.get("primaryKey")
        if ix.primary_key is not None:
            if param_pk is not None and param_pk != ix.primary_key:
                raise MeiliError("index_primary_key_already_exists",
                                 "Index already has a primary key: `%s`." % ix.primary_key)
            pk = ix.primary_key
        elif param_pk is not None:
            pk = param_pk
        elif not docs:
            pk = None
        else:
            cands = sorted(k for k in docs[0] if k.lower().endswith("id"))
            if not cands:
                raise MeiliError("index_primary_key_no_candidate_found",
                                 "The primary key inference failed as the engine did not find any field "
                                 "ending with `id` in its name. Please specify the primary key manually "
                                 "using the `primaryKey` query parameter.")
            if len(cands) > 1:
                raise MeiliError("index_primary_key_multiple_candidates_found",
                                 "The primary key inference failed as the engine found %d fields ending "
                                 "with `id` in their names: '%s' and '%s'. Please specify the primary key "
                                 "manually using the `primaryKey` query parameter."
                                 % (len(cands), cands[0], cands[1]))
            pk = cands[0]
        ops = []
        for d in docs:
            vals = find_id_values(d, pk)
            if not vals:
                raise MeiliError("missing_document_id", "Document doesn't have a `%s` attribute: `%s`."
                                 % (pk, dumps(d)))
            if len(vals) > 1:
                raise MeiliError("invalid_document_id",
                                 "The primary key `%s` references multiple values in document `%s`."
                                 % (pk, dumps(d)))
            ext = canonical_id(vals[0])
            if ext is None:
                raise invalid_id_error(vals[0])
            ops.append((ext, d))
        if pk is not None and ix.primary_key is None:
            ix.primary_key = pk
        update = p.get("method") == "update"
        skip = p.get("skipCreation", False)
        n = 0
        for ext, d in ops:
            old = ix.get_document(ext)
            if old is None and skip:
                continue
            if update and old is not None:
                merged = dict(old)
                merged.update(d)
                d = merged
            ix.put(ext, d)
            n += 1
        if ops or docs:
            ix.updated_at = now()
        task["details"]["indexedDocuments"] = n

    def _run_documentDeletion(self, task, p):
        d = task["details"]
        d["deletedDocuments"] = 0
        ix = self._require(task["indexUid"])
        kind_ = p.get("kind")
        n = 0
        if kind_ == "ids":
            for ext in p["ids"]:
                if ix.delete(ext):
                    n += 1
        elif kind_ == "filter":
            from . import search
            try:
                pred = search.compile_filter(ix, p["filter"], "delete")
            except MeiliError as e:
                # milli errors of a task carry the index name
                if not e.message.startswith("Index `"):
                    e.message = "Index `%s`: %s" % (ix.uid, e.message)
                raise
            victims = [ix.external_of(iid) for iid, doc in ix.iter_documents() if pred(doc)]
            for ext in victims:
                if ix.delete(ext):
                    n += 1
        else:
            n = ix.clear()
        if n:
            ix.updated_at = now()
        d["deletedDocuments"] = n

    def _run_documentEdition(self, task, p):
        raise MeiliError("feature_not_enabled", "Editing documents by function is not supported by meilisim.")

    def _run_settingsUpdate(self, task, p):
        ix = self._get_or_create(task["indexUid"])
        new = copy.deepcopy(ix.settings)
        settings_mod.apply(new, p.get("update", {}))
        settings_mod.semantic_check(new)
        ix.settings = new
        ix.updated_at = now()

    def _run_indexCreation(self, task, p):
        uid = task["indexUid"]
        if uid in self.indexes:
            raise MeiliError("index_already_exists", "Index `%s` already exists." % uid)
        self.indexes[uid] = Index(uid, p.get("primaryKey"), self.lock)

    def _run_indexUpdate(self, task, p):
        ix = self._require(task["indexUid"])
        pk = p.get("primaryKey")
        new_uid = p.get("newUid")
        if new_uid is not None and new_uid != ix.uid and new_uid in self.indexes:
            raise MeiliError("index_already_exists", "Index `%s` already exists." % new_uid)
        if pk is not None and pk != ix.primary_key:
            if len(ix) > 0 and ix.primary_key is not None:
                raise MeiliError("index_primary_key_already_exists",
                                 "Index `%s`: Index already has a primary key: `%s`." % (ix.uid, ix.primary_key))
            if len(ix) > 0:
                raise MeiliError("index_primary_key_already_exists",
                                 "Index `%s`: Index already has documents." % ix.uid)
            ix.primary_key = pk
        if new_uid is not None and new_uid != ix.uid:
            del self.indexes[ix.uid]
            ix.uid = new_uid
            self.indexes[new_uid] = ix
        ix.updated_at = now()

    def _run_indexDeletion(self, task, p):
        task["details"]["deletedDocuments"] = 0
        ix = self._require(task["indexUid"])
        task["details"]["deletedDocuments"] = len(ix)
        del self.indexes[ix.uid]

    def _run_indexSwap(self, task, p):
        swaps = task["details"]["swaps"]
        missing = []
        for s in swaps:
            a, b = s["indexes"]
            if a not in self.indexes and a not in missing:
                missing.append(a)
            if not s.get("rename") and b not in self.indexes and b not in missing:
                missing.append(b)
        if missing:
            if len(missing) == 1:
                raise index_not_found(missing[0])
            raise MeiliError("index_not_found", "Indexes %s not found."
                             % ", ".join("`%s`" % m for m in missing))
        for s in swaps:
            a, b = s["indexes"]
            if s.get("rename") and b in self.indexes:
                raise MeiliError("index_already_exists", "Index `%s` already exists." % b)
        for s in swaps:
            a, b = s["indexes"]
            if s.get("rename"):
                ix = self.indexes.pop(a)
                ix.uid = b
                self.indexes[b] = ix
                for t in self.tasks.values():
                    if t["indexUid"] == a and t is not task:
                        t["indexUid"] = b
            else:
                self.indexes[a].swap_contents(self.indexes[b])
                for t in self.tasks.values():
                    if t is task:
                        continue
                    if t["indexUid"] == a:
                        t["indexUid"] = b
                    elif t["indexUid"] == b:
                        t["indexUid"] = a

    def _run_taskCancelation(self, task, p):
        flt = taskfilter_from_json(p["filter"])
        n = 0
        for t in list(self.tasks.values()):
            if t is task or t["status"] not in ("enqueued", "processing"):
                continue
            if flt.matches(t):
                t["status"] = "canceled"
                t["canceledBy"] = task["uid"]
                fin = now()
                t["finishedAt"] = fmt_date(fin)
                if t["startedAt"] is None:
                    t["duration"] = None
                det = t.get("details")
                if isinstance(det, dict):
                    for k in ("indexedDocuments", "deletedDocuments", "canceledTasks", "deletedTasks"):
                        if k in det and det[k] is None:
                            det[k] = 0
                self.payloads.pop(t["uid"], None)
                n += 1
        task["details"]["canceledTasks"] = n

    def _run_taskDeletion(self, task, p):
        flt = taskfilter_from_json(p["filter"])
        n = 0
        for uid in list(self.tasks):
            t = self.tasks[uid]
            if t is task or t["status"] not in ("succeeded", "failed", "canceled"):
                continue
            if flt.matches(t):
                del self.tasks[uid]
                n += 1
        task["details"]["deletedTasks"] = n

    def _run_dumpCreation(self, task, p):
        task["details"]["dumpUid"] = now().strftime("%Y%m%d-%H%M%S%f")[:-3]

    def _run_snapshotCreation(self, task, p):
        pass

    def _run_indexCompaction(self, task, p):
        self._require(task["indexUid"])
        task["details"] = {"preCompactionSize": 0, "postCompactionSize": 0}

    def _run_export(self, task, p):
        from . import export
        export.run(self, task, p)


def taskfilter_to_json(f):
    return {"__taskfilter__": True,
            "uids": sorted(f.uids) if f.uids is not None else None,
            "batchUids": sorted(f.batch_uids) if f.batch_uids is not None else None,
            "indexUids": sorted(f.index_uids) if f.index_uids is not None else None,
            "statuses": sorted(f.statuses) if f.statuses is not None else None,
            "types": sorted(f.types) if f.types is not None else None,
            "canceledBy": sorted(f.canceled_by) if f.canceled_by is not None else None,
            "dates": [[s, fld, fmt_date(d)] for (s, fld), d in f.dates.items()]}


def taskfilter_from_json(j):
    f = TaskFilter()
    f.uids = set(j["uids"]) if j["uids"] is not None else None
    f.batch_uids = set(j["batchUids"]) if j["batchUids"] is not None else None
    f.index_uids = set(j["indexUids"]) if j["indexUids"] is not None else None
    f.statuses = set(j["statuses"]) if j["statuses"] is not None else None
    f.types = set(j["types"]) if j["types"] is not None else None
    f.canceled_by = set(j["canceledBy"]) if j["canceledBy"] is not None else None
    f.dates = {(s, fld): parse_date(d) for s, fld, d in j["dates"]}
    return f

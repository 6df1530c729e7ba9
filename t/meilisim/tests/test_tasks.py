"""Tasks: shape, listing, filters, pagination, cancel, delete."""

import re

from helpers import MeiliTest, emulator_only

DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


class TasksTest(MeiliTest):
    def test_task_shape(self):
        uid = self.uid()
        st, s = self.c.req("POST", "/indexes", {"uid": uid})
        t = self.c.wait(s["taskUid"])
        self.assertEqual(list(t), ["uid", "batchUid", "indexUid", "status", "type", "canceledBy", "details",
                                   "error", "duration", "enqueuedAt", "startedAt", "finishedAt"])
        self.assertIsInstance(t["batchUid"], int)
        for k in ("enqueuedAt", "startedAt", "finishedAt"):
            self.assertRegex(t[k], DATE)
        self.assertRegex(t["duration"], r"^P(\d+D)?T\d+(\.\d+)?S$")
        self.assertEqual(self.c.req("GET", "/tasks/%d" % t["uid"])[1], t)

    def test_errors(self):
        self.assertError(self.c.req("GET", "/tasks/99999999"), 404, "task_not_found")
        self.assertError(self.c.req("GET", "/tasks/abc"), 400, "invalid_task_uids")
        self.assertError(self.c.req("GET", "/tasks", query={"statuses": "done"}), 400, "invalid_task_statuses")
        self.assertError(self.c.req("GET", "/tasks", query={"types": "x"}), 400, "invalid_task_types")
        self.assertError(self.c.req("GET", "/tasks", query={"limit": "-1"}), 400, "invalid_task_limit")
        self.assertError(self.c.req("GET", "/tasks", query={"uids": "a"}), 400, "invalid_task_uids")
        self.assertError(self.c.req("GET", "/tasks", query={"afterEnqueuedAt": "x"}), 400,
                         "invalid_task_after_enqueued_at")
        self.assertError(self.c.req("GET", "/tasks", query={"colour": "x"}), 400, "bad_request")
        self.assertError(self.c.req("DELETE", "/tasks"), 400, "missing_task_filters")
        self.assertError(self.c.req("POST", "/tasks/cancel"), 400, "missing_task_filters")

    def test_list_and_paginate(self):
        uid = self.uid()
        uids = []
        for _ in range(4):
            st, s = self.c.req("PATCH", "/indexes/%s/settings" % uid, {"stopWords": ["a"]})
            uids.append(s["taskUid"])
        self.c.wait(uids[-1])
        st, body = self.c.req("GET", "/tasks", query={"indexUids": uid, "limit": 3})
        self.assertEqual(st, 200)
        self.assertEqual([t["uid"] for t in body["results"]], uids[::-1][:3])
        self.assertEqual((body["total"], body["limit"], body["from"], body["next"]),
                         (4, 3, uids[3], uids[0]))
        st, body = self.c.req("GET", "/tasks", query={"indexUids": uid, "from": uids[0]})
        self.assertEqual([t["uid"] for t in body["results"]], [uids[0]])
        self.assertIsNone(body["next"])
        st, body = self.c.req("GET", "/tasks", query={"indexUids": uid, "reverse": "true"})
        self.assertEqual([t["uid"] for t in body["results"]], uids)
        st, body = self.c.req("GET", "/tasks", query={"uids": "%d,%d" % (uids[0], uids[2]),
                                                      "types": "settingsUpdate", "statuses": "succeeded"})
        self.assertEqual([t["uid"] for t in body["results"]], [uids[2], uids[0]])
        st, body = self.c.req("GET", "/tasks", query={"indexUids": uid, "afterEnqueuedAt": "2000-01-01",
                                                      "beforeEnqueuedAt": "2999-01-01T00:00:00Z"})
        self.assertEqual(body["total"], 4)

    def test_delete_tasks(self):
        uid = self.uid()
        t = self.c.task("POST", "/indexes", {"uid": uid})
        st, s = self.c.req("DELETE", "/tasks", query={"uids": str(t["uid"])})
        self.assertEqual(st, 202, s)
        self.assertEqual(s["type"], "taskDeletion")
        d = self.c.wait(s["taskUid"])
        self.assertEqual(d["details"], {"matchedTasks": 1, "deletedTasks": 1,
                                        "originalFilter": "?uids=%d" % t["uid"]})
        self.assertEqual(self.c.req("GET", "/tasks/%d" % t["uid"])[0], 404)

    @emulator_only
    def test_cancel_enqueued(self):
        self.c.req("POST", "/_meilisim/faults", {"pauseTasks": True})
        try:
            uid = self.uid()
            st, s = self.c.req("POST", "/indexes", {"uid": uid})
            st, t = self.c.req("GET", "/tasks/%d" % s["taskUid"])
            self.assertEqual(t["status"], "enqueued")
            self.assertEqual(t["startedAt"], None)
            st, body = self.c.req("GET", "/indexes/%s/stats" % uid)
            st, c = self.c.req("POST", "/tasks/cancel", query={"uids": str(s["taskUid"])})
            self.assertEqual(st, 202)
        finally:
            self.c.req("POST", "/_meilisim/faults", {})
        ct = self.c.wait(c["taskUid"])
        self.assertEqual(ct["details"]["canceledTasks"], 1)
        t = self.c.wait(s["taskUid"])
        self.assertEqual((t["status"], t["canceledBy"]), ("canceled", c["taskUid"]))
        self.assertEqual(self.c.req("GET", "/indexes/" + uid)[0], 404)

    def test_batches(self):
        t = self.c.task("POST", "/indexes", {"uid": self.uid()})
        st, b = self.c.req("GET", "/batches/%d" % t["batchUid"])
        self.assertEqual(st, 200)
        self.assertEqual(b["uid"], t["batchUid"])
        st, body = self.c.req("GET", "/batches", query={"limit": 1})
        self.assertEqual(st, 200)
        self.assertEqual(len(body["results"]), 1)

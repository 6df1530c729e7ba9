# Miroir's tasks: one uid sequence from 0 for the cluster, GET /tasks with
# Meilisearch's filters and pagination (uids, statuses, types, indexUids,
# limit, from, next, total) and its parameter errors, GET /tasks/:uid, a
# task that failed on one node only, and the task log surviving a restart
# of nginx (each block starts a new nginx on the same miroir_state).

use Test::Nginx::Socket;
use Miroir::Nodes;
use Miroir::Cluster;

Miroir::Cluster::setup(state => 1, options => 'node_timeout 2s;',
                       hook => sub {
    my $block = shift;
    if (defined $block->split_brain) {
        # node 2 disagrees on the primary key of "odd"
        Miroir::Nodes::http_post(1, '/indexes',
                                 '{"uid":"odd","primaryKey":"id"}');
        Miroir::Nodes::http_post(2, '/indexes',
                                 '{"uid":"odd","primaryKey":"sku"}');
        Miroir::Nodes::http_post(3, '/indexes',
                                 '{"uid":"odd","primaryKey":"id"}');
        select(undef, undef, undef, 0.3);
    }
});

no_root_location();
repeat_each(1);
# 20 requests: status, body and two error log checks each
plan tests => repeat_each() * 20 * 4;
no_shuffle();
run_tests();

__DATA__

=== TEST 1: four tasks; filters and pagination
--- request eval
[
"POST /indexes\n{\"uid\":\"a\",\"primaryKey\":\"id\"}",
"POST /indexes\n{\"uid\":\"b\"}",
"POST /indexes/a/documents\n[{\"id\":1},{\"id\":2},{\"id\":3}]",
"PATCH /indexes/b/settings\n{\"sortableAttributes\":[\"x\"]}",
"GET /tasks?limit=2",
"GET /tasks?from=1",
"GET /tasks?types=indexCreation,settingsUpdate&indexUids=b",
"GET /tasks?statuses=succeeded&uids=0,2,77",
"GET /tasks/2",
]
--- more_headers
Authorization: Bearer s3cret
Content-Type: application/json
--- wait: 0.3
--- response_body_like eval
[
qr/"taskUid":0,/,
qr/"taskUid":1,/,
qr/"taskUid":2,/,
qr/"taskUid":3,/,
qr/^\{"results":\[\{"uid":3,.*\{"uid":2,[^\]]*\],"total":4,"limit":2,"from":3,"next":1\}$/,
qr/^\{"results":\[\{"uid":1,.*\{"uid":0,.*\],"total":4,"limit":20,"from":1,"next":null\}$/,
qr/^\{"results":\[\{"uid":3,"batchUid":3,"indexUid":"b","status":"succeeded","type":"settingsUpdate".*\{"uid":1,.*"type":"indexCreation".*\],"total":2,"limit":20,"from":3,"next":null\}$/,
qr/^\{"results":\[\{"uid":2,.*\{"uid":0,.*\],"total":2,"limit":20,"from":2,"next":null\}$/,
qr/^\{"uid":2,"batchUid":2,"indexUid":"a","status":"succeeded","type":"documentAdditionOrUpdate","canceledBy":null,"details":\{"receivedDocuments":3,"indexedDocuments":3\},"error":null,"duration":"PT[0-9.]+S","enqueuedAt":"[^"]+","startedAt":"[^"]+","finishedAt":"[^"]+"\}$/,
]
--- error_code eval
[202, 202, 202, 202, 200, 200, 200, 200, 200]
--- no_error_log
[error]
[alert]



=== TEST 2: parameter errors, unknown task, missing filters
--- request eval
[
"GET /tasks?statuses=done",
"GET /tasks?limit=-1",
"GET /tasks/abc",
"GET /tasks/99999",
"DELETE /tasks",
"POST /tasks/cancel",
]
--- more_headers
Authorization: Bearer s3cret
--- response_body_like eval
[
qr/^\{"message":"Invalid value in parameter `statuses`: `done` is not a valid task status\. Available statuses are `enqueued`, `processing`, `succeeded`, `failed`, `canceled`\.","code":"invalid_task_statuses"/,
qr/^\{"message":"Invalid value in parameter `limit`: could not parse `-1` as a positive integer","code":"invalid_task_limit"/,
qr/^\{"message":"Task uid `abc` is invalid\. It should only contain numeric characters\.","code":"invalid_task_uids"/,
qr/^\{"message":"Task `99999` not found\.","code":"task_not_found"/,
qr/"code":"missing_task_filters"/,
qr/"code":"missing_task_filters"/,
]
--- error_code eval
[400, 400, 400, 404, 400, 400]
--- no_error_log
[error]
[alert]



=== TEST 3: after a restart of nginx: old tasks kept, the sequence goes on
--- request eval
[
"GET /tasks/0",
"POST /indexes\n{\"uid\":\"c\"}",
"GET /tasks?limit=1",
]
--- more_headers
Authorization: Bearer s3cret
Content-Type: application/json
--- wait: 0.3
--- response_body_like eval
[
qr/^\{"uid":0,"batchUid":0,"indexUid":"a","status":"succeeded","type":"indexCreation"/,
qr/^\{"taskUid":4,"indexUid":"c"/,
qr/^\{"results":\[\{"uid":4,.*\],"total":5,"limit":1,"from":4,"next":3\}$/,
]
--- error_code eval
[200, 202, 200]
--- no_error_log
[error]
[alert]



=== TEST 4: a task that fails on one node only is failed, with its error
--- split_brain
--- request eval
[
"POST /indexes/odd/documents\n[{\"id\":1},{\"id\":2},{\"id\":3},{\"id\":4}]",
"GET /tasks/5",
]
--- more_headers
Authorization: Bearer s3cret
Content-Type: application/json
--- wait: 0.3
--- response_body_like eval
[
qr/^\{"taskUid":5,"indexUid":"odd"/,
qr/^\{"uid":5,.*"status":"failed","type":"documentAdditionOrUpdate",.*"details":\{"receivedDocuments":4,"indexedDocuments":\d\},"error":\{"message":"[^"]*primary key[^"]*`sku`[^"]*","code":"index_primary_key_already_exists"/,
]
--- error_code eval
[202, 200]
--- no_error_log
[error]
[alert]

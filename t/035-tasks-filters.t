# The task filters Miroir applies itself (reverse, batchUids, canceledBy,
# the six dates, with Meilisearch's parameter errors), POST /tasks/cancel
# (nodes paused with the emulator's pauseTasks fault so the tasks stay
# enqueued) and DELETE /tasks with filters, and the shape of their Miroir
# tasks compared with a single emulated node's.  Each block starts a new
# nginx on the same miroir_state.

use Test::Nginx::Socket;
use Miroir::Nodes;
use Miroir::Cluster;

my $State;

# enqueuedAt of Miroir task $uid, from the task log
sub enqueued_at {
    my $uid = shift;
    my $at;
    open my $f, '<', "$ENV{TEST_NGINX_MIROIR_STATE}/tasks-main.log"
        or die "no task log: $!";
    while (<$f>) {
        $at = $1 if /^$uid \d \{.*?"enqueuedAt":"([^"]+)"/;
    }
    close $f;
    die "no task $uid in the log" unless $at;
    return $at;
}

sub faults {
    my $json = shift;
    for my $n (1 .. 3) {
        my $res = Miroir::Nodes::http_post($n, '/_meilisim/faults', $json);
        die "faults on node $n: $res->{status}" unless $res->{success};
    }
}

Miroir::Cluster::setup(state => 1, options => 'node_timeout 2s;',
                       hook => sub {
    my $block = shift;

    faults('{"pauseTasks":true}') if defined $block->pause_tasks;

    if (defined $block->pause_tasks_on) {
        Miroir::Nodes::http_post($_, '/_meilisim/faults',
                                 '{"pauseTasks":true}')
            for split ' ', $block->pause_tasks_on;
    }

    if (defined $block->resume_tasks_on) {
        Miroir::Nodes::http_post($_, '/_meilisim/faults', '{}')
            for split ' ', $block->resume_tasks_on;
        select(undef, undef, undef, 1);
    }

    if (defined $block->resume_tasks) {
        faults('{}');
        select(undef, undef, undef, 1);
    }

    if (defined $block->between) {
        my ($e0, $e2) = (enqueued_at(0), enqueued_at(2));
        (my $day = $e0) =~ s/T.*//;
        $block->set_value('request', [
            "GET /tasks?afterEnqueuedAt=$e0&beforeEnqueuedAt=$e2",
            "GET /tasks?afterEnqueuedAt=$e0",
            "GET /tasks?beforeEnqueuedAt=$e0",
            "GET /tasks?afterEnqueuedAt=$day",
            "GET /tasks?afterStartedAt=2000-01-01T00:00:00%2B02:00"
            . "&beforeFinishedAt=2999-01-01&reverse=true",
            "GET /tasks?afterFinishedAt=2999-01-01T00:00:00Z",
        ]);
    }

    if (defined $block->node_tasks_gone) {
        # Miroir tasks 0 and 1 were index creations on every node
        select(undef, undef, undef, 0.5);
        my @left = map {
            my $res = Miroir::Nodes::http_get($_,
                                              '/tasks?types=indexCreation');
            $res->{content} =~ /"total":(\d+)/ ? $1 : -1;
        } 1 .. 3;
        Test::More::is("@left", "0 0 0",
                       "node index creation tasks deleted on every node");
    }

    if (defined $block->single_node) {
        # the same cancelation on one emulated node: Miroir's task must
        # have its shape (keys, their order, value kinds)
        my $res = Miroir::Nodes::http_post(1, '/tasks/cancel?uids=424242',
                                           '');
        die "node cancel: $res->{status}" unless $res->{status} == 202;
        my $summary = $res->{content};
        my ($uid) = $summary =~ /"taskUid":(\d+)/;
        select(undef, undef, undef, 0.5);
        $res = Miroir::Nodes::http_get(1, "/tasks/$uid");
        my $body = $res->{content};
        $body =~ s/"(enqueuedAt|startedAt|finishedAt|duration)":"[^"]*"/"$1":"\x01"/g;
        $body =~ s/"originalFilter":"[^"]*"/"originalFilter":"\x03"/g;
        $body =~ s/:\d+/:\x02/g;
        my $re = quotemeta $body;
        $re =~ s/\\\x01/[^"]+/g;
        $re =~ s/\\\x02/\\d+/g;
        $re =~ s/\\\x03/\\?uids=424242/g;
        $summary =~ s/"enqueuedAt":"[^"]*"/"enqueuedAt":"\x01"/;
        $summary =~ s/:\d+/:\x02/g;
        my $sre = quotemeta $summary;
        $sre =~ s/\\\x01/[^"]+/g;
        $sre =~ s/\\\x02/\\d+/g;
        $block->set_value('response_body_like', [ qr/^$sre$/, qr/^$re$/ ]);
    }
});

no_root_location();
repeat_each(1);
# 50 requests: status, body and two error log checks each
plan tests => repeat_each() * 50 * 4 + 1;
no_shuffle();
run_tests();

__DATA__

=== TEST 1: reverse, from, batchUids, canceledBy, bare dates and RFC 3339
--- request eval
[
"POST /indexes\n{\"uid\":\"a\",\"primaryKey\":\"id\"}",
"POST /indexes\n{\"uid\":\"b\",\"primaryKey\":\"id\"}",
"POST /indexes/a/documents\n[{\"id\":1},{\"id\":2}]",
"GET /tasks?reverse=true&limit=2",
"GET /tasks?reverse=true&from=1",
"GET /tasks?reverse=false&batchUids=1,2",
"GET /tasks?canceledBy=0",
"GET /tasks?afterEnqueuedAt=2000-01-01&beforeEnqueuedAt=2999-12-31T23:59:59.999Z",
"GET /tasks?beforeEnqueuedAt=2000-01-01",
"GET /tasks?afterEnqueuedAt=2999-01-01T00:00:00%2B01:00",
]
--- more_headers
Authorization: Bearer s3cret
Content-Type: application/json
--- response_body_like eval
[
qr/"taskUid":0,/,
qr/"taskUid":1,/,
qr/"taskUid":2,/,
qr/^\{"results":\[\{"uid":0,[^\]]*\{"uid":1,[^\]]*\],"total":3,"limit":2,"from":0,"next":2\}$/,
qr/^\{"results":\[\{"uid":1,.*\{"uid":2,[^\]]*\],"total":3,"limit":20,"from":1,"next":null\}$/,
qr/^\{"results":\[\{"uid":2,"batchUid":2,.*\{"uid":1,"batchUid":1,[^\]]*\],"total":2,"limit":20,"from":2,"next":null\}$/,
qr/^\{"results":\[\],"total":0,"limit":20,"from":null,"next":null\}$/,
qr/^\{"results":\[\{"uid":2,.*\],"total":3,"limit":20,"from":2,"next":null\}$/,
qr/^\{"results":\[\],"total":0,/,
qr/^\{"results":\[\],"total":0,/,
]
--- error_code eval
[202, 202, 202, 200, 200, 200, 200, 200, 200, 200]
--- no_error_log
[error]
[alert]



=== TEST 2: exclusive date bounds; a bare after-date means after that day
--- between
--- request eval
[]
--- more_headers
Authorization: Bearer s3cret
--- response_body_like eval
[
qr/^\{"results":\[\{"uid":1,[^\]]*\],"total":1,"limit":20,"from":1,"next":null\}$/,
qr/^\{"results":\[\{"uid":2,.*\{"uid":1,[^\]]*\],"total":2,/,
qr/^\{"results":\[\],"total":0,/,
qr/^\{"results":\[\],"total":0,/,
qr/^\{"results":\[\{"uid":0,.*\{"uid":2,[^\]]*\],"total":3,/,
qr/^\{"results":\[\],"total":0,/,
]
--- error_code eval
[200, 200, 200, 200, 200, 200]
--- no_error_log
[error]
[alert]



=== TEST 3: parameter errors
--- request eval
[
"GET /tasks?beforeEnqueuedAt=yesterday",
"GET /tasks?afterFinishedAt=2026-13-01",
"GET /tasks?afterStartedAt=2026-01-01T10:00:00",
"GET /tasks?reverse=yes",
"GET /tasks?canceledBy=x",
"GET /tasks?batchUids=-1",
"GET /tasks?types=documentAddition",
"GET /tasks?batchUid=1",
"POST /tasks/cancel?limit=1",
"DELETE /tasks?beforeFinishedAt=never",
"GET /tasks?afterEnqueuedAt=2026-01-01T00:00:00+01:00",
]
--- more_headers
Authorization: Bearer s3cret
--- response_body_like eval
[
qr/^\{"message":"Invalid value in parameter `beforeEnqueuedAt`: `yesterday` is an invalid date-time\. It should follow the YYYY-MM-DD or RFC 3339 date-time format\.","code":"invalid_task_before_enqueued_at","type":"invalid_request","link":"https:\/\/docs\.meilisearch\.com\/errors#invalid_task_before_enqueued_at"\}$/,
qr/"code":"invalid_task_after_finished_at"/,
qr/"code":"invalid_task_after_started_at"/,
qr/^\{"message":"Invalid value in parameter `reverse`: could not parse `yes` as a boolean, expected either `true` or `false`","code":"invalid_task_reverse"/,
qr/^\{"message":"Invalid value in parameter `canceledBy`: could not parse `x` as a positive integer","code":"invalid_task_canceled_by"/,
qr/^\{"message":"Invalid value in parameter `batchUids`: could not parse `-1` as a positive integer","code":"invalid_batch_uids"/,
qr/^\{"message":"Invalid value in parameter `types`: `documentAddition` is not a valid task type\. Available types are `documentAdditionOrUpdate`, .*","code":"invalid_task_types"/,
qr/^\{"message":"Unknown parameter `batchUid`: expected one of `limit`, `from`, `reverse`, `batchUids`, .*","code":"bad_request"/,
qr/^\{"message":"Unknown parameter `limit`: expected one of `uids`, `batchUids`, .*","code":"bad_request"/,
qr/"code":"invalid_task_before_finished_at"/,
qr/^\{"message":"Invalid value in parameter `afterEnqueuedAt`: `2026-01-01T00:00:00 01:00` is an invalid date-time\./,
]
--- error_code eval
[400, 400, 400, 400, 400, 400, 400, 400, 400, 400, 400]
--- no_error_log
[error]
[alert]



=== TEST 4: cancel an enqueued task (nodes paused)
--- pause_tasks
--- request eval
[
"POST /indexes/a/documents\n[{\"id\":3}]",
"POST /tasks/cancel?uids=3",
"GET /tasks/4",
"GET /tasks/3",
]
--- more_headers
Authorization: Bearer s3cret
Content-Type: application/json
--- response_body_like eval
[
qr/^\{"taskUid":3,"indexUid":"a","status":"enqueued"/,
qr/^\{"taskUid":4,"indexUid":null,"status":"enqueued","type":"taskCancelation","enqueuedAt":"[^"]+"\}$/,
qr/^\{"uid":4,"batchUid":null,"indexUid":null,"status":"enqueued","type":"taskCancelation","canceledBy":null,"details":\{"matchedTasks":1,"canceledTasks":null,"originalFilter":"\?uids=3"\},"error":null,"duration":null,"enqueuedAt":"[^"]+","startedAt":null,"finishedAt":null\}$/,
qr/^\{"uid":3,.*"status":"enqueued"/,
]
--- error_code eval
[202, 202, 200, 200]
--- no_error_log
[error]
[alert]



=== TEST 5: once the nodes run: canceled, canceledBy the Miroir task
--- resume_tasks
--- request eval
[
"GET /tasks/3",
"GET /tasks/4",
"GET /tasks?canceledBy=4",
"GET /tasks?statuses=canceled&types=documentAdditionOrUpdate",
]
--- more_headers
Authorization: Bearer s3cret
--- response_body_like eval
[
qr/^\{"uid":3,"batchUid":3,"indexUid":"a","status":"canceled","type":"documentAdditionOrUpdate","canceledBy":4,/,
qr/^\{"uid":4,"batchUid":4,"indexUid":null,"status":"succeeded","type":"taskCancelation","canceledBy":null,"details":\{"matchedTasks":1,"canceledTasks":1,"originalFilter":"\?uids=3"\},"error":null,"duration":"[^"]+","enqueuedAt":"[^"]+","startedAt":"[^"]+","finishedAt":"[^"]+"\}$/,
qr/^\{"results":\[\{"uid":3,[^\]]*\],"total":1,/,
qr/^\{"results":\[\{"uid":3,[^\]]*\],"total":1,/,
]
--- error_code eval
[200, 200, 200, 200]
--- no_error_log
[error]
[alert]



=== TEST 6: a cancelation that matches no unfinished task; delete tasks
--- request eval
[
"POST /tasks/cancel?statuses=succeeded",
"DELETE /tasks?uids=0,1,3,4&statuses=succeeded,canceled&types=indexCreation,documentAdditionOrUpdate",
"GET /tasks/0",
"GET /tasks?uids=0,1,2,3",
]
--- more_headers
Authorization: Bearer s3cret
--- response_body_like eval
[
qr/^\{"taskUid":5,"indexUid":null,"status":"enqueued","type":"taskCancelation"/,
qr/^\{"taskUid":6,"indexUid":null,"status":"enqueued","type":"taskDeletion"/,
qr/^\{"message":"Task `0` not found\.","code":"task_not_found"/,
qr/^\{"results":\[\{"uid":2,[^\]]*\],"total":1,/,
]
--- error_code eval
[202, 202, 404, 200]
--- no_error_log
[error]
[alert]



=== TEST 7: the deletion's task; the node tasks are gone too
--- node_tasks_gone
--- request eval
[
"GET /tasks/5",
"GET /tasks/6",
"GET /tasks?types=taskDeletion,taskCancelation",
"GET /tasks?uids=0,1,3",
]
--- more_headers
Authorization: Bearer s3cret
--- wait: 0.3
--- response_body_like eval
[
qr/^\{"uid":5,"batchUid":5,"indexUid":null,"status":"succeeded","type":"taskCancelation","canceledBy":null,"details":\{"matchedTasks":4,"canceledTasks":0,"originalFilter":"\?statuses=succeeded"\}/,
qr/^\{"uid":6,"batchUid":6,"indexUid":null,"status":"succeeded","type":"taskDeletion","canceledBy":null,"details":\{"matchedTasks":3,"deletedTasks":3,"originalFilter":"\?uids=0,1,3,4&statuses=succeeded,canceled&types=indexCreation,documentAdditionOrUpdate"\},"error":null,"duration":"[^"]+",/,
qr/^(?!.*_parts)\{"results":\[\{"uid":6,.*\{"uid":5,.*\{"uid":4,[^\]]*\],"total":3,/,
qr/^\{"results":\[\],"total":0,/,
]
--- error_code eval
[200, 200, 200, 200]
--- no_error_log
[error]
[alert]



=== TEST 8: a cancelation has the shape of a single node's
--- single_node
--- request eval
[
"POST /tasks/cancel?uids=424242",
"GET /tasks/7",
]
--- more_headers
Authorization: Bearer s3cret
--- response_body_like eval
[qr/placeholder/, qr/placeholder/]
--- error_code eval
[202, 200]
--- no_error_log
[error]
[alert]



=== TEST 9: a write the nodes keep enqueued
--- pause_tasks
--- request eval
[
"POST /indexes/a/documents\n[{\"id\":5},{\"id\":6},{\"id\":7}]",
]
--- more_headers
Authorization: Bearer s3cret
Content-Type: application/json
--- response_body_like eval
[
qr/^\{"taskUid":8,"indexUid":"a","status":"enqueued"/,
]
--- error_code eval
[202]
--- no_error_log
[error]
[alert]



=== TEST 10: a node down: the live nodes get the cancelation
--- kill_node: 3
--- request eval
[
"POST /tasks/cancel?indexUids=a&statuses=enqueued,processing",
"GET /tasks/9",
]
--- more_headers
Authorization: Bearer s3cret
--- response_body_like eval
[
qr/^\{"taskUid":9,"indexUid":null,"status":"enqueued","type":"taskCancelation"/,
qr/^\{"uid":9,"batchUid":null,"indexUid":null,"status":"enqueued","type":"taskCancelation","canceledBy":null,"details":\{"matchedTasks":1,"canceledTasks":null,"originalFilter":"\?indexUids=a&statuses=enqueued,processing"\}/,
]
--- error_code eval
[202, 200]
--- no_error_log
[alert]
[crit]



=== TEST 11: resumed: canceled on the live nodes, by the Miroir task; the
part on the dead node 3 is unknown, so task 8 is not finished yet
--- resume_tasks_on: 1 2
--- request eval
[
"GET /tasks/8",
"GET /tasks/9",
]
--- more_headers
Authorization: Bearer s3cret
--- response_body_like eval
[
qr/^\{"uid":8,"batchUid":8,"indexUid":"a","status":"processing","type":"documentAdditionOrUpdate","canceledBy":null,/,
qr/^\{"uid":9,"batchUid":9,"indexUid":null,"status":"succeeded","type":"taskCancelation","canceledBy":null,"details":\{"matchedTasks":1,"canceledTasks":1,/,
]
--- error_code eval
[200, 200]
--- no_error_log
[alert]
[crit]

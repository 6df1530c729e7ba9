# The operator-facing error log lines (docs/operations.md, "Log lines"):
# one line per event, "miroir: event=<name> cluster=<c> k=v ...", rate
# limited per (event, key) and per worker, the next line of a pair saying
# how many were held back (suppressed=N).  On 3 emulated nodes (RF 2,
# write_quorum one) plus a fourth added through the admin API:
#   - a node answering 503, one answering garbage, one cutting its answer:
#     node_error with the reason (status, bad_answer, truncated), method
#     and path;
#   - a hung node: deadline (naming it), then node_error (timeout);
#   - a node killed: node_error (connect_failed) and node_down, then a
#     write accepted without it: replica_stale;
#   - a second node killed: writes refused, quorum_failed naming both; a
#     burst of 50 of them writes fewer than 50 node_error and quorum_failed
#     lines, and a later line of each pair carries suppressed=N;
#   - the nodes back: node_up (the health probe);
#   - a node answering 403: node_error (unauthorized);
#   - admin changes (add, pause, reweight, resume): topology_change;
#   - the migration the addition starts: migration_start / migration_done
#     lines (skipped in a build without them);
#   - neither the node key nor the master key appears anywhere in the log.
# Plain Test::More with its own nginx (Miroir::Nginx, one worker) like
# t/028-metrics-events.t: the rate limiter lives as long as the worker.

use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use File::Temp ();
use Time::HiRes ();
use Miroir::Nodes;
use Miroir::Nginx;

plan skip_all => 'TEST_NGINX_LOAD_MODULES not set'
    unless Miroir::Nginx::module_path();

my $nodekey = 'node-key-0123456789';
Miroir::Nodes::start(count => 4, master_key => $nodekey);

my $state = File::Temp::tempdir(CLEANUP => 1);
chmod 0755, $state;

my $base = Miroir::Nginx::start(http => <<"_EOC_");
    miroir_zone miroir 4m;
    miroir_state $state/state;
    miroir_cluster main {
        shards 64; replication 2; master_key "s3cret";
        write_quorum one; node_timeout 3s; deadline 2s;
        node n1 $ENV{TEST_NGINX_NODE1} key=$nodekey;
        node n2 $ENV{TEST_NGINX_NODE2} key=$nodekey;
        node n3 $ENV{TEST_NGINX_NODE3} key=$nodekey;
    }
    server {
        listen 127.0.0.1:\$PORT;
        location / { miroir main; }
        location /_miroir/ { miroir_admin main; }
    }
_EOC_

my $http = HTTP::Tiny->new(timeout => 10, default_headers => {
    Authorization => 'Bearer s3cret', 'Content-Type' => 'application/json' });

my $docs = '[' . join(',', map { "{\"id\":$_,\"t\":\"m$_\"}" } 1 .. 20) . ']';

# the error log lines written since the previous call
my $seen = 0;
sub new_lines {
    my $log = Miroir::Nginx::error_log();
    my $new = substr($log, $seen);
    $seen = length $log;
    return $new;
}

sub events {
    my ($text, $event) = @_;
    return grep { /miroir: event=$event / } split /\n/, $text;
}

# wait (at most 10 s) until the log holds a line matching $re
sub wait_log {
    my ($re) = @_;
    for (1 .. 100) {
        return 1 if Miroir::Nginx::error_log() =~ $re;
        Time::HiRes::sleep(0.1);
    }
    return 0;
}

sub wait_task {
    my ($res) = @_;
    my ($uid) = ($res->{content} // '') =~ /"taskUid":(\d+)/;
    return '' unless defined $uid;
    for (1 .. 100) {
        my $t = $http->get("$base/tasks/$uid")->{content};
        return $t if $t =~ /"status":"(succeeded|failed)"/;
        Time::HiRes::sleep(0.05);
    }
    return '';
}

sub search {
    return $http->post("$base/indexes/q/search", { content => '{"limit":0}' });
}

sub write_docs {
    return $http->post("$base/indexes/q/documents", { content => $docs });
}

my $addr = sub { quotemeta Miroir::Nodes::addr($_[0]) };

# --- all nodes up: no event at all

like(wait_task($http->post("$base/indexes",
                           { content => '{"uid":"q","primaryKey":"id"}' })),
     qr/"succeeded"/, 'index created');
like(wait_task(write_docs()), qr/"succeeded"/, 'documents loaded');
like(search()->{content}, qr/"estimatedTotalHits":20/, 'search');

my $log = new_lines();
is(scalar(events($log, '\w+')), 0, 'all nodes up: no event line');
unlike($log, qr/\[error\]/, 'all nodes up: no [error] line');

# --- a node answering 503, another answering garbage

Miroir::Nodes::http_post(1, '/_meilisim/faults',
    '{"errorRate": 1, "errorStatus": 503, "failRoutes": "search"}');
like(search()->{content}, qr/"estimatedTotalHits":20/,
     'search complete without n1');
Miroir::Nodes::http_post(1, '/_meilisim/faults', '{}');

Miroir::Nodes::http_post(2, '/_meilisim/faults',
    '{"garbage": true, "failRoutes": "search"}');
search();
Miroir::Nodes::http_post(2, '/_meilisim/faults', '{}');

Miroir::Nodes::http_post(3, '/_meilisim/faults',
    '{"dropMidResponse": true, "failRoutes": "search"}');
search();
Miroir::Nodes::http_post(3, '/_meilisim/faults', '{}');

$log = new_lines();
my $n1 = $addr->(1);
my $n2 = $addr->(2);
my $n3 = $addr->(3);
like($log, qr/\[warn\] .*miroir: event=node_error cluster=main node=n1 addr=$n1 method=POST path=\/indexes\/q\/search reason=status status=503 elapsed_ms=\d+/,
     'a 503: node_error (warn) with node, address, method, path, status');
like($log, qr/\[error\] .*miroir: event=node_error cluster=main node=n2 addr=$n2 method=POST path=\/indexes\/q\/search reason=bad_answer status=200 detail="[^"\n]+"/,
     'an answer that is not JSON: node_error (error), reason bad_answer');
like($log, qr/\[error\] .*miroir: event=node_error cluster=main node=n3 addr=$n3 method=POST path=\/indexes\/q\/search reason=truncated status=200 elapsed_ms=\d+/,
     'an answer cut in the middle: node_error, reason truncated');
like($log, qr/miroir: event=read_failover cluster=main node=n1 path=\/indexes\/q\/search status=503 timed_out=0 round=0/,
     'the 503 node\'s shards asked from their next owners: read_failover');
is(scalar(events($log, 'node_down')), 0, 'one failure: no node_down');

# --- a hung node: the deadline passes first, then the node's timeout

Miroir::Nodes::pause_node(1);
search();
ok(wait_log(qr/event=node_error cluster=main node=n1 .*reason=timeout /),
   'the hung node\'s request ends by node_timeout');
Miroir::Nodes::resume_node(1);

$log = new_lines();
like($log, qr/\[error\] .*miroir: event=deadline cluster=main deadline_ms=2000 pending=[1-9]\d* nodes=(\w+,)*n1(,\w+)* path=\/indexes\/q\/search/,
     'deadline: the nodes still pending');
like($log, qr/\[error\] .*miroir: event=node_error cluster=main node=n1 addr=$n1 method=POST path=\/indexes\/q\/search reason=timeout status=0 elapsed_ms=\d+/,
     'node_error: reason timeout, after node_timeout');
Time::HiRes::sleep(1.1);               # past the interval of n1's lines

# --- node 3 killed: node_error, node_down; a write without it: stale

Miroir::Nodes::kill_node(3);

search() for 1 .. 3;
my $w = write_docs();
is($w->{status}, 202, 'write accepted without n3 (quorum one)');

$log = new_lines();
my @err3 = grep { /node=n3 / } events($log, 'node_error');
# (closed or reset: an idle keepalive connection that was reused before
# the worker saw the node's death)
like($err3[0] // '', qr/\[error\] .*miroir: event=node_error cluster=main node=n3 addr=$n3 method=POST path=\/indexes\/q\/search reason=(connect_failed|closed|reset) status=0 elapsed_ms=\d+/,
     'a dead node: node_error, reason connect_failed');
like($log, qr/\[warn\] .*miroir: event=node_down cluster=main node=n3 addr=$n3 fails=3 reason=(connect_failed|closed|reset)/,
     'three failures in a row: node_down');
is(scalar(events($log, 'node_down')), 1, 'node_down logged once');
like($log, qr/\[warn\] .*miroir: event=replica_stale cluster=main node=n3 shards=[1-9]\d* quorum=one path=\/indexes\/q\/documents/,
     'a write accepted without n3: replica_stale with its shard count');

# --- node 2 killed too: quorum failures, a burst of them

Miroir::Nodes::kill_node(2);
Time::HiRes::sleep(1.1);               # past the interval of every pair
new_lines();

$w = write_docs();
is($w->{status}, 503, 'write refused: quorum not met');
like($w->{content}, qr/"code":"miroir_quorum_not_met"/, 'quorum error');

$log = new_lines();
like($log, qr/\[error\] .*miroir: event=quorum_failed cluster=main index=q quorum=one failed=n2,n3 accepted_tasks=n1:\d+ method=POST path=\/indexes\/q\/documents detail="The write quorum `one` was not met[^"\n]*"/,
     'quorum_failed: index, mode, failed nodes, the task the live node took');
like($log, qr/miroir: event=node_error cluster=main node=n2 addr=$n2 method=\w+ path=\/indexes\/q\S* reason=(connect_failed|closed|reset) /,
     'node_error for the second dead node');

my $t0 = Time::HiRes::time();
my $refused = 0;
for (1 .. 50) {
    $refused++ if write_docs()->{status} == 503;
}
my $burst = Time::HiRes::time() - $t0;
is($refused, 50, 'the burst: 50 writes refused');

$log = new_lines();
my @ne = grep { /node=n2 / } events($log, 'node_error');
my @qf = events($log, 'quorum_failed');
ok(@ne < 50, "burst of 50 writes (${\ sprintf '%.1f', $burst} s): "
             . scalar(@ne) . ' node_error lines for n2, fewer than 50');
ok(@qf < 50, 'and ' . scalar(@qf) . ' quorum_failed lines, fewer than 50');

# The count of held-back lines comes with the pair's next line: within the
# burst if it lasted over a second, else with the first line after it.
# Either way one of these lines has it (a write calls n2 twice: the calls
# right after a written line are held back).
Time::HiRes::sleep(1.1);
write_docs();
$log .= new_lines();
like($log, qr/miroir: event=node_error cluster=main node=n2 .* suppressed=[1-9]\d*/,
     'node_error says how many lines were held back');
like($log, qr/miroir: event=quorum_failed cluster=main index=q .* suppressed=[1-9]\d*/,
     'and so does quorum_failed');

# --- the nodes back: the health probe brings them up

Miroir::Nodes::restart_node(2);
Miroir::Nodes::restart_node(3);
ok(wait_log(qr/\[notice\] .*miroir: event=node_up cluster=main node=n2 addr=$n2/),
   'node_up for n2');
ok(wait_log(qr/\[notice\] .*miroir: event=node_up cluster=main node=n3 addr=$n3/),
   'node_up for n3');
new_lines();

# --- a node refusing its key (here: a fault answering 403)

Miroir::Nodes::http_post(1, '/_meilisim/faults',
    '{"errorRate": 1, "errorStatus": 403, "failRoutes": "search"}');
search();
Miroir::Nodes::http_post(1, '/_meilisim/faults', '{}');
like(new_lines(), qr/\[warn\] .*miroir: event=node_error cluster=main node=n1 addr=$n1 method=POST path=\/indexes\/q\/search reason=unauthorized status=403 /,
     'a 401/403 from a node: node_error, reason unauthorized');

# --- topology changes through the admin API

my $n4 = Miroir::Nodes::addr(4);
my $r = $http->post("$base/_miroir/nodes", { content =>
    "{\"id\":\"n4\",\"address\":\"$n4\",\"weight\":1,\"key\":\"$nodekey\"}" });
is($r->{status}, 202, 'node n4 added');
is($http->post("$base/_miroir/rebalance/pause")->{status}, 200, 'paused');
# (409 when a migration step lands meanwhile: retry)
my $st = 0;
for (1 .. 20) {
    $st = $http->request('PATCH', "$base/_miroir/nodes/n4",
                         { content => '{"weight":2}' })->{status};
    last if $st != 409;
    Time::HiRes::sleep(0.2);
}
is($st, 202, 'n4 reweighted');
is($http->post("$base/_miroir/rebalance/resume")->{status}, 200, 'resumed');

$log = new_lines();
my $n4q = quotemeta $n4;
like($log, qr/\[notice\] .*miroir: event=topology_change cluster=main action=add node=n4 addr=$n4q weight=1 force=0 version=\d+ shards_moving=[1-9]\d*/,
     'topology_change: add, with the new node\'s address and weight');
like($log, qr/\[notice\] .*miroir: event=topology_change cluster=main action=reweight node=n4 addr=- weight=2 force=0 version=\d+ shards_moving=\d+/,
     'topology_change: reweight, with the new weight');
like($log, qr/miroir: event=topology_change cluster=main action=pause/,
     'topology_change: pause');
like($log, qr/miroir: event=topology_change cluster=main action=resume/,
     'topology_change: resume');

# --- the migration the addition started (lines of the helper process,
# added with the migration work: checked when this build has them)

for (1 .. 300) {            # until a shard is done, or all (30 s at most)
    last if Miroir::Nginx::error_log() =~ /event=migration_done /
         || ($http->get("$base/_miroir/rebalance")->{content} // '')
            =~ /"state":"idle"/;
    Time::HiRes::sleep(0.1);
}
$log = Miroir::Nginx::error_log();
SKIP: {
    skip 'no migration event lines in this build', 2
        unless $log =~ /miroir: event=migration_/;
    like($log, qr/\[notice\] .*miroir: event=migration_start cluster=main shard=\d+ from=n\d to=n\d /,
         'migration_start: shard, source, destination');
    like($log, qr/\[notice\] .*miroir: event=migration_done cluster=main shard=\d+ from=n\d to=n4/,
         'migration_done: a shard moved onto n4');
}

# --- never a key

unlike($log, qr/\Q$nodekey\E/, 'the node key appears nowhere in the log');
unlike($log, qr/s3cret/, 'the master key appears nowhere in the log');
unlike($log, qr/Authorization|Bearer/i, 'no Authorization header either');
like($log, qr/\[info\] .*connect\(\) failed/,
     'nginx\'s own connect() lines about the dead nodes are still there');
unlike($log, qr/\[error\] .*connect\(\) failed/,
       'at the info level: node_error is the error line');
my @bad = grep { !/ cluster=main( |$)/ } events($log, '\w+');
is(scalar(@bad), 0, 'every event line names its cluster')
    or diag(join "\n", @bad);

# on failure, what the log said
diag(join "\n", grep { /miroir: event=|\[(error|alert|crit)\]/ }
                 split /\n/, Miroir::Nginx::error_log())
    unless Test::More->builder->is_passing;

Miroir::Nginx::stop();
Miroir::Nodes::stop();

done_testing();

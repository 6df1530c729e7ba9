# Replication and the write quorum with a node down (3 emulated nodes):
# with write_quorum all (the default) a write that cannot reach every
# owner fails with miroir_quorum_not_met (503) naming the failed node; with
# one (RF 2) or majority (RF 3) it succeeds, the task counts every
# document once, and the shards the dead node missed are marked stale in
# the miroir_state directory for the rebalancer.

use Test::Nginx::Socket;
use Miroir::Nodes;
use Miroir::Cluster;

Miroir::Cluster::setup(state => 1, hook => sub {
    my $block = shift;
    my ($rf, $q) = split ' ', ($block->cluster // '2 all');
    $block->set_value('http_config', Miroir::Cluster::http_config(
        replication => $rf, options => "write_quorum $q;\nnode_timeout 1s;"));
});

our $Docs = '[' . join(',', map { "{\"id\":$_,\"v\":$_}" } 1 .. 10) . ']';

no_root_location();
repeat_each(1);
# 9 requests: status, body, error log; 2 checks of the stale marks
plan tests => repeat_each() * 10 * 3 + 2 + 3;
no_shuffle();
run_tests();

my $stale = '';
if (open my $fh, '<', "$ENV{TEST_NGINX_MIROIR_STATE}/stale-main.txt") {
    local $/;
    $stale = <$fh>;
}
like($stale, qr/^n3 \d+$/m, 'the dead node\'s shards are marked stale');
unlike($stale, qr/^n[12] /m, 'no live node is marked stale');

# only the shards that had documents for node 3 are stale
use JSON::PP ();
my %written;
for my $i (1, 2) {
    for my $index (qw(q q3)) {
        my $res = Miroir::Nodes::http_get($i,
                      "/indexes/$index/documents?limit=1000");
        next unless $res->{status} == 200;
        for my $d (@{ JSON::PP->new->decode($res->{content})->{results} }) {
            $written{$d->{_miroir_shard}} = 1
                if grep { ($d->{$_} // '') eq 'n3' }
                   qw(_miroir_o0 _miroir_o1 _miroir_o2);
        }
    }
}
my @marked = $stale =~ /^n3 (\d+)$/mg;
is_deeply([sort { $a <=> $b } @marked],
          [sort { $a <=> $b } keys %written],
          'exactly the shards written while node 3 was down are stale');

__DATA__

=== TEST 1: all nodes up: create the indexes
--- request eval
[
"POST /indexes\n{\"uid\":\"q\",\"primaryKey\":\"id\"}",
"POST /indexes\n{\"uid\":\"q3\",\"primaryKey\":\"id\"}",
]
--- more_headers
Authorization: Bearer s3cret
Content-Type: application/json
--- wait: 0.3
--- response_body_like eval
[qr/"taskUid":0,/, qr/"taskUid":1,/]
--- error_code eval
[202, 202]
--- no_error_log
[error]
[alert]



=== TEST 2: node 3 down, quorum all: 503 naming the node, counted in the metrics
--- kill_node: 3
--- config
    location / { miroir main; }
    location /_miroir/ { miroir_admin main; }
--- request eval
["POST /indexes/q/documents\n$::Docs", "GET /_miroir/metrics"]
--- more_headers
Authorization: Bearer s3cret
Content-Type: application/json
--- response_body_like eval
[qr/^\{"message":"The write quorum `all` was not met: node `n3` did not accept the write \(shard \d+ has 1 of 2 copies, 2 needed\)\.","code":"miroir_quorum_not_met","type":"system","link":"https:\/\/docs.meilisearch.com\/errors#miroir_quorum_not_met"\}$/,
 qr/\nmiroir_write_quorum_failures_total\{cluster="main"\} 1\n/]
--- error_code eval
[503, 200]
--- no_error_log
[alert]



=== TEST 3: node 3 down, quorum one: accepted, counted once, stale marked
--- cluster: 2 one
--- request eval
[
"POST /indexes/q/documents\n$::Docs",
"GET /tasks/2",
"GET /tasks?limit=1",
]
--- more_headers
Authorization: Bearer s3cret
Content-Type: application/json
--- wait: 0.5
--- response_body_like eval
[
qr/^\{"taskUid":2,"indexUid":"q","status":"enqueued","type":"documentAdditionOrUpdate"/,
qr/"status":"succeeded".*"details":\{"receivedDocuments":10,"indexedDocuments":10\}/,
qr/^\{"results":\[\{"uid":2,.*\],"total":3,"limit":1,"from":2,"next":1\}$/,
]
--- error_code eval
[202, 200, 200]
--- no_error_log
[alert]



=== TEST 4: RF 3, node 3 down, quorum majority: accepted
--- cluster: 3 majority
--- request eval
[
"POST /indexes/q3/documents\n$::Docs",
"GET /tasks/3",
]
--- more_headers
Authorization: Bearer s3cret
Content-Type: application/json
--- wait: 0.5
--- response_body_like eval
[
qr/"taskUid":3,/,
qr/"status":"succeeded".*"details":\{"receivedDocuments":10,"indexedDocuments":10\}/,
]
--- error_code eval
[202, 200]
--- no_error_log
[alert]



=== TEST 5: RF 3, node 3 down, quorum all: refused
--- cluster: 3 all
--- request eval
"PATCH /indexes/q3/settings\n{\"sortableAttributes\":[\"v\"]}"
--- more_headers
Authorization: Bearer s3cret
Content-Type: application/json
--- response_body_like: "code":"miroir_quorum_not_met"
--- error_code: 503
--- no_error_log
[alert]

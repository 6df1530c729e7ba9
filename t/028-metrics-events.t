# The event counters of /_miroir/metrics follow what the read path does:
# a slow node hedged (hedges sent and won), a dead node's shards re-asked
# from their next owners (failovers), and a partial answer when shards have
# no live copy and allow_partial is on.  Plain Test::More with its own nginx
# (Miroir::Nginx), as the counters live as long as the server.

use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use Miroir::Nodes;
use Miroir::Nginx;

plan skip_all => 'TEST_NGINX_LOAD_MODULES not set'
    unless Miroir::Nginx::module_path();

my $nodekey = 'node-key-0123456789';
Miroir::Nodes::start(count => 3, master_key => $nodekey);

my $base = Miroir::Nginx::start(http => <<"_EOC_");
    miroir_zone miroir 2m;
    miroir_cluster main {
        shards 64; replication 2; master_key "s3cret";
        node_timeout 3s; hedge_after 300ms; allow_partial on;
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

sub counter {
    my ($name) = @_;
    my $m = $http->get("$base/_miroir/metrics")->{content};
    return $m =~ /^miroir_${name}_total\{cluster="main"\} (\d+)$/m ? $1 : -1;
}

sub wait_task {
    my ($res) = @_;
    my ($uid) = $res->{content} =~ /"taskUid":(\d+)/;
    for (1 .. 100) {
        my $t = $http->get("$base/tasks/$uid")->{content};
        return $t if $t =~ /"status":"(succeeded|failed)"/;
        select(undef, undef, undef, 0.05);
    }
    return '';
}

like(wait_task($http->post("$base/indexes/movies/documents",
                           { content => '[' . join(',', map { "{\"id\":$_,\"t\":\"m$_\"}" } 1 .. 40) . ']' })),
     qr/"succeeded"/, 'documents loaded');

is(counter('hedges_sent'), 0, 'no hedge yet');
is(counter('failovers'), 0, 'no failover yet');

# a slow node: its shards are asked from the next owners after 300 ms
# (the others have answered by then: hedging picks the node still pending)
Miroir::Nodes::http_post(2, '/_meilisim/faults', '{"latencyMs": 1500, "failRoutes": "search"}');
my $r = $http->post("$base/indexes/movies/search", { content => '{"limit":0}' });
like($r->{content}, qr/"estimatedTotalHits":40/, 'hedged search complete');
ok(counter('hedges_sent') >= 1, 'hedges sent counted');
is(counter('hedges_won'), 1, 'the hedges answered first');
Miroir::Nodes::http_post(2, '/_meilisim/faults', '{}');

# a dead node: failover to the next owners
Miroir::Nodes::kill_node(3);
$r = $http->post("$base/indexes/movies/search", { content => '{"limit":0}' });
like($r->{content}, qr/"estimatedTotalHits":40/, 'search complete with a node down');
ok(counter('failovers') >= 1, 'failover counted');
is(counter('partial_responses'), 0, 'no partial answer yet');

# two dead nodes at RF 2: some shards have no copy; allow_partial on
Miroir::Nodes::kill_node(2);
$r = $http->post("$base/indexes/movies/search", { content => '{"limit":0}' });
is($r->{status}, 200, 'partial answer');
ok($r->{headers}{'x-miroir-missing-shards'}, 'naming the missing shards');
is(counter('partial_responses'), 1, 'partial answer counted');

done_testing();

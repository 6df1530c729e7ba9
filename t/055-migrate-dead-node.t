# A node that does not answer never blocks the rebalance machinery: a node
# added at an address where nothing listens makes the helper's requests
# fail fast (connection refused, or the timeout), the failures show in
# GET /_miroir/rebalance (errors, lastError) and the health stays yellow,
# the admin API keeps answering at once, and removing the node again (it
# holds nothing yet) leaves no plan.  One empty index exists on the nodes,
# so the helper has something to copy.

use Test::Nginx::Socket;
use Miroir::Nodes;
use HTTP::Tiny;
use JSON::PP;

Miroir::Nodes::start(count => 4, master_key => 'node-key-0123456789');

our $HttpConfig = <<'_EOC_';
    miroir_zone miroir 2m;
    miroir_state $TEST_NGINX_SERVER_ROOT/state;
    miroir_cluster main {
        shards 64;
        replication 2;
        master_key "s3cret";
        rebalance_concurrency 4;
        node n1 $TEST_NGINX_NODE1 key=node-key-0123456789;
        node n2 $TEST_NGINX_NODE2 key=node-key-0123456789;
        node n3 $TEST_NGINX_NODE3 key=node-key-0123456789;
    }
_EOC_

my $json = JSON::PP->new->canonical;

sub miroir {
    my ($method, $path, $body) = @_;
    my $port = $ENV{TEST_NGINX_SERVER_PORT} || server_port();
    my $res = HTTP::Tiny->new(timeout => 10)->request($method,
        "http://127.0.0.1:$port$path", {
            headers => { Authorization => 'Bearer s3cret',
                         'Content-Type' => 'application/json' },
            defined $body ? (content => $body) : () });
    return $res;
}

sub node_task {
    my ($i, $res) = @_;
    my $uid = eval { $json->decode($res->{content})->{taskUid} };
    return 0 unless defined $uid;
    for (1 .. 200) {
        my $t = Miroir::Nodes::http_get($i, "/tasks/$uid");
        my $st = eval { $json->decode($t->{content})->{status} } // '';
        return $st eq 'succeeded' if $st =~ /^(succeeded|failed|canceled)$/;
        select undef, undef, undef, 0.05;
    }
    return 0;
}

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value('http_config', $HttpConfig);
    $block->set_value('config', "    location /_miroir/ { miroir_admin main; }\n");
    $block->set_value('more_headers',
                      "Authorization: Bearer s3cret\nContent-Type: application/json");

    if ($block->name =~ /TEST 2:/) {
        my $ok = 1;
        for my $i (1 .. 3) {
            $ok &&= node_task($i, Miroir::Nodes::http_post($i, '/indexes',
                        '{"uid":"movies","primaryKey":"id"}'));
        }
        ok($ok, 'index created on n1..n3');
        my $res = miroir('POST', '/_miroir/nodes',
                         '{"id":"n4","address":"127.0.0.1:9"}');
        is($res->{status}, 202, 'n4 added at a dead address')
            or diag($res->{content});
        my $c = '';
        for (1 .. 100) {
            $c = miroir('GET', '/_miroir/rebalance')->{content} // '';
            last if $c =~ /"errors":[1-9]/;
            select undef, undef, undef, 0.1;
        }
        like($c, qr/^\{"state":"running",.*"errors":[1-9]\d*,"lastError":"node `n4` \(127.0.0.1:9\)/,
             'the failures are reported');
        my $t0 = time;
        $res = miroir('GET', '/_miroir/topology');
        ok($res->{status} == 200 && time - $t0 <= 1,
           'the admin API answers at once meanwhile');
    }

    return $block;
});

use_hup();
master_on();
workers(2);
no_root_location();
repeat_each(1);
plan tests => 3 + 4 + 2 + 3 * 3;
no_shuffle();
run_tests();

__DATA__

=== TEST 1: three nodes, stable
--- request
GET /_miroir/rebalance
--- response_body_like: ^\{"state":"idle","version":1,
--- no_error_log
[error]



=== TEST 2: health is yellow while the plan cannot progress
--- request
GET /_miroir/health
--- response_body_like: ^\{"status":"yellow",.*"shardsMoving":32,



=== TEST 3: removing the unreachable node (it holds nothing): no plan left
--- request eval
["DELETE /_miroir/nodes/n4", "GET /_miroir/rebalance", "GET /_miroir/health"]
--- error_code eval
[202, 200, 200]
--- response_body_like eval
[qr/"plan":\{"moves":\[\],"shardsMoving":0,/,
 qr/^\{"state":"idle",/,
 qr/^\{"status":"green",/]
--- no_error_log
[error]

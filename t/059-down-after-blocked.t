# down_after does not evict a node whose shards have no other live copy:
# with two of three nodes down (replication 2), some shards live only on
# the two dead nodes, so evicting either would give up the only copy of
# their documents.  The helper logs event=node_evict_blocked and waits:
# both nodes stay in the table (active, health red), and when they come
# back nothing was moved and every document is still there.

use Test::Nginx::Socket;
use Miroir::Nodes;
use Miroir::Client qw(miroir wait_task);
use HTTP::Tiny;
use JSON::PP;

Miroir::Nodes::start(count => 3, master_key => 'node-key-0123456789');

our $HttpConfig = <<'_EOC_';
    miroir_zone miroir 2m;
    miroir_state $TEST_NGINX_SERVER_ROOT/state;
    miroir_cluster main {
        shards 16;
        replication 2;
        master_key "s3cret";
        node_timeout 1s;
        down_after 1s;
        node n1 $TEST_NGINX_NODE1 key=node-key-0123456789;
        node n2 $TEST_NGINX_NODE2 key=node-key-0123456789;
        node n3 $TEST_NGINX_NODE3 key=node-key-0123456789;
    }
_EOC_

my $json = JSON::PP->new->canonical;

sub error_log {
    local $/;
    open my $f, '<', server_root() . '/logs/error.log' or return '';
    return <$f>;
}

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value('http_config', $HttpConfig);
    $block->set_value('config', "    location /_miroir/ { miroir_admin main; }\n"
                                . "    location / { miroir main; }\n");
    $block->set_value('more_headers',
                      "Authorization: Bearer s3cret\nContent-Type: application/json");

    if ($block->name =~ /TEST 2:/) {
        ok(wait_task(miroir('POST', '/indexes', '{"uid":"q","primaryKey":"id"}')),
           'index created');
        ok(wait_task(miroir('POST', '/indexes/q/documents', $json->encode(
               [ map { { id => $_, v => "v $_" } } 1 .. 50 ]))),
           '50 documents written');
        Miroir::Nodes::kill_node(2);
        Miroir::Nodes::kill_node(3);
        my $blocked = 0;
        for (1 .. 200) {
            last if $blocked = () = error_log()
                       =~ /event=node_evict_blocked cluster=main node=n[23] shards=[1-9]/g;
            select undef, undef, undef, 0.1;
        }
        ok($blocked, 'n2 and n3 down: eviction blocked (logged)');
        unlike(error_log(), qr/event=node_evicted/, 'nothing evicted');
    }

    if ($block->name =~ /TEST 3:/) {
        Miroir::Nodes::restart_node(2);
        Miroir::Nodes::restart_node(3);
        my $h = '';
        for (1 .. 200) {
            $h = miroir('GET', '/_miroir/health')->{content} // '';
            last if $h =~ /^\{"status":"green"/;
            select undef, undef, undef, 0.1;
        }
        like($h, qr/^\{"status":"green"/, 'n2 and n3 back: health green');
        my $s = $json->decode(miroir('POST', '/indexes/q/search',
                                     '{"q":"","limit":100}')->{content});
        is($s->{estimatedTotalHits}, 50, 'every document is still there');
    }

    return $block;
});

use_hup();
master_on();
workers(1);
no_root_location();
repeat_each(1);
plan tests => 3 + (4 + 2 * 2) + (2 + 3);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: three nodes, green
--- request
GET /_miroir/health
--- response_body_like: ^\{"status":"green",
--- no_error_log
[error]



=== TEST 2: n2 and n3 killed (preprocessor): not evicted, still in the table
--- request eval
["GET /_miroir/topology", "GET /_miroir/rebalance"]
--- response_body_like eval
[qr/"id":"n2","address":"[0-9.:]+","weight":1,"state":"active".*"id":"n3","address":"[0-9.:]+","weight":1,"state":"active"/,
 qr/^\{"state":"idle","version":1,/]



=== TEST 3: n2 and n3 back (preprocessor): nothing moved
--- request
GET /_miroir/rebalance
--- response_body_like: ^\{"state":"idle","version":1,
--- no_error_log
[error]
